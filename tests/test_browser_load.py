"""Many users at once on one server, in real headless Chromium sessions: each opens a different link with a
typed-in formula at the same moment. Every page must show its own runs and no exception.

Was: 9 of 30 sessions showed a traceback (NameError: name 'cos' is not defined) from formulas compiled
by several sessions at once. N and the rounds are printed, for the README's reliability section.
"""

import time

import numpy as np
import pytest
from browser import streamlit_server, wait_ready
from test_browser import TRACES_JS, browser  # noqa: F401 - the module's browser fixture

import optlab

pytestmark = pytest.mark.browser

SESSIONS = 6
ROUNDS = 2
FUNCS = ["cos", "exp", "sin", "sqrt", "tanh", "log"]


def _link(base: str, text: str) -> str:
    from urllib.parse import urlencode

    return f"{base}/?" + urlencode({"landscape": "custom", "formula": text, "opt": "adam", "adam.lr": "0.05",
                                    "steps": "60"})


def _formula(round_: int, i: int) -> str:
    f = FUNCS[(i + round_) % len(FUNCS)]
    arg = f"abs(x)/{i + 2} + 1" if f in ("sqrt", "log") else f"x/{i + 2}"
    return f"{f}({arg}) + {round_ + 1}*(y - {i / 4:g})^2 + {i + 1}*x^2/10"


def _shows(page, expected: np.ndarray, timeout: float = 120.0) -> bool:
    """Whether the page's first chart comes to draw exactly ``expected`` as its first trajectory. A loaded
    machine may show the script finished a moment before the chart has its traces, and a page the formula
    worker was too busy for shows the last valid view until its own background compile is done and it reruns
    itself (ui._rerun_once_compiled): what counts is what the user ends up seeing."""
    deadline = time.monotonic() + timeout
    while True:
        traces = page.evaluate(TRACES_JS)
        if traces and np.array_equal(np.column_stack([traces[0]["x"], traces[0]["y"]]), expected):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.25)


@pytest.fixture(scope="module")
def server():
    with streamlit_server() as (base, _proc):
        yield base


def test_sessions_opening_different_formula_links_at_once_each_show_their_own_runs(browser, server):  # noqa: F811
    failures, took = [], []
    for round_ in range(ROUNDS):
        texts = [_formula(round_, i) for i in range(SESSIONS)]
        contexts = [browser.new_context(viewport={"width": 1200, "height": 900}) for _ in texts]
        pages = [c.new_page() for c in contexts]
        start = time.monotonic()
        for page, text in zip(pages, texts, strict=True):  # all requests go out before any page is waited on
            page.goto(_link(server, text), wait_until="commit")
        for page, text in zip(pages, texts, strict=True):
            try:
                wait_ready(page, timeout_ms=180_000)
                if page.locator("[data-testid=stException]").count():
                    failures.append((round_, text, page.locator("[data-testid=stException]").first.inner_text()))
                    continue
                land = optlab.formula_landscape(text)
                expected = optlab.simulate(land, "adam", lr=0.05, steps=60).path
                if not _shows(page, expected):  # another formula's function would answer differently
                    said = [w.inner_text()[:200] for w in page.locator("[data-testid=stAlert]").all()]
                    failures.append((round_, text, "not its own runs", said))
            except Exception as e:  # noqa: BLE001 - counted, then reported all together
                failures.append((round_, text, repr(e)[:300]))
        took.append(time.monotonic() - start)
        for c in contexts:
            c.close()
    print(f"\n{SESSIONS} sessions x {ROUNDS} rounds: {len(failures)} failures; seconds per round "
          f"{', '.join(f'{t:.1f}' for t in took)}")
    assert not failures, failures


def test_an_unexpected_error_shows_a_short_message_without_the_servers_paths(browser, tmp_path):  # noqa: F811
    # any script run with the project's .streamlit/config.toml (streamlit is started in the project's folder)
    app = tmp_path / "fails.py"
    app.write_text("import streamlit as st\nst.write('before')\nraise RuntimeError('secret detail /srv/app/x.py')\n")
    with streamlit_server(app=str(app)) as (base, proc):
        context = browser.new_context()
        page = context.new_page()
        page.goto(base)
        page.wait_for_selector("[data-testid=stException]", timeout=60_000)
        shown = page.locator("[data-testid=stException]").inner_text()
        context.close()
    assert "secret detail" not in shown and ".py" not in shown and "Traceback" not in shown
    assert "error" in shown.lower(), shown


def test_a_small_change_is_not_held_up_by_another_sessions_slowest_formula(browser, server):  # noqa: F811
    # was: a 23-character formula held the server 60-106 s; another session's lr change took 74-88 s and
    # /_stcore/health did not answer for up to 60 s
    import urllib.request
    from urllib.parse import quote

    small = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    small.goto(f"{server}/?opt=adam&opt=sgd&steps=100")
    wait_ready(small)
    slow = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    slowest = ["((((3*x)^99)^99)^99)^99", "tanh(-(abs(x))^-100) + tanh(tanh(((x-y-pi)/6^x)^-100)) + y"]
    times = []
    for text in slowest:
        slow.goto(f"{server}/?landscape=custom&opt=adam&formula={quote(text)}", wait_until="commit")
        time.sleep(0.5)  # its compile is under way
        slider = small.locator("[data-testid=stSidebar] [data-testid=stSlider] input[type=range]").first
        slider.focus()
        start = time.monotonic()
        with urllib.request.urlopen(f"{server}/_stcore/health", timeout=5) as r:
            assert r.read().strip() == b"ok"
        slider.press("ArrowRight")
        small.wait_for_timeout(300)
        small.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=60_000)
        times.append(time.monotonic() - start)
        wait_ready(slow, timeout_ms=60_000)  # the slow page answers too: refused (a message) or accepted (its runs)
        assert slow.locator("[data-testid=stException]").count() == 0
    print(f"\nlr change beside the slowest formulas: {', '.join(f'{t:.1f}' for t in times)} s")
    assert max(times) < 30, times  # a stall check (was 74-88 s), not a speed goal: bench/ has the figures
    for page in (small, slow):
        page.context.close()


def test_the_server_stops_at_once_on_sigterm_while_a_slow_formula_compiles(browser):  # noqa: F811
    # was: SIGTERM needed 92 s while sympy worked on a formula inside the server process
    import signal
    from urllib.parse import quote

    with streamlit_server() as (base, proc):
        page = browser.new_context().new_page()
        page.goto(f"{base}/?landscape=custom&opt=adam&formula=" + quote("tanh(tanh(((x-y-pi)/6^x)^-100)) + x*y"),
                  wait_until="commit")
        time.sleep(2.5)  # the page's script is waiting for the worker
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        took = time.monotonic() - start
        page.context.close()
    print(f"\nSIGTERM to exit during a slow compile: {took:.1f} s")
    assert took < 10, took


BUSY_APP = '''
import os, pathlib, threading, time
import optlab.formula_worker as w
from optlab.dashboard import main

if not getattr(w, "_held_once", False):  # the server's first run: every formula slot taken until the test frees them
    w._held_once = True
    w.WAIT_SECONDS = 2.0
    n = max(1, os.cpu_count() or 1)
    for _ in range(n):
        w._SLOTS.acquire()

    def free_when_told(flag=pathlib.Path(os.environ["OPTLAB_TEST_FREE"])):
        while not flag.exists():
            time.sleep(0.1)
        for _ in range(n):
            w._SLOTS.release()

    threading.Thread(target=free_when_told, daemon=True).start()
main()
'''


def test_a_link_whose_formula_the_server_is_too_busy_for_shows_its_own_runs_once_compiled(browser, tmp_path):  # noqa: F811
    # was: the page showed the default formula's runs with "try again in a moment", and stayed so
    app = tmp_path / "busy_app.py"
    app.write_text(BUSY_APP)
    free = tmp_path / "free"
    text = "cos(x/3) + (y - 0.5)^2 + x^2/8"
    with streamlit_server(app=str(app), env={"OPTLAB_TEST_FREE": str(free)}) as (base, _proc):
        page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
        page.goto(_link(base, text))
        wait_ready(page, timeout_ms=120_000)
        alerts = " ".join(a.inner_text() for a in page.locator("[data-testid=stAlert]").all())
        assert "tries again by itself" in alerts, alerts
        free.touch()  # the workers are free again: the page must rerun itself, with nobody touching it
        expected = optlab.simulate(optlab.formula_landscape(text), "adam", lr=0.05, steps=60).path
        assert _shows(page, expected, timeout=120), "the page reran itself once its formula was compiled"
        alerts = " ".join(a.inner_text() for a in page.locator("[data-testid=stAlert]").all())
        assert "tries again" not in alerts and page.locator("[data-testid=stException]").count() == 0
        assert page.locator("[data-testid=stSidebar] input[aria-label='f(x, y) =']").input_value() == text
        page.context.close()

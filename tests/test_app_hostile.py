"""What a tampered link or a bad formula does to the page: a clear message, never a traceback, nothing the
user set lost, and no echo of the link that the browser would render as a link or fetch as an image."""

import re

import pytest
import streamlit as st
from test_app import as_shown, charts, open_app, share_url

from optlab import config as C
from optlab import formula as F


@pytest.fixture(autouse=True)
def _fresh_cache():
    st.cache_data.clear()
    st.cache_resource.clear()
    yield


def test_an_invalid_formula_keeps_the_last_valid_view_marked_as_such():
    # was: `x**` blanked the whole page, Share and export included
    at = open_app({"landscape": "custom", "formula": "x^2 + 3*y^2", "opt": ["adam"]})
    at.text_input(key="formula").set_value("x**").run()
    assert not at.exception
    assert len(charts(at)) == 3, "the charts stay"
    (error,) = [e.value for e in at.error if "not accepted" in e.value]
    assert "expected a number" in error and "last valid view" in error and "x^2 + 3*y^2" in error
    assert at.text_input(key="formula").value == "x**", "the user's text is kept"
    assert "formula=x%5E2+%2B+3%2Ay%5E2" in share_url(at), "Share and export is there, with the last valid link"
    assert at.query_params["formula"] == "x^2 + 3*y^2"
    at.text_input(key="formula").set_value("x**4 + y^2").run()
    assert not at.error and "formula=x%2A%2A4+%2B+y%5E2" in share_url(at)


def test_a_first_formula_that_is_not_accepted_shows_the_default_formulas_view():
    at = open_app({"landscape": "custom", "opt": ["adam"]})
    at.text_input(key="formula").set_value("sin(").run()
    assert not at.exception and len(charts(at)) == 3
    assert any("last valid view" in e.value for e in at.error)
    assert at.text_input(key="formula").value == "sin("


def test_a_formula_that_cannot_be_compiled_right_now_says_so_and_loses_nothing(monkeypatch):
    at = open_app({"landscape": "custom", "formula": "x^2 + y^2", "opt": ["adam"]})

    def busy(text, seconds):
        raise F.FormulaBusy("the formula cannot be compiled right now: the server is busy compiling others; "
                            "try again in a moment")

    monkeypatch.setattr(F, "_symbolic_with_deadline", busy)
    at.text_input(key="formula").set_value("x^4 + y^2 - x*y").run()
    assert not at.exception and len(charts(at)) == 3
    assert any("right now" in e.value and "last valid view" in e.value for e in at.error)
    assert at.text_input(key="formula").value == "x^4 + y^2 - x*y"
    assert at.query_params["formula"] == "x^2 + y^2"
    monkeypatch.undo()  # the server has time again: the same text is compiled, not remembered as rejected
    at.text_input(key="formula").set_value("x^4 + y^2 - x*y ").run()
    assert not at.error and at.query_params["formula"] == "x^4 + y^2 - x*y "


def test_a_formula_the_server_was_too_busy_for_is_compiled_in_the_background_and_then_shown(monkeypatch):
    import threading
    import time

    real, refused, free = F._symbolic_with_deadline, [], threading.Event()

    def busy_once(text, seconds):  # the first attempt is refused; the next waits until the test frees a worker
        if text == refused_text and not refused:
            refused.append(text)
            raise F.FormulaBusy("the formula cannot be compiled right now: the server is busy compiling others; "
                                "try again in a moment")
        if text == refused_text:
            free.wait(60)
        return real(text, seconds)

    monkeypatch.setattr(F, "_symbolic_with_deadline", busy_once)
    text = refused_text = "x^4 + y^2 - x*y + 0.25"
    at = open_app({"landscape": "custom", "formula": text, "opt": ["adam"]})
    assert not at.exception and refused == [text]
    assert any("tries again by itself" in w.value for w in at.warning)
    assert any("right now" in e.value and "last valid view" in e.value for e in at.error)
    assert at.text_input(key="formula").value == text and F.retrying(text)
    free.set()
    deadline = time.monotonic() + 60
    while F.retrying(text) and time.monotonic() < deadline:  # what the page's poller waits for
        time.sleep(0.1)
    assert not F.retrying(text)
    at.run()  # the poller's rerun
    assert not at.error and not any("tries again" in w.value for w in at.warning)
    assert at.query_params["formula"] == text


def test_a_formula_finite_only_on_a_line_gives_a_page_not_a_traceback():
    # sqrt(x)*sqrt(-x) is finite only at x = 0: the plot grid had no finite value (percentile of nothing)
    at = open_app({"landscape": "custom", "formula": "sqrt(x)*sqrt(-x)", "opt": ["adam"]})
    assert not at.exception and len(charts(at)) == 3
    assert any("at its start" in e.value for e in at.error), "the run diverges at step 0, and the page says so"


def test_a_run_that_diverges_at_step_0_gets_the_red_banner():
    # was: diverged_at == 0 is falsy, so no banner
    at = open_app({"landscape": "custom", "formula": "log(x) + y^2", "opt": ["adam"], "x0": "-1", "y0": "1"})
    (banner,) = [e.value for e in at.error if "Diverged" in e.value]
    assert "Adam (at its start" in banner


def test_a_valid_y0_is_kept_when_x0_is_not():
    at = open_app({"landscape": "rosenbrock", "x0": "left", "y0": "2.5"})
    assert at.number_input(key="y0").value == 2.5
    assert at.number_input(key="x0").value == optlab_start("rosenbrock")[0]
    assert "`x0`" in at.warning[0].value and "y0=2.5" in share_url(at)


def optlab_start(name):
    import optlab

    return tuple(optlab.get_landscape(name).start)


@pytest.mark.parametrize("key,value", [
    ("landscape", "[Session expired: sign in again](http://evil.example/login)"),
    ("formula", "![y](http://evil.example/p.png)"),
    ("opt", "[click](javascript:alert(1))"),
    ("[x](http://evil.example)", "1"),
    ("landscape", "`](http://evil.example)` **bold** <img src=http://evil.example/q.png>"),
])
def test_link_text_is_echoed_as_plain_truncated_text(key, value):
    query = {key: value, **({"landscape": "custom"} if key == "formula" else {})}
    at = open_app(query)
    (warning,) = at.warning
    # every echo of the link sits inside a code span: no link, no image, no HTML outside one
    outside = re.sub(r"`[^`]*`", "", warning.value)
    assert "](" not in outside and "<img" not in outside and "**bold**" not in outside
    assert C.shown(value) in warning.value or C.shown(key) in warning.value, "named, as plain text"


def test_a_long_value_is_echoed_short():
    at = open_app({"landscape": "x" * 40_000})  # was: one warning echoed 40 kB
    assert len(at.warning[0].value) < 400


def test_a_link_with_hundreds_of_unknown_parameters_gets_one_short_warning():
    at = open_app({"landscape": "beale", **{f"junk{i}": "1" for i in range(300)}})
    (warning,) = at.warning
    assert warning.value.count("\n- ") == 13 and "and 288 more" in warning.value
    assert "landscape=beale" in share_url(at), "the valid parameter is kept"


def test_a_query_streamlit_drops_whole_is_read_up_to_a_limit_and_said():
    # Streamlit ignores a query string of over 1,000 parameters entirely (and silently): the page reads it
    raw = "landscape=beale&steps=42&" + "&".join(f"junk{i}=1" for i in range(1500))
    query, problems = C.read_query_string(raw)
    assert query["landscape"] == ["beale"] and query["steps"] == ["42"]
    assert len(query) == C.MAX_LINK_FIELDS and "1,502 parameters" in problems[0]
    cfg, more = C.from_query(query)
    assert cfg.landscape == "beale" and cfg.steps == 42
    bad, _ = C.read_query_string("landscape=%FF%FE&x0=%ZZ")  # not valid UTF-8, not a valid escape
    cfg, problems = C.from_query(bad)
    assert cfg.landscape == "rosenbrock" and any("landscape" in p for p in problems)
    assert any("x0" in p for p in problems)


def test_a_rejection_message_is_shown_as_written():
    at = open_app({"landscape": "custom", "formula": "x^2", "opt": ["adam"]})
    at.text_input(key="formula").set_value("__import__('os')").run()
    (error,) = [e.value for e in at.error if "not accepted" in e.value.lower()][:1]
    assert "unknown name '__import__'" in as_shown(error)
    assert "\\_\\_import\\_\\_" in error, "escaped, not bold"


def test_the_projects_streamlit_config_hides_tracebacks_from_users():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    shown = subprocess.run(
        [sys.executable, "-c", "import streamlit.config as c; c.get_config_options(force_reparse=True); "
                               "print(c.get_option('client.showErrorDetails'))"],
        cwd=root, capture_output=True, text=True, timeout=60)
    assert shown.stdout.strip() == "none", shown.stderr

"""The shared-link flow in a real headless Chromium against a real `streamlit run` server.

Load a link, change a hyperparameter, read the share box, open that URL in a fresh
browser context, and check the same trajectories and table appear. In CI
(OPTLAB_REQUIRE_BROWSER=1) a missing browser fails instead of skipping.
"""

import os
import urllib.parse

import numpy as np
import pandas as pd
import pytest
from browser import chromium, chromium_path, streamlit_server, wait_ready

import optlab
import optlab.sweeps

pytestmark = pytest.mark.browser

TRACES_JS = """() => {
  const gd = document.querySelectorAll('.optlab-plot')[0];
  return gd._fullData.filter(t => t.mode === 'lines+markers')  // _fullData: arrays decoded
    .map(t => ({name: t.legendgroup || t.name, x: Array.from(t.x), y: Array.from(t.y)}));  // the optimizer id
}"""


@pytest.fixture(scope="module")
def browser():
    if chromium_path() is None:
        if os.environ.get("OPTLAB_REQUIRE_BROWSER"):
            pytest.fail("Chromium is missing but OPTLAB_REQUIRE_BROWSER is set: scripts/test.sh installs it")
        pytest.skip("Chromium is not installed (scripts/test.sh installs it)")
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def server():
    with streamlit_server() as (base, _proc):
        yield base


def open_page(browser, url):
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    page = context.new_page()
    page.goto(url)
    wait_ready(page)
    return context, page


def table_text(page) -> list[list[str]]:
    return page.eval_on_selector_all("[data-testid=stTable] tr", "rows => rows.map(r => "
                                     "Array.from(r.querySelectorAll('th,td')).map(c => c.innerText.trim()))")


def share_box(page, containing: str = "") -> str:
    """The link in the "Share and export" popover, opened as a user opens it (once it holds ``containing``)."""
    if page.locator("[data-testid=stCode] code").count() == 0:
        page.get_by_role("button", name="Share and export").click()
    page.wait_for_function("text => { const c = document.querySelector('[data-testid=stCode] code');"
                           " return c && c.innerText.includes(text); }", arg=containing, timeout=60_000)
    return page.locator("[data-testid=stCode] code").first.inner_text().strip()


def test_shared_link_round_trip(browser, server):
    link = f"{server}/?landscape=rosenbrock&opt=adam&opt=sgd&adam.lr=0.05&steps=200"
    context, page = open_page(browser, link)
    assert page.locator("[data-testid=stException]").count() == 0

    # change a hyperparameter the way a user does: Adam's lr slider, one notch up (0.05 -> 0.1)
    slider = page.locator("[data-testid=stSidebar] [data-testid=stSlider] input[type=range]").first
    slider.focus()
    slider.press("ArrowRight")
    url = share_box(page, "adam.lr=0.1")
    wait_ready(page)
    assert url.startswith(server) and "adam.lr=0.1" in url
    assert "adam.lr=0.1" in page.url  # the address bar follows too
    traces, table = page.evaluate(TRACES_JS), table_text(page)
    assert page.locator("[data-testid=stException]").count() == 0
    context.close()

    # a fresh browser context: nothing shared with the first session but the URL
    fresh, page2 = open_page(browser, url)
    assert page2.evaluate(TRACES_JS) == traces
    assert table_text(page2) == table
    assert share_box(page2) == url
    assert page2.locator("[data-testid=stException]").count() == 0
    fresh.close()

    # and the trajectories are exactly what optlab.simulate gives for that link
    drawn = {t["name"]: np.column_stack([t["x"], t["y"]]) for t in traces}
    np.testing.assert_array_equal(drawn["adam"], optlab.simulate("rosenbrock", "adam", lr=0.1, steps=200).path)
    np.testing.assert_array_equal(drawn["sgd"], optlab.simulate("rosenbrock", "sgd", steps=200).path)


def test_a_click_on_the_contour_sets_the_start(browser, server):
    context, page = open_page(browser, f"{server}/?landscape=bowl&opt=sgd&sgd.lr=0.1&steps=50")
    plot = page.locator(".optlab-plot").first
    box = page.locator(".optlab-chart .nsewdrag").first.bounding_box()
    x, y = box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.25
    # as a person does: the pointer hovers (plotly picks the point on hover), then clicks
    page.mouse.move(x, y)
    page.wait_for_selector(".hovertext", timeout=10_000)
    page.mouse.click(x, y)
    query = urllib.parse.parse_qs(urllib.parse.urlparse(share_box(page, "x0=")).query)
    x0, y0 = float(query["x0"][0]), float(query["y0"][0])
    assert 2 < x0 < 5 and 1 < y0 < 4  # the upper-right part of [-5, 5]²
    wait_ready(page)
    first = page.evaluate(TRACES_JS)[0]
    assert (first["x"][0], first["y"][0]) == (x0, y0)
    assert plot.count() == 1 and page.locator("[data-testid=stException]").count() == 0
    context.close()


def test_tampered_link_shows_a_warning_not_a_traceback(browser, server):
    context, page = open_page(browser, f"{server}/?opt=adam&adam.lr=NaN&steps=1e9&landscape=%3Cscript%3E")
    warning = page.locator("[data-testid=stAlertContentWarning]").inner_text()
    assert "adam.lr" in warning and "steps" in warning and "landscape" in warning
    assert page.locator("[data-testid=stException]").count() == 0
    context.close()


def test_a_typed_formula_is_shared_and_reproduced(browser, server):
    context, page = open_page(browser, f"{server}/?landscape=custom&opt=adam&adam.lr=0.1&steps=100")
    box = page.locator("[data-testid=stSidebar] [data-testid=stTextInput] input").first
    box.fill("(x-1)^2 + 2*(y+1)^2")
    box.press("Enter")
    url = share_box(page, "formula=%28x-1%29")
    wait_ready(page)
    traces = page.evaluate(TRACES_JS)
    context.close()

    fresh, page2 = open_page(browser, url)
    assert page2.locator("[data-testid=stSidebar] [data-testid=stTextInput] input").first.input_value() == \
        "(x-1)^2 + 2*(y+1)^2"
    assert page2.evaluate(TRACES_JS) == traces
    assert page2.locator("[data-testid=stException]").count() == 0
    fresh.close()
    land = optlab.formula_landscape("(x-1)^2 + 2*(y+1)^2")
    np.testing.assert_array_equal(np.column_stack([traces[0]["x"], traces[0]["y"]]),
                                  optlab.simulate(land, "adam", lr=0.1, steps=100).path)


def comparison_traces(page) -> list[dict]:
    """The comparison's trajectories, read on its page (reached through the sidebar's navigation)."""
    page.locator("[data-testid=stSidebarNavLink]", has_text="Compare").click()
    page.wait_for_function("() => location.pathname.replace(/\\/$/, '') === ''", timeout=60_000)
    page.wait_for_selector("[data-testid=stTable]", timeout=60_000)
    wait_ready(page)
    return page.evaluate(TRACES_JS)


def test_a_click_on_a_sweep_cell_loads_that_setting_and_the_link_reproduces_it(browser, server):
    link = f"{server}/?opt=adam&adam.lr=0.05&steps=100&explore=sensitivity&sweep.n=6"
    context, page = open_page(browser, link)
    chart = page.locator(".optlab-chart").last  # the sweep: the last chart on the page
    chart.scroll_into_view_if_needed()
    box = chart.locator(".nsewdrag").first.bounding_box()
    x, y = box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.6
    page.mouse.move(x, y)  # plotly picks the nearest cell marker on hover, then the click selects it
    page.wait_for_selector(".hovertext", timeout=10_000)
    page.mouse.click(x, y)
    url = share_box(page, "adam.beta1=")
    wait_ready(page)
    query = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)
    lr, beta1 = float(query["adam.lr"][0]), float(query["adam.beta1"][0])
    sweep = optlab.sweeps.sensitivity("rosenbrock", "adam", n=6, steps=100)
    assert lr in sweep.x.tolist() and beta1 in sweep.y.tolist()  # exactly a cell's setting
    assert query["explore"] == ["sensitivity"]
    assert page.locator("[data-testid=stException]").count() == 0
    with page.expect_download(timeout=60_000) as download:  # the CSV is written when clicked
        page.get_by_role("button", name="Sweep (CSV)").click()
    frame = pd.read_csv(download.value.path())
    assert len(frame) == 36 and list(frame.columns[:4]) == ["optimizer", "landscape", "lr", "beta1"]
    np.testing.assert_array_equal(frame["final_loss"].to_numpy().reshape(6, 6), sweep.final_loss)
    traces = comparison_traces(page)  # the comparison is its own page: go there as a user does
    assert page.locator("[data-testid=stException]").count() == 0
    context.close()

    fresh, page2 = open_page(browser, url)  # the explore page, then its comparison
    assert comparison_traces(page2) == traces
    drawn = {t["name"]: np.column_stack([t["x"], t["y"]]) for t in traces}
    run = optlab.simulate("rosenbrock", "adam", lr=lr, beta1=beta1, steps=100)
    np.testing.assert_array_equal(drawn["adam"], run.path)
    i, j = sweep.y.tolist().index(beta1), sweep.x.tolist().index(lr)
    assert run.loss[-1] == sweep.final_loss[i, j] or (np.isnan(sweep.final_loss[i, j]) and run.diverged_at)
    fresh.close()


# the first chart's filled contour (every panel's), its step slider's value and its position markers (layout shapes)
ANIMATION_JS = """() => { const gd = document.querySelectorAll('.optlab-plot')[0];
  return {contour: gd.closest('.optlab-chart').querySelectorAll('g.contourlayer path').length,  // both layers
          step: Number(gd.closest('.optlab-chart').querySelector('.optlab-controls input[type=range]').value),
          heads: gd._fullLayout.shapes.map(s => [s.xanchor, s.yanchor, s.line.color, s.fillcolor])}; }"""


def test_the_animation_moves_the_markers_and_keeps_the_contour(browser, server):
    # plotly.js drops a contour's fill when frames play without a redraw: the page went blank behind the paths
    context, page = open_page(browser, f"{server}/?steps=200")
    before = page.evaluate(ANIMATION_JS)
    assert before["contour"] > 10
    chart = page.locator(".optlab-chart").first
    chart.get_by_text("▶ Play").click()
    page.wait_for_timeout(1500)
    chart.get_by_text("❚❚ Pause").click()
    page.wait_for_timeout(500)
    after = page.evaluate(ANIMATION_JS)
    assert after["step"] < before["step"]  # Play restarts from step 0 and has moved on
    assert after["contour"] == before["contour"]  # the filled contour is still drawn
    assert [h[2:] for h in after["heads"]] == [h[2:] for h in before["heads"]]  # markers keep outline and fill
    assert [h[:2] for h in after["heads"]] != [h[:2] for h in before["heads"]]  # and have moved
    assert page.locator("[data-testid=stException]").count() == 0
    context.close()


@pytest.mark.parametrize("view", ["", "&view=multiples", "&landscape=himmelblau"],
                         ids=["overlay", "multiples", "himmelblau"])
def test_the_contour_stays_drawn_while_the_animation_plays(browser, server, view):
    # frames that updated the marker traces made plotly.js remove the contour's layer for the whole animation
    # (0 of its paths while playing, all of them back on Pause): count them during playback
    context, page = open_page(browser, f"{server}/?steps=200{view}")
    before = page.evaluate(ANIMATION_JS)
    assert before["contour"] > 10 * (2 if "multiples" in view else 1)  # a filled contour in each panel
    chart = page.locator(".optlab-chart").first
    chart.get_by_text("▶ Play").click()
    during = []
    for _ in range(6):
        page.wait_for_timeout(300)
        during.append(page.evaluate(ANIMATION_JS))
    chart.get_by_text("❚❚ Pause").click()
    page.wait_for_timeout(500)
    after = page.evaluate(ANIMATION_JS)
    steps = [d["step"] for d in during]
    assert len(set(steps)) >= 4 and steps == sorted(steps)  # these samples are from one animation, playing
    assert [d["contour"] for d in during] == [before["contour"]] * 6  # the whole contour, at every sample
    assert len({tuple(map(tuple, d["heads"])) for d in during}) >= 4  # while the markers move
    assert after["contour"] == before["contour"]
    assert page.locator("[data-testid=stException]").count() == 0
    context.close()

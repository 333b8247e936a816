"""The charts update in place (issue 12, optlab.chart): in a real Chromium against `streamlit run`.

A change of a hyperparameter keeps every chart's div (no remount: its WebGL context too), the 3-D
camera the user turned and the zoom of the contour, and draws the new runs. A Streamlit upgrade that
breaks the custom component (or its in-place update) fails here.
"""

import numpy as np
import pytest
from test_browser import TRACES_JS, browser, open_page, share_box  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser

CHARTS = "() => Array.from(document.querySelectorAll('.optlab-plot'))"

VIEW_JS = """() => { const [main, surface] = document.querySelectorAll('.optlab-plot');
  const eye = surface._fullLayout.scene._scene.getCamera().eye;  // what is drawn
  return {eye: [eye.x, eye.y, eye.z], x: main._fullLayout.xaxis.range.slice(), y: main._fullLayout.yaxis.range.slice(),
          marks: Array.from(document.querySelectorAll('.optlab-plot')).map(g => g.__mark ?? null),
          webgl: surface.querySelectorAll('canvas').length}; }"""


@pytest.fixture(scope="module")
def server():
    from browser import streamlit_server

    with streamlit_server() as (base, _proc):
        yield base


def drag(page, box, start, end):
    page.mouse.move(box["x"] + box["width"] * start[0], box["y"] + box["height"] * start[1])
    page.mouse.down()
    for i in range(1, 11):
        page.mouse.move(box["x"] + box["width"] * (start[0] + (end[0] - start[0]) * i / 10),
                        box["y"] + box["height"] * (start[1] + (end[1] - start[1]) * i / 10))
    page.mouse.up()


def settled_view(page, timeout_ms: int = 10_000) -> dict:
    """VIEW_JS once the camera and the zoom stopped moving (a drag's last frames can land later on a busy machine):
    two reads 300 ms apart alike."""
    view = page.evaluate(VIEW_JS)
    for _ in range(timeout_ms // 300):
        page.wait_for_timeout(300)
        now = page.evaluate(VIEW_JS)
        if now == view:
            return now
        view = now
    raise AssertionError(f"the view kept moving: {view}")


def test_an_lr_change_keeps_the_camera_the_zoom_and_the_charts(browser, server):  # noqa: F811
    context, page = open_page(browser, f"{server}/?landscape=rosenbrock&opt=adam&opt=sgd&adam.lr=0.05&steps=200")
    page.wait_for_function(f"() => ({CHARTS})().length === 3 && ({CHARTS})().every(g => g._fullLayout)")
    page.evaluate(f"() => ({CHARTS})().forEach((g, i) => {{ g.__mark = i; }})")  # gone if a div is replaced
    default = page.evaluate(VIEW_JS)

    # turn the 3-D view and zoom into the contour, as a user does (GUI edits are what uirevision keeps)
    surface = page.locator(".optlab-chart").nth(1)
    drag(page, surface.locator("canvas").first.bounding_box(), (0.5, 0.5), (0.6, 0.55))
    drag(page, page.locator(".optlab-chart .nsewdrag").first.bounding_box(), (0.3, 0.3), (0.6, 0.7))
    turned = settled_view(page)
    assert turned["eye"] != default["eye"], "the drag turned the camera"
    assert turned["x"] != default["x"] and turned["y"] != default["y"], "the drag zoomed the contour"
    before = page.evaluate(TRACES_JS)

    slider = page.locator("[data-testid=stSidebar] [data-testid=stSlider] input[type=range]").first
    slider.focus()
    slider.press("ArrowRight")  # Adam's lr, 0.05 -> 0.1
    share_box(page, "adam.lr=0.1")
    page.wait_for_function(f"""old => {{ const t = ({TRACES_JS})();
        return t.length && JSON.stringify(t[0].x) !== JSON.stringify(old); }}""", arg=before[0]["x"],
                           timeout=60_000)
    after = page.evaluate(VIEW_JS)
    assert after["marks"] == [0, 1, 2], "the same three divs: nothing remounted"
    # kept (a drag's last pixels may settle after it was read: within 0.02), not back at the figure's
    assert after["eye"] == pytest.approx(turned["eye"], abs=0.02), "the camera is kept"
    assert max(abs(a - b) for a, b in zip(after["eye"], default["eye"], strict=True)) > 0.2
    assert after["x"] == pytest.approx(turned["x"]) and after["y"] == pytest.approx(turned["y"]), "the zoom is kept"
    traces = {t["name"]: t for t in page.evaluate(TRACES_JS)}
    import optlab

    run = optlab.simulate("rosenbrock", "adam", lr=0.1, steps=200)
    assert traces["adam"]["x"] == run.path[:, 0].tolist() and traces["adam"]["y"] == run.path[:, 1].tolist()
    assert traces["sgd"] == {t["name"]: t for t in before}["sgd"]
    assert page.locator("[data-testid=stException]").count() == 0
    context.close()


def test_a_draw_of_the_same_figures_recomputes_nothing(browser, server):  # noqa: F811
    # Plotly.react diffs the new figure against the drawn one; a NumPy array sent as {dtype, bdata} and decoded
    # by Plotly on every draw was a new array each time, so every draw recomputed and redrew every trace (the
    # contour's grid, the 3-D surface). A rerun that sends the same figures must keep Plotly's computed data.
    context, page = open_page(browser, f"{server}/?landscape=rosenbrock&opt=adam&opt=sgd&steps=100")
    page.wait_for_function(f"() => ({CHARTS})().length === 3 && ({CHARTS})().every(g => g._fullLayout)")
    page.evaluate(f"""() => ({CHARTS})().forEach(g => {{ g.__calcdata = g.calcdata;
        g.closest('.optlab-chart').lastText = null; }})""")  # so that the next call draws the same message
    drawn = page.evaluate("() => Array.from(document.querySelectorAll('.optlab-chart')).map(c => c.dataset.drawn)")
    page.locator("[data-testid=stMain] h1, [data-testid=stMain] h2").first.click()  # focus the page, no widget
    page.keyboard.press("r")  # Streamlit's rerun: the same figures again
    page.wait_for_function("old => Array.from(document.querySelectorAll('.optlab-chart'))"
                           ".every((c, i) => Number(c.dataset.drawn) > Number(old[i]))", arg=drawn, timeout=60_000)
    kept = page.evaluate(f"() => ({CHARTS})().map(g => g.calcdata === g.__calcdata)")
    assert kept == [True, True, True], "a draw of unchanged parts recomputed the figure"
    assert page.locator("[data-testid=stException]").count() == 0
    context.close()


# what a chart element redrew since the last reset: the contour's layer underneath, the 3-D surface's buffers
REDRAWN_JS = """() => { const [main, surface] = document.querySelectorAll('.optlab-plot');
  const log = window.__optlabChartLog || [];
  return {under: log.filter(e => e.chart === 0 && e.phase === 'under').length,
          main: log.filter(e => e.chart === 0 && e.phase !== 'under').length,
          surface: surface.__optlabSurfaceBuilds || 0, contour: main.closest('.optlab-chart').under
            .querySelectorAll('g.contourlayer path').length}; }"""


def test_a_change_that_keeps_the_landscape_redraws_only_the_runs(browser, server):  # noqa: F811
    # Plotly recomputes every trace of a chart when any trace's data changes: the filled contour is drawn in a
    # layer of its own underneath and the surface's buffers are rebuilt only when the surface changed
    # (optlab.chart), so that an lr change redraws the paths alone. Another landscape redraws both.
    context, page = open_page(browser, f"{server}/?landscape=rosenbrock&opt=adam&opt=sgd&adam.lr=0.05&steps=100")
    page.wait_for_function(f"() => ({CHARTS})().length === 3 && ({CHARTS})().every(g => g._fullLayout)")
    page.evaluate("() => { (window.__optlabChartLog || []).length = 0; "
                  "document.querySelectorAll('.optlab-plot')[1].__optlabSurfaceBuilds = 0; }")
    before = page.evaluate(TRACES_JS)
    slider = page.locator("[data-testid=stSidebar] [data-testid=stSlider] input[type=range]").first
    slider.focus()
    slider.press("ArrowRight")  # Adam's lr, 0.05 -> 0.1
    page.wait_for_function(f"""old => {{ const t = ({TRACES_JS})();
        return t.length && JSON.stringify(t[0].x) !== JSON.stringify(old); }}""", arg=before[0]["x"],
                           timeout=60_000)
    page.wait_for_timeout(500)
    kept = page.evaluate(REDRAWN_JS)
    assert kept["main"] >= 1, "the contour chart drew the new run"
    assert kept["under"] == 0 and kept["surface"] == 0, kept  # the landscape was not redrawn, in 2-D or 3-D
    assert kept["contour"] > 10  # and is still there underneath

    page.evaluate("() => { (window.__optlabChartLog || []).length = 0; }")
    box = page.locator("[data-testid=stSidebar] [data-testid=stSelectbox]").first
    box.locator("input").first.fill("Himmelblau")
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => ({REDRAWN_JS})().under >= 1 && ({REDRAWN_JS})().surface >= 1", timeout=60_000)
    assert page.evaluate(REDRAWN_JS)["contour"] > 10
    assert page.locator("[data-testid=stException]").count() == 0
    context.close()


def test_the_modebar_camera_saves_the_landscape_and_the_runs_as_one_png(browser, server, tmp_path):  # noqa: F811
    # the contour is drawn in a div of its own under the chart's (optlab.chart): the PNG has both layers
    from PIL import Image

    context, page = open_page(browser, f"{server}/?landscape=rosenbrock&opt=adam&opt=sgd&steps=100")
    page.wait_for_function(f"() => ({CHARTS})().length === 3 && ({CHARTS})().every(g => g._fullLayout)")
    size = page.evaluate("() => { const l = document.querySelector('.optlab-plot')._fullLayout, s = l._size; "
                         "return [l.width, l.height, s.l + s.w / 2, s.t + s.h / 2, s.t]; }")
    page.locator(".optlab-chart").first.hover()
    with page.expect_download(timeout=30_000) as download:
        page.locator(".optlab-chart").first.locator(".modebar-btn[data-title='Download plot as a PNG']").click()
    path = tmp_path / "chart.png"
    download.value.save_as(path)
    image = Image.open(path).convert("RGBA")
    assert image.size == (round(size[0]), round(size[1]))
    r, g, b, a = image.getpixel((round(size[2]), round(size[3])))  # the middle of the plot area
    assert a == 255 and (r, g, b) != (255, 255, 255), (r, g, b, a)  # the landscape's colour, not the page's
    # above the plot area only the layer on top draws (its legend): some of those pixels are not the background
    top = image.crop((0, 0, image.size[0], int(size[4]) - 2))
    background = image.getpixel((1, 1))
    differs = (np.asarray(top) != np.asarray(background)).any(axis=-1)
    assert differs.sum() > 100, "the legend (the layer on top) is in the PNG"
    context.close()


# the contour chart's plot area, its legend's rows (distinct tops of its items) and their box, in page pixels
LEGEND_JS = """() => { const gd = document.querySelector('.optlab-plot'), s = gd._fullLayout._size;
  const box = gd.getBoundingClientRect();
  const items = Array.from(gd.querySelectorAll('.legend g.traces')).map(e => e.getBoundingClientRect());
  return {w: s.w, h: s.h, top: box.top + s.t, items: items.length,
          rows: new Set(items.map(r => Math.round(r.top))).size,
          legendTop: Math.min(...items.map(r => r.top)), legendBottom: Math.max(...items.map(r => r.bottom)),
          chartTop: box.top}; }"""


@pytest.mark.parametrize("width", [1500, 390])
def test_adding_optimizers_until_the_legend_wraps_keeps_the_plot_area_and_the_landscape_drawn(browser, server, width):  # noqa: F811
    # a legend that wraps to another row pushed the top margin down, Plotly shrank the plot area, and the
    # landscape's layer underneath was drawn again (~130 ms) with the contour jumping: the chart now grows
    # by the rows instead (optlab.chart, keepPlotArea)
    context = browser.new_context(viewport={"width": width, "height": 1000})
    page = context.new_page()
    page.goto(f"{server}/?landscape=rosenbrock&opt=adam&opt=sgd&steps=100")
    page.wait_for_function(f"() => ({CHARTS})().length === 3 && ({CHARTS})().every(g => g._fullLayout)",
                           timeout=120_000)
    first = page.evaluate(LEGEND_JS)
    page.evaluate("() => { (window.__optlabChartLog || []).length = 0; }")
    if width < 500:  # a phone: the sidebar is folded away
        page.get_by_test_id("stExpandSidebarButton").click()
    box = page.locator("[data-testid=stSidebar] [data-testid=stMultiSelect]").first
    for n, title in enumerate(["SGD + momentum", "RMSprop", "AdamW", "Adagrad"], start=3):
        box.locator("input").first.click()
        page.keyboard.type(title)
        page.get_by_role("option", name=title, exact=True).click()
        page.keyboard.press("Escape")
        page.wait_for_function(f"() => ({TRACES_JS})().length === {n}", timeout=60_000)
        page.wait_for_timeout(300)
        now = page.evaluate(LEGEND_JS)
        assert now["items"] == n + 2, now  # the optimizers, the global minimum and the start
        assert (now["w"], now["h"]) == pytest.approx((first["w"], first["h"]), abs=0.5), (n, first, now)
        # the legend above the plot area, inside its chart
        assert now["chartTop"] - 1 <= now["legendTop"] and now["legendBottom"] <= now["top"] + 1, now
    assert now["rows"] > first["rows"], (first, now)  # the legend did wrap
    redrawn = page.evaluate(REDRAWN_JS)
    assert redrawn["under"] == 0, "the landscape underneath was drawn again"
    assert redrawn["main"] >= 4 and redrawn["contour"] > 10
    assert page.locator("[data-testid=stException]").count() == 0
    context.close()


FULL_JS = """() => { const c = document.querySelector('.optlab-chart'), s = c.gd._fullLayout._size;
  const su = c.under._fullLayout._size, a = c.gd.getBoundingClientRect(), b = c.under.getBoundingClientRect();
  const slider = c.querySelector('.optlab-controls input[type=range]').getBoundingClientRect();
  return {full: document.fullscreenElement === c, h: s.h, w: s.w, top: a.top + s.t, topUnder: b.top + su.t,
          hUnder: su.h, slider: slider.width}; }"""


def test_full_screen_and_back_keeps_both_layers_aligned_and_the_plot_area_as_it_was(browser, server):  # noqa: F811
    # full screen draws the figure again at the screen's size, and leaving it at the figure's (optlab.chart);
    # with a legend of two rows the landscape's layer sits lower (keepPlotArea): both layers must still match
    context, page = open_page(browser, f"{server}/?landscape=rosenbrock&opt=adam&opt=sgd&opt=momentum&opt=rmsprop"
                                       "&opt=adamw&steps=100")
    page.wait_for_function(f"() => ({CHARTS})().length === 3 && ({CHARTS})().every(g => g._fullLayout)")
    page.wait_for_timeout(500)
    before = page.evaluate(FULL_JS)
    chart = page.locator(".optlab-chart").first
    chart.hover()
    chart.locator(".modebar-btn[data-title='Full screen']").click()
    page.wait_for_function(f"() => ({FULL_JS})().full && ({FULL_JS})().h > {before['h'] + 100}", timeout=30_000)
    page.wait_for_timeout(1000)
    full = page.evaluate(FULL_JS)
    page.evaluate("() => document.exitFullscreen()")
    page.wait_for_function(f"() => !({FULL_JS})().full", timeout=30_000)
    page.wait_for_timeout(1500)
    after = page.evaluate(FULL_JS)
    for view in (before, full, after):
        assert view["top"] == pytest.approx(view["topUnder"], abs=0.5) and view["h"] == pytest.approx(view["hUnder"])
        assert view["slider"] == pytest.approx(view["w"], abs=1)  # the animation's slider spans the plot
    assert after["h"] == pytest.approx(before["h"], abs=0.5)  # the figure's height again, not the screen's
    # (the width within a few px: the colour bar's labels, measured at the screen's size, may keep its margin wider)
    assert after["w"] == pytest.approx(before["w"], abs=15) and full["w"] > 2 * before["w"]
    context.close()

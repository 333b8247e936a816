"""What a new user sees laid out (issue 13), in a real headless Chromium: every preset's full name
readable, the animation's buttons clear of the step slider and of the contour's axis title on a
desktop and on a phone, and widgets named in plain text for screen readers."""

import pytest
from browser import wait_ready
from test_browser import browser, server  # noqa: F401 - the module's fixtures

from optlab.presets import PRESETS

pytestmark = pytest.mark.browser

SIZES = {"desktop": (1600, 1000), "phone": (390, 844)}


def _open(browser, url, size):  # noqa: F811
    w, h = SIZES[size]
    context = browser.new_context(viewport={"width": w, "height": h})
    page = context.new_page()
    page.goto(url)
    wait_ready(page)
    return context, page


@pytest.mark.parametrize("size", SIZES)
def test_every_presets_full_name_is_readable(browser, server, size):  # noqa: F811
    context, page = _open(browser, server, size)
    try:
        if size == "phone":  # the sidebar is collapsed on a phone: open it as a user does
            page.get_by_test_id("stExpandSidebarButton").click()
            page.wait_for_timeout(800)
        for preset in PRESETS.values():
            button = page.get_by_role("button", name=preset.title, exact=True)
            button.scroll_into_view_if_needed()
            cut = button.evaluate("b => Array.from(b.querySelectorAll('*')).concat([b])"
                                  ".some(e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflow"
                                  " !== 'visible')")
            assert button.inner_text().strip() == preset.title and not cut, preset.title
    finally:
        context.close()


# the animation's controls are the page's own under the chart (optlab.chart: Play/Pause buttons, a range input)
BOXES_JS = """() => {
  const gd = document.querySelectorAll('.optlab-plot')[0], root = gd.closest('.optlab-chart');
  const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  return {
    buttons: Array.from(root.querySelectorAll('.optlab-controls button')).map(box),
    rail: Array.from(root.querySelectorAll('.optlab-controls input[type=range]')).map(box),
    grips: Array.from(root.querySelectorAll('.optlab-step')).map(box),
    xtitle: Array.from(gd.querySelectorAll('.xtitle')).map(box),
  };
}"""


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("size", SIZES)
def test_the_play_buttons_leave_the_step_slider_and_the_axis_title_clear(browser, server, size):  # noqa: F811
    context, page = _open(browser, server, size)
    try:
        page.locator(".optlab-chart").first.scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        boxes = page.evaluate(BOXES_JS)
        assert len(boxes["buttons"]) == 2 and boxes["rail"] and boxes["xtitle"], boxes
        for button in boxes["buttons"]:
            for other in boxes["rail"] + boxes["xtitle"] + boxes["grips"]:
                assert not _overlap(button, other), (size, button, other)
        rail = boxes["rail"][0]
        plot = page.evaluate("() => { const r = document.querySelector('.optlab-plot .nsewdrag')"
                             ".getBoundingClientRect(); return [r.left, r.right]; }")
        assert rail[0] <= plot[0] + 30 and rail[2] >= plot[1] - 30, (rail, plot)  # the rail spans the plot
    finally:
        context.close()


def test_on_a_phone_the_contour_takes_most_of_its_chart_and_its_ticks_and_colour_bar_stay_inside(
        browser, server):  # noqa: F811
    # was: the desktop's fixed side margins (85 + 95 px) left the contour 178 of a 358 px chart on a phone
    context, page = _open(browser, server, "phone")
    try:
        page.locator(".optlab-chart").first.scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        box = page.evaluate("""() => {
          const gd = document.querySelector('.optlab-plot'), root = gd.closest('.optlab-chart');
          const r = (e) => e.getBoundingClientRect();
          const inner = Array.from(gd.querySelectorAll('.ytick, .colorbar, .ytitle'))
            .concat(Array.from(root.querySelectorAll('.optlab-under .colorbar')));
          return {chart: [r(root).left, r(root).right], plot: [r(gd.querySelector('.nsewdrag')).left,
                  r(gd.querySelector('.nsewdrag')).right], inner: inner.map((e) => [r(e).left, r(e).right])};
        }""")
        (left, right), (plot_left, plot_right) = box["chart"], box["plot"]
        assert plot_right - plot_left >= 0.6 * (right - left), box
        assert all(left - 1 <= a and b <= right + 1 for a, b in box["inner"]), box  # nothing cut at the sides
    finally:
        context.close()


def test_widgets_have_plain_text_accessible_names(browser, server):  # noqa: F811
    context, page = _open(browser, server, "desktop")
    try:
        assert page.get_by_role("slider", name="lr (η)").count() >= 1
        names = page.evaluate("() => Array.from(document.querySelectorAll('[data-testid=stSidebar] input, "
                              "[data-testid=stSidebar] [role=slider]')).map(e => e.getAttribute('aria-label') "
                              "|| (e.labels && e.labels[0] && e.labels[0].innerText) || '')")
        assert names and not [n for n in names if "$" in n or "\\" in n], names
    finally:
        context.close()


def test_on_a_phone_the_table_and_the_equations_scroll_instead_of_being_cut(browser, server):  # noqa: F811
    context, page = _open(browser, server, "phone")
    try:
        page.locator("[data-testid=stTable]").first.scroll_into_view_if_needed()
        table = page.locator("[data-testid=stTable]").first
        assert table.evaluate("e => getComputedStyle(e).overflowX") == "auto"
        headers = table.evaluate("e => Array.from(e.querySelectorAll('th')).map(h => h.innerText.trim())")
        assert any(h.startswith("diverged") for h in headers), headers
        # every header is whole: either it fits, or the table scrolls sideways to show it
        clipped = table.evaluate("e => Array.from(e.querySelectorAll('th')).some(h => h.scrollWidth > "
                                 "h.clientWidth + 1)")
        assert not clipped
        displays = page.locator(".katex-display")
        assert displays.count() > 0
        assert {displays.nth(i).evaluate("e => getComputedStyle(e).overflowX") for i in range(displays.count())} \
            == {"auto"}
    finally:
        context.close()


def test_there_is_no_developer_chrome(browser, server):  # noqa: F811
    context, page = _open(browser, server, "desktop")
    try:
        assert page.get_by_role("button", name="Deploy").count() == 0
        assert page.get_by_test_id("stAppDeployButton").count() == 0
    finally:
        context.close()


def test_the_step_box_the_step_buttons_and_tune_work_in_a_browser(browser, server):  # noqa: F811
    context, page = _open(browser, server, "desktop")
    try:
        box = page.get_by_label("step k (number)")
        box.fill("40")
        box.press("Enter")
        page.wait_for_function("() => location.search.includes('k=40')", timeout=60_000)
        page.get_by_role("button", name="▶", exact=True).click()  # the step inspector's (not the chart's ▶ Play)
        page.wait_for_function("() => location.search.includes('k=41')", timeout=60_000)
        assert page.get_by_text("Step 41, numbers substituted").count() == 1
        page.get_by_role("button", name="Tune learning rates").click()
        page.wait_for_function("() => Array.from(document.querySelectorAll('[data-testid=stTable] td'))"
                               ".some(td => td.innerText.includes('(tuned)'))", timeout=60_000)
        # the tuned rates are in the sliders and the link (the toast that names them fades after a few seconds)
        page.wait_for_function("() => !location.search.includes('adam.lr=0.05')", timeout=60_000)
    finally:
        context.close()


TITLES_JS = """() => {
  const gd = document.querySelectorAll('.optlab-plot')[2];  // loss and step size per step
  const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  return {titles: Array.from(gd.querySelectorAll('.annotation')).map(a => [a.textContent, box(a)]),
          plots: Array.from(gd.querySelectorAll('.nsewdrag')).map(box)};
}"""


@pytest.mark.parametrize("size", SIZES)
def test_the_progress_charts_titles_sit_on_their_own_charts(browser, server, size):  # noqa: F811
    context, page = _open(browser, server, size)
    try:
        page.locator(".optlab-chart").nth(2).scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        found = page.evaluate(TITLES_JS)
        titles = [(t, b) for t, b in found["titles"] if t.startswith(("loss", "step size", "f"))][:2]
        assert len(titles) == 2 and len(found["plots"]) == 2, found
        assert not _overlap(titles[0][1], titles[1][1]), titles
        for text, box in titles:  # a title does not sit on the other chart's plot area
            others = [p for p in found["plots"] if not (p[0] - 5 <= (box[0] + box[2]) / 2 <= p[2] + 5)]
            assert all(not _overlap(box, p) for p in others), (size, text, box, found["plots"])
    finally:
        context.close()

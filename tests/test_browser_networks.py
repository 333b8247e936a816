"""The networks page in a real headless Chromium: a shared link draws the full training and reproduces it."""

import numpy as np
import pytest
from browser import wait_ready
from test_browser import browser, open_page, server, share_box  # noqa: F401  (fixtures)

import optlab
from optlab import full_training as T
from optlab.networks.landscape import network_of

pytestmark = pytest.mark.browser

PLANE_JS = """() => {
  const gds = Array.from(document.querySelectorAll('.optlab-chart > .js-plotly-plot:not(.optlab-under)'));
  // the plane's contour: drawn in the layer underneath (.optlab-under), a transparent heatmap on top takes its hover
  const gd = gds.find(g => g._fullData.some(t => t.type === 'contour' || t.type === 'heatmap'));
  return gd._fullData.filter(t => t.mode === 'lines+markers')
    .map(t => ({name: t.name, x: Array.from(t.x), y: Array.from(t.y)}));
}"""


def test_a_networks_link_draws_the_shared_plane_and_a_fresh_session_reproduces_it(browser, server):  # noqa: F811
    query = ("train=true&landscape=mlp_iris_plane&opt=adam&opt=sgd&adam.lr=0.02&sgd.lr=0.2&steps=80&batch=16"
             "&train.grid=16")
    context, page = open_page(browser, f"{server}/?{query}")
    page.wait_for_function("() => document.querySelectorAll('.optlab-chart > .js-plotly-plot:not(.optlab-under) .main-svg').length >= 5",
                           timeout=60_000)
    assert page.locator("[data-testid=stException]").count() == 0
    assert page.get_by_text("Full training, projected honestly").count() == 1
    drawn = page.evaluate(PLANE_JS)
    url = share_box(page, "train=true")
    assert "train.grid=16" in url and "batch=16" in url
    context.close()

    source = network_of(optlab.get_landscape("mlp_iris_plane"))
    ft = T.train_all(source, {"adam": {**optlab.get_optimizer("adam").defaults, "lr": 0.02},
                              "sgd": {**optlab.get_optimizer("sgd").defaults, "lr": 0.2}},
                     steps=80, batch_size=16, grid=16)
    by_name = {t["name"]: np.column_stack([t["x"], t["y"]]) for t in drawn}
    np.testing.assert_allclose(by_name["Adam"], ft.projection.coords["adam"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(by_name["SGD"], ft.projection.coords["sgd"], rtol=1e-9, atol=1e-12)

    fresh, page2 = open_page(browser, url)
    page2.wait_for_function("() => document.querySelectorAll('.optlab-chart > .js-plotly-plot:not(.optlab-under) .main-svg').length >= 5",
                            timeout=60_000)
    wait_ready(page2)
    assert page2.evaluate(PLANE_JS) == drawn
    fresh.close()

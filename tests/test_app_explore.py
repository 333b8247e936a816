"""The explore views in the app (AppTest): sensitivity sweep, basin maps, seed bands."""

from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from test_app import _fresh_cache, charts, decode, figure, open_app, share_url  # noqa: F401  (fixture)

import optlab
from optlab import chunks, sweep_axes, sweeps
from optlab import config as C
from optlab.pages.explore import setting_values


def chart(at, trace_type: str) -> dict:
    """The first figure holding a trace of this type."""
    for i in range(len(charts(at))):
        fig = figure(at, i)
        if any(t.get("type") == trace_type for t in fig["data"]):
            return fig
    raise AssertionError(f"no {trace_type} chart on the page")


def link_config(at) -> C.RunConfig:
    cfg, problems = C.from_query(parse_qs(urlsplit(share_url(at)).query))
    assert not problems, problems
    return cfg


def test_a_sensitivity_link_draws_exactly_the_sweep_simulate_gives():
    at = open_app({"explore": "sensitivity", "sweep.n": "9", "steps": "120", "adam.lr": "0.05",
                   "sweep.xmin": "0.001", "sweep.xmax": "1"})
    fig = chart(at, "heatmap")
    heat = next(t for t in fig["data"] if t["type"] == "heatmap")
    expected = sweeps.sensitivity("rosenbrock", "adam", x="lr", y="beta1", x_range=(0.001, 1.0),
                                  y_range=sweep_axes.axis_range("adam", "beta1"), n=9, steps=120, start=(-1.5, 2.0))
    np.testing.assert_array_equal(decode(heat["x"]), expected.x)
    np.testing.assert_array_equal(decode(heat["y"]), expected.y)
    lo, hi = heat["zmin"], heat["zmax"]
    assert lo >= -16 and hi <= np.log10(expected.start_loss) + 2  # f* = 0: the colour band
    gap = np.clip(np.log10(np.maximum(expected.final_loss, 1e-300)), lo, hi).astype(np.float32)
    np.testing.assert_array_equal(decode(heat["z"]).reshape(9, 9), gap)
    star = next(t for t in fig["data"] if t.get("name") == "the comparison's setting")
    assert (star["x"][0], star["y"][0]) == (0.05, 0.9)  # the page's own Adam setting
    assert "Sweep (CSV)" in [b.label for b in at.get("download_button")]
    assert "explore=sensitivity" in share_url(at) and "sweep.n=9" in share_url(at)


def test_steps_to_tolerance_colouring_and_another_optimizer():
    at = open_app({"explore": "sensitivity", "sweep.opt": "rmsprop", "sweep.metric": "steps_to_tol",
                   "sweep.n": "5", "landscape": "booth", "steps": "200"})
    heat = next(t for t in chart(at, "heatmap")["data"] if t["type"] == "heatmap")
    expected = sweeps.sensitivity("booth", "rmsprop", n=5, steps=200)
    np.testing.assert_array_equal(decode(heat["z"]).reshape(5, 5), expected.steps_to_tol.astype(np.float32))
    assert sweep_axes.default_axes("rmsprop")[1] == "momentum"
    assert "sweep.opt=rmsprop" in share_url(at)


def test_a_clicked_cell_runs_that_setting_in_the_comparison():
    at = open_app({"explore": "sensitivity", "sweep.n": "6", "steps": "100", "sweep.opt": "rmsprop"})
    sweep = sweeps.sensitivity("rosenbrock", "rmsprop", n=6, steps=100)
    lr, mu = float(sweep.x[4]), float(sweep.y[2])
    # what a click on cell (4, 2) loads into the comparison's widgets (AppTest cannot click a chart)
    for key, value in setting_values(at.session_state["opt"], "rmsprop", "lr", "momentum", lr, mu).items():
        at.session_state[key] = value
    at.run()
    assert not at.exception
    cfg = link_config(at)
    assert "rmsprop" in cfg.optimizers  # not on the page before: added
    assert cfg.hp("rmsprop")["lr"] == lr and cfg.hp("rmsprop")["momentum"] == mu
    assert C.run_one(cfg, "rmsprop").loss[-1] == sweep.final_loss[2, 4]  # the cell's run, to the last bit
    star = next(t for t in chart(at, "heatmap")["data"] if t.get("name") == "the comparison's setting")
    assert (star["x"][0], star["y"][0]) == (lr, mu)


def test_basin_maps_of_two_optimizers():
    at = open_app({"landscape": "himmelblau", "explore": "basins", "basins.n": "15", "steps": "150",
                   "opt": ["adam", "sgd", "momentum"], "adam.lr": "0.05", "sgd.lr": "0.01"})
    fig = chart(at, "heatmap")
    heats = [t for t in fig["data"] if t["type"] == "heatmap"]
    assert len(heats) == 2  # the page's first two optimizers
    expected = sweeps.basins("himmelblau", "sgd", n=15, steps=150, hparams={"lr": 0.01})
    np.testing.assert_array_equal(decode(heats[1]["customdata"]).reshape(15, 15),
                                  np.where(np.isnan(expected.settle_step), -1, expected.settle_step))
    assert any(t.get("name") == "global minimum (3, 2)" for t in fig["data"])
    assert "Basin maps (CSV)" in [b.label for b in at.get("download_button")]


def test_basins_on_a_landscape_without_minima_say_so():
    at = open_app({"landscape": "saddle", "explore": "basins"})
    assert any("no minimum to reach" in i.value for i in at.info)


def test_seed_bands_need_noise_and_then_show_the_spread():
    quiet = open_app({"explore": "seeds"})
    assert any("Without noise every seed gives the same run" in i.value for i in quiet.info)
    at = open_app({"explore": "seeds", "noise": "1.5", "seeds.n": "12", "steps": "80", "opt": "sgd"})
    fig = next(figure(at, i) for i in range(len(charts(at)))
               if any("median of 12 seeds" in (t.get("name") or "") for t in figure(at, i)["data"]))
    median = next(t for t in fig["data"] if "median" in (t.get("name") or ""))
    band = sweeps.seed_bands("rosenbrock", "sgd", n_seeds=12, steps=80, noise=1.5)
    np.testing.assert_array_equal(decode(median["y"]), band.quantiles()[1])
    assert "Seed bands (CSV)" in [b.label for b in at.get("download_button")]


def test_a_tampered_explore_link_warns_and_keeps_the_valid_parts():
    at = open_app({"explore": "basins", "basins.n": "20", "basins.opt": ["adam", "nope"], "sweep.x": "zz",
                   "sweep.n": "100000", "seeds.n": "many", "sweep.metric": "vibes", "landscape": "himmelblau"})
    (warning,) = at.warning
    for key in ("basins.opt", "sweep.x", "sweep.n", "seeds.n", "sweep.metric"):
        assert f"`{key}`" in warning.value
    url = share_url(at)
    assert "explore=basins" in url and "basins.n=20" in url and "basins.opt=adam" in url
    assert "nope" not in url and "zz" not in url


def test_an_unknown_explore_view_and_a_bad_range_are_reported():
    at = open_app({"explore": "everything", "sweep.xmin": "-1", "sweep.ymax": "0.2", "sweep.ymin": "0.5"})
    (warning,) = at.warning
    assert "`explore`" in warning.value and "`sweep.xmin`/`sweep.xmax`: lr from -1" in warning.value
    assert "`sweep.ymin`/`sweep.ymax`: beta1 from 0.5 to 0.2: the range must go from low to high" in warning.value


def test_large_grids_are_capped_with_a_message():
    at = open_app({"explore": "sensitivity", "sweep.n": "200", "steps": "5000"})
    assert any("reduced from 200 to" in w.value for w in at.warning)
    heat = next(t for t in chart(at, "heatmap")["data"] if t["type"] == "heatmap")
    n = len(decode(heat["x"]))
    assert n * n * 5000 <= chunks.MAX_RUN_STEPS and n == C.capped(200, 1, 5000)


@pytest.mark.parametrize("view", ["sensitivity", "basins", "seeds"])
def test_every_view_on_every_kind_of_landscape(view):
    for landscape in ("six_hump_camel", "logistic_regression", "monkey_saddle"):
        at = open_app({"landscape": landscape, "explore": view, "noise": "0.3", "steps": "60", "sweep.n": "8",
                       "basins.n": "10", "seeds.n": "5"})
        assert not at.error, [e.value for e in at.error]
        assert f"explore={view}" in share_url(at)


def test_a_formula_landscape_can_be_swept():
    at = open_app({"landscape": "custom", "formula": "x^2 + 10*y^2", "explore": "sensitivity", "sweep.n": "5",
                   "steps": "50"})
    land = optlab.formula_landscape("x^2 + 10*y^2")
    heat = next(t for t in chart(at, "heatmap")["data"] if t["type"] == "heatmap")
    expected = sweeps.sensitivity(land, "adam", n=5, steps=50)
    assert np.isfinite(expected.final_loss).any()
    assert decode(heat["z"]).size == 25


def test_changing_the_swept_optimizer_resets_its_axes_and_ranges():
    at = open_app({"explore": "sensitivity", "sweep.n": "5", "steps": "50", "sweep.ymin": "0.5"})
    assert at.selectbox(key="sweep.y").value == "beta1" and at.number_input(key="sweep.ymin").value == 0.5
    at.selectbox(key="sweep.opt").set_value("sgd").run()
    assert not at.exception
    assert at.selectbox(key="sweep.x").value == "lr" and at.selectbox(key="sweep.y").value == "momentum"
    assert at.number_input(key="sweep.ymin").value == sweep_axes.axis_range("sgd", "momentum")[0]  # not β1's 0.5
    url = share_url(at)
    assert "sweep.opt=sgd" in url and "sweep.ymin" not in url and "sweep.y=" not in url
    at.selectbox(key="sweep.x").set_value("momentum").run()
    assert at.selectbox(key="sweep.y").value == "lr" and "sweep.x=momentum" in share_url(at)


def test_switching_views_keeps_every_views_settings():
    at = open_app({"explore": "sensitivity", "sweep.n": "5", "steps": "50", "landscape": "himmelblau"})
    at.number_input(key="sweep.n").set_value(12).run()
    at.selectbox(key="sweep.y").set_value("beta2").run()
    at.radio(key="explore").set_value("basins").run()
    at.number_input(key="basins.n").set_value(30).run()
    url = share_url(at)
    assert "explore=basins" in url and "basins.n=30" in url and "sweep.n=12" in url and "sweep.y=beta2" in url
    at.radio(key="explore").set_value("sensitivity").run()
    assert at.number_input(key="sweep.n").value == 12 and at.selectbox(key="sweep.y").value == "beta2"
    assert "basins.n=30" in share_url(at) and not at.exception


def test_swapping_axes_leaves_no_stale_range():
    at = open_app({"explore": "sensitivity", "sweep.n": "4", "steps": "30"})
    at.selectbox(key="sweep.x").set_value("beta1").run()
    at.selectbox(key="sweep.y").set_value("lr").run()
    at.selectbox(key="sweep.x").set_value("lr").run()  # y must move off lr, with its own range
    assert not at.error, [e.value for e in at.error]
    assert at.selectbox(key="sweep.y").value != "lr"
    assert "sweep.ymin" not in share_url(at) and "sweep.ymax" not in share_url(at)


def test_a_link_whose_y_is_the_default_x_or_whose_range_is_absurd_is_reported():
    at = open_app({"explore": "sensitivity", "sweep.y": "lr", "sweep.ymin": "0.001", "sweep.n": "4"})
    (warning,) = at.warning
    assert "`sweep.y`: the same hyperparameter as the x axis (lr)" in warning.value
    assert not at.error and not at.exception and at.selectbox(key="sweep.y").value == "beta1"
    at = open_app({"explore": "sensitivity", "sweep.x": "eps", "sweep.xmin": "1e-300", "sweep.xmax": "1e300",
                   "sweep.n": "4"})
    (warning,) = at.warning
    assert "`sweep.xmin`/`sweep.xmax`: eps from 1e-300 to 1e+300: a log axis spans at most 12 decades" in warning.value
    assert not at.error and not at.exception and "sweep.x=eps" in share_url(at)


def test_a_long_view_shows_a_progress_bar_that_leaves_nothing_behind(monkeypatch):
    import time

    # a computation longer than half a second reports its chunks; the bar is gone when it is done,
    # and a cache hit (which replays the bar's messages) raises nothing
    real = sweeps.sensitivity
    seen = []

    def slow(*args, progress=None, **kwargs):
        def report(f):
            seen.append(f)
            time.sleep(0.3)
            progress(f)
        return real(*args, progress=report, **kwargs)

    monkeypatch.setattr(sweeps, "sensitivity", slow)
    monkeypatch.setattr(chunks, "CHUNK", 5)
    at = open_app({"explore": "sensitivity", "sweep.n": "4", "steps": "20"})
    assert len(seen) == 4 and seen[-1] == 1.0 and not at.get("progress")
    at.run()  # a cache hit
    assert not at.exception and not at.get("progress")

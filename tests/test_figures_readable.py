"""The figures read as a learner reads them (issue 13): powers of ten, never SI suffixes; a run that
explodes leaves the chart visibly instead of flattening the others; each landscape's own axis names;
titles, not ids; every panel keeps the overlay's marks. Checked on the figures the page draws."""

import math
from pathlib import Path

import numpy as np
import pytest
import tomllib
from test_app import decode

import optlab
from landscapes import get_landscape
from optlab import config as C
from optlab import plots, progress_plots, sweep_plots, sweeps
from optlab.presets import PRESETS

ROOT = Path(__file__).resolve().parents[1]


def _runs(land, *specs):
    return {name: optlab.simulate(land, name, steps=200, **kw) for name, kw in specs}


def _axes(fig):
    """Every axis of a figure: cartesian ones, the 3-D scenes' and the colour bars."""
    layout = fig.to_plotly_json()["layout"]
    found = [(k, v) for k, v in layout.items() if k.startswith(("xaxis", "yaxis"))]
    for k, scene in layout.items():
        if k.startswith("scene"):
            found += [(f"{k}.{a}", scene.get(a, {})) for a in ("xaxis", "yaxis", "zaxis")]
    for i, t in enumerate(fig.to_plotly_json()["data"]):
        if t.get("showscale", True) and "colorbar" in t:
            found.append((f"trace {i} colorbar", t["colorbar"]))
    return found


def _figures():
    rosen = get_landscape("rosenbrock")
    runs = _runs(rosen, ("adam", dict(lr=0.05)), ("sgd", dict(lr=1e-3)), ("momentum", {}))
    yield "contour", plots.contour_figure(rosen, runs, rosen.start)
    yield "multiples", plots.multiples_figure(rosen, runs, rosen.start)
    yield "surface", plots.surface_figure(rosen, runs)
    yield "progress", progress_plots.progress_figure(rosen, runs)
    sweep = sweeps.sensitivity("rosenbrock", "adam", n=6, steps=50, x_range=(1e-5, 10.0))
    yield "sweep", sweep_plots.sensitivity_figure(sweep, "final_loss")
    yield "sweep steps", sweep_plots.sensitivity_figure(sweep, "steps_to_tol")
    yield "basins", sweep_plots.basins_figure({"adam": sweeps.basins("himmelblau", "adam", n=8, steps=50)})
    yield "seeds", sweep_plots.seed_bands_figure({"adam": sweeps.seed_bands("rosenbrock", "adam", n_seeds=4,
                                                                          noise=0.5, steps=50)})
    yield from _training_figures()


def _training_figures():
    """The networks page's figures (optlab.training_plots), on a short training of the iris plane's network."""
    from optlab import full_training, training_plots
    from optlab.networks.landscape import network_of

    source = network_of(get_landscape("mlp_iris_plane"))
    hp = {"adam": {"lr": 0.02}, "sgd": {"lr": 0.2}}
    ft = full_training.train_all(source, hp, steps=40, batch_size=16, grid=8)
    bands = full_training.seed_bands(source, hp, steps=40, batch_size=16, seeds=2)
    yield "training curves", training_plots.curves_figure(ft, bands)
    yield "training plane", training_plots.plane_figure(ft)
    yield "training surface", training_plots.surface_figure(ft)
    yield "training honesty", training_plots.honesty_figure(ft)
    yield "training layers", training_plots.layers_figure(ft)


@pytest.mark.parametrize("name, fig", list(_figures()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_axis_and_colour_bar_writes_powers_of_ten(name, fig):
    axes = _axes(fig)
    assert axes
    for where, axis in axes:
        hidden = axis.get("visible") is False or axis.get("showticklabels") is False
        if hidden or axis.get("type") in ("category", "date"):
            continue
        assert axis.get("exponentformat") == "power", (name, where, axis)  # never "100µ" or "−200B"
        if axis.get("type") == "log":
            assert axis.get("minorloglabels") in ("none", "complete"), (name, where)  # no bare "2" and "5"


def test_a_log_axis_labels_at_most_about_five_decades():
    for lo, hi in ((-5, 1), (-12, 3), (0, 2), (-30, 20)):
        axis = plots.log_axis(lo, hi)
        assert (hi - lo) / axis["dtick"] <= 6 and axis["minorloglabels"] == "none"
    assert plots.log_axis(0.1, 0.9)["dtick"] == "D1"  # within a decade: 1 to 9 times it, each labelled


def test_an_exploding_run_leaves_the_chart_and_the_others_stay_readable():
    rosen = get_landscape("rosenbrock")
    runs = _runs(rosen, ("sgd", dict(lr=10.0)), ("adam", dict(lr=0.05)))
    assert runs["sgd"].diverged_at is not None or np.nanmax(runs["sgd"].loss) > 1e100
    fig = progress_plots.progress_figure(rosen, runs)
    lo, hi = fig.layout.yaxis.range  # the loss axis, in decades
    adam = runs["adam"].loss - rosen.f_min
    assert hi <= math.log10(np.nanmax(adam)) + 3 and lo >= math.log10(np.nanmin(adam[adam > 0])) - 3
    notes = [a.text for a in fig.layout.annotations if "leaves the chart" in (a.text or "")]
    assert any(t.startswith("↑ leaves the chart at step ") for t in notes), notes


def test_the_saddle_presets_contrast_is_visible():
    cfg, problems = C.from_query(PRESETS["saddle"].query)
    assert not problems
    runs = C.run_all(cfg)
    fig = progress_plots.progress_figure(cfg.land, runs)
    lo, hi = fig.layout.yaxis.range
    assert hi - lo < 1e3, (lo, hi)  # was −2.2e11 … 18: every other run a flat line


@pytest.mark.parametrize("name", ["linear_regression", "logistic_regression", "tiny_network", "mlp_moons_plane"])
def test_each_landscape_names_its_own_axes_in_every_plot(name):
    land = get_landscape(name)
    a, b = land.axis_names
    assert (a, b) != ("x", "y")
    runs = _runs(land, ("adam", dict(lr=0.05)), ("sgd", {}))
    contour = plots.contour_figure(land, runs, land.start)
    assert (contour.layout.xaxis.title.text, contour.layout.yaxis.title.text) == (a, b)
    scene = plots.surface_figure(land, runs).layout.scene
    assert (scene.xaxis.title.text, scene.yaxis.title.text) == (a, b)
    multiples = plots.multiples_figure(land, runs, land.start).to_plotly_json()["layout"]
    titles = {v.get("title", {}).get("text") for k, v in multiples.items() if k.startswith(("xaxis", "yaxis"))}
    assert {a, b} <= titles and "x" not in titles
    hover = " ".join(t.hovertemplate or "" for t in contour.data)
    assert f"{a} = " in hover or f"{a}=" in hover or f"{a}: " in hover, hover


def test_one_panel_each_keeps_the_overlays_marks_and_its_aspect():
    rosen = get_landscape("rosenbrock")
    runs = _runs(rosen, *[(n, {}) for n in ("adam", "sgd", "momentum", "rmsprop", "lion", "nadam")])
    fig = plots.multiples_figure(rosen, runs, rosen.start)
    overlay = plots.contour_figure(rosen, runs, rosen.start)
    marks = {t.name for t in overlay.data if getattr(t, "mode", None) == "markers" and t.showlegend is not False}
    assert marks == {"global minimum", "start"}
    panels = [k for k in fig.to_plotly_json()["layout"] if k.startswith("xaxis")]
    assert len(panels) == 6
    for mark in marks:  # the global minimum's star and the start, in every panel
        axes_with = {t.xaxis for t in fig.data if t.name == mark}
        assert len(axes_with) == 6, (mark, axes_with)
        assert [t.name for t in fig.data if t.name == mark and t.showlegend] == [mark]  # in the legend once
    assert [a.text for a in fig.layout.annotations][:6] == [plots.title(n) for n in runs]  # titled, not ids

def test_panels_stay_near_square_whatever_the_number_of_optimizers():
    rosen = get_landscape("rosenbrock")
    names = ["adam", "sgd", "momentum", "rmsprop", "lion", "nadam"]
    width = 1100  # px: the page's main column on a 1600 px screen
    for n in range(1, 7):
        runs = _runs(rosen, *[(name, {}) for name in names[:n]])
        layout = plots.multiples_figure(rosen, runs, rosen.start).to_plotly_json()["layout"]
        m = layout["margin"]
        for k in [k for k in layout if k.startswith("xaxis")]:
            (x0, x1), (y0, y1) = layout[k]["domain"], layout["yaxis" + k[5:]]["domain"]
            w, h = (x1 - x0) * (width - m["l"] - m["r"]), (y1 - y0) * (layout["height"] - m["t"] - m["b"])
            assert (0.5 <= h / w <= 1.5 if n > 1 else h >= 300) and w >= 200, (n, k, w, h)  # not tall and narrow


def test_the_toolbar_is_for_viewers():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["toolbarMode"] == "viewer" and config["client"]["showErrorDetails"] == "none"


def test_asgds_averaged_iterate_is_drawn_as_its_own_path():
    rosen = get_landscape("rosenbrock")
    runs = _runs(rosen, ("asgd", dict(lr=2e-3, t0=20)), ("adam", dict(lr=0.05)))
    ax = runs["asgd"].state["ax"]
    assert np.abs(ax[-1] - runs["asgd"].path[-1]).max() > 1e-3  # the average is not the iterate
    for fig in (plots.contour_figure(rosen, runs, rosen.start), plots.multiples_figure(rosen, runs, rosen.start)):
        drawn = [t for t in fig.data if t.name and t.name.startswith("ASGD: the averaged iterate")]
        assert len(drawn) == 1 and drawn[0].line.dash == "dot" and drawn[0].legendgroup == "asgd"
        np.testing.assert_array_equal(np.column_stack([decode(drawn[0].x), decode(drawn[0].y)]), ax)
        assert not [t for t in fig.data if t.name and t.name.startswith("Adam:")]  # only declared points


def test_schedule_free_draws_z_and_x_beside_y_each_its_own_dash():
    # the path is y, where the gradient is taken; z (the plain steps) and x (the average reported) are points too
    rosen = get_landscape("rosenbrock")
    runs = _runs(rosen, ("schedule_free_adamw", dict(lr=0.02)))
    for fig in (plots.contour_figure(rosen, runs, rosen.start), plots.multiples_figure(rosen, runs, rosen.start)):
        drawn = {t.name: t for t in fig.data if t.name and t.name.startswith("Schedule-Free AdamW: ")}
        z, x = drawn["Schedule-Free AdamW: z, the plain steps"], drawn["Schedule-Free AdamW: x, the average reported"]
        assert (z.line.dash, x.line.dash) == ("dot", "dash") and z.legendgroup == x.legendgroup
        for trace, name in ((z, "z"), (x, "x")):
            np.testing.assert_array_equal(np.column_stack([decode(trace.x), decode(trace.y)]),
                                          runs["schedule_free_adamw"].state[name])


def test_the_surface_labels_few_heights():
    rosen = get_landscape("rosenbrock")
    scene = plots.surface_figure(rosen, _runs(rosen, ("adam", {}))).layout.scene
    assert scene.zaxis.nticks <= 4 and scene.camera.eye.z > 1  # seen from high up, the z axis is short on screen


def test_every_declared_optimizer_has_a_colour_of_its_own():
    # was: 13 colours for 20 optimizers, so SGD and Rprop, Adam and L-BFGS were drawn alike on one chart
    names = optlab.optimizer_names()
    assert len({plots.color(n) for n in names}) == len(names)
    assert len(names) <= len(plots.PALETTE), "a new optimizer needs a colour of its own in plots.PALETTE"

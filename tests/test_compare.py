"""optlab.compare: the page's runs, figures and table in a notebook, equal to what the page builds."""

import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from plotly.utils import PlotlyJSONEncoder

import optlab
from optlab import config as C
from optlab import plots, progress_plots
from optlab.comparison import Comparison, comparison_table
from optlab.export import trajectories_csv

ROOT = Path(__file__).resolve().parents[1]

# (arguments of compare, keywords): a spread of what the page's controls set
CASES = {
    "issue": (("rosenbrock", {"adam": {"lr": 0.05}, "sgd": {}}), dict(steps=500)),
    "controls": (("rotated_bowl", {"momentum": {"lr": 0.01, "nesterov": True}, "rmsprop": {"centered": True}}),
                 dict(kappa=100, angle=10, steps=200, start=(-3, 2), seed=7, noise=0.3, clip=2.0,
                      schedule="warmup_cosine", schedule_params={"warmup": 20})),
    "minibatches": (("linear_regression", ["sgd", "adam"]), dict(batch=5, seed=2, steps=150)),
    "diverges": (("rosenbrock", {"sgd": {"lr": 0.5}, "adam": {}}), dict(steps=60)),
}


def the_apps(cfg: C.RunConfig):
    """The page's config and runs for cfg: its link read back as the page reads it, and the page's cached runs."""
    from optlab import app_cache

    app_cfg, problems = C.from_query(C.group(C.to_query(cfg)))
    assert problems == []
    return app_cfg, app_cache.runs_for(app_cfg)


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    args, kwargs = CASES[request.param]
    cmp = optlab.compare(*args, **kwargs)
    app_cfg, app_runs = the_apps(cmp.config)
    return cmp, app_cfg, app_runs


def same_bits(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def test_the_runs_equal_the_apps_bit_for_bit(case):
    cmp, app_cfg, app_runs = case
    assert cmp.config == app_cfg  # RunConfig is what to run, nothing of the view
    assert list(cmp.runs) == list(app_runs) == list(app_cfg.optimizers)
    for name, run in cmp.runs.items():
        app = app_runs[name]
        for field in ("path", "loss", "lr", "grad", "grad_used"):
            assert same_bits(getattr(run, field), getattr(app, field)), (name, field)
        assert run.state.keys() == app.state.keys() and all(same_bits(run.state[k], app.state[k]) for k in run.state)
        assert (run.hparams, run.diverged_at, run.steps) == (app.hparams, app.diverged_at, app.steps)
        assert cmp[name] is run


def test_the_arguments_reach_the_runs():
    cmp = optlab.compare(*CASES["controls"][0], **CASES["controls"][1])
    run = cmp["momentum"]
    assert run.hparams["lr"] == 0.01 and run.hparams["nesterov"] is True and cmp["rmsprop"].hparams["centered"]
    assert run.path[0].tolist() == [-3.0, 2.0] and run.steps == 200 and run.noise == 0.3 and run.clip_norm == 2.0
    assert run.schedule == "warmup_cosine" and run.lr[0] < run.lr[19]  # warming up
    assert cmp.landscape.param_values == {"kappa": 100.0, "angle": 10.0}
    assert optlab.compare(*CASES["minibatches"][0], **CASES["minibatches"][1])["sgd"].batch_size == 5


def _written(fig) -> dict:
    """A figure as the page's chart element receives it (optlab.chart.parts, put back together): for a
    go.Figure what plotly writes, for the page's plots.FigureSpec what plots.to_json writes; no template."""
    from optlab.chart import parts

    p = parts(fig)
    layout = {}
    for name, value in p["layout"].items():
        layout.update(json.loads(value)) if name == "" else layout.__setitem__(name, json.loads(value))
    return {"data": [json.loads(t) for t in p["data"]], "layout": layout,
            "frames": json.loads(p["frames"]) if p["frames"] else None}


def test_the_figures_equal_the_apps(case):
    cmp, app_cfg, app_runs = case
    land, start = app_cfg.land, app_cfg.start_point
    assert tuple(cmp.start) == tuple(start)
    for mine, app in ((cmp.contour(), plots.contour_figure(land, app_runs, start)),
                      (cmp.multiples(), plots.multiples_figure(land, app_runs, start)),
                      (cmp.surface(), plots.surface_figure(land, app_runs)),
                      (cmp.progress(), progress_plots.progress_figure(land, app_runs))):
        assert mine.to_json() == app.to_json()
    # the page draws the specs these figures are built from (no plotly object model on its reruns): what its
    # chart element is sent is exactly what plotly writes for the notebook's figures
    for mine, spec in ((cmp.contour(), plots.contour_spec(land, app_runs, start)),
                       (cmp.surface(), plots.surface_spec(land, app_runs)),
                       (cmp.progress(), progress_plots.progress_spec(land, app_runs))):
        assert isinstance(spec, plots.FigureSpec)
        assert _written(spec) == _written(mine)
        assert spec.figure().to_json() == mine.to_json()


def test_figure_puts_the_contour_and_the_surface_side_by_side():
    cmp = optlab.compare(*CASES["issue"][0], **CASES["issue"][1])
    contour, surface, fig = cmp.contour(), cmp.surface(), cmp.figure()
    assert len(fig.data) == len(contour.data) + len(surface.data)
    left, right = fig.data[:len(contour.data)], fig.data[len(contour.data):]
    placed = ("xaxis", "yaxis", "scene", "colorbar", "legendgroup", "showlegend")  # what figure() changes

    def traces(f, subset=slice(None)):
        return [json.loads(json.dumps({k: v for k, v in t.items() if k not in placed}, cls=PlotlyJSONEncoder))
                for t in f.to_dict()["data"][subset]]

    assert traces(fig, slice(len(contour.data))) == traces(contour)
    assert traces(fig, slice(len(contour.data), None)) == traces(surface)
    assert {t.scene for t in right} == {"scene"} and {t.xaxis for t in left} == {"x"}
    assert left[0].colorbar.x == fig.layout.xaxis.domain[1] + 0.01  # beside the contour, not over the surface
    paths = [t for t in right if t.type == "scatter3d"]
    assert [t.legendgroup for t in paths] == ["adam", "sgd"] and not any(t.showlegend for t in paths)
    # the animation: the same frames, moving the same position markers
    frames = contour.to_dict()["frames"]  # the page's figure holds its animation as plain dicts (plots.AnimatedFigure)
    assert [f.to_plotly_json() for f in fig.frames] == frames
    assert fig.layout.shapes == contour.layout.shapes and len(fig.layout.sliders[0].steps) == len(frames)
    assert fig.layout.xaxis.domain[1] < fig.layout.scene.domain.x[0]  # side by side, not overlapping
    assert fig.layout.xaxis.range == contour.layout.xaxis.range
    assert fig.layout.scene.camera == surface.layout.scene.camera
    # the slider below the play and pause buttons, as on the page (not beside them): its rail starts at the left
    buttons, slider = fig.layout.updatemenus[0], fig.layout.sliders[0]
    assert (buttons.y, buttons.yanchor, slider.y, slider.yanchor) == (0, "top", 0, "top")
    assert slider.x == 0 and not slider.pad.l and slider.pad.t >= buttons.pad.t + 33  # buttons are 33 px tall


def test_the_table_is_the_apps_table(case):
    from optlab import ui

    cmp, _, app_runs = case
    assert ui.comparison_table is comparison_table  # one function, shared by the page and the notebook
    assert cmp.table().equals(comparison_table(app_runs))
    titles = [optlab.get_optimizer(n).title for n in cmp.runs]
    assert cmp.table().index.tolist() == titles


def test_the_table_of_the_issues_example():
    table = optlab.compare(*CASES["issue"][0], **CASES["issue"][1]).table()
    assert table.index.tolist() == ["Adam", "SGD"]
    assert table.loc["Adam", "distance to minimum"] == "0.6511" and table.loc["SGD", "diverged at step"] == "—"
    diverged = optlab.compare(*CASES["diverges"][0], **CASES["diverges"][1])
    assert diverged.table().loc["SGD", "diverged at step"] == str(diverged["sgd"].diverged_at)


def test_to_frame_is_the_csv_export(case):
    cmp, _, app_runs = case
    frame = cmp.to_frame()
    assert frame.to_csv(index=False) == trajectories_csv(app_runs)
    assert len(frame) == sum(r.steps + 1 for r in cmp.runs.values())


def test_the_link_round_trips(case):
    cmp, app_cfg, _ = case
    link = cmp.link()
    assert link.startswith("http://localhost:8501/?landscape=")
    cfg, problems = C.from_query(parse_qs(urlsplit(link).query, keep_blank_values=True))
    assert problems == [] and cfg == cmp.config
    assert cmp.link("https://lab.example.org/") == C.to_url(cmp.config, "https://lab.example.org")


def test_the_pages_json_export_read_back_is_the_same_comparison(case):
    cmp, _, _ = case
    again = Comparison(optlab.load_config(C.to_json(cmp.config)))
    assert again.config == cmp.config and again.table().equals(cmp.table())
    assert all(same_bits(again[n].path, cmp[n].path) for n in cmp.runs)


def test_a_formula_landscape_is_the_pages_custom_landscape():
    mine = optlab.formula_landscape("x^2 + 10*y^2", xmin=-2, ymax=4)
    cmp = optlab.compare(mine, {"adam": {"lr": 0.1}}, start=(1.5, 1.0), steps=80)
    assert cmp.config.landscape == "custom" and cmp.config.formula == "x^2 + 10*y^2"
    assert cmp.config.landscape_params == {"xmin": -2.0, "ymax": 4.0}
    cfg, problems = C.from_query(parse_qs(urlsplit(cmp.link()).query))
    assert problems == [] and cfg == cmp.config
    app_cfg, app_runs = the_apps(cmp.config)
    assert same_bits(cmp["adam"].path, app_runs["adam"].path)
    assert cmp.contour().to_json() == plots.contour_figure(app_cfg.land, app_runs, app_cfg.start_point).to_json()
    # its start defaults to the landscape's; a start equal to it is held as the page holds it (None)
    assert optlab.compare(mine, "sgd", start=mine.start).config.start is None


def test_a_landscape_object_and_its_parameters():
    bowl = optlab.get_landscape("ill_conditioned_bowl", kappa=50)
    by_object = optlab.compare(bowl, "sgd", steps=20)
    assert by_object.config == optlab.compare("ill_conditioned_bowl", "sgd", kappa=50, steps=20).config
    assert by_object.config.landscape_params == {"kappa": 50.0}
    assert optlab.compare(bowl, "sgd", kappa=25, steps=20).config.landscape_params == {}  # the default


def test_defaults_are_the_pages():
    cmp = optlab.compare("rosenbrock")
    assert cmp.config == C.RunConfig() and cmp.link() == "http://localhost:8501/?landscape=rosenbrock&opt=adam&opt=sgd"
    assert list(cmp.runs) == ["adam", "sgd"] and cmp["adam"].steps == C.STEPS.default
    # hyperparameters equal to the defaults are left out, as the page leaves them out of its link
    assert optlab.compare("rosenbrock", {"adam": {"lr": 0.001, "beta1": 0.9}}).config.hparams == {}


def test_repr_html_shows_the_table_and_the_link():
    cmp = optlab.compare(*CASES["issue"][0], **CASES["issue"][1])
    shown = cmp._repr_html_()
    assert cmp.table().to_html() in shown
    assert 'href="http://localhost:8501/?landscape=rosenbrock&amp;opt=adam&amp;opt=sgd&amp;adam.lr=0.05' in shown
    assert "<b>Rosenbrock</b> · 500 steps" in shown
    assert repr(cmp) == "Comparison(Landscape('rosenbrock'), adam, sgd; 500 steps from (-1.5, 2))"


@pytest.mark.parametrize("args, kwargs, message", [
    (("rosenbrok", "adam"), {}, "unknown landscape 'rosenbrok'; allowed: rosenbrock, beale"),
    (("custom", "adam"), {}, "optlab.formula_landscape"),
    ((3, "adam"), {}, "unknown landscape 3"),
    (("rosenbrock", "adamm"), {}, "unknown optimizer 'adamm'; allowed: sgd, momentum"),
    (("rosenbrock", ["adam", "adam"]), {}, "adam is listed twice"),
    (("rosenbrock", []), {}, "no optimizer to compare"),
    (("rosenbrock", 5), {}, "allowed: a name, a list of names, or a dict"),
    (("rosenbrock", {"adam": 0.05}), {}, "the hyperparameters of adam are 0.05; allowed: a dict"),
    (("rosenbrock", {"adam": {"betas": (0.9, 0.99)}}), {}, "pass betas as beta1 and beta2"),
    (("rosenbrock", {"adam": {"learning_rate": 0.1}}), {}, "unknown hyperparameter 'learning_rate' for adam"),
    (("rosenbrock", {"adam": {"lr": -1}}), {}, "adam hyperparameter 'lr' = -1 is out of range"),
    (("rosenbrock", {"adam": {"lr": "fast"}}), {}, "'lr' = 'fast' is not a number"),
    (("rosenbrock", {"adam": {"lr": [0.1, 0.2]}}), {}, "one value per optimizer here"),
    (("rosenbrock", {"sgd": {"nesterov": True}}), {}, "sgd: nesterov requires momentum > 0"),
    (("rosenbrock", "adam"), dict(steps=6000), "'steps' = 6000 is out of range; allowed: int in [1, 5000] "
                                               "(the app's cap; optlab.simulate runs up to 20,000)"),
    (("rosenbrock", "adam"), dict(steps=0), "'steps' = 0 is out of range"),
    (("rosenbrock", "adam"), dict(steps=2.5), "'steps' = 2.5 is out of range"),
    (("rosenbrock", "adam"), dict(steps=True), "'steps' = True is not a number"),
    (("rosenbrock", "adam"), dict(start=(1, 2, 3)), "start = (1, 2, 3) is not a point"),
    (("rosenbrock", "adam"), dict(start=(np.nan, 0)), "'x0' = nan is out of range"),
    (("rosenbrock", "adam"), dict(seed=-1), "'seed' = -1 is out of range"),
    (("rosenbrock", "adam"), dict(noise=-0.1), "'noise' = -0.1 is out of range"),
    (("rosenbrock", "adam"), dict(clip=-1), "'clip' = -1 is out of range"),
    (("rosenbrock", "adam"), dict(batch=5), "batch = 5 applies only to landscapes built from data; Rosenbrock"),
    (("linear_regression", "adam"), dict(batch=500), "batch = 500 is more than the 100 examples"),
    (("rosenbrock", "adam"), dict(schedule="cosinus"), "unknown schedule 'cosinus'; allowed: constant"),
    (("rosenbrock", "adam"), dict(schedule="cosine", schedule_params={"warmup": 5}),
     "unknown parameter 'warmup' for schedule 'cosine'"),
    (("rosenbrock", "adam"), dict(kappa=10), "landscape 'rosenbrock' has no parameters"),
    (("rotated_bowl", "adam"), dict(kapa=10), "unknown parameter 'kapa' for landscape 'rotated_bowl'"),
    (("rotated_bowl", "adam"), dict(kappa=0), "landscape rotated_bowl hyperparameter 'kappa' = 0 is out of range"),
])
def test_what_the_page_would_not_run_raises_a_clear_value_error(args, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        optlab.compare(*args, **kwargs)


def test_a_landscape_the_page_cannot_show_is_refused():
    from dataclasses import replace

    mine = replace(optlab.get_landscape("bowl"), name="my_bowl")
    with pytest.raises(ValueError, match="the app cannot show the landscape 'my_bowl': it is not registered"):
        optlab.compare(mine, "adam")
    with pytest.raises(optlab.FormulaError):  # the formula's own error, a ValueError
        optlab.compare(optlab.formula_landscape("x^2", xmin=3, xmax=-3), "adam")


def test_optlab_compare_is_the_function_after_the_module_is_imported():
    import optlab.comparison  # noqa: F401 - the import that would shadow a submodule named "compare"

    assert optlab.compare is optlab.comparison.compare and optlab.Comparison is Comparison
    assert "compare" in optlab.__all__ and "Comparison" in optlab.__all__


def test_compare_imports_plotly_only_for_figures_and_never_streamlit():
    script = (
        "import sys, optlab\n"
        "cmp = optlab.compare('rosenbrock', ['adam', 'sgd'], steps=20)\n"
        "cmp.table(); cmp.to_frame(); cmp.link(); cmp._repr_html_()\n"
        "print(sorted(m for m in ('plotly', 'streamlit') if m in sys.modules))\n"
        "cmp.figure()\n"
        "print(sorted(m for m in ('plotly', 'streamlit') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["[]", "['plotly']"]


def test_the_readme_notebook_example_runs():
    """The README's "In a notebook" example, executed (tests/test_docs.py runs the Python API's first block)."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("### In a notebook")[1].split("```python\n")[1].split("```")[0]
    namespace: dict = {}
    exec(compile(block, "README.md (In a notebook)", "exec"), namespace)  # noqa: S102 - our own README
    cmp = namespace["cmp"]
    assert isinstance(cmp, Comparison) and cmp["adam"].path.shape == (501, 2)
    shown = [line.split("# ")[-1].strip("'") for line in block.splitlines() if line.startswith("cmp.link()")]
    assert shown == [cmp.link()]  # the link the README prints is the one it makes
    noisy = namespace["noisy"]
    assert noisy.config.landscape == "custom" and noisy.config.noise == 0.5
    assert noisy["adam"].path[0].tolist() == [-1.5, 2.0]

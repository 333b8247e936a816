"""The networks page's figures (optlab.training_plots): the specs the page draws are what plotly writes.

The page draws plain FigureSpecs (dicts and NumPy arrays, optlab.plots.to_json); plotly's object model validates
and rewrites every value it is given (a colour scale's name into its colours, an axis title's string into
{"text": ...}), so a spec that plotly would write differently fails here. Panels' axes, domains and titles are
checked against plotly's make_subplots for the same arrangement.
"""

import json

import numpy as np
import pytest
from plotly.subplots import make_subplots

import optlab
from optlab import full_training as T
from optlab import training_plots as P
from optlab.chart import parts
from optlab.networks.landscape import network_of
from optlab.plots import FigureSpec
from optlab.state import RunConfig


def _written(fig) -> dict:
    """A figure as the page's chart element receives it (optlab.chart.parts, put back together)."""
    p = parts(fig)
    layout = {}
    for name, value in p["layout"].items():
        layout.update(json.loads(value)) if name == "" else layout.__setitem__(name, json.loads(value))
    return {"data": [json.loads(t) for t in p["data"]], "layout": layout}


@pytest.fixture(scope="module")
def trainings():
    iris = network_of(optlab.get_landscape("mlp_iris_plane"))
    hp = {"adam": {"lr": 0.02}, "sgd": {"lr": 0.2}}
    two_layers = network_of(RunConfig(landscape="mlp_moons_plane", landscape_params={"layers": 2}).land)
    return {
        "bands": (T.train_all(iris, hp, steps=30, batch_size=16, grid=6),
                  T.seed_bands(iris, hp, steps=30, batch_size=16, seeds=2)),
        "ends, Muon": (T.train_all(iris, {**hp, "muon": {"lr": 0.02}}, steps=20, grid=5, plane="ends"), None),
        "two layers, Adam's family": (T.train_all(two_layers, {n: {} for n in ("adam", "amsgrad", "momentum")},
                                                  steps=15, grid=4), None),
        "diverged": (T.train_all(iris, {"sgd": {"lr": 1e6}, "adam": {}}, steps=12, grid=4), None),
    }


SPECS = {"curves": lambda ft, bands: P.curves_spec(ft, bands), "plane": lambda ft, _: P.plane_spec(ft),
         "surface": lambda ft, _: P.surface_spec(ft), "honesty": lambda ft, _: P.honesty_spec(ft),
         "layers": lambda ft, _: P.layers_spec(ft)}


@pytest.mark.parametrize("which", list(SPECS))
def test_each_spec_is_what_plotly_writes_for_it(trainings, which):
    for ft, bands in trainings.values():
        spec = SPECS[which](ft, bands)
        assert isinstance(spec, FigureSpec)
        fig = spec.figure()  # plotly's object model: every property validated (and rewritten where plotly would)
        assert _written(spec) == _written(fig)
        assert len(fig.data) == len(spec["data"])


def test_the_panels_are_make_subplots_own(trainings):
    ft, _ = trainings["two layers, Adam's family"]
    spec = P.layers_spec(ft)
    titles = ([f"{n}: ‖g‖" for n in ft.layers] + [f"{n}: ‖Δθ‖/‖θ‖" for n in ft.layers]
              + [f"{n}: Adam's step, median |lr·m̂/(√v̂+ε)|" for n in ft.layers])
    ref = make_subplots(rows=3, cols=3, shared_xaxes=True, vertical_spacing=0.1, horizontal_spacing=0.08,
                        subplot_titles=titles).to_plotly_json()["layout"]
    assert spec["layout"]["annotations"] == ref["annotations"]
    for name, axis in ref.items():
        if "axis" in name:
            assert {k: spec["layout"][name][k] for k in axis} == axis, name
    assert spec["layout"]["xaxis7"]["title"]["text"] == "step" and "title" not in spec["layout"]["xaxis"]
    assert all(spec["layout"][a]["type"] == "log" for a in ref if a.startswith("yaxis"))
    # each panel's traces on its own axes: layer j's gradient norms on row 1, column j + 1
    norms = [t for t in spec["data"] if t["hovertemplate"].startswith("Adam, step %{x}: gradient norm")]
    assert [(t["xaxis"], t["yaxis"]) for t in norms] == [("x", "y"), ("x2", "y2"), ("x3", "y3")]
    np.testing.assert_array_equal(norms[1]["y"], ft.runs["adam"].grad_norm[:, 1])


def test_the_figures_of_the_python_api_are_the_specs(trainings):
    ft, bands = trainings["bands"]
    for fig, spec in ((P.curves_figure(ft, bands), P.curves_spec(ft, bands)), (P.plane_figure(ft), P.plane_spec(ft)),
                      (P.surface_figure(ft), P.surface_spec(ft)), (P.honesty_figure(ft), P.honesty_spec(ft)),
                      (P.layers_figure(ft), P.layers_spec(ft))):
        assert fig.to_json() == spec.figure().to_json()

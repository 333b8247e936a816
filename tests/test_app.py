"""The dashboard driven by Streamlit's AppTest: default page, presets, landscapes, links."""

import base64
import re
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import optlab
from optlab import config as C
from optlab.presets import PRESETS

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(autouse=True)
def _fresh_cache():
    st.cache_data.clear()
    st.cache_resource.clear()
    yield


def open_app(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def decode(value):
    """A Plotly array from the chart's JSON: a list, or NumPy's {dtype, bdata, shape}."""
    if isinstance(value, dict) and "bdata" in value:
        arr = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        return arr.reshape(value["shape"]) if "shape" in value and isinstance(value["shape"], list) else arr
    return np.asarray(value, dtype=float)


def charts(at: AppTest) -> list:
    """The page's charts: optlab.chart's elements (a custom component; AppTest knows it as bidi_component)."""
    from optlab import chart

    return [e for e in at.get("bidi_component") if e.proto.component_name == chart.NAME]


def figure(at: AppTest, index: int = 0) -> dict:
    """The whole figure of the index-th chart (parts the session was sent before resolved on the server)."""
    from optlab import chart

    return chart.spec(charts(at)[index].proto.bytes)


def path_traces(at: AppTest) -> dict[str, np.ndarray]:
    """Trajectories drawn on the main chart, by optimizer id (the legend group; the name is its title)."""
    out = {}
    for trace in figure(at)["data"]:
        if trace.get("mode") == "lines+markers":
            out[trace.get("legendgroup") or trace["name"]] = np.column_stack([decode(trace["x"]), decode(trace["y"])])
    return out


def share_url(at: AppTest) -> str:
    return at.code[0].value


def test_default_page_is_adam_vs_sgd_on_rosenbrock():
    at = open_app()
    assert len(charts(at)) == 3
    assert not at.warning and not at.error
    assert dict(at.query_params) == {"landscape": "rosenbrock", "opt": ["adam", "sgd"], "adam.lr": "0.05",
                                     "steps": "500"}
    assert share_url(at).endswith("/?landscape=rosenbrock&opt=adam&opt=sgd&adam.lr=0.05&steps=500")
    table = at.table[0].value
    assert table.index.tolist() == ["Adam", "SGD"]
    assert table.loc["Adam", "distance to minimum"] == "0.6511"
    assert "Adam vs SGD" in at.info[0].value
    assert len(at.get("download_button")) == 3


def test_link_seeds_exactly_the_runs_simulate_gives():
    query = {"landscape": "himmelblau", "opt": ["rmsprop", "nesterov"], "rmsprop.lr": "0.03",
             "rmsprop.centered": "true", "nesterov.lr": "0.002", "steps": "120", "x0": "-0.3", "y0": "0.7",
             "noise": "0.5", "seed": "3", "schedule": "cosine", "schedule.min_factor": "0.1"}
    at = open_app(query)
    assert not at.warning
    drawn = path_traces(at)
    land = optlab.get_landscape("himmelblau")
    common = dict(start=(-0.3, 0.7), steps=120, noise=0.5, seed=3, schedule="cosine",
                  schedule_params={"min_factor": 0.1})
    expected = {
        "rmsprop": optlab.simulate(land, "rmsprop", lr=0.03, centered=True, **common).path,
        "nesterov": optlab.simulate(land, "nesterov", lr=0.002, **common).path,
    }
    assert set(drawn) == set(expected)
    for name in expected:
        np.testing.assert_array_equal(drawn[name], expected[name])
    kept = share_url(at)
    for key, value in query.items():
        for v in value if isinstance(value, list) else [value]:
            assert f"{key}={v}" in kept


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_button(name):
    at = open_app()
    at.button(key=f"preset:{name}").click().run()
    assert not at.exception
    preset = PRESETS[name]
    assert preset.title in at.info[0].value
    drawn = path_traces(at)
    runs = C.run_all(preset.config)
    assert set(drawn) == set(runs)
    for opt, run in runs.items():
        np.testing.assert_array_equal(drawn[opt], run.path)
    if name == "divergence":
        assert "Diverged" in at.error[0].value and "SGD (step" in at.error[0].value
        table = at.table[0].value
        assert table.loc["SGD", "diverged at step"] == str(runs["sgd"].diverged_at)
        assert table.loc["SGD", "final loss"] == "—" and table.loc["Adam", "diverged at step"] == "—"


@pytest.mark.parametrize("name", optlab.landscape_names())
def test_every_landscape_renders(name):
    at = open_app({"landscape": name, "opt": ["sgd", "momentum", "adam"], "steps": "80"})
    assert len(charts(at)) == 3
    assert optlab.get_landscape(name).latex in at.latex[0].value
    assert set(path_traces(at)) == {"sgd", "momentum", "adam"}


TAMPERED = [
    ({"landscape": "rosenbrock", "opt": ["adam", "sgd"], "adam.lr": "banana", "steps": "40"},
     ["adam.lr"], {"steps=40"}),
    ({"landscape": "<script>", "opt": ["sgd"], "sgd.lr": "0.01"}, ["landscape"], {"sgd.lr=0.01"}),
    ({"opt": ["adam", "nope", "adam"], "adam.beta1": "1.5", "adam.beta2": "0.95"}, ["opt", "adam.beta1"],
     {"adam.beta2=0.95"}),
    ({"opt": ["sgd"], "steps": "-3", "x0": "1e999", "seed": "x", "noise": "-1"}, ["steps", "x0", "seed", "noise"],
     {"opt=sgd"}),
    ({"opt": ["adam"], "schedule": "cyclic", "view": "3d", "k": "0", "inspect": "sgd", "__proto__": "1"},
     ["schedule", "view", "inspect", "k", "__proto__"], {"opt=adam"}),
    ({"landscape": "rotated_bowl", "rotated_bowl.kappa": "0.1", "rotated_bowl.angle": "45", "opt": ["sgd"],
      "sgd.nesterov": "maybe"}, ["rotated_bowl.kappa", "sgd.nesterov"], {"rotated_bowl.angle=45"}),
]


@pytest.mark.parametrize("query, ignored, kept", TAMPERED)
def test_tampered_links_warn_once_and_keep_the_valid_parts(query, ignored, kept):
    at = open_app(query)
    assert len(at.warning) == 1
    message = at.warning[0].value
    for key in ignored:
        assert f"`{key}" in message, (key, message)
    url = share_url(at)
    for part in kept:
        assert part in url


def test_absurd_but_valid_settings_stay_responsive():
    at = open_app({"opt": ["sgd", "adam"], "sgd.lr": "1000", "steps": str(C.APP_MAX_STEPS)})
    assert "Diverged" in at.error[0].value
    assert len(charts(at)) == 3
    main = figure(at)
    assert main["layout"]["xaxis"]["range"] == [-2.0, 2.0]  # the plot keeps the landscape's range
    assert len(main["frames"]) <= 101


@pytest.mark.parametrize("view", ["overlay", "multiples"])
def test_animation_frames_move_only_the_position_markers(view):
    # a frame that updates any trace makes plotly.js remove the contour's layer while it plays
    # (tests/test_browser.py counts the contour's paths during playback)
    at = open_app({"opt": ["adam", "sgd"], "steps": "200", **({"view": view} if view == "multiples" else {})})
    main = figure(at)
    assert all(set(frame) == {"name", "layout"} for frame in main["frames"])  # no "data", no "traces"
    runs = C.run_all(C.from_query({"opt": ["adam", "sgd"], "steps": "200"})[0])
    for frame in main["frames"]:
        k = int(frame["name"])
        anchors = [(s["xanchor"], s["yanchor"]) for s in frame["layout"]["shapes"]]
        assert anchors == [tuple(runs[n].path[k]) for n in ("adam", "sgd")]  # each optimizer's θ_k, in order
    shapes = main["layout"]["shapes"]
    assert [s["legendgroup"] for s in shapes] == ["adam", "sgd"]  # hidden with its optimizer in the legend
    if view == "multiples":
        assert [(s["xref"], s["yref"]) for s in shapes] == [("x", "y"), ("x2", "y2")]  # each on its own panel


def test_changing_a_hyperparameter_reruns_and_updates_the_link():
    at = open_app()
    at.select_slider(key="adam.lr").set_value(0.02).run()
    assert not at.exception
    assert "adam.lr=0.02" in share_url(at)
    np.testing.assert_array_equal(path_traces(at)["adam"], optlab.simulate("rosenbrock", "adam", lr=0.02,
                                                                          steps=500).path)


def test_small_multiples_view_and_inspector_travel_in_the_link():
    at = open_app({"opt": ["adam", "sgd", "lion"], "lion.lr": "0.01", "view": "multiples", "inspect": "lion",
                   "k": "7"})
    main = figure(at)
    assert sum(1 for t in main["data"] if t.get("mode") == "lines+markers") == 3
    assert at.selectbox(key="inspect").value == "lion" and at.slider(key="k").value == 7
    assert "view=multiples" in share_url(at) and "inspect=lion&k=7" in share_url(at)
    assert any("sign" in latex.value for latex in at.latex)


def test_reset_returns_to_the_default_page():
    at = open_app({"landscape": "saddle", "opt": ["sgd"]})
    reset = next(b for b in at.button if "Reset" in b.label)
    reset.click().run()
    assert dict(at.query_params)["landscape"] == "rosenbrock"


def test_no_optimizer_selected_asks_for_one():
    at = open_app()
    at.multiselect(key="opt").set_value([]).run()
    assert not at.exception
    assert "Pick at least one optimizer" in at.info[-1].value


def test_a_combination_torch_rejects_is_explained_not_raised():
    at = open_app({"opt": ["sgd", "adam"], "sgd.nesterov": "true"})
    assert "sgd.*" in at.warning[0].value and "nesterov requires momentum" in at.warning[0].value
    at = open_app({"opt": ["sgd", "adam"]})
    at.checkbox(key="sgd.nesterov").check().run()
    assert not at.exception
    assert "SGD is not run: nesterov requires momentum > 0" in at.error[0].value
    assert set(path_traces(at)) == {"adam"}
    assert "sgd.nesterov=true" in share_url(at)  # what the user set is kept


def test_a_typed_formula_runs_and_travels_in_the_link():
    at = open_app({"landscape": "custom", "formula": "x^2 + 3*y^2", "opt": ["sgd", "adam"], "steps": "60"})
    assert not at.warning and not at.error
    assert at.text_input(key="formula").value == "x^2 + 3*y^2"
    land = optlab.formula_landscape("x^2 + 3*y^2")
    drawn = path_traces(at)
    for name in ("sgd", "adam"):
        np.testing.assert_array_equal(drawn[name], optlab.simulate(land, name, steps=60).path)
    assert "3 y^{2}" in at.latex[0].value and any("estimate" in c.value for c in at.caption)
    at.text_input(key="formula").set_value("sin(x) + y^2").run()
    assert not at.exception and "formula=sin%28x%29+%2B+y%5E2" in share_url(at)


def test_a_rejected_formula_is_explained_and_kept_in_its_box():
    at = open_app({"landscape": "custom", "formula": "x^2", "opt": ["adam"]})
    at.text_input(key="formula").set_value("x^2 + os.system(1)").run()
    assert not at.exception
    assert any("unknown name 'os' at column 7" in e.value for e in at.error)
    assert at.text_input(key="formula").value == "x^2 + os.system(1)"
    assert at.query_params["formula"] == "x^2", "the link keeps the last valid view"
    at.text_input(key="formula").set_value("x^2 + y^4").run()
    assert not at.error and len(charts(at)) == 3


def as_shown(markdown: str) -> str:
    """The text a reader sees of Markdown whose special characters are escaped (optlab.config.plain)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def test_a_tampered_formula_link_warns_and_keeps_the_rest():
    at = open_app({"landscape": "custom", "formula": "__import__('os').system('ls')", "steps": "42"})
    assert "`formula`" in at.warning[0].value and "unknown name '__import__'" in as_shown(at.warning[0].value)
    assert "\\_\\_import\\_\\_" in at.warning[0].value, "escaped: Markdown would show a bold 'import'"
    assert "steps=42" in share_url(at)
    assert len(charts(at)) == 3


def test_minibatch_size_on_a_model_landscape():
    at = open_app({"landscape": "linear_regression", "opt": ["sgd"], "sgd.lr": "0.1", "steps": "50"})
    at.number_input(key="batch").set_value(4).run()
    assert not at.exception and "batch=4" in share_url(at)
    np.testing.assert_array_equal(path_traces(at)["sgd"], optlab.simulate("linear_regression", "sgd", lr=0.1,
                                                                          steps=50, batch_size=4).path)


@pytest.mark.parametrize("formula", ["1", "log(x) + y^2", "1/x + y^2", "-x^2 - y^2", "x^y", "1e300*x^2"])
def test_odd_formulas_render_with_nan_regions_not_tracebacks(formula):
    at = open_app({"landscape": "custom", "formula": formula, "opt": ["sgd", "adam"], "steps": "50"})
    assert not at.warning and len(charts(at)) == 3
    assert set(path_traces(at)) == {"sgd", "adam"}


def test_a_new_landscape_starts_from_its_own_start_and_a_new_domain_keeps_the_start_inside():
    at = open_app()
    at.selectbox(key="landscape").set_value("booth").run()
    assert not at.exception
    booth = optlab.get_landscape("booth")
    assert (at.number_input(key="x0").value, at.number_input(key="y0").value) == tuple(booth.start)
    assert "x0=" not in share_url(at)  # the landscape's own start is the default: not in the link
    at = open_app({"landscape": "custom", "formula": "log(x - 10) + y^2", "x0": "-1", "y0": "1"})
    assert (at.number_input(key="x0").value, at.number_input(key="y0").value) == (-1.0, 1.0)  # the link's
    at.number_input(key="custom.xmin").set_value(11.0).run()
    at.number_input(key="custom.xmax").set_value(20.0).run()
    x0 = at.number_input(key="x0").value
    assert 11 <= x0 <= 20 and not at.exception and not at.error

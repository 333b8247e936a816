"""Links: random valid states round-trip through the link and the JSON export (hypothesis), and links
written in the URL schema of before the pages (one page, explore views below the comparison) open the
same view."""

from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_app import _fresh_cache, charts, figure, open_app, path_traces, share_url  # noqa: F401  (fixture)

import optlab
from landscapes import landscape_names
from optlab import config as C
from optlab import sweep_axes, sweeps
from optlab.optimizers import get_optimizer, optimizer_names
from optlab.schedules import get_schedule, schedule_names
from optlab.state import Explore, PageState, RunConfig, ViewState

# --- property: state -> link -> state, state -> JSON -> state --------------------------------------------
TORCH_CLASSES = ["torch.optim.Adam", "torch.optim.SGD", "torch.optim.LBFGS", "torch.optim.Adagrad"]
LANDSCAPES = [n for n in landscape_names() if not optlab.get_landscape(n).data_size] + ["logistic_regression"]


def _value(draw, p):
    """A valid value of a Param: on its slider's grid or range, as a link or a widget would carry it."""
    if p.kind is bool:
        return draw(st.booleans())
    if p.kind is str:  # a choice
        return draw(st.sampled_from(p.choices))
    if p.kind is int:
        lo, hi = int(max(p.low, 0 if p.low == -float("inf") else p.low)), int(min(p.high, 10_000))
        return draw(st.integers(lo + (1 if p.low_open else 0), hi))
    lo = p.ui_low if p.ui_low is not None else max(p.low, -10.0)
    hi = p.ui_high if p.ui_high is not None else min(p.high, 10.0)
    value = draw(st.floats(lo, hi, allow_nan=False, allow_infinity=False))
    return value if p.accepts(value) else p.default


@st.composite
def states(draw) -> PageState:
    landscape = draw(st.sampled_from(LANDSCAPES))
    land = optlab.get_landscape(landscape)
    params = {p.name: _value(draw, p) for p in land.params if draw(st.booleans())}
    try:
        land = land.with_params(**params)
    except ValueError:
        params = {}
    optimizers = tuple(draw(st.lists(st.sampled_from(optimizer_names()), min_size=1, max_size=3, unique=True)))
    hparams = {}
    for name in optimizers:
        opt = get_optimizer(name)
        values = {p.name: _value(draw, p) for p in opt.hparams if draw(st.booleans())}
        values = {k: v for k, v in values.items() if v != opt.defaults[k]}
        if values and not (opt.check and opt.check({**opt.defaults, **values})):
            hparams[name] = values
    schedule = draw(st.sampled_from(schedule_names()))
    sched = {p.name: _value(draw, p) for p in get_schedule(schedule).params if draw(st.booleans())}
    sched = {k: v for k, v in sched.items()
             if v != next(p.default for p in get_schedule(schedule).params if p.name == k)}
    steps = draw(st.integers(1, C.APP_MAX_STEPS))
    start = draw(st.none() | st.tuples(st.floats(-5, 5), st.floats(-5, 5)))
    if start is not None and tuple(start) == tuple(land.start):
        start = None
    cfg = RunConfig(landscape=landscape, landscape_params={k: v for k, v in params.items()
                                                          if v != next(p.default for p in land.params
                                                                       if p.name == k)},
                    optimizers=optimizers, hparams=hparams, steps=steps, start=start,
                    seed=draw(st.integers(0, 2**32 - 1)), schedule=schedule, schedule_params=sched,
                    noise=draw(st.sampled_from([0.0, 0.3, 1.5])), clip=draw(st.sampled_from([0.0, 0.5, 10.0])),
                    batch=draw(st.integers(0, land.data_size - 1)) if land.data_size else 0)
    if draw(st.booleans()):  # a torch class beside them, with keyword arguments typed as literals
        kwargs = draw(st.dictionaries(st.sampled_from(["lr", "momentum", "betas", "eps", "foreach", "maximize"]),
                                      st.floats(0, 1) | st.booleans() | st.tuples(st.floats(0, 1), st.floats(0, 1))
                                      | st.none(), max_size=3))
        cfg = replace(cfg, torch_class=draw(st.sampled_from(TORCH_CLASSES)),
                      torch_args=", ".join(f"{k}={v!r}" for k, v in kwargs.items()))
    opt = draw(st.sampled_from(optimizers))
    names = sweep_axes.sweepable(opt)
    x = draw(st.sampled_from(names))
    y = draw(st.sampled_from([n for n in names if n != x]))
    explore = Explore.normalized({"sweep.opt": opt, "sweep.x": x, "sweep.y": y,
                                  "sweep.n": draw(st.integers(2, sweeps.MAX_SWEEP_CELLS)),
                                  "sweep.metric": draw(st.sampled_from(C.SWEEP_METRICS)),
                                  "basins.opt": draw(st.lists(st.sampled_from(optimizer_names()), min_size=1,
                                                              max_size=2, unique=True)),
                                  "basins.n": draw(st.integers(2, sweeps.MAX_BASIN_CELLS)),
                                  "seeds.n": draw(st.integers(2, sweeps.MAX_SEEDS))},
                                 optimizers, view=draw(st.none() | st.sampled_from(C.EXPLORE_VIEWS)))
    inspect = draw(st.sampled_from(optimizers + ((cfg.torch_class,) if cfg.torch_class else ())))
    view = ViewState(view=draw(st.sampled_from(C.VIEWS)), inspect=None if inspect == optimizers[0] else inspect,
                     k=draw(st.none() | st.integers(2, steps)) if steps > 1 else None, explore=explore)
    return PageState(cfg, view)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(states())
def test_a_random_valid_state_round_trips_through_the_link_and_the_json(state):
    url = C.to_url(state, "http://localhost:8501")
    back, problems = C.read_link(parse_qs(urlsplit(url).query, keep_blank_values=True))
    assert problems == [] and back == state
    assert C.to_url(back, "http://localhost:8501") == url
    loaded = C.load_state(C.to_json(state))
    assert loaded == state and C.to_json(loaded) == C.to_json(state)


def test_the_records_are_cache_keys():
    state, _ = C.read_link({"opt": ["adam", "sgd"], "adam.lr": "0.05", "rotated_bowl.kappa": "5"})
    again, _ = C.read_link({"opt": ["adam", "sgd"], "adam.lr": "0.05", "rotated_bowl.kappa": "5"})
    assert hash(state.runs) == hash(again.runs) and {state.runs: 1}[again.runs] == 1
    assert hash(state) == hash(again)
    with pytest.raises(TypeError):
        state.runs.hparams["adam"]["lr"] = 1.0  # frozen: a key cannot change under the cache


# --- links written in today's format keep opening the same view ---------------------------------------
def test_an_explore_link_of_the_one_page_schema_opens_the_explore_page_on_that_view():
    at = open_app({"landscape": "himmelblau", "opt": ["adam", "sgd"], "explore": "basins", "basins.n": "12",
                   "steps": "80"})
    assert not at.warning and not at.error
    assert at.radio(key="explore").value == "basins"
    assert any(t.get("type") == "heatmap" for i in range(len(charts(at)))
               for t in figure(at, i)["data"])
    url = share_url(at)
    assert "explore=basins" in url and "basins.n=12" in url and "landscape=himmelblau" in url


@pytest.mark.parametrize("query", [
    {"landscape": "rosenbrock", "opt": ["adam", "sgd"], "adam.lr": "0.05", "steps": "500"},
    {"landscape": "beale", "opt": ["rmsprop", "nesterov"], "rmsprop.centered": "true", "view": "multiples",
     "inspect": "nesterov", "k": "5", "steps": "40", "x0": "1", "y0": "-1", "schedule": "cosine"},
    {"opt": ["adam"], "sweep.n": "12", "sweep.y": "beta2", "basins.n": "30", "seeds.n": "7"},  # settings kept
])
def test_a_comparison_link_of_today_opens_the_comparison_and_keeps_every_parameter(query):
    at = open_app(query)
    assert not at.warning and len(charts(at)) == 3
    url = share_url(at)
    for key, value in query.items():
        for v in value if isinstance(value, list) else [value]:
            assert f"{key}={v}" in url, (key, url)
    assert set(path_traces(at)) == set(query["opt"])


@pytest.mark.parametrize("view", C.EXPLORE_VIEWS)
def test_every_explore_view_link_keeps_the_comparisons_settings(view):
    query = {"landscape": "six_hump_camel", "opt": ["sgd", "adam"], "sgd.lr": "0.01", "noise": "0.2",
             "steps": "60", "explore": view, "sweep.n": "5", "basins.n": "8", "seeds.n": "4"}
    at = open_app(query)
    assert not at.warning and not at.error, [e.value for e in at.error]
    url = share_url(at)
    for key, value in query.items():
        for v in value if isinstance(value, list) else [value]:
            assert f"{key}={v}" in url, (key, url)


def test_prodigys_beta3_none_and_growth_rate_inf_are_widgets_and_links():
    # beta3's None is an empty box, growth_rate's inf a slider stop; a link sets both and the path is the API's
    at = open_app({"landscape": "rosenbrock", "opt": "prodigy"})
    beta3 = at.number_input(key="prodigy.beta3")
    growth = at.select_slider(key="prodigy.growth_rate")
    assert beta3.value is None and growth.value == float("inf")
    assert "prodigy.beta3" not in share_url(at) and "growth_rate" not in share_url(at)
    at = open_app({"landscape": "rosenbrock", "opt": "prodigy", "prodigy.beta3": "0.9",
                   "prodigy.growth_rate": "1.02", "prodigy.slice_p": "2", "steps": "200"})
    assert not at.warning
    assert at.number_input(key="prodigy.beta3").value == 0.9
    assert at.select_slider(key="prodigy.growth_rate").value == 1.02
    assert "prodigy.beta3=0.9" in share_url(at) and "prodigy.growth_rate=1.02" in share_url(at)
    run = optlab.simulate("rosenbrock", "prodigy", start=(-1.5, 2.0), steps=200, beta3=0.9, growth_rate=1.02,
                          slice_p=2)
    np.testing.assert_array_equal(path_traces(at)["prodigy"], run.path)
    at = open_app({"landscape": "rosenbrock", "opt": "prodigy", "prodigy.beta3": "none",
                   "prodigy.growth_rate": "0.5"})  # None is the default; a growth below 1 is refused, named
    assert at.number_input(key="prodigy.beta3").value is None
    assert any("growth_rate" in w.value and "[1, inf]" in w.value for w in at.warning), [w.value for w in at.warning]

"""The runs a page state asks for, and its JSON export read back in a notebook.

The state itself is declared in optlab.schema, held by the records of optlab.state and read from
and written to a link by optlab.link; their names are re-exported here, where the app and the
notebooks have always found them (``from optlab import config as C``).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from optlab import chunks, sweeps
from optlab.landscape import CUSTOM
from optlab.link import (  # noqa: F401  (re-exported)
    MAX_LINK_CHARS,
    MAX_LINK_FIELDS,
    from_query,
    group,
    read_link,
    read_query_string,
    to_query,
    to_url,
)
from optlab.optimizers import get_optimizer
from optlab.schedules import get_schedule
from optlab.schema import (  # noqa: F401  (re-exported)
    APP_MAX_STEPS,
    BASINS_N,
    BATCH,
    CLIP,
    COORD,
    DEFAULT_OPTIMIZERS,
    EXPLORE_VIEWS,
    NOISE,
    RANGE_KEYS,
    SEED,
    SEEDS_N,
    STEPS,
    SWEEP_METRICS,
    SWEEP_N,
    VIEWS,
    fmt,
    is_view_key,
    plain,
    shown,
)
from optlab.simulation import Run, simulate
from optlab.state import Explore, PageState, RunConfig, ViewState, runs_of  # noqa: F401  (re-exported)

_fmt, _group = fmt, group  # the names tests and notebooks used


def _common(cfg: RunConfig) -> dict:
    """simulate()'s keyword arguments that every optimizer's runs share."""
    return dict(steps=cfg.steps, schedule=cfg.schedule, schedule_params=cfg.schedule_params, noise=cfg.noise,
                clip_norm=cfg.clip or None, batch_size=(cfg.batch or None) if cfg.land.data_size else None)


def run_one(cfg: RunConfig, optimizer: str) -> Run:
    """One optimizer's run for this config."""
    return simulate(cfg.land, optimizer, start=cfg.start_point, seed=cfg.seed, **_common(cfg),
                    **cfg.hparams.get(optimizer, {}))


def run_all(cfg: RunConfig) -> dict[str, Run]:
    """Every optimizer's run, and the torch class's (keyed by its name as the link gives it) when it ran."""
    runs = {name: run_one(cfg, name) for name in cfg.optimizers}
    if cfg.torch_class:
        run, _ = run_torch(cfg)
        if run is not None:
            runs[cfg.torch_class] = run
    return runs


# simulate's own arguments: the page sets them, a torch class's keyword arguments may not
_RUN_ARGS = ("landscape", "optimizer", "start", "steps", "seed", "schedule", "schedule_params", "noise",
             "clip_norm", "batch_size", "record_state", "time_limit")


def run_torch(cfg: RunConfig) -> tuple[Run | None, str | None]:
    """The torch class's run for ``cfg`` (optlab.torch_classes), or why there is none: a class the server does
    not allow or that is not an optimizer, keyword arguments that are not literals or that the class refuses,
    an exception inside its ``step``, a run longer than TORCH_TIME_LIMIT. Never raises. Cached per setting
    (the declared optimizers are not part of its key: the page's banner and its runs share one)."""
    return _run_torch(replace(cfg, optimizers=(), hparams={}))


@functools.lru_cache(maxsize=32)
def _run_torch(cfg: RunConfig) -> tuple[Run | None, str | None]:
    from optlab import torch_choice

    try:
        cls = torch_choice.resolve(cfg.torch_class)
        kwargs = torch_choice.parse_kwargs(cfg.torch_args)
        taken = [k for k in kwargs if k in _RUN_ARGS]
        if taken:
            raise torch_choice.TorchChoiceError(f"{taken[0]} is the page's own setting, not the class's")
        return simulate(cfg.land, cls, start=cfg.start_point, seed=cfg.seed, time_limit=TORCH_TIME_LIMIT,
                        **_common(cfg), **kwargs), None
    except ValueError as e:  # TorchChoiceError, or what torch_classes says of the class, its arguments, its step
        return None, str(e)
    except Exception as e:  # noqa: BLE001 - whatever else a class does: a message on the page, not a traceback
        return None, f"{cfg.torch_class} failed: {type(e).__name__}: {e}"


def capped(cells_per_axis: int, runs_per_cell: int, steps: int, square: bool = True) -> int:
    """The largest grid (cells per axis, or runs if not square) within chunks.MAX_RUN_STEPS."""
    budget = int(chunks.MAX_RUN_STEPS // (steps * runs_per_cell))  # runs_per_cell: weighed by cost
    return min(cells_per_axis, math.isqrt(budget) if square else budget)


def run_sensitivity(cfg: RunConfig, n: int, progress=None, explore: Explore | None = None) -> sweeps.Sweep:
    """The sensitivity sweep of ``explore``'s axes (default: the first optimizer, lr and its next hyperparameter)."""
    opt, x, y, xr, yr = (explore or Explore()).sweep_axes(cfg.optimizers)
    return sweeps.sensitivity(cfg.land, opt, x=x, y=y, x_range=xr, y_range=yr, n=n, start=cfg.start_point,
                              seed=cfg.seed, hparams=cfg.hparams.get(opt, {}), progress=progress, **_common(cfg))


def _parts(progress, i: int, n: int):
    """Progress of part i of n, as a fraction of the whole."""
    return None if progress is None else (lambda f: progress((i + f) / n))


def run_basins(cfg: RunConfig, n: int, progress=None, names: tuple[str, ...] | None = None
               ) -> dict[str, sweeps.BasinMap]:
    names = names or tuple(cfg.optimizers[:2])
    return {name: sweeps.basins(cfg.land, name, n=n, seed=cfg.seed, hparams=cfg.hparams.get(name, {}),
                                progress=_parts(progress, i, len(names)), **_common(cfg))
            for i, name in enumerate(names)}


def run_seed_bands(cfg: RunConfig, n: int, progress=None) -> dict[str, sweeps.SeedBand]:
    names = cfg.optimizers
    return {name: sweeps.seed_bands(cfg.land, name, n_seeds=n, seed=cfg.seed, start=cfg.start_point,
                                    hparams=cfg.hparams.get(name, {}), progress=_parts(progress, i, len(names)),
                                    **_common(cfg))
            for i, name in enumerate(names)}


# L-BFGS on the page: steps × max_iter × history_size at most this (the two-loop recursion's work in the worst
# case, every iteration run with a full history: ~8.5 µs a unit, so ~100 s; the defaults at 300 steps: 600,000)
APP_MAX_LBFGS_WORK = 12_000_000
TORCH_TIME_LIMIT = 60.0  # seconds: a torch class's run on the page is stopped (with a message) after this


def refused(cfg: RunConfig) -> dict[str, str]:
    """Optimizers of ``cfg`` the page does not run, each with why (its declaration's ``check``, or a setting whose
    worst case would keep the server busy for minutes)."""
    out = {}
    for name in cfg.optimizers:
        opt = get_optimizer(name)
        hp = cfg.hp(name)
        why = opt.check(hp) if opt.check else None
        if not why and opt.evaluates and "max_iter" in hp:
            work = cfg.steps * hp["max_iter"] * hp["history_size"]
            if work > APP_MAX_LBFGS_WORK:
                why = (f"{cfg.steps} steps × max_iter {hp['max_iter']} × history_size {hp['history_size']} = "
                       f"{work:,} could keep this page busy for minutes; allowed here: at most "
                       f"{APP_MAX_LBFGS_WORK:,} (fewer steps, or a lower max_iter or history_size)")
        if why:
            out[name] = why
    return out


# --- the JSON export: every value spelled out, and read back -----------------------------------------
# The fields that make the runs, by URL key: (the JSON's name, its value in a RunConfig).
JSON_FIELDS = {"steps": "steps", "seed": "seed", "schedule": "schedule", "noise": "noise", "clip": "clip_norm",
               "batch": "batch_size", "torch": "torch_class", "torch.args": "torch_args"}


def to_json(state: RunConfig | PageState) -> str:
    """The configuration, every value spelled out (defaults included); "query" is the whole link."""
    cfg = runs_of(state)
    data = {
        "landscape": cfg.landscape,
        **({"formula": cfg.land.formula} if cfg.landscape == CUSTOM else {}),
        "landscape_params": {p.name: cfg.landscape_params.get(p.name, p.default) for p in cfg.land.params},
        "start": list(cfg.start_point), "steps": cfg.steps, "seed": cfg.seed,
        "schedule": cfg.schedule,
        "schedule_params": {p.name: cfg.schedule_params.get(p.name, p.default)
                            for p in get_schedule(cfg.schedule).params},
        "noise": cfg.noise, "clip_norm": cfg.clip or None,
        **({"batch_size": cfg.batch or None} if cfg.land.data_size else {}),
        "optimizers": {name: cfg.hp(name) for name in cfg.optimizers},
        **({"torch_class": cfg.torch_class, "torch_args": cfg.torch_args} if cfg.torch_class else {}),
        "query": group(to_query(state)),
    }
    return json.dumps(data, indent=2, default=_json_default)


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, float) and not math.isfinite(o):
        return str(o)
    raise TypeError(type(o))


def _json_query(source) -> dict:
    """A JSON export as a link's query: the runs from its own fields, the page's view from its "query"."""
    import os

    if isinstance(source, Mapping):
        data = dict(source)
    else:
        text = str(source)
        if isinstance(source, os.PathLike) or not text.lstrip().startswith("{"):
            with open(source, encoding="utf-8") as fh:
                text = fh.read()
        data = json.loads(text)

    def raw(value) -> str:
        return value if isinstance(value, str) else fmt(value)

    query = {k: v for k, v in data.get("query", {}).items() if is_view_key(k)}
    landscape = data.get("landscape", "rosenbrock")
    query["landscape"] = landscape
    if data.get("formula") is not None:
        query["formula"] = data["formula"]
    query |= {f"{landscape}.{k}": raw(v) for k, v in data.get("landscape_params", {}).items()}
    optimizers = data.get("optimizers", {})
    query["opt"] = list(optimizers)
    for name, hps in optimizers.items():
        query |= {f"{name}.{k}": raw(v) for k, v in hps.items()}
    if data.get("start") is not None:
        query["x0"], query["y0"] = (raw(v) for v in data["start"])
    for key, name in JSON_FIELDS.items():
        if data.get(name) is not None:
            query[key] = raw(data[name])
    query |= {f"schedule.{k}": raw(v) for k, v in data.get("schedule_params", {}).items()}
    return query


def load_state(source, strict: bool = True) -> PageState:
    """A "Configuration (JSON)" export read back with the page's view (see :func:`load_config`)."""
    import warnings

    state, problems = read_link(_json_query(source))
    if problems and strict:
        raise ValueError("the configuration has values that are not accepted: " + "; ".join(problems))
    for p in problems:
        warnings.warn(p, stacklevel=3)
    cfg = state.runs
    if cfg.start is not None and tuple(cfg.start) == cfg.shape.start:
        state = replace(state, runs=replace(cfg, start=None))  # as the page holds it: the landscape's own start
    return state


def load_config(source, strict: bool = True) -> RunConfig:
    """The configuration of a "Configuration (JSON)" export (:func:`to_json`), read back.

    ``source``: the JSON text, a path to the file, or the parsed dict. The values that make the
    runs are read from the JSON's own fields (landscape, landscape_params, formula, start,
    steps, seed, schedule, schedule_params, noise, clip_norm, batch_size, optimizers: edit them
    there); all are checked as a link is. A value that is not accepted raises ValueError naming
    it (``strict=False``: a warning, and the default is used, as a link does). ``runs_from_config``
    runs it; :func:`load_state` also reads the page's view from its "query".
    """
    return load_state(source, strict).runs


def runs_from_config(cfg) -> dict[str, Run]:
    """The runs the page shows for ``cfg`` (a RunConfig or PageState, or what :func:`load_config` reads): one
    Run per optimizer, except those the page refuses to run (see :func:`refused`)."""
    if not isinstance(cfg, (RunConfig, PageState)):
        cfg = load_config(cfg)
    cfg = runs_of(cfg)
    rejected = refused(cfg)
    return {name: run_one(cfg, name) for name in cfg.optimizers if name not in rejected}

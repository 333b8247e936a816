"""What the dashboard shows, as one validated value, and its URL.

A :class:`RunConfig` is everything that determines the runs on the page. It is
read from a query string (a shared link), written back to one, and run with
:func:`run_all`. The schema (README, "URL schema"):

    landscape=rosenbrock          a registered landscape, or landscape=custom&formula=x^2%2B10*y^2
    <landscape>.<param>=...       its shape parameters, e.g. rotated_bowl.kappa=100, custom.xmin=-2
    opt=adam&opt=sgd              optimizers, repeated, order kept
    <opt>.<hp>=...                hyperparameters with torch.optim's names, e.g. adam.lr=0.05
    steps, x0, y0, seed           run length, start, noise seed
    schedule=cosine, schedule.<param>=...
    noise=0.1, clip=1.0           gradient noise scale, gradient-norm clipping
    batch=8                       minibatch size on landscapes built from data (default: all examples)
    view=..., inspect=..., k=...  how the page shows it (see optlab.ui)

Values equal to their defaults are left out. Anything invalid is reported and
replaced by its default; the rest of the link is kept.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

import numpy as np

from landscapes import get_landscape, landscape_names
from optlab import sweeps
from optlab.landscape import CUSTOM, Landscape
from optlab.optimizers import get_optimizer, optimizer_names
from optlab.params import Param
from optlab.schedules import get_schedule, schedule_names
from optlab.simulation import Run, simulate

APP_MAX_STEPS = 5000  # the dashboard's cap (simulate() allows MAX_STEPS)
DEFAULT_OPTIMIZERS = ("adam", "sgd")

STEPS = Param("steps", 300, low=1, high=APP_MAX_STEPS, kind=int, help="number of steps")
SEED = Param("seed", 0, low=0, high=2**32 - 1, kind=int, help="seed of the gradient noise")
NOISE = Param("noise", 0.0, low=0.0, high=1e6, ui_low=0.0, ui_high=10.0, symbol=r"\sigma",
              help="gradient noise: standard deviation added to each gradient coordinate, as minibatches would")
CLIP = Param("clip", 0.0, low=0.0, high=1e12, ui_low=0.0, ui_high=100.0, symbol="c",
             help="gradient-norm clipping threshold (0: off)")
COORD = Param("x0", 0.0, low=-1e6, high=1e6)
BATCH = Param("batch", 0, low=0, high=100_000, kind=int,
              help="minibatch size: examples per gradient (0: all of them); on landscapes built from data")

# Page state that travels in the link but does not change the runs.
VIEWS = ("overlay", "multiples")
EXPLORE_VIEWS = ("sensitivity", "basins", "seeds")
SWEEP_METRICS = ("final_loss", "steps_to_tol")
SWEEP_N = Param("sweep.n", 60, low=2, high=sweeps.MAX_SWEEP_CELLS, kind=int, help="cells per axis of the sweep grid")
BASINS_N = Param("basins.n", 100, low=2, high=sweeps.MAX_BASIN_CELLS, kind=int,
                 help="start points per axis of the basin map")
SEEDS_N = Param("seeds.n", 20, low=2, high=sweeps.MAX_SEEDS, kind=int, help="seeds per optimizer")
RANGE_KEYS = ("xmin", "xmax", "ymin", "ymax")


@dataclass(frozen=True)
class Explore:
    """The many-run views under the comparison (optlab.sweeps); None/empty means "the default".

    Defaults follow the page: the sweep's optimizer is the page's first, its axes lr and
    the optimizer's next hyperparameter over their slider ranges; the basin map compares
    the page's first two optimizers.
    """

    view: str | None = None  # one of EXPLORE_VIEWS, or None: closed
    sweep_opt: str | None = None
    sweep_x: str | None = None
    sweep_y: str | None = None
    sweep_range: dict = field(default_factory=dict)  # RANGE_KEYS -> value, non-defaults only
    sweep_n: int = SWEEP_N.default
    sweep_metric: str = SWEEP_METRICS[0]
    basins_opts: tuple[str, ...] = ()
    basins_n: int = BASINS_N.default
    seeds_n: int = SEEDS_N.default

    def sweep_axes(self, optimizers) -> tuple[str, str, str, tuple[float, float], tuple[float, float]]:
        """(optimizer, x, y, x range, y range), defaults resolved."""
        opt = self.sweep_opt or optimizers[0]
        x, y = sweeps.default_axes(opt, self.sweep_x or "lr")
        y = self.sweep_y or y
        (xlo, xhi), (ylo, yhi) = sweeps.axis_range(opt, x), sweeps.axis_range(opt, y)
        r = self.sweep_range
        return opt, x, y, (r.get("xmin", xlo), r.get("xmax", xhi)), (r.get("ymin", ylo), r.get("ymax", yhi))

    def basin_optimizers(self, optimizers) -> tuple[str, ...]:
        return self.basins_opts or tuple(optimizers[:2])


@dataclass(frozen=True)
class RunConfig:
    landscape: str = "rosenbrock"
    landscape_params: dict = field(default_factory=dict)
    formula: str | None = None  # landscape=custom only: the typed-in f(x, y) (None: the default formula)
    optimizers: tuple[str, ...] = DEFAULT_OPTIMIZERS
    hparams: dict = field(default_factory=dict)  # optimizer -> {hp: value}, non-defaults only
    steps: int = STEPS.default
    start: tuple[float, float] | None = None  # None: the landscape's own start
    seed: int = 0
    schedule: str = "constant"
    schedule_params: dict = field(default_factory=dict)
    noise: float = 0.0
    clip: float = 0.0
    batch: int = 0  # minibatch size (0: the full dataset); landscapes built from data only
    view: str = "overlay"
    inspect: str | None = None  # optimizer shown in the step inspector
    k: int | None = None  # step shown in the step inspector
    explore: Explore = field(default_factory=Explore)  # sweeps, basins, seed bands

    @property
    def land(self) -> Landscape:
        """The landscape; for landscape=custom, built from the formula (FormulaError if it is not accepted)."""
        if self.landscape == CUSTOM:
            from optlab.formula import DEFAULT_FORMULA, formula_landscape

            return formula_landscape(self.formula or DEFAULT_FORMULA, **self.landscape_params)
        return get_landscape(self.landscape, **self.landscape_params)

    @property
    def start_point(self) -> tuple[float, float]:
        return self.start if self.start is not None else tuple(self.land.start)

    def hp(self, optimizer: str) -> dict:
        """Every hyperparameter of one optimizer, defaults filled in."""
        return {**get_optimizer(optimizer).defaults, **self.hparams.get(optimizer, {})}

    def with_hp(self, optimizer: str, **values) -> RunConfig:
        defaults = get_optimizer(optimizer).defaults
        merged = {**self.hparams.get(optimizer, {}), **values}
        merged = {k: v for k, v in merged.items() if v != defaults[k]}
        hparams = {**self.hparams, optimizer: merged}
        return replace(self, hparams={k: v for k, v in hparams.items() if v})

    def key(self) -> str:
        """A canonical string: equal configs, equal keys (for caching)."""
        return urlencode(to_query(self), doseq=True)

    def runs_only(self) -> RunConfig:
        """The config without what only changes how the page shows the runs (view, inspector, explore)."""
        return replace(self, view="overlay", inspect=None, k=None, explore=Explore())


def _fmt(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return repr(float(value)) if not float(value).is_integer() or abs(value) >= 1e16 else str(int(value))


def to_query(cfg: RunConfig) -> list[tuple[str, str]]:
    """The config as ordered (key, value) pairs; values equal to defaults are left out."""
    q: list[tuple[str, str]] = [("landscape", cfg.landscape)]
    if cfg.landscape == CUSTOM:  # always written: a link must not depend on today's default formula
        q.append(("formula", cfg.land.formula))
    land = cfg.land
    for p in land.params:
        value = cfg.landscape_params.get(p.name, p.default)
        if value != p.default:
            q.append((f"{cfg.landscape}.{p.name}", _fmt(value)))
    q += [("opt", name) for name in cfg.optimizers]
    for name in cfg.optimizers:
        defaults = get_optimizer(name).defaults
        for hp, value in cfg.hparams.get(name, {}).items():
            if value != defaults[hp]:
                q.append((f"{name}.{hp}", _fmt(value)))
    if cfg.steps != STEPS.default:
        q.append(("steps", str(cfg.steps)))
    if cfg.start is not None and tuple(cfg.start) != tuple(land.start):
        q += [("x0", _fmt(cfg.start[0])), ("y0", _fmt(cfg.start[1]))]
    if cfg.seed != SEED.default:
        q.append(("seed", str(cfg.seed)))
    if cfg.schedule != "constant":
        q.append(("schedule", cfg.schedule))
        for p in get_schedule(cfg.schedule).params:
            value = cfg.schedule_params.get(p.name, p.default)
            if value != p.default:
                q.append((f"schedule.{p.name}", _fmt(value)))
    if cfg.noise:
        q.append(("noise", _fmt(cfg.noise)))
    if cfg.clip:
        q.append(("clip", _fmt(cfg.clip)))
    if cfg.batch and land.data_size:
        q.append(("batch", str(cfg.batch)))
    if cfg.view != "overlay":
        q.append(("view", cfg.view))
    if cfg.inspect is not None:
        q.append(("inspect", cfg.inspect))
    if cfg.k is not None:
        q.append(("k", str(cfg.k)))
    return q + _explore_query(cfg.explore)


def _explore_query(e: Explore) -> list[tuple[str, str]]:
    q: list[tuple[str, str]] = []
    if e.view:
        q.append(("explore", e.view))
    for key, value in (("sweep.opt", e.sweep_opt), ("sweep.x", e.sweep_x), ("sweep.y", e.sweep_y)):
        if value:
            q.append((key, value))
    q += [(f"sweep.{k}", _fmt(e.sweep_range[k])) for k in RANGE_KEYS if k in e.sweep_range]
    if e.sweep_n != SWEEP_N.default:
        q.append(("sweep.n", str(e.sweep_n)))
    if e.sweep_metric != SWEEP_METRICS[0]:
        q.append(("sweep.metric", e.sweep_metric))
    q += [("basins.opt", name) for name in e.basins_opts]
    if e.basins_n != BASINS_N.default:
        q.append(("basins.n", str(e.basins_n)))
    if e.seeds_n != SEEDS_N.default:
        q.append(("seeds.n", str(e.seeds_n)))
    return q


def to_url(cfg: RunConfig, base: str | None) -> str:
    query = urlencode(to_query(cfg), doseq=True, safe=",")
    return f"{(base or '').rstrip('/')}/?{query}"


def shown(text: str, limit: int = 40) -> str:
    """What a link held, as a Markdown code span that renders as plain text: truncated, control characters
    escaped, backticks replaced (a value such as [Sign in](http://…) or ![](http://…/p.png) must not become a
    link or an image the browser fetches)."""
    text = str(text)
    cut = text[:limit]
    body = repr(cut)[1:-1].replace("`", "'")
    return f"`{body}{'…' if len(text) > limit else ''}`"


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$])")


def plain(text: str) -> str:
    """text with Markdown's special characters escaped, so that it is shown as written (`__import__` is not
    bold, a [link](…) not a link)."""
    return _MARKDOWN.sub(r"\\\1", str(text))


def _parse(spec: Param, raw: str):
    """A query value as the spec's type; ValueError with a reason if it is not valid."""
    text = raw.strip()
    if spec.kind is bool:
        if text.lower() in ("true", "1", "yes", "on"):
            return True
        if text.lower() in ("false", "0", "no", "off"):
            return False
        raise ValueError(f"{shown(raw)} is not true or false")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{shown(raw)} is not a number") from None
    if spec.kind is int:
        if not value.is_integer():
            raise ValueError(f"{shown(raw)} is not a whole number")
        value = int(value)
    if not spec.accepts(value):
        raise ValueError(f"{shown(raw)} is out of range ({spec.allowed})")
    return value


MAX_LINK_FIELDS = 200  # a page's link has far fewer; a longer one is read up to here
MAX_LINK_CHARS = 16_384


def read_query_string(raw: str) -> tuple[dict[str, list[str]], list[str]]:
    """A raw query string read as Streamlit would, but only its first MAX_LINK_FIELDS parameters and
    MAX_LINK_CHARS characters, with a note of what was cut; invalid percent-escapes become U+FFFD."""
    from urllib.parse import parse_qsl

    problems = []
    fields = [f for f in raw.lstrip("?").split("&") if f]
    if len(fields) > MAX_LINK_FIELDS:
        problems.append(f"the link has {len(fields):,} parameters, far more than this page has: only the first "
                        f"{MAX_LINK_FIELDS} were read")
        fields = fields[:MAX_LINK_FIELDS]
    text = "&".join(fields)
    if len(text) > MAX_LINK_CHARS:
        problems.append(f"the link is {len(raw):,} characters long: only the first {MAX_LINK_CHARS:,} were read")
        text = text[:MAX_LINK_CHARS].rsplit("&", 1)[0]
    query: dict[str, list[str]] = {}
    for key, value in parse_qsl(text, keep_blank_values=True, errors="replace"):
        query.setdefault(key, []).append(value)
    return query, problems


def _as_lists(query: Mapping) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in query.items():
        out[str(key)] = [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]
    return out


def from_query(query: Mapping) -> tuple[RunConfig, list[str]]:
    """Read a link's query: the config and one message per ignored parameter.

    ``query`` maps keys to a string or a list of strings (repeated keys). Nothing
    here raises: each invalid, out-of-range or unknown parameter is ignored (its
    default used) and named in the messages, and every valid one is kept.
    """
    q = _as_lists(query)
    problems: list[str] = []
    used: set[str] = set()

    def take(key: str) -> str | None:
        used.add(key)
        values = q.get(key)
        if not values:
            return None
        if len(values) > 1:
            problems.append(f"`{key}` was given {len(values)} times; the first value is used")
        return values[0]

    def read(key: str, spec: Param):
        raw = take(key)
        if raw is None:
            return spec.default
        try:
            return _parse(spec, raw)
        except ValueError as e:
            problems.append(f"`{key}`: {e}; using the default {_fmt(spec.default)}")
            return spec.default

    landscape = take("landscape") or "rosenbrock"
    if landscape not in (*landscape_names(), CUSTOM):
        problems.append(f"`landscape`: unknown landscape {shown(landscape)}; using rosenbrock")
        landscape = "rosenbrock"
    formula = None
    if landscape == CUSTOM:
        from optlab.formula import DEFAULT_FORMULA, FormulaBusy, FormulaError, compile_formula

        formula = take("formula")
        try:
            compile_formula(formula if formula is not None else DEFAULT_FORMULA)
        except FormulaBusy:  # not a verdict on the formula: it is kept, and the page says it cannot run now
            pass
        except FormulaError as e:
            problems.append(f"`formula`: {shown(formula)} is not accepted ({plain(e)}); using the default formula")
            formula = None
    land = RunConfig(landscape=landscape, formula=formula).land
    landscape_params = {}
    for p in land.params:
        value = read(f"{landscape}.{p.name}", p)
        if value != p.default:
            landscape_params[p.name] = value
    try:
        land = land.with_params(**landscape_params)
    except ValueError as e:  # rules between parameters, e.g. an empty custom domain
        problems.append(f"`{landscape}.*`: {e}; using the default parameters")
        landscape_params = {}

    used.add("opt")
    optimizers = _read_optimizers(q, "opt", problems)
    if "opt" not in q:
        optimizers = list(DEFAULT_OPTIMIZERS)
    elif not optimizers:
        problems.append("`opt`: no valid optimizer; showing adam and sgd")
        optimizers = list(DEFAULT_OPTIMIZERS)

    hparams = {}
    for name in optimizers:
        values = {}
        for spec in get_optimizer(name).hparams:
            value = read(f"{name}.{spec.name}", spec)
            if value != spec.default:
                values[spec.name] = value
        opt = get_optimizer(name)
        problem = opt.check({**opt.defaults, **values}) if opt.check else None
        if problem:  # a combination torch rejects: fall back to this optimizer's defaults
            problems.append(f"`{name}.*`: {problem}; using {name}'s defaults")
            values = {}
        if values:
            hparams[name] = values

    steps = read("steps", STEPS)
    start = None
    coords = []
    for axis, key in enumerate(("x0", "y0")):  # each on its own: a valid y0 is kept when x0 is not
        raw = take(key)
        coords.append(land.start[axis])
        if raw is not None:
            try:
                coords[axis] = _parse(replace(COORD, name=key), raw)
            except ValueError as e:
                problems.append(f"`{key}`: {e}; using the landscape's {key} ({_fmt(land.start[axis])})")
    if tuple(float(c) for c in coords) != tuple(float(c) for c in land.start):
        start = (float(coords[0]), float(coords[1]))
    seed = read("seed", SEED)

    schedule = take("schedule") or "constant"
    if schedule not in schedule_names():
        problems.append(f"`schedule`: unknown schedule {shown(schedule)}; using constant")
        schedule = "constant"
    schedule_params = {}
    for p in get_schedule(schedule).params:
        value = read(f"schedule.{p.name}", p)
        if value != p.default:
            schedule_params[p.name] = value
    noise = read("noise", NOISE)
    clip = read("clip", CLIP)
    batch = read("batch", BATCH)
    if batch and not land.data_size:
        problems.append(f"`batch`: {land.title} is not built from data, so it has no minibatches; ignored")
        batch = 0
    elif batch > land.data_size:
        problems.append(f"`batch`: {batch} is more than the {land.data_size} examples of {land.title}; using all")
        batch = 0

    view = take("view") or "overlay"
    if view not in VIEWS:
        problems.append(f"`view`: unknown view {shown(view)}; using overlay")
        view = "overlay"
    inspect = take("inspect")
    if inspect is not None and inspect not in optimizers:
        problems.append(f"`inspect`: {shown(inspect)} is not one of the selected optimizers")
        inspect = None
    k = None
    raw_k = take("k")
    if raw_k is not None:
        try:
            k = _parse(Param("k", 1, low=1, high=steps, kind=int), raw_k)
        except ValueError as e:
            problems.append(f"`k`: {e}")

    explore = _read_explore(take, read, q, used, problems, optimizers)

    for key in q:
        if key not in used:
            problems.append(f"{shown(key)} is not a parameter of this page; ignored")

    cfg = RunConfig(
        landscape=landscape, landscape_params=landscape_params, formula=formula, batch=batch,
        optimizers=tuple(optimizers), hparams=hparams,
        steps=steps, start=start, seed=seed, schedule=schedule, schedule_params=schedule_params,
        noise=noise, clip=clip, view=view, inspect=inspect, k=k, explore=explore,
    )
    return cfg, problems


def _read_optimizers(q: dict, key: str, problems: list[str], limit: int | None = None) -> list[str]:
    """A repeated optimizer key (``opt``, ``basins.opt``): known names, each once, order kept."""
    names: list[str] = []
    for name in q.get(key, []):
        if name not in optimizer_names():
            problems.append(f"`{key}`: unknown optimizer {shown(name)} ignored")
        elif name in names:
            problems.append(f"`{key}`: {name} was listed twice; shown once")
        elif limit is not None and len(names) >= limit:
            problems.append(f"`{key}`: {shown(name)} ignored ({limit} optimizers at most)")
        else:
            names.append(name)
    return names


def _read_explore(take, read, q, used, problems, optimizers) -> Explore:
    """The explore views' part of a link; each invalid value is reported and left at its default."""
    view = take("explore")
    if view is not None and view not in EXPLORE_VIEWS:
        problems.append(f"`explore`: unknown view {shown(view)}; allowed: {', '.join(EXPLORE_VIEWS)}")
        view = None
    sweep_opt = take("sweep.opt")
    if sweep_opt is not None and sweep_opt not in optimizer_names():
        problems.append(f"`sweep.opt`: unknown optimizer {shown(sweep_opt)}; using {optimizers[0]}")
        sweep_opt = None
    opt = sweep_opt or optimizers[0]
    axes = {}
    for key in ("sweep.x", "sweep.y"):
        name = take(key)
        if name is not None and name not in sweeps.sweepable(opt):
            problems.append(f"`{key}`: {opt} has no numeric hyperparameter {shown(name)}; allowed: "
                            f"{', '.join(sweeps.sweepable(opt))}")
            name = None
        axes[key] = name
    if axes["sweep.y"] and axes["sweep.y"] == (axes["sweep.x"] or "lr"):
        problems.append(f"`sweep.y`: the same hyperparameter as the x axis ({axes['sweep.y']}); using the default")
        axes["sweep.y"] = None
    e = Explore(sweep_opt=sweep_opt, sweep_x=axes["sweep.x"], sweep_y=axes["sweep.y"])
    _, x, y, *_ = e.sweep_axes(optimizers)
    sweep_range = {}
    for k in RANGE_KEYS:
        raw = take(f"sweep.{k}")
        if raw is None:
            continue
        try:
            sweep_range[k] = float(raw)
            if not math.isfinite(sweep_range[k]):
                raise ValueError
        except ValueError:
            problems.append(f"`sweep.{k}`: {shown(raw)} is not a number; using the default range")
            sweep_range.pop(k, None)
    e = replace(e, sweep_range=sweep_range)
    _, _, _, xr, yr = e.sweep_axes(optimizers)
    for axis, name, (lo, hi) in (("x", x, xr), ("y", y, yr)):
        problem = sweeps.range_problem(opt, name, lo, hi)
        if problem:
            problems.append(f"`sweep.{axis}min`/`sweep.{axis}max`: {problem}; using the default range")
            e = replace(e, sweep_range={k: v for k, v in e.sweep_range.items() if k[0] != axis})
    metric = take("sweep.metric") or SWEEP_METRICS[0]
    if metric not in SWEEP_METRICS:
        problems.append(f"`sweep.metric`: unknown metric {shown(metric)}; allowed: {', '.join(SWEEP_METRICS)}")
        metric = SWEEP_METRICS[0]
    used.add("basins.opt")
    basins_opts = _read_optimizers(q, "basins.opt", problems, limit=2)
    return replace(e, view=view, sweep_n=read("sweep.n", SWEEP_N), sweep_metric=metric,
                   basins_opts=tuple(basins_opts), basins_n=read("basins.n", BASINS_N),
                   seeds_n=read("seeds.n", SEEDS_N))


def _common(cfg: RunConfig) -> dict:
    """simulate()'s keyword arguments that every optimizer's runs share."""
    return dict(steps=cfg.steps, schedule=cfg.schedule, schedule_params=cfg.schedule_params, noise=cfg.noise,
                clip_norm=cfg.clip or None, batch_size=(cfg.batch or None) if cfg.land.data_size else None)


def run_one(cfg: RunConfig, optimizer: str) -> Run:
    """One optimizer's run for this config."""
    return simulate(cfg.land, optimizer, start=cfg.start_point, seed=cfg.seed, **_common(cfg),
                    **cfg.hparams.get(optimizer, {}))


def capped(cells_per_axis: int, runs_per_cell: int, steps: int, square: bool = True) -> int:
    """The largest grid (cells per axis, or runs if not square) within sweeps.MAX_RUN_STEPS."""
    budget = sweeps.MAX_RUN_STEPS // (steps * runs_per_cell)
    return min(cells_per_axis, math.isqrt(budget) if square else budget)


def run_sensitivity(cfg: RunConfig, n: int, progress=None) -> sweeps.Sweep:
    opt, x, y, xr, yr = cfg.explore.sweep_axes(cfg.optimizers)
    return sweeps.sensitivity(cfg.land, opt, x=x, y=y, x_range=xr, y_range=yr, n=n, start=cfg.start_point,
                              seed=cfg.seed, hparams=cfg.hparams.get(opt, {}), progress=progress, **_common(cfg))


def _parts(progress, i: int, n: int):
    """Progress of part i of n, as a fraction of the whole."""
    return None if progress is None else (lambda f: progress((i + f) / n))


def run_basins(cfg: RunConfig, n: int, progress=None) -> dict[str, sweeps.BasinMap]:
    names = cfg.explore.basin_optimizers(cfg.optimizers)
    return {name: sweeps.basins(cfg.land, name, n=n, seed=cfg.seed, hparams=cfg.hparams.get(name, {}),
                                progress=_parts(progress, i, len(names)), **_common(cfg))
            for i, name in enumerate(names)}


def run_seed_bands(cfg: RunConfig, n: int, progress=None) -> dict[str, sweeps.SeedBand]:
    names = cfg.optimizers
    return {name: sweeps.seed_bands(cfg.land, name, n_seeds=n, seed=cfg.seed, start=cfg.start_point,
                                    hparams=cfg.hparams.get(name, {}), progress=_parts(progress, i, len(names)),
                                    **_common(cfg))
            for i, name in enumerate(names)}


def run_all(cfg: RunConfig) -> dict[str, Run]:
    return {name: run_one(cfg, name) for name in cfg.optimizers}


def refused(cfg: RunConfig) -> dict[str, str]:
    """Optimizers of ``cfg`` the page does not run, each with why (its declaration's ``check``)."""
    out = {}
    for name in cfg.optimizers:
        opt = get_optimizer(name)
        why = opt.check(cfg.hp(name)) if opt.check else None
        if why:
            out[name] = why
    return out


def to_json(cfg: RunConfig) -> str:
    """The configuration, every value spelled out (defaults included)."""
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
        "query": dict(_group(to_query(cfg))),
    }
    return json.dumps(data, indent=2, default=_json_default)


def _group(pairs):
    out: dict[str, object] = {}
    for k, v in pairs:
        out.setdefault(k, []).append(v)
    return {k: v[0] if len(v) == 1 else v for k, v in out.items()}


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, float) and not math.isfinite(o):
        return str(o)
    raise TypeError(type(o))


# --- the JSON export read back: the same runs in a notebook ------------------------------------------
_PAGE_KEYS = ("view", "inspect", "k", "explore")  # page state the JSON keeps only in its "query"


def load_config(source, strict: bool = True) -> RunConfig:
    """The configuration of a "Configuration (JSON)" export (:func:`to_json`), read back.

    ``source``: the JSON text, a path to the file, or the parsed dict. The values that make the
    runs are read from the JSON's own fields (landscape, landscape_params, formula, start,
    steps, seed, schedule, schedule_params, noise, clip_norm, batch_size, optimizers: edit them
    there), the page's view state from its "query"; all are checked as a link is. A value that
    is not accepted raises ValueError naming it (``strict=False``: a warning, and the default
    is used, as a link does). ``runs_from_config`` runs it.
    """
    import os
    import warnings

    if isinstance(source, Mapping):
        data = dict(source)
    else:
        text = str(source)
        if isinstance(source, os.PathLike) or not text.lstrip().startswith("{"):
            with open(source, encoding="utf-8") as fh:
                text = fh.read()
        data = json.loads(text)

    def raw(value) -> str:
        return value if isinstance(value, str) else _fmt(value)

    query = {k: v for k, v in data.get("query", {}).items()
             if k in _PAGE_KEYS or k.startswith(("sweep.", "basins.", "seeds."))}
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
    for key, field_name in (("steps", "steps"), ("seed", "seed"), ("schedule", "schedule"), ("noise", "noise"),
                            ("clip", "clip_norm"), ("batch", "batch_size")):
        if data.get(field_name) is not None:
            query[key] = raw(data[field_name])
    query |= {f"schedule.{k}": raw(v) for k, v in data.get("schedule_params", {}).items()}
    cfg, problems = from_query(query)
    if problems and strict:
        raise ValueError("the configuration has values that are not accepted: " + "; ".join(problems))
    for p in problems:
        warnings.warn(p, stacklevel=2)
    if cfg.start is not None and tuple(cfg.start) == tuple(cfg.land.start):
        cfg = replace(cfg, start=None)  # as the page holds it: the landscape's own start
    return cfg


def runs_from_config(cfg) -> dict[str, Run]:
    """The runs the page shows for ``cfg`` (a RunConfig, or what :func:`load_config` reads): one Run per
    optimizer, except those the page refuses to run (see :func:`refused`)."""
    if not isinstance(cfg, RunConfig):
        cfg = load_config(cfg)
    rejected = refused(cfg)
    return {name: run_one(cfg, name) for name in cfg.optimizers if name not in rejected}

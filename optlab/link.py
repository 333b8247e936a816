"""The URL codec: a link's query <-> a PageState, derived from optlab.schema.FIELDS.

:func:`to_query` writes every field of the schema in its order, values equal to defaults left
out. :func:`read_link` reads one back: each invalid, out-of-range or unknown parameter is
ignored (its default used) and named in one message, and every valid one is kept. Nothing here
raises. The rules between fields (a landscape's parameters, a combination torch rejects, a
sweep's axes and ranges) are checked after the fields they relate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from urllib.parse import parse_qsl, urlencode

from landscapes import landscape_names
from optlab import schema as S
from optlab import sweep_axes
from optlab.landscape import CUSTOM
from optlab.optimizers import get_optimizer, optimizer_names
from optlab.params import Param
from optlab.schedules import get_schedule, schedule_names
from optlab.state import Explore, PageState, RunConfig, ViewState

MAX_LINK_FIELDS = 200  # a page's link has far fewer; a longer one is read up to here
MAX_LINK_CHARS = 16_384


# --- writing ------------------------------------------------------------------------------------------
def _family(cfg: RunConfig, key: str) -> list[tuple[str, list[Param], Mapping]]:
    """A family field's (prefix, declared params, values) groups, e.g. ("adam", adam's hparams, {lr: 0.05})."""
    if key == "<landscape>.*":
        return [(cfg.landscape, cfg.land.params, cfg.landscape_params)]
    if key == "<opt>.*":
        return [(name, get_optimizer(name).hparams, cfg.hparams.get(name, {})) for name in cfg.optimizers]
    return [("schedule", get_schedule(cfg.schedule).params if cfg.schedule != "constant" else [],
             cfg.schedule_params)]


def _get(record, attr: str):
    for part in attr.split("."):
        record = record.get(part) if isinstance(record, Mapping) else getattr(record, part)
    return record


def _written(f: S.Field, cfg: RunConfig, view: ViewState) -> list[tuple[str, str]]:
    if f.type == "family":
        return [(f"{prefix}.{p.name}", S.fmt(values[p.name])) for prefix, params, values in _family(cfg, f.key)
                for p in params if p.name in values and values[p.name] != p.default]
    if f.key == "formula":  # always written with a custom landscape: a link must not depend on today's default
        return [("formula", cfg.land.formula)] if cfg.landscape == CUSTOM else []
    if f.type == "coord":
        if cfg.start is None or tuple(cfg.start) == tuple(cfg.land.start):
            return []
        return [(f.key, S.fmt(cfg.start[0 if f.key == "x0" else 1]))]
    value = _get(cfg if f.record == "run" else view, f.attr)
    if f.key == "landscape":
        return [(f.key, value)]  # always written: the link says what it shows
    if f.key == "batch" and not cfg.land.data_size:
        return []
    if f.type == "names":
        return [(f.key, name) for name in value] if f.key == "opt" or tuple(value) != f.default else []
    if value is None or value == f.default:
        return []
    return [(f.key, S.fmt(value) if f.type == "param" else value)]


def to_query(state: RunConfig | PageState) -> list[tuple[str, str]]:
    """The state as ordered (key, value) pairs, in the schema's order; values equal to defaults are left out."""
    cfg, view = (state.runs, state.view) if isinstance(state, PageState) else (state, ViewState())
    return [pair for f in S.FIELDS for pair in _written(f, cfg, view)]


def to_url(state: RunConfig | PageState, base: str | None) -> str:
    query = urlencode(to_query(state), doseq=True, safe=",")
    return f"{(base or '').rstrip('/')}/?{query}"


def group(pairs) -> dict[str, str | list[str]]:
    """(key, value) pairs as a mapping; a repeated key's values as a list."""
    out: dict[str, list[str]] = {}
    for k, v in pairs:
        out.setdefault(k, []).append(v)
    return {k: v[0] if len(v) == 1 else v for k, v in out.items()}


# --- reading ------------------------------------------------------------------------------------------
def read_query_string(raw: str) -> tuple[dict[str, list[str]], list[str]]:
    """A raw query string read as Streamlit would, but only its first MAX_LINK_FIELDS parameters and
    MAX_LINK_CHARS characters, with a note of what was cut; invalid percent-escapes become U+FFFD."""
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


class _Reader:
    """A link's values by key, each taken once; what was not taken is reported as unknown at the end."""

    def __init__(self, query: Mapping):
        self.q = {str(k): [str(x) for x in v] if isinstance(v, (list, tuple)) else [str(v)] for k, v in query.items()}
        self.used: set[str] = set()
        self.problems: list[str] = []

    def raw(self, key: str) -> str | None:
        self.used.add(key)
        values = self.q.get(key)
        if not values:
            return None
        if len(values) > 1:
            self.problems.append(f"`{key}` was given {len(values)} times; the first value is used")
        return values[0]

    def param(self, key: str, spec: Param, default=None, note: str | None = None):
        raw = self.raw(key)
        default = spec.default if default is None else default
        if raw is None:
            return default
        try:
            return S.parse(spec, raw)
        except ValueError as e:
            self.problems.append(f"`{key}`: {e}; {note or f'using the default {S.fmt(default)}'}")
            return default

    def choice(self, key: str, allowed, what: str, default=None, fallback: str | None = None):
        value = self.raw(key)
        if value is None or value in allowed:
            return default if value is None else value
        self.problems.append(f"`{key}`: unknown {what} {S.shown(value)}; "
                             + (fallback or f"allowed: {', '.join(allowed)}"))
        return default

    def family(self, prefix: str, params) -> dict:
        values = {p.name: self.param(f"{prefix}.{p.name}", p) for p in params}
        return {k: v for k, v, p in zip(values, values.values(), params, strict=True) if v != p.default}

    def names(self, key: str, limit: int | None = None) -> list[str]:
        """A repeated optimizer key (``opt``, ``basins.opt``): known names, each once, order kept."""
        self.used.add(key)
        names: list[str] = []
        for name in self.q.get(key, []):
            if name not in optimizer_names():
                self.problems.append(f"`{key}`: unknown optimizer {S.shown(name)} ignored")
            elif name in names:
                self.problems.append(f"`{key}`: {name} was listed twice; shown once")
            elif limit is not None and len(names) >= limit:
                self.problems.append(f"`{key}`: {S.shown(name)} ignored ({limit} optimizers at most)")
            else:
                names.append(name)
        return names

    def unknown(self) -> None:
        for key in self.q:
            if key not in self.used:
                self.problems.append(f"{S.shown(key)} is not a parameter of this page; ignored")


def _read_landscape(r: _Reader) -> tuple[str, str | None, dict]:
    landscape = r.choice("landscape", (*landscape_names(), CUSTOM), "landscape", S.DEFAULT_LANDSCAPE,
                         fallback="using rosenbrock")
    formula = None
    if landscape == CUSTOM:
        from optlab.formula import DEFAULT_FORMULA, FormulaBusy, FormulaError, compile_formula

        formula = r.raw("formula")
        try:
            compile_formula(formula if formula is not None else DEFAULT_FORMULA)
        except FormulaBusy:  # not a verdict on the formula: it is kept, and the page says it cannot run now
            pass
        except FormulaError as e:
            r.problems.append(f"`formula`: {S.shown(formula)} is not accepted ({S.plain(e)}); using the default "
                              "formula")
            formula = None
    land = RunConfig(landscape=landscape, formula=formula).land
    params = r.family(landscape, land.params)
    try:
        land.with_params(**params)
    except ValueError as e:  # rules between parameters, e.g. an empty custom domain
        r.problems.append(f"`{landscape}.*`: {e}; using the default parameters")
        params = {}
    return landscape, formula, params


def _read_runs(r: _Reader) -> RunConfig:
    landscape, formula, landscape_params = _read_landscape(r)
    land = RunConfig(landscape=landscape, formula=formula, landscape_params=landscape_params).land
    optimizers = r.names("opt")
    if "opt" not in r.q:
        optimizers = list(S.DEFAULT_OPTIMIZERS)
    elif not optimizers:
        r.problems.append("`opt`: no valid optimizer; showing adam and sgd")
        optimizers = list(S.DEFAULT_OPTIMIZERS)
    hparams = {}
    for name in optimizers:
        opt = get_optimizer(name)
        values = r.family(name, opt.hparams)
        problem = opt.check({**opt.defaults, **values}) if opt.check else None
        if problem:  # a combination torch rejects: fall back to this optimizer's defaults
            r.problems.append(f"`{name}.*`: {problem}; using {name}'s defaults")
            values = {}
        if values:
            hparams[name] = values
    steps = r.param("steps", S.STEPS)
    coords = [r.param(key, replace(S.COORD, name=key), default=float(land.start[axis]),
                      note=f"using the landscape's {key} ({S.fmt(land.start[axis])})")
              for axis, key in enumerate(("x0", "y0"))]  # each on its own: a valid y0 is kept when x0 is not
    start = None if tuple(map(float, coords)) == tuple(map(float, land.start)) else (coords[0], coords[1])
    seed = r.param("seed", S.SEED)
    schedule = r.choice("schedule", schedule_names(), "schedule", "constant", fallback="using constant")
    schedule_params = r.family("schedule", get_schedule(schedule).params)
    noise, clip, batch = r.param("noise", S.NOISE), r.param("clip", S.CLIP), r.param("batch", S.BATCH)
    if batch and not land.data_size:
        r.problems.append(f"`batch`: {land.title} is not built from data, so it has no minibatches; ignored")
        batch = 0
    elif batch > land.data_size:
        r.problems.append(f"`batch`: {batch} is more than the {land.data_size} examples of {land.title}; using all")
        batch = 0
    return RunConfig(landscape=landscape, landscape_params=landscape_params, formula=formula,
                     optimizers=tuple(optimizers), hparams=hparams, steps=steps, start=start, seed=seed,
                     schedule=schedule, schedule_params=schedule_params, noise=noise, clip=clip, batch=batch)


def _read_explore(r: _Reader, optimizers) -> Explore:
    view = r.choice("explore", S.EXPLORE_VIEWS, "view")
    sweep_opt = r.choice("sweep.opt", optimizer_names(), "optimizer", fallback=f"using {optimizers[0]}")
    opt = sweep_opt or optimizers[0]
    axes = {key: r.choice(key, sweep_axes.sweepable(opt), f"numeric hyperparameter of {opt}")
            for key in ("sweep.x", "sweep.y")}
    if axes["sweep.y"] and axes["sweep.y"] == (axes["sweep.x"] or "lr"):
        r.problems.append(f"`sweep.y`: the same hyperparameter as the x axis ({axes['sweep.y']}); using the default")
        axes["sweep.y"] = None
    e = Explore(sweep_opt=sweep_opt, sweep_x=axes["sweep.x"], sweep_y=axes["sweep.y"])
    sweep_range = {}
    for k in S.RANGE_KEYS:
        key = f"sweep.{k}"
        value = r.param(key, S.FIELD[key].param, default=float("nan"), note="using the default range")
        if value == value:  # not NaN: given and valid
            sweep_range[k] = value
    e = replace(e, sweep_range=sweep_range)
    _, x, y, xr, yr = e.sweep_axes(optimizers)
    for axis, name, (lo, hi) in (("x", x, xr), ("y", y, yr)):
        problem = sweep_axes.range_problem(opt, name, lo, hi)
        if problem:
            r.problems.append(f"`sweep.{axis}min`/`sweep.{axis}max`: {problem}; using the default range")
            e = replace(e, sweep_range={k: v for k, v in e.sweep_range.items() if k[0] != axis})
    metric = r.choice("sweep.metric", S.SWEEP_METRICS, "metric", S.SWEEP_METRICS[0])
    basins_opts = r.names("basins.opt", limit=2)
    return replace(e, view=view, sweep_n=r.param("sweep.n", S.SWEEP_N), sweep_metric=metric,
                   basins_opts=tuple(basins_opts), basins_n=r.param("basins.n", S.BASINS_N),
                   seeds_n=r.param("seeds.n", S.SEEDS_N))


def _read_view(r: _Reader, cfg: RunConfig) -> ViewState:
    view = r.choice("view", S.VIEWS, "view", S.VIEWS[0], fallback="using overlay")
    inspect = r.raw("inspect")
    if inspect is not None and inspect not in cfg.optimizers:
        r.problems.append(f"`inspect`: {S.shown(inspect)} is not one of the selected optimizers")
        inspect = None
    k = r.param("k", Param("k", 1, low=1, high=cfg.steps, kind=int), default=0, note="using step 1")
    return ViewState(view=view, inspect=inspect, k=k or None, explore=_read_explore(r, cfg.optimizers))


def read_link(query: Mapping) -> tuple[PageState, list[str]]:
    """Read a link's query: the page's state and one message per ignored parameter.

    ``query`` maps keys to a string or a list of strings (repeated keys)."""
    r = _Reader(query)
    cfg = _read_runs(r)
    view = _read_view(r, cfg)
    r.unknown()
    return PageState(cfg, view), r.problems


def from_query(query: Mapping) -> tuple[RunConfig, list[str]]:
    """The runs of a link (:func:`read_link` without the page's view), and what was ignored of it."""
    state, problems = read_link(query)
    return state.runs, problems

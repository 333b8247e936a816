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

from optlab import schema as S
from optlab import sweep_axes
from optlab.landscape import CUSTOM
from optlab.optimizers import get_optimizer, optimizer_names
from optlab.params import Param
from optlab.schedules import get_schedule
from optlab.state import Explore, PageState, RunConfig, ViewState

MAX_LINK_FIELDS = 200  # a page's link has far fewer; a longer one is read up to here
MAX_LINK_CHARS = 16_384


# --- writing ------------------------------------------------------------------------------------------
def _family(cfg: RunConfig, key: str) -> list[tuple[str, list[Param], Mapping]]:
    """A family field's (prefix, declared params, values) groups, e.g. ("adam", adam's hparams, {lr: 0.05})."""
    if key == "<landscape>.*":
        return [(cfg.landscape, cfg.shape.params, cfg.landscape_params)]
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
        return [("formula", cfg.text)] if cfg.landscape == CUSTOM else []
    if f.type == "coord":
        if cfg.start is None or tuple(cfg.start) == cfg.shape.start:
            return []
        return [(f.key, S.fmt(cfg.start[0 if f.key == "x0" else 1]))]
    value = _get(cfg if f.record == "run" else view, f.attr)
    if f.key == "landscape":
        return [(f.key, value)]  # always written: the link says what it shows
    if f.key == "batch" and not cfg.shape.data_size:
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

    def param(self, key: str, spec: Param, fallback: str | None = None):
        """The value, or _MISSING when the link does not give a valid one (refusals are noted)."""
        raw = self.raw(key)
        if raw is None:
            return _MISSING
        try:
            return S.parse(spec, raw)
        except ValueError as e:
            self.problems.append(f"`{key}`: {e}; {fallback or f'using the default {S.fmt(spec.default)}'}")
            return _MISSING

    def choice(self, key: str, allowed, what: str, fallback: str | None = None):
        value = self.raw(key)
        if value is None or value in allowed:
            return _MISSING if value is None else value
        self.problems.append(f"`{key}`: unknown {what} {S.shown(value)}; "
                             + (fallback or f"allowed: {', '.join(allowed)}"))
        return _MISSING

    def names(self, key: str, limit: int | None = None):
        """A repeated optimizer key (``opt``, ``basins.opt``): known names, each once, order kept."""
        self.used.add(key)
        if key not in self.q:
            return _MISSING
        names: list[str] = []
        for name in self.q[key]:
            if name not in optimizer_names():
                self.problems.append(f"`{key}`: unknown optimizer {S.shown(name)} ignored")
            elif name in names:
                self.problems.append(f"`{key}`: {name} was listed twice; shown once")
            elif limit is not None and len(names) >= limit:
                self.problems.append(f"`{key}`: {S.shown(name)} ignored ({limit} optimizers at most)")
            else:
                names.append(name)
        return tuple(names)

    def family(self, groups) -> dict[str, dict]:
        """Each group's (prefix, params) values that differ from their defaults, by prefix."""
        out = {}
        for prefix, params in groups:
            values = {p.name: self.param(f"{prefix}.{p.name}", p) for p in params}
            out[prefix] = {k: v for (k, v), p in zip(values.items(), params, strict=True)
                           if v is not _MISSING and v != p.default}
        return out

    def field(self, f: S.Field, got: Mapping):
        if f.when is not None and not f.when(got):
            return _MISSING
        if f.type in ("param", "coord"):
            spec = f.spec(got)
            fallback = f"using the landscape's {f.key} ({S.fmt(spec.default)})" if f.type == "coord" else f.fallback
            return self.param(f.key, spec, fallback)
        if f.type == "choice":
            what = f.what(got) if callable(f.what) else f.what
            return self.choice(f.key, f.choices(got), what, f.fallback)
        if f.type == "names":
            return self.names(f.key, f.limit)
        if f.type == "family":
            return self.family(f.groups(got))
        return self.raw(f.key)  # text

    def unknown(self) -> None:
        for key in self.q:
            if key not in self.used:
                self.problems.append(f"{S.shown(key)} is not a parameter of this page; ignored")


_MISSING = object()  # a field the link leaves out or gives no valid value for: the record's default


# --- the rules between fields: each runs after the field it is keyed by, on the values read so far -----------
def _formula(got: dict, problems: list[str]) -> None:
    from optlab.formula import FormulaBusy, FormulaError, compile_formula, compile_later

    if "formula" not in got:
        return
    try:
        compile_formula(got["formula"])
    except FormulaBusy:  # not a verdict on the formula: it is kept, tried again in the background, and the page
        compile_later(got["formula"])  # says it cannot run yet
    except FormulaError as e:
        problems.append(f"`formula`: {S.shown(got['formula'])} is not accepted ({S.plain(e)}); using the default "
                        "formula")
        del got["formula"]


def _landscape_params(got: dict, problems: list[str]) -> None:
    from optlab.formula import FormulaBusy

    (name, params), = got["<landscape>.*"].items()
    try:
        S.landscape_of(name, got.get("formula"), params)
    except FormulaBusy:  # the formula waits for a worker: its domain, checked before it is compiled, is fine
        pass
    except ValueError as e:  # rules between parameters, e.g. an empty custom domain
        problems.append(f"`{name}.*`: {e}; using the default parameters")
        got["<landscape>.*"] = {name: {}}


def _optimizers(got: dict, problems: list[str]) -> None:
    if got.get("opt") == ():
        problems.append("`opt`: no valid optimizer; showing adam and sgd")
        del got["opt"]


def _combinations(got: dict, problems: list[str]) -> None:
    for name, values in got["<opt>.*"].items():
        opt = get_optimizer(name)
        problem = opt.check({**opt.defaults, **values}) if opt.check else None
        if problem:  # a combination torch rejects: fall back to this optimizer's defaults
            problems.append(f"`{name}.*`: {problem}; using {name}'s defaults")
            got["<opt>.*"][name] = {}


def _torch(got: dict, problems: list[str]) -> None:
    """A torch class from a module the server allows (the name is checked as text before any import)."""
    from optlab import torch_choice

    if not (got.get("torch") or "").strip():  # left out (None) or empty: no torch class
        got.pop("torch", None)
        return
    try:
        torch_choice.resolve(got["torch"])
    except torch_choice.TorchChoiceError as e:
        problems.append(f"`torch`: {S.shown(got['torch'], 60)}: {S.plain(e)}; ignored")
        del got["torch"]


def _torch_args(got: dict, problems: list[str]) -> None:
    from optlab import torch_choice

    if got.get("torch.args") is None:
        got.pop("torch.args", None)
        return
    if "torch" not in got:  # no class (or one refused above): nothing to pass them to
        if got["torch.args"].strip() and not any("`torch`" in p for p in problems):
            problems.append("`torch.args`: no torch class (`torch`) to pass them to; ignored")
        del got["torch.args"]
        return
    try:
        torch_choice.parse_kwargs(got["torch.args"])
    except torch_choice.TorchChoiceError as e:
        problems.append(f"`torch.args`: {S.shown(got['torch.args'], 60)}: {S.plain(e)}; using none")
        del got["torch.args"]


def _batch(got: dict, problems: list[str]) -> None:
    batch = got.get("batch", 0)
    if not batch:
        return
    name = got.get("landscape", S.DEFAULT_LANDSCAPE)
    size = S.shape_of(name).data_size  # a formula is not compiled for this: it has no data
    title = "Your formula" if name == CUSTOM else S.landscape_of(name).title
    if not size:
        problems.append(f"`batch`: {title} is not built from data, so it has no minibatches; ignored")
        del got["batch"]
    elif batch > size:
        problems.append(f"`batch`: {batch} is more than the {size} examples of {title}; using all")
        del got["batch"]


def _sweep_y(got: dict, problems: list[str]) -> None:
    if got.get("sweep.y") is not None and got["sweep.y"] == got.get("sweep.x", "lr"):
        problems.append(f"`sweep.y`: the same hyperparameter as the x axis ({got['sweep.y']}); using the default")
        del got["sweep.y"]


def _sweep_ranges(got: dict, problems: list[str]) -> None:
    optimizers = got.get("opt", S.DEFAULT_OPTIMIZERS)
    ranges = {k: got[f"sweep.{k}"] for k in S.RANGE_KEYS if f"sweep.{k}" in got}
    e = Explore(sweep_opt=got.get("sweep.opt"), sweep_x=got.get("sweep.x"), sweep_y=got.get("sweep.y"),
                sweep_range=ranges)
    opt, x, y, xr, yr = e.sweep_axes(optimizers)
    for axis, name, (lo, hi) in (("x", x, xr), ("y", y, yr)):
        problem = sweep_axes.range_problem(opt, name, lo, hi)
        if problem:
            problems.append(f"`sweep.{axis}min`/`sweep.{axis}max`: {problem}; using the default range")
            for k in (f"sweep.{axis}min", f"sweep.{axis}max"):
                got.pop(k, None)


RULES = {"formula": _formula, "<landscape>.*": _landscape_params, "opt": _optimizers, "<opt>.*": _combinations,
         "torch": _torch, "torch.args": _torch_args, "batch": _batch, "sweep.y": _sweep_y, "sweep.ymax": _sweep_ranges}


# --- the records from the values read ---------------------------------------------------------------------------
def _records(got: Mapping) -> PageState:
    """The typed records of the values read (URL key -> value; a missing key: the record's default)."""
    fields: dict[str, dict] = {"run": {}, "view": {}, "explore": {}}
    for f in S.FIELDS:
        if f.key not in got or f.type == "coord":
            continue
        value = got[f.key]
        if f.type == "family":  # by prefix; one group unless the field has one per optimizer
            value = {k: v for k, v in value.items() if v} if f.key == "<opt>.*" else next(iter(value.values()))
        record, attr = (("explore", f.attr.removeprefix("explore.")) if f.attr.startswith("explore.")
                        else (f.record, f.attr))
        head, _, tail = attr.partition(".")
        if tail:  # a nested mapping, e.g. explore.sweep_range.xmin
            fields[record].setdefault(head, {})[tail] = value
        else:
            fields[record][head] = value
    runs = RunConfig(**fields["run"])
    if "x0" in got or "y0" in got:  # each on its own: a valid y0 is kept when x0 is not
        land = runs.land
        start = tuple(float(got.get(k, land.start[axis])) for axis, k in enumerate(("x0", "y0")))
        runs = replace(runs, start=None if start == tuple(map(float, land.start)) else start)
    return PageState(runs, ViewState(**fields["view"], explore=Explore(**fields["explore"])))


def read_link(query: Mapping) -> tuple[PageState, list[str]]:
    """Read a link's query: the page's state and one message per ignored parameter.

    Each field of the schema is read by its type, in the schema's order, from what the fields before it
    accept; then the rule between fields that follows it, if any. ``query`` maps keys to a string or a list
    of strings (repeated keys)."""
    r = _Reader(query)
    got: dict = {}
    for f in S.FIELDS:
        value = r.field(f, got)
        if value is not _MISSING:
            got[f.key] = value
        if f.key in RULES:
            RULES[f.key](got, r.problems)
    r.unknown()
    return _records(got), r.problems


def from_query(query: Mapping) -> tuple[RunConfig, list[str]]:
    """The runs of a link (:func:`read_link` without the page's view), and what was ignored of it."""
    state, problems = read_link(query)
    return state.runs, problems

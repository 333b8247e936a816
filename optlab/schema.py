"""The page's state, declared once: every field with its URL key, its type and its default.

The URL codec (optlab.link), the widgets' keys (a widget's key is its field's URL key), the
presets (links), the JSON export and the cache keys (the typed records of optlab.state) are
all derived from :data:`FIELDS`. The schema (README, "URL schema"):

    landscape=rosenbrock          a registered landscape, or landscape=custom&formula=x^2%2B10*y^2
    <landscape>.<param>=...       its shape parameters, e.g. rotated_bowl.kappa=100, custom.xmin=-2
    opt=adam&opt=sgd              optimizers, repeated, order kept
    <opt>.<hp>=...                hyperparameters with torch.optim's names, e.g. adam.lr=0.05
    torch=torch.optim.Adam        a torch optimizer class from a module the server allows (optlab.torch_choice)
    torch.args=lr%3D0.01          its keyword arguments, literals only
    steps, x0, y0, seed           run length, start, noise seed
    schedule=cosine, schedule.<param>=...
    noise=0.1, clip=1.0           gradient noise scale, gradient-norm clipping
    batch=8                       minibatch size on landscapes built from data (default: all examples)
    view, inspect, k              how the comparison is shown: overlay or multiples, the step inspector
    explore, sweep.*, basins.*, seeds.*   the explore page's view and settings
    train=true, train.grid        the networks page (full training, projected), its plane's grid
    train.muon, train.muon_lr     a Muon run there (weight matrices; optlab.muon), its learning rate
    train.plane                   its shared plane: pca (principal directions) or ends (θ₀ and two ends)
    train.seeds                   minibatch seeds of its bands (1: none)

Values equal to their defaults are left out of a link.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

from landscapes import get_landscape, landscape_names
from optlab import full_training, sweep_axes, sweeps
from optlab.landscape import CUSTOM
from optlab.optimizers import get_optimizer, optimizer_names
from optlab.params import Param
from optlab.schedules import get_schedule, schedule_names

APP_MAX_STEPS = 5000  # the dashboard's cap (simulate() allows MAX_STEPS)
DEFAULT_LANDSCAPE = "rosenbrock"
DEFAULT_OPTIMIZERS = ("adam", "sgd")

STEPS = Param("steps", 300, low=1, high=APP_MAX_STEPS, kind=int, ui_step=50, help="number of steps")
SEED = Param("seed", 0, low=0, high=2**32 - 1, kind=int, help="seed of the gradient noise")
NOISE = Param("noise", 0.0, low=0.0, high=1e6, ui_low=0.0, ui_high=10.0, symbol=r"\sigma",
              help="gradient noise: standard deviation added to each gradient coordinate, as minibatches would")
CLIP = Param("clip", 0.0, low=0.0, high=1e12, ui_low=0.0, ui_high=100.0, symbol="c",
             help="gradient-norm clipping threshold (0: off)")
COORD = Param("x0", 0.0, low=-1e6, high=1e6, ui_step=0.1)
BATCH = Param("batch", 0, low=0, high=100_000, kind=int,
              help="Each step's gradient is the mean over this many examples, sampled with the seed in shuffled "
                   "epochs: a minibatch gradient, not the full gradient, as in real minibatch SGD (0: all of them; "
                   "on landscapes built from data)")

VIEWS = ("overlay", "multiples")
EXPLORE_VIEWS = ("sensitivity", "basins", "seeds")
SWEEP_METRICS = ("final_loss", "steps_to_tol")
SWEEP_N = Param("sweep.n", 60, low=2, high=sweeps.MAX_SWEEP_CELLS, kind=int, ui_step=10,
                help="cells per axis of the sweep grid")
BASINS_N = Param("basins.n", 100, low=2, high=sweeps.MAX_BASIN_CELLS, kind=int, ui_step=10,
                 help="start points per axis of the basin map")
SEEDS_N = Param("seeds.n", 20, low=2, high=sweeps.MAX_SEEDS, kind=int, ui_step=5, help="seeds per optimizer")
RANGE_KEYS = ("xmin", "xmax", "ymin", "ymax")
TRAIN = Param("train", False, kind=bool, help="open the networks page: full training, projected honestly")
TRAIN_GRID = Param("train.grid", full_training.GRID, low=2, high=full_training.MAX_GRID, kind=int, ui_step=10,
                   help="points per axis of the loss computed over the shared plane (the grid costs a full "
                        "loss evaluation per point)")
TRAIN_SEEDS = Param("train.seeds", 1, low=1, high=full_training.MAX_SEEDS, kind=int,
                    help="minibatch seeds per optimizer: the range of the training loss and test accuracy over "
                         "them, shaded (1: none; minibatches only)")
TRAIN_MUON = Param("train.muon", False, kind=bool,
                   help="also train with Muon: torch.optim.Muon on the weight matrices, AdamW on the biases")
TRAIN_MUON_LR = Param("train.muon_lr", 1e-3, low=0.0, high=10.0, ui_low=1e-4, ui_high=1.0, log=True,
                      symbol=r"\eta", help="Muon's learning rate (default 0.001, torch.optim.Muon's)")


def landscape_of(name: str, formula: str | None = None, params: Mapping | None = None):
    """The landscape record of a landscape name (for ``custom``, built from the formula: FormulaError if it is
    not accepted) with its shape parameters."""
    if name == CUSTOM:
        from optlab.formula import DEFAULT_FORMULA, formula_landscape

        return formula_landscape(formula or DEFAULT_FORMULA, **(params or {}))
    return get_landscape(name, **(params or {}))


class Shape(NamedTuple):
    params: tuple  # the landscape's declared parameters
    start: tuple[float, float]
    data_size: int  # examples of the dataset it is built from; 0 when it is not built from data


def shape_of(name: str, params: Mapping | None = None) -> Shape:
    """What the page and the link need of a landscape besides its function, without compiling a formula (it
    may be waiting for a worker): a formula's parameters are its domain's, its start follows from the domain,
    and it has no data."""
    if name == CUSTOM:
        from optlab.formula import DOMAIN_PARAMS, check_domain, start_in

        return Shape(DOMAIN_PARAMS, start_in(check_domain(**(params or {}))), 0)
    land = get_landscape(name, **(params or {}))
    return Shape(land.params, tuple(land.start), land.data_size or 0)


def _land(got: Mapping) -> Shape:
    """The shape of the landscape the fields of a link read so far name, its shape parameters not applied."""
    return shape_of(got.get("landscape", DEFAULT_LANDSCAPE))


def _optimizers(got: Mapping) -> tuple[str, ...]:
    return tuple(got.get("opt", DEFAULT_OPTIMIZERS))


def _sweep_opt(got: Mapping) -> str:
    return got.get("sweep.opt") or _optimizers(got)[0]


def _coord(axis: int):
    key = ("x0", "y0")[axis]

    def spec(got: Mapping) -> Param:
        return replace(COORD, name=key, default=float(_land(got).start[axis]))

    return spec


@dataclass(frozen=True)
class Field:
    """One piece of the page's state.

    key: its URL key, also its widget's key. record/attr: where the typed records hold it
    ("run": optlab.state.RunConfig, "view": optlab.state.ViewState; a dotted attr goes into a
    nested record). type: "param" (a number or flag checked by ``param``), "choice" (one of
    ``choices``), "names" (a repeated key: a list of optimizer names, order kept, at most ``limit``),
    "text", "coord" (a start coordinate) or "family" (keys made from a prefix and each declared Param
    of the landscape, the optimizers or the schedule: ``<landscape>.<p>``, ``<opt>.<hp>``,
    ``schedule.<p>``, as ``groups`` lists them). default: the value a link leaves out (None: it depends
    on other fields, e.g. the landscape's start). widget: the kind of control drawn for it ("" for none).

    Reading a link (optlab.link) is derived from these: ``choices``, ``groups`` and a callable ``param``
    take the fields read before (URL key -> value) and give what this field accepts; ``when`` says
    whether the field belongs to the page at all (``formula`` only with ``landscape=custom``); ``what``
    and ``fallback`` make the message for a value it refuses. The rules between fields (a combination
    torch rejects, a sweep's range) are optlab.link's ``RULES``, run after the field they follow.
    """

    key: str
    record: str
    attr: str
    type: str
    default: object = None
    param: Param | Callable[[Mapping], Param] | None = None
    widget: str = ""
    choices: Callable[[Mapping], Sequence[str]] | None = None
    groups: Callable[[Mapping], list[tuple[str, Sequence[Param]]]] | None = None
    when: Callable[[Mapping], bool] | None = None
    what: str | Callable[[Mapping], str] = ""
    fallback: str | None = None  # the end of a refusal's message (default: "allowed: ...", or the default used)
    limit: int | None = None
    label: str = ""  # the widget's label (plain text; default: the key)
    title: Callable[[str], str] | None = None  # how a choice is shown (default: as it is)

    def spec(self, got: Mapping) -> Param:
        return self.param(got) if callable(self.param) else self.param


def _views(*names):
    return lambda got: names


FIELDS: tuple[Field, ...] = (
    # what to run: everything that changes a trajectory
    Field("landscape", "run", "landscape", "choice", DEFAULT_LANDSCAPE, widget="selectbox", label="landscape",
          title=lambda n: "✎ Your own formula…" if n == CUSTOM else get_landscape(n).title,
          choices=lambda got: (*landscape_names(), CUSTOM), what="landscape", fallback=f"using {DEFAULT_LANDSCAPE}"),
    Field("formula", "run", "formula", "text", widget="text_input",
          when=lambda got: got.get("landscape") == CUSTOM),
    Field("<landscape>.*", "run", "landscape_params", "family", widget="param",
          groups=lambda got: [(got.get("landscape", DEFAULT_LANDSCAPE), _land(got).params)]),
    Field("opt", "run", "optimizers", "names", DEFAULT_OPTIMIZERS, widget="multiselect", label="optimizers",
          choices=lambda got: optimizer_names(), title=lambda n: get_optimizer(n).title),
    Field("<opt>.*", "run", "hparams", "family", widget="param",
          groups=lambda got: [(name, get_optimizer(name).hparams) for name in _optimizers(got)]),
    # a torch optimizer class (not verified by us) and its keyword arguments: text, checked by link's rule
    Field("torch", "run", "torch_class", "text", widget="selectbox", label="torch optimizer class"),
    Field("torch.args", "run", "torch_args", "text", "", widget="text_input", label="keyword arguments"),
    Field("steps", "run", "steps", "param", STEPS.default, STEPS, widget="number_input"),
    Field("x0", "run", "start", "coord", param=_coord(0), widget="number_input", label="start x"),
    Field("y0", "run", "start", "coord", param=_coord(1), widget="number_input", label="start y"),
    Field("seed", "run", "seed", "param", SEED.default, SEED, widget="number_input"),
    Field("schedule", "run", "schedule", "choice", "constant", widget="selectbox", label="learning-rate schedule",
          title=lambda n: get_schedule(n).title,
          choices=lambda got: schedule_names(), what="schedule", fallback="using constant"),
    Field("schedule.*", "run", "schedule_params", "family", widget="param",
          groups=lambda got: [("schedule", get_schedule(got.get("schedule", "constant")).params)]),
    Field("noise", "run", "noise", "param", NOISE.default, NOISE, widget="param", label="gradient noise σ"),
    Field("clip", "run", "clip", "param", CLIP.default, CLIP, widget="param", label="clip gradient norm (0 = off)"),
    Field("batch", "run", "batch", "param", BATCH.default, BATCH, widget="number_input"),
    # how the page shows them
    Field("view", "view", "view", "choice", VIEWS[0], widget="radio", choices=_views(*VIEWS), what="view",
          fallback="using overlay", title={"overlay": "overlaid", "multiples": "one panel each"}.get),
    Field("inspect", "view", "inspect", "choice", widget="selectbox",  # default: the first optimizer
          choices=lambda got: (*_optimizers(got), *([got["torch"]] if "torch" in got else ())),
          what="optimizer (not one of the selected)"),
    Field("k", "view", "k", "param", None, lambda got: Param("k", 1, low=1, high=got.get("steps", STEPS.default),
                                                             kind=int), widget="slider", fallback="using step 1"),
    Field("explore", "view", "explore.view", "choice", widget="radio",  # default: the comparison page
          choices=_views(*EXPLORE_VIEWS), what="view"),
    Field("sweep.opt", "view", "explore.sweep_opt", "choice", widget="selectbox",  # default: the first optimizer
          choices=lambda got: optimizer_names(), what="optimizer", fallback="using the first optimizer",
          label="optimizer", title=lambda n: get_optimizer(n).title),
    *(Field(f"sweep.{axis}", "view", f"explore.sweep_{axis}", "choice", widget="selectbox",  # default: lr, and
            choices=lambda got: sweep_axes.sweepable(_sweep_opt(got)),  # sweep_axes.default_axes
            what=lambda got: f"numeric hyperparameter of {_sweep_opt(got)}",
            label={"x": "across (x)", "y": "down (y)"}[axis]) for axis in ("x", "y")),
    *(Field(f"sweep.{k}", "view", f"explore.sweep_range.{k}", "param", None, Param(f"sweep.{k}", 0.0),
            widget="number_input", fallback="using the default range")
      for k in RANGE_KEYS),  # default: the slider's range
    Field("sweep.n", "view", "explore.sweep_n", "param", SWEEP_N.default, SWEEP_N, widget="number_input",
          label="cells per axis"),
    Field("sweep.metric", "view", "explore.sweep_metric", "choice", SWEEP_METRICS[0], widget="radio",
          choices=_views(*SWEEP_METRICS), what="metric", label="colour",
          title={"final_loss": "final loss", "steps_to_tol": "steps to tolerance"}.get),
    Field("basins.opt", "view", "explore.basins_opts", "names", (), widget="multiselect", limit=2,
          label="optimizers (one or two)", choices=lambda got: optimizer_names(),
          title=lambda n: get_optimizer(n).title),
    Field("basins.n", "view", "explore.basins_n", "param", BASINS_N.default, BASINS_N, widget="number_input",
          label="starts per axis"),
    Field("seeds.n", "view", "explore.seeds_n", "param", SEEDS_N.default, SEEDS_N, widget="number_input",
          label="seeds per optimizer"),
    Field("train", "view", "train", "param", TRAIN.default, TRAIN),  # the page that is open, not a widget
    Field("train.grid", "view", "train_grid", "param", TRAIN_GRID.default, TRAIN_GRID, widget="number_input",
          label="plane grid (points per axis)"),
    Field("train.seeds", "view", "train_seeds", "param", TRAIN_SEEDS.default, TRAIN_SEEDS, widget="number_input",
          label="seeds (bands)"),
    Field("train.muon", "view", "train_muon", "param", TRAIN_MUON.default, TRAIN_MUON, widget="checkbox",
          label="also Muon (weight matrices)"),
    Field("train.plane", "view", "train_plane", "choice", full_training.PLANES[0], widget="radio",
          choices=_views(*full_training.PLANES), what="plane", fallback="using pca", label="shared plane",
          title={"pca": "principal directions", "ends": "through two ends"}.get),
    Field("train.muon_lr", "view", "train_muon_lr", "param", TRAIN_MUON_LR.default, TRAIN_MUON_LR,
          widget="number_input", label="Muon's lr"),
)
FIELD = {f.key: f for f in FIELDS}
RUN_KEYS = tuple(f.key for f in FIELDS if f.record == "run")
VIEW_KEYS = tuple(f.key for f in FIELDS if f.record == "view")
VIEW_PREFIXES = ("sweep.", "basins.", "seeds.", "train.")  # the explore and networks pages' keys, as JSON keeps them


def is_view_key(key: str) -> bool:
    return key in VIEW_KEYS or key.startswith(VIEW_PREFIXES)


def fmt(value) -> str:
    """A value as a link writes it: the shortest text that reads back to the same number."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or isinstance(value, str):  # a choice (kind str)
        return "none" if value is None else value
    if isinstance(value, int):
        return str(value)
    return repr(float(value)) if not float(value).is_integer() or abs(value) >= 1e16 else str(int(value))


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


def parse(spec: Param, raw: str):
    """A link's value as the spec's type; ValueError with a reason if it is not valid."""
    text = raw.strip()
    if spec.kind is str:  # a choice, as torch spells it; None as "none"
        for choice in spec.choices:
            if text == choice or (choice is None and text.lower() == "none"):
                return choice
        raise ValueError(f"{shown(raw)} is not {spec.allowed}")
    if spec.kind is bool:
        if text.lower() in ("true", "1", "yes", "on"):
            return True
        if text.lower() in ("false", "0", "no", "off"):
            return False
        raise ValueError(f"{shown(raw)} is not true or false")
    if spec.none and text.lower() == "none":  # a float that may be None (Prodigy's beta3: √β2)
        return None
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

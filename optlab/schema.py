"""The page's state, declared once: every field with its URL key, its type and its default.

The URL codec (optlab.link), the widgets' keys (a widget's key is its field's URL key), the
presets (links), the JSON export and the cache keys (the typed records of optlab.state) are
all derived from :data:`FIELDS`. The schema (README, "URL schema"):

    landscape=rosenbrock          a registered landscape, or landscape=custom&formula=x^2%2B10*y^2
    <landscape>.<param>=...       its shape parameters, e.g. rotated_bowl.kappa=100, custom.xmin=-2
    opt=adam&opt=sgd              optimizers, repeated, order kept
    <opt>.<hp>=...                hyperparameters with torch.optim's names, e.g. adam.lr=0.05
    steps, x0, y0, seed           run length, start, noise seed
    schedule=cosine, schedule.<param>=...
    noise=0.1, clip=1.0           gradient noise scale, gradient-norm clipping
    batch=8                       minibatch size on landscapes built from data (default: all examples)
    view, inspect, k              how the comparison is shown: overlay or multiples, the step inspector
    explore, sweep.*, basins.*, seeds.*   the explore page's view and settings

Values equal to their defaults are left out of a link.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from optlab import sweeps
from optlab.params import Param

APP_MAX_STEPS = 5000  # the dashboard's cap (simulate() allows MAX_STEPS)
DEFAULT_LANDSCAPE = "rosenbrock"
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

VIEWS = ("overlay", "multiples")
EXPLORE_VIEWS = ("sensitivity", "basins", "seeds")
SWEEP_METRICS = ("final_loss", "steps_to_tol")
SWEEP_N = Param("sweep.n", 60, low=2, high=sweeps.MAX_SWEEP_CELLS, kind=int, help="cells per axis of the sweep grid")
BASINS_N = Param("basins.n", 100, low=2, high=sweeps.MAX_BASIN_CELLS, kind=int,
                 help="start points per axis of the basin map")
SEEDS_N = Param("seeds.n", 20, low=2, high=sweeps.MAX_SEEDS, kind=int, help="seeds per optimizer")
RANGE_KEYS = ("xmin", "xmax", "ymin", "ymax")


@dataclass(frozen=True)
class Field:
    """One piece of the page's state.

    key: its URL key, also its widget's key. record/attr: where the typed records hold it
    ("run": optlab.state.RunConfig, "view": optlab.state.ViewState; a dotted attr goes into a
    nested record). type: "param" (a number or flag checked by ``param``), "choice" (one of a set
    of names), "names" (a repeated key: a list of names, order kept), "text", "coord" (a start
    coordinate) or "family" (keys made from a prefix and each declared Param of the landscape, the
    optimizer or the schedule: ``<landscape>.<p>``, ``<opt>.<hp>``, ``schedule.<p>``). default:
    the value a link leaves out (None: it depends on other fields, e.g. the landscape's start).
    widget: the kind of control drawn for it ("" for none).
    """

    key: str
    record: str
    attr: str
    type: str
    default: object = None
    param: Param | None = None
    widget: str = ""


FIELDS: tuple[Field, ...] = (
    # what to run: everything that changes a trajectory
    Field("landscape", "run", "landscape", "choice", DEFAULT_LANDSCAPE, widget="selectbox"),
    Field("formula", "run", "formula", "text", widget="text_input"),
    Field("<landscape>.*", "run", "landscape_params", "family", widget="param"),
    Field("opt", "run", "optimizers", "names", DEFAULT_OPTIMIZERS, widget="multiselect"),
    Field("<opt>.*", "run", "hparams", "family", widget="param"),
    Field("steps", "run", "steps", "param", STEPS.default, STEPS, widget="number_input"),
    Field("x0", "run", "start", "coord", widget="number_input"),
    Field("y0", "run", "start", "coord", widget="number_input"),
    Field("seed", "run", "seed", "param", SEED.default, SEED, widget="number_input"),
    Field("schedule", "run", "schedule", "choice", "constant", widget="selectbox"),
    Field("schedule.*", "run", "schedule_params", "family", widget="param"),
    Field("noise", "run", "noise", "param", NOISE.default, NOISE, widget="param"),
    Field("clip", "run", "clip", "param", CLIP.default, CLIP, widget="param"),
    Field("batch", "run", "batch", "param", BATCH.default, BATCH, widget="number_input"),
    # how the page shows them
    Field("view", "view", "view", "choice", VIEWS[0], widget="radio"),
    Field("inspect", "view", "inspect", "choice", widget="selectbox"),  # default: the first optimizer
    Field("k", "view", "k", "param", None, Param("k", 1, low=1, high=APP_MAX_STEPS, kind=int), widget="slider"),
    Field("explore", "view", "explore.view", "choice", widget="radio"),  # default: the comparison page
    Field("sweep.opt", "view", "explore.sweep_opt", "choice", widget="selectbox"),  # default: the first optimizer
    Field("sweep.x", "view", "explore.sweep_x", "choice", widget="selectbox"),  # default: lr
    Field("sweep.y", "view", "explore.sweep_y", "choice", widget="selectbox"),  # default: sweep_axes.default_axes
    *(Field(f"sweep.{k}", "view", f"explore.sweep_range.{k}", "param", None, Param(f"sweep.{k}", 0.0),
            widget="number_input") for k in RANGE_KEYS),  # default: the slider's range
    Field("sweep.n", "view", "explore.sweep_n", "param", SWEEP_N.default, SWEEP_N, widget="number_input"),
    Field("sweep.metric", "view", "explore.sweep_metric", "choice", SWEEP_METRICS[0], widget="radio"),
    Field("basins.opt", "view", "explore.basins_opts", "names", (), widget="multiselect"),  # default: first two
    Field("basins.n", "view", "explore.basins_n", "param", BASINS_N.default, BASINS_N, widget="number_input"),
    Field("seeds.n", "view", "explore.seeds_n", "param", SEEDS_N.default, SEEDS_N, widget="number_input"),
)
FIELD = {f.key: f for f in FIELDS}
RUN_KEYS = tuple(f.key for f in FIELDS if f.record == "run")
VIEW_KEYS = tuple(f.key for f in FIELDS if f.record == "view")
VIEW_PREFIXES = ("sweep.", "basins.", "seeds.")  # the explore page's keys, as a JSON export's "query" keeps them


def is_view_key(key: str) -> bool:
    return key in VIEW_KEYS or key.startswith(VIEW_PREFIXES)


def fmt(value) -> str:
    """A value as a link writes it: the shortest text that reads back to the same number."""
    if isinstance(value, bool):
        return "true" if value else "false"
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

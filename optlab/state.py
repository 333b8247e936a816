"""The page's state as two typed records: what to run, and how the page shows it.

:class:`RunConfig` is everything that changes a trajectory; equal configs give equal runs, and a
config is hashable, so it is the runs' cache key. :class:`ViewState` is how the page shows them
(overlay or small multiples, the step inspector, the explore page's view and its settings).
:class:`PageState` is the two together: what a link holds (optlab.link reads and writes it).
Fields and defaults are declared in optlab.schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from optlab import schema as S
from optlab import sweep_axes
from optlab.landscape import CUSTOM, Landscape
from optlab.optimizers import get_optimizer


class Frozen(dict):
    """A dict that is hashable and refuses changes: the records' mappings (hyperparameters, ranges)."""

    def __hash__(self):
        return hash(tuple(sorted(self.items())))

    def _refuse(self, *args, **kwargs):
        raise TypeError("a Frozen mapping cannot be changed; build a new one")

    __setitem__ = __delitem__ = update = pop = popitem = clear = setdefault = _refuse

    def __reduce__(self):
        return Frozen, (dict(self),)


def _plain(value):
    """-0.0 as 0.0 (a link writes both as 0, and equal records must write equal links and JSON)."""
    return value + 0.0 if isinstance(value, float) else value


def frozen(mapping: Mapping | None, depth: int = 1) -> Frozen:
    items = dict(mapping or {})
    if depth > 1:
        return Frozen({k: frozen(v, depth - 1) for k, v in items.items()})
    return Frozen({k: _plain(v) for k, v in items.items()})


@dataclass(frozen=True)
class RunConfig:
    """What to run: landscape, optimizers and their hyperparameters, steps, start, schedule, noise, ..."""

    landscape: str = S.DEFAULT_LANDSCAPE
    landscape_params: Mapping = field(default_factory=Frozen)
    formula: str | None = None  # landscape=custom only: the typed-in f(x, y) (None: the default formula)
    optimizers: tuple[str, ...] = S.DEFAULT_OPTIMIZERS
    hparams: Mapping = field(default_factory=Frozen)  # optimizer -> {hp: value}, non-defaults only
    steps: int = S.STEPS.default
    start: tuple[float, float] | None = None  # None: the landscape's own start
    seed: int = S.SEED.default
    schedule: str = "constant"
    schedule_params: Mapping = field(default_factory=Frozen)
    noise: float = S.NOISE.default
    clip: float = S.CLIP.default
    batch: int = S.BATCH.default  # minibatch size (0: the full dataset); landscapes built from data only
    # a torch optimizer class compared beside the declarations ("torch.optim.Adam", from a module the server
    # allows: optlab.torch_choice), and its keyword arguments as typed ("lr=0.01, betas=(0.9, 0.99)")
    torch_class: str | None = None
    torch_args: str = ""

    def __post_init__(self):
        object.__setattr__(self, "landscape_params", frozen(self.landscape_params))
        object.__setattr__(self, "hparams", frozen(self.hparams, depth=2))
        object.__setattr__(self, "schedule_params", frozen(self.schedule_params))
        object.__setattr__(self, "optimizers", tuple(self.optimizers))
        if self.start is not None:
            object.__setattr__(self, "start", (float(self.start[0]) + 0.0, float(self.start[1]) + 0.0))

    @property
    def land(self) -> Landscape:
        """The landscape; for landscape=custom, built from the formula (FormulaError if it is not accepted)."""
        return S.landscape_of(self.landscape, self.formula, self.landscape_params)

    @property
    def shape(self) -> S.Shape:
        """The landscape's parameters, start and data size, without compiling a formula."""
        return S.shape_of(self.landscape, self.landscape_params)

    @property
    def text(self) -> str | None:
        """landscape=custom: the formula's text (the default formula's when none is given); else None."""
        if self.landscape != CUSTOM:
            return None
        from optlab.formula_grammar import DEFAULT_FORMULA

        return self.formula or DEFAULT_FORMULA

    @property
    def start_point(self) -> tuple[float, float]:
        return self.start if self.start is not None else self.shape.start

    def hp(self, optimizer: str) -> dict:
        """Every hyperparameter of one optimizer, defaults filled in."""
        return {**get_optimizer(optimizer).defaults, **self.hparams.get(optimizer, {})}

    def with_hp(self, optimizer: str, **values) -> RunConfig:
        defaults = get_optimizer(optimizer).defaults
        merged = {**self.hparams.get(optimizer, {}), **values}
        merged = {k: v for k, v in merged.items() if v != defaults[k]}
        hparams = {**self.hparams, optimizer: merged}
        return replace(self, hparams={k: v for k, v in hparams.items() if v})


@dataclass(frozen=True)
class Explore:
    """The explore page's views (optlab.sweeps); None/empty means "the default".

    Defaults follow the comparison: the sweep's optimizer is the page's first, its axes lr and
    the optimizer's next hyperparameter over their slider ranges; the basin map compares the
    page's first two optimizers. :meth:`resolved` spells the defaults out, :meth:`normalized`
    leaves them out again: the one place they are worked out.
    """

    view: str | None = None  # one of EXPLORE_VIEWS (the explore page), or None: the comparison page
    sweep_opt: str | None = None
    sweep_x: str | None = None
    sweep_y: str | None = None
    sweep_range: Mapping = field(default_factory=Frozen)  # RANGE_KEYS -> value, non-defaults only
    sweep_n: int = S.SWEEP_N.default
    sweep_metric: str = S.SWEEP_METRICS[0]
    basins_opts: tuple[str, ...] = ()
    basins_n: int = S.BASINS_N.default
    seeds_n: int = S.SEEDS_N.default

    def __post_init__(self):
        object.__setattr__(self, "sweep_range", frozen(self.sweep_range))
        object.__setattr__(self, "basins_opts", tuple(self.basins_opts))

    def sweep_axes(self, optimizers) -> tuple[str, str, str, tuple[float, float], tuple[float, float]]:
        """(optimizer, x, y, x range, y range), defaults resolved."""
        opt = self.sweep_opt or optimizers[0]
        x = self.sweep_x if self.sweep_x in sweep_axes.sweepable(opt) else "lr"
        _, dy = sweep_axes.default_axes(opt, x)
        y = self.sweep_y if self.sweep_y in sweep_axes.sweepable(opt) and self.sweep_y != x else dy
        (xlo, xhi), (ylo, yhi) = sweep_axes.axis_range(opt, x), sweep_axes.axis_range(opt, y)
        r = self.sweep_range
        return opt, x, y, (r.get("xmin", xlo), r.get("xmax", xhi)), (r.get("ymin", ylo), r.get("ymax", yhi))

    def basin_optimizers(self, optimizers) -> tuple[str, ...]:
        return self.basins_opts or tuple(optimizers[:2])

    def resolved(self, optimizers) -> dict:
        """Every setting by its URL key, defaults spelled out (what the widgets show)."""
        out = {"sweep.n": self.sweep_n, "sweep.metric": self.sweep_metric, "basins.n": self.basins_n,
               "seeds.n": self.seeds_n}
        if optimizers:
            opt, x, y, (xlo, xhi), (ylo, yhi) = self.sweep_axes(optimizers)
            out |= {"sweep.opt": opt, "sweep.x": x, "sweep.y": y, "sweep.xmin": xlo, "sweep.xmax": xhi,
                    "sweep.ymin": ylo, "sweep.ymax": yhi, "basins.opt": list(self.basin_optimizers(optimizers))}
        return out

    @classmethod
    def normalized(cls, values: Mapping, optimizers, view: str | None = None) -> Explore:
        """The settings of ``values`` (URL keys -> values, as :meth:`resolved` gives), defaults left out."""
        first = optimizers[0]
        opt = values.get("sweep.opt") or first
        e = cls(sweep_opt=opt, sweep_x=values.get("sweep.x"), sweep_y=values.get("sweep.y"))
        opt, x, y, xr, yr = e.sweep_axes(optimizers)
        _, dy = sweep_axes.default_axes(opt, x)
        defaults = dict(zip(S.RANGE_KEYS, (*sweep_axes.axis_range(opt, x), *sweep_axes.axis_range(opt, y)),
                            strict=True))
        ranges = {k: float(values[f"sweep.{k}"]) for k in S.RANGE_KEYS
                  if values.get(f"sweep.{k}") is not None and float(values[f"sweep.{k}"]) != defaults[k]}
        basins = tuple(values.get("basins.opt", optimizers[:2]))
        return cls(view=view, sweep_opt=None if opt == first else opt, sweep_x=None if x == "lr" else x,
                   sweep_y=None if y == dy else y, sweep_range=ranges,
                   sweep_n=int(values.get("sweep.n", S.SWEEP_N.default)),
                   sweep_metric=values.get("sweep.metric", S.SWEEP_METRICS[0]),
                   basins_opts=() if basins == tuple(optimizers[:2]) else basins,
                   basins_n=int(values.get("basins.n", S.BASINS_N.default)),
                   seeds_n=int(values.get("seeds.n", S.SEEDS_N.default)))


@dataclass(frozen=True)
class ViewState:
    """How the page shows the runs: nothing here changes a trajectory."""

    view: str = S.VIEWS[0]
    inspect: str | None = None  # optimizer shown in the step inspector (None: the first)
    k: int | None = None  # step shown in the step inspector (None: step 1)
    explore: Explore = field(default_factory=Explore)
    train: bool = False  # the networks page (full training) is open
    train_grid: int = S.TRAIN_GRID.default  # its shared plane's grid, points per axis
    train_seeds: int = S.TRAIN_SEEDS.default  # its seed bands' seeds (1: none)
    train_muon: bool = S.TRAIN_MUON.default  # a Muon run there too (optlab.muon)
    train_muon_lr: float = S.TRAIN_MUON_LR.default
    train_plane: str = "pca"  # its shared plane: pca or ends (optlab.full_training.PLANES)


@dataclass(frozen=True)
class PageState:
    """What a link holds: the runs and how they are shown."""

    runs: RunConfig = field(default_factory=RunConfig)
    view: ViewState = field(default_factory=ViewState)


def runs_of(cfg: RunConfig | PageState) -> RunConfig:
    return cfg.runs if isinstance(cfg, PageState) else cfg

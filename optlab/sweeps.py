"""Many runs at once, summarised: sensitivity sweeps, basin maps and seed bands.

Each is one batched :func:`optlab.simulate` (split into chunks so that memory stays
bounded and progress can be reported), reduced to a small result with a tidy
``to_frame()`` for export:

- :func:`sensitivity`: one optimizer on a grid of two hyperparameters (lr on a log
  axis), each cell the final loss, best loss, steps to tolerance, divergence step.
- :func:`basins`: a grid of start points over the landscape's domain, each coloured
  by the declared minimum it reaches (or none, or diverged) and the steps it took.
- :func:`seed_bands`: N seeds of a noisy run, summarised per step by the median loss
  and its 10-90 % band.

Every run is exactly the run a single ``simulate`` call gives (the tests check it to
the last bit). Nothing here imports Streamlit.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from landscapes import get_landscape
from optlab.chunks import check_budget, in_chunks
from optlab.landscape import Landscape
from optlab.optimizers import get_optimizer
from optlab.simulation import first_within
from optlab.stability import Boundary, lr_boundary
from optlab.sweep_axes import axis_range, axis_values, default_axes, range_problem, sweepable

MAX_SWEEP_CELLS = 200  # per axis
MAX_BASIN_CELLS = 300  # per axis
MAX_SEEDS = 500
TOL = 1e-4  # steps to tolerance: the first step with f − f* ≤ TOL, as the comparison table
BASIN_RADIUS = 0.02  # a run has reached a minimum when it ends within this fraction of the domain's diagonal

Progress = Callable[[float], None]


# --- sensitivity -------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Sweep:
    """One optimizer over a grid of two hyperparameters; arrays have shape (len(y), len(x))."""

    landscape: str
    optimizer: str
    x_name: str
    y_name: str
    x: np.ndarray
    y: np.ndarray
    steps: int
    f_min: float | None
    start_loss: float  # f at the start, the same for every cell
    final_loss: np.ndarray  # NaN where the run diverged or the setting is not allowed
    best_loss: np.ndarray
    steps_to_tol: np.ndarray  # float: NaN where never within TOL of f*
    diverged_at: np.ndarray  # float: NaN where it did not diverge
    allowed: np.ndarray  # bool: False where the optimizer rejects the pair (nesterov with momentum 0)
    boundary: Boundary | None = None  # lr's stability limit along the other axis (optlab.stability), if known

    def to_frame(self) -> pd.DataFrame:
        xx, yy = np.meshgrid(self.x, self.y)
        return pd.DataFrame({
            "optimizer": self.optimizer, "landscape": self.landscape, self.x_name: xx.ravel(),
            self.y_name: yy.ravel(), "final_loss": self.final_loss.ravel(), "best_loss": self.best_loss.ravel(),
            "steps_to_tol": _as_int(self.steps_to_tol.ravel()), "diverged_at": _as_int(self.diverged_at.ravel()),
            "allowed": self.allowed.ravel(),
        })


def sensitivity(landscape, optimizer: str, *, x: str = "lr", y: str | None = None,
                x_range: tuple[float, float] | None = None, y_range: tuple[float, float] | None = None,
                n: int | tuple[int, int] = 60, start=None, steps: int = 200, hparams: dict | None = None,
                progress: Progress | None = None, **common) -> Sweep:
    """Run ``optimizer`` once per cell of an n × n grid over hyperparameters ``x`` and ``y``.

    The other hyperparameters come from ``hparams`` (default: torch's); ``common`` goes
    to simulate() unchanged (seed, schedule, noise, clip_norm, batch_size, ...).
    """
    land = get_landscape(landscape)
    opt = get_optimizer(optimizer)
    y = y or default_axes(optimizer)[1]
    names = sweepable(optimizer)
    for label, name in (("x", x), ("y", y)):
        if name not in names:
            raise ValueError(f"{label} = {name!r} cannot be swept for {optimizer}; allowed: {', '.join(names)}")
    if x == y:
        raise ValueError(f"x and y are both {x!r}; allowed: two different hyperparameters")
    nx, ny = (n, n) if isinstance(n, (int, np.integer)) else n
    for count in (nx, ny):
        if not 2 <= count <= MAX_SWEEP_CELLS:
            raise ValueError(f"n = {n!r} is out of range; allowed: 2 to {MAX_SWEEP_CELLS} cells per axis")
    check_budget(nx * ny, steps, opt.cost)
    axes = {}
    for name, given in ((x, x_range), (y, y_range)):
        lo, hi = given if given is not None else axis_range(optimizer, name)
        problem = range_problem(optimizer, name, lo, hi)
        if problem:
            raise ValueError(f"range {problem}")
        axes[name] = axis_values(opt.param(name), lo, hi, nx if name == x else ny)
    xx, yy = np.meshgrid(axes[x], axes[y])
    base = {**opt.defaults, **(hparams or {})}
    allowed = np.ones(xx.shape, dtype=bool)
    if opt.check is not None:
        for idx in np.ndindex(xx.shape):
            allowed[idx] = opt.check({**base, x: float(xx[idx]), y: float(yy[idx])}) is None
    cells = np.flatnonzero(allowed.ravel())
    if not cells.size:
        raise ValueError(f"{optimizer} rejects every setting of this grid; allowed: see its hyperparameters")
    hp = {**(hparams or {}), x: xx.ravel()[cells], y: yy.ravel()[cells]}
    summary = _summarise(land, optimizer, cells.size, steps, progress, start=start, **common, **hp)
    out = {k: np.full(xx.size, np.nan) for k in ("final_loss", "best_loss", "steps_to_tol", "diverged_at")}  # cells
    for k in out:
        out[k][cells] = summary[k]
    return Sweep(landscape=land.name, optimizer=opt.name, x_name=x, y_name=y, x=axes[x], y=axes[y], steps=steps,
                 f_min=land.f_min, start_loss=float(summary["start_loss"][0]), allowed=allowed,
                 boundary=_boundary(land, optimizer, x, y, axes, hparams or {}, start, common),
                 **{k: v.reshape(xx.shape) for k, v in out.items()})


def _boundary(land, optimizer, x, y, axes, hparams, start, common) -> Boundary | None:
    """lr's stability limit along the sweep's other axis, where it applies: lr is an axis, the rate is
    constant over the steps (no schedule) and steps are not clipped."""
    if "lr" not in (x, y) or common.get("schedule", "constant") != "constant" or common.get("clip_norm"):
        return None
    along = y if x == "lr" else x
    return lr_boundary(land, optimizer, hparams, along, axes[along], start)


# --- basins ----------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class BasinMap:
    """Where each start of a grid ends: arrays have shape (len(y), len(x)).

    ``reached`` codes: 0 … k−1 a declared global minimum (``minima``); k … k+m−1 another point
    where many runs end (``ends``: a local minimum, usually; found by clustering the end
    points); NONE elsewhere (still moving, or few runs end there); DIVERGED.
    """

    landscape: str
    optimizer: str
    x: np.ndarray
    y: np.ndarray
    steps: int
    minima: np.ndarray  # (k, 2): the landscape's declared global minima
    ends: np.ndarray  # (m, 2): other points where at least MIN_SHARE of the starts end
    ends_f: np.ndarray  # (m,): f there
    radius: float
    reached: np.ndarray  # int codes, see above
    settle_step: np.ndarray  # float: the step from which the run stays within radius of where it ends
    final: np.ndarray  # (len(y), len(x), 2): the last point (NaN if diverged)

    NONE, DIVERGED = -1, -2

    def label(self, code: int) -> str:
        k = len(self.minima)
        if code == self.DIVERGED:
            return "diverged"
        if code == self.NONE:
            return "elsewhere (other points, or still moving)"
        if code < k:
            mx, my = self.minima[code]
            return f"global minimum ({mx:.3g}, {my:.3g})"
        (ex, ey), f = self.ends[code - k], self.ends_f[code - k]
        near = lambda v: f"{round(float(v), 2) + 0.0:g}"  # a cluster's point: 2 decimals, no "-0"  # noqa: E731
        return f"ends near ({near(ex)}, {near(ey)}), f = {f:.4g}"

    def shares(self) -> dict[str, float]:
        """The fraction of starts in each outcome."""
        codes, counts = np.unique(self.reached, return_counts=True)
        return {self.label(int(c)): n / self.reached.size for c, n in zip(codes, counts, strict=True)}

    def global_share(self) -> float:
        return float(((self.reached >= 0) & (self.reached < len(self.minima))).mean())

    def to_frame(self) -> pd.DataFrame:
        xx, yy = np.meshgrid(self.x, self.y)
        return pd.DataFrame({
            "optimizer": self.optimizer, "landscape": self.landscape, "x0": xx.ravel(), "y0": yy.ravel(),
            "outcome": [self.label(int(c)) for c in self.reached.ravel()], "code": self.reached.ravel(),
            "settle_step": _as_int(self.settle_step.ravel()),
            "x_final": self.final[..., 0].ravel(), "y_final": self.final[..., 1].ravel(),
        })


MIN_SHARE = 0.002  # an end point shared by at least this fraction of the starts gets its own colour
MAX_ENDS = 8


def basins(landscape, optimizer: str, *, n: int = 100, steps: int = 300, hparams: dict | None = None,
           radius: float | None = None, progress: Progress | None = None, **common) -> BasinMap:
    """Start ``optimizer`` from every point of an n × n grid over the domain; classify where each ends.

    A run reaches a global minimum when its last point is within ``radius`` (default: 2 % of
    the domain's diagonal) of one the landscape declares. The other end points are clustered
    (lowest f first, within ``radius``): a cluster holding at least MIN_SHARE of the starts
    is an outcome of its own, usually a local minimum. The settle step is the first step
    from which a run stays within ``radius`` of where it ends.
    """
    land = get_landscape(landscape)
    if not 2 <= n <= MAX_BASIN_CELLS:
        raise ValueError(f"n = {n!r} is out of range; allowed: 2 to {MAX_BASIN_CELLS} cells per axis")
    check_budget(n * n, steps, get_optimizer(optimizer).cost)
    (x0, x1), (y0, y1) = land.domain
    xs, ys = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
    starts = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    minima = np.asarray(land.minima, dtype=float).reshape(-1, 2)
    if radius is None:
        radius = BASIN_RADIUS * math.hypot(x1 - x0, y1 - y0)
    r2 = radius * radius

    out = in_chunks(land, optimizer, starts.shape[0], steps, progress, functools.partial(_basin_ends, r2),
                     start=starts,
                     **(hparams or {}), **common)
    final = np.stack([out["final_x"], out["final_y"]], axis=-1)
    reached, ends, ends_f = _classify(final, out["final_f"], out["diverged"], minima, radius)
    shape = (n, n)
    return BasinMap(landscape=land.name, optimizer=optimizer, x=xs, y=ys, steps=steps, minima=minima, ends=ends,
                    ends_f=ends_f, radius=radius, reached=reached.reshape(shape),
                    settle_step=out["settle_step"].reshape(shape), final=final.reshape(n, n, 2))


def _classify(final, final_f, diverged, minima, radius):
    """Outcome codes (see BasinMap), and the other end points found by clustering."""
    r2 = radius * radius
    codes = np.full(len(final), BasinMap.NONE)
    if len(minima):
        with np.errstate(invalid="ignore"):
            d2 = ((final[:, None, :] - minima[None]) ** 2).sum(axis=-1)  # (runs, k)
            codes = np.where(d2.min(axis=1) <= r2, d2.argmin(axis=1), BasinMap.NONE)
    codes[diverged] = BasinMap.DIVERGED
    ends, ends_f = [], []
    left = np.flatnonzero((codes == BasinMap.NONE) & np.isfinite(final_f))
    min_count = max(2, math.ceil(MIN_SHARE * len(final)))
    for _ in range(4 * MAX_ENDS):  # greedy: the lowest remaining end point and everything near it
        if len(ends) == MAX_ENDS or len(left) < min_count:
            break
        best = left[np.argmin(final_f[left])]
        near = ((final[left] - final[best]) ** 2).sum(axis=1) <= r2
        if near.sum() >= min_count:
            codes[left[near]] = len(minima) + len(ends)
            ends.append(final[best])
            ends_f.append(final_f[best])
        left = left[~near]
    return codes, np.array(ends, dtype=float).reshape(-1, 2), np.array(ends_f, dtype=float)


# --- seed bands ------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class SeedBand:
    """One optimizer over seeds s, s + 1, ..., s + N - 1: loss per step and run, and its quantiles."""

    landscape: str
    optimizer: str
    seeds: np.ndarray  # (N,)
    f_min: float | None
    loss: np.ndarray  # (steps + 1, N); a diverged run is NaN from its divergence on
    diverged: int  # how many runs diverged

    def quantiles(self, q=(0.1, 0.5, 0.9)) -> np.ndarray:
        """Per step, shape (len(q), steps + 1). A diverged run counts as worse than any other
        (+inf), so a band that reaches it is unbounded (inf) rather than silently optimistic."""
        # the largest float stands for +inf while interpolating (inf − inf would give NaN)
        big = np.finfo(float).max
        loss = np.where(np.isnan(self.loss), big, self.loss)
        with np.errstate(over="ignore"):
            out = np.quantile(loss, q, axis=1)
        return np.where(out > 1e300, np.inf, out)

    def to_frame(self) -> pd.DataFrame:
        """Tidy: one row per seed and step, with that step's band (the same for every seed)."""
        lo, med, hi = self.quantiles()
        T, N = self.loss.shape
        return pd.DataFrame({
            "optimizer": self.optimizer, "landscape": self.landscape, "seed": np.repeat(self.seeds, T),
            "step": np.tile(np.arange(T), N), "loss": self.loss.T.ravel(),
            "loss_q10": np.tile(lo, N), "loss_median": np.tile(med, N), "loss_q90": np.tile(hi, N),
        })


def seed_bands(landscape, optimizer: str, *, n_seeds: int = 20, seed: int = 0, start=None, steps: int = 200,
               hparams: dict | None = None, progress: Progress | None = None, **common) -> SeedBand:
    """``n_seeds`` runs of ``optimizer`` from one start, seeds ``seed`` … ``seed + n_seeds − 1``.

    The seeds only matter with noise: gradient noise (``noise=``) or minibatches
    (``batch_size=`` on a landscape built from data).
    """
    land = get_landscape(landscape)
    if not 2 <= n_seeds <= MAX_SEEDS:
        raise ValueError(f"n_seeds = {n_seeds!r} is out of range; allowed: 2 to {MAX_SEEDS}")
    check_budget(n_seeds, steps, get_optimizer(optimizer).cost)
    seeds = np.arange(seed, seed + n_seeds, dtype=np.int64)
    out = in_chunks(land, optimizer, n_seeds, steps, progress, _losses,
                     start=start, seed=seeds, **(hparams or {}), **common)
    loss = out["loss"].T
    diverged = int(np.isnan(loss[-1]).sum())
    return SeedBand(landscape=land.name, optimizer=optimizer, seeds=seeds, f_min=land.f_min, loss=loss,
                    diverged=diverged)


# --- shared ---------------------------------------------------------------------------------
def _summarise(land: Landscape, optimizer: str, B: int, steps: int, progress, **kwargs) -> dict:
    """final_loss, best_loss, steps_to_tol and diverged_at of B runs (NaN for never/none)."""

    return in_chunks(land, optimizer, B, steps, progress, functools.partial(_summary, land.f_min), **kwargs)


def _basin_ends(r2: float, run, path) -> dict:
    """Where each run of a chunk ends, and from which step it stays within sqrt(r2) of there."""
    end = path[-1]
    with np.errstate(invalid="ignore"):
        d2 = path[..., 0] - end[:, 0]  # (T + 1, b): squared distance to the end, built in place
        np.multiply(d2, d2, out=d2)
        dy = path[..., 1] - end[:, 1]
        np.multiply(dy, dy, out=dy)
        np.add(d2, dy, out=d2)
        away = ~(d2 <= r2)
    # settle step = 1 + the last step away from the end point (0 if never away)
    settle = np.max(away * np.arange(1, path.shape[0] + 1)[:, None], axis=0).astype(float)
    diverged = np.array([d is not None for d in run.diverged_at])
    settle[diverged] = np.nan
    return {"settle_step": settle, "final_x": end[:, 0], "final_y": end[:, 1], "final_f": run.loss[-1],
            "diverged": diverged}


def _summary(f_min, run, path) -> dict:
    loss = run.loss  # (T + 1, b)
    best = np.fmin.reduce(loss, axis=0)  # ignores NaN rows, as Run.metrics
    to_tol = first_within(loss, f_min, TOL)
    diverged = np.array([np.nan if d is None else d for d in run.diverged_at], dtype=float)
    return {"final_loss": loss[-1], "best_loss": best, "steps_to_tol": to_tol, "diverged_at": diverged,
            "start_loss": loss[0]}


def _losses(run, path) -> dict:
    return {"loss": run.loss.T}


def _as_int(a: np.ndarray) -> pd.Series:
    """Float steps with NaN for 'never' as a nullable integer column."""
    return pd.Series(a).astype("Int64")

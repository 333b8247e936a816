"""Run: the trajectories of one optimizer (a single run or a batch), their metrics and tidy tables.

What :func:`optlab.simulate` returns; a record with no engine in it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from optlab.landscape import Landscape
from optlab.optimizers import get_optimizer
from optlab.schedules import get_schedule

if TYPE_CHECKING:  # pandas is imported by the tables themselves, when asked for
    import pandas as pd


MAX_STEPS = 20_000  # per run


def check_steps(steps) -> int:
    """A run's number of steps as an int; ValueError naming what is allowed."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= MAX_STEPS:
        raise ValueError(f"steps = {steps!r} is out of range; allowed: an integer in [1, {MAX_STEPS}]")
    return int(steps)


@dataclass(frozen=True, eq=False)
class Run:
    """Trajectories of one optimizer: a single run, or a batch of B runs.

    Shapes below are for a single run; a batch adds a run axis after the first
    (path: (steps + 1, B, 2)). Row k of ``path``/``loss``/``grad`` is θ after k
    steps; row k - 1 of ``lr``/``grad_used``/``state`` belongs to step k.
    """

    landscape: Landscape
    optimizer: str
    hparams: dict  # every hyperparameter, defaults included: a number or shape (B,)
    steps: int
    seed: int | np.ndarray
    schedule: str
    schedule_params: dict
    noise: float | np.ndarray
    clip_norm: float | None
    batch_size: int | None  # minibatch size on a landscape built from data (None: the full dataset)
    path: np.ndarray  # (steps + 1, 2)
    loss: np.ndarray  # (steps + 1,)
    lr: np.ndarray  # (steps,): the learning rate step k used, schedule applied
    grad: np.ndarray | None  # (steps + 1, 2): ∇f at θ_k (None without record_state)
    grad_used: np.ndarray | None  # (steps, 2): what step k fed the optimizer (noise, clipping)
    state: dict = field(default_factory=dict)  # buffer name -> (steps, 2), after step k
    diverged_at: int | None | list = None  # first step whose θ or loss is not finite
    # an evaluating optimizer's (LBFGS's) steps from inside: row k − 1 a dict for step k, "evaluated" (n, 3):
    # the points it evaluated (x, y, f) in order, "what": what each was for, then its declaration's trace
    # (the history pairs); for a batch one such list per run. None for the others.
    trace: list | None = None

    @property
    def verified(self) -> bool:
        """A run of one of optlab's declarations (checked against torch.optim by the tests), not of a torch
        optimizer class given by the caller (optlab.torch_classes: its optimizer is "module.Class")."""
        return "." not in self.optimizer

    @property
    def batched(self) -> bool:
        return self.path.ndim == 3

    @property
    def size(self) -> int:
        return self.path.shape[1] if self.batched else 1

    def run(self, i: int) -> Run:
        """Run i of a batch, as a single Run."""
        if not self.batched:
            if i != 0:
                raise IndexError(i)
            return self
        pick = lambda a: None if a is None else a[:, i]  # noqa: E731
        return Run(
            landscape=self.landscape, optimizer=self.optimizer,
            hparams={k: _item(v, i) for k, v in self.hparams.items()},
            steps=self.steps, seed=_item(self.seed, i), schedule=self.schedule,
            schedule_params=self.schedule_params, noise=_item(self.noise, i), clip_norm=self.clip_norm,
            batch_size=self.batch_size,
            path=self.path[:, i], loss=self.loss[:, i], lr=self.lr[:, i], grad=pick(self.grad),
            grad_used=pick(self.grad_used), state={k: v[:, i] for k, v in self.state.items()},
            diverged_at=self.diverged_at[i], trace=None if self.trace is None else self.trace[i],
        )

    def metrics(self, tol: float = 1e-4) -> dict:
        """final_loss, best_loss, steps_to_tol, distance_to_min, path_length, diverged_at.

        steps_to_tol: the first step whose loss is within ``tol`` of the landscape's
        minimum (None if never, or if the landscape has none). distance_to_min:
        from the final θ to the nearest declared minimum (None if there is none).
        For a batch every entry is a list, one item per run.
        """
        path = self.path if self.batched else self.path[:, None]
        loss = self.loss if self.batched else self.loss[:, None]
        with np.errstate(all="ignore"):
            final_loss = loss[-1]
            best_loss = np.fmin.reduce(loss, axis=0)  # ignores NaN rows (nan if all are)
            lengths = np.linalg.norm(np.diff(path, axis=0), axis=-1)
            path_length = np.nansum(lengths, axis=0)
            first = first_within(loss, self.landscape.f_min, tol)
            steps_to_tol = [None if math.isnan(s) else int(s) for s in first.tolist()]
            minima = self.landscape.minima
            if len(minima):
                d = np.linalg.norm(path[-1][:, None, :] - minima[None], axis=-1).min(axis=1)
                distance = d.tolist()
            else:
                distance = [None] * loss.shape[1]
        out = {
            "final_loss": final_loss.tolist(), "best_loss": best_loss.tolist(),
            "steps_to_tol": steps_to_tol, "distance_to_min": distance,
            "path_length": path_length.tolist(),
            "diverged_at": self.diverged_at if self.batched else [self.diverged_at],
        }
        return out if self.batched else {k: v[0] for k, v in out.items()}

    def summary(self, tol: float = 1e-4) -> pd.DataFrame:
        """metrics() as a table, one row per run."""
        import pandas as pd

        m = self.metrics(tol)
        return pd.DataFrame(m if self.batched else {k: [v] for k, v in m.items()})

    def to_frame(self) -> pd.DataFrame:
        """A tidy table: one row per run and step (step 0 is the start).

        Columns: optimizer, landscape, run, step, x, y, loss, grad_x, grad_y, then for
        steps ≥ 1 the learning rate used, the gradient fed to the optimizer and each state
        buffer after the step (NaN on step 0), named after what it holds: torch.optim's
        state key (exp_avg_x, exp_inf_y, acc_delta_x, ...; see each Buffer). Then what
        made the run, the same on each of its rows: hp_<name> for every hyperparameter,
        seed, noise, clip_norm, batch_size, schedule, schedule_<param>, landscape_<param>
        (and formula for a typed-in one).
        """
        import pandas as pd

        T, B = self.steps, self.size
        path = self.path.reshape(T + 1, B, 2)
        cols = {
            "optimizer": self.optimizer, "landscape": self.landscape.name,
            "run": np.tile(np.arange(B), T + 1), "step": np.repeat(np.arange(T + 1), B),
            "x": path[..., 0].ravel(), "y": path[..., 1].ravel(), "loss": self.loss.ravel(),
        }

        def per_step(a):  # (T, ...) -> (T + 1) * B values with step 0 NaN
            full = np.full((T + 1, B) + a.shape[1 + self.batched:], np.nan)
            full[1:] = a.reshape((T, B) + a.shape[1 + self.batched:])
            return full

        cols["lr"] = per_step(self.lr).ravel()
        if self.grad is not None:
            g = self.grad.reshape(T + 1, B, 2)
            cols["grad_x"], cols["grad_y"] = g[..., 0].ravel(), g[..., 1].ravel()
            gu = per_step(self.grad_used)
            cols["grad_used_x"], cols["grad_used_y"] = gu[..., 0].ravel(), gu[..., 1].ravel()
        held = ({b.name: b.torch_name or b.name for b in get_optimizer(self.optimizer).buffers}
                if self.verified else {})  # a torch class's run: its state_dict's own keys
        for name, values in self.state.items():
            s = per_step(values)
            key = held.get(name, name)
            cols[f"{key}_x"], cols[f"{key}_y"] = s[..., 0].ravel(), s[..., 1].ravel()

        def per_run(v):  # one value per run (a number, or shape (B,)) on each of its rows
            return np.tile(v, T + 1) if isinstance(v, np.ndarray) else v

        cols |= {f"hp_{k}": per_run(v) for k, v in self.hparams.items()}
        cols |= {"seed": per_run(self.seed), "noise": per_run(self.noise), "clip_norm": self.clip_norm,
                 "batch_size": self.batch_size, "schedule": self.schedule}
        cols |= {f"schedule_{k}": v for k, v in get_schedule(self.schedule).values(**self.schedule_params).items()}
        cols |= {f"landscape_{k}": v for k, v in self.landscape.param_values.items()}
        if self.landscape.formula is not None:
            cols["formula"] = self.landscape.formula
        return pd.DataFrame(cols)


def first_within(loss: np.ndarray, f_min: float | None, tol: float) -> np.ndarray:
    """Per run (column of ``loss``, shape (steps + 1, B)): the first step with loss − f_min ≤ tol,
    as a float; NaN where never, or where the landscape has no known minimum."""
    if f_min is None:
        return np.full(loss.shape[1], np.nan)
    with np.errstate(invalid="ignore"):
        hit = loss - f_min <= tol
    return np.where(hit.any(axis=0), hit.argmax(axis=0), np.nan).astype(float)


def _item(v, i):
    return v[i].item() if isinstance(v, np.ndarray) else v


def mark_divergence(path, loss, grad, grad_used, state) -> list:
    """Find each run's first non-finite θ or loss; blank that row and all later ones with NaN."""
    B = loss.shape[1]
    # Suspects: a run whose loss sum is not finite (a sum is finite only if every term is, or it overflowed:
    # then the closer look clears it), or whose last θ is not. A θ that leaves the finite numbers never
    # comes back: every update computes θ from θ with IEEE arithmetic, where inf and NaN propagate. The
    # loss can (f overflows at a finite θ), so all of it is checked.
    with np.errstate(all="ignore"):
        suspect = ~np.isfinite(np.add.reduce(loss, axis=0)) | ~np.isfinite(path[-1]).all(axis=0)
    if not suspect.any():
        return [None] * B
    out: list = [None] * B
    idx = np.flatnonzero(suspect)
    if len(idx) > B // 4:  # many suspects (a batch that diverges as a whole): the full arrays, not a gathered copy
        idx = slice(None)
    # finite rows per suspect, (T+1, suspects): the loss's, and-ed in place with each coordinate's
    # (np.isfinite(path).all(axis=1) on a gathered (T+1, 2, n) copy took 10 times as long)
    ok = np.isfinite(loss[:, idx])
    coord = np.empty_like(ok)
    for i in range(2):
        ok &= np.isfinite(path[:, i, idx], out=coord)
    first = ok.argmin(axis=0)  # the first row that is not finite (0 where every row is)
    has = ~ok[first, np.arange(ok.shape[1])]
    runs, first = np.arange(B)[idx][has], first[has]  # the diverged runs and their first non-finite row
    if not len(runs):
        return out
    for b, d in zip(runs.tolist(), first.tolist(), strict=True):
        out[b] = d
    # every array blanked in one masked copy (a loop over 10,000 diverged runs took 5 times Adam's whole batch)
    start = np.full(B, np.iinfo(np.int64).max)
    start[runs] = first

    def blank(a, begin):  # a[t, ..., b] = NaN from row begin[b] on
        lo, hi = int(begin.min()), int(begin.max())
        if hi < a.shape[0]:  # every run blanked from row hi on: one fill
            a[hi:] = np.nan
        else:
            hi = a.shape[0]
        if lo < hi:  # between, run by run: a mask over those rows only
            after = np.arange(lo, hi)[:, None] >= begin[None, :]
            np.copyto(a[lo:hi], np.nan, where=after.reshape(hi - lo, *([1] * (a.ndim - 2)), B))

    blank(path, start)
    blank(loss, start)
    for per_point in (grad,):
        if per_point is not None:
            blank(per_point, start)
    for per_step in (grad_used, *state.values()):
        if per_step is not None:
            blank(per_step, np.maximum(start - 1, 0))
    return out

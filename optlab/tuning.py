"""Learning-rate tuning: for each optimizer, the lr on a log grid that ends at the lowest loss.

One batched :func:`optlab.simulate` call per optimizer, the grid's learning rates as a
per-run array, every run from the same start with the same budget (steps, schedule,
noise, seed) and the optimizer's other hyperparameters as given. Each run is exactly the
run a single ``simulate`` call with that lr gives, so the pick is the best of the grid.
Nothing here imports Streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from landscapes import get_landscape
from optlab.optimizers import get_optimizer
from optlab.simulation import simulate
from optlab.sweep_axes import axis_values

N_LRS = 40
LR_RANGE = (1e-5, 10.0)  # what the lr slider offers


@dataclass(frozen=True)
class TunedLR:
    optimizer: str
    lrs: np.ndarray  # the grid, shape (n,)
    scores: np.ndarray  # per lr: its run's final loss (inf where it diverged)
    diverged: np.ndarray  # per lr: True where the run left the finite numbers

    @property
    def best(self) -> int:
        """Index of the picked lr: the lowest score; among equal ones the smallest lr."""
        return int(np.argmin(self.scores))

    @property
    def lr(self) -> float:
        return float(self.lrs[self.best])

    @property
    def loss(self) -> float:
        return float(self.scores[self.best])


def lr_grid(n: int = N_LRS, lo: float = LR_RANGE[0], hi: float = LR_RANGE[1], optimizer: str = "sgd") -> np.ndarray:
    """n log-spaced learning rates from lo to hi, rounded to short numbers (as the sweep's axis)."""
    return axis_values(get_optimizer(optimizer).param("lr"), lo, hi, n)


def score(loss: np.ndarray, diverged_at) -> np.ndarray:
    """Per run (loss shape (T + 1, B)): its final loss; +inf for a run that diverged (left the finite
    numbers), however low it got before."""
    final = np.asarray(loss, dtype=float)[-1]
    final = np.where(np.isfinite(final), final, np.inf)
    gone = np.array([d is not None for d in np.atleast_1d(diverged_at)], dtype=bool)
    return np.where(gone, np.inf, final)


def tune_lr(landscape, optimizer: str, *, start=None, steps: int = 200, lrs=None, hparams: dict | None = None,
            **common) -> TunedLR:
    """The lr of the grid ``lrs`` (default :func:`lr_grid`) whose run ends at the lowest loss.

    ``hparams``: the optimizer's other hyperparameters (an ``lr`` there is replaced);
    ``common``: simulate()'s shared keywords (seed, schedule, noise, clip_norm, batch_size ...).
    """
    land = get_landscape(landscape)
    lrs = np.asarray(lr_grid(optimizer=optimizer) if lrs is None else lrs, dtype=float)
    hp = {k: v for k, v in (hparams or {}).items() if k != "lr"}
    start = np.asarray(land.start if start is None else start, dtype=float)
    run = simulate(land, optimizer, start=np.broadcast_to(start, (len(lrs), 2)).copy(), steps=steps, lr=lrs,
                   record_state=False, **hp, **common)
    diverged = np.array([d is not None for d in run.diverged_at], dtype=bool)
    return TunedLR(optimizer, lrs, score(run.loss, run.diverged_at), diverged)


def tune_all(landscape, optimizers, *, hparams: dict | None = None, **kwargs) -> dict[str, TunedLR]:
    """:func:`tune_lr` for each optimizer (one simulate call each), the same grid, start and budget."""
    hparams = hparams or {}
    return {name: tune_lr(landscape, name, hparams=hparams.get(name), **kwargs) for name in optimizers}

"""Where gradient descent's learning rate stops being stable, from the landscape's curvature.

On a quadratic, plain gradient descent diverges for lr > 2/L and heavy-ball momentum for
lr > 2(1 + μ)/L, where L is the largest eigenvalue of the Hessian: each step then overshoots the
steepest direction by more than it gains. The rule per optimizer is its declaration's
``stable_lr(hp, L)``. On a quadratic the Hessian is the same everywhere, so the boundary holds
for every start; elsewhere it is the local boundary at the start, from the Hessian there.
The Hessian is the central difference of the landscape's exact gradient (exact for a quadratic,
whose gradient is linear, up to rounding).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optlab.landscape import Landscape
from optlab.optimizers import get_optimizer


def hessian(land: Landscape, xy) -> np.ndarray:
    """The 2 × 2 Hessian at xy: central differences of the exact gradient, symmetrised."""
    xy = np.asarray(xy, dtype=float)
    h = 1e-5 * max(1.0, float(np.abs(xy).max()))
    cols = [(land.grad(xy + h * e) - land.grad(xy - h * e)) / (2 * h) for e in np.eye(2)]
    H = np.column_stack(cols)
    return (H + H.T) / 2


def largest_curvature(land: Landscape, xy) -> float:
    return float(np.linalg.eigvalsh(hessian(land, xy))[-1])


@dataclass(frozen=True)
class Boundary:
    """The stability limit of lr along a sweep's other axis: lr[i] at ``along`` = values[i]."""

    along: str  # the other hyperparameter's name
    values: np.ndarray
    lr: np.ndarray
    curvature: float  # L
    everywhere: bool  # True on a quadratic; False: the local limit at the start

    @property
    def lesson(self) -> str:
        where = ("on this quadratic, from any start" if self.everywhere else
                 "at the start only: the curvature changes elsewhere, so runs can still diverge below the line "
                 "or settle above it")
        return (f"Dashed line: the stability limit of the learning rate, 2/L for plain gradient descent and "
                f"2(1 + μ)/L with heavy-ball momentum, where L = {self.curvature:.4g} is the largest curvature "
                f"(Hessian eigenvalue). To its right each step overshoots the steepest direction by more than it "
                f"gains and the run grows instead of settling; this holds {where}.")


def lr_boundary(land: Landscape, optimizer: str, hp: dict, along: str, values, start) -> Boundary | None:
    """The lr stability limit of ``optimizer`` at each value of hyperparameter ``along`` (the rest from ``hp``),
    or None where it has no rule or the curvature there is not positive."""
    opt = get_optimizer(optimizer)
    if opt.stable_lr is None:
        return None
    everywhere = "quadratic" in land.tags
    L = largest_curvature(land, land.start if everywhere or start is None else start)
    if not np.isfinite(L) or L <= 0:
        return None
    base = {**opt.defaults, **hp}
    values = np.asarray(values, dtype=float)
    lr = np.array([opt.stable_lr({**base, along: float(v)}, L) for v in values])
    return Boundary(along=along, values=values, lr=lr, curvature=L, everywhere=everywhere)

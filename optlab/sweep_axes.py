"""Sweep axes: which hyperparameters a sweep can vary, their default ranges, and the grid values along them.

Read from each optimizer's declaration (its Params and ``sweep_y``), so a new optimizer's sweeps need no code
here. Nothing here imports Streamlit or runs anything.
"""

from __future__ import annotations

import math

import numpy as np

from optlab.optimizers import get_optimizer
from optlab.params import Param


def sweepable(optimizer: str) -> list[str]:
    """The hyperparameters a sweep can vary: the real-valued ones (not switches, nor integers such as LBFGS's
    max_iter, of which a grid of n cells would repeat values)."""
    return [p.name for p in get_optimizer(optimizer).hparams if p.kind is float]


def default_axes(optimizer: str, x: str = "lr") -> tuple[str, str]:
    """``x`` across (default lr), and down the optimizer's most telling hyperparameter that is not x:
    the first of its declaration's ``sweep_y`` (β1, momentum, α, ρ ...), else its first other numeric one."""
    names = [n for n in sweepable(optimizer) if n != x]
    return x, next((n for n in get_optimizer(optimizer).sweep_y if n in names), names[0])


def axis_range(optimizer: str, name: str) -> tuple[float, float]:
    """A sweep axis's default range: what the parameter's slider offers."""
    p = get_optimizer(optimizer).param(name)
    lo = p.ui_low if p.ui_low is not None else p.low
    hi = p.ui_high if p.ui_high is not None else p.high
    if p.log and lo <= 0:
        lo = hi * 1e-5
    return float(lo), float(hi)


MAX_DECADES = 12  # a log axis spans at most this many powers of ten


def range_problem(optimizer: str, name: str, lo: float, hi: float) -> str | None:
    """Why (lo, hi) cannot be a sweep axis of this hyperparameter, or None."""
    p = get_optimizer(optimizer).param(name)
    if not (p.accepts(lo) and p.accepts(hi)):
        return f"{name} from {lo:g} to {hi:g}: each end must be {p.allowed}"
    if not lo < hi:
        return f"{name} from {lo:g} to {hi:g}: the range must go from low to high"
    if p.log and lo <= 0:
        return f"{name} from {lo:g}: a log axis needs values above 0"
    if p.log and hi / lo > 10.0**MAX_DECADES:
        return f"{name} from {lo:g} to {hi:g}: a log axis spans at most {MAX_DECADES} decades"
    return None


RESOLUTION = 0.1  # rounding may move a grid value by at most this share of the grid's step


def axis_values(p: Param, lo: float, hi: float, n: int) -> np.ndarray:
    """n values from lo to hi: log-spaced for a log-scale parameter, linear otherwise.

    Each is rounded to what the grid resolves: the fewest significant digits (log axis) or
    decimals (linear axis) that keep it within RESOLUTION of a step (on the log scale for a
    log axis) of its exact place, and valid for the parameter; the ends are lo and hi
    themselves. So neighbours stay distinct and
    in order, and a clicked cell loads short numbers (0.813, not 0.8134779661016949) that are
    exactly the ones its run used.
    """
    exact = np.geomspace(lo, hi, n) if p.log else np.linspace(lo, hi, n)
    budget = RESOLUTION * (math.log(hi / lo) if p.log else hi - lo) / (n - 1)
    inner = [_rounded(float(v), budget, p) for v in exact[1:-1]]
    return np.array([float(lo), *inner, float(hi)])  # the ends stay the range's own


def _rounded(v: float, budget: float, p: Param) -> float:
    """The shortest rounding of v within budget of it (relative, on the log scale, for a log axis)."""
    for digits in range(1, 18):
        if p.log:
            r = float(f"{v:.{digits}g}")
            off = abs(math.log(r / v)) if r > 0 else math.inf
        else:
            r = round(v, digits - 1 - max(0, math.floor(math.log10(abs(v)))) if v else 0) + 0.0
            off = abs(r - v)
        if off <= budget and p.accepts(r):
            return r
    return v


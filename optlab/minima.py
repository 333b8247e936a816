"""Minima estimated numerically, for landscapes whose minima are not declared (typed-in formulas).

Engine-level: it runs optlab.simulate on a probe landscape, so the records never import it.
"""

from __future__ import annotations

import math

import numpy as np

from optlab.landscape import CUSTOM, Landscape
from optlab.simulation import simulate


def _low_cells(value, domain, n: int = 161, keep: int = 6) -> np.ndarray:
    """Well-separated lowest points of a grid over the domain: the starts for refinement."""
    (x0, x1), (y0, y1) = domain
    gx, gy = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y0, y1, n))
    z = value(gx, gy)
    z = np.where(np.isfinite(z), z, np.inf)
    starts: list[np.ndarray] = []
    for idx in np.argsort(z, axis=None)[: keep * 40]:
        if not np.isfinite(z.flat[idx]):
            break
        p = np.array([gx.flat[idx], gy.flat[idx]])
        if all(np.hypot(*(p - q)) > 0.05 * max(x1 - x0, y1 - y0) for q in starts):
            starts.append(p)
        if len(starts) == keep:
            break
    return np.array(starts).reshape(-1, 2)


def estimate_minima(value, gradient, domain,
                     value_and_grad=None) -> tuple[tuple[tuple[float, float], ...], float | None]:
    """Global minimizers of f over a domain, and f there: ((x, y), ...), f_min; ((), None) where f is not
    finite anywhere in it. Grid search, then Adam with a decaying step from the best cells; only points
    inside the domain are kept, so these are estimates."""
    cells = _low_cells(value, domain)
    if not len(cells):
        return (), None
    (x0, x1), (y0, y1) = domain
    probe = Landscape(name=CUSTOM, title="", value=value, gradient=gradient, value_and_grad=value_and_grad,
                      domain=domain, minimizers=(), f_min=None, start=(0.0, 0.0), lesson="", latex="",
                      tags=frozenset(), scalar_safe=False)
    lr = 0.005 * max(x1 - x0, y1 - y0)
    ends = simulate(probe, "adam", start=np.vstack([cells, cells]), steps=600, record_state=False,
                    lr=np.repeat([lr, lr / 20], len(cells)), schedule="cosine").path[-1]
    candidates = np.vstack([cells, ends])
    with np.errstate(all="ignore"):
        values = value(candidates[:, 0], candidates[:, 1])
    inside = (np.isfinite(values) & (candidates[:, 0] >= x0) & (candidates[:, 0] <= x1)
              & (candidates[:, 1] >= y0) & (candidates[:, 1] <= y1))
    if not inside.any():
        return (), None
    best = float(values[inside].min())
    tol = 1e-6 * max(1.0, abs(best))
    minimizers: list[tuple[float, float]] = []
    for p, v in zip(candidates[inside], values[inside], strict=True):
        if v <= best + tol and all(math.hypot(p[0] - q[0], p[1] - q[1]) > 1e-3 * (x1 - x0) for q in minimizers):
            minimizers.append((float(p[0]), float(p[1])))
    return tuple(minimizers), best

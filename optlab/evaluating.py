"""An evaluating optimizer's runs (LBFGS: ``Optimizer.evaluates``): one at a time, every evaluation recorded.

simulate's array loop calls the update with :func:`evaluator`'s function for step k; :func:`trace_row` makes
that step's row of ``Run.trace``; :func:`run_each` runs a batch run by run through the same loop, so a run in
a batch is its single run bit for bit (its iterations and line search branch per run: there is no batch
arithmetic to share).
"""

from __future__ import annotations

import numpy as np

from optlab.optimizers.base import Optimizer


def _item(v, i):
    return v[i].item() if isinstance(v, np.ndarray) else v


def evaluator(land, fed, k: int, points: list):
    """evaluate(xy, what) -> (f, (gx, gy)) in step k of one run: the landscape at the point xy, its gradient as
    step k feeds it (``fed``: minibatch, noise, clipping); each call is appended to ``points``."""
    def evaluate(xy, what):
        at = np.array([[xy[0]], [xy[1]]], dtype=float)
        g = np.empty((2, 1))
        f, g[0], g[1] = land.evaluate(at[0], at[1])
        f = float(np.asarray(f).reshape(-1)[0])
        used = fed(at, g, k)
        points.append((float(xy[0]), float(xy[1]), f, what))
        return f, (float(used[0, 0]), float(used[1, 0]))
    return evaluate


def trace_row(opt: Optimizer, state, points) -> dict:
    """One step of an evaluating optimizer: the points it evaluated (x, y, f and what each was for), in order,
    and what its ``trace`` lists after the step."""
    xyf = np.array([p[:3] for p in points], dtype=float).reshape(-1, 3)
    return {"evaluated": xyf, "what": tuple(p[3] for p in points), **(opt.trace(state) if opt.trace else {})}


def run_each(run_arrays, land, opt: Optimizer, theta, values, coefficients, lrs, noise, sigma, clip, T, record,
             minibatches):
    """An evaluating optimizer's batch: each run on its own through the (2, 1) path, then stacked. Its
    iterations and line search branch per run, so there is no batch arithmetic to share; a run in a batch
    is its single run bit for bit because it is computed by the same calls."""
    B = theta.shape[1]
    recs, traces = [], []
    for i in range(B):
        def col(a, i=i):  # run i's column of a per-step array (shared when it is the same for every run)
            return a if a.shape[-1] == 1 else a[..., i:i + 1]

        hp = opt.hp_type(**{k: _item(v, i) for k, v in values.items()})
        rec, trace = run_arrays(land, opt, theta[:, i:i + 1], hp, {c: col(v) for c, v in coefficients.items()},
                                col(lrs), None if noise is None else col(noise), _item(sigma, i), clip, T, record,
                                None if minibatches is None else (minibatches[0], minibatches[1][i:i + 1]))
        recs.append(rec)
        traces.append(trace)
    path, loss, grad, grad_used, state = zip(*recs, strict=True)
    join = lambda parts: None if parts[0] is None else np.concatenate(parts, axis=-1)  # noqa: E731
    state = {n: np.concatenate([s[n] for s in state], axis=-1) for n in state[0]}
    return (join(path), join(loss), join(grad), join(grad_used), state), traces

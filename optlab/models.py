"""Landscapes from real models: the loss of a two-parameter model on a dataset.

A model is declared by its loss on one example, ``per_example(x, y, *columns) ->
(loss, dloss/dx, dloss/dy)``, element-wise: (x, y) are the model's two weights
and ``columns`` the example's data (feature, target, ...). From that one function
come the landscape's value and gradient (means over the whole dataset) and its
minibatch gradient (means over the examples a run samples), so the gradient noise
of minibatch SGD is the real thing, not added Gaussian noise.

The datasets are generated here from fixed seeds (nothing is downloaded).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from optlab.landscape import Landscape

CLIP_EPS = 1e-6  # gradient-norm clipping as torch.nn.utils.clip_grad_norm_: coef = max_norm / (norm + 1e-6)


def model_landscape(per_example: Callable, columns: tuple[np.ndarray, ...], *, name: str, title: str,
                    domain, minimizers, start, lesson: str, latex: str, tags, minima_note: str = "",
                    axis_names: tuple[str, str] = ("x", "y")) -> Landscape:
    """A Landscape whose f is the mean of ``per_example`` over the dataset ``columns`` (each shape (n,))."""
    columns = tuple(np.ascontiguousarray(c, dtype=float) for c in columns)
    n = len(columns[0])

    def full(x, y):
        x = np.asarray(x, dtype=float)[..., None]  # (..., 1) against the data's (n,)
        y = np.asarray(y, dtype=float)[..., None]
        loss, gx, gy = per_example(x, y, *columns)
        return loss.mean(axis=-1), gx.mean(axis=-1), gy.mean(axis=-1)

    def minibatch(x, y, idx):
        """Mean gradient over the examples idx: shape (..., b) against x, y of shape (...)."""
        x = np.asarray(x, dtype=float)[..., None]
        y = np.asarray(y, dtype=float)[..., None]
        _, gx, gy = per_example(x, y, *(c[idx] for c in columns))
        return gx.mean(axis=-1), gy.mean(axis=-1)

    minima = np.array(minimizers, dtype=float).reshape(-1, 2)
    f_min = float(full(minima[:, 0], minima[:, 1])[0].min()) if len(minima) else None
    return Landscape(
        name=name, title=title, value=lambda x, y: full(x, y)[0], gradient=lambda x, y: full(x, y)[1:],
        value_and_grad=full, domain=domain, minimizers=tuple(map(tuple, minima.tolist())), f_min=f_min,
        start=start, lesson=lesson, latex=latex, tags=frozenset(tags) | {"model", "data"},
        scalar_safe=False, data_size=n, minibatch=minibatch, minima_note=minima_note,
        per_example=per_example, columns=columns, axis_names=tuple(axis_names),
    )


def newton(per_example: Callable, columns, start, iterations: int = 100, h: float = 1e-6) -> tuple[float, float]:
    """A stationary point of a model's mean loss by Newton's method (Hessian by central differences of
    the analytic gradient), for minima without a closed form."""

    def gradient(a, b):
        _, gx, gy = per_example(a, b, *columns)
        return float(np.mean(gx)), float(np.mean(gy))

    p = np.array(start, dtype=float)
    for _ in range(iterations):
        g = np.array(gradient(p[0], p[1]), dtype=float)
        hess = np.empty((2, 2))
        for i in range(2):
            e = np.zeros(2)
            e[i] = h
            hess[:, i] = (np.array(gradient(*(p + e))) - np.array(gradient(*(p - e)))) / (2 * h)
        step = np.linalg.solve(0.5 * (hess + hess.T), g)
        p = p - step
        if np.abs(step).max() < 1e-15 * max(1.0, np.abs(p).max()):
            break
    return float(p[0]), float(p[1])


def sample_minibatches(seeds, steps: int, n: int, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Example indices for every step: ``table[which, k]`` has shape (runs, batch_size) at step k.

    Shuffled epochs, like a shuffled DataLoader: each epoch visits every example once in
    a random order and consecutive steps take consecutive slices (a batch may straddle
    two epochs). The order comes from the run's seed only, through a stream separate
    from the Gaussian noise's, so runs that share a seed see the same minibatches.
    ``table`` has one row per distinct seed; ``which`` maps each run to its row.
    """
    arr = np.atleast_1d(np.asarray(seeds))
    unique, which = np.unique(arr, return_inverse=True)
    table = np.empty((len(unique), steps, batch_size), dtype=np.intp)
    for i, s in enumerate(unique.tolist()):
        table[i] = minibatch_order(int(s), steps, n, batch_size)
    return table, which.ravel()


def minibatch_order(seed: int, steps: int, n: int, batch_size: int) -> np.ndarray:
    """One seed's example indices, shape (steps, batch_size): row k is step k + 1's minibatch.

    Shuffled epochs from the stream default_rng([seed, 1]). NumPy only: the exported
    torch script carries this function's source.
    """
    epochs = -(-steps * batch_size // n)
    rng = np.random.default_rng([seed, 1])
    order = rng.permuted(np.tile(np.arange(n), (epochs, 1)), axis=1).ravel()
    return order[: steps * batch_size].reshape(steps, batch_size)


def noise_draws(seed: int, steps: int) -> np.ndarray:
    """One seed's standard normal draws, shape (steps, 2): row k is added (times σ) to step k + 1's gradient.

    NumPy only: the exported torch script carries this function's source.
    """
    return np.random.default_rng(seed).standard_normal((steps, 2))

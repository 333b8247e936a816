"""Full training: a network trained in all its P parameters with an optimizer's own declaration.

The declarations are element-wise (optlab.optimizers.base), so the update that moves a
landscape's (2, B) arrays moves θ of shape (P, B) unchanged: B networks at once, each
with its own start. The schedule, the per-step coefficients and the minibatches (shuffled
epochs from the seed: optlab.models.minibatch_order) are those of simulate().

This is the engine's (it runs the optimizers' declarations with simulate's coefficients), so the
landscape declarations never import it: what a network plane needs is records (optlab.networks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optlab.models import minibatch_order
from optlab.networks.mlp import MLP, one_blas_thread
from optlab.optimizers import get_optimizer
from optlab.schedules import get_schedule


@dataclass(frozen=True, eq=False)
class Training:
    optimizer: str
    theta: np.ndarray  # (P, B) after the last step (or (P,) for a single start)
    loss: np.ndarray  # (steps, B): the loss on the examples step k used, at θ before step k
    path: np.ndarray | None  # (steps + 1, P, B) when recorded


def train(net: MLP, X, y, optimizer: str, theta0, *, steps: int, batch_size: int | None = None, seed: int = 0,
          schedule: str = "constant", schedule_params: dict | None = None, record_path: bool = False,
          on_step=None, matrices=None, **hp) -> Training:
    """Train ``net`` on (X, y) from ``theta0`` (shape (P,) or (P, B)) for ``steps`` steps of ``optimizer``.

    ``batch_size``: examples per step, drawn in shuffled epochs from ``seed`` (None: all of them).
    Hyperparameters use torch.optim's names and defaults, scalars only. ``on_step(k, before, g, after, state)``,
    if given, is called after each step k = 1 .. steps with θ before it, the gradient it used, θ after it
    (arrays of shape (P, B), not to be kept: copy what you need) and the optimizer's state after it.
    ``matrices(k, lr_factor, before, g, after)``, if given, returns θ after step k with the weight matrices
    moved by its own rule instead (optlab.muon: a rule that is not element-wise); ``optimizer`` then moves
    the biases only, and the schedule's factor of step k is passed on.
    """
    from optlab.simulation import _coefficients  # the same per-step numbers as simulate's

    opt = get_optimizer(optimizer)
    specs = {p.name: p for p in opt.hparams}
    unknown = sorted(set(hp) - set(specs))
    if unknown:
        raise ValueError(f"unknown hyperparameter {unknown[0]!r} for {opt.name}; allowed: {', '.join(specs)}")
    values = {k: s.check(hp.get(k, s.default), owner=opt.name) for k, s in specs.items()}
    problem = opt.check(values) if opt.check else None
    if problem:
        raise ValueError(f"{opt.name}: {problem}")
    single = np.ndim(theta0) == 1
    theta = np.array(theta0, dtype=float).reshape(net.size, -1)
    B = theta.shape[1]
    hp_rec = opt.hp_type(**values)
    t = np.arange(1, steps + 1, dtype=float)[:, None]
    factors = get_schedule(schedule).multipliers(steps, **(schedule_params or {}))
    with np.errstate(all="ignore"):  # as simulate: the scheduled learning rates, then the per-step coefficients
        scheduled = factors[:, None] * np.atleast_1d(values["lr"])[None, :]
        coefficients = {k: v[:, 0].tolist() for k, v in _coefficients(opt, t, values, steps, scheduled).items()}
    lrs = (factors * values["lr"]).tolist()
    n = len(X)
    order = minibatch_order(seed, steps, n, batch_size) if batch_size and batch_size < n else None
    loss = np.empty((steps, B))
    path = np.empty((steps + 1, net.size, B)) if record_path else None
    if record_path:
        path[0] = theta
    state = opt.init(theta, hp_rec, _ARRAY)
    with np.errstate(all="ignore"), one_blas_thread():
        for k in range(steps):
            if order is None:
                f, g = net.value_and_grad(theta, X, y)
            else:
                f, g = net.value_and_grad(theta, X[order[k]], y[order[k]])
            loss[k] = f
            step = opt.step_type(k + 1, lrs[k], *(v[k] for v in coefficients.values()))
            before = theta
            theta, state = opt.update(g, state, theta, step, hp_rec, _ARRAY)
            if matrices is not None:
                theta = matrices(k + 1, float(factors[k]), before, g, theta)
            if on_step is not None:
                on_step(k + 1, before, g, theta, state)
            if record_path:
                path[k + 1] = theta
    return Training(optimizer=opt.name, theta=theta[:, 0] if single else theta, loss=loss, path=path)


def _array_backend():
    from optlab.optimizers.base import ARRAY

    return ARRAY


_ARRAY = _array_backend()

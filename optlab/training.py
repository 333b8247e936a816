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
from optlab.networks.mlp import MLP, Work, one_blas_thread
from optlab.optimizers import get_optimizer
from optlab.schedules import get_schedule


@dataclass(frozen=True, eq=False)
class Training:
    optimizer: str
    theta: np.ndarray  # (P, B) after the last step (or (P,) for a single start)
    loss: np.ndarray  # (steps, B): the loss on the examples step k used, at θ before step k
    path: np.ndarray | None  # (steps + 1, P, B) when recorded


@dataclass(frozen=True, eq=False)
class _Rule:
    """An optimizer's declaration with its checked hyperparameters and per-step numbers for one training."""
    opt: object
    hp: object  # the declaration's hyperparameter record
    lrs: list  # the scheduled lr of each step
    factors: np.ndarray  # the schedule's factor of each step
    coefficients: dict  # name -> per-step list (simulate's _coefficients)

    def step(self, k: int):
        """The step record of step k + 1."""
        return self.opt.step_type(k + 1, self.lrs[k], *(v[k] for v in self.coefficients.values()))


def _rule(optimizer: str, hp: dict, steps: int, schedule: str, schedule_params: dict | None) -> _Rule:
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
    t = np.arange(1, steps + 1, dtype=float)[:, None]
    factors = get_schedule(schedule).multipliers(steps, **(schedule_params or {}))
    with np.errstate(all="ignore"):  # as simulate: the scheduled learning rates, then the per-step coefficients
        scheduled = factors[:, None] * np.atleast_1d(values["lr"])[None, :]
        coefficients = {k: v[:, 0].tolist() for k, v in _coefficients(opt, t, values, steps, scheduled).items()}
    return _Rule(opt=opt, hp=opt.hp_type(**values), lrs=(factors * values["lr"]).tolist(), factors=factors,
                 coefficients=coefficients)


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
    rule = _rule(optimizer, hp, steps, schedule, schedule_params)
    single = np.ndim(theta0) == 1
    theta = np.array(theta0, dtype=float).reshape(net.size, -1)
    hook = None if on_step is None else (lambda k, before, g, after, states: on_step(k, before, g, after, states[0]))
    loss, theta, path = _loop(net, X, y, [(rule, slice(None), matrices)], theta, steps, batch_size, [seed],
                              record_path, hook)
    return Training(optimizer=rule.opt.name, theta=theta[:, 0] if single else theta, loss=loss, path=path)


def train_group(net: MLP, X, y, members, theta0, *, steps: int, batch_size: int | None = None, seeds=0,
                schedule: str = "constant", schedule_params: dict | None = None, on_step=None) -> list[Training]:
    """Several trainings from one start ``theta0`` (shape (P,)) at once: one network per member, as one θ of shape
    (P, R), R = len(members), whose forward and backward passes are one batched pass (the networks page's
    optimizers: the same numbers as :func:`train` for each, a fraction of the time for small networks).

    ``members``: (optimizer, hyperparameters) or (optimizer, hyperparameters, matrices) each, as :func:`train`'s.
    ``seeds``: the minibatch seed of every member, or one per member. ``on_step(k, before, g, after, states)``:
    as :func:`train`'s, on arrays of shape (P, R) (column j: member j), with every member's state in a list.
    """
    members = [tuple(m) + (None,) * (3 - len(m)) for m in members]
    rules = [_rule(opt, hp, steps, schedule, schedule_params) for opt, hp, _ in members]
    R = len(rules)
    seeds = [int(seeds)] * R if np.ndim(seeds) == 0 else [int(s) for s in seeds]
    if len(seeds) != R:
        raise ValueError(f"{len(seeds)} seeds for {R} members; allowed: one seed, or one per member")
    theta = np.repeat(np.asarray(theta0, dtype=float).reshape(net.size, 1), R, axis=1)
    parts = [(rule, slice(j, j + 1), m[2]) for j, (rule, m) in enumerate(zip(rules, members, strict=True))]
    loss, theta, _ = _loop(net, X, y, parts, theta, steps, batch_size, seeds, False, on_step)
    return [Training(optimizer=rule.opt.name, theta=theta[:, j].copy(), loss=loss[:, j:j + 1], path=None)
            for j, rule in enumerate(rules)]


def _loop(net, X, y, parts, theta, steps, batch_size, seeds, record_path, on_step):
    """The training loop of train and train_group: ``parts`` (rule, its columns of θ, matrices hook)."""
    n = len(X)
    orders = None
    if batch_size and batch_size < n:
        distinct = {s: minibatch_order(s, steps, n, batch_size) for s in dict.fromkeys(seeds)}
        orders = distinct[seeds[0]] if len(distinct) == 1 else np.stack([distinct[s] for s in seeds], axis=1)
    B = theta.shape[1]
    loss = np.empty((steps, B))
    path = np.empty((steps + 1, net.size, B)) if record_path else None
    if record_path:
        path[0] = theta
    states = [rule.opt.init(theta[:, cols], rule.hp, _ARRAY) for rule, cols, _ in parts]
    whole = len(parts) == 1
    work = Work()  # the passes' arrays, reused at every step (the gradient g is a new array each step: states keep it)
    X = np.asarray(X)
    with np.errstate(all="ignore"), one_blas_thread():
        for k in range(steps):
            if orders is None:
                f, g = net.value_and_grad(theta, X, y, work=work)
            else:  # one minibatch for every column (rows (b,)), or one per column ((R, b): X[idx] is (R, b, d))
                idx = orders[k]  # (X[idx], into a buffer: "clip" never clips these indices, and takes no copy)
                batch = np.take(X, idx, axis=0, out=work("batch", idx.shape + X.shape[1:], X.dtype), mode="clip")
                f, g = net.value_and_grad(theta, batch, y[idx], work=work)
            loss[k] = f
            before = theta
            theta = None if whole else np.empty_like(before)
            for j, (rule, cols, matrices) in enumerate(parts):
                moved, states[j] = rule.opt.update(g[:, cols], states[j], before[:, cols], rule.step(k), rule.hp,
                                                   _ARRAY)
                if matrices is not None:
                    moved = matrices(k + 1, float(rule.factors[k]), before[:, cols], g[:, cols], moved)
                if whole:
                    theta = moved
                else:
                    theta[:, cols] = moved
            if on_step is not None:
                on_step(k + 1, before, g, theta, states)
            if record_path:
                path[k + 1] = theta
    return loss, theta, path


def _array_backend():
    from optlab.optimizers.base import ARRAY

    return ARRAY


_ARRAY = _array_backend()

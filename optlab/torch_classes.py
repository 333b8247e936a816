"""Any torch.optim.Optimizer on the landscapes: ``optlab.simulate(land, SomeOptimizerClass, **kwargs)``.

The class itself is given, torch's own or one from the caller's code (a subclass of
torch.optim.Optimizer). It runs on one float64 parameter tensor θ of shape (2,) with the same
gradients a declaration's run gets: the landscape's exact gradient, plus the seed's noise, clipped,
or a minibatch's gradient on a landscape built from data; the schedule scales each step's lr.
Each ``step`` gets a closure that loads that gradient into θ.grad and returns the loss, so
optimizers that evaluate several times per step (LBFGS) work; ``evaluations`` counts the calls.
What the optimizer's state holds after each step (its ``state_dict``: tensors and numbers) is
recorded as named buffers. Such a run is not one of optlab's verified declarations
(``Run.verified`` is False): we check only that it is what the class does.
"""

from __future__ import annotations

import math
import time

import numpy as np

from landscapes import get_landscape
from optlab.models import CLIP_EPS, noise_draws, sample_minibatches
from optlab.run import Run, check_steps, mark_divergence
from optlab.schedules import get_schedule


def class_name(cls) -> str:
    """How a run names its class: by its public path where it has one ("torch.optim.Adam", not
    "torch.optim.adam.Adam"), else its module and name."""
    for public in ("torch.optim",):
        module = __import__(public, fromlist=["_"])
        if getattr(module, cls.__name__, None) is cls:
            return f"{public}.{cls.__name__}"
    return f"{cls.__module__}.{cls.__qualname__}"


def run_class(landscape, cls, *, start=None, steps: int = 200, seed: int = 0, schedule: str = "constant",
              schedule_params: dict | None = None, noise: float = 0.0, clip_norm: float | None = None,
              batch_size: int | None = None, record_state: bool | None = None, time_limit: float | None = None,
              **kwargs) -> Run:
    """One run of ``cls(params=[θ], **kwargs)``; ValueError with a clear message for a class that is not a
    torch optimizer, keyword arguments it refuses, or an exception inside its ``step``. ``time_limit``
    (seconds, the app's): the run is stopped with a ValueError when it takes longer (checked at each call of
    the closure, so also inside a step that evaluates many times)."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is in the test requirements
        raise ValueError("a torch optimizer class needs torch: pip install torch") from None
    if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
        raise ValueError(f"optimizer = {cls!r} is not a torch.optim.Optimizer subclass; allowed: an optimizer "
                         "name (optlab.optimizer_names()) or a torch.optim.Optimizer class")
    land = get_landscape(landscape)
    steps = check_steps(steps)
    start = np.asarray(land.start if start is None else start, dtype=float)
    if start.shape != (2,) or not np.isfinite(start).all():
        raise ValueError(f"start = {start!r} is not allowed; allowed: two finite numbers (a torch class runs "
                         "one start at a time)")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed = {seed!r} is not allowed; allowed: an integer ≥ 0")
    if batch_size is not None and (not land.data_size or not 1 <= batch_size <= land.data_size):
        raise ValueError(f"batch_size = {batch_size!r} is not allowed on {land.name}; allowed: None"
                         + (f" or an integer in [1, {land.data_size}]" if land.data_size else ""))
    if batch_size == land.data_size:
        batch_size = None
    schedule_params = dict(schedule_params or {})
    sched = get_schedule(schedule)
    factors = sched.multipliers(steps, **schedule_params)

    theta = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    try:
        opt = cls([theta], **kwargs)
    except Exception as e:  # noqa: BLE001 - whatever the class raises for its arguments
        raise ValueError(f"{class_name(cls)}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())}) was refused: "
                         f"{type(e).__name__}: {e}") from None
    base_lrs = [group.get("lr") for group in opt.param_groups]
    draws = noise_draws(int(seed), steps) if noise else None
    batches = sample_minibatches(int(seed), steps, land.data_size, batch_size) if batch_size else None
    if record_state is None:
        record_state = True

    path, loss, grad, used, lrs = [start.copy()], [], [], [], []
    state: dict[str, list] = {}
    evaluations = []
    k = 0

    def gradient(xy: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        f, gx, gy = (float(np.asarray(v).reshape(-1)[0]) for v in land.evaluate(xy[0:1], xy[1:2]))
        g = np.array([gx, gy], dtype=float)
        if batches is not None:  # the sampled examples' gradient; loss and grad stay the full data's
            table, which = batches
            g = np.array([float(np.asarray(v).reshape(-1)[0])
                          for v in land.minibatch(xy[0:1], xy[1:2], table[which, k])])
        if draws is not None:
            g = g + noise * draws[k]
        if clip_norm is not None:
            g = g * min(1.0, clip_norm / (math.hypot(*g) + CLIP_EPS))
        return float(f), np.array([gx, gy], dtype=float), g

    calls = 0
    deadline = None if time_limit is None else time.monotonic() + time_limit

    def closure():
        nonlocal calls
        calls += 1
        if deadline is not None and time.monotonic() > deadline:
            raise _TimeUp
        with torch.no_grad():
            f, _, g = gradient(theta.detach().numpy())
            theta.grad = torch.from_numpy(g.copy())
        return torch.tensor(f, dtype=torch.float64)

    with np.errstate(all="ignore"):
        for k in range(steps):
            xy = theta.detach().numpy().copy()
            f, exact, g = gradient(xy)
            loss.append(f)
            grad.append(exact)
            used.append(g)
            for group, lr in zip(opt.param_groups, base_lrs, strict=True):
                if lr is not None:
                    group["lr"] = lr * float(factors[k])
            lrs.append(opt.param_groups[0].get("lr", math.nan))
            calls = 0
            try:
                opt.step(closure)
            except _TimeUp:
                raise ValueError(f"{class_name(cls)} took longer than {time_limit:g} s (stopped in step {k + 1} of "
                                 f"{steps}); fewer steps, or arguments that stop its iterations sooner") from None
            except Exception as e:  # noqa: BLE001 - an exception inside the class's own step
                raise ValueError(f"{class_name(cls)}.step raised {type(e).__name__} at step {k + 1}: {e}") from None
            evaluations.append(calls)
            path.append(theta.detach().numpy().copy())
            if record_state:
                for name, value in opt.state.get(theta, {}).items():
                    state.setdefault(name, [np.full(2, np.nan)] * k).append(_as_pair(value))
                for values in state.values():  # a buffer the state no longer holds
                    if len(values) < k + 1:
                        values.append(np.full(2, np.nan))
            if not np.isfinite(path[-1]).all():
                break
        f, exact, _ = gradient(path[-1]) if np.isfinite(path[-1]).all() else (math.nan, np.full(2, np.nan), None)
        loss.append(f)
        grad.append(exact)

    pad = lambda rows, total: np.concatenate([np.asarray(rows, dtype=float).reshape(len(rows), -1),  # noqa: E731
                                              np.full((total - len(rows), np.asarray(rows[0]).size), np.nan)])
    P = pad(path, steps + 1)[:, :, None]
    Lo = pad(loss, steps + 1)[:, 0][:, None]
    G = pad(grad, steps + 1)[:, :, None]
    U = pad(used, steps)[:, :, None]
    S = {name: pad(values, steps)[:, :, None] for name, values in state.items()}
    S["evaluations"] = pad([[e, e] for e in evaluations], steps)[:, :, None]
    diverged = mark_divergence(P, Lo, G, U, S)[0]
    hparams = {k: v for k, v in kwargs.items() if isinstance(v, (int, float, bool))}
    return Run(landscape=land, optimizer=class_name(cls), hparams=hparams, steps=steps, seed=int(seed),
               schedule=sched.name, schedule_params=schedule_params, noise=float(noise), clip_norm=clip_norm,
               batch_size=batch_size, path=P[:, :, 0], loss=Lo[:, 0], lr=pad(lrs, steps)[:, 0], grad=G[:, :, 0],
               grad_used=U[:, :, 0], state={k: v[:, :, 0] for k, v in S.items()}, diverged_at=diverged)


class _TimeUp(Exception):
    """Raised by the closure past the deadline: it ends the step from inside, whatever the class loops over."""


def _as_pair(value) -> np.ndarray:
    """A state entry as two numbers: a tensor of θ's shape as it is, a number (the step count) twice."""
    try:
        import torch

        if isinstance(value, torch.Tensor):
            v = value.detach().double().reshape(-1).numpy()
            return v.copy() if v.size == 2 else np.full(2, float(v[0]) if v.size == 1 else np.nan)
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return np.full(2, float(value))
    return np.full(2, np.nan)  # a list (LBFGS's history) or another object: not a per-coordinate number

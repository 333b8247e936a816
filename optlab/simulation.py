"""simulate(): run one optimizer on one landscape, for one start or a batch of B runs.

The batch runs in one vectorised loop over arrays of shape (2, B) (x row, y
row: contiguous for the landscape's formulas). A single run on a landscape
whose formulas are float-safe takes a plain-Python path instead: the same
declarations evaluated on floats, about ten times faster than NumPy on arrays
of two numbers, and bit-identical to the same run inside a batch.
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING

import numpy as np

from landscapes import get_landscape
from optlab.evaluating import evaluator, run_each, trace_row
from optlab.landscape import Landscape
from optlab.models import CLIP_EPS, noise_draws, sample_minibatches  # noqa: F401 - noise_draws: API too
from optlab.optimizers import Optimizer, get_optimizer
from optlab.optimizers.base import ARRAY, SCALAR, nonzero, pick
from optlab.params import Param
from optlab.run import (  # noqa: F401 - MAX_STEPS, Run and first_within: this module's API too
    MAX_STEPS,
    Run,
    _item,
    check_steps,
    first_within,
    mark_divergence,
)
from optlab.schedules import get_schedule

if TYPE_CHECKING:
    pass  # only the tables need pandas: imported by them, not with optlab

MAX_RUN_STEPS = 50_000_000  # runs × steps in one call (memory: ~4 GB with state recording)
RECORD_STATE_MAX_RUNS = 256  # default: record per-step state buffers up to this many runs

_NOISE = Param("noise", 0.0, low=0.0, ui_low=0.0, ui_high=10.0, symbol=r"\sigma",
               help="standard deviation of Gaussian noise added to each gradient coordinate")
_CLIP = Param("clip_norm", 1.0, low=0.0, low_open=True, ui_low=0.01, ui_high=100.0, log=True,
              symbol="c", help="rescale the gradient to norm c when it is longer")


def simulate(
    landscape,
    optimizer,
    *,
    start=None,
    steps: int = 200,
    seed=0,
    schedule: str = "constant",
    schedule_params: dict | None = None,
    noise=0.0,
    clip_norm: float | None = None,
    batch_size: int | None = None,
    record_state: bool | None = None,
    **hp,
) -> Run:
    """Run ``optimizer`` on ``landscape``.

    ``start``: shape (2,) for one run or (B, 2) for B runs (default: the
    landscape's own start). Hyperparameters use torch.optim's names (``betas``
    split into ``beta1``, ``beta2``) and defaults; any numeric one, and ``noise``
    and ``seed``, may be a scalar or shape (B,). ``noise`` is the standard
    deviation of Gaussian noise added to each gradient coordinate, drawn from
    ``seed`` (runs that share a seed share the noise). ``clip_norm`` rescales
    gradients longer than it (torch's clip_grad_norm_); off by default.
    ``batch_size``: on a landscape built from a dataset (``land.data_size > 0``), each
    step's gradient is the mean over ``batch_size`` examples sampled from ``seed`` in
    shuffled epochs (genuine minibatch noise); None, or the dataset's size, uses all.
    The recorded loss and gradient are the full dataset's; ``grad_used`` is the sample's.
    ``record_state``: also record gradients and every state buffer per step. The
    default (None) does so for up to RECORD_STATE_MAX_RUNS runs, what a person can
    inspect; larger batches (sweeps) keep only path, loss and lr, since writing
    every buffer for every run would dominate their cost.

    ``optimizer`` may also be a torch.optim.Optimizer class (torch's own or the caller's): ``hp`` are then
    its keyword arguments, and the run is what that class does on the same gradients (one start at a
    time; see optlab.torch_classes); ``time_limit=`` seconds stops such a run with a ValueError.

    Bad arguments raise ValueError naming the parameter, its value and what is allowed.
    """
    if isinstance(optimizer, type):
        from optlab.torch_classes import run_class

        return run_class(landscape, optimizer, start=start, steps=steps, seed=seed, schedule=schedule,
                         schedule_params=schedule_params, noise=noise, clip_norm=clip_norm, batch_size=batch_size,
                         record_state=record_state, **hp)
    land = get_landscape(landscape)
    opt = get_optimizer(optimizer)
    steps = check_steps(steps)
    specs = {p.name: p for p in opt.hparams}
    unknown = [k for k in hp if k not in specs]
    if unknown:
        hint = " (pass betas as beta1 and beta2)" if "betas" in unknown else ""
        raise ValueError(
            f"unknown hyperparameter {unknown[0]!r} for {opt.name}{hint}; allowed: {', '.join(specs)}"
        )

    start_arr = np.asarray(land.start if start is None else start, dtype=float) if _numeric(start) else None
    if start_arr is None or start_arr.shape[-1:] != (2,) or start_arr.ndim not in (1, 2) or start_arr.size == 0:
        raise ValueError(f"start = {start!r} has the wrong shape; allowed: shape (2,) or (B, 2)")
    if not np.isfinite(start_arr).all():
        raise ValueError(f"start = {start!r} is not finite; allowed: finite numbers")
    sizes = {start_arr.shape[0]} if start_arr.ndim == 2 else set()
    for value in (*hp.values(), seed, noise):
        if np.ndim(value) == 1:
            sizes.add(len(value))
    if len(sizes) > 1:
        raise ValueError(f"batch sizes disagree: start and per-run arguments have lengths {sorted(sizes)}")
    batched = bool(sizes)
    B = sizes.pop() if batched else 1
    if B * steps > MAX_RUN_STEPS:
        raise ValueError(f"{B} runs × {steps} steps is too many; allowed: at most {MAX_RUN_STEPS:,} run-steps")

    values = {name: spec.check(hp.get(name, spec.default), owner=opt.name, batch=B) for name, spec in specs.items()}
    problem = opt.check(values) if opt.check else None
    if problem:
        raise ValueError(f"{opt.name}: {problem}")
    sigma = _NOISE.check(noise, owner="", batch=B)
    seeds = _check_seed(seed, B)
    if clip_norm is not None:
        clip_norm = _CLIP.check(clip_norm, owner="")
    batch_size = _check_batch_size(batch_size, land)
    sched = get_schedule(schedule)
    schedule_params = dict(schedule_params or {})
    factors = sched.multipliers(steps, **schedule_params)

    if record_state is None:
        record_state = B <= RECORD_STATE_MAX_RUNS
    hp_rec = opt.hp_type(**values)
    t = np.arange(1, steps + 1, dtype=float)[:, None]
    with np.errstate(all="ignore"):
        lrs = factors[:, None] * np.atleast_1d(values["lr"])[None, :]  # (steps, 1 | B)
        coefficients = _coefficients(opt, t, values, steps, lrs)
    noise_draws = _noise(seeds, steps, B) if nonzero(sigma) is not False else None
    minibatches = sample_minibatches(seeds, steps, land.data_size, batch_size) if batch_size else None
    theta0 = np.broadcast_to(start_arr.reshape(-1, 2), (B, 2)).T.copy()  # (2, B)

    trace = None
    if opt.evaluates:
        rec, trace = run_each(_run_arrays, land, opt, theta0, values, coefficients, lrs, noise_draws, sigma,
                              clip_norm, steps, record_state, minibatches)
    elif B == 1 and land.scalar_safe and minibatches is None and not opt.coupled:
        rec = _run_scalar(land, opt, theta0[:, 0].tolist(), hp_rec, coefficients, lrs, noise_draws,
                          sigma, clip_norm, steps, record_state)
    else:
        rec = _run_arrays(land, opt, theta0, hp_rec, coefficients, lrs, noise_draws,
                          sigma, clip_norm, steps, record_state, minibatches)
    path, loss, grad, grad_used, state = rec  # (T+1, 2, B), (T+1, B), ...
    diverged = mark_divergence(path, loss, grad, grad_used, state)

    def shape(a):  # (N, 2, B) -> (N, B, 2), or (N, 2) for a single run
        if a is None:
            return None
        a = a.transpose(0, 2, 1)
        return a if batched else a[:, 0]

    lr_out = np.broadcast_to(lrs, (steps, B))
    return Run(
        landscape=land, optimizer=opt.name, hparams=values, steps=steps,
        seed=seeds, schedule=sched.name, schedule_params=schedule_params, noise=sigma, clip_norm=clip_norm,
        batch_size=batch_size,
        path=shape(path), loss=loss if batched else loss[:, 0],
        lr=lr_out if batched else lr_out[:, 0],  # read-only views: lr is often the same for every run
        grad=shape(grad), grad_used=shape(grad_used),
        state={k: shape(v) for k, v in state.items()},
        diverged_at=diverged if batched else diverged[0],
        trace=(trace if batched else trace[0]) if trace is not None else None,
    )


def _numeric(value) -> bool:
    if value is None:
        return True
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError):
        return False
    return arr.dtype.kind in "biuf"


def _check_seed(seed, B):
    arr = np.asarray(seed)
    if arr.dtype.kind not in "iu" or arr.ndim > 1 or (arr.ndim == 1 and len(arr) != B) or (arr < 0).any():
        raise ValueError(f"seed = {seed!r} is not allowed; allowed: an integer ≥ 0, or shape ({B},) of them")
    return int(arr) if arr.ndim == 0 else arr.astype(np.int64)


def _check_batch_size(batch_size, land: Landscape) -> int | None:
    """None for the full dataset; else an integer in [1, data_size) (data landscapes only)."""
    if batch_size is None:
        return None
    if not land.data_size:
        raise ValueError(f"batch_size = {batch_size!r} applies only to landscapes built from data "
                         f"(linear_regression, ...), not {land.name!r}; allowed: None")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or not 1 <= batch_size <= land.data_size:
        raise ValueError(f"batch_size = {batch_size!r} is out of range; allowed: an integer in "
                         f"[1, {land.data_size}] (the dataset's size) or None")
    return None if batch_size == land.data_size else int(batch_size)


def _noise(seeds, steps, B) -> np.ndarray:
    """Standard normal draws of shape (steps, 2, 1 | B); each run's stream depends on its seed only."""
    if not isinstance(seeds, np.ndarray):
        return noise_draws(seeds, steps)[:, :, None]
    out = np.empty((steps, 2, B))
    for s in np.unique(seeds):
        out[:, :, seeds == s] = noise_draws(int(s), steps)[:, :, None]
    return out


def _coefficients(opt: Optimizer, t: np.ndarray, values: dict, steps: int, lrs: np.ndarray) -> dict:
    """The optimizer's per-step coefficients, shape (steps, 1) or (steps, B), in the order of its
    ``step_type``'s fields after t and lr.

    With per-run hyperparameters they are computed once per distinct combination and
    gathered: a 100 × 100 sweep has 100 distinct β1 values, not 10,000, and powers
    such as β1^t are the costliest part of a sweep's setup. Same values, same bits.
    An optimizer whose coefficients read the scheduled learning rate (``schedule_in_coefficients``)
    gets ``lrs`` (steps, 1 | B) as ``hp.lr``, every run computed as it is.
    """
    if opt.schedule_in_coefficients:
        values = {**values, "lr": lrs}
    per_run = {k: v for k, v in values.items() if isinstance(v, np.ndarray)} \
        if not opt.schedule_in_coefficients else {}
    if per_run:  # only those the coefficients read (not lr, say): probe with one step
        probe = _Reads(values)
        opt.coefficients(t[:1], probe)
        per_run = {k: v for k, v in per_run.items() if k in probe.read}
    inverse = None
    if per_run:
        combos, inverse = np.unique(np.stack(list(per_run.values()), axis=1), axis=0, return_inverse=True)
        values = {**values, **{k: combos[:, i] for i, k in enumerate(per_run)}}
    computed = opt.coefficients(t, opt.hp_type(**values))
    names = opt.step_type._fields[2:]
    if set(computed) != set(names):
        raise TypeError(f"{opt.name}: coefficients() gives {sorted(computed)}, its step_type wants {sorted(names)}")
    out = {}
    for k in names:
        v = computed[k]
        v = np.broadcast_to(v, (steps, np.shape(v)[-1] if np.ndim(v) == 2 else 1))
        if inverse is not None and v.shape[1] > 1:
            v = v[:, inverse.ravel()]
        out[k] = v
    return out


class _Reads:
    """A hyperparameter namespace that notes which names are read."""

    def __init__(self, values: dict):
        self._values, self.read = values, set()

    def __getattr__(self, name):
        self.read.add(name)
        return self._values[name]


def _run_arrays(land, opt: Optimizer, theta, hp, coefficients, lrs, noise, sigma, clip, T, record,
                minibatches=None):
    B = theta.shape[1]
    path = np.empty((T + 1, 2, B))
    loss = np.empty((T + 1, B))
    path[0] = theta
    grad = np.empty((T + 1, 2, B)) if record else None
    grad_used = np.empty((T, 2, B)) if record else None
    names = [b.name for b in opt.buffers]
    state_rec = {n: np.empty((T, 2, B)) for n in names} if record else {}
    # Per-step numbers that are the same for every run become Python floats: NumPy's
    # scalar fast path is several times quicker than broadcasting a (1,) array.
    columns = {c: (v[:, 0].tolist() if v.shape[1] == 1 else v) for c, v in coefficients.items()}
    Step = opt.step_type  # (t, lr, *coefficients), in the order of ``columns``
    lr_column = lrs[:, 0].tolist() if lrs.shape[1] == 1 else lrs
    noisy = nonzero(sigma)

    def fed(at, g, k):  # what step k feeds the optimizer at θ = at, whose exact gradient is g
        used = g
        if minibatches is not None:  # the sampled examples' gradient; loss and grad stay the full data's
            table, which = minibatches
            used = np.empty((2, B))
            used[0], used[1] = land.minibatch(at[0], at[1], table[which, k])
        if noise is not None:  # per run: σ = 0 adds nothing, as in its single run
            used = pick(noisy, used + sigma * noise[k], used, ARRAY)
        if clip is not None:
            used = used * np.minimum(1.0, clip / (np.sqrt(used[0] * used[0] + used[1] * used[1]) + CLIP_EPS))
        return used

    evaluations = [] if opt.evaluates else None
    # one run (a coupled or evaluating optimizer's) on a scalar-safe landscape: f and ∇f on floats, the same bits
    evaluate = _evaluate_one if B == 1 and land.scalar_safe else _evaluate_rows
    with np.errstate(all="ignore"):
        state = opt.init(theta, hp, ARRAY)
        for k in range(T):
            g = np.empty((2, B))  # fresh each step: a state may keep g itself (SGD's b_1 = g_1)
            f, g[0], g[1] = evaluate(land, theta)
            loss[k] = f
            if record:
                grad[k] = g
            used = fed(theta, g, k)
            step = Step(k + 1, lr_column[k], *(v[k] for v in columns.values()))
            if evaluations is None:
                theta, state = opt.update(used, state, theta, step, hp, ARRAY)
            else:
                points = []
                try:
                    theta, state = opt.update(used, state, theta, step, hp, ARRAY, evaluator(land, fed, k, points))
                except (ArithmeticError, ValueError, IndexError):  # where torch fails too (LBFGS: a NaN f in
                    theta = np.full_like(theta, np.nan)  # its line search): the run ends here, marked diverged
                evaluations.append(trace_row(opt, state, points))
            path[k + 1] = theta
            if record:
                grad_used[k] = used
                for n in names:
                    state_rec[n][k] = getattr(state, n)
        f, gx, gy = evaluate(land, theta)
        loss[T] = f
        if record:
            grad[T, 0], grad[T, 1] = gx, gy
    if evaluations is not None:
        return (path, loss, grad, grad_used, state_rec), evaluations
    return path, loss, grad, grad_used, state_rec


def _evaluate_rows(land, theta):
    return land.evaluate(theta[0], theta[1])


def _evaluate_one(land, theta):
    """f and ∇f at one run's θ (2, 1) on floats: a scalar-safe landscape's formulas give the bits they give on
    arrays, several times faster on one point; where floats raise (an overflow NumPy takes to inf), on the arrays."""
    x, y = theta[:, 0].tolist()
    try:
        return land.evaluate(x, y)
    except (ArithmeticError, ValueError):
        return land.evaluate(theta[0], theta[1])


def _run_scalar(land, opt: Optimizer, start, hp, coefficients, lrs, noise, sigma, clip, T, record):
    """One run on Python floats: the same declarations, each coordinate in turn."""
    update, evaluate = opt.update, land.evaluate
    Step = opt.step_type  # (t, lr, *coefficients), in the order of ``coefficients``
    steps = list(map(Step, range(1, T + 1), lrs[:, 0].tolist(), *(v[:, 0].tolist() for v in coefficients.values())))
    nx, ny = (noise[:, 0, 0].tolist(), noise[:, 1, 0].tolist()) if noise is not None else (None, None)
    x, y = start
    sx, sy = opt.init(x, hp, SCALAR), opt.init(y, hp, SCALAR)
    xs, ys, fs = [x], [y], []
    gxs, gys, uxs, uys, stx, sty = [], [], [], [], [], []
    with np.errstate(all="ignore"):
        try:
            for k in range(T):
                f, gx, gy = evaluate(x, y)
                fs.append(f)
                if record:
                    gxs.append(gx)
                    gys.append(gy)
                if nx is not None:
                    gx = gx + sigma * nx[k]
                    gy = gy + sigma * ny[k]
                if clip is not None:
                    c = min(1.0, clip / (math.sqrt(gx * gx + gy * gy) + CLIP_EPS))
                    gx, gy = gx * c, gy * c
                step = steps[k]
                x, sx = update(gx, sx, x, step, hp, SCALAR)
                y, sy = update(gy, sy, y, step, hp, SCALAR)
                xs.append(x)
                ys.append(y)
                if record:
                    uxs.append(gx)
                    uys.append(gy)
                    stx.append(sx)
                    sty.append(sy)
            f, gx, gy = evaluate(x, y)
            fs.append(f)
            gxs.append(gx)
            gys.append(gy)
        except (ArithmeticError, ValueError):
            pass  # Python raised where NumPy would give inf or nan: the run diverged here

    def column(values, n):  # pad a diverged run with NaN to n rows
        out = np.full(n, np.nan)
        out[: len(values)] = values
        return out

    path = np.stack([column(xs, T + 1), column(ys, T + 1)], axis=1)[:, :, None]
    if len(fs) < len(xs):  # the loss at the last point raised: that row is not finite
        fs = fs + [np.nan]
    loss = column(fs, T + 1)[:, None]
    grad = grad_used = None
    state = {}
    if record:
        grad = np.stack([column(gxs, T + 1), column(gys, T + 1)], axis=1)[:, :, None]
        grad_used = np.stack([column(uxs, T), column(uys, T)], axis=1)[:, :, None]
        n = len(opt.buffers)  # states are NamedTuples of floats: flatten, then reshape (fast)
        sx_arr = np.fromiter(itertools.chain.from_iterable(stx), float, len(stx) * n).reshape(-1, n)
        sy_arr = np.fromiter(itertools.chain.from_iterable(sty), float, len(sty) * n).reshape(-1, n)
        for i, b in enumerate(opt.buffers):
            state[b.name] = np.stack([column(sx_arr[:, i], T), column(sy_arr[:, i], T)], axis=1)[:, :, None]
    return path, loss, grad, grad_used, state

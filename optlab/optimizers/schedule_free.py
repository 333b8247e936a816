"""Schedule-Free SGD and AdamW (Defazio et al. 2024), as the ``schedulefree`` package runs them in train mode.

Three sequences: z takes the plain (SGD or Adam-normalised) steps, x is a weighted running average of z
(the point the method reports: ``optimizer.eval()`` puts x into the parameters), and the gradient is
taken at their interpolation y = (1 − β)·z + β·x. The engine records the point where the gradient is
evaluated, so θ here is y; x and z are state buffers the plots draw as their own paths.

The package updates y in place without forming x (``y.lerp_(z, c); y.add_(g, alpha=lr·(β(1 − c) − 1))``);
we do the same, so y and z are its numbers to rounding, and carry x by its definition
x_t = (1 − c_t)·x_{t−1} + c_t·z_t (what ``eval()`` computes as lerp(y, z, 1 − 1/β)).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from optlab.optimizers import worked as W
from optlab.optimizers.base import (
    Buffer,
    Num,
    Optimizer,
    WrittenOut,
    beta,
    ema_sq,
    eps,
    l2,
    lerp,
    lr,
    nonzero,
    pick,
    power,
)
from optlab.optimizers.base import weight_decay as l2_weight_decay
from optlab.optimizers.worked import N
from optlab.params import Param


class SGDScheduleFreeState(NamedTuple):
    z: Num  # the SGD sequence
    x: Num  # the average of z: the point reported


class AdamWScheduleFreeState(NamedTuple):
    z: Num
    x: Num
    v: Num  # second moment (torch's exp_avg_sq)


class ScheduleFreeStep(NamedTuple):
    t: int
    lr: Num
    lr_t: Num  # the step's rate: lr times the linear warmup factor
    c: Num  # c_t = w_t / Σ w: the weight of z_t in the average x_t


class AdamWScheduleFreeStep(NamedTuple):
    t: int
    lr: Num
    lr_t: Num
    c: Num
    bc2: Num  # 1 − β2^t


def _average_weights(t, hp) -> dict:
    """lr_t and c_t as the package computes them step by step from the group's (scheduled) lr:
    lr_t = lr·min(1, t / warmup_steps), w_t = t^r · (max_{s≤t} lr_s)^weight_lr_power, c_t = w_t / Σ_{s≤t} w_s
    (0 while Σ w = 0). hp.lr is each step's rate (schedule_in_coefficients)."""
    t = np.asarray(t, dtype=float)
    lr_group = np.asarray(hp.lr, dtype=float)
    warmup = np.asarray(hp.warmup_steps, dtype=float)
    with np.errstate(all="ignore"):
        sched = np.where(t - 1 < warmup, t / np.where(warmup > 0, warmup, 1.0), 1.0)
        lr_t = lr_group * sched
        shape = np.broadcast_shapes(np.shape(lr_t), np.shape(t), np.shape(hp.r), np.shape(hp.weight_lr_power))
        lr_t = np.broadcast_to(lr_t, shape)
        lr_max = np.maximum.accumulate(lr_t, axis=0)  # the package's running max (from −1; lr ≥ 0)
        weight = power(np.broadcast_to(t, shape), hp.r) * power(lr_max, hp.weight_lr_power)  # pow, as the package
        weight_sum = np.cumsum(np.broadcast_to(weight, shape), axis=0)  # in step order, as the package adds
        c = np.where(weight_sum == 0, 0.0, weight / np.where(weight_sum == 0, 1.0, weight_sum))
    return {"lr_t": lr_t, "c": c}


def sgd_coefficients(t, hp):
    return _average_weights(t, hp)


def adamw_coefficients(t, hp):
    out = _average_weights(t, hp)
    out["bc2"] = 1.0 - power(hp.beta2, np.asarray(t, dtype=float))
    return out


def _step(direction, state_z, state_x, params, step, beta1, xp):
    """The y, z, x updates shared by both: the package's in-place y step, z's plain step, x's average."""
    first = step.t == 1  # the package creates z = θ at the first step; x = y = z there
    z = params if first else state_z
    x = params if first else state_x
    y = lerp(params, z, step.c, xp) + (step.lr_t * (beta1 * (1 - step.c) - 1)) * direction
    z = z - step.lr_t * direction
    return y, z, lerp(x, z, step.c, xp)


def sgd_init(params, hp, xp):
    zeros = xp.zeros_like(params)  # empty until the first step, as the package's state
    return SGDScheduleFreeState(zeros, zeros)


def sgd_update(g, state, params, step, hp, xp):
    g = l2(g, params, hp, xp)  # at y, before the step
    y, z, x = _step(g, state.z, state.x, params, step, hp.momentum, xp)
    return y, SGDScheduleFreeState(z, x)


def adamw_init(params, hp, xp):
    zeros = xp.zeros_like(params)
    return AdamWScheduleFreeState(zeros, zeros, zeros)


def adamw_update(g, state, params, step, hp, xp):
    v = ema_sq(state.v, g, hp.beta2)
    u = g / (xp.sqrt(v / step.bc2) + hp.eps)
    decay = nonzero(hp.weight_decay)  # the package: λ·y added to the normalised gradient
    if decay is not False:
        u = pick(decay, u + hp.weight_decay * params, u, xp)
    y, z, x = _step(u, state.z, state.x, params, step, hp.beta1, xp)
    return y, AdamWScheduleFreeState(z, x, v)


def _lerp_line(symbol, a, b, w, result, label, s_c):
    if s_c < 0.5:
        return W.Line(symbol, a + w * (b - a), result, label=label)
    return W.Line(symbol, b - (b - a) * (1 - w), result, label=label)


def _worked_steps(s: W.Numbers, direction, beta1) -> list[W.Line]:
    c = s.c
    first = s.step.t == 1
    z_prev = s.theta_prev if first else s.prev.z  # z_0 = x_0 = y_0 = θ_0
    x_prev = s.theta_prev if first else s.prev.x
    mixed = N("y_mixed")
    return [
        _lerp_line(r"y'_{k}", s.theta_prev, z_prev, c.c, mixed,
                   "y' = lerp(y_{k−1}, z_{k−1}, c_k): toward z by the averaging weight", s.step.c),
        W.Line(r"\theta_k = y_k", mixed + c.lr_t * (beta1 * (1 - c.c) - 1) * direction, s.theta),
        W.Line("z_k", z_prev - c.lr_t * direction, s.state.z),
        _lerp_line(r"x_k", x_prev, s.state.z, c.c, s.state.x, "", s.step.c),
    ]


def sgd_worked(s: W.Numbers) -> list[W.Line]:
    return W.l2(s) + _worked_steps(s, s.g, s.h.momentum)


def adamw_worked(s: W.Numbers) -> list[W.Line]:
    h, c = s.h, s.c
    u = N("u")
    lines = [W.Line("v_k", W.ema_sq(s.prev.v, s.g, h.beta2), s.state.v)]
    direction = s.g / (W.sqrt(s.state.v / c.bc2) + h.eps)
    if s.hp.weight_decay != 0:
        direction = direction + h.weight_decay * s.theta_prev
    lines.append(W.Line("u_k", direction, u, label="u = g/(√(v/bc2) + ε)" + (" + λ·y" if s.hp.weight_decay else "")))
    return lines + _worked_steps(s, u, h.beta1)


def check_momentum(hp) -> str | None:
    m = np.asarray(hp["momentum"])
    if ((m <= 0) | (m >= 1)).any():
        return "momentum must be between 0 and 1 exclusive (schedule-free SGD averages with it)"
    return None


def _common_params():
    return (
        Param("warmup_steps", 0.0, low=0.0, ui_low=0.0, ui_high=200.0, ui_step=1.0, symbol=r"T_w",
              help="linear warmup: the rate is lr·k/T_w for the first T_w steps (0: none)"),
        Param("r", 0.0, low=0.0, ui_low=0.0, ui_high=4.0, symbol="r",
              help="polynomial weighting of the average: z_k weighs k^r (0: a uniform average)"),
        Param("weight_lr_power", 2.0, low=0.0, ui_low=0.0, ui_high=4.0, symbol=r"p",
              help="z_k also weighs (the largest rate so far)^p, which discounts warmup's small steps"),
    )


NOTE = ("The point evaluated is not the point reported: the path drawn (θ) is y, where the gradient is "
        "taken (the parameters in the package's train mode); x, the average the method reports (eval mode), "
        "and z, the sequence taking the plain steps, are drawn as their own dotted paths. No learning-rate "
        "schedule is needed: the averaging weights c_k do its work (a schedule set here still scales lr, as "
        "a torch scheduler would). c_k = w_k/Σw with w_k = k^r·(max lr so far)^p.")

COMMON_RULE = r"""
y'_t = \operatorname{lerp}(y_{t-1}, z_{t-1}, c_t), \quad y_t = y'_t + \eta_t(\beta(1 - c_t) - 1)\, u_t \\
z_t = z_{t-1} - \eta_t\, u_t, \quad x_t = (1 - c_t)\, x_{t-1} + c_t\, z_t \quad (y_t = (1-\beta)\, z_t + \beta\, x_t) \\
c_t = w_t / \textstyle\sum_{s \le t} w_s, \quad w_t = t^{r} \max_{s \le t}\eta_s^{\,p}, \quad
\eta_t = \eta \min(1, t/T_w)
"""

TORCH_SCHEDULE_FREE = '''
class _ScheduleFree(torch.optim.Optimizer):
    """Schedule-Free (Defazio et al. 2024) in train mode, as the schedulefree package (its foreach=False
    path): p is y, where the gradient is taken; state z; x (eval mode) = lerp(y, z, 1 - 1/beta)."""

    def _weights(self, group):
        k = group["k"]
        warmup = group["warmup_steps"]
        lr = group["lr"] * ((k + 1) / warmup if k < warmup else 1.0)
        lr_max = group["lr_max"] = max(lr, group["lr_max"])
        weight = ((k + 1) ** group["r"]) * (lr_max ** group["weight_lr_power"])
        weight_sum = group["weight_sum"] = group["weight_sum"] + weight
        group["k"] = k + 1
        return lr, (weight / weight_sum if weight_sum != 0 else 0.0)


class SGDScheduleFree(_ScheduleFree):
    def __init__(self, params, lr=1.0, momentum=0.9, weight_decay=0.0, warmup_steps=0, r=0.0,
                 weight_lr_power=2.0):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, warmup_steps=warmup_steps,
                                      r=r, weight_lr_power=weight_lr_power, k=0, lr_max=-1.0, weight_sum=0.0))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            lr, c = self._weights(group)
            for p in group["params"]:
                state = self.state[p]
                if not state:
                    state["z"] = p.clone()
                z, g = state["z"], p.grad
                if group["weight_decay"] != 0:
                    g = g + group["weight_decay"] * p
                p.lerp_(z, c)
                p.add_(g, alpha=lr * (group["momentum"] * (1 - c) - 1))
                z.sub_(g, alpha=lr)


class AdamWScheduleFree(_ScheduleFree):
    def __init__(self, params, lr=0.0025, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, warmup_steps=0,
                 r=0.0, weight_lr_power=2.0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      warmup_steps=warmup_steps, r=r, weight_lr_power=weight_lr_power, k=0,
                                      lr_max=-1.0, weight_sum=0.0))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            bias_correction2 = 1 - beta2 ** (group["k"] + 1)
            lr, c = self._weights(group)
            for p in group["params"]:
                state = self.state[p]
                if not state:
                    state["z"] = p.clone()
                    state["exp_avg_sq"] = torch.zeros_like(p)
                z, v = state["z"], state["exp_avg_sq"]
                v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
                u = p.grad / (v.div(bias_correction2).sqrt() + group["eps"])
                if group["weight_decay"] != 0:
                    u = u + group["weight_decay"] * p
                p.lerp_(z, c)
                p.add_(u, alpha=lr * (beta1 * (1 - c) - 1))
                z.sub_(u, alpha=lr)
'''

X_HELP = "x, the average reported: the weighted mean of z, what eval mode puts in the parameters"
REFERENCE = "Defazio et al. 2024, 'The Road Less Scheduled'; the schedulefree package's {} (train mode)"

SCHEDULE_FREE_SGD = Optimizer(
    name="schedule_free_sgd", title="Schedule-Free SGD",
    hparams=(
        lr(1.0),
        Param("momentum", 0.9, low=0.0, high=1.0, low_open=True, high_open=True, ui_low=0.01, ui_high=0.999,
              symbol=r"\beta", help="interpolation: the gradient is taken at y = (1 − β)·z + β·x"),
        l2_weight_decay(),
        *_common_params(),
    ),
    init=sgd_init, update=sgd_update, coefficients=sgd_coefficients, step_type=ScheduleFreeStep,
    schedule_in_coefficients=True, worked=sgd_worked, check=check_momentum,
    sweep_y=("momentum", "warmup_steps", "lr"),
    buffers=(Buffer("z", "z_t", "z, the plain steps: the sequence each SGD step moves", "z", point=True),
             Buffer("x", "x_t", X_HELP, "", point=True)),
    rule=r"u_t = \nabla f(y_{t-1}) + \lambda\, y_{t-1} \\" + COMMON_RULE,
    summary="SGD without a schedule: z takes plain gradient steps, x averages z, and the gradient is taken "
    "at y, between them; the point evaluated (y, the path drawn) is not the point reported (x).",
    reference=REFERENCE.format("SGDScheduleFree"), torch=None,
    written_out=WrittenOut("SGDScheduleFree", TORCH_SCHEDULE_FREE),
    notes=NOTE + " The weight decay is L2, λ·y added to the gradient at y.",
)

SCHEDULE_FREE_ADAMW = Optimizer(
    name="schedule_free_adamw", title="Schedule-Free AdamW",
    hparams=(
        lr(0.0025),
        beta("beta1", 0.9, "interpolation: the gradient is taken at y = (1 − β1)·z + β1·x (no first moment)"),
        beta("beta2", 0.999, "decay of the second moment v"),
        eps(1e-8),
        Param("weight_decay", 0.0, low=0.0, ui_low=0.0, ui_high=1.0, symbol=r"\lambda",
              help="weight decay (decoupled: λ·y added to the normalised gradient, so z and y shrink by η·λ·y)"),
        *_common_params(),
    ),
    init=adamw_init, update=adamw_update, coefficients=adamw_coefficients, step_type=AdamWScheduleFreeStep,
    schedule_in_coefficients=True, worked=adamw_worked, decoupled_decay=True,
    sweep_y=("beta1", "warmup_steps", "lr"),
    buffers=(Buffer("z", "z_t", "z, the plain steps: the sequence each normalised step moves", "z", point=True),
             Buffer("x", "x_t", X_HELP, "", point=True),
             Buffer("v", "v_t", "second moment: running mean of g²", "exp_avg_sq")),
    rule=r"v_t = \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2, \quad "
    r"u_t = \frac{g_t}{\sqrt{v_t / (1-\beta_2^t)} + \epsilon} + \lambda\, y_{t-1} \quad (g_t = \nabla f(y_{t-1})) \\"
    + COMMON_RULE.replace(r"\beta(1", r"\beta_1(1").replace(r"(1-\beta)", r"(1-\beta_1)").replace(
        r"\beta\, x_t", r"\beta_1 x_t"),
    summary="Adam's normalised steps without a schedule or a first moment: z steps, x averages z, the gradient "
    "is taken at y between them (β1 sets where); the point evaluated (y, drawn) is not the point reported (x).",
    reference=REFERENCE.format("AdamWScheduleFree"), torch=None,
    written_out=WrittenOut("AdamWScheduleFree", TORCH_SCHEDULE_FREE),
    notes=NOTE + " β1 replaces Adam's momentum: there is no first moment. The weight decay λ·y is added after "
    "the normalisation, at y. Adam's first bias correction is gone; the second, 1 − β2^t, stays.",
)

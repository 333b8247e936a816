"""Per-coordinate adaptive step sizes without momentum moments: Adagrad, RMSprop, Adadelta."""

from __future__ import annotations

from typing import NamedTuple

from optlab.optimizers import worked as W
from optlab.optimizers.base import (
    Buffer,
    Num,
    Optimizer,
    ema_sq,
    eps,
    flag,
    l2,
    lerp,
    lr,
    momentum,
    nonzero,
    pick,
    weight_decay,
)
from optlab.optimizers.worked import N
from optlab.params import Param


# --- Adagrad -----------------------------------------------------------------
class AdagradState(NamedTuple):
    s: Num  # sum of squared gradients


class AdagradStep(NamedTuple):
    t: int
    lr: Num
    decay: Num  # 1 + (t − 1)·γ: step t uses η / decay


def adagrad_init(params, hp, xp):
    return AdagradState(s=xp.zeros_like(params) + hp.initial_accumulator_value)


def adagrad_coefficients(t, hp):
    return {"decay": 1.0 + (t - 1.0) * hp.lr_decay}


def adagrad_update(g, state, params, step, hp, xp):
    g = l2(g, params, hp, xp)
    clr = step.lr / step.decay
    s = state.s + g * g
    return params - clr * (g / (xp.sqrt(s) + hp.eps)), AdagradState(s)


def adagrad_worked(s: W.Numbers) -> list[W.Line]:
    acc = s.state.s
    return W.l2(s) + [
        W.Line("s_k", s.prev.s + W.square(s.g), acc),
        W.Line(r"\theta_k", s.theta_prev - s.lr / s.c.decay * (s.g / (W.sqrt(acc) + s.h.eps)), s.theta),
    ]


ADAGRAD = Optimizer(
    name="adagrad", title="Adagrad",
    hparams=(
        lr(1e-2),
        Param("lr_decay", 0.0, low=0.0, ui_low=0.0, ui_high=1.0, symbol=r"\gamma",
              help="learning-rate decay: step t uses η / (1 + (t−1)·γ)"),
        weight_decay(),
        Param("initial_accumulator_value", 0.0, low=0.0, ui_low=0.0, ui_high=10.0, symbol="s_0",
              help="starting value of the squared-gradient sum"),
        eps(1e-10),
    ),
    init=adagrad_init, update=adagrad_update, coefficients=adagrad_coefficients, step_type=AdagradStep,
    worked=adagrad_worked, sweep_y=("lr_decay", "lr"),
    buffers=(Buffer("s", "s_t", "sum of squared gradients", "sum"),),
    rule=r"""
g_t = \nabla f(\theta_{t-1}) + \lambda\,\theta_{t-1} \\
\tilde\eta_t = \eta / (1 + (t-1)\,\gamma) \\
s_t = s_{t-1} + g_t^2 \\
\theta_t = \theta_{t-1} - \tilde\eta_t\, g_t / (\sqrt{s_t} + \epsilon)
""",
    summary="Divides each coordinate's step by the root of its summed squared gradients: steps only shrink.",
    reference="Duchi, Hazan & Singer 2011; torch.optim.Adagrad", torch="torch.optim.Adagrad",
)


# --- RMSprop -----------------------------------------------------------------
class RMSpropState(NamedTuple):
    v: Num  # running mean of g²
    gbar: Num  # running mean of g (centered only)
    b: Num  # momentum buffer


def rmsprop_init(params, hp, xp):
    zeros = xp.zeros_like(params)
    return RMSpropState(zeros, zeros, zeros)


def rmsprop_update(g, state, params, step, hp, xp):
    g = l2(g, params, hp, xp)
    a = hp.alpha
    v = a * state.v + ((1 - a) * g) * g  # torch's addcmul order, so rounding matches too
    gbar = state.gbar
    if hp.centered:
        gbar = lerp(gbar, g, 1 - a, xp)
        den = xp.sqrt(v - gbar * gbar) + hp.eps
    else:
        den = xp.sqrt(v) + hp.eps
    b = state.b
    heavy = nonzero(hp.momentum)
    if heavy is not False:  # per run: μ = 0 keeps no buffer and steps along g/δ
        b = pick(heavy, hp.momentum * b + g / den, b, xp)
        params = params - step.lr * pick(heavy, b, g / den, xp)
    else:
        params = params - step.lr * (g / den)
    return params, RMSpropState(v, gbar, b)


def rmsprop_worked(s: W.Numbers) -> list[W.Line]:
    h, prev, new, den = s.h, s.prev, s.state, N("den")
    # v: drawn as the moving average it is (torch computes it as α·v + ((1 − α)·g)·g, to the same rounding)
    lines = W.l2(s) + [W.Line("v_k", W.ema_sq(prev.v, s.g, h.alpha), new.v)]
    if s.hp.centered:
        lines.append(W.Line(r"\bar g_k", W.ema(prev.gbar, s.g, h.alpha), new.gbar))
        lines.append(W.Line(r"\delta_k", W.sqrt(new.v - W.square(new.gbar)) + h.eps, den,
                            label="δ = √(v − ḡ²) + ε (centered)"))
    else:
        lines.append(W.Line(r"\delta_k", W.sqrt(new.v) + h.eps, den, label="δ = √v + ε"))
    if s.hp.momentum != 0:
        lines.append(W.Line("b_k", h.momentum * prev.b + s.g / den, new.b))
        lines.append(W.Line(r"\theta_k", s.theta_prev - s.lr * new.b, s.theta))
    else:
        lines.append(W.Line(r"\theta_k", s.theta_prev - s.lr * (s.g / den), s.theta))
    return lines


RMSPROP = Optimizer(
    name="rmsprop", title="RMSprop",
    hparams=(
        lr(1e-2),
        Param("alpha", 0.99, low=0.0, high=1.0, high_open=True, ui_low=0.0, ui_high=0.9999,
              symbol=r"\alpha", help="smoothing constant of the running mean of g² (not Adam's β1)"),
        eps(1e-8),
        weight_decay(),
        momentum(0.0),
        flag("centered", False, r"\text{centered}",
             "divide by an estimate of the gradient's variance (v − ḡ²) instead of its raw second moment"),
    ),
    init=rmsprop_init, update=rmsprop_update, worked=rmsprop_worked, sweep_y=("momentum", "alpha", "lr"),
    buffers=(
        Buffer("v", "v_t", "running mean of g²", "square_avg"),
        Buffer("gbar", r"\bar g_t", "running mean of g (centered only)", "grad_avg"),
        Buffer("b", "b_t", "momentum buffer", "momentum_buffer"),
    ),
    rule=r"""
g_t = \nabla f(\theta_{t-1}) + \lambda\,\theta_{t-1} \\
v_t = \alpha\, v_{t-1} + (1-\alpha)\, g_t^2 \\
\bar g_t = \alpha\, \bar g_{t-1} + (1-\alpha)\, g_t \ \text{(centered)} \\
\delta_t = \sqrt{v_t - \bar g_t^2} + \epsilon \ \text{(centered)} \quad\text{or}\quad \sqrt{v_t} + \epsilon \\
b_t = \mu\, b_{t-1} + g_t / \delta_t \\
\theta_t = \theta_{t-1} - \eta\, b_t \quad (\mu = 0:\ \theta_t = \theta_{t-1} - \eta\, g_t/\delta_t)
""",
    summary="Divides each step by a running RMS of recent gradients; no bias correction.",
    reference="Hinton, Coursera lecture 6e (2012); Graves 2013 (centered); torch.optim.RMSprop",
    torch="torch.optim.RMSprop",
)


# --- Adadelta ----------------------------------------------------------------
class AdadeltaState(NamedTuple):
    v: Num  # running mean of g²
    u: Num  # running mean of Δ²


def adadelta_init(params, hp, xp):
    zeros = xp.zeros_like(params)
    return AdadeltaState(zeros, zeros)


def adadelta_update(g, state, params, step, hp, xp):
    g = l2(g, params, hp, xp)
    v = ema_sq(state.v, g, hp.rho)
    delta = xp.sqrt(state.u + hp.eps) / xp.sqrt(v + hp.eps) * g
    u = ema_sq(state.u, delta, hp.rho)
    return params - step.lr * delta, AdadeltaState(v, u)


def adadelta_worked(s: W.Numbers) -> list[W.Line]:
    h, prev, new, delta = s.h, s.prev, s.state, N("delta")
    return W.l2(s) + [
        W.Line("v_k", W.ema_sq(prev.v, s.g, h.rho), new.v),
        W.Line(r"\Delta_k", W.sqrt(prev.u + h.eps) / W.sqrt(new.v + h.eps) * s.g, delta,
               label="Δ (the update before η)"),
        W.Line("u_k", W.ema_sq(prev.u, delta, h.rho), new.u),
        W.Line(r"\theta_k", s.theta_prev - s.lr * delta, s.theta),
    ]


ADADELTA = Optimizer(
    name="adadelta", title="Adadelta",
    hparams=(
        lr(1.0),
        Param("rho", 0.9, low=0.0, high=1.0, ui_low=0.0, ui_high=0.9999, symbol=r"\rho",
              help="decay of both running means"),
        eps(1e-6),
        weight_decay(),
    ),
    init=adadelta_init, update=adadelta_update, worked=adadelta_worked, sweep_y=("rho", "lr"),
    buffers=(
        Buffer("v", "v_t", "running mean of g²", "square_avg"),
        Buffer("u", "u_t", "running mean of squared updates Δ²", "acc_delta"),
    ),
    rule=r"""
g_t = \nabla f(\theta_{t-1}) + \lambda\,\theta_{t-1} \\
v_t = \rho\, v_{t-1} + (1-\rho)\, g_t^2 \\
\Delta_t = \sqrt{u_{t-1} + \epsilon}\,/\,\sqrt{v_t + \epsilon}\; g_t \\
u_t = \rho\, u_{t-1} + (1-\rho)\, \Delta_t^2 \\
\theta_t = \theta_{t-1} - \eta\, \Delta_t
""",
    summary="Scales steps by the ratio of past update size to past gradient size: units match, lr ≈ 1.",
    reference="Zeiler 2012; torch.optim.Adadelta", torch="torch.optim.Adadelta",
)

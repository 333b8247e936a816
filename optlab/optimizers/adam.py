"""Adam and its family: AdamW, AMSGrad, Adamax, NAdam, RAdam (torch.optim's rules)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from optlab.optimizers import worked as W
from optlab.optimizers.base import (
    BiasCorrectedStep,
    Buffer,
    Num,
    Optimizer,
    beta,
    bias_corrections,
    decoupled,
    ema,
    ema_sq,
    eps,
    flag,
    l2,
    lr,
    power,
    weight_decay,
)
from optlab.optimizers.worked import N
from optlab.params import Param

BETA1 = beta("beta1", 0.9, "decay of the first moment m (the momentum)")
BETA2 = beta("beta2", 0.999, "decay of the second moment v (the running mean of g²)")
M = Buffer("m", "m_t", "first moment: running mean of g", "exp_avg")
V = Buffer("v", "v_t", "second moment: running mean of g²", "exp_avg_sq")
SWEEP_Y = ("beta1", "beta2", "lr")  # a sweep's default y axis: β1, else β2
M_HAT = N("m_hat")  # numbers of the worked lines' own


# --- Adam, AdamW, AMSGrad ------------------------------------------------------
class AdamState(NamedTuple):
    m: Num
    v: Num
    v_max: Num  # AMSGrad's running maximum of v


def adam_init(params, hp, xp):
    zeros = xp.zeros_like(params)
    return AdamState(zeros, zeros, zeros)


def _adam_step(g, state, params, step, hp, xp):
    """Adam's update once weight decay is applied (to g, or to θ)."""
    m = ema(state.m, g, hp.beta1)
    v = ema_sq(state.v, g, hp.beta2)
    v_max = state.v_max
    if hp.amsgrad:
        v_max = xp.maximum(v_max, v)  # on the raw v, as torch does
        v_used = v_max
    else:
        v_used = v
    den = xp.sqrt(v_used) / step.sqrt_bc2 + hp.eps
    return params - (step.lr / step.bc1) * (m / den), AdamState(m, v, v_max)


def adam_update(g, state, params, step, hp, xp):
    return _adam_step(l2(g, params, hp, xp), state, params, step, hp, xp)  # L2, folded into the gradient


def adamw_update(g, state, params, step, hp, xp):
    return _adam_step(g, state, decoupled(params, step.lr, hp, xp), step, hp, xp)  # AdamW: shrink θ first


ADAM_RULE = r"""
g_t = \nabla f(\theta_{t-1}) + \lambda\,\theta_{t-1} \\
m_t = \beta_1 m_{t-1} + (1-\beta_1)\, g_t \\
v_t = \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2 \quad (\text{AMSGrad: } v_t \leftarrow \max(v^{\max}_{t-1}, v_t)) \\
\hat m_t = m_t / (1-\beta_1^t), \quad \hat v_t = v_t / (1-\beta_2^t) \\
\theta_t = \theta_{t-1} - \eta\, \hat m_t / (\sqrt{\hat v_t} + \epsilon)
"""
ADAMW_RULE = r"""
\theta_{t-1} \leftarrow \theta_{t-1}\,(1 - \eta\lambda) \\
g_t = \nabla f(\theta_{t-1}) \\
m_t = \beta_1 m_{t-1} + (1-\beta_1)\, g_t \\
v_t = \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2 \\
\hat m_t = m_t / (1-\beta_1^t), \quad \hat v_t = v_t / (1-\beta_2^t) \\
\theta_t = \theta_{t-1} - \eta\, \hat m_t / (\sqrt{\hat v_t} + \epsilon)
"""
ADAM_BUFFERS = (M, V, Buffer("v_max", r"v^{\max}_t", "running maximum of v (AMSGrad only)", "max_exp_avg_sq"))


def _adam_worked(s: W.Numbers, lines: list[W.Line], start: N) -> list[W.Line]:
    """Adam's lines once weight decay is applied (``lines``), from θ = ``start``."""
    new, c = s.state, s.c
    lines += W.moments(s)
    lines.append(W.Line(r"\hat m_k", new.m / c.bc1, M_HAT, label="m̂ = m / (1 − β1^k)"))
    if s.hp.amsgrad:
        lines.append(W.Line(r"v^{\max}_k", W.maximum(s.prev.v_max, new.v), new.v_max))
        v_hat = N("v_max_hat")
        lines.append(W.Line(r"\hat v^{\max}_k", new.v_max / c.bc2, v_hat,
                            label="v̂_max = v_max / (1 − β2^k) (AMSGrad: in place of v̂)"))
    else:
        v_hat = N("v_hat")
        lines.append(W.Line(r"\hat v_k", new.v / c.bc2, v_hat, label="v̂ = v / (1 − β2^k)"))
    lines.append(W.Line(r"\theta_k", start - s.lr * (M_HAT / (W.sqrt(v_hat) + s.h.eps)), s.theta))
    return lines


def adam_worked(s: W.Numbers) -> list[W.Line]:
    return _adam_worked(s, W.l2(s), s.theta_prev)


def adamw_worked(s: W.Numbers) -> list[W.Line]:
    return _adam_worked(s, *W.decoupled(s))


def _adam(name, title, update, wd, amsgrad, rule, summary, reference, torch) -> Optimizer:
    return Optimizer(
        name=name, title=title,
        hparams=(
            lr(1e-3), BETA1, BETA2, eps(1e-8), wd,
            flag("amsgrad", amsgrad, r"\text{amsgrad}",
                 "use the running maximum of v, so the step size never grows"),
        ),
        init=adam_init, update=update, coefficients=bias_corrections, step_type=BiasCorrectedStep,
        buffers=ADAM_BUFFERS, worked=adamw_worked if update is adamw_update else adam_worked,
        decoupled_decay=update is adamw_update, sweep_y=SWEEP_Y,
        rule=rule, summary=summary, reference=reference, torch=torch,
        notes="The ε is added after the square root and the bias correction, as in torch "
        "(optax's scale_by_rms puts it inside).",
    )


ADAM = _adam(
    "adam", "Adam", adam_update, weight_decay(), False, ADAM_RULE,
    "Momentum on the gradient divided by a running RMS of it, both bias-corrected: "
    "steps of about η in every coordinate.",
    "Kingma & Ba 2015; torch.optim.Adam", "torch.optim.Adam",
)
ADAMW = _adam(
    "adamw", "AdamW", adamw_update, weight_decay(1e-2, decoupled=True), False, ADAMW_RULE,
    "Adam with weight decay applied to θ directly, not folded into the gradient Adam rescales.",
    "Loshchilov & Hutter 2019; torch.optim.AdamW", "torch.optim.AdamW",
)
AMSGRAD = _adam(
    "amsgrad", "AMSGrad", adam_update, weight_decay(), True, ADAM_RULE,
    "Adam that divides by the largest second moment seen so far, so the step size never grows.",
    "Reddi, Kale & Kumar 2018; torch.optim.Adam(amsgrad=True)", "torch.optim.Adam",
)


# --- Adamax ----------------------------------------------------------------------
class AdamaxState(NamedTuple):
    m: Num
    u: Num  # exponentially weighted infinity norm


def adamax_init(params, hp, xp):
    zeros = xp.zeros_like(params)
    return AdamaxState(zeros, zeros)


def adamax_update(g, state, params, step, hp, xp):
    g = l2(g, params, hp, xp)
    m = ema(state.m, g, hp.beta1)
    u = xp.maximum(hp.beta2 * state.u, xp.abs(g) + hp.eps)
    return params - (step.lr / step.bc1) * (m / u), AdamaxState(m, u)


def adamax_worked(s: W.Numbers) -> list[W.Line]:
    h, new = s.h, s.state
    return W.l2(s) + [
        W.Line("m_k", W.ema(s.prev.m, s.g, h.beta1), new.m),
        W.Line("u_k", W.maximum(h.beta2 * s.prev.u, W.absolute(s.g) + h.eps), new.u),
        W.Line(r"\theta_k", s.theta_prev - s.lr / s.c.bc1 * (new.m / new.u), s.theta),
    ]


ADAMAX = Optimizer(
    name="adamax", title="Adamax",
    hparams=(lr(2e-3), BETA1, BETA2, eps(1e-8), weight_decay()),
    init=adamax_init, update=adamax_update, coefficients=bias_corrections, step_type=BiasCorrectedStep,
    worked=adamax_worked, sweep_y=SWEEP_Y,
    buffers=(M, Buffer("u", "u_t", "exponentially weighted infinity norm of g", "exp_inf")),
    rule=r"""
g_t = \nabla f(\theta_{t-1}) + \lambda\,\theta_{t-1} \\
m_t = \beta_1 m_{t-1} + (1-\beta_1)\, g_t \\
u_t = \max(\beta_2\, u_{t-1},\ |g_t| + \epsilon) \\
\theta_t = \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\, m_t / u_t
""",
    summary="Adam with the infinity norm in place of the RMS: divides by the largest recent |g|.",
    reference="Kingma & Ba 2015, section 7; torch.optim.Adamax", torch="torch.optim.Adamax",
)


# --- NAdam -------------------------------------------------------------------------
class NAdamState(NamedTuple):
    m: Num
    v: Num


class NAdamStep(NamedTuple):
    t: int
    lr: Num
    bc2: Num  # 1 − β2^t
    mu: Num  # μ_t, the momentum schedule
    mu_next: Num  # μ_{t+1}
    mu_product: Num  # Π_t = μ_1 ⋯ μ_t
    mu_product_next: Num  # Π_t·μ_{t+1}


def nadam_init(params, hp, xp):
    zeros = xp.zeros_like(params)
    return NAdamState(zeros, zeros)


def nadam_coefficients(t, hp):
    mu = hp.beta1 * (1.0 - 0.5 * power(0.96, t * hp.momentum_decay))
    mu_next = hp.beta1 * (1.0 - 0.5 * power(0.96, (t + 1.0) * hp.momentum_decay))
    mu_product = np.cumprod(mu, axis=0)  # Π_t, multiplied step by step as torch does
    return {
        "bc2": 1.0 - power(hp.beta2, t),
        "mu": mu, "mu_next": mu_next, "mu_product": mu_product,
        "mu_product_next": mu_product * mu_next,
    }


def nadam_update(g, state, params, step, hp, xp):
    g = l2(g, params, hp, xp)
    m = ema(state.m, g, hp.beta1)
    v = ema_sq(state.v, g, hp.beta2)
    den = xp.sqrt(v / step.bc2) + hp.eps
    params = params - (step.lr * (1 - step.mu) / (1 - step.mu_product)) * (g / den)
    params = params - (step.lr * step.mu_next / (1 - step.mu_product_next)) * (m / den)
    return params, NAdamState(m, v)


def nadam_worked(s: W.Numbers) -> list[W.Line]:
    c, den = s.c, N("den")
    g_step = s.lr * (1 - c.mu) / (1 - c.mu_product) * (s.g / den)
    m_step = s.lr * c.mu_next / (1 - c.mu_product_next) * (s.state.m / den)
    return W.l2(s) + W.moments(s) + [
        W.Line(r"\delta_k", W.sqrt(s.state.v / c.bc2) + s.h.eps, den, label="δ = √(v / (1 − β2^k)) + ε"),
        W.Line(r"\theta_k", s.theta_prev - g_step - m_step, s.theta),
    ]


NADAM = Optimizer(
    name="nadam", title="NAdam",
    hparams=(
        lr(2e-3), BETA1, BETA2, eps(1e-8), weight_decay(),
        Param("momentum_decay", 4e-3, low=0.0, ui_low=0.0, ui_high=0.1, symbol=r"\psi",
              help="how fast the momentum schedule μ_t warms up to β1"),
    ),
    init=nadam_init, update=nadam_update, coefficients=nadam_coefficients, step_type=NAdamStep, buffers=(M, V),
    worked=nadam_worked, sweep_y=SWEEP_Y,
    rule=r"""
g_t = \nabla f(\theta_{t-1}) + \lambda\,\theta_{t-1} \\
\mu_t = \beta_1\,(1 - \tfrac12\, 0.96^{t\psi}), \quad \Pi_t = \textstyle\prod_{i\le t} \mu_i \\
m_t = \beta_1 m_{t-1} + (1-\beta_1)\, g_t, \quad v_t = \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2 \\
\delta_t = \sqrt{v_t / (1-\beta_2^t)} + \epsilon \\
\theta_t = \theta_{t-1} - \eta\,\frac{1-\mu_t}{1-\Pi_t}\,\frac{g_t}{\delta_t}
 - \eta\,\frac{\mu_{t+1}}{1-\Pi_t\,\mu_{t+1}}\,\frac{m_t}{\delta_t}
""",
    summary="Adam with Nesterov momentum: the step uses the momentum it is about to have.",
    reference="Dozat 2016; torch.optim.NAdam", torch="torch.optim.NAdam",
)


# --- RAdam -------------------------------------------------------------------------
class RAdamStep(NamedTuple):
    t: int
    lr: Num
    bc1: Num  # 1 − β1^t
    sqrt_bc2: Num  # √(1 − β2^t)
    rho_t: Num  # ρ_t, the length of the approximated simple moving average
    rectified: bool | np.ndarray  # ρ_t > 5: the variance is tractable, the step is rectified
    r: Num  # the rectification term r_t (1 where not rectified)


def radam_coefficients(t, hp):
    bc1 = 1.0 - power(hp.beta1, t)
    beta2_t = power(hp.beta2, t)
    bc2 = 1.0 - beta2_t
    rho_inf = 2.0 / (1.0 - hp.beta2) - 1.0
    rho_t = rho_inf - 2.0 * t * beta2_t / bc2
    rectified = rho_t > 5.0
    with np.errstate(all="ignore"):
        r = power((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t), 0.5)  # torch's ** 0.5
    return {
        "bc1": bc1, "sqrt_bc2": power(bc2, 0.5), "rho_t": rho_t,
        "rectified": rectified, "r": np.where(rectified, r, 1.0),
    }


def radam_update(g, state, params, step, hp, xp):
    g = l2(g, params, hp, xp)
    m = ema(state.m, g, hp.beta1)
    v = ema_sq(state.v, g, hp.beta2)
    m_hat = m / step.bc1
    adaptive = step.sqrt_bc2 / (xp.sqrt(v) + hp.eps)
    rectified_step = m_hat * step.lr * adaptive * step.r
    plain_step = m_hat * step.lr
    return params - xp.where(step.rectified, rectified_step, plain_step), NAdamState(m, v)


def radam_worked(s: W.Numbers) -> list[W.Line]:
    c = s.c
    lines = W.l2(s) + W.moments(s)
    lines.append(W.Line(r"\hat m_k", s.state.m / c.bc1, M_HAT, label="m̂ = m / (1 − β1^k)"))
    if s.step.rectified:
        adaptive = c.sqrt_bc2 / (W.sqrt(s.state.v) + s.h.eps)
        lines.append(W.Line(r"\theta_k", s.theta_prev - s.lr * M_HAT * c.r * adaptive, s.theta,
                            when=W.Cond(r"\rho_k", c.rho_t, "> 5")))
    else:
        lines.append(W.Line(r"\theta_k", s.theta_prev - s.lr * M_HAT, s.theta,
                            when=W.Cond(r"\rho_k", c.rho_t, r"\le 5")))
    return lines


RADAM = Optimizer(
    name="radam", title="RAdam",
    hparams=(lr(1e-3), BETA1, BETA2, eps(1e-8), weight_decay()),
    init=nadam_init, update=radam_update, coefficients=radam_coefficients, step_type=RAdamStep, buffers=(M, V),
    worked=radam_worked, sweep_y=SWEEP_Y,
    rule=r"""
g_t = \nabla f(\theta_{t-1}) + \lambda\,\theta_{t-1} \\
m_t = \beta_1 m_{t-1} + (1-\beta_1)\, g_t, \quad v_t = \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2 \\
\hat m_t = m_t / (1-\beta_1^t), \quad \rho_\infty = \tfrac{2}{1-\beta_2} - 1, \quad
\rho_t = \rho_\infty - \tfrac{2t\beta_2^t}{1-\beta_2^t} \\
\rho_t > 5:\ \theta_t = \theta_{t-1} - \eta\, \hat m_t\, r_t\, \frac{\sqrt{1-\beta_2^t}}{\sqrt{v_t}+\epsilon},
\ r_t = \sqrt{\tfrac{(\rho_t-4)(\rho_t-2)\rho_\infty}{(\rho_\infty-4)(\rho_\infty-2)\rho_t}} \\
\text{else: } \theta_t = \theta_{t-1} - \eta\, \hat m_t
""",
    summary="Adam that takes plain momentum steps until the variance estimate is trustworthy (t = 6 for β2 = 0.999).",
    reference="Liu et al. 2020; torch.optim.RAdam", torch="torch.optim.RAdam",
)

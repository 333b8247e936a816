"""ASGD: SGD with a decaying step size and a running average of the iterates (torch.optim.ASGD)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from optlab.optimizers import worked as W
from optlab.optimizers.base import Buffer, Num, Optimizer, l2, lr, power, weight_decay
from optlab.optimizers.worked import N
from optlab.params import Param


class ASGDState(NamedTuple):
    ax: Num  # the averaged iterate


class ASGDStep(NamedTuple):
    t: int
    lr: Num
    eta: Num  # η_t, the step size of step t
    mu: Num  # μ_t, the averaging weight of step t


def init(params, hp, xp):
    return ASGDState(xp.zeros_like(params))


def coefficients(t, hp):
    """η_t and μ_t as torch computes them at the end of step t − 1, from that step's (scheduled) lr:
    η_1 = lr_1, η_{t+1} = lr_t / (1 + λ_d·lr_t·t)^α; μ_1 = 1, μ_{t+1} = 1 / max(1, t − t0)."""
    lr_t = np.asarray(hp.lr, dtype=float)
    eta_next = lr_t / power(1 + hp.lambd * lr_t * t, hp.alpha)  # pow, as torch's floats
    mu_next = 1 / np.maximum(1, t - hp.t0)
    shape = np.broadcast_shapes(np.shape(eta_next), np.shape(mu_next))
    eta, mu = np.empty(shape), np.empty(shape)
    eta[0] = np.broadcast_to(lr_t, np.shape(eta_next))[0]
    eta[1:] = np.broadcast_to(eta_next, shape)[:-1]
    mu[0] = 1.0
    mu[1:] = np.broadcast_to(mu_next, shape)[:-1]
    return {"eta": eta, "mu": mu}


def update(g, state, params, step, hp, xp):
    g = l2(g, params, hp, xp)
    params = params * (1 - hp.lambd * step.eta)
    params = params - step.eta * g
    mu = step.mu  # torch: μ = 1 copies θ. One μ for every run (a float) takes its branch here, only it computed
    if isinstance(mu, np.ndarray):
        ax = xp.where(mu != 1, state.ax + (params - state.ax) * mu, params)
    else:
        ax = state.ax + (params - state.ax) * mu if mu != 1 else params
    return params, ASGDState(ax)


def worked(s: W.Numbers) -> list[W.Line]:
    h, c = s.h, s.c
    lines = W.l2(s)
    start = s.theta_prev
    if s.hp.lambd != 0:
        start = N("theta_decayed")
        lines.append(W.Line(r"\theta'_{k-1}", s.theta_prev * (1 - h.lambd * c.eta), start,
                            label="θ' = θ_{k−1}·(1 − λ_d·η_k) (the decay term)"))
    lines.append(W.Line(r"\theta_k", start - c.eta * s.g, s.theta))
    if s.step.mu != 1:
        lines.append(W.Line(r"\bar\theta_k", s.prev.ax + (s.theta - s.prev.ax) * c.mu, s.state.ax,
                            when=W.Cond(r"\mu_k", c.mu, r"\ne 1")))
    else:
        lines.append(W.Line(r"\bar\theta_k", s.theta, s.state.ax, when=W.Cond(r"\mu_k", c.mu, "= 1")))
    return lines


ASGD = Optimizer(
    name="asgd", title="ASGD",
    hparams=(
        lr(1e-2),
        Param("lambd", 1e-4, low=0.0, ui_low=0.0, ui_high=1.0, symbol=r"\lambda_d",
              help="decay term: shrinks θ by η·λ_d each step and slows the step-size schedule"),
        Param("alpha", 0.75, low=0.0, ui_low=0.0, ui_high=1.0, symbol=r"\alpha",
              help="power of the step-size decay η_t = η / (1 + λ_d·η·t)^α"),
        Param("t0", 1e6, low=0.0, ui_low=0.0, ui_high=1e6, symbol="t_0",
              help="the step after which averaging starts (before it the average is θ itself)"),
        weight_decay(),
    ),
    init=init, update=update, coefficients=coefficients, step_type=ASGDStep, schedule_in_coefficients=True,
    worked=worked, sweep_y=("t0", "lambd", "lr"),
    buffers=(Buffer("ax", r"\bar\theta_t", "the averaged iterate: the mean of θ since step t0", "ax",
                   point=True),),
    rule=r"""
g_t = \nabla f(\theta_{t-1}) + \lambda\,\theta_{t-1} \\
\theta_t = \theta_{t-1}\,(1 - \lambda_d\, \eta_t) - \eta_t\, g_t \\
\bar\theta_t = \bar\theta_{t-1} + \mu_t\,(\theta_t - \bar\theta_{t-1}) \quad (\mu_t = 1:\ \bar\theta_t = \theta_t) \\
\eta_{t+1} = \eta / (1 + \lambda_d\, \eta\, t)^{\alpha}, \quad \mu_{t+1} = 1 / \max(1,\ t - t_0)
""",
    summary="SGD whose step size decays as η/(1 + λ_d·η·t)^α, keeping the running mean θ̄ of the iterates "
    "after step t0: the average settles where the iterates only jitter around a minimum.",
    reference="Polyak & Juditsky 1992; Bottou 2012; torch.optim.ASGD", torch="torch.optim.ASGD",
    notes="torch's default t0 = 10⁶ means the average is θ itself for any run here: lower t0 to see "
    "averaging. θ̄ is the ax buffer (torch's state['ax']); the path drawn is θ. η_t and μ_t are computed "
    "from the learning rate of the step before, as torch does.",
)

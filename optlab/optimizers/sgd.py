"""Stochastic gradient descent, with heavy-ball or Nesterov momentum (torch.optim.SGD)."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from optlab.optimizers import worked as W
from optlab.optimizers.base import Buffer, Num, Optimizer, flag, l2, lr, momentum, nonzero, pick, weight_decay
from optlab.params import Param


class SGDState(NamedTuple):
    b: Num  # momentum buffer


def init(params, hp, xp):
    return SGDState(xp.zeros_like(params))


def update(g, state, params, step, hp, xp):
    # Each run follows its own torch branch (a batch may mix μ = 0 and μ ≠ 0, λ = 0 and λ ≠ 0).
    g = l2(g, params, hp, xp)
    b = state.b
    heavy = nonzero(hp.momentum)
    if heavy is not False:
        # torch: the first step copies g into the buffer (no dampening); without momentum it keeps none.
        b = pick(heavy, g if step.t == 1 else hp.momentum * b + (1 - hp.dampening) * g, b, xp)
        d = pick(heavy, g + hp.momentum * b if hp.nesterov else b, g, xp)
    else:
        d = g
    return params - step.lr * d, SGDState(b)


RULE = r"""
g_t = \nabla f(\theta_{t-1}) + \lambda\,\theta_{t-1} \\
b_t = \mu\, b_{t-1} + (1-\tau)\, g_t \quad (b_1 = g_t) \\
d_t = g_t + \mu\, b_t \ \text{(Nesterov)} \quad\text{or}\quad d_t = b_t \\
\theta_t = \theta_{t-1} - \eta\, d_t
"""

NOTES = (
    "This is torch's form of momentum (b = μ·b + g; θ -= η·b). The 'classic' form "
    "v = μ·v − η·g; θ += v gives the same path only for a constant learning rate "
    "and no dampening."
)


def worked(s: W.Numbers) -> list[W.Line]:
    h, b = s.h, s.state.b
    lines = W.l2(s)
    if s.hp.momentum != 0:
        if s.step.t == 1:
            lines.append(W.Line("b_1", s.g, b))  # the first step copies g
        else:
            lines.append(W.Line("b_k", h.momentum * s.prev.b + (1 - h.dampening) * s.g, b))
        d = s.g + h.momentum * b if s.hp.nesterov else b
        lines.append(W.Line(r"\theta_k", s.theta_prev - s.lr * d, s.theta))
    else:
        lines.append(W.Line(r"\theta_k", s.theta_prev - s.lr * s.g, s.theta))
    return lines


def check(hp) -> str | None:
    if hp["nesterov"] and (np.any(np.asarray(hp["momentum"]) <= 0) or np.any(np.asarray(hp["dampening"]) != 0)):
        return (f"nesterov requires momentum > 0 and dampening = 0 (as torch.optim.SGD); got momentum = "
                f"{hp['momentum']!r}, dampening = {hp['dampening']!r}")
    return None


def stable_lr(hp, L: float) -> float:
    """The lr beyond which SGD diverges on a quadratic of largest curvature L (the linear recurrence's roots
    leave the unit circle; Jury's test on (θ, b) of one eigendirection, curvature λ = L + L2 decay):
    plain 2/λ; heavy ball (b = μb + (1 − τ)g) 2(1 + μ)/((1 − τ)λ); Nesterov (τ = 0) 2(1 + μ)/((1 + 2μ)λ)."""
    lam = L + hp["weight_decay"]
    mu, tau = hp["momentum"], hp["dampening"]
    if mu == 0:
        return 2 / lam
    if hp["nesterov"]:
        return 2 * (1 + mu) / ((1 + 2 * mu) * lam)
    return 2 * (1 + mu) / ((1 - tau) * lam) if tau < 1 else math.inf


def _hparams(mu: float, nesterov: bool) -> tuple[Param, ...]:
    return (
        lr(1e-3),
        momentum(mu),
        Param("dampening", 0.0, low=0.0, high=1.0, ui_low=0.0, ui_high=1.0, symbol=r"\tau",
              help="dampening: the share of the new gradient left out of the momentum buffer"),
        weight_decay(),
        flag("nesterov", nesterov, r"\text{nesterov}",
             "Nesterov momentum: step along g + μ·b, a look-ahead, instead of b"),
    )


def _sgd(name: str, title: str, mu: float, nesterov: bool, summary: str) -> Optimizer:
    return Optimizer(
        name=name, title=title, hparams=_hparams(mu, nesterov), init=init, update=update,
        buffers=(Buffer("b", "b_t", "momentum buffer", "momentum_buffer"),),
        rule=RULE, summary=summary,
        reference="Robbins & Monro 1951; Polyak 1964; Sutskever et al. 2013; torch.optim.SGD",
        torch="torch.optim.SGD", notes=NOTES, worked=worked, check=check, sweep_y=("momentum", "lr"),
        stable_lr=stable_lr,
    )


SGD = _sgd("sgd", "SGD", 0.0, False, "Steps straight down the gradient, scaled by the learning rate.")
MOMENTUM = _sgd(
    "momentum", "SGD + momentum", 0.9, False,
    "Keeps a running sum of past gradients: speeds up along consistent directions, damps zig-zags.",
)
NESTEROV = _sgd(
    "nesterov", "SGD + Nesterov", 0.9, True,
    "Momentum that looks ahead: corrects the step with the gradient where momentum is taking it.",
)

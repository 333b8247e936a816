"""Lion: the sign of an interpolated momentum (Chen et al. 2023; not in torch.optim)."""

from __future__ import annotations

from typing import NamedTuple

from optlab.optimizers import worked as W
from optlab.optimizers.base import Buffer, Optimizer, beta, lr, weight_decay
from optlab.optimizers.worked import N


class LionState(NamedTuple):
    m: object


def init(params, hp, xp):
    return LionState(xp.zeros_like(params))


def update(g, state, params, step, hp, xp):
    c = hp.beta1 * state.m + (1 - hp.beta1) * g
    params = params - step.lr * (xp.sign(c) + hp.weight_decay * params)
    return params, LionState(hp.beta2 * state.m + (1 - hp.beta2) * g)


def worked(s):
    direction = W.sign(N("c"))
    if s.weight_decay != 0:
        direction = direction + N("weight_decay") * N("theta_prev")
    return [
        W.Line("c_k", N("beta1") * N("prev_m") + (1 - N("beta1")) * N("g"), "c", label="c = β1·m + (1 − β1)·g"),
        W.Line(r"\theta_k", N("theta_prev") - N("lr") * direction, "theta"),
        W.Line("m_k", N("beta2") * N("prev_m") + (1 - N("beta2")) * N("g"), "m"),
    ]


LION = Optimizer(
    name="lion", title="Lion",
    hparams=(
        lr(1e-4),
        beta("beta1", 0.9, "weight of the momentum in the direction c whose sign is taken"),
        beta("beta2", 0.99, "decay of the momentum m"),
        weight_decay(decoupled=True),
    ),
    init=init, update=update, worked=worked, decoupled_decay=True,
    buffers=(Buffer("m", "m_t", "momentum: running mean of g", "exp_avg"),),
    rule=r"""
c_t = \beta_1 m_{t-1} + (1-\beta_1)\, g_t \\
\theta_t = \theta_{t-1} - \eta\,(\operatorname{sign}(c_t) + \lambda\,\theta_{t-1}) \\
m_t = \beta_2 m_{t-1} + (1-\beta_2)\, g_t
""",
    summary="Steps of exactly η per coordinate, in the sign of an interpolated momentum.",
    reference="Chen et al. 2023, 'Symbolic Discovery of Optimization Algorithms'; as in optax.lion",
    torch=None,
    notes="Not in torch.optim; the exported snippet implements it by hand. lr has no standard "
    "default: 1e-4 is the paper's typical value (3–10× smaller than Adam's).",
)

"""Lion: the sign of an interpolated momentum (Chen et al. 2023; not in torch.optim)."""

from __future__ import annotations

from typing import NamedTuple

from optlab.optimizers import worked as W
from optlab.optimizers.base import Buffer, Num, Optimizer, WrittenOut, beta, ema, lr, weight_decay
from optlab.optimizers.worked import N


class LionState(NamedTuple):
    m: Num


def init(params, hp, xp):
    return LionState(xp.zeros_like(params))


def update(g, state, params, step, hp, xp):
    c = ema(state.m, g, hp.beta1)
    # decoupled weight decay, as optax.lion: added to the direction, so θ shrinks by η·λ·θ
    params = params - step.lr * (xp.sign(c) + hp.weight_decay * params)
    return params, LionState(ema(state.m, g, hp.beta2))


def worked(s: W.Numbers) -> list[W.Line]:
    h, c = s.h, N("c")
    direction = W.sign(c)
    if s.hp.weight_decay != 0:
        direction = direction + h.weight_decay * s.theta_prev
    return [
        W.Line("c_k", W.ema(s.prev.m, s.g, h.beta1), c, label="c = β1·m + (1 − β1)·g"),
        W.Line(r"\theta_k", s.theta_prev - s.lr * direction, s.theta),
        W.Line("m_k", W.ema(s.prev.m, s.g, h.beta2), s.state.m),
    ]


# The exported torch script's Lion: the same rule as update() above, on tensors.
TORCH_LION = '''
class Lion(torch.optim.Optimizer):
    """Lion (Chen et al. 2023), as optlab/optimizers/lion.py: not in torch.optim."""

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                state = self.state[p]
                if not state:
                    state["exp_avg"] = torch.zeros_like(p)
                m, g = state["exp_avg"], p.grad
                c = beta1 * m + (1 - beta1) * g
                p.copy_(p - group["lr"] * (torch.sign(c) + group["weight_decay"] * p))
                m.copy_(beta2 * m + (1 - beta2) * g)
'''


LION = Optimizer(
    name="lion", title="Lion",
    hparams=(
        lr(1e-4),
        beta("beta1", 0.9, "weight of the momentum in the direction c whose sign is taken"),
        beta("beta2", 0.99, "decay of the momentum m"),
        weight_decay(decoupled=True),
    ),
    init=init, update=update, worked=worked, decoupled_decay=True, sweep_y=("beta1", "beta2", "lr"),
    buffers=(Buffer("m", "m_t", "momentum: running mean of g", "exp_avg"),),
    rule=r"""
c_t = \beta_1 m_{t-1} + (1-\beta_1)\, g_t \\
\theta_t = \theta_{t-1} - \eta\,(\operatorname{sign}(c_t) + \lambda\,\theta_{t-1}) \\
m_t = \beta_2 m_{t-1} + (1-\beta_2)\, g_t
""",
    summary="Steps of exactly η per coordinate, in the sign of an interpolated momentum.",
    reference="Chen et al. 2023, 'Symbolic Discovery of Optimization Algorithms'; as in optax.lion",
    torch=None, written_out=WrittenOut("Lion", TORCH_LION),
    notes="Not in torch.optim; the exported snippet implements it by hand. lr has no standard "
    "default: 1e-4 is the paper's typical value (3–10× smaller than Adam's).",
)

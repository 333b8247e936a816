"""Adafactor as torch.optim.Adafactor (torch ≥ 2.5) runs it on a 1-D parameter such as our θ = (x, y)."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from optlab.optimizers import worked as W
from optlab.optimizers.base import Buffer, Num, Optimizer, coords_norm, decoupled, lerp, lr, power, weight_decay
from optlab.optimizers.worked import N
from optlab.params import Param

SQRT2 = math.sqrt(2.0)  # torch: param.numel() ** 0.5 for our two coordinates


class AdafactorState(NamedTuple):
    v: Num  # second moment (unfactored on a vector)
    u: Num  # this step's update direction before clipping, g / √v


class AdafactorStep(NamedTuple):
    t: int
    lr: Num
    w: Num  # t^(beta2_decay): the weight of g² in v, 1 − β2_t
    inv_sqrt_t: Num  # 1 / √t, the relative step size's cap


def init(params, hp, xp):
    zeros = xp.zeros_like(params)
    return AdafactorState(zeros, zeros)


def coefficients(t, hp):
    return {"w": power(t, hp.beta2_decay), "inv_sqrt_t": 1.0 / power(t, 0.5)}


def update(g, state, params, step, hp, xp):
    # coupled: RMS of θ and of the update over both coordinates (Optimizer.coupled), so always arrays (2, B) or
    # (2, 1): the temporaries are reused in place (out=), the same operations in the same order
    rho = xp.minimum(step.lr, step.inv_sqrt_t)
    alpha = _rms(params, SQRT2)
    np.maximum(hp.eps2, alpha, out=alpha)
    alpha *= rho  # α = max(ε2, RMS(θ))·ρ, from θ before weight decay
    params = decoupled(params, step.lr, hp, xp)
    g2 = g * g
    v = lerp(state.v, g2, step.w, xp)  # torch's lerp(v, g², w)
    u = np.maximum(v, hp.eps1 * hp.eps1)
    np.sqrt(u, out=u)
    np.divide(1, u, out=u)
    u *= g  # torch: rsqrt, then times g
    denom = _rms(u, SQRT2 * hp.d)
    np.maximum(1.0, denom, out=denom)
    alpha /= denom
    moved = u * alpha
    np.subtract(params, moved, out=moved)
    return moved, AdafactorState(v, u)


def _rms(a, over):
    """‖a‖ over the two coordinates, divided by ``over``: a new (B,) array ((1,) for a of shape (2,))."""
    n = np.atleast_1d(coords_norm(a, np))
    n /= over
    return n


def worked(s: W.Numbers) -> list[W.Line]:
    h, c, new, prev = s.h, s.c, s.state, s.prev
    x, y = s.xy
    rho, norm_theta, alpha, norm_u, denom = N("rho"), N("norm_theta"), N("alpha"), N("norm_u"), N("denom")
    lines = [
        W.Line(r"\rho_k", W.minimum(s.lr, c.inv_sqrt_t), rho, label="ρ = min(η, 1/√k): the relative step size"),
        W.Line(r"\lVert\theta_{k-1}\rVert", W.sqrt(W.square(x.theta_prev) + W.square(y.theta_prev)), norm_theta,
               label="‖θ_{k−1}‖ over both coordinates"),
        W.Line(r"\alpha_k", W.maximum(h.eps2, norm_theta / W.sqrt(2)) * rho, alpha,
               label="α = max(ε2, RMS(θ_{k−1}))·ρ: the step's length scale"),
    ]
    decay, start = W.decoupled(s)
    lines += decay
    g2 = W.square(s.g)
    if s.step.w < 0.5:
        lines.append(W.Line("v_k", prev.v + c.w * (g2 - prev.v), new.v))
    else:
        lines.append(W.Line("v_k", g2 - (g2 - prev.v) * (1 - c.w), new.v))
    lines += [
        W.Line("u_k", 1 / W.sqrt(W.maximum(new.v, h.eps1 * h.eps1)) * s.g, new.u),
        W.Line(r"\lVert u_k\rVert", W.sqrt(W.square(x.state.u) + W.square(y.state.u)), norm_u,
               label="‖u_k‖ over both coordinates"),
        W.Line(r"\delta_k", W.maximum(1, norm_u / (W.sqrt(2) * h.d)), denom,
               label="δ = max(1, RMS(u)/d): the update clipped to RMS ≤ d"),
        W.Line(r"\theta_k", start - alpha / denom * new.u, s.theta),
    ]
    return lines


# torch writes eps as a pair whose first entry None means the dtype's eps: 2.2e-16 in float64
EPS1_DEFAULT = float(np.finfo(np.float64).eps)

ADAFACTOR = Optimizer(
    name="adafactor", title="Adafactor",
    hparams=(
        lr(1e-2),
        Param("beta2_decay", -0.8, high=0.0, ui_low=-1.5, ui_high=0.0, symbol=r"c",
              help="the second moment's weight of g² is k^c: c = −0.8 lets β2 = 1 − k^c rise toward 1"),
        Param("eps1", EPS1_DEFAULT, low=0.0, ui_low=1e-15, ui_high=1e-3, log=True, symbol=r"\epsilon_1",
              help="floor of v (as ε1²) in the denominator; torch's None is the dtype's eps, 2.2e-16"),
        Param("eps2", 1e-3, low=0.0, ui_low=1e-8, ui_high=1.0, log=True, symbol=r"\epsilon_2",
              help="floor of RMS(θ) in the step's length scale: how far a θ near 0 can move"),
        Param("d", 1.0, low=1.0, ui_low=1.0, ui_high=10.0, symbol="d",
              help="clipping threshold: the update's RMS is cut to at most d"),
        weight_decay(decoupled=True),
    ),
    init=init, update=update, coefficients=coefficients, step_type=AdafactorStep, coupled=True,
    worked=worked, decoupled_decay=True, sweep_y=("beta2_decay", "eps2", "lr"),
    buffers=(Buffer("v", "v_t", "second moment: running mean of g² (unfactored: θ is a vector)", "variance"),
             Buffer("u", "u_t", "the update direction g/√v before clipping", "")),
    torch_args=lambda hp: {"lr": hp["lr"], "beta2_decay": hp["beta2_decay"], "eps": (hp["eps1"], hp["eps2"]),
                           "d": hp["d"], "weight_decay": hp["weight_decay"]},
    rule=r"""
\rho_t = \min(\eta, 1/\sqrt{t}), \quad \alpha_t = \max(\epsilon_2, \mathrm{RMS}(\theta_{t-1}))\, \rho_t \\
\theta_{t-1} \leftarrow \theta_{t-1}\,(1 - \eta\lambda) \\
v_t = \operatorname{lerp}(v_{t-1},\ g_t^2,\ t^{c}) \quad (\beta_{2,t} = 1 - t^{c}) \\
u_t = g_t / \sqrt{\max(v_t, \epsilon_1^2)}, \quad \delta_t = \max(1,\ \mathrm{RMS}(u_t)/d) \\
\theta_t = \theta_{t-1} - \frac{\alpha_t}{\delta_t}\, u_t
""",
    summary="On 2 coordinates: Adam without momentum whose β2 = 1 − t^c rises toward 1, stepping a length "
    "relative to the size of θ (RMS(θ), at least ε2, times min(η, 1/√t)), the update clipped to RMS ≤ d.",
    reference="Shazeer & Stern 2018; torch.optim.Adafactor", torch="torch.optim.Adafactor",
    notes="θ = (x, y) is a 1-D parameter, for which torch keeps the second moment unfactored: the row/column "
    "factorisation, Adafactor's memory saving, applies to matrices only. The step length scales with RMS(θ) "
    "over both coordinates, so the update reads the whole vector (a coupled declaration). eps1 = 2.2e-16 is "
    "torch's None for float64.",
)

"""Rprop: per-coordinate step sizes driven by the gradient's sign alone (torch.optim.Rprop)."""

from __future__ import annotations

from typing import NamedTuple

from optlab.optimizers import worked as W
from optlab.optimizers.base import Buffer, Num, Optimizer, lr
from optlab.optimizers.worked import N
from optlab.params import Param


class RpropState(NamedTuple):
    prev: Num  # the gradient kept for the next sign comparison (0 where the sign changed)
    step_size: Num  # Δ, per coordinate


def init(params, hp, xp):
    zeros = xp.zeros_like(params)
    return RpropState(zeros, zeros)  # Δ is set to the first step's lr by that step, as torch does


def _clamp(x, hp, xp):
    """torch's clamp_(Δmin, Δmax): min(max(x, Δmin), Δmax)."""
    return xp.minimum(xp.maximum(x, hp.step_size_min), hp.step_size_max)


def update(g, state, params, step, hp, xp):
    # torch fills Δ with the group's lr when it creates the state, at the first step (a later schedule
    # does not reach Δ); 0 + η is η exactly, in the shape of θ
    step_size = state.step_size + step.lr if step.t == 1 else state.step_size
    s = xp.sign(g * state.prev)  # + same sign as last step, − changed, 0 no comparison (first step, or after a change)
    factor = xp.where(s > 0, hp.eta_plus, xp.where(s < 0, hp.eta_minus, xp.where(s == 0, 1.0, s)))  # nan stays nan
    step_size = _clamp(step_size * factor, hp, xp)
    g = xp.where(s < 0, 0.0, g)  # after a sign change: no step now, and no comparison next step
    return params - xp.sign(g) * step_size, RpropState(g, step_size)


def worked(s: W.Numbers) -> list[W.Line]:
    h, prev, new = s.h, s.prev, s.state
    gg = N("gg")
    lines = [W.Line(r"g_k\,g^{\text{kept}}_{k-1}", s.g * prev.prev, gg,
                    label="g·g_kept: > 0 same sign as last step, < 0 changed, 0 no comparison")]
    product = s.here.grad * s.here.prev.prev  # this coordinate's branch, as torch's element-wise one

    def clamped(x):
        return W.minimum(W.maximum(x, h.step_size_min), h.step_size_max)

    def when(relation):
        return W.Cond(r"g_k\,g^{\text{kept}}_{k-1}", gg, relation)

    if s.step.t == 1:  # Δ starts at η: no previous gradient, factor 1
        lines.append(W.Line(r"\Delta_1", clamped(s.lr), new.step_size))
    elif product > 0:
        lines.append(W.Line(r"\Delta_k", clamped(prev.step_size * h.eta_plus), new.step_size, when=when("> 0")))
    elif product < 0:
        lines.append(W.Line(r"\Delta_k", clamped(prev.step_size * h.eta_minus), new.step_size, when=when("< 0")))
    else:  # 0 (or nan): Δ kept, clamped
        lines.append(W.Line(r"\Delta_k", clamped(prev.step_size), new.step_size, when=when("= 0")))
    flipped = s.step.t > 1 and product < 0  # no step along this coordinate, no comparison next step
    lines.append(W.Line(r"g^{\text{kept}}_k", W.Const(0.0) if flipped else s.g, new.prev))
    lines.append(W.Line(r"\theta_k", s.theta_prev - W.sign(new.prev) * new.step_size, s.theta))
    return lines


RPROP = Optimizer(
    name="rprop", title="Rprop",
    hparams=(
        lr(1e-2),
        Param("eta_minus", 0.5, low=0.0, high=1.0, low_open=True, high_open=True, ui_low=0.01, ui_high=0.99,
              symbol=r"\eta^-", help="factor that shrinks a coordinate's step size when its gradient changes sign"),
        Param("eta_plus", 1.2, low=1.0, low_open=True, ui_low=1.01, ui_high=3.0, symbol=r"\eta^+",
              help="factor that grows a coordinate's step size while its gradient keeps its sign"),
        Param("step_size_min", 1e-6, low=0.0, ui_low=0.0, ui_high=0.1, symbol=r"\Delta_{\min}",
              help="smallest step size"),
        Param("step_size_max", 50.0, low=0.0, ui_low=1e-3, ui_high=100.0, log=True, symbol=r"\Delta_{\max}",
              help="largest step size"),
    ),
    init=init, update=update, worked=worked, sweep_y=("eta_plus", "eta_minus", "lr"),
    buffers=(Buffer("prev", r"g^{\text{kept}}_t", "the gradient kept for the next sign comparison (0 after a "
                    "sign change)", "prev"),
             Buffer("step_size", r"\Delta_t", "the coordinate's own step size", "step_size")),
    torch_args=lambda hp: {"lr": hp["lr"], "etas": (hp["eta_minus"], hp["eta_plus"]),
                           "step_sizes": (hp["step_size_min"], hp["step_size_max"])},
    rule=r"""
\Delta_1 = \eta, \quad s_t = \operatorname{sign}(g_t\, g^{\text{kept}}_{t-1}) \\
\Delta_t = \operatorname{clamp}\big(\Delta_{t-1} \cdot (\eta^+ \text{ if } s_t > 0,\ \eta^- \text{ if } s_t < 0,
\ 1 \text{ if } s_t = 0),\ \Delta_{\min}, \Delta_{\max}\big) \\
g^{\text{kept}}_t = 0 \text{ if } s_t < 0 \text{ else } g_t \\
\theta_t = \theta_{t-1} - \operatorname{sign}(g^{\text{kept}}_t)\, \Delta_t
""",
    summary="Each coordinate steps by its own step size in the gradient's sign: ×η⁺ while the sign holds, ×η⁻ "
    "(and one pause) when it flips. Only signs are used, so a tiny gradient on a plateau and a huge one at a "
    "cliff give the same step: the size comes from the step history, not from the gradient's magnitude.",
    reference="Riedmiller & Braun 1993 (Rprop without weight-backtracking, as torch); torch.optim.Rprop",
    torch="torch.optim.Rprop",
    notes="The learning rate sets the initial step size only (torch fills the step sizes with lr when the "
    "first step creates the state): a schedule changes nothing after step 1. etas and step_sizes are "
    "torch's pairs, split. Full-batch only in spirit: minibatch noise flips signs at random.",
)

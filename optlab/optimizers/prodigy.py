"""Prodigy: Adam whose step size d is estimated as it goes (Mishchenko & Defazio 2024), as prodigyopt.Prodigy.

d is a lower bound on the distance from the start to the solution, D = ‖θ_0 − θ*‖, grown from d0:
d̂ = r_t / ‖s_t‖₁ with r_t, a running sum of ⟨g, θ_0 − θ⟩ (how far the gradients say the start is from here),
and s_t, a running sum of the gradients. It needs dot products and norms over the whole parameter
vector: a coupled declaration. d, the running r (d_numerator) and ‖s‖₁ are the optimizer's, one number
per run, kept in both coordinates' buffers (the inspector shows them per step).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from optlab.optimizers import worked as W
from optlab.optimizers.base import (
    Buffer,
    Num,
    Optimizer,
    WrittenOut,
    beta,
    coords_sum,
    eps,
    flag,
    fma,
    nonzero,
    pick,
    power,
    split,
)
from optlab.optimizers.worked import N
from optlab.params import Param


class ProdigyState(NamedTuple):
    m: Num  # first moment, scaled by d (exp_avg)
    v: Num  # second moment, scaled by d² (exp_avg_sq)
    s: Num  # running sum of the gradients weighted by d·dlr/d0
    p0: Num  # the start θ_0
    d_numerator: Num  # r_t = β3·r_{t−1} + (d/d0)·dlr·⟨g, θ_0 − θ⟩ (one number per run, both rows)
    d: Num  # the step-size estimate (one number per run, both rows)
    d_max: Num  # the largest estimate so far, max(d0, every d̂) (one number per run, both rows)


class ProdigyStep(NamedTuple):
    t: int
    lr: Num
    bc: Num  # √(1 − β2^k)/(1 − β1^k) with use_bias_correction (k: the steps at lr > 0 so far), else 1


def init(params, hp, xp):
    zeros = xp.zeros_like(params)
    return ProdigyState(zeros, zeros, zeros, zeros, zeros, zeros + hp.d0, zeros + hp.d0)


def coefficients(t, hp):
    """The bias correction of the package's step count k + 1, which a step at lr = 0 does not advance
    (hp.lr is each step's scheduled rate: schedule_in_coefficients)."""
    lr_t = np.asarray(hp.lr, dtype=float)
    moving = np.broadcast_to(lr_t > 0, np.broadcast_shapes(lr_t.shape, np.shape(t)))
    k = np.maximum(np.cumsum(moving, axis=0), 1).astype(float)
    with np.errstate(all="ignore"):
        corrected = power(1 - power(hp.beta2, k), 0.5) / (1 - power(hp.beta1, k))  # the package's (1 - β2^k)**0.5
    return {"bc": np.where(hp.use_bias_correction, corrected, 1.0)}


def update(g, state, params, step, hp, xp):
    # coupled: arrays (2, B); the per-run numbers d, r, d_max are rows equal in both coordinates, computed here on
    # one row (B,) and kept in the state as a (2, B) view of it. The arithmetic is the package's, rounding for
    # rounding: its add_(x, alpha=a) and addcmul_ round once on torch's CPU kernels (base.fma), its
    # addcdiv_(x, y, value=a) rounds a·x, then /y, then the sum (torch's sqrt, within an ulp of the correctly
    # rounded one, is the one difference left)
    p0 = params if step.t == 1 else state.p0  # the package keeps θ_0 from its first step
    d, d0 = state.d[0], hp.d0
    beta3 = xp.sqrt(hp.beta2) if hp.beta3 is None else hp.beta3  # the package's beta3=None: √β2
    # slice_p: the package's d reads θ.flatten()[::slice_p]; of a 2-vector, slice_p ≥ 2 keeps x alone
    both = nonzero(hp.slice_p == 1)
    dlr = d * step.lr * step.bc
    decays, decouple = nonzero(hp.weight_decay), nonzero(hp.decouple)
    l2_on = _and(decays, _not(decouple))
    if l2_on is not False:  # grad.add_(p, alpha=weight_decay)
        g = pick(l2_on, fma(hp.weight_decay, params, g), g, xp)
    products = g * (p0 - params)
    d_ratio = d / d0
    delta = d_ratio * dlr * pick(both, coords_sum(products), products[0], xp)
    g_split = split(g) if g.size > 2 else None  # g: the second factor of all three sums (one run: on floats)
    m = fma(d * (1 - hp.beta1), g, hp.beta1 * state.m, b_split=g_split)  # exp_avg.mul_(β1).add_(g, alpha=…)
    v = fma((d * d * (1 - hp.beta2)) * g, g, hp.beta2 * state.v, b_split=g_split)  # addcmul_: (value·g)·g + β2·v
    safeguard = hp.safeguard_warmup
    if isinstance(safeguard, np.ndarray):
        s_weight = xp.where(safeguard, d_ratio * d, d_ratio * dlr)
    else:
        s_weight = d_ratio * d if safeguard else d_ratio * dlr
    s = fma(s_weight, g, beta3 * state.s, b_split=g_split)
    if both is not True:  # slice_p ≥ 2: y is not sampled, its s stays 0
        s = xp.where(np.stack(np.broadcast_arrays(True, both)).reshape(2, -1), s, 0.0)
    s_norm = pick(both, coords_sum(xp.abs(s)), xp.abs(s[0]), xp)
    numerator = state.d_numerator[0] * beta3 + delta
    stalled = s_norm == 0  # the package returns before the step: nothing has moved yet
    d_hat = hp.d_coef * numerator / xp.where(stalled, 1.0, s_norm)
    d_max = xp.maximum(state.d_max[0], d_hat)
    d_first = xp.where(d == d0, xp.maximum(d, d_hat), d)  # the package's `if d == d0: d = max(d, d̂)`
    d_new = xp.minimum(d_max, d_first * hp.growth_rate)  # growth_rate = inf (its default): d = d_max
    denom = xp.sqrt(v) + d_new * hp.eps  # the step's dlr is from d before the estimate, denom's d after
    decay = _and(decays, decouple)
    stepped = params if decay is False else pick(decay, fma(-hp.weight_decay * dlr, params, params), params, xp)
    with_m = stepped + ((-dlr) * m) / denom
    momentum = nonzero(hp.beta1)
    stepped = with_m if momentum is True else pick(momentum, with_m, stepped + ((-dlr * d_new) * g) / denom, xp)
    # the package: lr = 0 (the runs of a schedule at 0) accumulates nothing, then ‖s‖₁ = 0 skips the step
    idle = step.lr == 0
    if isinstance(idle, np.ndarray):  # a rate per run
        m, v, s = (xp.where(idle, old, new) for old, new in ((state.m, m), (state.v, v), (state.s, s)))
        skip = idle | stalled
    elif idle:  # every run at rate 0: nothing changes
        return params, state._replace(p0=p0)
    else:
        skip = stalled
    if skip.any():
        params = xp.where(skip, params, stepped)
        numerator, d_new, d_max = (xp.where(skip, old[0], new) for old, new in (
            (state.d_numerator, numerator), (state.d, d_new), (state.d_max, d_max)))
    else:
        params = stepped
    return params, ProdigyState(m, v, s, p0, _rows(numerator), _rows(d_new), _rows(d_max))


def _not(on):
    """The runs where a nonzero() result does not hold, as nonzero() gives them."""
    return (not on) if isinstance(on, bool) else ~on


def _and(a, b):
    """The runs where both nonzero() results hold, as nonzero() gives them (a bool, or a mixed bool array)."""
    if a is False or b is False:
        return False
    if a is True or b is True:
        return b if a is True else a
    return nonzero(a & b)


def _rows(row):
    """A per-run number (B,) as the (2, B) buffer the state keeps: both rows the same."""
    out = np.empty((2, *np.shape(row)))
    out[0] = row
    out[1] = row
    return out


def worked(s: W.Numbers) -> list[W.Line]:
    h, c, prev, new = s.h, s.c, s.prev, s.state
    hp = s.hp
    first = s.step.t == 1
    dlr, delta, s_norm, d_hat, denom = N("dlr"), N("delta"), N("s_norm"), N("d_hat"), N("denom")
    lines = []
    l2 = hp.weight_decay != 0 and not hp.decouple
    if l2:
        lines.append(W.Line("g_k", s.grad + h.weight_decay * s.theta_prev, s.g, label="g + λ·θ (L2 weight decay)"))
    if first:
        lines.append(W.Line(r"\theta_0", s.theta_prev, new.p0))
    lines.append(W.Line(r"\eta'_k", prev.d * s.lr * c.bc, dlr, label="dlr = d·η·bc: the step's size"))

    def grad(coord):
        return coord.grad + h.weight_decay * coord.theta_prev if l2 else coord.grad

    x, y = s.xy
    both = hp.slice_p == 1  # else x alone is sampled
    dot = grad(x) * (x.state.p0 - x.theta_prev)
    if both:
        dot = dot + grad(y) * (y.state.p0 - y.theta_prev)
    beta3 = W.sqrt(h.beta2) if hp.beta3 is None else h.beta3
    over = "over both coordinates" if both else "over x alone (slice_p ≥ 2)"
    lines += [
        W.Line(r"\delta_k", prev.d / h.d0 * dlr * dot, delta, label=f"(d/d0)·dlr·⟨g, θ_0 − θ⟩ {over}"),
        W.Line("r_k", prev.d_numerator * beta3 + delta, new.d_numerator),
    ]
    if hp.beta1 > 0:
        lines.append(W.Line("m_k", h.beta1 * prev.m + prev.d * (1 - h.beta1) * s.g, new.m))
    lines.append(W.Line("v_k", h.beta2 * prev.v + prev.d * prev.d * (1 - h.beta2) * W.square(s.g), new.v))
    weight = prev.d / h.d0 * prev.d if hp.safeguard_warmup else prev.d / h.d0 * dlr
    lines += [
        W.Line("s_k", beta3 * prev.s + weight * s.g, new.s) if both or s.axis != 1
        else W.Line("s_k", W.Const(0.0), new.s, label="slice_p ≥ 2: y is not sampled"),
        W.Line(r"\lVert s_k\rVert_1", W.absolute(x.state.s) + W.absolute(y.state.s) if both
               else W.absolute(x.state.s), s_norm, label=f"‖s‖₁ {over}"),
        W.Line(r"\hat d_k", h.d_coef * new.d_numerator / s_norm, d_hat, label="d̂ = d_coef·r/‖s‖₁"),
        W.Line(r"d^{\max}_k", W.maximum(prev.d_max, d_hat), new.d_max),
    ]
    if hp.growth_rate == math.inf:
        lines.append(W.Line("d_k", new.d_max, new.d, label="growth_rate = inf: d is the largest estimate"))
    else:  # the package: where d is still d0, max(d0, d̂) first
        grown = W.maximum(prev.d, d_hat) if s.here is not None and s.here.prev.d == hp.d0 else prev.d
        lines.append(W.Line("d_k", W.minimum(new.d_max, grown * h.growth_rate), new.d))
    lines += [
        W.Line(r"\delta'_k", W.sqrt(new.v) + new.d * h.eps, denom, label="√v + d·ε"),
    ]
    start = s.theta_prev
    if hp.weight_decay != 0 and hp.decouple:
        start = N("theta_decayed")
        lines.append(W.Line(r"\theta'_{k-1}", s.theta_prev - h.weight_decay * dlr * s.theta_prev, start,
                            label="θ' = θ_{k−1}·(1 − λ·dlr) (decoupled weight decay)"))
    if hp.beta1 > 0:
        lines.append(W.Line(r"\theta_k", start - dlr * (new.m / denom), s.theta))
    else:
        lines.append(W.Line(r"\theta_k", start - dlr * new.d * (s.g / denom), s.theta))
    return lines


TORCH_PRODIGY = '''
class Prodigy(torch.optim.Optimizer):
    """Prodigy (Mishchenko & Defazio 2024) as prodigyopt.Prodigy, one parameter tensor
    (optlab/optimizers/prodigy.py): not in torch.optim."""

    def __init__(self, params, lr=1.0, betas=(0.9, 0.999), beta3=None, eps=1e-8, weight_decay=0.0, decouple=True,
                 use_bias_correction=False, safeguard_warmup=False, d0=1e-6, d_coef=1.0, growth_rate=math.inf,
                 slice_p=1):
        super().__init__(params, dict(lr=lr, betas=betas, beta3=beta3, eps=eps, weight_decay=weight_decay,
                                      decouple=decouple, use_bias_correction=use_bias_correction,
                                      safeguard_warmup=safeguard_warmup, d0=d0, d_coef=d_coef,
                                      growth_rate=growth_rate, slice_p=slice_p, d=d0, d_max=d0, d_numerator=0.0, k=0))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            beta3 = math.sqrt(beta2) if group["beta3"] is None else group["beta3"]
            k, d, d0, lr, every = group["k"], group["d"], group["d0"], group["lr"], group["slice_p"]
            bc = ((1 - beta2 ** (k + 1)) ** 0.5) / (1 - beta1 ** (k + 1)) if group["use_bias_correction"] else 1
            dlr = d * lr * bc
            for p in group["params"]:
                g = p.grad
                if group["weight_decay"] != 0 and not group["decouple"]:
                    g = g.add(p, alpha=group["weight_decay"])  # one rounding, as the package's add_
                state = self.state[p]
                if not state:  # s and p0 of every slice_p-th coordinate only, as the package
                    state.update(s=torch.zeros_like(p.flatten()[::every]), p0=p.flatten()[::every].clone(),
                                 exp_avg=torch.zeros_like(p), exp_avg_sq=torch.zeros_like(p))
                if lr == 0:  # as the package: nothing accumulates, then its zero ‖s‖₁ skips the step
                    continue
                sampled = g.flatten()[::every]
                delta = (d / d0) * dlr * torch.dot(sampled, state["p0"] - p.flatten()[::every]).item()
                state["exp_avg"].mul_(beta1).add_(g, alpha=d * (1 - beta1))
                state["exp_avg_sq"].mul_(beta2).addcmul_(g, g, value=d * d * (1 - beta2))
                weight = (d / d0) * d if group["safeguard_warmup"] else (d / d0) * dlr
                state["s"].mul_(beta3).add_(sampled, alpha=weight)
                s_norm = state["s"].abs().sum().item()
                if s_norm == 0:
                    continue
                numerator = group["d_numerator"] * beta3 + delta
                d_hat = group["d_coef"] * numerator / s_norm
                d_max = max(group["d_max"], d_hat)
                d_new = min(d_max, (max(d, d_hat) if d == d0 else d) * group["growth_rate"])
                group.update(d=d_new, d_max=d_max, d_numerator=numerator, k=k + 1)
                denom = state["exp_avg_sq"].sqrt() + d_new * group["eps"]
                if group["weight_decay"] != 0 and group["decouple"]:
                    p.add_(p, alpha=-group["weight_decay"] * dlr)
                if beta1 > 0:
                    p.addcdiv_(state["exp_avg"], denom, value=-dlr)
                else:
                    p.addcdiv_(g, denom, value=-dlr * d_new)
'''


PRODIGY = Optimizer(
    name="prodigy", title="Prodigy",
    hparams=(
        Param("lr", 1.0, low=0.0, ui_low=1e-3, ui_high=10.0, log=True, symbol=r"\eta",
              help="a multiplier of the estimated step size d: leave it at 1 unless the run is unstable (0: no step)"),
        beta("beta1", 0.9, "decay of the first moment m (0: no momentum)"),
        beta("beta2", 0.999, "decay of the second moment v (and, by default, √β2 decays r and s)"),
        Param("beta3", None, low=0.0, high=1.0, high_open=True, ui_low=0.0, ui_high=0.9999, symbol=r"\beta_3",
              none=r"\sqrt{\beta_2}", help="decay of the running sums r and s behind d (empty: None, √β2)"),
        eps(1e-8),
        Param("weight_decay", 0.0, low=0.0, ui_low=0.0, ui_high=1.0, symbol=r"\lambda",
              help="weight decay (decoupled by default: shrinks θ by λ·d·η; with decouple off, L2: adds λ·θ to g)"),
        flag("decouple", True, r"\text{decouple}", "AdamW-style decoupled weight decay (off: L2 added to g)"),
        flag("use_bias_correction", False, r"\text{bc}", "Adam's bias correction √(1 − β2^k)/(1 − β1^k) in the step"),
        flag("safeguard_warmup", False, r"\text{safeguard}",
             "leave η out of the weight of g in s: guards the d estimate during a warmup"),
        Param("d0", 1e-6, low=0.0, low_open=True, ui_low=1e-9, ui_high=1e-1, log=True, symbol="d_0",
              help="the initial step-size estimate (rarely needs changing)"),
        Param("d_coef", 1.0, low=0.0, ui_low=0.1, ui_high=10.0, log=True, symbol=r"c_d",
              help="scales the d estimate: the preferred knob (0.5 and 2 typically work too)"),
        Param("growth_rate", math.inf, low=1.0, ui_low=1.0, ui_high=10.0, log=True, inf_ok=True,
              ui_options=(1.0, 1.01, 1.02, 1.05, 1.1, 1.2, 1.5, 2.0, 5.0, 10.0), symbol=r"\text{growth}",
              help="d grows by at most this factor a step (inf: unlimited; 1.02 gives a warmup of the step size)"),
        Param("slice_p", 1, low=1, high=1000, ui_low=1, ui_high=11, kind=int, symbol=r"\text{slice}",
              help="d from every p-th coordinate only (memory, on a network); on a 2-vector, 2 or more: x alone"),
    ),
    init=init, update=update, coefficients=coefficients, step_type=ProdigyStep, coupled=True,
    schedule_in_coefficients=True,
    worked=worked, decoupled_decay=True, sweep_y=("d_coef", "beta2", "lr"),
    buffers=(Buffer("m", "m_t", "first moment: running mean of d·g", "exp_avg"),
             Buffer("v", "v_t", "second moment: running mean of d²·g²", "exp_avg_sq"),
             Buffer("s", "s_t", "running sum of the gradients, weighted by d·dlr/d0", "s"),
             Buffer("p0", r"\theta_0", "the start, from which the distance d is estimated", "p0"),
             Buffer("d_numerator", "r_t", "running sum of (d/d0)·dlr·⟨g, θ_0 − θ⟩ (the whole vector)",
                    "d_numerator"),
             Buffer("d", "d_t", "the step-size estimate: a lower bound on ‖θ_0 − θ*‖, grown from d0", "d"),
             Buffer("d_max", r"d^{\max}_t", "the largest estimate so far, which d approaches at most growth_rate "
                    "times faster a step", "d_max")),
    rule=r"""
\eta'_t = d_{t-1}\, \eta\, \mathrm{bc}_t, \quad
r_t = \beta_3\, r_{t-1} + \tfrac{d_{t-1}}{d_0}\, \eta'_t\, \langle g_t, \theta_0 - \theta_{t-1} \rangle \\
m_t = \beta_1 m_{t-1} + d_{t-1}(1-\beta_1)\, g_t, \quad v_t = \beta_2 v_{t-1} + d_{t-1}^2 (1-\beta_2)\, g_t^2 \\
s_t = \beta_3\, s_{t-1} + \tfrac{d_{t-1}}{d_0}\, \eta'_t\, g_t, \quad
d^{\max}_t = \max\!\big(d^{\max}_{t-1},\ c_d\, r_t / \lVert s_t \rVert_1\big), \quad
d_t = \min\!\big(d^{\max}_t,\ \gamma\, d_{t-1}\big) \\
\theta_t = \theta_{t-1}(1 - \lambda\, \eta'_t) - \eta'_t\, \frac{m_t}{\sqrt{v_t} + d_t\, \epsilon}
""",
    summary="Adam whose step size d estimates the distance to the solution from the gradients seen so far "
    "(⟨g, θ_0 − θ⟩ over the sum of g): no learning rate to tune, d grows from d0 and never shrinks.",
    reference="Mishchenko & Defazio 2024, 'Prodigy: An Expeditiously Adaptive Parameter-Free Learner'; "
    "prodigyopt.Prodigy", torch=None, written_out=WrittenOut("Prodigy", TORCH_PRODIGY),
    notes="d, r and ‖s‖₁ read the whole parameter vector (a coupled declaration). β3 = None (the default) is √β2. "
    "γ is growth_rate: with its default inf, d = d_max, the largest estimate so far; where d is still d0, the "
    "package takes max(d0, d̂) before the min. slice_p ≥ 2 estimates d from every p-th coordinate: of θ = (x, y), "
    "x alone (s_y stays 0). If ‖s‖₁ = 0 (no gradient yet) the package skips the step, as here. A learning "
    "rate schedule scales η each step; a step at a rate of 0 changes nothing and is not counted (the bias "
    "correction's k), as in the package.",
)

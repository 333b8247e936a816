"""The step inspector's numbers: everything inside one update of one run, per coordinate."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd

from optlab.optimizers import get_optimizer
from optlab.optimizers.base import ARRAY
from optlab.simulation import Run


def tex(x: float) -> str:
    """A number as LaTeX: 4 significant digits, ×10^n for large or small, negatives in parentheses."""
    x = float(x)
    if math.isnan(x):
        return r"\text{nan}"
    if math.isinf(x):
        return r"\infty" if x > 0 else r"(-\infty)"
    s = f"{x:.4g}"
    if "e" in s:
        mant, exp = s.split("e")
        s = rf"{mant}\times10^{{{int(exp)}}}"
    return f"({s})" if x < 0 else s


def step_details(run: Run, k: int) -> dict:
    """Step k (1-based) of a single run: the rule, the worked lines and a table of values."""
    if run.batched:
        raise ValueError("inspect one run at a time: run.run(i)")
    if not 1 <= k <= run.steps:
        raise ValueError(f"k = {k} is out of range; allowed: 1 .. {run.steps}")
    opt = get_optimizer(run.optimizer)
    hp = run.hparams
    theta_prev, theta = run.path[k - 1], run.path[k]
    grad_f = run.grad[k - 1]
    g_in = run.grad_used[k - 1]  # after noise and clipping
    lr = float(run.lr[k - 1])
    l2 = "weight_decay" in hp and hp["weight_decay"] != 0 and not opt.decoupled_decay
    g = g_in + hp["weight_decay"] * theta_prev if l2 else g_in
    state = {name: values[k - 1] for name, values in run.state.items()}
    prev = {name: (values[k - 2] if k >= 2 else _initial(opt, name, hp)) for name, values in run.state.items()}
    # coefficients for steps 1..k (NAdam's Π_k is a running product), then row k
    coeffs = {c: np.broadcast_to(v, (k,) + np.shape(v)[1:])[-1].item() if np.ndim(v) else v
              for c, v in opt.coefficients(np.arange(1.0, k + 1), SimpleNamespace(**hp)).items()}
    derived = _derived(opt.name, hp, state, prev, coeffs, g)

    rows = {"θ_{k−1}": theta_prev, "∇f(θ_{k−1})": grad_f}
    if not np.array_equal(g_in, grad_f):
        rows["g fed to the optimizer (noise, clipping)"] = g_in
    if l2:
        rows["g + λ·θ (L2 weight decay)"] = g
    rows["learning rate η_k"] = np.array([lr, lr])
    for b in opt.buffers:
        rows[f"{b.name}: {b.help}"] = state[b.name]
    for name, value in derived.items():
        rows[name] = value
    delta = theta - theta_prev
    rows["Δθ = θ_k − θ_{k−1}"] = delta
    with np.errstate(all="ignore"):
        rows["effective learning rate −Δθ/g"] = np.where(g != 0, -delta / g, np.nan)
    rows["θ_k"] = theta
    table = pd.DataFrame({"x": [v[0] for v in rows.values()], "y": [v[1] for v in rows.values()]}, index=rows.keys())

    worked = []
    for c, axis in enumerate("xy"):
        raw = {**hp, **coeffs, "t": k}
        raw["rectified"] = bool(coeffs.get("rectified", False))
        v = {n: tex(val) for n, val in hp.items() if not isinstance(val, bool)}
        v.update({n: tex(val) for n, val in coeffs.items() if n != "rectified"})
        v.update(theta_prev=tex(theta_prev[c]), theta=tex(theta[c]), g=tex(g[c]), lr=tex(lr))
        v.update({n: tex(val[c]) for n, val in state.items()})
        v.update({f"prev_{n}": tex(val[c]) for n, val in prev.items()})
        v.update({_key(n): tex(val[c]) for n, val in derived.items()})
        v["raw"] = raw
        lines = []
        if l2:
            lines.append(rf"g_k = {tex(g_in[c])} + {tex(hp['weight_decay'])}\cdot {tex(theta_prev[c])} = {tex(g[c])}")
        if opt.name == "adamw" and hp["weight_decay"]:
            lines.append(rf"\theta_{{k-1}} \leftarrow {tex(theta_prev[c])}\cdot(1 - {tex(lr)}\cdot"
                         rf"{tex(hp['weight_decay'])})")
        lines += opt.worked(v) if opt.worked else [rf"\theta_k = {v['theta_prev']} + {tex(delta[c])} = {v['theta']}"]
        worked += [rf"\textbf{{{axis}:}}\ " + lines[0]] + lines[1:]
    note = ""
    if run.noise:
        note = "g includes the gradient noise of this run's seed."
    if opt.name == "adamw" and hp["weight_decay"]:
        note += " AdamW's θ_{k−1} in the last line is the decayed one."
    return {"rule": opt.rule.strip().replace("\n", " "), "worked": worked, "table": table, "note": note.strip()}


def _key(label: str) -> str:
    return {"m̂ = m / (1 − β1^k)": "m_hat", "v̂ = v / (1 − β2^k)": "v_hat", "Δ (the update before η)": "delta",
            "c = β1·m + (1 − β1)·g": "c"}[label]


def _initial(opt, name, hp) -> np.ndarray:
    state = opt.init(np.zeros(2), SimpleNamespace(**hp), ARRAY)
    return np.broadcast_to(getattr(state, name), (2,)).astype(float)


def _derived(name: str, hp: dict, state: dict, prev: dict, coeffs: dict, g: np.ndarray) -> dict:
    out = {}
    with np.errstate(all="ignore"):
        if name in ("adam", "adamw", "amsgrad"):
            used = state["v_max"] if hp["amsgrad"] else state["v"]
            out["m̂ = m / (1 − β1^k)"] = state["m"] / coeffs["bc1"]
            out["v̂ = v / (1 − β2^k)"] = used / coeffs["bc2"]
        elif name == "radam":
            out["m̂ = m / (1 − β1^k)"] = state["m"] / coeffs["bc1"]
        elif name == "adadelta":
            out["Δ (the update before η)"] = np.sqrt(prev["u"] + hp["eps"]) / np.sqrt(state["v"] + hp["eps"]) * g
        elif name == "lion":
            out["c = β1·m + (1 − β1)·g"] = hp["beta1"] * prev["m"] + (1 - hp["beta1"]) * g
    return out

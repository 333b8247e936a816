"""The step inspector's numbers: everything inside one update of one run, per coordinate."""

from __future__ import annotations

import math
import re
from typing import NamedTuple

import numpy as np
import pandas as pd

from optlab.optimizers import get_optimizer
from optlab.optimizers import worked as W
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


_SUB = str.maketrans("0123456789k−-+()", "₀₁₂₃₄₅₆₇₈₉ₖ₋₋₊₍₎")
_SUP = str.maketrans("0123456789k−-+", "⁰¹²³⁴⁵⁶⁷⁸⁹ᵏ⁻⁻⁺")


def plain_label(label: str) -> str:
    """A row label as a person reads it: θ_{k−1} → θₖ₋₁, η_k → ηₖ, β2^k → β₂ᵏ (TeX-ish sub- and
    superscripts of step indices and digits as Unicode; names such as v_max stay as they are)."""
    label = re.sub(r"_\{([0-9k−+\-]+)\}", lambda m: m.group(1).translate(_SUB), label)
    label = re.sub(r"_([0-9k])(?![A-Za-z])", lambda m: m.group(1).translate(_SUB), label)
    label = re.sub(r"\^\{?([0-9k−\-]+)\}?", lambda m: m.group(1).translate(_SUP), label)
    return re.sub(r"([βε])([0-9])", lambda m: m.group(1) + m.group(2).translate(_SUB), label)


def worked_lines(run: Run, k: int) -> tuple[list[list[W.Line]], list[dict]]:
    """Step k's worked lines (the optimizer's declaration) for x and for y (they differ where torch
    branches element by element) and, per coordinate, every number they name at full precision: the
    run's recorded ones, and those the lines compute (m̂, θ', δ ...) in order."""
    if run.batched:
        raise ValueError("inspect one run at a time: run.run(i)")
    if not 1 <= k <= run.steps:
        raise ValueError(f"k = {k} is out of range; allowed: 1 .. {run.steps}")
    opt = get_optimizer(run.optimizer)
    hp = opt.hp_type(**run.hparams)
    # coefficients for steps 1..k (NAdam's Π_k is a running product), then row k
    coeff_hp = hp._replace(lr=np.asarray(run.lr[:k], dtype=float)[:, None]) if opt.schedule_in_coefficients else hp
    coeffs = opt.coefficients(np.arange(1.0, k + 1)[:, None] if opt.schedule_in_coefficients
                              else np.arange(1.0, k + 1), coeff_hp)
    row = [np.broadcast_to(v, (k,) + np.shape(v)[1:])[-1].item() if np.ndim(v) else v
           for v in (coeffs[c] for c in opt.step_type._fields[2:])]
    step = opt.step_type(k, float(run.lr[k - 1]), *row)
    initial = opt.init(np.zeros((2, 1)) if opt.coupled else np.zeros(2), hp, ARRAY)
    state_type = type(initial)
    if opt.evaluates:  # the recorded buffers only (LBFGS's history is in run.trace, not per coordinate)
        state_type = NamedTuple(state_type.__name__, [(b.name, float) for b in opt.buffers])
        initial = state_type._make(getattr(initial, n) for n in state_type._fields)

    def buffers(i: int, c: int):  # the state after step i (0: the initial state)
        if i == 0:
            return state_type._make(float(np.broadcast_to(np.asarray(v).reshape(-1), (2,))[c]) for v in initial)
        return state_type._make(float(run.state[n][i - 1][c]) for n in state_type._fields)

    coords = tuple(W.Coord(float(run.path[k - 1][c]), float(run.path[k][c]), float(run.grad_used[k - 1][c]),
                           buffers(k - 1, c), buffers(k, c)) for c in range(2))
    per_axis, lines_per_axis = [], []
    for c in range(2):
        s = W.numbers(opt, hp, step, state_type, here=coords[c], axis=c)
        if opt.worked:
            lines = opt.worked(s)
        else:  # no worked lines declared: the step as a whole
            lines = [W.Line(r"\theta_k", s.theta_prev + W.N("delta_theta"), s.theta)]
        here = coords[c]
        values = W.values(s, theta_prev=here.theta_prev, theta=here.theta, grad=here.grad,
                          prev=here.prev, state=here.state, coords=coords)
        values["delta_theta"] = float(run.path[k][c] - run.path[k - 1][c])
        if not any(line.result == s.g.name for line in lines):
            values[s.g.name] = values[s.grad.name]
        for line in lines:  # a recorded number stays as recorded; a new one is what its line computes
            if line.result not in values:
                values[line.result] = float(line.expr.value(values))
        per_axis.append(values)
        lines_per_axis.append(lines)
    return lines_per_axis, per_axis


def step_details(run: Run, k: int, axis_names: tuple[str, str] = ("x", "y")) -> dict:
    """Step k (1-based) of a single run: the rule, the worked lines and a table of values.

    ``lines`` pairs each entry of ``worked`` with its coordinate and :class:`Line`; ``values``
    holds, per coordinate, the full-precision numbers the lines name.
    """
    lines_xy, values = worked_lines(run, k)
    lines = list(dict.fromkeys(line for axis in lines_xy for line in axis))  # both axes' lines, for the table
    opt = get_optimizer(run.optimizer)
    theta_prev, theta = run.path[k - 1], run.path[k]
    grad_f = run.grad[k - 1]
    g_in = run.grad_used[k - 1]  # after minibatch sampling, noise and clipping
    lr = float(run.lr[k - 1])
    both = lambda name: np.array([values[0].get(name, np.nan), values[1].get(name, np.nan)])  # noqa: E731
    g = both("g")

    rows = {"θ_{k−1}": theta_prev, "∇f(θ_{k−1})": grad_f}
    if not np.array_equal(g_in, grad_f):
        what = [w for w, on in (("minibatch gradient", run.batch_size), ("+ Gaussian noise", _any(run.noise)),
                                ("clipped", run.clip_norm)) if on]
        rows[f"g fed to the optimizer ({', '.join(what)})"] = g_in
        if run.batch_size and not _any(run.noise) and not run.clip_norm:
            rows["minibatch gradient − full gradient"] = g_in - grad_f
        elif _any(run.noise) and not run.batch_size and not run.clip_norm:
            rows["noise: g fed − ∇f"] = g_in - grad_f
        else:
            rows[f"g fed − ∇f ({', '.join(what)})"] = g_in - grad_f
    rows["learning rate η_k"] = np.array([lr, lr])
    for line in lines:
        if line.label and line.result == "g":
            rows[line.label] = g
    for b in opt.buffers:
        rows[f"{b.name}: {b.help}"] = run.state[b.name][k - 1]
    for line in lines:
        if line.label and line.result != "g" and line.label not in rows:
            rows[line.label] = both(line.result)
    delta = theta - theta_prev
    rows["Δθ = θ_k − θ_{k−1}"] = delta
    with np.errstate(all="ignore"):
        rows["−Δθ/g: step per unit of gradient (< 0: moved uphill)"] = np.where(g != 0, -delta / g, np.nan)
    rows["θ_k"] = theta
    table = pd.DataFrame({"x": [v[0] for v in rows.values()], "y": [v[1] for v in rows.values()]}, index=rows.keys())

    worked, placed = [], []
    for c, axis in enumerate(axis_names):
        shown = [line.latex(lambda name, c=c: tex(values[c][name])) for line in lines_xy[c]]
        worked += [rf"\textbf{{{axis}:}}\ " + shown[0]] + shown[1:]
        placed += [(c, line) for line in lines_xy[c]]
    notes = []
    if run.batch_size:
        notes.append(f"g is the mean gradient over a minibatch of {run.batch_size} examples (sampled with this "
                     "run's seed), not the full dataset's ∇f.")
    if _any(run.noise):
        notes.append("g includes the gradient noise of this run's seed.")
    notes.append("−Δθ/g is how far this step moved per unit of gradient: η for plain SGD, different under "
                 "momentum or adaptive scaling, and negative where the step went uphill along that coordinate "
                 "(momentum carrying θ on against the gradient); it is not a learning rate.")
    out = {"rule": opt.rule.strip().replace("\n", " "), "worked": worked, "lines": placed, "values": values,
           "table": table, "note": " ".join(notes)}
    if run.trace is not None:
        out |= inside_step(run, k, axis_names)
    return out


def torch_step(run: Run, k: int, axis_names: tuple[str, str] = ("x", "y")) -> pd.DataFrame:
    """Step k of a torch class's run (optlab.torch_classes: no declaration, so no worked lines): θ before and
    after, the gradient fed, the learning rate, and what the class's state_dict held after the step, each
    entry a named buffer (a number such as the step count in both columns)."""
    if not 1 <= k <= run.steps:
        raise ValueError(f"k = {k} is out of range; allowed: 1 .. {run.steps}")
    rows = {"θ_{k−1}": run.path[k - 1], "∇f(θ_{k−1})": run.grad[k - 1], "g fed to the optimizer": run.grad_used[k - 1],
            "learning rate (its param group's lr)": np.full(2, float(run.lr[k - 1]))}
    for name, values in run.state.items():
        label = "evaluations: calls of the closure in this step" if name == "evaluations" else f"state['{name}']"
        rows[label] = values[k - 1]
    rows["Δθ = θ_k − θ_{k−1}"] = run.path[k] - run.path[k - 1]
    rows["θ_k"] = run.path[k]
    return pd.DataFrame({axis_names[0]: [v[0] for v in rows.values()], axis_names[1]: [v[1] for v in rows.values()]},
                        index=list(rows))


def inside_step(run: Run, k: int, axis_names: tuple[str, str] = ("x", "y")) -> dict:
    """An evaluating optimizer's step k from inside (LBFGS): ``evaluations``, every point it evaluated in
    order, what for, f there and the distance from θ_{k−1}; ``history``, the pairs (s, y) it keeps after
    the step, oldest first, with ρ = 1/(y·s)."""
    row = run.trace[k - 1]
    a, b = axis_names
    xyf = row["evaluated"]
    with np.errstate(all="ignore"):
        moved = np.hypot(xyf[:, 0] - run.path[k - 1][0], xyf[:, 1] - run.path[k - 1][1])
    evaluations = pd.DataFrame({"for": list(row["what"]), a: xyf[:, 0], b: xyf[:, 1], "f": xyf[:, 2],
                                "‖· − θ_{k−1}‖": moved}, index=pd.RangeIndex(1, len(xyf) + 1, name="evaluation"))
    out = {"evaluations": evaluations}
    if "s" in row:
        s, y = row["s"], row["y"]
        out["history"] = pd.DataFrame({f"s {a}": s[:, 0], f"s {b}": s[:, 1], f"y {a}": y[:, 0], f"y {b}": y[:, 1],
                                       "ρ = 1/(y·s)": row["rho"]},
                                      index=pd.RangeIndex(1, len(s) + 1, name="pair (oldest first)"))
    return out


def _any(v) -> bool:
    return bool(np.any(np.asarray(v) != 0)) if v is not None else False

"""The step inspector: every worked line, evaluated at full precision, is the number it shows and records.

For every optimizer and switch (nesterov, centered, amsgrad, weight decay on/off, momentum 0 / non-0) and
several steps (k = 1, 2, RAdam's last plain and first rectified step, k = 200) the test

- builds the numbers a line may name from the run itself (θ, the gradient fed, state before and after
  the step, the coefficients), independently of the inspector, and checks the inspector's agree;
- evaluates each line's expression with its own walker, carrying a bound on the rounding error, and
  checks a line whose result simulate() recorded (θ_k, a state buffer) against the recording;
- turns the line's LaTeX, drawn with full-precision numbers, back into Python and evaluates it: the
  formula shown is the one evaluated;
- checks the number shown after the last "=" is the full-precision value to the 4 digits shown.
"""

import itertools
import math
import re
from types import SimpleNamespace

import numpy as np
import pytest

import optlab
from optlab.inspector import step_details, tex
from optlab.optimizers.base import ARRAY
from optlab.optimizers.worked import Call, Const, N, Op

U = 2.0**-53
STEPS = 200
LAND, START = "himmelblau", (-1.0, -1.5)


def switches(name: str) -> list[dict]:
    """Every combination of the optimizer's switches that it accepts."""
    opt = optlab.get_optimizer(name)
    options = {p.name: [False, True] for p in opt.hparams if p.kind is bool}
    if "momentum" in opt.defaults:
        options["momentum"] = [0.0, 0.9]
    if "weight_decay" in opt.defaults:
        options["weight_decay"] = [0.0, 0.1]
    if "t0" in opt.defaults:  # ASGD: averaging from step 0 (μ ≠ 1), from step 50, never (torch's default)
        options["t0"] = [0.0, 50.0, 1e6]
    if "lambd" in opt.defaults:
        options["lambd"] = [0.0, 1e-2]
    if "warmup_steps" in opt.defaults:  # schedule-free: the rate and the averaging weights warm up, or not
        options["warmup_steps"] = [0.0, 10.0]
    out = []
    for combo in itertools.product(*options.values()):
        hp = dict(zip(options, combo, strict=True))
        if opt.check and opt.check({**opt.defaults, **hp}):
            continue  # nesterov without momentum: rejected, as by torch
        out.append(hp)
    if "dampening" in opt.defaults:
        out.append({"momentum": 0.9, "dampening": 0.3, "nesterov": False})
    if "growth_rate" in opt.defaults:  # Prodigy's d capped by its growth, β3 of its own, d from x alone
        out += [{"growth_rate": 1.05, "beta3": 0.9}, {"growth_rate": 1.2, "slice_p": 2, "weight_decay": 0.1}]
    if name in RATES:
        out = [{**hp, "lr": RATES[name]} for hp in out]
    return out


RATES = {"schedule_free_sgd": 0.002}  # its default lr = 1 diverges on himmelblau's gradients (tens)


# An evaluating optimizer (lbfgs) has no per-coordinate worked lines: its step is up to max_iter iterations
# and a line search, which the inspector lists as tables (every evaluation, the history pairs) instead;
# tests/test_lbfgs.py checks those against the run and torch.
CASES = [(name, hp) for name in optlab.optimizer_names() if not optlab.get_optimizer(name).evaluates
         for hp in switches(name)]


def steps_to_check(name: str, hp: dict, run=None) -> list[int]:
    ks = {1, 2, STEPS}
    if name == "rprop":  # a sign change (Δ·η⁻, g kept as 0) and the step after it (no comparison: factor 1)
        flips = np.flatnonzero((run.state["prev"][1:] == 0).any(axis=1)) + 2
        assert len(flips), "no sign change to inspect"
        ks |= {int(flips[0]), int(flips[0]) + 1}
    if name == "asgd":  # the first step after averaging starts (t0 = 50: μ_52 = 1/(51 − 50) = 1, μ_53 = ½)
        ks |= {51, 52, 53}
    if name == "radam":  # the last plain step and the first rectified one (ρ_t > 5)
        opt = optlab.get_optimizer(name)
        rectified = opt.coefficients(np.arange(1.0, STEPS + 1), SimpleNamespace(**{**opt.defaults, **hp}))["rectified"]
        first = int(np.argmax(rectified)) + 1
        assert first > 1 and rectified[first - 1] and not rectified[first - 2]
        ks |= {first - 1, first}
    return sorted(ks)


def recorded_numbers(run, k: int, c: int) -> dict:
    """Everything a line may name that the run recorded, built here from the run and the declaration."""
    opt = optlab.get_optimizer(run.optimizer)
    ns = SimpleNamespace(**run.hparams)
    if opt.schedule_in_coefficients:  # ASGD's η_t: from each step's own (scheduled) learning rate
        ns.lr = np.asarray(run.lr[:k], dtype=float)
    coeffs = opt.coefficients(np.arange(1.0, k + 1), ns)
    out = {n: float(v) for n, v in run.hparams.items() if not isinstance(v, bool) and v is not None}
    for n, v in coeffs.items():
        v = np.asarray(v).reshape(-1)[-1] if np.ndim(v) else v
        if not isinstance(v, (bool, np.bool_)):
            out[n] = float(v)
    initial = opt.init(np.zeros(2), ns, ARRAY)
    for b in opt.buffers:
        out[b.name] = float(run.state[b.name][k - 1, c])
        out[f"prev_{b.name}"] = float(run.state[b.name][k - 2, c] if k >= 2
                                      else np.broadcast_to(getattr(initial, b.name), (2,))[c])
    out.update(theta_prev=float(run.path[k - 1, c]), theta=float(run.path[k, c]),
               grad=float(run.grad_used[k - 1, c]), lr=float(run.lr[k - 1]))
    for cc, axis in enumerate("xy"):  # both coordinates' numbers, for a coupled optimizer's lines (s.xy)
        out.update({f"theta_prev_{axis}": float(run.path[k - 1, cc]), f"theta_{axis}": float(run.path[k, cc]),
                    f"grad_{axis}": float(run.grad_used[k - 1, cc])})
        for b in opt.buffers:
            out[f"{b.name}_{axis}"] = float(run.state[b.name][k - 1, cc])
            out[f"prev_{b.name}_{axis}"] = float(run.state[b.name][k - 2, cc] if k >= 2
                                                 else np.broadcast_to(getattr(initial, b.name), (2,))[cc])
    return out


def evaluate(e, values: dict, errors: dict) -> tuple[float, float]:
    """The expression's value in float64 and a bound on its rounding error (running error analysis)."""
    if isinstance(e, N):
        return values[e.name], errors.get(e.name, 0.0)
    if isinstance(e, Const):
        return float(e.c), 0.0
    if isinstance(e, Op):
        (a, ea), (b, eb) = evaluate(e.a, values, errors), evaluate(e.b, values, errors)
        if e.op in "+-":
            v = a + b if e.op == "+" else a - b
            return v, ea + eb + U * abs(v)
        if e.op == "*":
            v = a * b
            return v, abs(a) * eb + abs(b) * ea + ea * eb + U * abs(v)
        v = a / b
        return v, ((ea + abs(v) * eb) / (abs(b) - eb) if abs(b) > eb else math.inf) + U * abs(v)
    assert isinstance(e, Call)
    args = [evaluate(x, values, errors) for x in e.args]
    (a, ea) = args[0]
    if e.fn == "square":
        return a * a, 2 * abs(a) * ea + ea * ea + U * a * a
    if e.fn == "sqrt":
        v = math.sqrt(a)
        return v, ea / (v + math.sqrt(max(a - ea, 0.0))) + U * v if v > 0 else math.sqrt(ea)
    if e.fn == "abs":
        return abs(a), ea
    if e.fn == "max":
        (b, eb) = args[1]
        return max(a, b), max(ea, eb)
    if e.fn == "min":
        (b, eb) = args[1]
        return min(a, b), max(ea, eb)
    assert e.fn == "sign"
    assert abs(a) > ea or a == ea == 0, "sign of a number within rounding error of 0"
    return math.copysign(1.0, a) if a else 0.0, 0.0


def to_python(latex: str) -> str:
    """The LaTeX of a worked line's right-hand side as a Python expression."""
    s = (latex.replace(r"\left(", "(").replace(r"\right)", ")").replace(r"\cdot", "*").replace(r"\ ", " ")
         .replace(r"\lvert", "abs(").replace(r"\rvert", ")").replace(r"\max", "maximum").replace(r"\min", "minimum")
         .replace(r"\operatorname{sign}", "sign").replace("^2", "**2"))
    out, stack, i = [], [], 0
    while i < len(s):
        if s.startswith(r"\frac{", i):
            out.append("((")
            stack.append("numerator")
            i += 6
        elif s.startswith(r"\sqrt{", i):
            out.append("sqrt(")
            stack.append("call")
            i += 6
        elif s[i] == "{":
            out.append("(")
            stack.append("group")
            i += 1
        elif s[i] == "}":
            kind = stack.pop()
            if kind == "numerator":
                assert s[i + 1] == "{", s
                out.append(")/(")
                stack.append("denominator")
                i += 2
                continue
            out.append("))" if kind == "denominator" else ")")
            i += 1
        else:
            assert s[i] != "\\", f"unexpected LaTeX in {s[i:]!r}"
            out.append(s[i])
            i += 1
    assert not stack
    return "".join(out)


def shown_number(text: str) -> float:
    text = text.strip()
    if text == r"\text{nan}":
        return math.nan
    text = text.replace(r"(-\infty)", "-inf").replace(r"\infty", "inf")
    return float(re.sub(r"\\times10\^\{(-?\d+)\}", r"e\1", text).strip("()"))


def four_digits(x: float) -> float:
    return float(f"{x:.4g}")


@pytest.mark.parametrize("name, hp", CASES, ids=[f"{n}-{h}" for n, h in CASES])
def test_every_worked_line_is_the_number_it_shows_and_the_run_recorded(name, hp):
    opt = optlab.get_optimizer(name)
    run = optlab.simulate(LAND, name, start=START, steps=STEPS, noise=0.3, seed=1, **hp)  # g fed ≠ ∇f
    assert run.diverged_at is None
    for k in steps_to_check(name, hp, run):
        d = step_details(run, k)
        assert len(d["worked"]) == len(d["lines"])
        for c in range(2):
            lines = [line for cc, line in d["lines"] if cc == c]
            shown = [text for text, (cc, _) in zip(d["worked"], d["lines"], strict=True) if cc == c]
            recorded = recorded_numbers(run, k, c)
            for n, v in recorded.items():  # the inspector read the run as the test does
                assert d["values"][c][n] == v or (math.isnan(v) and math.isnan(d["values"][c][n])), n
            own, errors = dict(recorded), {}
            if not any(line.result == "g" for line in lines):
                own["g"] = own["grad"]
            assert [line.result for line in lines].count("theta") == 1
            for line, text in zip(lines, shown, strict=True):
                value, err = evaluate(line.expr, own, errors)
                where = f"{name} {hp} k={k} {'xy'[c]}: {text}"
                if line.result in recorded:  # θ_k or a state buffer: what simulate() computed
                    target = recorded[line.result]
                    assert abs(value - target) <= 4 * err + 8 * U * abs(target) + 1e-300, where
                else:  # a number of its own (m̂, θ', δ ...), used by later lines
                    own[line.result], errors[line.result] = value, err
                    assert d["values"][c][line.result] == pytest.approx(value, rel=1e-12, abs=1e-300), where
                # the formula drawn is the one evaluated
                full = d["values"][c]
                drawn = line.expr.latex(lambda n, full=full: f"({full[n]!r})")
                again = eval(to_python(drawn), {"sqrt": math.sqrt, "abs": abs, "maximum": max, "minimum": min,  # noqa: S307
                                                "sign": lambda a: math.copysign(1.0, a) if a else 0.0})
                assert abs(again - value) <= 4 * err + 8 * U * abs(value) + 1e-300, where
                assert line.expr.latex(lambda n, full=full: tex(full[n])) in text, where
                # the number shown is the value, to the 4 significant digits shown
                number = shown_number(text.rsplit(" = ", 1)[1])
                slack = 4 * err + 8 * U * abs(value)
                assert number in {four_digits(value), four_digits(value - slack), four_digits(value + slack)}, where
            for b in opt.buffers:  # every buffer the step changed has its line
                if recorded[b.name] != recorded[f"prev_{b.name}"]:
                    assert b.name in [line.result for line in lines], f"{name} {hp} k={k}: {b.name}"


def test_adamw_decays_theta_before_the_step_it_shows():
    # issue 10: at k = 1 (lr 0.05, λ 0.5) the step line substituted the undecayed θ_0 = -1.5
    run = optlab.simulate("rosenbrock", "adamw", start=(-1.5, 2.0), steps=1, lr=0.05, weight_decay=0.5)
    d = step_details(run, 1)
    decayed = -1.5 * (1 - 0.05 * 0.5)  # -1.4625
    g = -155.0  # ∂f/∂x of Rosenbrock at (-1.5, 2): -2(1 - x) - 400x(y - x²) = -5 - 150
    assert run.grad[0, 0] == g
    theta1 = decayed - 0.05 * g / (abs(g) + 1e-8)  # the first Adam step: m̂ = g, √v̂ = |g|; ≈ -1.4125
    assert d["values"][0]["theta_decayed"] == pytest.approx(decayed, rel=1e-15)
    assert run.path[1, 0] == pytest.approx(theta1, rel=1e-14)
    assert f"{run.path[1, 0]:.4f}" == "-1.4125"
    step_line = next(line for cc, line in d["lines"] if cc == 0 and line.result == "theta")
    assert "theta_decayed" in _names(step_line.expr) and "theta_prev" not in _names(step_line.expr)
    assert d["table"].loc["θ' = θ_{k−1}·(1 − η·λ) (decoupled weight decay)", "x"] == pytest.approx(decayed)


def _names(e) -> set[str]:
    if isinstance(e, N):
        return {e.name}
    if isinstance(e, Op):
        return _names(e.a) | _names(e.b)
    if isinstance(e, Call):
        return set().union(*(_names(a) for a in e.args))
    return set()


def test_amsgrad_rows_are_labelled_by_what_they_hold():
    run = optlab.simulate("rosenbrock", "amsgrad", start=(-1.5, 2.0), steps=10, lr=0.05, beta2=0.5)
    d = step_details(run, 10)
    bc2 = 1 - 0.5**10
    held = run.state["v_max"][9] / bc2
    assert not np.allclose(run.state["v"][9], run.state["v_max"][9])  # v fell below its maximum
    rows = [label for label in d["table"].index if np.allclose(d["table"].loc[label].to_numpy(), held)]
    assert rows and all(label.startswith("v̂_max") for label in rows)
    assert not any(label.startswith("v̂ =") for label in d["table"].index)


def test_the_step_per_unit_gradient_row_says_what_a_negative_value_means():
    # momentum carries θ on against the gradient: −Δθ/g < 0 is a step uphill, not a negative learning rate
    run = optlab.simulate("bowl", "momentum", start=(3.0, -4.0), steps=40, lr=0.1)
    ratios = np.array([step_details(run, k)["table"].iloc[-2].to_numpy() for k in range(1, 41)])
    delta, g = np.diff(run.path, axis=0), run.grad[:-1]  # on the bowl g = θ, no weight decay
    np.testing.assert_allclose(ratios, -delta / g, rtol=1e-12)
    assert (ratios < 0).any()
    label = step_details(run, 1)["table"].index[-2]
    assert "step per unit of gradient" in label and "uphill" in label


def test_a_minibatch_gradient_is_not_called_noise():
    run = optlab.simulate("linear_regression", "sgd", steps=5, lr=0.1, batch_size=4, seed=3)
    table = step_details(run, 3)["table"]
    assert not any("noise" in label for label in table.index)
    np.testing.assert_allclose(table.loc["minibatch gradient − full gradient"].to_numpy(),
                               run.grad_used[2] - run.grad[2], rtol=0, atol=0)

"""The step inspector's worked lines as data: each an expression over named numbers, and what it computes.

An optimizer's ``worked(s)`` returns a list of :class:`Line`. ``s`` holds the run's
hyperparameters, the step ``t`` and the step's coefficients (``s.rectified`` ...), so the
declaration can pick the lines of the branch this step takes. A line names the number it
computes (``result``): a state buffer or ``theta``, which the run recorded, or a new one
(``m_hat``, ``theta_decayed`` ...) that later lines use. The names are those of
:func:`optlab.inspector.worked_lines`: ``theta_prev``, ``grad`` (what the optimizer was
fed), ``g`` (after L2 weight decay), ``lr``, ``theta``, the hyperparameters, the
coefficients, each buffer and ``prev_<buffer>``.

The same expression is drawn with the numbers substituted (:meth:`Expr.latex`) and
evaluated (:meth:`Expr.value`), so what the inspector shows is what it computes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

ATOM, POWER, PRODUCT, SUM = 4, 3, 2, 1  # binding strength, for parentheses


class Expr:
    prec = ATOM

    def latex(self, fmt: Callable[[str], str]) -> str:
        raise NotImplementedError

    def value(self, values: dict) -> float:
        raise NotImplementedError

    def __add__(self, other):
        return Op("+", self, _wrap(other))

    def __radd__(self, other):
        return Op("+", _wrap(other), self)

    def __sub__(self, other):
        return Op("-", self, _wrap(other))

    def __rsub__(self, other):
        return Op("-", _wrap(other), self)

    def __mul__(self, other):
        return Op("*", self, _wrap(other))

    def __rmul__(self, other):
        return Op("*", _wrap(other), self)

    def __truediv__(self, other):
        return Op("/", self, _wrap(other))

    def __rtruediv__(self, other):
        return Op("/", _wrap(other), self)


def _wrap(x) -> Expr:
    return x if isinstance(x, Expr) else Const(x)


def _paren(e: Expr, fmt, below: int) -> str:
    s = e.latex(fmt)
    return rf"\left({s}\right)" if e.prec < below else s


@dataclass(frozen=True, eq=False)
class N(Expr):
    """A named number: substituted by its value."""

    name: str

    def latex(self, fmt):
        return fmt(self.name)

    def value(self, values):
        return np.float64(values[self.name])


@dataclass(frozen=True, eq=False)
class Const(Expr):
    """A literal of the rule (the 1 in 1 − β1)."""

    c: float

    def latex(self, fmt):
        return f"{self.c:g}"

    def value(self, values):
        return np.float64(self.c)


@dataclass(frozen=True, eq=False)
class Op(Expr):
    op: str  # + - * /
    a: Expr
    b: Expr

    @property
    def prec(self):
        return {"+": SUM, "-": SUM, "*": PRODUCT, "/": ATOM}[self.op]

    def latex(self, fmt):
        if self.op == "/":
            return rf"\frac{{{self.a.latex(fmt)}}}{{{self.b.latex(fmt)}}}"
        if self.op == "*":
            return rf"{_paren(self.a, fmt, PRODUCT)}\cdot {_paren(self.b, fmt, PRODUCT)}"
        right = _paren(self.b, fmt, PRODUCT if self.op == "-" else SUM)
        return f"{self.a.latex(fmt)} {self.op} {right}"

    def value(self, values):
        a, b = self.a.value(values), self.b.value(values)
        with np.errstate(all="ignore"):
            return {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}[self.op](a, b)


@dataclass(frozen=True, eq=False)
class Call(Expr):
    fn: str  # sqrt, abs, max, sign, square
    args: tuple[Expr, ...]

    @property
    def prec(self):
        return POWER if self.fn == "square" else ATOM

    def latex(self, fmt):
        a = [x.latex(fmt) for x in self.args]
        if self.fn == "sqrt":
            return rf"\sqrt{{{a[0]}}}"
        if self.fn == "abs":
            return rf"\lvert {a[0]}\rvert"
        if self.fn == "max":
            return rf"\max\left({a[0]},\ {a[1]}\right)"
        if self.fn == "sign":
            return rf"\operatorname{{sign}}\left({a[0]}\right)"
        base = self.args[0]  # square: a number like 1.2×10^{-5} or any non-atom needs parentheses
        plain = base.prec == ATOM and not isinstance(base, Op) and r"\times" not in a[0]
        return (a[0] if plain else rf"\left({a[0]}\right)") + "^2"

    def value(self, values):
        a = [x.value(values) for x in self.args]
        with np.errstate(all="ignore"):
            if self.fn == "square":
                return a[0] * a[0]
            return {"sqrt": np.sqrt, "abs": np.abs, "sign": np.sign}[self.fn](a[0]) if self.fn != "max" \
                else np.maximum(a[0], a[1])


def sqrt(x) -> Expr:
    return Call("sqrt", (_wrap(x),))


def absolute(x) -> Expr:
    return Call("abs", (_wrap(x),))


def maximum(a, b) -> Expr:
    return Call("max", (_wrap(a), _wrap(b)))


def sign(x) -> Expr:
    return Call("sign", (_wrap(x),))


def square(x) -> Expr:
    return Call("square", (_wrap(x),))


@dataclass(frozen=True)
class Cond:
    """The condition that selects a branch, shown before its line: ``symbol = value relation``."""

    symbol: str  # LaTeX, e.g. \rho_k
    name: str  # the number compared
    relation: str  # LaTeX, e.g. "> 5"

    def latex(self, fmt) -> str:
        return rf"{self.symbol} = {fmt(self.name)} {self.relation}:\ "


@dataclass(frozen=True, eq=False)
class Line:
    """``symbol = expr = result``: one equation of the rule with this step's numbers."""

    symbol: str  # LaTeX of the left-hand side
    expr: Expr
    result: str  # the name of the number the line computes
    label: str = ""  # a new number's row in the inspector's table ("" for a recorded one)
    when: Cond | None = None

    def latex(self, fmt: Callable[[str], str]) -> str:
        head = self.when.latex(fmt) if self.when else ""
        return f"{head}{self.symbol} = {self.expr.latex(fmt)} = {fmt(self.result)}"


# Lines several optimizers share ------------------------------------------------------------------
def l2(s) -> list[Line]:
    """L2 weight decay (torch: ``if weight_decay != 0``): g = ∇f + λ·θ_{k−1}."""
    if s.weight_decay == 0:
        return []
    return [Line("g_k", N("grad") + N("weight_decay") * N("theta_prev"), "g", label="g + λ·θ (L2 weight decay)")]


def decoupled(s) -> tuple[list[Line], str]:
    """Decoupled weight decay applied first (AdamW): the lines and the name of the θ the step starts from."""
    if s.weight_decay == 0:
        return [], "theta_prev"
    return [Line(r"\theta'_{k-1}", N("theta_prev") * (1 - N("lr") * N("weight_decay")), "theta_decayed",
                 label="θ' = θ_{k−1}·(1 − η·λ) (decoupled weight decay)")], "theta_decayed"


def moments(s) -> list[Line]:
    """Adam's m and v."""
    return [
        Line("m_k", N("beta1") * N("prev_m") + (1 - N("beta1")) * N("g"), "m"),
        Line("v_k", N("beta2") * N("prev_v") + (1 - N("beta2")) * square(N("g")), "v"),
    ]

"""The step inspector's worked lines as data: each an expression over named numbers, and what it computes.

An optimizer's ``worked(s)`` returns a list of :class:`Line`. ``s`` is a :class:`Numbers`
record: the branch this step takes as plain numbers (``s.hp``: the run's hyperparameters,
``s.step``: the optimizer's step record, t, lr and the coefficients), and the named numbers
(:class:`N`) a line may use, each a field:

- ``s.theta_prev``, ``s.theta``: θ before and after the step; ``s.lr``: the step's learning rate;
- ``s.grad``: the gradient the optimizer was fed; ``s.g``: the gradient its rule uses (a line
  computing ``s.g`` adds L2 weight decay, see :func:`l2`; without one it is ``s.grad``);
- ``s.h``: the hyperparameters (``s.h.beta1``), ``s.c``: the step record (``s.c.bc1``);
- ``s.prev``, ``s.state``: the state buffers before and after the step (``s.prev.m``, ``s.state.m``);
- ``s.xy``: both coordinates' recorded numbers, ``s.xy[0].theta_prev`` (θ_x before the step),
  ``s.xy[1].state.v`` ..., for a coupled optimizer's lines (an RMS or a norm over θ);
- ``s.here``: this coordinate's recorded numbers as plain floats (``s.here.prev.prev``,
  ``s.here.grad``), for a branch torch takes element by element (Rprop's sign change): the
  inspector asks for each coordinate's lines in turn, and they may differ.

A line names the number it computes (``result``): one of those the run recorded (``s.theta``,
a buffer of ``s.state``), or a new one, ``N("m_hat")``, with a ``label`` for the inspector's
table, that later lines use. :func:`numbers` makes the record, :func:`values` the matching
numbers of one coordinate, by the same names: no declaration spells a name the inspector reads.

The same expression is drawn with the numbers substituted (:meth:`Expr.latex`) and
evaluated (:meth:`Expr.value`), so what the inspector shows is what it computes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

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
    fn: str  # sqrt, abs, max, min, sign, square
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
        if self.fn == "min":
            return rf"\min\left({a[0]},\ {a[1]}\right)"
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
            if self.fn in ("max", "min"):
                return (np.maximum if self.fn == "max" else np.minimum)(a[0], a[1])
            return {"sqrt": np.sqrt, "abs": np.abs, "sign": np.sign}[self.fn](a[0])


def sqrt(x) -> Expr:
    return Call("sqrt", (_wrap(x),))


def absolute(x) -> Expr:
    return Call("abs", (_wrap(x),))


def maximum(a, b) -> Expr:
    return Call("max", (_wrap(a), _wrap(b)))


def minimum(a, b) -> Expr:
    return Call("min", (_wrap(a), _wrap(b)))


def sign(x) -> Expr:
    return Call("sign", (_wrap(x),))


def square(x) -> Expr:
    return Call("square", (_wrap(x),))


@dataclass(frozen=True)
class Cond:
    """The condition that selects a branch, shown before its line: ``symbol = value relation``."""

    symbol: str  # LaTeX, e.g. \rho_k
    name: str  # the number compared (an N may be given)
    relation: str  # LaTeX, e.g. "> 5"

    def __post_init__(self):
        if isinstance(self.name, N):
            object.__setattr__(self, "name", self.name.name)

    def latex(self, fmt) -> str:
        return rf"{self.symbol} = {fmt(self.name)} {self.relation}:\ "


@dataclass(frozen=True, eq=False)
class Line:
    """``symbol = expr = result``: one equation of the rule with this step's numbers."""

    symbol: str  # LaTeX of the left-hand side
    expr: Expr
    result: str  # the name of the number the line computes (an N may be given: its name is kept)
    label: str = ""  # a new number's row in the inspector's table ("" for a recorded one)
    when: Cond | None = None

    def __post_init__(self):
        if isinstance(self.result, N):
            object.__setattr__(self, "result", self.result.name)

    def latex(self, fmt: Callable[[str], str]) -> str:
        head = self.when.latex(fmt) if self.when else ""
        return f"{head}{self.symbol} = {self.expr.latex(fmt)} = {fmt(self.result)}"


# What worked(s) gets ----------------------------------------------------------------------------
class Numbers(NamedTuple):
    """One step's branch and its named numbers: what an optimizer's ``worked(s)`` gets."""

    hp: Any  # the run's hyperparameters (the optimizer's hp_type), as numbers: s.hp.amsgrad
    step: Any  # this step's record (the optimizer's step_type), as numbers: s.step.t, s.step.rectified
    theta_prev: N  # θ_{k−1}
    theta: N  # θ_k
    grad: N  # the gradient fed to the optimizer
    g: N  # the gradient the rule uses: grad, plus λ·θ under L2 weight decay
    lr: N  # η_k
    h: Any  # hp as named numbers: s.h.beta1
    c: Any  # step as named numbers: s.c.bc1
    prev: Any  # the state buffers before the step (the optimizer's state NamedTuple of N): s.prev.m
    state: Any  # ... and after it: s.state.m
    xy: tuple = ()  # (Coord of x, Coord of y): both coordinates' recorded numbers, named
    here: Any = None  # this coordinate's recorded numbers as floats (a Coord of floats), or None
    axis: int | None = None  # which coordinate the lines are for (0: x, 1: y), with here (Prodigy's slice_p)


class Coord(NamedTuple):
    """One coordinate's recorded numbers: named (``s.xy``) or as floats (``s.here``)."""

    theta_prev: Any
    theta: Any
    grad: Any
    prev: Any  # state record
    state: Any


AXES = ("x", "y")


def _named(record_type, prefix: str = "", suffix: str = ""):
    return record_type._make(N(prefix + f + suffix) for f in record_type._fields)


def numbers(opt, hp, step, state_type, here: Coord | None = None, axis: int | None = None) -> Numbers:
    """The record ``opt.worked`` gets for a step: ``hp`` and ``step`` its records (numbers), ``state_type``
    the type of its state, ``here`` the coordinate's own numbers (floats), ``axis`` which one (0: x, 1: y)."""
    xy = tuple(Coord(N(f"theta_prev_{a}"), N(f"theta_{a}"), N(f"grad_{a}"), _named(state_type, "prev_", f"_{a}"),
                     _named(state_type, "", f"_{a}")) for a in AXES)
    return Numbers(hp=hp, step=step, theta_prev=N("theta_prev"), theta=N("theta"), grad=N("grad"), g=N("g"),
                   lr=N("lr"), h=_named(opt.hp_type), c=_named(opt.step_type), prev=_named(state_type, "prev_"),
                   state=_named(state_type), xy=xy, here=here, axis=axis)


def values(s: Numbers, *, theta_prev: float, theta: float, grad: float, prev, state,
           coords: tuple[Coord, Coord] | None = None) -> dict[str, float]:
    """One coordinate's numbers by the names of ``s``: ``prev``, ``state`` its state records (floats);
    ``coords``: both coordinates' (floats), by the names of ``s.xy``.
    Flags (amsgrad, rectified ...) and choices (line_search_fn) choose the branch and are left out."""
    out = {}
    pairs = [(s.h, s.hp), (s.c, s.step), (s.prev, prev), (s.state, state)]
    for named, numbers_ in zip(s.xy, coords or (), strict=False):
        pairs += [(named.prev, numbers_.prev), (named.state, numbers_.state)]
        out.update({named.theta_prev.name: float(numbers_.theta_prev), named.theta.name: float(numbers_.theta),
                    named.grad.name: float(numbers_.grad)})
    for names, numbers_ in pairs:
        for n, v in zip(names, numbers_, strict=True):
            if not isinstance(v, (bool, np.bool_, str)) and v is not None:
                out[n.name] = float(v)
    out.update({s.theta_prev.name: float(theta_prev), s.theta.name: float(theta), s.grad.name: float(grad)})
    return out


# Expressions and lines several optimizers share ----------------------------------------------------
def ema(prev, x, beta) -> Expr:
    """β·prev + (1 − β)·x, as :func:`optlab.optimizers.base.ema`."""
    return beta * prev + (1 - beta) * x


def ema_sq(prev, x, beta) -> Expr:
    """β·prev + (1 − β)·x², as :func:`optlab.optimizers.base.ema_sq`."""
    return beta * prev + (1 - beta) * square(x)


def l2(s: Numbers) -> list[Line]:
    """L2 weight decay (torch: ``if weight_decay != 0``): g = ∇f + λ·θ_{k−1}."""
    if s.hp.weight_decay == 0:
        return []
    return [Line("g_k", s.grad + s.h.weight_decay * s.theta_prev, s.g, label="g + λ·θ (L2 weight decay)")]


def decoupled(s: Numbers) -> tuple[list[Line], N]:
    """Decoupled weight decay applied first (AdamW): the lines and the θ the step starts from."""
    if s.hp.weight_decay == 0:
        return [], s.theta_prev
    decayed = N("theta_decayed")
    return [Line(r"\theta'_{k-1}", s.theta_prev * (1 - s.lr * s.h.weight_decay), decayed,
                 label="θ' = θ_{k−1}·(1 − η·λ) (decoupled weight decay)")], decayed


def moments(s: Numbers) -> list[Line]:
    """Adam's m and v."""
    h, prev, new = s.h, s.prev, s.state
    return [Line("m_k", ema(prev.m, s.g, h.beta1), new.m), Line("v_k", ema_sq(prev.v, s.g, h.beta2), new.v)]

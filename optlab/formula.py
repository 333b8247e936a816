"""Your own landscape: f(x, y) typed in ordinary notation.

The text never reaches eval, exec or sympy's string parser. A tokenizer and a
recursive-descent parser accept only numbers, x, y, the operators + - * / ** ^
(power), unary minus, parentheses and the whitelisted functions and constants,
and build the sympy expression node by node. Length, nesting depth and constant
exponents are capped, and every constant sub-expression is tracked as a float64
alongside the tree (never with sympy's evalf, which can hang on towers such as
``x^exp(exp(exp(100)))``), so no input can run code, read a file or hang the
server. The gradient is derived symbolically and compiled to vectorised NumPy;
overflow and domain errors (log of a negative) give inf/NaN, never exceptions.

>>> land = formula_landscape("(1-x)^2 + 100*(y-x^2)^2", xmin=-2, xmax=2, ymin=-1, ymax=3)
>>> float(land.f([1.0, 1.0]))
0.0
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import functools
import inspect
import math
import os
import pickle
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import unicodedata
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import sympy

from optlab.landscape import CUSTOM, Landscape
from optlab.minima import estimate_minima
from optlab.params import Param

DEFAULT_FORMULA = "x^2 + 10*y^2 + 2*sin(3*x)"
MAX_LENGTH = 300
MAX_DEPTH = 25  # nested parentheses, function calls, signs and powers
MAX_EXPONENT = 100  # |constant exponent|
MAX_CONSTANT = 1e300  # |any constant sub-expression|
MAX_NODES = 5000  # size of f and its gradient as expression trees: bounds compiling and every evaluation
X, Y = sympy.symbols("x y", real=True)


class RealAbs(sympy.Function):
    """|u| for real u, differentiated as sign(u)·u'.

    sympy's Abs cannot tell that u is real when u contains powers such as y**1.5
    (complex for y < 0), and differentiates it with re(u), im(u) and atan2: a tree
    that grows exponentially with nesting (``abs(log(tan(x)^3 ...)^-100)`` took 18 s
    to estimate its minima). Where u is not real the value is NaN anyway.
    """

    is_extended_real = True  # |u| is real and >= 0 whatever u is; sympy's assumption queries on an
    is_extended_nonnegative = True  # unknown function can otherwise take seconds (tanh(abs(x)^-100): 30 s)

    def _eval_is_zero(self):
        return self.args[0].is_zero

    @classmethod
    def eval(cls, arg):
        if arg.is_number:
            return sympy.Abs(arg)
        if arg.is_extended_nonnegative:
            return arg
        if arg.is_extended_nonpositive:
            return -arg
        return None

    def fdiff(self, argindex=1):
        return sympy.sign(self.args[0])

    def _latex(self, printer, exp=None):
        body = rf"\left|{{{printer._print(self.args[0])}}}\right|"
        return body if exp is None else f"{body}^{{{exp}}}"


FUNCTIONS = {  # name -> (sympy, the same on a float64 for the constant tracker)
    "exp": (sympy.exp, np.exp), "log": (sympy.log, np.log), "sqrt": (sympy.sqrt, np.sqrt),
    "abs": (RealAbs, np.abs), "tanh": (sympy.tanh, np.tanh), "sin": (sympy.sin, np.sin),
    "cos": (sympy.cos, np.cos), "tan": (sympy.tan, np.tan),
}
CONSTANTS = {"pi": (sympy.pi, math.pi), "e": (sympy.E, math.e)}
VARIABLES = {"x": X, "y": Y}
ALLOWED_NAMES = ", ".join([*VARIABLES, *CONSTANTS, *FUNCTIONS])
_TOKEN = re.compile(
    r"[ \t]*(?:([0-9]+\.?[0-9]*(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?)|([A-Za-z_][A-Za-z0-9_]*)"
    r"|(\*\*|[-+*/^(),]))",
    re.ASCII,
)

MINIMA_NOTE = "Minima are estimates: the lowest points found in the domain by a grid search and refinement."
NOWHERE_FINITE = ("f is not a finite number anywhere in this domain (it overflows or is undefined there), so "
                  "there is nothing to plot or minimise: move or widen the domain.")

_domain = functools.partial(Param, low=-1e6, high=1e6, help="plotting domain and estimate of the minima")
DOMAIN_PARAMS = (
    _domain("xmin", -5.0, symbol=r"x_{\min}"), _domain("xmax", 5.0, symbol=r"x_{\max}"),
    _domain("ymin", -5.0, symbol=r"y_{\min}"), _domain("ymax", 5.0, symbol=r"y_{\max}"),
)


class FormulaError(ValueError):
    """A formula that is not accepted: the message says what is wrong and where (1-based column)."""


class _Token(NamedTuple):
    kind: str  # "num", "name", "op", "end", "error"
    text: str
    col: int  # 1-based


class _Node(NamedTuple):
    expr: sympy.Expr
    value: float | None  # float64 value when the node is a constant, else None


def _tokens(text: str) -> list[_Token]:
    """Tokens up to the first character that is not allowed, which becomes an "error" token:
    the parser reports whatever comes first, so in `os.system` the name `os` is the problem."""
    out, pos = [], 0
    while pos < len(text) and text[pos:].strip(" \t"):
        m = _TOKEN.match(text, pos)
        if not m:
            col = pos + 1 + (len(text[pos:]) - len(text[pos:].lstrip(" \t")))
            out.append(_Token("error", text[col - 1], col))
            return out
        kind = "num" if m.group(1) else "name" if m.group(2) else "op"
        out.append(_Token(kind, m.group(m.lastindex), m.start(m.lastindex) + 1))
        pos = m.end()
    out.append(_Token("end", "", len(text) + 1))
    return out


_CONTROL_NAMES = {"\n": "a line break", "\r": "a carriage return", "\x00": "a NUL byte", "\f": "a form feed",
                  "\v": "a vertical tab"}


def _bad_character(t: _Token) -> FormulaError:
    c = t.text
    if c.isascii() and c.isprintable():
        shown = repr(c)
    else:  # say what it is: a look-alike such as U+0445 (CYRILLIC SMALL LETTER HA) is invisible as itself
        name = _CONTROL_NAMES.get(c) or unicodedata.name(c, "") or "a control character"
        shown = f"U+{ord(c):04X} ({name})"
    hint = " (only ASCII: letters, digits, + - * / ^ ( ) and spaces)" if not c.isascii() else ""
    return FormulaError(f"unexpected character {shown} at column {t.col}{hint}")


_FLOAT_MAX_LOG2 = 1024  # |v| < 2^1024 for every finite float64
_FLOAT_MIN_NORMAL = 2.2250738585072014e-308


def _out_of_range(n: sympy.Number) -> str | None:
    """'too large' or 'too small' where the exact number n has no float64 near it, else None.

    Tested on the exact number's size (bit lengths, mpmath's exponent), never by computing it in
    full or converting first: 3^9801 is a 15,000-bit integer whose float is inf.
    """
    if n.is_zero or n.is_infinite or n is sympy.nan:
        return None if n.is_zero else "not a finite number"
    if n.is_Rational:
        p, q = abs(int(n.p)), int(n.q)
        size = p.bit_length() - q.bit_length()  # log2|n| within 1
        if size > _FLOAT_MAX_LOG2 or (size >= _FLOAT_MAX_LOG2 - 1 and not math.isfinite(p / q)):
            return "too large"
        if size < -1021 and (size < -1100 or p / q < _FLOAT_MIN_NORMAL):
            return "too small"
        return None
    if n.is_Float:
        mant, exp = n._mpf_[1], n._mpf_[2]
        size = exp + int(mant).bit_length()
        if size > _FLOAT_MAX_LOG2:
            return "too large"
        if size < -1021:
            return "too small"
    return None


def _check_numbers(expr: sympy.Expr, where: str) -> None:
    """Refuse a tree holding a constant float64 cannot hold (over- or underflow), rather than let it become
    inf or 0 and the formula another function: ((x/3)^100)^100 makes (1/3)^10000·x^10000."""
    for n in expr.atoms(sympy.Number):
        problem = _out_of_range(n)
        if problem:
            size = abs(int(n.p)).bit_length() - int(n.q).bit_length() if n.is_Rational else None
            raise _range_error(where, problem, None if size is None else size * math.log10(2))
    walk = sympy.preorder_traversal(expr)
    for node in walk:  # constant sub-trees such as pi^10000 or exp(10000): exact in sympy, inf in float64
        if node.is_number and not node.is_Number:
            walk.skip()
            digits = _log10_size(node)
            if digits is not None and abs(digits) > 307.5:
                raise _range_error(where, "too large" if digits > 0 else "too small", digits)


def _log10_size(c: sympy.Expr, depth: int = 0) -> float | None:
    """log10 |c| of a constant tree, estimated from its parts without evaluating it (sympy's evalf can hang
    on towers); None where it cannot tell (then its float64 value is computed as usual)."""
    if depth > 50:
        return None
    if c.is_Number:
        if c.is_zero or not c.is_finite:
            return None
        if c.is_Rational:
            return math.log10(abs(int(c.p))) - math.log10(int(c.q))
        mant, exp = c._mpf_[1], c._mpf_[2]
        return math.log10(int(mant)) + exp * math.log10(2)
    if c in (sympy.pi, sympy.E):
        return math.log10(float(c))
    parts = [_log10_size(a, depth + 1) for a in c.args] if (c.is_Mul or c.is_Pow or c.is_Add) else None
    if c.is_Mul and None not in parts:
        return sum(parts)
    if c.is_Add and None not in parts:
        return max(parts)  # within log10(number of terms), unless terms cancel
    if c.is_Pow and parts[0] is not None and c.args[1].is_Number and c.args[1].is_finite:
        return float(c.args[1]) * parts[0]
    if isinstance(c, sympy.exp) and c.args[0].is_Number and c.args[0].is_finite:
        return float(c.args[0]) / math.log(10)
    return None


def _range_error(where: str, problem: str, digits: float | None) -> FormulaError:
    shown = "" if digits is None else f" (about 1e{round(digits)})"
    hint = (": powers of powers multiply, e.g. ((2*x)^100)^100 = 2^10000·x^10000" if "power" in where else "")
    return FormulaError(f"{where} makes a constant{shown} that is {problem} for float64 (whose range is about "
                        f"1e-308 to 1e308){hint}; use smaller numbers or powers")


def _constant(value, what: str, col: int) -> float:
    if not (np.isfinite(value) and abs(value) <= MAX_CONSTANT):
        kind = "not a real number" if np.isnan(value) else "infinite" if np.isinf(value) else "too large"
        where = "" if "column" in what else f" at column {col}"
        raise FormulaError(f"{what}{where} is {kind}")
    return float(value)


class _Parser:
    """sum := product (('+'|'-') product)*;  product := unary (('*'|'/') unary)*;
    unary := ('-'|'+') unary | power;  power := atom (('**'|'^') unary)?;
    atom := number | x | y | pi | e | function '(' sum ')' | '(' sum ')'"""

    def __init__(self, text: str):
        self.tokens = _tokens(text)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> _Token:
        if self.tokens[self.i].kind == "error":
            raise _bad_character(self.tokens[self.i])
        return self.tokens[self.i]

    def take(self) -> _Token:
        t = self.tok
        self.i += 1
        return t

    def expect(self, op: str, opened: _Token) -> None:
        if self.tok.text != op:
            found = "the end of the formula" if self.tok.kind == "end" else repr(self.tok.text)
            raise FormulaError(f"expected {op!r} at column {self.tok.col} (to close column {opened.col}), "
                               f"found {found}")
        self.take()

    def enter(self, t: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FormulaError(f"nested too deeply at column {t.col} (at most {MAX_DEPTH} levels)")

    def parse(self) -> _Node:
        if self.tok.kind == "end":
            raise FormulaError("the formula is empty")
        node = self.sum()
        t = self.tok
        if t.kind != "end":
            if t.kind == "name" and t.text not in (*VARIABLES, *CONSTANTS, *FUNCTIONS):
                raise FormulaError(f"unknown name {t.text[:20]!r} at column {t.col}; allowed: {ALLOWED_NAMES}")
            if t.kind in ("num", "name") or t.text == "(":
                raise FormulaError(f"missing operator before {t.text!r} at column {t.col} (write 2*x, not 2x)")
            raise FormulaError(f"unexpected {t.text!r} at column {t.col}")
        return node

    def binary(self, ops, operand, combine) -> _Node:
        node = operand()
        while self.tok.text in ops:
            t = self.take()
            rhs = operand()
            with np.errstate(all="ignore"):
                build, value = combine(t.text, node, rhs)
            if node.value is not None and rhs.value is not None:
                value = _constant(value, f"the constant around {t.text!r} at column {t.col}", t.col)
                node = _Node(_settled(build, value, node, rhs), value)
            else:
                node = _Node(build(), None)
                _check_numbers(node.expr, f"{t.text!r} at column {t.col}")
        return node

    def sum(self) -> _Node:
        def combine(op, a, b):
            if op == "+":
                return lambda: a.expr + b.expr, _f(a) + _f(b)
            return lambda: a.expr - b.expr, _f(a) - _f(b)

        return self.binary(("+", "-"), self.product, combine)

    def product(self) -> _Node:
        def combine(op, a, b):
            if op == "*":
                return lambda: a.expr * b.expr, _f(a) * _f(b)
            if b.value == 0:
                raise FormulaError(f"division by zero at column {self.tokens[self.i - 1].col}")
            return lambda: a.expr / b.expr, _f(a) / _f(b)

        return self.binary(("*", "/"), self.unary, combine)

    def unary(self) -> _Node:
        if self.tok.text in ("-", "+"):
            t = self.take()
            self.enter(t)
            node = self.unary()
            self.depth -= 1
            if t.text == "-":
                node = _Node(-node.expr, None if node.value is None else -node.value)
            return node
        return self.power()

    def power(self) -> _Node:
        base = self.atom()
        if self.tok.text not in ("**", "^"):
            return base
        t = self.take()
        self.enter(t)
        exponent = self.unary()  # right-associative: 2^3^2 = 2^(3^2); x^-1 is allowed
        self.depth -= 1
        if exponent.value is not None and not abs(exponent.value) <= MAX_EXPONENT:
            raise FormulaError(f"the exponent after {t.text!r} at column {t.col} is too large "
                               f"(at most {MAX_EXPONENT} in size)")
        if base.value is not None and exponent.value is not None:
            if base.value == 0 and exponent.value < 0:
                raise FormulaError(f"0 to a negative power at column {t.col}")
            with np.errstate(all="ignore"):
                value = _constant(np.power(np.float64(base.value), exponent.value), "the power", t.col)
            return _Node(_settled(lambda: base.expr**exponent.expr, value, base, exponent), value)
        node = _Node(base.expr**exponent.expr, None)
        _check_numbers(node.expr, f"the power at column {t.col}")  # before the next power multiplies it again
        return node

    def atom(self) -> _Node:
        t = self.take()
        if t.kind == "num":
            value = _constant(float(t.text), f"the number {t.text[:20]}", t.col)
            if value.is_integer() and abs(value) <= 2**53 and "e" not in t.text.lower() and "." not in t.text:
                return _Node(sympy.Integer(int(value)), value)
            return _Node(sympy.Float(value), value)
        if t.kind == "name":
            if t.text in VARIABLES:
                return _Node(VARIABLES[t.text], None)
            if t.text in CONSTANTS:
                expr, value = CONSTANTS[t.text]
                return _Node(expr, value)
            if t.text in FUNCTIONS:
                sym, num = FUNCTIONS[t.text]
                if self.tok.text != "(":
                    raise FormulaError(f"{t.text} at column {t.col} needs its argument in parentheses: "
                                       f"{t.text}(...)")
                opened = self.take()
                self.enter(t)
                arg = self.sum()
                self.depth -= 1
                self.expect(")", opened)
                if arg.value is not None:  # a function of a constant is a constant: its float64 value
                    with np.errstate(all="ignore"):
                        value = _constant(num(np.float64(arg.value)), f"{t.text}(...)", t.col)
                    return _Node(sympy.Float(value), value)
                return _Node(sym(arg.expr), None)
            shown = t.text if len(t.text) <= 20 else t.text[:20] + "…"
            raise FormulaError(f"unknown name {shown!r} at column {t.col}; allowed: {ALLOWED_NAMES}")
        if t.text == "(":
            self.enter(t)
            node = self.sum()
            self.depth -= 1
            self.expect(")", t)
            return node
        found = "the end of the formula" if t.kind == "end" else repr(t.text)
        raise FormulaError(f"expected a number, x, y, a function or '(' at column {t.col}, found {found}")


def _f(node: _Node) -> np.float64:
    return np.float64(0.0 if node.value is None else node.value)


def _plain(expr: sympy.Expr) -> bool:
    """A constant sympy can hold exactly and cheaply: small rationals, floats, pi, e, and sums and products
    of those."""
    if expr.is_Rational:
        return max(abs(expr.p), expr.q) <= 2**53
    if expr.is_Float or expr in (sympy.pi, sympy.E):
        return True
    return (expr.is_Add or expr.is_Mul) and all(_plain(a) for a in expr.args)


def _settled(build, value: float, *operands: _Node) -> sympy.Expr:
    """The sympy form of a constant sub-expression: exact where it stays plain (2*pi, 1/3, 2^10), else its
    float64 value. sympy never reasons about constants such as log(tanh(30)) or (pi + e)^-100 (its
    assumption system can raise on them or take seconds), and the NumPy code never computes a power of
    Python floats, which raises OverflowError instead of giving inf."""
    if all(_plain(o.expr) for o in operands):
        expr = build()
        if _plain(expr):
            return expr
    return sympy.Float(value)


def parse_formula(text: str) -> sympy.Expr:
    """The sympy expression of a formula, or FormulaError saying what is wrong and where."""
    if not isinstance(text, str):
        raise FormulaError(f"a formula is text, not {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"the formula is {len(text)} characters long; at most {MAX_LENGTH}")
    try:
        expr = _Parser(text).parse().expr
    except FormulaError:
        raise
    except Exception as e:  # noqa: BLE001 - sympy's own errors (a last guard: text never reaches it unparsed)
        raise FormulaError(f"the formula cannot be handled ({type(e).__name__}); simplify it") from None
    if not isinstance(expr, sympy.Expr) or expr.free_symbols - {X, Y}:  # the grammar allows no other
        raise FormulaError("only x and y may appear")
    if expr.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo, sympy.I):
        raise FormulaError("the formula simplifies to something that is not a real number")
    # exact rationals beyond float range would reach NumPy as Python ints it cannot convert
    big = {r: sympy.Float(float(r)) for r in expr.atoms(sympy.Rational) if max(abs(r.p), r.q) > 2**53}
    return expr.xreplace(big) if big else expr


@dataclass(frozen=True)
class CompiledFormula:
    text: str
    expr: sympy.Expr
    value: object  # value(x, y) -> f, element-wise NumPy
    gradient: object  # gradient(x, y) -> (df/dx, df/dy)
    latex: str
    value_and_grad: object = None  # (f, df/dx, df/dy) in one pass, sharing their common sub-expressions
    sources: dict | None = None  # the printed NumPy code of each: {"value": ..., "gradient": ..., ...}

    def printed(self, name: str = "value"):
        """The printed function itself, not vectorised: fn(x, y) -> [f] (or its parts), any array-like in, NumPy
        calls on it (what the export traces into torch code)."""
        return _load(self.sources[name], vectorised=False)


def _vectorised(fn):
    """fn(x, y) -> tuple of arrays, as float64 arrays of the broadcast shape; never a warning or an exception
    from the arithmetic (overflow gives inf, a domain error NaN)."""
    def call(x, y):
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        shape = np.broadcast_shapes(x.shape, y.shape)
        with np.errstate(all="ignore"):
            outs = []
            for out in fn(x, y):
                out = np.asarray(out)
                if np.iscomplexobj(out):  # e.g. the gradient of (-2)^x, (log 2 + iπ)·(-2)^x: not real, so NaN
                    out = np.where(out.imag == 0, out.real, np.nan)
                outs.append(np.broadcast_to(out.astype(float), shape).copy())
        return tuple(outs)
    return call


def _size(expr: sympy.Expr, limit: int) -> int:
    """Nodes of an expression tree, counted up to limit + 1 only (a tree can be far larger than its text)."""
    n = 0
    for _ in sympy.preorder_traversal(expr):
        n += 1
        if n > limit:
            break
    return n


def _too_complex() -> FormulaError:
    return FormulaError(f"the formula is too complex: f and its gradient would take more than {MAX_NODES} "
                        "operations to evaluate; simplify it")


def _parsed(text: str) -> sympy.Expr:
    """parse_formula, with sympy's Abs as RealAbs (sympy makes its own Abs: sqrt(x^2) = |x|), and not too large."""
    expr = parse_formula(text).replace(sympy.Abs, RealAbs)
    if _size(expr, MAX_NODES) > MAX_NODES:
        raise _too_complex()
    return expr


SYMBOLIC_SECONDS = 2.0  # CPU seconds to parse, differentiate and print one formula (a typical one takes 20–90 ms)
WAIT_SECONDS = 10.0  # wall-clock backstop: a worker that has not answered by then (an overloaded machine) is stopped
WORKER_MEMORY = 1 << 30  # bytes of memory a worker may take beyond what it starts with
MAX_REMEMBERED = 512  # rejected formulas remembered, so that a rerun does not pay for a rejection again
_EXPRESSIONS = {"value": ("expr",), "gradient": ("dx", "dy"), "value_and_grad": ("expr", "dx", "dy")}


class FormulaBusy(FormulaError):
    """The formula could not be compiled right now (every worker busy, or the machine overloaded): not a
    verdict on the formula, so it is not remembered, and trying again may succeed."""


def _printer():
    """NumPy code with fully qualified names (numpy.sin): it runs in a namespace of just `numpy`, never in
    sympy's module-level one, which lambdify fills lazily and is not safe to share between threads.
    Floats are printed as Python's repr, the shortest text that reads back as the same float64 (sympy
    prints 15 digits: x/3.3 became 0.303030303030303*x, one unit in the last place off)."""
    from sympy.printing.numpy import NumPyPrinter

    class Printer(NumPyPrinter):
        def _print_Float(self, expr):
            return repr(float(expr))

    return Printer({"fully_qualified_modules": True, "inline": True, "allow_unknown_functions": True,
                    "user_functions": {"RealAbs": "numpy.abs"}})


def _symbolic(text: str) -> dict:
    """Parse an accepted formula, differentiate it and print NumPy code for f, its gradient and both.

    Runs in a worker process (``_in_worker``): all symbolic work on the user's text happens there, bounded
    in CPU time and memory. Returns {"sources": {name: Python source}, "latex": ..., "expr": the tree}.
    The sources are what sympy's lambdify prints from the expression trees (never from the text); cse
    computes each repeated sub-expression once (a gradient repeats much of f).
    """
    expr = _parsed(text)
    try:
        trees = {"expr": expr, "dx": sympy.diff(expr, X), "dy": sympy.diff(expr, Y)}
        if sum(_size(t, MAX_NODES) for t in trees.values()) > MAX_NODES:
            raise _too_complex()
        for name in ("dx", "dy"):
            _check_numbers(trees[name], f"its gradient ∂f/∂{name[1]}")
        sources = {}
        for name, parts in _EXPRESSIONS.items():
            fn = sympy.lambdify((X, Y), [trees[p] for p in parts], modules=[{"RealAbs": np.abs}, "numpy"], cse=True,
                                printer=_printer())
            sources[name] = inspect.getsource(fn)
            _check_runs(_load(sources[name]))
        return {"sources": sources, "latex": sympy.latex(expr), "expr": expr}
    except FormulaError:
        raise
    except OverflowError:  # a power of Python floats, e.g. pi^10000 from ((pi*x)^100)^100
        raise FormulaError("a constant in the formula or its gradient is beyond float64's range "
                           "(about 1.8e308); use smaller numbers or powers") from None
    except Exception as e:  # noqa: BLE001
        raise FormulaError(f"the formula cannot be evaluated numerically ({type(e).__name__}); simplify it") from None


def _load(source: str, vectorised: bool = True):
    """The function printed by lambdify, compiled in a namespace of its own that holds only NumPy."""
    namespace = {"numpy": np, "__builtins__": {}}
    exec(compile(source, "<optlab formula>", "exec"), namespace)  # noqa: S102 - sympy's printed code, not user text
    fn = namespace["_lambdifygenerated"]
    return _vectorised(fn) if vectorised else fn


def _check_runs(fn) -> None:
    probe = np.linspace(-1.0, 1.0, 5)
    fn(probe, probe[::-1])  # a last guard: what the printer made must run on NumPy arrays


def _limit_worker() -> None:
    """In a worker, before any work: die with its parent, give way to the server's sessions, bound memory."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: killed when the forkserver exits
        if os.getppid() == 1:  # the parent is already gone
            os._exit(1)
    with contextlib.suppress(OSError):
        os.nice(5)  # a compile is worth less than another session's click
    try:
        import resource
    except ImportError:  # not on POSIX
        return
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        cpu = math.ceil(SYMBOLIC_SECONDS) + 2  # the kernel's backstop behind the parent's own CPU-time check
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        with open("/proc/self/statm") as f:
            size = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = size + WORKER_MEMORY
        if hard == resource.RLIM_INFINITY or limit < hard:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _work(conn: socket.socket) -> None:
    """A worker's whole life: say its pid, read (text, work), answer, exit. Forked by _serve."""
    _limit_worker()
    conn.sendall(struct.pack("!q", os.getpid()))
    text, work = pickle.loads(_receive(conn))
    try:
        answer = ("ok", work(text))
    except FormulaError as e:
        answer = ("error", str(e))
    except MemoryError:
        answer = ("error", f"the formula needs more than {WORKER_MEMORY >> 20} MB of memory to compile; simplify it")
    except BaseException as e:  # noqa: BLE001 - report anything, so the parent never waits in vain
        answer = ("error", f"the formula cannot be compiled ({type(e).__name__}); simplify it")
    _send(conn, pickle.dumps(answer))


def _send(conn: socket.socket, data: bytes) -> None:
    conn.sendall(struct.pack("!q", len(data)) + data)


def _receive(conn: socket.socket) -> bytes:
    (size,) = struct.unpack("!q", _exactly(conn, 8))
    return _exactly(conn, size)


def _exactly(conn: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = conn.recv(min(left, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _serve(control_fd: int) -> None:
    """The forkserver: a single-threaded process that forks one worker per request.

    Started once by exec (``_Server``), so a worker holds none of the server's sockets (a fork of the
    Streamlit server kept its listening socket open after a crash) and none of its locks (a fork of a
    threaded process can inherit a lock another thread held). Each request is a socket passed over the
    control socket; the worker answers on it. Exits when its parent does (stdin closes); its workers are
    killed then too (PR_SET_PDEATHSIG in _limit_worker).
    """
    control = socket.socket(fileno=control_fd)
    _symbolic("exp(x)*sin(y) + sqrt(abs(x))*log(y) - x/y")  # warm up once: sympy imports its printers lazily
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # workers are reaped by the kernel
    while True:
        ready, _, _ = select.select([control, sys.stdin], [], [])
        if sys.stdin in ready and not os.read(sys.stdin.fileno(), 1):
            os._exit(0)
        if control in ready:
            msg, fds, _, _ = socket.recv_fds(control, 1, 4)
            if not msg:
                os._exit(0)
            for fd in fds:
                if os.fork() == 0:
                    control.close()
                    try:
                        _work(socket.socket(fileno=fd))
                    finally:
                        os._exit(0)
                os.close(fd)


class _Server:
    """The parent's handle on the forkserver: started on first use, restarted if it died."""

    def __init__(self):
        self.lock = threading.Lock()
        self.proc: subprocess.Popen | None = None
        self.control: socket.socket | None = None

    def connect(self) -> socket.socket:
        mine, theirs = socket.socketpair()
        try:
            with self.lock:
                if self.proc is None or self.proc.poll() is not None:
                    self._start()
                socket.send_fds(self.control, [b"w"], [theirs.fileno()])
        finally:
            theirs.close()
        return mine

    def _start(self) -> None:
        if self.control is not None:
            self.control.close()
        self.control, theirs = socket.socketpair()
        # the server imports the optlab this process imported, installed or run from the repo's folder: this
        # process's sys.path in its order ("" is the working directory), without the server's own "" (-c)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p or os.getcwd() for p in sys.path)}
        serve = ("import sys; sys.path[:] = [p for p in sys.path if p]; "
                 f"import optlab.formula as f; f._serve({theirs.fileno()})")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", serve],
            stdin=subprocess.PIPE, pass_fds=[theirs.fileno()], close_fds=True, env=env, start_new_session=True)
        theirs.close()


_SERVER = _Server()


def start_worker() -> None:
    """Start the formula worker's server now (it takes a second or two to load sympy) rather than on the
    first formula. Returns at once; the app calls it when it starts."""
    with _SERVER.lock:
        if _SERVER.proc is None or _SERVER.proc.poll() is not None:
            _SERVER._start()


def _cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a process has used, from /proc; None where there is no /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_SLOTS = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))  # workers at once: at most one per core


def _too_slow(seconds: float) -> FormulaError:
    return FormulaError(f"the formula is too complex: deriving its gradient took more than {seconds:g} s; "
                        "simplify it")


def _symbolic_with_deadline(text: str, seconds: float) -> dict:
    """_symbolic(text) in a worker process, killed once it has used ``seconds`` of CPU time (sympy cannot be
    interrupted in a thread). CPU time, not wall time: a busy machine does not turn a formula down."""
    if not _SLOTS.acquire(timeout=WAIT_SECONDS):
        raise FormulaBusy("the formula cannot be compiled right now: the server is busy compiling others; "
                          "try again in a moment")
    try:
        return _in_worker(text, seconds)
    finally:
        _SLOTS.release()


def _in_worker(text: str, seconds: float) -> dict:
    work = _symbolic  # looked up now: a test may stand another function in for it
    if not hasattr(socket, "send_fds") or not hasattr(os, "fork"):  # not POSIX: no bounds, in this thread
        return work(text)
    conn = _SERVER.connect()
    started = time.monotonic()
    used, pid = 0.0, None
    try:
        (pid,) = struct.unpack("!q", _exactly(conn, 8))
        _send(conn, pickle.dumps((text, work)))
        while True:
            ready, _, _ = select.select([conn], [], [], 0.01 if time.monotonic() - started < 0.2 else 0.05)
            if ready:
                break
            cpu = _cpu_seconds(pid)
            used = cpu if cpu is not None else used
            if used > seconds or (cpu is None and time.monotonic() - started > seconds):
                raise _too_slow(seconds)
            if time.monotonic() - started > WAIT_SECONDS:
                raise FormulaBusy(f"the formula could not be compiled right now: the server is overloaded (no "
                                  f"answer in {WAIT_SECONDS:g} s); try again in a moment")
        status, payload = pickle.loads(_receive(conn))
        pid = None  # answered: it exits by itself
    except EOFError:  # the worker died without a word: its CPU limit, its memory limit, or killed
        if used > 0.9 * seconds:
            raise _too_slow(seconds) from None
        raise FormulaError("the formula cannot be compiled (the worker stopped, most likely out of memory); "
                           "simplify it") from None
    finally:
        conn.close()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    if status == "error":
        raise FormulaError(payload)
    return payload


_REJECTED: collections.OrderedDict[str, str] = collections.OrderedDict()
_REJECTED_LOCK = threading.Lock()


@functools.lru_cache(maxsize=256)
def _compiled(text: str) -> CompiledFormula:
    out = _symbolic_with_deadline(text, SYMBOLIC_SECONDS)
    fns = {name: _load(source) for name, source in out["sources"].items()}
    for fn in fns.values():
        _check_runs(fn)
    f = fns["value"]
    return CompiledFormula(text, out["expr"], lambda x, y: f(x, y)[0], fns["gradient"], out["latex"],
                           value_and_grad=fns["value_and_grad"], sources=dict(out["sources"]))


def compile_formula(text: str) -> CompiledFormula:
    """Parse, differentiate and compile a formula (cached; rejections are remembered too).

    All of it happens in a worker process bounded to SYMBOLIC_SECONDS of CPU time and WORKER_MEMORY
    of memory: sympy can take minutes or gigabytes on a few short inputs and cannot be interrupted
    in a thread. Safe to call from many threads at once. Raises FormulaError, or FormulaBusy when
    the server is too busy to try now.
    """
    if not isinstance(text, str):
        raise FormulaError(f"a formula is text, not {type(text).__name__}")
    if len(text) > MAX_LENGTH:  # before anything is sent anywhere
        raise FormulaError(f"the formula is {len(text)} characters long; at most {MAX_LENGTH}")
    with _REJECTED_LOCK:
        known = _REJECTED.get(text)
        if known is not None:
            _REJECTED.move_to_end(text)
    if known is not None:
        raise FormulaError(known)
    try:
        return _compiled(text)
    except FormulaBusy:
        raise
    except FormulaError as e:
        with _REJECTED_LOCK:
            _REJECTED[text] = str(e)
            while len(_REJECTED) > MAX_REMEMBERED:
                _REJECTED.popitem(last=False)
        raise


def _clear_compiled() -> None:
    _compiled.cache_clear()
    with _REJECTED_LOCK:
        _REJECTED.clear()


compile_formula.cache_clear = _clear_compiled


@functools.lru_cache(maxsize=64)
def formula_landscape(text: str, xmin: float = -5.0, xmax: float = 5.0, ymin: float = -5.0,
                      ymax: float = 5.0) -> Landscape:
    """A Landscape from a typed-in formula, usable with ``optlab.simulate``.

    The domain (xmin..xmax, ymin..ymax) is where it is plotted and where its minima
    are estimated numerically (a grid, then refinement): the minima are estimates.
    Where f is not a finite number anywhere in the domain (``log(x - 10)`` on the default
    one) the landscape is all NaN there, with no minima and ``minima_note`` saying so;
    runs from inside it diverge at step 0.
    Raises FormulaError (a ValueError) for a formula that is not accepted or an empty domain.
    """
    domain = ((float(xmin), float(xmax)), (float(ymin), float(ymax)))
    for p, v in zip(DOMAIN_PARAMS, (xmin, xmax, ymin, ymax), strict=True):
        p.check(v, owner=CUSTOM)
    if not (xmin < xmax and ymin < ymax):
        raise FormulaError(f"the domain x in [{xmin:g}, {xmax:g}], y in [{ymin:g}, {ymax:g}] is empty: each "
                           "range must go from low to high")
    c = compile_formula(text)
    minimizers, f_min = estimate_minima(c.value, c.gradient, domain, c.value_and_grad)
    start = (xmin + 0.15 * (xmax - xmin), ymin + 0.85 * (ymax - ymin))
    return Landscape(
        name=CUSTOM, title="Your formula", value=c.value, gradient=c.gradient, value_and_grad=c.value_and_grad,
        domain=domain, minimizers=minimizers, f_min=f_min, start=start,
        lesson="Your own function: its gradient is derived symbolically; the minimum marked is a numerical estimate.",
        latex=f"f(x,y) = {c.latex}", tags=frozenset({"custom"}), scalar_safe=False,
        minima_note=MINIMA_NOTE if f_min is not None else NOWHERE_FINITE,
        params=DOMAIN_PARAMS, param_values={"xmin": domain[0][0], "xmax": domain[0][1], "ymin": domain[1][0],
                                            "ymax": domain[1][1]},
        build=functools.partial(_rebuild, text), formula=text, origin=_from_text,
    )


def _rebuild(text: str, **domain) -> Landscape:
    return formula_landscape(text, **domain)


def _from_text(text: str, domain: dict) -> Landscape:
    """What a formula's landscape pickles to: its text and domain (its functions are compiled code)."""
    return formula_landscape(text, **domain)


__all__ = ["CUSTOM", "DEFAULT_FORMULA", "NOWHERE_FINITE", "FormulaBusy", "FormulaError", "compile_formula",
           "formula_landscape", "parse_formula"]

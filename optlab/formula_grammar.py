"""The grammar of a typed-in formula: text to a sympy expression, safely.

The text never reaches eval, exec or sympy's string parser. A tokenizer and a
recursive-descent parser accept only numbers, x, y, the operators + - * / ** ^
(power), unary minus, parentheses and the whitelisted functions and constants,
and build the sympy expression node by node. Length, nesting depth and constant
exponents are capped, every constant sub-expression is tracked as a float64
alongside the tree (never with sympy's evalf, which can hang on towers such as
``x^exp(exp(exp(100)))``), and a constant float64 cannot hold is refused rather
than replaced (powers of powers multiply: ((x/3)^100)^100 is (1/3)^10000·x^10000).

All of this runs in a formula worker (optlab.formula_worker), never in the server.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import NamedTuple

import numpy as np
import sympy

from optlab.formula_numbers import range_problem

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


def _check_numbers(expr: sympy.Expr, where: str) -> None:
    """Refuse a tree holding a constant float64 cannot hold (over- or underflow), rather than let it become
    inf or 0 and the formula another function: ((x/3)^100)^100 makes (1/3)^10000·x^10000."""
    problem = range_problem(expr, where)
    if problem:
        raise FormulaError(problem)


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

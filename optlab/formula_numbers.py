"""Constants float64 can hold: a typed-in formula's exact constants checked by their size, never computed in full.

sympy keeps constants exact (3^9801, pi^10000, exp(10000)); NumPy would turn them into inf or 0 and the
formula into another function. :func:`range_problem` says so before that happens, from bit lengths and
exponents (:func:`out_of_range`) and sizes estimated from a constant tree's parts (:func:`log10_size`),
without sympy's evalf, which can hang on towers. Used by :mod:`optlab.formula_grammar` as it parses.
"""

from __future__ import annotations

import math

import sympy

_FLOAT_MAX_LOG2 = 1024  # |v| < 2^1024 for every finite float64
_FLOAT_MIN_NORMAL = 2.2250738585072014e-308


def out_of_range(n: sympy.Number) -> str | None:
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


def range_problem(expr: sympy.Expr, where: str) -> str | None:
    """Why ``expr`` holds a constant float64 cannot hold (over- or underflow), or None: such a constant
    would become inf or 0 and the formula another function (((x/3)^100)^100 makes (1/3)^10000·x^10000)."""
    for n in expr.atoms(sympy.Number):
        problem = out_of_range(n)
        if problem:
            size = abs(int(n.p)).bit_length() - int(n.q).bit_length() if n.is_Rational else None
            return _message(where, problem, None if size is None else size * math.log10(2))
    walk = sympy.preorder_traversal(expr)
    for node in walk:  # constant sub-trees such as pi^10000 or exp(10000): exact in sympy, inf in float64
        if node.is_number and not node.is_Number:
            walk.skip()
            digits = log10_size(node)
            if digits is not None and abs(digits) > 307.5:
                return _message(where, "too large" if digits > 0 else "too small", digits)
    return None


def log10_size(c: sympy.Expr, depth: int = 0) -> float | None:
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
    parts = [log10_size(a, depth + 1) for a in c.args] if (c.is_Mul or c.is_Pow or c.is_Add) else None
    if c.is_Mul and None not in parts:
        return sum(parts)
    if c.is_Add and None not in parts:
        return max(parts)  # within log10(number of terms), unless terms cancel
    if c.is_Pow and parts[0] is not None and c.args[1].is_Number and c.args[1].is_finite:
        return float(c.args[1]) * parts[0]
    if isinstance(c, sympy.exp) and c.args[0].is_Number and c.args[0].is_finite:
        return float(c.args[0]) / math.log(10)
    return None


def _message(where: str, problem: str, digits: float | None) -> str:
    shown = "" if digits is None else f" (about 1e{round(digits)})"
    hint = (": powers of powers multiply, e.g. ((2*x)^100)^100 = 2^10000·x^10000" if "power" in where else "")
    return (f"{where} makes a constant{shown} that is {problem} for float64 (whose range is about "
            f"1e-308 to 1e308){hint}; use smaller numbers or powers")

"""Print a declaration's NumPy formulas as torch (or NumPy) source, by running them on stand-ins.

A landscape's ``value``/``gradient`` (and a schedule's ``factor``) are written with
arithmetic and NumPy functions only (see optlab.landscape). Called on :class:`Sym`
stand-ins instead of numbers, they record every operation, in Python's own order
of evaluation, as an expression graph; :func:`source` prints that graph as the body
of a Python function for torch or NumPy. The exported script's formulas are thus
derived from the declaration itself, not kept as a second hand-written copy, and do
the same floating-point operations in the same order.

>>> x, y = Sym.var("x"), Sym.var("y")
>>> print(source("f", ("x", "y"), [1 - x * y]))
def f(x, y):
    return 1 - x * y
"""

from __future__ import annotations

import math

import numpy as np

# ufunc name -> (operator, precedence); every other ufunc prints as a function call
_BINARY = {
    "add": ("+", 10), "subtract": ("-", 10), "multiply": ("*", 11), "true_divide": ("/", 11),
    "divide": ("/", 11), "power": ("**", 13), "float_power": ("**", 13),
    "greater": (">", 5), "greater_equal": (">=", 5), "less": ("<", 5), "less_equal": ("<=", 5),
    "equal": ("==", 5), "not_equal": ("!=", 5),
}
_UNARY = {"negative": "-", "positive": "+"}
_TORCH_NAMES = {
    "absolute": "abs", "arcsin": "asin", "arccos": "acos", "arctan": "atan", "arcsinh": "asinh",
    "arccosh": "acosh", "arctanh": "atanh", "arctan2": "atan2", "fabs": "abs",
}
_TORCH_FUNCTIONS = {
    "sin", "cos", "tan", "exp", "expm1", "log", "log1p", "log2", "log10", "sqrt", "tanh", "sinh", "cosh",
    "abs", "sign", "floor", "ceil", "logaddexp", "maximum", "minimum", "fmax", "fmin", "hypot", "square",
    "asin", "acos", "atan", "asinh", "acosh", "atanh", "atan2", "exp2", "reciprocal", "where",
}


class TraceError(TypeError):
    """A formula does something a trace cannot record (an ``if`` on a value, an unknown function)."""


def _const(v):
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, np.ndarray) and v.ndim == 0:
        v = v.item()
    if not isinstance(v, (bool, int, float)):
        raise TraceError(f"a formula used {type(v).__name__} {v!r}: only numbers and traced values can be printed")
    return v


class Sym:
    """A traced value: a variable, or an operation on traced values and constants."""

    __slots__ = ("op", "args")
    __array_priority__ = 1000

    def __init__(self, op: str, args: tuple):
        self.op, self.args = op, args

    @classmethod
    def var(cls, name: str) -> Sym:
        return cls("var", (name,))

    @staticmethod
    def apply(op: str, *args):
        args = tuple(a if isinstance(a, Sym) else _const(a) for a in args)
        if not any(isinstance(a, Sym) for a in args):  # constants fold now, exactly as NumPy would
            return _const(getattr(np, op)(*args) if op != "where" else np.where(*args))
        return Sym(op, args)

    def _bin(op, reflected=False):  # noqa: N805 - a method factory
        if reflected:
            return lambda self, other: Sym.apply(op, other, self)
        return lambda self, other: Sym.apply(op, self, other)

    __add__, __radd__ = _bin("add"), _bin("add", True)
    __sub__, __rsub__ = _bin("subtract"), _bin("subtract", True)
    __mul__, __rmul__ = _bin("multiply"), _bin("multiply", True)
    __truediv__, __rtruediv__ = _bin("true_divide"), _bin("true_divide", True)
    __pow__, __rpow__ = _bin("power"), _bin("power", True)
    __gt__, __ge__, __lt__, __le__ = _bin("greater"), _bin("greater_equal"), _bin("less"), _bin("less_equal")
    __eq__, __ne__ = _bin("equal"), _bin("not_equal")
    del _bin

    def __neg__(self):
        return Sym("negative", (self,))

    def __pos__(self):
        return Sym("positive", (self,))

    def __abs__(self):
        return Sym("absolute", (self,))

    def __bool__(self):
        raise TraceError("a formula branches on a value (if/and/or/min/max): write it with np.where")

    __hash__ = object.__hash__

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method != "__call__" or kwargs:
            raise TraceError(f"np.{ufunc.__name__}.{method} with {sorted(kwargs)} cannot be traced")
        return Sym.apply(ufunc.__name__, *inputs)

    def __array_function__(self, func, types, args, kwargs):
        if kwargs:
            raise TraceError(f"np.{func.__name__} with keyword arguments cannot be traced")
        if func is np.where and len(args) == 3:
            return Sym.apply("where", *args)
        if func in (np.ones_like, np.zeros_like) and len(args) == 1:
            return Sym("full_like", (args[0], 1.0 if func is np.ones_like else 0.0))
        raise TraceError(f"np.{func.__name__} cannot be traced; allowed: ufuncs, np.where, np.ones_like")


def trace(fn, names: tuple[str, ...], *extra) -> list:
    """fn(*variables, *extra) on stand-ins named ``names``: its outputs (traced values or numbers)."""
    out = fn(*(Sym.var(n) for n in names), *extra)
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _number(v) -> str:
    if isinstance(v, bool):
        return repr(v)
    if isinstance(v, float) and not math.isfinite(v):
        return "math.inf" if v > 0 else ("-math.inf" if v < 0 else "math.nan")
    return repr(v)


class _Printer:
    def __init__(self, target: str, outputs: list):
        self.np = target == "numpy"
        self.uses: dict[int, int] = {}
        self.order: list[Sym] = []
        for o in outputs:
            self._visit(o)

    def _visit(self, node):
        if not isinstance(node, Sym):
            return
        key = id(node)
        self.uses[key] = self.uses.get(key, 0) + 1
        if self.uses[key] > 1:
            return
        for a in node.args:
            self._visit(a)
        self.order.append(node)

    def function(self, name: str) -> str:
        if self.np:
            return f"np.{name}"
        name = _TORCH_NAMES.get(name, name)
        if name not in _TORCH_FUNCTIONS:
            raise TraceError(f"np.{name} has no torch counterpart here; add it to optlab.codegen")
        return f"torch.{name}"

    def expr(self, node, names: dict) -> tuple[str, int]:
        """(source, precedence) of a value; temporaries by name."""
        if not isinstance(node, Sym):
            text = _number(node)
            return text, (12 if text.startswith("-") else 20)
        if id(node) in names:
            return names[id(node)], 20
        op, args = node.op, node.args
        if op == "var":
            return args[0], 20
        if op in _BINARY:
            symbol, prec = _BINARY[op]
            (left, lp), (right, rp) = self.expr(args[0], names), self.expr(args[1], names)
            if symbol == "**":  # right-associative, and binds tighter than a unary minus on its left
                left = left if lp > prec else f"({left})"
                right = right if rp >= prec else f"({right})"
            else:  # left-associative: the left operand may be at the same level, the right may not
                left = left if lp > prec or (lp == prec and prec > 5) else f"({left})"
                right = right if rp > prec else f"({right})"
            return f"{left} {symbol} {right}", prec
        if op in _UNARY:
            inner, p = self.expr(args[0], names)
            return f"{_UNARY[op]}{inner if p > 12 else f'({inner})'}", 12
        if op == "full_like":
            like, _ = self.expr(args[0], names)
            return f"{'np' if self.np else 'torch'}.full_like({like}, {_number(args[1])})", 20
        parts = []
        for a in args:
            text, _ = self.expr(a, names)
            if not isinstance(a, Sym) and not self.np:
                text = f"torch.tensor({text})"  # torch's functions take tensors, not Python numbers
            parts.append(text)
        return f"{self.function(op)}({', '.join(parts)})", 20


def source(name: str, params: tuple[str, ...], outputs: list, *, target: str = "torch", doc: str = "",
           results: tuple[str, ...] = ()) -> str:
    """``def name(*params): ... return outputs`` in torch (or NumPy) code.

    A value used more than once becomes a temporary (c0, c1, ...), computed once, as the
    declaration computes it. Parentheses follow Python's precedence, so the printed code
    evaluates in the traced order. ``results`` names the outputs (assigned, then returned);
    a constant output becomes ``full_like(<first parameter>, c)``.
    """
    printer = _Printer(target, outputs)
    names: dict[int, str] = {}
    lines = [f"def {name}({', '.join(params)}):"]
    if doc:
        lines.append(f'    """{doc}"""')
    for node in printer.order:
        if printer.uses[id(node)] > 1 and node.op != "var":
            text, _ = printer.expr(node, names)
            names[id(node)] = f"c{len(names)}"
            lines.append(f"    {names[id(node)]} = {text}")
    texts = [printer.expr(o, names)[0] if isinstance(o, Sym) else
             f"{'np' if printer.np else 'torch'}.full_like({params[0]}, {_number(_const(o))})" for o in outputs]
    if results:
        lines += [f"    {r} = {t}" for r, t in zip(results, texts, strict=True)]
        texts = list(results)
    lines.append(f"    return {', '.join(texts)}")
    return "\n".join(lines)

"""Your own landscape: f(x, y) typed in ordinary notation.

The text is parsed by a whitelisted grammar (optlab.formula_grammar), differentiated
symbolically and printed as NumPy code, all in a bounded worker process
(optlab.formula_worker), never in the server; the code is compiled here in a
namespace that holds NumPy only. Overflow and domain errors (log of a negative)
give inf/NaN, never exceptions.

>>> land = formula_landscape("(1-x)^2 + 100*(y-x^2)^2", xmin=-2, xmax=2, ymin=-1, ymax=3)
>>> float(land.f([1.0, 1.0]))
0.0
"""

from __future__ import annotations

import collections
import functools
import inspect
import threading
import time
from dataclasses import dataclass

import numpy as np
import sympy

from optlab.formula_grammar import (  # noqa: F401 - the grammar's names are this module's API too
    ALLOWED_NAMES,
    CONSTANTS,
    DEFAULT_FORMULA,
    FUNCTIONS,
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_LENGTH,
    MAX_NODES,
    FormulaError,
    RealAbs,
    X,
    Y,
    _check_numbers,
    _parsed,
    _size,
    _too_complex,
    parse_formula,
)
from optlab.formula_worker import _SERVER, WAIT_SECONDS, WORKER_MEMORY, FormulaBusy, start_worker  # noqa: F401
from optlab.formula_worker import run as _run_in_worker
from optlab.landscape import CUSTOM, Landscape
from optlab.minima import estimate_minima
from optlab.params import Param

MINIMA_NOTE = "Minima are estimates: the lowest points found in the domain by a grid search and refinement."
NOWHERE_FINITE = ("f is not a finite number anywhere in this domain (it overflows or is undefined there), so "
                  "there is nothing to plot or minimise: move or widen the domain.")

_domain = functools.partial(Param, low=-1e6, high=1e6, help="plotting domain and estimate of the minima")
DOMAIN_PARAMS = (
    _domain("xmin", -5.0, symbol=r"x_{\min}"), _domain("xmax", 5.0, symbol=r"x_{\max}"),
    _domain("ymin", -5.0, symbol=r"y_{\min}"), _domain("ymax", 5.0, symbol=r"y_{\max}"),
)


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


SYMBOLIC_SECONDS = 2.0  # CPU seconds to parse, differentiate and print one formula (a typical one takes 50–100 ms)
MAX_REMEMBERED = 512  # rejected formulas remembered, so that a rerun does not pay for a rejection again
_EXPRESSIONS = {"value": ("expr",), "gradient": ("dx", "dy"), "value_and_grad": ("expr", "dx", "dy")}


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


def warm_up() -> None:
    """What a worker's server runs once before forking any: sympy imports its printers lazily."""
    _symbolic("exp(x)*sin(y) + sqrt(abs(x))*log(y) - x/y")


def _symbolic_with_deadline(text: str, seconds: float) -> dict:
    """_symbolic(text) in a worker process, killed once it has used ``seconds`` of CPU time (sympy cannot be
    interrupted in a thread). CPU time, not wall time: a busy machine does not turn a formula down."""
    # _symbolic looked up now: a test may stand in another. The default formula, which a page shows while its own
    # is refused, never queues behind users' formulas.
    return _run_in_worker(text, _symbolic, seconds, queue=text != DEFAULT_FORMULA)


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
    the server is too busy to try now (at once while ``compile_later`` is trying the same text).
    """
    if isinstance(text, str) and retrying(text):  # refused a moment ago, tried in the background: no second wait
        raise FormulaBusy(BUSY)
    return _compile(text)


def _compile(text: str) -> CompiledFormula:
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


BUSY = "the formula cannot be compiled right now: the server is busy compiling others"
RETRY_SECONDS = 120.0  # how long a formula the server was too busy for keeps being tried in the background
_RETRYING: set[str] = set()
_RETRY_LOCK = threading.Lock()


def compile_later(text: str) -> None:
    """After FormulaBusy: keep trying to compile ``text`` in a background thread (one per text) until it is
    compiled or rejected, or RETRY_SECONDS have passed; ``retrying(text)`` says whether it still is. The page
    that was refused polls that and reruns itself, so that a shared link under load still shows its own runs."""
    with _RETRY_LOCK:
        if text in _RETRYING:
            return
        _RETRYING.add(text)

    def attempt() -> None:
        deadline = time.monotonic() + RETRY_SECONDS
        try:
            while time.monotonic() < deadline:
                try:
                    _compile(text)
                    return
                except FormulaBusy:
                    time.sleep(0.5)
                except FormulaError:  # a verdict: remembered, and the rerun shows it
                    return
        finally:
            with _RETRY_LOCK:
                _RETRYING.discard(text)

    threading.Thread(target=attempt, name="optlab-formula-retry", daemon=True).start()


def retrying(text: str) -> bool:
    """Whether ``compile_later(text)`` is still trying."""
    with _RETRY_LOCK:
        return text in _RETRYING


def _clear_compiled() -> None:
    _compiled.cache_clear()
    with _REJECTED_LOCK:
        _REJECTED.clear()


compile_formula.cache_clear = _clear_compiled


def check_domain(xmin: float = -5.0, xmax: float = 5.0, ymin: float = -5.0, ymax: float = 5.0) -> tuple:
    """The domain ((xmin, xmax), (ymin, ymax)) checked without the formula; raises FormulaError (a ValueError)
    for a value out of range or an empty domain."""
    for p, v in zip(DOMAIN_PARAMS, (xmin, xmax, ymin, ymax), strict=True):
        p.check(v, owner=CUSTOM)
    if not (xmin < xmax and ymin < ymax):
        raise FormulaError(f"the domain x in [{xmin:g}, {xmax:g}], y in [{ymin:g}, {ymax:g}] is empty: each "
                           "range must go from low to high")
    return (float(xmin), float(xmax)), (float(ymin), float(ymax))


def start_in(domain: tuple) -> tuple[float, float]:
    """A formula's start point: near the domain's top-left corner."""
    (xmin, xmax), (ymin, ymax) = domain
    return xmin + 0.15 * (xmax - xmin), ymin + 0.85 * (ymax - ymin)


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
    domain = check_domain(xmin, xmax, ymin, ymax)
    c = compile_formula(text)
    minimizers, f_min = estimate_minima(c.value, c.gradient, domain, c.value_and_grad)
    start = start_in(domain)
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
           "compile_later", "formula_landscape", "parse_formula", "retrying"]

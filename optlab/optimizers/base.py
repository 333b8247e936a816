"""The optimizer declaration and the two number backends its update runs on.

An optimizer is a pair of pure, element-wise functions

    init(params, hp, xp) -> state
    update(grad, state, params, step, hp, xp) -> (new_params, state)

plus ``coefficients(t, hp)``: everything that depends on the step number only
(bias corrections, NAdam's momentum schedule, RAdam's rectification), computed
with NumPy for all steps at once before the loop. The records are typed and
declared once, at module level:

- ``hp``: the optimizer's :attr:`Optimizer.hp_type`, a NamedTuple with one field per
  ``Param`` (made from the declaration once, when it is created);
- ``state``: a NamedTuple of the optimizer's own, one field per :class:`Buffer`;
- ``step``: its :attr:`Optimizer.step_type`, a NamedTuple ``(t, lr, *coefficients)``:
  ``t`` (1-based), ``lr`` (the scheduled learning rate), then one field per entry of
  ``coefficients`` (:class:`Step` when there are none, :class:`BiasCorrectedStep` for
  :func:`bias_corrections`).

The shared pieces below (:func:`l2`, :func:`decoupled`, :func:`ema`, :func:`ema_sq`) are
what several updates have in common; ``worked.py`` has the matching worked lines.

Every update uses only arithmetic and the functions of ``xp``, so the same
declaration runs on NumPy arrays of shape (2, B) (a batch, coordinate-major) and
on plain Python floats (one coordinate of one run, the fast path for a single
run). Both give bit-identical results: + - * / and sqrt are correctly rounded in
both, and anything else (powers, exp) is computed with NumPy in
``coefficients``.

An *evaluating* update (``Optimizer.evaluates``: LBFGS) also gets ``evaluate``, the landscape at any
point, and is run one run at a time (its line search branches per run); see the field's comment.

A *coupled* update (``Optimizer.coupled``: Adafactor's RMS of θ, Prodigy's dot products)
reads both coordinates of a run at once. It always gets arrays of shape (2, B), a single
run (2, 1) through the same array path, and reduces over the coordinates with
:func:`coords_sum` (``a[0] + a[1]``, the same two roundings whatever B is), so a run in a
batch is still its single run bit for bit. Element-wise declarations keep the float fast path.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import NamedTuple

import numpy as np

from optlab.params import Param


def _sign(v: float) -> float:
    if v > 0:
        return 1.0
    if v < 0:
        return -1.0
    return v  # ±0 or nan, as np.sign


def _maximum(a: float, b: float) -> float:
    if a != a or b != b:
        return math.nan
    return a if a >= b else b


def _minimum(a: float, b: float) -> float:
    if a != a or b != b:
        return math.nan
    return a if a <= b else b


def _where(cond, a, b):
    return a if cond else b


ARRAY = SimpleNamespace(
    name="numpy", sqrt=np.sqrt, abs=np.abs, sign=np.sign, maximum=np.maximum, minimum=np.minimum,
    where=np.where, zeros_like=np.zeros_like,
)
SCALAR = SimpleNamespace(
    # math.sqrt raises ValueError below 0 where NumPy gives nan: simulate treats both as divergence.
    name="float", sqrt=math.sqrt, abs=abs, sign=_sign, maximum=_maximum, minimum=_minimum, where=_where,
    zeros_like=lambda _: 0.0,
)


Num = float | np.ndarray  # one coordinate of one run (a float), or a batch (shape (2, B) or (B,))


class Step(NamedTuple):
    """What ``update`` gets as ``step`` when the optimizer has no coefficients."""

    t: int  # 1-based
    lr: Num  # the scheduled learning rate: a float, or shape (B,) when it differs between runs


class BiasCorrectedStep(NamedTuple):
    """``step`` for :func:`bias_corrections` (Adam, AdamW, AMSGrad, Adamax)."""

    t: int
    lr: Num
    bc1: Num  # 1 − β1^t
    bc2: Num  # 1 − β2^t
    sqrt_bc2: Num  # √(1 − β2^t)


def nonzero(value):
    """For which runs a hyperparameter is non-zero: a bool when that is the same for every run, else a
    bool array of shape (B,) to pass to :func:`pick`.

    torch.optim branches on such values (``if weight_decay != 0``, ``if momentum != 0``): each run
    must take its own branch, also in a batch whose per-run values include zeros.
    """
    if isinstance(value, np.ndarray):
        on = value != 0
        return True if on.all() else (on if on.any() else False)
    return bool(value != 0)


def _pow(base: float, exponent: float) -> float:
    """Python's ``base ** exponent`` (libm's pow), IEEE's inf or nan where Python raises."""
    try:
        return math.pow(base, exponent)
    except OverflowError:
        return math.copysign(math.inf, base) if exponent % 2 == 1 else math.inf
    except ValueError:
        return math.nan


_POW = np.frompyfunc(_pow, 2, 1)


def power(base, exponent) -> np.ndarray:
    """base ** exponent by libm's pow for every element, as Python floats compute it (torch's and the reference
    packages' per-step scalars: ``1 - beta2 ** step``). NumPy's power is not that: with AVX-512 it runs its own
    vectorised pow, a last bit apart from libm's in ~5 % of cases (measured: 0.999^k, k = 1…1000), and it squares
    or takes the root where the exponent is one value 2.0 or 0.5; either way a run's bias correction would not
    be torch's, nor a single run its run in a batch on another CPU. pow is called once per distinct
    (base, exponent) pair of the few bases (one per run's hyperparameter) and exponents (one per step), when
    that table is no larger than the result, else once per element."""
    base = np.asarray(base, dtype=float)
    exponent = np.asarray(exponent, dtype=float)
    shape = np.broadcast_shapes(base.shape, exponent.shape)
    bases, b_at = np.unique(base, return_inverse=True)
    exponents, e_at = np.unique(exponent, return_inverse=True)
    with np.errstate(all="ignore"):  # pow's overflow and nan are the result, not an error
        if bases.size * exponents.size <= max(math.prod(shape), 1):
            table = _POW(bases[:, None], exponents[None, :]).astype(float)
            return table[np.broadcast_to(b_at.reshape(base.shape), shape),
                         np.broadcast_to(e_at.reshape(exponent.shape), shape)]
        return _POW(np.broadcast_to(base, shape), np.broadcast_to(exponent, shape)).astype(float)


def pick(on, when_on, when_off, xp):
    """Each run's own branch: ``when_on`` for the runs where ``on`` (from :func:`nonzero`) holds,
    ``when_off`` for the others. Both are results already computed element-wise, so a run gets the
    bits its single run computes."""
    if isinstance(on, np.ndarray):
        return xp.where(on, when_on, when_off)
    return when_on if on else when_off


_SPLITTER = 134217729.0  # 2^27 + 1: Veltkamp's split


def split(a):
    """Veltkamp's split a = hi + lo, each of at most 26 significant bits, so that products of halves are exact
    (Dekker 1971). For floats and arrays; :func:`fma` takes it precomputed where one factor is shared."""
    t = _SPLITTER * a
    hi = t - (t - a)
    return hi, a - hi


def fma(a, b, c, a_split=None, b_split=None):
    """a·b + c rounded once: torch's CPU kernels fuse the multiply-add of ``y.add_(x, alpha=a)`` (a·x + y)
    and of ``y.addcmul_(x, z, value=a)`` ((a·x)·z + y) on x86-64 builds with AVX2 or AVX-512, where a·b + c
    written out rounds twice (an ulp apart in 15 % of cases, and more after a cancellation: issue 15's
    Prodigy with L2 decay near a minimum). Python 3.11 and NumPy have no fma: Dekker's exact product
    a·b = p + e, then Boldo & Melquiond's sum of three with rounding to odd (2008), exact for every finite
    result whose product does not underflow; an overflowing one falls back to a·b + c (±inf, nan as IEEE).
    For Python floats (L-BFGS's hot loop) and, element-wise, arrays (the same bits for every element)."""
    if isinstance(b, np.ndarray) and b.size <= 2 and b.ndim:  # one run, (2, 1): element by element on floats,
        n = b.size  # some 10× faster than the 35 NumPy calls below; the same bits
        a_, c_ = _floats(a, n, b.shape), _floats(c, n, b.shape)
        if a_ is not None and c_ is not None:
            return np.array([fma(x, y, z) for x, y, z in zip(a_, b.ravel().tolist(), c_, strict=True)]).reshape(b.shape)
    ah, al = split(a) if a_split is None else a_split
    bh, bl = split(b) if b_split is None else b_split
    p = a * b
    if isinstance(p, float):
        e = ((ah * bh - p) + ah * bl + al * bh) + al * bl  # a·b = p + e exactly
        uh = p + c  # Knuth's two-sum: p + c = uh + ul exactly
        t = uh - p
        ul = (p - (uh - t)) + (c - t)
        th = ul + e  # ul + e = th + tl exactly
        t = th - ul
        tl = (ul - (th - t)) + (e - t)
        if tl != 0 and not struct.unpack("<q", struct.pack("<d", th))[0] & 1:  # round th + tl to odd
            th = math.nextafter(th, math.inf if tl > 0 else -math.inf)
        r = uh + th
        f = r + e
        return r if f - f == 0 else a * b + c  # (x − x = 0: finite)
    # the same on arrays, in place where the order of the operations allows (temporaries are most of the time)
    e = ah * bh
    e -= p
    t = ah * bl
    e += t
    np.multiply(al, bh, out=t)
    e += t
    np.multiply(al, bl, out=t)
    e += t
    uh = p + c
    np.subtract(uh, p, out=t)
    ul = uh - t
    np.subtract(p, ul, out=ul)
    np.subtract(c, t, out=t)
    ul += t
    th = ul + e
    np.subtract(th, ul, out=t)
    tl = th - t
    np.subtract(ul, tl, out=tl)
    np.subtract(e, t, out=t)
    tl += t
    # round th + tl to odd on the bits: an even th with tl ≠ 0 steps one unit toward tl: +1 on the int64 view where
    # th and tl have the same sign (the magnitude grows), −1 where not (np.nextafter is 100× slower)
    bits = th.view(np.int64)
    toward = bits ^ tl.view(np.int64)
    toward >>= 63  # 0 where the signs agree, −1 where not
    toward |= 1
    even = ~bits
    even &= tl != 0  # 1 where th is even and tl ≠ 0 (the bool is 0 or 1: bit 0 of ~bits, or nothing)
    toward *= even
    bits += toward
    uh += th
    e += uh
    if np.isfinite(np.add.reduce(e, axis=None)):  # every element finite (a sum that overflows: the closer look)
        return uh
    finite = np.isfinite(e)
    return uh if finite.all() else np.where(finite, uh, a * b + c)


def _floats(v, n: int, shape) -> list | None:
    """fma's factor or summand as n floats beside a (2, 1) or (2,) b: a number, a one-element array, or an
    array of b's shape; None for any other shape (then the array path broadcasts)."""
    if not isinstance(v, np.ndarray):
        return [float(v)] * n
    if v.size == 1:
        return v.ravel().tolist() * n
    return v.ravel().tolist() if v.shape == shape else None


def coords_sum(a):
    """The sum over a run's two coordinates (axis 0 of a (2, B) array, or of a (2,) array): a[0] + a[1],
    in that order for every batch size. For coupled updates only."""
    return a[0] + a[1]


def coords_norm(a, xp):
    """The Euclidean norm of a run's θ-shaped array over its two coordinates."""
    return xp.sqrt(coords_sum(a * a))


# --- shared pieces of the updates -----------------------------------------------------------
def l2(g, params, hp, xp):
    """L2 weight decay as torch applies it, ``if weight_decay != 0: g = g + λ·θ``, run by run."""
    decay = nonzero(hp.weight_decay)
    return g if decay is False else pick(decay, g + hp.weight_decay * params, g, xp)


def decoupled(params, lr, hp, xp):
    """Decoupled weight decay as torch.optim.AdamW applies it before the step,
    ``if weight_decay != 0: θ = θ·(1 − η·λ)``, run by run."""
    decay = nonzero(hp.weight_decay)
    return params if decay is False else pick(decay, params * (1 - lr * hp.weight_decay), params, xp)


def ema(m, g, beta):
    """An exponential moving average's step, torch's order: β·m + (1 − β)·g."""
    return beta * m + (1 - beta) * g


def ema_sq(v, g, beta):
    """The moving average of g²: β·v + (1 − β)·(g·g)."""
    return beta * v + (1 - beta) * (g * g)


def lerp(start, end, weight, xp):
    """torch.lerp's formula on CPU: start + w·(end − start) for w < ½, else end − (end − start)·(1 − w).
    A weight that is one number (a step's coefficient, a hyperparameter shared by the runs) takes its branch
    here, so only that formula is computed; a weight per run (shape (B,)) picks each run's with xp.where."""
    if isinstance(weight, np.ndarray):
        return xp.where(weight < 0.5, start + weight * (end - start), end - (end - start) * (1 - weight))
    if not isinstance(end, np.ndarray) and not isinstance(start, np.ndarray):  # floats
        return start + weight * (end - start) if weight < 0.5 else end - (end - start) * (1 - weight)
    out = end - start  # arrays: the same operations in one temporary (+ and × commute bit for bit)
    if weight < 0.5:
        out *= weight
        out += start
    else:
        out *= 1 - weight
        np.subtract(end, out, out=out)
    return out


class Buffer(NamedTuple):
    """An internal state buffer, as the step inspector shows it."""

    name: str  # field of the state NamedTuple
    symbol: str  # LaTeX
    help: str
    torch_name: str = ""  # the key in torch.optim's state dict
    point: bool = False  # a point on the landscape (ASGD's averaged iterate): the plots draw its own path


class WrittenOut(NamedTuple):
    """An optimizer not in torch.optim, as the exported script defines it."""

    name: str  # the class the script instantiates
    source: str  # its source: a torch.optim.Optimizer subclass, the same rule as the declaration


def _no_coefficients(t, hp) -> dict:
    return {}


def default_torch_args(hp: dict) -> dict:
    """torch.optim's keyword arguments for these hyperparameters: beta1, beta2 as ``betas``."""
    kw = dict(hp)
    if "beta1" in kw:
        kw["betas"] = (kw.pop("beta1"), kw.pop("beta2"))
    return kw


@dataclass(frozen=True)
class Optimizer:
    name: str
    title: str
    hparams: tuple[Param, ...]
    init: Callable
    update: Callable
    buffers: tuple[Buffer, ...]
    rule: str  # the update in LaTeX, one line per equation
    summary: str  # one line: what it does
    reference: str  # paper and implementation it follows
    coefficients: Callable = _no_coefficients  # (t, hp) -> {name: array over steps}, step_type's fields
    step_type: type = Step  # the record update() gets as ``step``: (t, lr, *coefficients)
    # worked(s: worked.Numbers) -> list of worked.Line: the update's equations as expressions over
    # named numbers, for the branch this step takes. The step inspector draws them with one
    # coordinate's numbers and evaluates them. See worked.py.
    worked: Callable | None = None
    decoupled_decay: bool = False  # weight decay applied to θ (AdamW, Lion), not added to g
    # check(hp) -> message or None: rules between hyperparameters that torch.optim enforces too
    check: Callable | None = None
    torch: str | None = None  # e.g. "torch.optim.Adam" (None: not in torch.optim, see written_out)
    written_out: WrittenOut | None = None  # not in torch.optim: the class the exported script carries
    # A sensitivity sweep's default y axis: the first of these that is not the x axis (else the first
    # numeric hyperparameter that is not x), the optimizer's most telling after lr.
    sweep_y: tuple[str, ...] = ()
    notes: str = ""
    # update reads both coordinates of a run at once (RMS, norms, dot products): it gets (2, B) arrays
    # only, a single run as (2, 1), and reduces with coords_sum. See the module's docstring.
    coupled: bool = False
    # update(g, state, params, step, hp, xp, evaluate) evaluates the landscape itself, several times per step
    # (LBFGS: iterations and a line search). Its control flow is each run's own, so simulate runs a batch one
    # run at a time through the coupled (2, 1) path: a run in a batch is its single run bit for bit.
    # evaluate(xy, what) -> (f, (gx, gy)) at the point xy (two floats), with this step's noise, clipping and
    # minibatch; simulate records every call (Run.trace: the plots draw them, the inspector lists them).
    # The state may hold fields that are not buffers (LBFGS's history): only buffers are recorded per step.
    evaluates: bool = False
    # trace(state) -> {name: array}: what an evaluating optimizer's inspector lists after a step besides its
    # buffers (LBFGS's history pairs)
    trace: Callable | None = None
    # what one run-step costs relative to a batched element-wise one (~50 ns), for the views' budgets
    # (chunks.check_budget, config.capped): LBFGS runs one run at a time in Python, several evaluations a step
    cost: float = 1.0
    # coefficients(t, hp) gets hp.lr as the scheduled learning rate of each step, shape (steps, 1 | B),
    # for step-only quantities torch computes from the group's current lr (ASGD's η_t)
    schedule_in_coefficients: bool = False
    # hp dict -> torch's keyword arguments (the export and the parity tests): pairs torch takes as tuples
    torch_args: Callable = default_torch_args
    # stable_lr(hp, L) -> the largest lr with which this update does not diverge on a quadratic whose largest
    # curvature (Hessian eigenvalue) is L > 0, or None where the declaration does not know it (optlab.stability)
    stable_lr: Callable | None = None
    hp_type: type = field(init=False, repr=False, compare=False)  # the record update() gets as ``hp``

    def __post_init__(self):
        fields = [(p.name, p.kind if p.kind in (bool, str) else Num) for p in self.hparams]
        record = NamedTuple("".join(w.capitalize() for w in self.name.split("_")) + "Hparams", fields)
        record.__doc__ = f"{self.title}'s hyperparameters: a number, or shape (B,) per run."
        object.__setattr__(self, "hp_type", record)
        unknown = [n for n in self.sweep_y if n not in self.defaults]
        if unknown:
            raise ValueError(f"{self.name}: sweep_y names {unknown}, not hyperparameters")
        if self.evaluates and not self.coupled:
            raise ValueError(f"{self.name}: an evaluating update runs on (2, 1) arrays: declare it coupled")

    def hp(self, **values):
        """The ``hp`` record of these values, defaults for the rest."""
        return self.hp_type(**{**self.defaults, **values})

    @property
    def defaults(self) -> dict:
        return {p.name: p.default for p in self.hparams}

    def param(self, name: str) -> Param:
        for p in self.hparams:
            if p.name == name:
                return p
        raise KeyError(name)


# Shared specs. Ranges are what torch.optim accepts (it rejects lr < 0,
# betas outside [0, 1), eps < 0 ...); ui_* is what a slider offers.
def lr(default: float) -> Param:
    return Param(
        "lr", default, low=0.0, ui_low=1e-5, ui_high=10.0, log=True, symbol=r"\eta",
        help="learning rate: the step size",
    )


def beta(name: str, default: float, help: str) -> Param:
    return Param(
        name, default, low=0.0, high=1.0, high_open=True, ui_low=0.0, ui_high=0.9999,
        symbol=r"\beta_1" if name == "beta1" else r"\beta_2", help=help,
    )


def eps(default: float) -> Param:
    return Param(
        "eps", default, low=0.0, ui_low=1e-12, ui_high=1.0, log=True, symbol=r"\epsilon",
        help="added to the denominator for numerical stability",
    )


def weight_decay(default: float = 0.0, decoupled: bool = False) -> Param:
    how = "decoupled: shrinks θ by lr·λ before the step" if decoupled else "L2: adds λ·θ to the gradient"
    return Param(
        "weight_decay", default, low=0.0, ui_low=0.0, ui_high=1.0, symbol=r"\lambda",
        help=f"weight decay ({how})",
    )


def momentum(default: float, help: str = "momentum factor: how much of the last step is kept") -> Param:
    return Param("momentum", default, low=0.0, ui_low=0.0, ui_high=0.999, symbol=r"\mu", help=help)


def flag(name: str, default: bool, symbol: str, help: str) -> Param:
    return Param(name, default, symbol=symbol, help=help, kind=bool)


def bias_corrections(t: np.ndarray, hp) -> dict:
    """1 - β^t for Adam-style optimizers, for every step at once."""
    bc1 = 1.0 - power(hp.beta1, t)
    bc2 = 1.0 - power(hp.beta2, t)
    return {"bc1": bc1, "bc2": bc2, "sqrt_bc2": power(bc2, 0.5)}  # torch: bias_correction2 ** 0.5

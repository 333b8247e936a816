"""L-BFGS as torch.optim.LBFGS: several evaluations of the landscape per step, with or without a line search.

One step (one ``LBFGS.step(closure)``) evaluates the landscape at θ_{k−1}, then runs up to ``max_iter``
iterations: a direction d from the history of pairs (s, y) = (the move, the change of gradient) by the
two-loop recursion, then a move t·d, with the fixed length t = lr (``line_search_fn=None``: one more
evaluation at the new point) or a strong-Wolfe line search (several evaluations). It needs dot
products over the whole vector and its control flow (how many evaluations, which branch) is each
run's own: an *evaluating* declaration (``Optimizer.evaluates``). simulate runs it one run at a time;
its update gets ``evaluate(xy, what) -> (f, (gx, gy))``, which simulate records (the plots draw the
points, the inspector lists them). The arithmetic is torch's, line by line, on Python floats (θ is 2
numbers), with torch's fused multiply-add where its kernels use one (``add_`` with ``alpha``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from optlab.optimizers.base import Buffer, Num, Optimizer, fma, split
from optlab.params import Param


class LBFGSState(NamedTuple):
    d: Num  # the last direction (torch's state["d"])
    t: Num  # the last step length (one number per run, both rows)
    prev_flat_grad: Num  # the gradient at the last iteration's start
    prev_loss: Num  # f there (both rows)
    H_diag: Num  # the initial inverse Hessian's scale s·y / y·y (both rows)
    n_iter: Num  # iterations so far, over all steps (both rows)
    func_evals: Num  # evaluations so far, over all steps (both rows)
    history: tuple = ()  # the pairs (s, y, ρ = 1/(y·s)) kept, oldest first: not a per-coordinate buffer


def init(params, hp, xp):
    zeros = xp.zeros_like(params)
    return LBFGSState(zeros, zeros, zeros, zeros + math.nan, zeros + 1.0, zeros, zeros, ())


def _dot(a, b):
    return a[0] * b[0] + a[1] * b[1]


def _axpy(alpha, x, y):
    """y + alpha·x as torch's y.add_(x, alpha=alpha): rounded once (base.fma), α split once for both coordinates."""
    a = float(alpha)  # a plain float (not _T: its arithmetic is slow and not needed here)
    a_split = split(a)
    return (fma(a, x[0], y[0], a_split), fma(a, x[1], y[1], a_split))


def _absmax(a):
    return max(abs(a[0]), abs(a[1]))


def _div(a, b):
    """a / b as IEEE floats divide (and torch): ±inf or nan where Python raises ZeroDivisionError."""
    try:
        return a / b
    except ZeroDivisionError:
        return math.nan if a == 0 or a != a else math.copysign(math.inf, a) * math.copysign(1.0, b)


class _T(float):
    """A number torch holds as a 0-d tensor in its line search (a slope g·d, a step length computed from one).
    It matters in one place: torch divides a Python number by a tensor as ``reciprocal() * number``, two
    roundings, where two Python floats divide in one (``Tensor.__rtruediv__``). The arithmetic keeps the mark."""

    def __add__(self, o):
        return _T(float(self) + o)

    __radd__ = __add__

    def __sub__(self, o):
        return _T(float(self) - o)

    def __rsub__(self, o):
        return _T(o - float(self))

    def __mul__(self, o):
        return _T(float(self) * o)

    __rmul__ = __mul__

    def __truediv__(self, o):
        return _T(_div(float(self), float(o)))

    def __rtruediv__(self, o):  # number / tensor: torch's reciprocal, then a product
        return _T(_div(1.0, float(self)) * o)

    def __neg__(self):
        return _T(-float(self))

    def __abs__(self):
        return _T(abs(float(self)))


def _quotient(a, b):
    """a / b as torch divides these: by a tensor's reciprocal when b is one (:class:`_T`)."""
    return a / b if isinstance(b, _T) else _div(a, b)


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """torch.optim.lbfgs._cubic_interpolate: the minimum of the cubic through two points and slopes."""
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - _quotient(3 * (f1 - f2), x1 - x2)
    d2_square = d1 * d1 - g1 * g2
    if d2_square >= 0:
        d2 = math.sqrt(d2_square)
        if x1 <= x2:
            min_pos = _T(x2 - (x2 - x1) * _div(g2 + d2 - d1, g2 - g1 + 2 * d2))
        else:
            min_pos = _T(x1 - (x1 - x2) * _div(g1 + d2 - d1, g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


def _strong_wolfe(obj, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """torch.optim.lbfgs._strong_wolfe on floats: bracket, then zoom. ``obj(t)`` evaluates at x + t·d."""
    d_norm = _absmax(d)
    f_new, g_new = obj(t)
    ls_func_evals = 1
    gtd_new = _T(_dot(g_new, d))
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    bracket = bracket_f = bracket_g = bracket_gtd = None
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new, gtd_new
        f_new, g_new = obj(t)
        ls_func_evals += 1
        gtd_new = _T(_dot(g_new, d))
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                t = max(bracket) - eps if abs(t - max(bracket)) < abs(t - min(bracket)) else min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, g_new = obj(t)
        ls_func_evals += 1
        gtd_new = _T(_dot(g_new, d))
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new, gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos], bracket_gtd[high_pos] = bracket_g[low_pos], bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos], bracket_g[low_pos], bracket_gtd[low_pos] = t, f_new, g_new, gtd_new
    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals


def _pair(v) -> tuple[float, float]:
    return (float(v[0, 0]), float(v[1, 0]))


def _column(a, b=None):
    """A run's (2, 1) array from a pair, or from one number kept in both rows."""
    return np.array([[a[0]], [a[1]]]) if b is None else np.array([[a], [a]], dtype=float)


def update(g, state, params, step, hp, xp, evaluate):
    """One torch LBFGS.step(closure) of one run: ``params`` and ``g`` of shape (2, 1)."""
    lr = float(step.lr)
    max_iter, max_eval, history_size = int(hp.max_iter), int(hp.max_eval), int(hp.history_size)
    tolerance_grad, tolerance_change = float(hp.tolerance_grad), float(hp.tolerance_change)
    x = _pair(params)
    d, t, prev_flat_grad = _pair(state.d), float(state.t[0, 0]), _pair(state.prev_flat_grad)
    prev_loss, H_diag = float(state.prev_loss[0, 0]), float(state.H_diag[0, 0])
    n_total, func_evals = int(state.n_iter[0, 0]), int(state.func_evals[0, 0])
    history = list(state.history)

    loss, flat_grad = evaluate(x, "θ_{k−1}: the step's start")
    current_evals = 1
    func_evals += 1
    if _absmax(flat_grad) <= tolerance_grad:  # already optimal: torch returns before any iteration
        return params, state._replace(func_evals=_column(func_evals, 1))
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        n_total += 1
        if n_total == 1:
            d = (-flat_grad[0], -flat_grad[1])
            history = []
            H_diag = 1
        else:
            y = (flat_grad[0] - prev_flat_grad[0], flat_grad[1] - prev_flat_grad[1])
            t = float(t)  # (a _T's mark matters in the line search only; plain floats keep the history fast)
            s = (d[0] * t, d[1] * t)
            ys = _dot(y, s)
            if ys > 1e-10:
                if len(history) == history_size:
                    history.pop(0)
                history.append((s, y, 1.0 / ys))
                H_diag = ys / _dot(y, y)
            q = (-flat_grad[0], -flat_grad[1])
            al = [0.0] * len(history)
            for i in range(len(history) - 1, -1, -1):
                s_i, y_i, ro_i = history[i]
                al[i] = _dot(s_i, q) * ro_i
                q = _axpy(-al[i], y_i, q)
            r = (q[0] * H_diag, q[1] * H_diag)
            for i, (s_i, y_i, ro_i) in enumerate(history):
                be_i = _dot(y_i, r) * ro_i
                r = _axpy(al[i] - be_i, s_i, r)
            d = r
        prev_flat_grad = flat_grad
        prev_loss = loss
        # torch: min(1.0, a tensor) * lr, a tensor unless min picks the 1.0 (its type matters: see _T)
        t = min(1.0, _T(_div(1.0, abs(flat_grad[0]) + abs(flat_grad[1])))) * lr if n_total == 1 else lr
        gtd = _T(_dot(flat_grad, d))
        if gtd > -tolerance_change:  # not a descent direction (any more)
            break
        ls_func_evals = 0
        if hp.line_search_fn == "strong_wolfe":
            start, direction, j = x, d, n_iter

            def obj(t_try, start=start, direction=direction, j=j):
                return evaluate(_axpy(t_try, direction, start), f"line search of iteration {j}")

            loss, flat_grad, t, ls_func_evals = _strong_wolfe(obj, t, d, loss, flat_grad, gtd,
                                                               max_ls=max_eval - current_evals)
            x = _axpy(t, d, x)
            opt_cond = _absmax(flat_grad) <= tolerance_grad
        else:
            x = _axpy(t, d, x)
            opt_cond = False
            if n_iter != max_iter:  # torch re-evaluates except after the last iteration
                loss, flat_grad = evaluate(x, f"iteration {n_iter}: θ + t·d")
                opt_cond = _absmax(flat_grad) <= tolerance_grad
                ls_func_evals = 1
        current_evals += ls_func_evals
        func_evals += ls_func_evals
        if n_iter == max_iter or current_evals >= max_eval or opt_cond:
            break
        if max(abs(d[0] * t), abs(d[1] * t)) <= tolerance_change:  # lack of progress
            break
        if abs(loss - prev_loss) < tolerance_change:
            break
    new = LBFGSState(_column(d), _column(t, 1), _column(prev_flat_grad), _column(prev_loss, 1),
                     _column(float(H_diag), 1), _column(n_total, 1), _column(func_evals, 1), tuple(history))
    return _column(x), new


def trace(state) -> dict:
    """What the inspector lists after a step besides the buffers: the history pairs, oldest first."""
    h = state.history
    return {"s": np.array([p[0] for p in h]).reshape(-1, 2), "y": np.array([p[1] for p in h]).reshape(-1, 2),
            "rho": np.array([p[2] for p in h], dtype=float)}


def _check(hp) -> str | None:
    if np.any(np.asarray(hp["max_eval"]) < 1):
        return "max_eval must be at least 1 (torch's line search fails with none left)"
    return None


LBFGS = Optimizer(
    name="lbfgs", title="L-BFGS",
    hparams=(
        Param("lr", 1.0, low=0.0, ui_low=1e-3, ui_high=10.0, log=True, symbol=r"\eta",
              help="learning rate: the step length t tried along d (the first iteration: min(1, 1/‖g‖₁)·η)"),
        Param("max_iter", 20, low=1, high=1000, ui_low=1, ui_high=100, kind=int, symbol=r"n_{\max}",
              help="iterations per optimizer step (each a direction and a move)"),
        Param("max_eval", 25, low=1, high=10000, ui_low=1, ui_high=200, kind=int, symbol=r"e_{\max}",
              help="evaluations of f and ∇f per step (torch's default None is max_iter·5//4: 25)"),
        Param("tolerance_grad", 1e-7, low=0.0, ui_low=1e-12, ui_high=1e-1, log=True, symbol=r"\tau_g",
              help="stop when the largest |gradient coordinate| is at most this"),
        Param("tolerance_change", 1e-9, low=0.0, ui_low=1e-13, ui_high=1e-2, log=True, symbol=r"\tau_c",
              help="stop when a move or a change of f is smaller than this"),
        Param("history_size", 100, low=1, high=1000, ui_low=1, ui_high=100, kind=int, symbol="m",
              help="pairs (s, y) kept: the memory of the inverse Hessian"),
        Param("line_search_fn", None, kind=str, choices=(None, "strong_wolfe"), symbol=r"\text{line search}",
              help="'strong_wolfe': search the step length along d for the strong Wolfe conditions; None: t = η"),
    ),
    init=init, update=update, coupled=True, evaluates=True, trace=trace, check=_check,
    # a run-step: well under 1 ms once converged (one evaluation), up to ~20 ms while it iterates max_iter times
    # with a full history (bench/bench_lbfgs.py); 1 ms is 20,000 batched run-steps (~50 ns each)
    cost=20000.0,
    buffers=(Buffer("d", "d", "the last search direction −H·g", "d"),
             Buffer("t", "t", "the last step length along d", "t"),
             Buffer("prev_flat_grad", r"g_{\text{prev}}", "the gradient at the last iteration's start",
                    "prev_flat_grad"),
             Buffer("prev_loss", r"f_{\text{prev}}", "f at the last iteration's start", "prev_loss"),
             Buffer("H_diag", r"\gamma", "the initial inverse Hessian's scale s·y / y·y", "H_diag"),
             Buffer("n_iter", "n", "iterations so far, all steps", "n_iter"),
             Buffer("func_evals", "e", "evaluations of f and ∇f so far, all steps", "func_evals")),
    torch_args=lambda hp: {k: int(v) if k in ("max_iter", "max_eval", "history_size") else v for k, v in hp.items()},
    rule=r"""
s_i = t_i d_i, \quad y_i = g_{i+1} - g_i, \quad \rho_i = 1 / (y_i \cdot s_i) \quad
(\text{kept if } y_i \cdot s_i > 10^{-10}) \\
d = -H g \ \text{(two-loop recursion over the last } m \text{ pairs, } H_0 = \gamma I,\
\gamma = s \cdot y / y \cdot y) \\
\theta \leftarrow \theta + t\, d, \quad t = \eta \ \text{or a strong-Wolfe line search} \\
\text{repeated up to } n_{\max} \text{ times (} e_{\max} \text{ evaluations) per step}
""",
    summary="A quasi-Newton method: the last m moves and gradient changes estimate the inverse Hessian, "
    "whose product with −g is the direction; one step runs up to max_iter such iterations.",
    reference="Nocedal 1980; Liu & Nocedal 1989; torch.optim.LBFGS (after minFunc)", torch="torch.optim.LBFGS",
    sweep_y=("tolerance_grad",),
    notes="One step is one torch LBFGS.step(closure): it evaluates the landscape several times (the points "
    "are drawn, and listed in the inspector) and can move far. The line search's c1 = 1e-4, c2 = 0.9 and "
    "tolerance are torch's fixed values. max_eval is a number here (torch's default None means max_iter·5//4). "
    "With noise or a minibatch every evaluation of a step uses that step's draw, as a torch closure would. "
    "Where torch's line search fails (a NaN f with a finite slope: IndexError in torch), the run ends there, "
    "marked diverged.",
)

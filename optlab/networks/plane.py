"""Training in a plane: the loss of a network over θ(z) = θ₀ + z₁·d₁ + z₂·d₂, z ∈ R².

f(z) = L(θ(z)) is a genuine 2-D landscape, and ∇f(z) = (d₁·∇L, d₂·∇L) exactly (the
chain rule: ∂θ/∂z_i = d_i). :class:`Plane` computes both for many z at once without
ever forming θ(z): θ(z) is affine in z, so the first layer's pre-activations are

    X W₀(z)ᵀ + b₀(z) = C₀ + z₁ C₁ + z₂ C₂,   C₀ = X W₀ᵀ + b₀,  C_i = X D_{i,0}ᵀ + D_{i,b0}

(three matrix products, once; the first layer is the widest, and the only one that sees
the data's d features), and each later layer's are h W_l(z)ᵀ + b_l(z), one small matrix
product per point with that point's W_l(z) = W_l + z₁ D_{1,l} + z₂ D_{2,l}. The backward
pass collects ∂f/∂z_i = Σ_l ⟨∇_{W_l} L, D_{i,l}⟩ + ⟨∇_{b_l} L, e_{i,l}⟩ layer by layer, and for
the first layer that is Σ δ₀ ⊙ C_i: X is not touched again. Every point is computed on its
own (per-point matrix products, reductions along contiguous axes), so a point's numbers
do not depend on how many others are computed with it: a run in a batch equals its
single run bit for bit, as simulate() promises.

Directions: :func:`random_directions` (Gaussian, filter-normalised as in Li, Xu, Taylor,
Studer & Goldstein 2018, "Visualizing the loss landscape of neural nets") or the plane
through θ₀ and two trained solutions (d_i = θ_i − θ₀; Garipov et al. 2018).
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from optlab.networks.mlp import MLP, activate, activation_slope, head, one_blas_thread, tanh_by_exp
from optlab.networks.solve import adam
from optlab.schedules import get_schedule

CHUNK_ELEMENTS = 1 << 17  # points per chunk × examples × widest layer: the working set stays in cache
SURFACE_CHUNK_ELEMENTS = 1 << 18  # the same for a grid (Plane.surface)
SURFACE_THREADS = min(2, os.cpu_count() or 1)  # a grid's rows split between threads (Plane.surface)
BLOCK_ELEMENTS = 1 << 22  # a grid's columns (or rows) × examples × first-layer units kept at once (32 MB)


def random_directions(net: MLP, theta0: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian directions from default_rng([seed, 4]), filter-normalised against θ₀.

    Filter normalisation (Li et al. 2018): each neuron's incoming weights and its bias (a row
    of [W | b], a "filter") are rescaled so that the direction's row has the norm of θ₀'s row;
    z = 1 then moves every neuron by as much as it weighs, whatever the layer's scale.
    """
    rng = np.random.default_rng([seed, 4])
    out = []
    for _ in range(2):
        d = rng.standard_normal(net.size)
        layers = []
        for (W, b), (Wd, bd) in zip(net.unflatten(theta0), net.unflatten(d), strict=True):
            rows = np.column_stack([W, b])
            drows = np.column_stack([Wd, bd])
            drows = drows * (np.linalg.norm(rows, axis=1) / np.linalg.norm(drows, axis=1))[:, None]
            layers.append((drows[:, :-1], drows[:, -1]))
        out.append(net.flatten(layers))
    return out[0], out[1]


class Plane:
    """f(z) and ∇f(z) on the plane θ₀ + z₁ d₁ + z₂ d₂ of ``net``'s loss on (X, y)."""

    def __init__(self, net: MLP, X: np.ndarray, y: np.ndarray, theta0, d1, d2):
        self.net, self.X, self.y = net, np.asarray(X, dtype=float), y
        self.theta0, self.d1, self.d2 = (np.asarray(v, dtype=float) for v in (theta0, d1, d2))
        (W, b), *later = net.unflatten(self.theta0)
        (W1, b1), *later1 = net.unflatten(self.d1)
        (W2, b2), *later2 = net.unflatten(self.d2)
        self.C = [self.X @ W.T + b, self.X @ W1.T + b1, self.X @ W2.T + b2]  # first layer: (n, h0) each
        self.layers = list(zip(later, later1, later2, strict=True))  # later layers: ((W, b), (D1, e1), (D2, e2))
        self.width = max(net.sizes[1:])
        self.targets = net.targets(y)

    @property
    def size(self) -> int:
        return len(self.X)

    def theta(self, z1: float, z2: float) -> np.ndarray:
        """θ(z), shape (P,)."""
        return self.theta0 + z1 * self.d1 + z2 * self.d2

    def evaluate(self, z1, z2, idx=None, grad: bool = True, quick: bool = False):
        """(f, ∂f/∂z₁, ∂f/∂z₂) at points of any shape (the gradients None without ``grad``).

        ``idx``: the examples to average over, shape (..., b) against the points' (...); default all.
        ``quick`` (values only): the first layer's tanh by optlab.networks.mlp.tanh_by_exp (to a few 1e-16, about
        three times faster than np.tanh), for a view's numbers; runs keep np.tanh.
        """
        quick = quick and not grad
        z1, z2 = np.broadcast_arrays(np.asarray(z1, dtype=float), np.asarray(z2, dtype=float))
        shape = z1.shape
        z1, z2 = z1.ravel(), z2.ravel()
        if idx is not None:
            idx = np.broadcast_to(idx, shape + np.shape(idx)[-1:]).reshape(len(z1), -1)
        B = len(z1)
        n = self.size if idx is None else idx.shape[1]
        chunk = max(1, CHUNK_ELEMENTS // (n * self.width))
        f = np.empty(B)
        g1, g2 = (np.empty(B), np.empty(B)) if grad else (None, None)
        # the first layer's arrays are the largest (points × examples × units): kept in two buffers, reused from
        # chunk to chunk, rather than allocated afresh (a new array that size is a fresh mapping the kernel zeroes)
        work = np.empty((2, min(chunk, B), n, self.C[0].shape[1]))
        with one_blas_thread():
            for s in range(0, B, chunk):
                e = slice(s, min(s + chunk, B))
                out = self._chunk(z1[e], z2[e], None if idx is None else idx[e], grad, work, quick)
                f[e] = out[0]
                if grad:
                    g1[e], g2[e] = out[1], out[2]
        if not grad:
            return f.reshape(shape), None, None
        return f.reshape(shape), g1.reshape(shape), g2.reshape(shape)

    def _chunk(self, z1, z2, idx, grad, work, quick=False):
        act = self.net.activation
        C0, C1, C2 = self.C if idx is None else (c[idx] for c in self.C)  # (n, h0) or (c, n, h0)
        y = self.targets if idx is None else self.targets[idx]
        u, v = z1[:, None, None], z2[:, None, None]
        a, tmp = work[0, :len(z1)], work[1, :len(z1)]
        np.multiply(u, C1, out=a)  # the first layer's pre-activations (C0 + u C1) + v C2, (c, n, h0)
        np.add(C0, a, out=a)
        np.multiply(v, C2, out=tmp)
        np.add(a, tmp, out=a)
        if self.layers and act == "tanh":
            tanh_by_exp(a) if quick else np.tanh(a, out=a)
        elif self.layers:
            np.maximum(a, 0.0, out=a)
        hs = [a]
        weights = []
        last = len(self.layers) - 1
        for i, ((W, b), (D1, e1), (D2, e2)) in enumerate(self.layers):
            Wz = W + u * D1 + v * D2  # this layer's W(z) and b(z) for each point: (c, out, in), (c, out)
            bz = b + z1[:, None] * e1 + z2[:, None] * e2
            weights.append(Wz)
            if i < last:
                hs.append(activate(np.matmul(hs[-1], Wz.transpose(0, 2, 1)) + bz[:, None, :], act))
            else:  # the outputs transposed, (c, k, n): the loss reduces over k rows, not along short ones
                hs.append(np.matmul(Wz, hs[-1].transpose(0, 2, 1)) + bz[:, :, None])
        if self.layers:
            value, delta = _head_t(hs[-1], y, self.net.loss, grad)
        else:
            value, delta = head(hs[-1], y, self.net.loss, grad)
        if not grad:
            return value, None, None
        c = len(z1)
        g1 = np.zeros(c)
        g2 = np.zeros(c)
        for i in range(last, -1, -1):
            (_, (D1, e1), (D2, e2)) = self.layers[i]
            if i == last:  # δ transposed, (c, k, n)
                dW = np.matmul(delta, hs[i])  # ∇_W L for each point, (c, out, in)
                db = delta.sum(axis=2)
                back = np.matmul(delta.transpose(0, 2, 1), weights[i])
            else:
                dW = np.matmul(delta.transpose(0, 2, 1), hs[i])
                db = delta.sum(axis=1)
                back = np.matmul(delta, weights[i])
            g1 += (dW * D1).reshape(c, -1).sum(axis=1) + (db * e1).sum(axis=1)
            g2 += (dW * D2).reshape(c, -1).sum(axis=1) + (db * e2).sum(axis=1)
            delta = back * activation_slope(hs[i], act)
        np.multiply(delta, C1, out=tmp)  # the first layer: ∂a/∂z_i = C_i
        g1 += tmp.reshape(c, -1).sum(axis=1)
        np.multiply(delta, C2, out=tmp)
        g2 += tmp.reshape(c, -1).sum(axis=1)
        return value, g1, g2


    def surface(self, xs, ys) -> np.ndarray:
        """f over the grid xs × ys, shape (len(ys), len(xs)): np.meshgrid(xs, ys)'s layout (what a plot asks for).

        On a grid the first layer's pre-activations are separable, a = α_p + β_q with α_p = C₀ + x_p C₁ (one
        per column) and β_q = y_q C₂ (one per row), and so is e^{2a} = e^{2α_p}·e^{2β_q}: tanh(a) = 1 − 2s with
        s = 1/(1 + e^{2α_p}·e^{2β_q}) = e^{−2α_p}/(e^{−2α_p} + e^{2β_q}), an add and a divide per number instead
        of libm's tanh (the grid's cost: 80·80·1797·32 of them for digits), the "1 −" and "2·" folded into the
        next layer's W(z) and b(z); e^{−2α_p} and e^{2β_q} are computed once per column and row, and the
        softmax needs no shift by its maximum where its logits are bounded by the weights.
        ReLU: max(α_p + β_q, 0). The numbers equal :meth:`evaluate`'s to rounding (an activation's
        absolute error stays below 1e-15), not bit for bit; runs use :meth:`evaluate`.
        """
        xs = np.asarray(xs, dtype=float).ravel()
        ys = np.asarray(ys, dtype=float).ravel()
        C0, C1, C2 = self.C
        n, h0 = C0.shape
        tanh = self.net.activation == "tanh"
        reach = max(np.abs(C0).max() + np.abs(xs).max() * np.abs(C1).max(), np.abs(ys).max() * np.abs(C2).max())
        if not self.layers or (tanh and not 2 * reach < 700) or not np.isfinite(reach):  # e^{2α} would overflow
            gx, gy = np.meshgrid(xs, ys)
            return self.evaluate(gx, gy, grad=False)[0]
        out = np.empty((len(ys), len(xs)))
        # rows split between threads (NumPy and BLAS release the GIL in the products and ufuncs; each point's
        # numbers are its own, so the split changes no number)
        threads = min(SURFACE_THREADS, max(1, len(ys) * len(xs) // 256))
        bounds = np.linspace(0, len(ys), threads + 1).astype(int)
        parts = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
        with one_blas_thread():
            if len(parts) == 1:
                self._surface_rows(xs, ys, out, tanh)
            else:
                with ThreadPoolExecutor(len(parts)) as pool:
                    list(pool.map(lambda part: self._surface_rows(xs, ys[part], out[part], tanh), parts))
        return out

    def _surface_rows(self, xs, ys, out, tanh: bool):
        """Plane.surface for the rows ys, into ``out`` (shape (len(ys), len(xs)))."""
        C0, C1, C2 = self.C
        n, h0 = C0.shape
        block = max(1, BLOCK_ELEMENTS // (n * h0))  # columns whose e^{2α} (or α) are kept at once
        chunk = max(1, SURFACE_CHUNK_ELEMENTS // (n * self.width))  # points computed together
        work = np.empty((min(chunk, len(xs)), n, h0))
        outputs = np.empty((min(chunk, len(xs)), self.net.sizes[-1], n))

        def row(v):  # β_q = y_q C₂, or e^{2β_q}
            return np.exp((2.0 * v) * C2) if tanh else v * C2

        with np.errstate(all="ignore"):  # (per thread)
            rows = [row(v) for v in ys] if len(ys) * n * h0 <= BLOCK_ELEMENTS else None  # once, where they fit
            for p0 in range(0, len(xs), block):
                u = xs[p0:p0 + block]
                A = np.multiply(u[:, None, None], C1)
                np.add(A, C0, out=A)
                if tanh:  # e^{−2α_p}: s = 1/(1 + e^{2α}e^{2β}) = e^{−2α}/(e^{−2α} + e^{2β})
                    np.multiply(A, -2.0, out=A)
                    np.exp(A, out=A)
                for q, v in enumerate(ys):
                    Bq = rows[q] if rows is not None else row(v)
                    for c0 in range(0, len(u), chunk):
                        c1 = min(c0 + chunk, len(u))
                        h = work[:c1 - c0]
                        if tanh:  # s = 1 / (1 + e^{2a}); tanh(a) = 1 − 2s
                            np.add(A[c0:c1], Bq, out=h)
                            np.divide(A[c0:c1], h, out=h)
                        else:
                            np.add(A[c0:c1], Bq, out=h)
                            np.maximum(h, 0.0, out=h)
                        out[q, p0 + c0:p0 + c1] = self._value_after_first(h, u[c0:c1], v, tanh, outputs)

    def _value_after_first(self, h, z1, z2: float, folded: bool, out=None) -> np.ndarray:
        """The loss of c points from their first hidden layer's outputs h, shape (c, n, h₀); ``folded``: h holds
        s with tanh = 1 − 2s (the next layer takes W(z)·(1 − 2s) + b(z) = (−2W(z))·s + (b(z) + W(z)·1)).
        ``out``: a buffer for the outputs, shape (≥ c, k, n) (a fresh array that size is a fresh mapping)."""
        act = self.net.activation
        last = len(self.layers) - 1
        c = len(z1)
        for i, ((W, b), (D1, e1), (D2, e2)) in enumerate(self.layers):
            Wz = W + z1[:, None, None] * D1 + z2 * D2  # (c, out, in)
            bz = b + z1[:, None] * e1 + z2 * e2
            if folded and i == 0:
                bz = bz + Wz.sum(axis=2)
                Wz = -2.0 * Wz
            if i < last:
                h = activate(np.matmul(h, Wz.transpose(0, 2, 1)) + bz[:, None, :], act)
            else:  # the outputs transposed, (c, k, n), as in _chunk
                o = np.matmul(Wz, h.transpose(0, 2, 1), out=None if out is None else out[:c])
                o += bz[:, :, None]
        if self.net.loss != "cross_entropy":
            return _head_t(o, self.targets, self.net.loss, False)[0]
        k, n = o.shape[1:]
        picked = np.matmul(o.reshape(c, k * n), self._label_mask)  # Σ_i o at example i's label, (c,)
        # log Σ_k e^{o_k} needs no shift by max_k o_k where |o| < 700 for certain: with folded tanh units,
        # s ∈ [0, 1] bounds |o_k| by |b'_k| + Σ_j |W'_kj| (one layer after them); otherwise shift
        bounded = folded and last == 0 and float((np.abs(bz) + np.abs(Wz).sum(axis=2)).max()) < 700
        if bounded:
            np.exp(o, out=o)
            return (np.log(o.sum(axis=1)).sum(axis=1) - picked) * (1.0 / n)
        top = o.max(axis=1)
        o -= top[:, None, :]
        np.exp(o, out=o)
        return ((np.log(o.sum(axis=1)) + top).sum(axis=1) - picked) * (1.0 / n)

    @property
    def _label_mask(self) -> np.ndarray:
        """The labels one-hot in a point's flattened (k, n) outputs: 1 at y_i·n + i (a dot product picks them)."""
        if getattr(self, "_labels", None) is None:
            mask = np.zeros(self.net.sizes[-1] * self.size)
            mask[np.asarray(self.targets) * self.size + np.arange(self.size)] = 1.0
            self._labels = mask
        return self._labels


def _head_t(o, y, loss: str, grad: bool):
    """optlab.networks.mlp.head on transposed outputs: o of shape (c, k, n), examples along the last axis."""
    k, n = o.shape[-2:]
    if loss == "cross_entropy":
        t = o - o.max(axis=-2, keepdims=True)
        e = np.exp(t)
        s = e.sum(axis=-2, keepdims=True)
        onehot = np.asarray(y)[..., None, :] == np.arange(k)[:, None]
        picked = np.where(onehot, t, 0.0).sum(axis=-2)  # t at the label (the other terms are exact zeros)
        value = (np.log(s[..., 0, :]) - picked).mean(axis=-1)
        return value, ((e / s - onehot) * (1.0 / n) if grad else None)
    r = o - np.swapaxes(y, -1, -2)
    value = (r * r).sum(axis=-2).mean(axis=-1) * (1.0 / k)
    return value, (r * (2.0 / (n * k)) if grad else None)


def estimate_minimum(plane: Plane, domain, n: int = 41, keep: int = 3):
    """The lowest point of f in the domain: a grid, then Adam and Newton's method from its lowest cells.

    Returns (point, value, interior): ``interior`` is True when the point is a stationary point
    inside the domain (gradient below 1e-9), False when the lowest value found is on its edge.
    """
    (x0, x1), (y0, y1) = domain
    xs, ys = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
    gx, gy = np.meshgrid(xs, ys)
    z = plane.surface(xs, ys)
    z = np.where(np.isfinite(z), z, np.inf)
    width = max(x1 - x0, y1 - y0)
    starts: list[np.ndarray] = []
    for i in np.argsort(z, axis=None)[: keep * 40]:
        p = np.array([gx.flat[i], gy.flat[i]])
        if all(np.hypot(*(p - q)) > 0.1 * width for q in starts):
            starts.append(p)
        if len(starts) == keep:
            break
    cells = np.array(starts)

    def grad(points):
        return np.stack(plane.evaluate(points[:, 0], points[:, 1])[1:], axis=-1)

    steps = 200  # Adam with a cosine schedule from each cell (all at once: the points are independent)
    with np.errstate(all="ignore"):
        ends = adam(grad, cells, steps=steps, lr=0.01 * width * get_schedule("cosine").multipliers(steps))
    j = int(np.argmin(z))
    candidates = [(np.array([gx.flat[j], gy.flat[j]]), float(z.flat[j]), False)]  # the lowest cell
    for p in ends:
        q, value, stationary = _newton(plane, p, domain)
        candidates.append((q, value, stationary))
    best = min(candidates, key=lambda c: c[1])
    return (float(best[0][0]), float(best[0][1])), best[1], best[2]


def _newton(plane: Plane, p, domain, iterations: int = 30, h: float = 1e-5):
    """Newton's method on the analytic gradient (Hessian by central differences), kept inside the domain."""
    (x0, x1), (y0, y1) = domain
    p = np.array(p, dtype=float)
    if not (x0 <= p[0] <= x1 and y0 <= p[1] <= y1):
        p = np.clip(p, [x0, y0], [x1, y1])
    f, gx, gy = (float(v) for v in plane.evaluate(p[0], p[1]))
    for _ in range(iterations):
        g = np.array([gx, gy])
        if np.abs(g).max() < 1e-13:
            break
        pts = np.array([p + [h, 0], p - [h, 0], p + [0, h], p - [0, h]])
        _, hx, hy = plane.evaluate(pts[:, 0], pts[:, 1])
        hess = np.array([[hx[0] - hx[1], hx[2] - hx[3]], [hy[0] - hy[1], hy[2] - hy[3]]]) / (2 * h)
        hess = 0.5 * (hess + hess.T)
        if np.linalg.eigvalsh(hess).min() <= 0:
            break
        q = p - np.linalg.solve(hess, g)
        if not (x0 <= q[0] <= x1 and y0 <= q[1] <= y1):
            break
        fq, qx, qy = (float(v) for v in plane.evaluate(q[0], q[1]))
        if not fq <= f + 1e-15 * abs(f) and math.hypot(qx, qy) >= math.hypot(gx, gy):
            break
        p, f, gx, gy = q, fq, qx, qy
    return p, f, math.hypot(gx, gy) < 1e-9

"""A small multilayer perceptron: its parameters as one flat vector, its loss and exact gradient.

``MLP(sizes=(d, h1, [h2,] k), activation="tanh" | "relu", loss="cross_entropy" | "squared")``:
fully connected layers ``a_l = h_{l-1} W_lᵀ + b_l`` with the activation between them
(none after the last), and the mean loss over the examples: softmax cross-entropy on
integer labels (``torch.nn.functional.cross_entropy``) or squared error
(``torch.nn.functional.mse_loss``: the mean over examples and outputs).

The parameters are one vector θ ∈ R^P laid out as ``torch.nn.Sequential(Linear, act, Linear,
...)``'s ``parameters()`` in order (W_0 row-major as (out, in), b_0, W_1, b_1, ...), so
``torch.nn.utils.vector_to_parameters(θ, model.parameters())`` builds the same network.
:meth:`MLP.init` is torch.nn.Linear's default initialisation (``kaiming_uniform_(a=√5)``:
W and b uniform in ±1/√fan_in), drawn from NumPy with a seed.

The gradient is a hand-written backward pass (tests/test_networks.py checks it against
torch.autograd); everything is batched over B parameter vectors at once: θ of shape
(P, B), the layout of the optimizers' arrays.
"""

from __future__ import annotations

import contextlib
import functools
import math
from dataclasses import dataclass

import numpy as np

ACTIVATIONS = ("tanh", "relu")


@functools.lru_cache(maxsize=1)
def _blas_controller():
    try:
        from threadpoolctl import ThreadpoolController  # installed with scikit-learn
    except ImportError:
        return None
    return ThreadpoolController()


def one_blas_thread():
    """A context in which BLAS uses one thread: the networks' many small matrix products (one per point)
    are several times slower when OpenBLAS wakes a second thread for each, most of all on a busy machine.
    Threads split a product's rows and columns, never its sums: the numbers are the same either way."""
    controller = _blas_controller()
    return contextlib.nullcontext() if controller is None else controller.limit(limits=1, user_api="blas")
LOSSES = ("cross_entropy", "squared")


def activate(a: np.ndarray, activation: str, out: np.ndarray | None = None) -> np.ndarray:
    """tanh(a) or max(a, 0); ``out``: where to write it (``a`` itself, in place, where a is not kept)."""
    return np.tanh(a, out=out) if activation == "tanh" else np.maximum(a, 0.0, out=out)


def tanh_by_exp(a: np.ndarray) -> np.ndarray:
    """tanh(a) as 1 − 2/(e^{2a} + 1), in place in ``a`` (a fresh array of pre-activations): libm's exp is about
    three times faster than its tanh here (7 against 20–25 ns a number). Its absolute error stays within a few
    units of 1e-16 (the relative error of small results is larger: what the loss sees is the absolute one);
    e^{2a} = inf for a > 354 gives 1 exactly, as tanh does. Used where only the loss is needed
    (optlab.full_training's evaluations), not in the gradients checked against torch."""
    np.multiply(a, 2.0, out=a)
    np.exp(a, out=a)
    np.add(a, 1.0, out=a)
    np.divide(2.0, a, out=a)
    return np.subtract(1.0, a, out=a)


def activation_slope(h: np.ndarray, activation: str, out: np.ndarray | None = None) -> np.ndarray:
    """The activation's derivative, from its output h: 1 − h² (tanh), or [h > 0] (ReLU; 0 at the kink).
    ``out``: an array of h's shape to write it into (the same numbers)."""
    if out is None:
        return 1.0 - h * h if activation == "tanh" else (h > 0.0).astype(float)
    if activation == "tanh":
        np.multiply(h, h, out=out)
        return np.subtract(1.0, out, out=out)
    return np.greater(h, 0.0, out=out)  # (True, False → 1.0, 0.0, as astype(float))


class Work:
    """Work buffers for the passes of :class:`MLP` (:meth:`MLP.forward`, :meth:`MLP.value_and_grad`, :func:`head`),
    kept by name and shape and reused from call to call: a training loop keeps one, so that a step allocates
    nothing large (each new array of a few hundred kB is a fresh mapping, or heap the allocator trims and the
    kernel faults in again: with full batches, most of a step's time). The arrays computed into them are the same
    numbers as without (the same operations, with ``out=``). What a pass returns that was computed in them is
    overwritten by the next pass with the same Work: the gradient of :meth:`MLP.value_and_grad` and the loss are
    new arrays each time; :meth:`MLP.forward`'s layer outputs are not. One Work per thread (and per loop): the
    networks themselves are shared, by the app's threads too."""

    def __init__(self):
        self._arrays: dict = {}

    def __call__(self, name, shape: tuple, dtype=float) -> np.ndarray:
        """The buffer ``name`` of that shape and dtype (uninitialised the first time, then what was left in it)."""
        key = (name, tuple(shape), np.dtype(dtype))
        a = self._arrays.get(key)
        if a is None:
            a = self._arrays[key] = np.empty(shape, dtype)
        return a

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self._arrays.values())


def _fresh(name, shape: tuple, dtype=float) -> np.ndarray:
    """No Work: every buffer a new array (the passes of a single call, as before)."""
    return np.empty(shape, dtype)


def head(o: np.ndarray, y: np.ndarray, loss: str, grad: bool = True, work=None):
    """Mean loss over the examples (axis −2 of the outputs ``o``, shape (..., n, k)) and dloss/do.

    ``y``: integer labels, shape (..., n), for cross-entropy; targets (..., n, k) for squared error.
    ``work`` (a :class:`Work`): where dloss/do and the large temporaries are computed (dloss/do is then one of its
    buffers, overwritten by the next call); the loss is a new array.
    """
    buf = _fresh if work is None else work
    n = o.shape[-2]
    if loss == "cross_entropy":
        t = np.subtract(o, o.max(axis=-1, keepdims=True), out=buf("head t", o.shape))
        onehot = np.asarray(y)[..., None] == np.arange(o.shape[-1])
        terms = buf("head picked", np.broadcast_shapes(onehot.shape, t.shape))  # np.where(onehot, t, 0.0):
        terms.fill(0.0)  # t at the label (the other terms are exact zeros)
        np.copyto(terms, t, where=onehot)
        picked = terms.sum(axis=-1)
        e = np.exp(t, out=t)
        s = e.sum(axis=-1, keepdims=True)
        value = (np.log(s[..., 0]) - picked).mean(axis=-1)
        if not grad:
            return value, None
        d = np.divide(e, s, out=e)  # (e / s − onehot) · (1 / n)
        np.subtract(d, onehot, out=d)
        return value, np.multiply(d, 1.0 / n, out=d)
    r = np.subtract(o, y, out=buf("head r", np.broadcast_shapes(np.shape(o), np.shape(y))))
    k = o.shape[-1]
    value = np.multiply(r, r, out=buf("head r²", r.shape)).sum(axis=-1).mean(axis=-1) * (1.0 / k)
    return value, (None if not grad else np.multiply(r, 2.0 / (n * k), out=r))


@dataclass(frozen=True)
class MLP:
    sizes: tuple[int, ...]  # (inputs, hidden ..., outputs)
    activation: str = "tanh"
    loss: str = "cross_entropy"

    def __post_init__(self):
        if len(self.sizes) < 2 or any(int(s) != s or s < 1 for s in self.sizes):
            raise ValueError(f"sizes = {self.sizes!r}; allowed: at least two positive integers (inputs, ..., outputs)")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation = {self.activation!r}; allowed: {', '.join(ACTIVATIONS)}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss = {self.loss!r}; allowed: {', '.join(LOSSES)}")

    @property
    def shapes(self) -> list[tuple[int, int]]:
        """(out, in) of each layer's weight matrix."""
        return list(zip(self.sizes[1:], self.sizes[:-1], strict=True))

    @property
    def size(self) -> int:
        """P, the number of parameters."""
        return sum(o * i + o for o, i in self.shapes)

    def slices(self) -> list[tuple[slice, slice]]:
        """Where each layer's W and b sit in θ."""
        out, at = [], 0
        for o, i in self.shapes:
            out.append((slice(at, at + o * i), slice(at + o * i, at + o * i + o)))
            at += o * i + o
        return out

    def unflatten(self, theta: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per layer (W, b): shapes (out, in), (out,) for θ of shape (P,); (B, out, in), (B, out) for (P, B)."""
        theta = np.asarray(theta, dtype=float)
        layers = []
        for (o, i), (sw, sb) in zip(self.shapes, self.slices(), strict=True):
            if theta.ndim == 1:
                layers.append((theta[sw].reshape(o, i), theta[sb]))
            else:
                layers.append((theta[sw].reshape(o, i, -1).transpose(2, 0, 1), theta[sb].T))
        return layers

    def flatten(self, layers) -> np.ndarray:
        """The inverse of unflatten: θ of shape (P,) or (P, B)."""
        if np.ndim(layers[0][0]) == 2:
            return np.concatenate([np.concatenate([W.ravel(), b]) for W, b in layers])
        B = layers[0][0].shape[0]
        return np.concatenate([np.concatenate([W.transpose(1, 2, 0).reshape(-1, B), b.T]) for W, b in layers])

    def init(self, seed: int) -> np.ndarray:
        """θ₀ as torch.nn.Linear initialises each layer (W, then b: uniform in ±1/√fan_in), from NumPy's stream
        default_rng([seed, 3])."""
        rng = np.random.default_rng([seed, 3])
        parts = []
        for o, i in self.shapes:
            bound = 1.0 / math.sqrt(i)
            parts += [rng.uniform(-bound, bound, o * i), rng.uniform(-bound, bound, o)]
        return np.concatenate(parts)

    def forward(self, theta, X, quick: bool = False, work: Work | None = None) -> list[np.ndarray]:
        """Every layer's output: [h_0, h_1, ..., o]; X of shape (n, d) (or (B, n, d), one batch per θ).
        ``quick``: tanh by :func:`tanh_by_exp` (to a few 1e-16, about twice as fast a pass).
        ``work``: a :class:`Work` the outputs are computed in (overwritten by its next pass: copy what you keep)."""
        buf = _fresh if work is None else work
        outs, h = [], X
        layers = self.unflatten(theta)
        for i, (W, b) in enumerate(layers):
            Wt = np.swapaxes(W, -1, -2)
            shape = np.broadcast_shapes(h.shape[:-2], Wt.shape[:-2]) + (h.shape[-2], Wt.shape[-1])
            a = np.matmul(h, Wt, out=buf(("layer", i), shape, np.result_type(h, Wt)))
            a += b[..., None, :]
            if i == len(layers) - 1:
                h = a
            elif quick and self.activation == "tanh":
                h = tanh_by_exp(a)
            else:  # in place: the pre-activations are not kept
                h = activate(a, self.activation, out=a)
            outs.append(h)
        return outs

    def targets(self, y):
        return y if self.loss == "cross_entropy" else np.asarray(y, dtype=float)

    def value(self, theta, X, y) -> np.ndarray:
        """The mean loss: a number for θ of shape (P,), shape (B,) for (P, B)."""
        return head(self.forward(theta, X)[-1], self.targets(y), self.loss, grad=False)[0]

    def value_and_grad(self, theta, X, y, work: Work | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(loss, ∇θ loss) by a hand-written backward pass: shapes () and (P,), or (B,) and (P, B).
        ``work``: a :class:`Work` for the passes' arrays (a training loop's, reused at every step); the loss and
        the gradient returned are new arrays either way."""
        buf = _fresh if work is None else work
        layers = self.unflatten(theta)
        outs = self.forward(theta, X, work=work)
        value, delta = head(outs[-1], self.targets(y), self.loss, work=work)
        grads = [None] * len(layers)
        for i in range(len(layers) - 1, -1, -1):
            below = X if i == 0 else outs[i - 1]
            dT = np.swapaxes(delta, -1, -2)
            below = np.broadcast_to(below, delta.shape[:-1] + below.shape[-1:])
            dW = np.matmul(dT, below, out=buf(("dW", i), dT.shape[:-1] + below.shape[-1:],
                                              np.result_type(dT, below)))
            grads[i] = (dW, delta.sum(axis=-2))
            if i:
                W = layers[i][0]
                back = np.matmul(delta, W, out=buf(("delta", i - 1), delta.shape[:-1] + W.shape[-1:],
                                                   np.result_type(delta, W)))
                slope = activation_slope(outs[i - 1], self.activation, out=buf(("slope", i - 1), outs[i - 1].shape))
                delta = np.multiply(back, slope, out=back)
        return value, self.flatten(grads)

    def predict(self, theta, X) -> np.ndarray:
        """Class labels (argmax of the outputs) for cross-entropy; the outputs for squared error."""
        o = self.forward(theta, X)[-1]
        return o.argmax(axis=-1) if self.loss == "cross_entropy" else o

    def accuracy(self, theta, X, y) -> float:
        """The share of examples classified correctly (classification only)."""
        return float(np.mean(self.predict(theta, X) == y))

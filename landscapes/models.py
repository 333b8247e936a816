"""Landscapes from real models: each is a two-weight model's loss on a dataset made here.

The datasets are small, fixed (seeded) and generated, never downloaded. With a
minibatch size set (``batch_size`` in simulate, ``batch`` in the link), each step's
gradient is the mean over a sample of the examples: genuine minibatch noise.
"""

from __future__ import annotations

import numpy as np

from optlab.models import model_landscape, newton

N = 100  # examples per dataset


def _squared_error(x, y, u, t):
    """Linear regression on one example: ½(w·u + b − t)², weights (w, b) = (x, y)."""
    r = x * u + y - t
    return 0.5 * (r * r), r * u, r


def _linear_data(mean: float, std: float, seed: int):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(N)
    z = (z - z.mean()) / z.std()  # exactly standardised, then scaled
    u = mean + std * z
    t = 2.0 * z - 1.0 + 0.5 * rng.standard_normal(N)  # the same relation to z in both datasets
    return u, t


def _least_squares(u, t) -> tuple[float, float]:
    w, b = np.linalg.lstsq(np.column_stack([u, np.ones_like(u)]), t, rcond=None)[0]
    return float(w), float(b)


def _linear(name, title, mean, std, domain, start, lesson, tags):
    u, t = _linear_data(mean, std, seed=7)
    return model_landscape(
        _squared_error, (u, t), name=name, title=title, domain=domain, minimizers=(_least_squares(u, t),),
        start=start, lesson=lesson, tags=tags,
        latex=r"f(w,b) = \frac{1}{2n}\sum_{i=1}^{n} (w\,u_i + b - t_i)^2"
              + (r",\ u_i \text{ standardised}" if mean == 0 else rf",\ u_i \approx {mean:g} \pm {std:g}"),
        minima_note="Weights (w, b) on the axes; the minimum is the least-squares solution (closed form).",
        axis_names=("w", "b"),
    )


LINEAR_REGRESSION = _linear(
    "linear_regression", "Linear regression (standardised feature)", 0.0, 1.0,
    domain=((-2.0, 6.0), (-5.0, 3.0)), start=(-1.5, 2.5),
    lesson="A real model's loss: the bowl of least squares. With a standardised feature it is round, "
    "and minibatches make the gradient genuinely noisy.",
    tags={"unimodal", "convex", "quadratic"},
)

# the same relation, but the feature is measured on a shifted scale (mean 4, std 1.5): the
# Hessian [[E u², E u], [E u, 1]] has condition number about 160 instead of 1
LINEAR_REGRESSION_UNSCALED = _linear(
    "linear_regression_unscaled", "Linear regression (badly scaled feature)", 4.0, 1.5,
    domain=((-1.0, 3.0), (-10.0, 2.0)), start=(2.5, 1.0),
    lesson="The same regression with an unscaled feature (mean 4, std 1.5): a long narrow valley. "
    "Feature scaling is what removes it.",
    tags={"unimodal", "convex", "quadratic", "ill-conditioned"},
)


def _log_loss(x, y, u1, u2, s):
    """Logistic regression on one example, labels s = ±1: log(1 + e^(−s·w·u)) + λ/2·|w|²."""
    z = s * (x * u1 + y * u2)
    p = np.exp(-np.logaddexp(0.0, z))  # σ(−z), without overflow
    lam = 0.01
    return np.logaddexp(0.0, -z) + 0.5 * lam * (x * x + y * y), -s * p * u1 + lam * x, -s * p * u2 + lam * y


def _two_classes(seed: int = 11):
    rng = np.random.default_rng(seed)
    s = np.where(np.arange(N) % 2 == 0, 1.0, -1.0)
    centre = np.array([1.0, 0.4])
    cov = np.array([[1.0, 0.8], [0.8, 1.0]])  # correlated features: an elongated valley
    u = s[:, None] * centre + rng.multivariate_normal(np.zeros(2), cov, N)
    return u[:, 0], u[:, 1], s


_U1, _U2, _S = _two_classes()
LOGISTIC_REGRESSION = model_landscape(
    _log_loss, (_U1, _U2, _S), name="logistic_regression", title="Logistic regression",
    domain=((-4.0, 8.0), (-6.0, 6.0)),
    minimizers=(newton(_log_loss, (_U1, _U2, _S), (0.0, 0.0)),),
    start=(-3.0, 4.0),
    lesson="Two overlapping classes, two weights: a convex but curved valley from correlated features; "
    "the loss flattens far from the minimum, where the sigmoid saturates.",
    latex=r"f(w_1,w_2) = \frac1n\sum_i \log\left(1 + e^{-s_i (w_1 u_{i1} + w_2 u_{i2})}\right)"
          r" + \tfrac{\lambda}{2}\lVert w\rVert^2,\ \lambda = 0.01",
    tags={"unimodal", "convex", "classification"},
    minima_note="Weights (w₁, w₂) on the axes; the minimum is computed by Newton's method.",
    axis_names=("w₁", "w₂"),
)


def _tiny_net(x, y, u, t):
    """One hidden tanh unit: prediction v·tanh(w·u), weights (w, v) = (x, y), squared error."""
    h = np.tanh(x * u)
    r = y * h - t
    return 0.5 * (r * r), r * y * (1 - h * h) * u, r * h


def _teacher_data(seed: int = 5):
    rng = np.random.default_rng(seed)
    u = rng.uniform(-2.0, 2.0, N)
    return u, 2.0 * np.tanh(1.5 * u) + 0.1 * rng.standard_normal(N)


_U, _T = _teacher_data()
_W, _V = newton(_tiny_net, (_U, _T), (1.5, 2.0))
TINY_NETWORK = model_landscape(
    _tiny_net, (_U, _T), name="tiny_network", title="Tiny network (one tanh unit)",
    domain=((-3.0, 3.0), (-3.5, 3.5)), minimizers=((_W, _V), (-_W, -_V)), start=(-0.15, 0.3),
    lesson="A tiny neural network is already non-convex: two mirror-image minima (flip both weights' "
    "signs) and a saddle at the origin between them.",
    latex=r"f(w,v) = \frac{1}{2n}\sum_i \left(v \tanh(w\,u_i) - t_i\right)^2",
    tags={"multimodal", "non-convex", "symmetric", "saddle"},
    minima_note="Weights (w, v) on the axes; the two minima mirror each other, found by Newton's method.",
    axis_names=("w", "v"),
)

MODELS = (LINEAR_REGRESSION, LINEAR_REGRESSION_UNSCALED, LOGISTIC_REGRESSION, TINY_NETWORK)

"""The fixed descents a network landscape is defined by: full batch, torch.optim's rules, plain NumPy.

A "solutions" plane passes through θ₀ and two trained networks, a lesson quotes the test
accuracy of the network trained in all its weights, and a plane's minimum is estimated by
descending from its lowest grid cells. Those are part of the landscape's definition, as
Newton's method is of a model landscape's minimum (optlab.models.newton), so they are
computed here, at the records' level: this module imports no optimizer declaration, no
registry and no engine (landscapes/ imports it; tests/test_imports.py checks the arrows).
Training with any optimizer's own declaration, minibatches and schedules is the engine's
:func:`optlab.training.train`; tests/test_networks.py checks that both give the same numbers
as torch.optim.SGD (momentum) and torch.optim.Adam.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

Gradient = Callable[[np.ndarray], np.ndarray]


def heavy_ball(grad: Gradient, x0, *, steps: int, lr: float, momentum: float = 0.9) -> np.ndarray:
    """x after ``steps`` of torch.optim.SGD(lr, momentum) on ∇ = ``grad``: b₁ = g, b = μ·b + g, x ← x − lr·b."""
    x = np.array(x0, dtype=float)
    b = None
    for _ in range(steps):
        g = grad(x)
        b = g.copy() if b is None else momentum * b + g
        x = x - lr * b
    return x


def adam(grad: Gradient, x0, *, steps: int, lr, beta1: float = 0.9, beta2: float = 0.999,
         eps: float = 1e-8) -> np.ndarray:
    """x after ``steps`` of torch.optim.Adam on ∇ = ``grad``; ``lr`` a number or one per step (a schedule)."""
    lrs = np.broadcast_to(np.asarray(lr, dtype=float), (steps,))
    x = np.array(x0, dtype=float)
    m = np.zeros_like(x)
    v = np.zeros_like(x)
    for t in range(1, steps + 1):
        g = grad(x)
        m = m + (1 - beta1) * (g - m)  # torch: exp_avg.lerp_(grad, 1 - beta1)
        v = beta2 * v + (1 - beta2) * g * g
        bc1, bc2 = 1 - beta1**t, 1 - beta2**t
        x = x - (lrs[t - 1] / bc1) * (m / (np.sqrt(v) / math.sqrt(bc2) + eps))
    return x


RULES = {"momentum": heavy_ball, "adam": adam}


def descend(rule: str, grad: Gradient, x0, *, steps: int, **hp) -> np.ndarray:
    """x after ``steps`` of ``rule`` ("momentum": SGD with momentum 0.9, or "adam") with hyperparameters ``hp``."""
    return RULES[rule](grad, x0, steps=steps, **hp)

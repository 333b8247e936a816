"""torch.optim.Muon for a network's weight matrices, in NumPy (the networks page's full training only).

Muon (Jordan et al. 2024; torch.optim.Muon) is not element-wise: each step orthogonalises a weight
matrix's momentum by a Newton–Schulz iteration, so it has no declaration in optlab.optimizers (whose
rules move each coordinate on its own, as a 2-D landscape needs) and runs on the networks page only.
torch.optim.Muon takes 2-D parameters only; the biases here are trained by the AdamW declaration with
the same lr and weight decay (as Muon is usually paired), through optlab.training.train's ``matrices``
hook. torch.optim.Muon, step t, for a weight matrix W with gradient G (its source, torch 2.9+):

    B ← μ·B + (1 − μ)·G                         (buf.lerp_(grad, 1 − μ); B₀ = 0)
    U ← (1 − μ)·G + μ·B if nesterov else B      (grad.lerp(buf, μ))
    O ← NS₅(U): X = U/max(‖U‖_F, ε) (transposed when taller than wide), five times
        A = X Xᵀ, X ← a·X + (b·A + c·A²)·X, with (a, b, c) = (3.4445, −4.7750, 2.0315)
    W ← W·(1 − lr·λ) − lr·√max(1, rows/cols)·O

Note: torch runs the Newton–Schulz iteration in bfloat16; here it runs in float64. The tests check
this module against torch.optim.Muon with its iteration in float64 (to rounding error) and against
the real one in bfloat16 (to bfloat16's precision).
"""

from __future__ import annotations

import math

import numpy as np

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
DEFAULTS = {"lr": 1e-3, "weight_decay": 0.1, "momentum": 0.95, "nesterov": True, "eps": 1e-7, "ns_steps": 5}
NAME = "muon"
TITLE = "Muon (weight matrices) + AdamW (biases)"


def newton_schulz(G: np.ndarray, steps: int = 5, eps: float = 1e-7, coefficients=NS_COEFFICIENTS) -> np.ndarray:
    """torch.optim._muon._zeropower_via_newtonschulz in float64: G (m, n) pushed towards U Vᵀ of its SVD."""
    a, b, c = coefficients
    tall = G.shape[0] > G.shape[1]
    X = G.T if tall else G
    X = X / max(float(np.linalg.norm(X)), eps)
    for _ in range(steps):
        A = X @ X.T
        X = a * X + (b * A + c * (A @ A)) @ X
    return X.T if tall else X


class Muon:
    """Muon's state and step for the weight matrices of ``net`` (θ of shape (P, 1)); see the module."""

    def __init__(self, net, *, lr: float, weight_decay: float = DEFAULTS["weight_decay"],
                 momentum: float = DEFAULTS["momentum"], nesterov: bool = DEFAULTS["nesterov"],
                 eps: float = DEFAULTS["eps"], ns_steps: int = DEFAULTS["ns_steps"]):
        problems = [f"{k} = {v!r} must be ≥ 0" for k, v in (("lr", lr), ("weight_decay", weight_decay),
                                                             ("momentum", momentum)) if not v >= 0]
        if not 1 <= ns_steps < 100:
            problems.append(f"ns_steps = {ns_steps!r} must be 1 to 99")
        if problems:
            raise ValueError("muon: " + "; ".join(problems))
        self.net, self.lr, self.weight_decay, self.momentum = net, lr, weight_decay, momentum
        self.nesterov, self.eps, self.ns_steps = nesterov, eps, ns_steps
        self.buffers = [np.zeros((o, i)) for o, i in net.shapes]

    def __call__(self, k: int, lr_factor: float, before: np.ndarray, g: np.ndarray, after: np.ndarray) -> np.ndarray:
        """θ after step k with every weight matrix moved by Muon (``after``: the biases' optimizer's θ; the
        scheduled lr is lr·``lr_factor``)."""
        out = after.copy()
        lr = self.lr * lr_factor
        mu = self.momentum
        for j, ((o, i), (sw, _)) in enumerate(zip(self.net.shapes, self.net.slices(), strict=True)):
            G = g[sw, 0].reshape(o, i)
            W = before[sw, 0].reshape(o, i)
            buf = self.buffers[j]
            buf += (1 - mu) * (G - buf)  # torch: buf.lerp_(grad, 1 - momentum)
            U = G + mu * (buf - G) if self.nesterov else buf  # grad.lerp(buf, momentum)
            ortho = newton_schulz(U, self.ns_steps, self.eps)
            W = W * (1 - lr * self.weight_decay) - lr * math.sqrt(max(1.0, o / i)) * ortho
            out[sw, 0] = W.ravel()
        return out

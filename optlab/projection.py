"""Trajectories of many parameters drawn on one plane, and how far that picture is from the truth.

:func:`project` takes checkpoints θ of several runs (arrays of shape (K, P)) and a common point θ₀
(where they all start), and finds the plane θ₀ + z₁·d₁ + z₂·d₂ that holds as much of them as any
plane through θ₀ can: d₁, d₂ are the first two right singular vectors of the stacked displacements
θ − θ₀ (principal components about θ₀, not about the mean, so the common start sits at z = 0; Li et
al. 2018, "Visualizing the loss landscape of neural nets", §7). The honesty numbers, per checkpoint:

- z = (d₁·(θ − θ₀), d₂·(θ − θ₀)), the point drawn;
- its distance from the plane, ‖(θ − θ₀) − z₁d₁ − z₂d₂‖, and that as a share of ‖θ − θ₀‖;
- the share of ‖θ − θ₀‖² the plane holds, ‖z‖²/‖θ − θ₀‖², and over all checkpoints together
  (σ₁² + σ₂²)/Σσ², the "fraction of variance explained".

The loss drawn at z is the loss at θ₀ + z₁d₁ + z₂d₂, not at θ: where the checkpoint is far from the
plane the two differ, and :func:`disagreements` says where. NumPy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DIFFERS = 0.10  # the true loss and the plane's differ when they are more than 10 % apart (of the larger)


@dataclass(frozen=True, eq=False)
class Projection:
    origin: np.ndarray  # θ₀, (P,)
    directions: np.ndarray  # d₁, d₂ as rows, (2, P), orthonormal
    explained: float  # the share of Σ‖θ − θ₀‖² over every checkpoint that the plane holds
    coords: dict  # run -> (K, 2): z of each checkpoint
    distance: dict  # run -> (K,): ‖θ − θ(z)‖, the checkpoint's distance from the plane
    norm: dict  # run -> (K,): ‖θ − θ₀‖

    def share_off(self, name: str) -> np.ndarray:
        """Per checkpoint: its distance from the plane as a share of its distance from θ₀ (0 at θ₀ itself)."""
        norm = self.norm[name]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(norm > 0, self.distance[name] / norm, 0.0)

    def share_held(self, name: str) -> np.ndarray:
        """Per checkpoint: ‖z‖²/‖θ − θ₀‖², the share of its squared displacement the plane holds (1 at θ₀)."""
        return 1.0 - self.share_off(name) ** 2

    def point(self, z) -> np.ndarray:
        """θ₀ + z₁d₁ + z₂d₂ for z of shape (..., 2): shape (..., P)."""
        return self.origin + np.asarray(z, dtype=float) @ self.directions


def project(paths: dict, origin) -> Projection:
    """The shared plane of the checkpoints ``paths`` (run -> (K, P)) through ``origin``; see the module."""
    origin = np.asarray(origin, dtype=float)
    names = list(paths)
    moved = {n: np.asarray(paths[n], dtype=float) - origin for n in names}
    stacked = np.concatenate([moved[n] for n in names])
    finite = np.isfinite(stacked).all(axis=1)
    A = stacked[finite]
    scale = float(np.abs(A).max()) if A.size else 0.0
    A = A / scale if scale > 0 else A  # (a diverging run's huge values: no overflow in the squares)
    # the right singular vectors from the small Gram matrix A Aᵀ (rows: checkpoints, far fewer than P):
    # A Aᵀ = U Σ² Uᵀ, and vᵢ = Aᵀuᵢ/σᵢ
    eigenvalues, U = np.linalg.eigh(A @ A.T)
    order = np.argsort(eigenvalues)[::-1]
    s2 = np.clip(eigenvalues[order], 0.0, None)
    directions = np.zeros((2, origin.size))
    for i in range(min(2, len(s2))):
        if s2[i] > 1e-24 * max(s2[0], 1e-300):
            v = A.T @ U[:, order[i]]
            directions[i] = v / np.linalg.norm(v)
    for i in range(2):  # a sign convention: the larger share of the runs' last points on the positive side
        last = np.array([moved[n][-1] for n in names if np.isfinite(moved[n][-1]).all()])
        if len(last) and (last @ directions[i]).sum() < 0:
            directions[i] = -directions[i]
    total = float(s2.sum())
    explained = float(s2[:2].sum() / total) if total > 0 else 1.0
    coords, distance, norm = {}, {}, {}
    with np.errstate(over="ignore", invalid="ignore"):
        for n in names:
            z = moved[n] @ directions.T
            coords[n] = z
            distance[n] = np.linalg.norm(moved[n] - z @ directions, axis=1)
            norm[n] = np.linalg.norm(moved[n], axis=1)
    return Projection(origin=origin, directions=directions, explained=explained, coords=coords, distance=distance,
                      norm=norm)


def disagreements(true_loss, plane_loss, tolerance: float = DIFFERS) -> np.ndarray:
    """Per checkpoint: whether the true loss and the plane's loss at its projection are more than ``tolerance``
    (a share of the larger) apart."""
    true_loss, plane_loss = np.asarray(true_loss, dtype=float), np.asarray(plane_loss, dtype=float)
    scale = np.maximum(np.abs(true_loss), np.abs(plane_loss))
    with np.errstate(invalid="ignore"):
        return ~(np.abs(true_loss - plane_loss) <= tolerance * scale)

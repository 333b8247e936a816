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

:func:`project_onto` projects onto a plane given by its directions, not necessarily orthonormal:
:func:`through_ends` is the plane through θ₀ and two runs' last points (d_i = θ_i − θ₀; Garipov et al.
2018, "Loss surfaces, mode connectivity, and fast ensembling of DNNs"), where those two ends sit at
z = (1, 0) and (0, 1). Its z are the least-squares coordinates (the orthogonal projection, written in
that basis), and the same honesty numbers hold: the plane holds Σ‖z₁d₁ + z₂d₂‖² of Σ‖θ − θ₀‖².

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
    directions: np.ndarray  # d₁, d₂ as rows, (2, P): orthonormal (PCA), or θ_i − θ₀ (through_ends)
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
    return _coordinates(names, moved, origin, directions, explained, orthonormal=True)


def _coordinates(names, moved, origin, directions, explained, orthonormal: bool) -> Projection:
    """Each run's z (least squares: z = D⁺(θ − θ₀)), distance from the plane and ‖θ − θ₀‖."""
    coords, distance, norm = {}, {}, {}
    gram = directions @ directions.T
    with np.errstate(over="ignore", invalid="ignore"):
        for n in names:
            z = moved[n] @ directions.T
            if not orthonormal:  # the normal equations (DDᵀ) z = D(θ − θ₀), a 2 × 2 solve for every row
                z = np.linalg.solve(gram, z.T).T
            coords[n] = z
            distance[n] = np.linalg.norm(moved[n] - z @ directions, axis=1)
            norm[n] = np.linalg.norm(moved[n], axis=1)
    return Projection(origin=origin, directions=directions, explained=explained, coords=coords, distance=distance,
                      norm=norm)


def project_onto(paths: dict, origin, directions) -> Projection:
    """The checkpoints ``paths`` (run -> (K, P)) projected onto the plane origin + z₁d₁ + z₂d₂ (``directions``:
    (2, P), linearly independent, not necessarily orthonormal); ``explained``: the share of Σ‖θ − θ₀‖² over every
    finite checkpoint that the plane holds."""
    origin = np.asarray(origin, dtype=float)
    directions = np.asarray(directions, dtype=float)
    names = list(paths)
    moved = {n: np.asarray(paths[n], dtype=float) - origin for n in names}
    proj = _coordinates(names, moved, origin, directions, 1.0, orthonormal=False)
    held = total = 0.0
    for n in names:
        finite = np.isfinite(moved[n]).all(axis=1)
        total += float((proj.norm[n][finite] ** 2).sum())
        held += float(((proj.coords[n][finite] @ directions) ** 2).sum())
    explained = held / total if total > 0 else 1.0
    return Projection(origin=origin, directions=directions, explained=explained, coords=proj.coords,
                      distance=proj.distance, norm=proj.norm)


def through_ends(paths: dict, origin, ends: tuple[str, str]) -> Projection:
    """:func:`project_onto` the plane through ``origin`` and the last points of the runs ``ends`` (two names of
    ``paths``): d₁ = θ_a − θ₀, d₂ = θ_b − θ₀. ValueError where they do not span a plane (a run that did not move,
    two ends on one line through θ₀, or an end that is not finite)."""
    origin = np.asarray(origin, dtype=float)
    d = np.array([np.asarray(paths[n], dtype=float)[-1] - origin for n in ends])
    if not np.isfinite(d).all():
        raise ValueError(f"the ends of {ends[0]} and {ends[1]} must be finite")
    norms = np.linalg.norm(d, axis=1)
    if not (norms > 0).all():
        raise ValueError(f"{ends[int(np.argmin(norms))]} ends where it started: its end and θ₀ span no direction")
    cos = abs(float(d[0] @ d[1])) / float(norms[0] * norms[1])
    if not cos < 1 - 1e-9:
        raise ValueError(f"the ends of {ends[0]} and {ends[1]} lie on one line through θ₀: they span no plane")
    return project_onto(paths, origin, d)


def disagreements(true_loss, plane_loss, tolerance: float = DIFFERS) -> np.ndarray:
    """Per checkpoint: whether the true loss and the plane's loss at its projection are more than ``tolerance``
    (a share of the larger) apart."""
    true_loss, plane_loss = np.asarray(true_loss, dtype=float), np.asarray(plane_loss, dtype=float)
    scale = np.maximum(np.abs(true_loss), np.abs(plane_loss))
    with np.errstate(invalid="ignore"):
        return ~(np.abs(true_loss - plane_loss) <= tolerance * scale)

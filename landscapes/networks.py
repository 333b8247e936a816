"""Real networks: an MLP's training loss on a plane of its weights (optlab.networks).

f(z) = L(θ₀ + z₁·d₁ + z₂·d₂) on a real dataset bundled with scikit-learn (digits, iris) or a
generated one (two moons), with the exact gradient (d₁·∇L, d₂·∇L) and genuine minibatch
noise. Lazy: nothing is loaded or computed until the landscape is used.
"""

from __future__ import annotations

from optlab.networks.landscape import plane_landscape

MLP_MOONS_PLANE = plane_landscape("mlp_moons_plane", "moons", "Two moons", hidden=16)
MLP_IRIS_PLANE = plane_landscape("mlp_iris_plane", "iris", "Iris", hidden=8)
MLP_DIGITS_PLANE = plane_landscape("mlp_digits_plane", "digits", "Digits (8×8)", hidden=32)

NETWORKS = (MLP_MOONS_PLANE, MLP_IRIS_PLANE, MLP_DIGITS_PLANE)

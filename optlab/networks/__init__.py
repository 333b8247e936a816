"""Real networks (issue 14): small MLPs on real and generated datasets, exact gradients, planes of their weights.

- :mod:`optlab.networks.data`: digits, iris, wine, breast cancer, diabetes (bundled with scikit-learn),
  two moons, circles and a spiral (generated); a seeded split, features standardised.
- :mod:`optlab.networks.mlp`: the MLP, its flat parameter vector, loss and hand-written backward pass.
- :mod:`optlab.networks.plane`: the loss on a plane θ₀ + z₁ d₁ + z₂ d₂ (a 2-D landscape), directions.
- :mod:`optlab.networks.landscape`: that plane as a registered, lazily built Landscape.
- :mod:`optlab.networks.solve`: the fixed full-batch descents a landscape is defined by (its two solutions,
  its reference network, its estimated minimum), by torch.optim's rules in plain NumPy.
- :mod:`optlab.networks.torch_code`: the exported torch script's network, data and directions.

This package is records: it imports no optimizer declaration, no registry and no engine, so that the
declarations in landscapes/ can import it (tests/test_imports.py). Full training with the optimizers'
own declarations is the engine's: :func:`optlab.training.train`.
"""

from optlab.networks.data import DATASETS, Dataset, load_dataset
from optlab.networks.mlp import MLP
from optlab.networks.plane import Plane, random_directions

__all__ = ["DATASETS", "MLP", "Dataset", "Plane", "load_dataset", "random_directions"]

"""A network's loss on a plane of its parameters, as a registered Landscape.

``plane_landscape(...)`` declares f(z) = L(θ₀ + z₁ d₁ + z₂ d₂) (optlab.networks.plane) with
its exact gradient and minibatch gradient, so everything the app does with a landscape
(runs, sweeps, basins, seed bands, links, exports) works on it unchanged. Its shape
parameters (hidden width and depth, ReLU, the seed of θ₀ and of the directions, the kind
of plane, the square's extent, whether the features are standardised) are ``params``, so a link
carries them.

Building the network is cheap to declare and costly to do (scikit-learn's import, the
data, a grid search for the minimum, a full training for comparison), so the registry's
landscapes are lazy: the data and the plane are made on the first evaluation, and the
fields that need them (``minimizers``, ``f_min``, ``lesson``, ``minima_note``) on first
read. Every build is cached by its parameters.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

import numpy as np

from optlab.landscape import Landscape
from optlab.networks.data import load_dataset
from optlab.networks.mlp import MLP, one_blas_thread
from optlab.networks.plane import Plane, estimate_minimum, random_directions
from optlab.networks.solve import descend
from optlab.params import Param

# (features, outputs, task) of each dataset: what a title needs before the data is loaded
SHAPES = {"digits": (64, 10), "iris": (4, 3), "wine": (13, 3), "breast_cancer": (30, 2), "diabetes": (10, 1),
          "moons": (2, 2), "circles": (2, 2), "spiral": (2, 3)}
LAZY = ("minimizers", "f_min", "lesson", "minima_note")
SOLUTIONS_DOMAIN = ((-0.5, 1.5), (-0.5, 1.5))
# the full network's reference training, and the two solutions of a "solutions" plane: full-batch descents by
# torch.optim's rules, part of the landscape's definition (optlab.networks.solve; no optimizer declaration)
REFERENCE_STEPS = 500
SOLVERS = (("momentum", {"lr": 0.05}), ("adam", {"lr": 0.01}))
REFERENCE = SOLVERS[1]


def params(hidden: int) -> tuple[Param, ...]:
    return (
        Param("hidden", hidden, low=2, high=64, ui_low=2, ui_high=64, kind=int, help="units per hidden layer"),
        Param("layers", 1, low=1, high=2, ui_low=1, ui_high=2, kind=int, help="hidden layers (1 or 2)"),
        Param("relu", False, kind=bool, help="ReLU units instead of tanh"),
        Param("net_seed", 0, low=0, high=2**31 - 1, ui_low=0, ui_high=100, kind=int,
              help="seed of the initial weights θ₀ (torch.nn.Linear's scheme) and of the random directions"),
        Param("solutions", False, kind=bool,
              help="the plane through θ₀ and two trained solutions (full-batch SGD with momentum at (1, 0), Adam at "
                   "(0, 1)) instead of two random filter-normalised directions"),
        Param("extent", 3.0, low=0.1, high=20.0, ui_low=0.5, ui_high=10.0,
              help="half-width of a random plane's square, in filter norms (z = 1: each neuron moved by its own norm)"),
        Param("standardise", True, kind=bool,
              help="features standardised with the training set's mean and standard deviation (off: the raw "
                   "features, e.g. digits' pixel intensities 0 to 16)"),
    )


class NetworkPlane:
    """The data, the network, θ₀, the directions and the Plane of one landscape, made on first use."""

    def __init__(self, dataset, hidden, layers, relu, net_seed, solutions, extent, standardise=True):
        self.dataset, self.hidden, self.layers, self.relu = dataset, hidden, layers, relu
        self.standardise = standardise
        self.net_seed, self.solutions = net_seed, solutions
        self.domain = SOLUTIONS_DOMAIN if solutions else ((-extent, extent), (-extent, extent))
        self._lock = threading.RLock()
        self._plane = None
        self._summary = None

    @property
    def net(self) -> MLP:
        d, k = SHAPES[self.dataset]
        return MLP((d, *[self.hidden] * self.layers, k), "relu" if self.relu else "tanh",
                   "squared" if self.dataset == "diabetes" else "cross_entropy")

    @property
    def data(self):
        return load_dataset(self.dataset, standardise=self.standardise)

    @property
    def plane(self) -> Plane:
        with self._lock:
            if self._plane is None:
                net, data = self.net, self.data
                theta0 = net.init(self.net_seed)
                if self.solutions:
                    self.trained = {name: self.descend(net, data, name, theta0, hp) for name, hp in SOLVERS}
                    d1, d2 = (self.trained[name] - theta0 for name, _ in SOLVERS)
                else:
                    d1, d2 = random_directions(net, theta0, self.net_seed)
                self._plane = Plane(net, data.X, data.y, theta0, d1, d2)
            return self._plane

    @staticmethod
    def descend(net: MLP, data, rule: str, theta0, hp: dict) -> np.ndarray:
        """θ after REFERENCE_STEPS full-batch steps of ``rule`` from θ₀ (torch.optim's rule, in all P weights)."""
        with np.errstate(all="ignore"), one_blas_thread():
            return descend(rule, lambda theta: net.value_and_grad(theta, data.X, data.y)[1], theta0,
                           steps=REFERENCE_STEPS, **hp)

    def evaluate(self, x, y, idx=None, grad=True):
        return self.plane.evaluate(x, y, idx, grad)

    def value(self, x, y):
        """f at x, y; on a regular grid (np.meshgrid's layout: what a surface or contour asks for) by the plane's
        separable first layer (Plane.surface: the same numbers to rounding, several times faster)."""
        grid = regular_grid(x, y)
        if grid is not None:
            return self.plane.surface(*grid)
        return self.plane.evaluate(x, y, grad=False)[0]

    def full_network(self) -> np.ndarray:
        """θ trained in all P parameters from θ₀ (full-batch Adam, the reference beside the plane's best point)."""
        plane = self.plane
        name, hp = REFERENCE
        if self.solutions:
            return self.trained[name]
        return self.descend(plane.net, self.data, name, plane.theta0, hp)

    def score(self, theta) -> float:
        """Test accuracy (classification) or test loss (regression) at θ."""
        data, net = self.data, self.net
        if data.task == "classification":
            return net.accuracy(theta, data.X_test, data.y_test)
        return float(net.value(theta, data.X_test, data.y_test))

    def summary(self) -> dict:
        """The lazy fields: the estimated minimum, and the lesson with the test scores."""
        with self._lock:
            if self._summary is None:
                plane, data = self.plane, self.data
                point, value, interior = estimate_minimum(plane, self.domain)
                best, start, full = self.score(plane.theta(*point)), self.score(plane.theta0), \
                    self.score(self.full_network())
                self.scores = {"start": start, "plane": best, "full": full}
                what = "test accuracy" if data.task == "classification" else "test loss"
                fmt = (lambda v: f"{100 * v:.1f} %") if data.task == "classification" else (lambda v: f"{v:.3g}")
                kind = "two trained solutions" if self.solutions else "two random directions"
                lesson = (f"Training in a 2-D subspace (Li, Farkhoor, Liu & Yosinski 2018): of the network's "
                          f"{plane.net.size:,} weights only z moves, in the plane of θ₀ and {kind}. "
                          f"{what.capitalize()}: {fmt(start)} at θ₀, {fmt(best)} at the plane's lowest point, "
                          f"{fmt(full)} for the full network trained in all its weights "
                          f"(Adam, {REFERENCE_STEPS} full-batch steps).")
                note = ("Axes: the coordinates z of θ₀ + z₁·d₁ + z₂·d₂. Minima are estimates: the lowest point found "
                        "in the square by a grid search, then Adam and Newton's method.")
                if interior:
                    fields = {"minimizers": (point,), "f_min": value}
                else:
                    fields = {"minimizers": (), "f_min": None}
                    note += (f" Here the loss is lowest on the square's edge, at ({point[0]:.3g}, {point[1]:.3g}), "
                             f"f = {value:.6g}: no minimum inside it, so none is marked.")
                self._summary = {**fields, "lesson": lesson, "minima_note": note}
            return self._summary


@functools.lru_cache(maxsize=32)
def network_plane(dataset, hidden, layers, relu, net_seed, solutions, extent, standardise=True) -> NetworkPlane:
    return NetworkPlane(dataset, hidden, layers, relu, net_seed, solutions, extent, standardise)


class NetworkLandscape(Landscape):
    """A Landscape whose fields in LAZY are computed on first read (see the module's docstring)."""

    def __getattr__(self, name):  # only called for a missing attribute: the lazy fields, before their first read
        source = self.__dict__.get("network")
        if source is None or name not in LAZY:
            raise AttributeError(name)
        for key, value in source.summary().items():
            object.__setattr__(self, key, value)
        return self.__dict__[name]


@dataclass(frozen=True)
class Declaration:
    name: str
    dataset: str
    title: str
    hidden: int = 16

    @property
    def params(self) -> tuple[Param, ...]:
        return params(self.hidden)

    def __call__(self, **values) -> Landscape:
        return _build(self, tuple(sorted(values.items())))


@functools.lru_cache(maxsize=64)
def _build(decl: Declaration, values: tuple) -> Landscape:
    specs = decl.params
    values = {p.name: p.default for p in specs} | dict(values)
    source = network_plane(decl.dataset, **values)
    d, k = SHAPES[decl.dataset]
    sizes = "-".join(map(str, (d, *[values["hidden"]] * values["layers"], k)))
    kind = "solutions" if values["solutions"] else "random plane"
    act = "ReLU" if values["relu"] else "tanh"
    if not values["standardise"]:
        kind += ", raw features"
    loss = r"\tfrac1{n}\textstyle\sum_{i}\lVert o_i - t_i\rVert^2/k" if decl.dataset == "diabetes" else \
        r"-\tfrac1n\textstyle\sum_i \log \mathrm{softmax}(o_i)_{t_i}"
    land = NetworkLandscape(
        name=decl.name, title=f"{decl.title}: MLP {sizes} ({act}), {kind}",
        value=source.value,
        gradient=lambda x, y: source.evaluate(x, y)[1:],
        value_and_grad=source.evaluate,
        domain=source.domain, minimizers=(), f_min=None, start=(0.0, 0.0), lesson="", minima_note="",
        latex=(rf"\begin{{gathered}} f(z) = {loss}, \\ o_i = \mathrm{{MLP}}_{{\theta_0 + z_1 d_1 + z_2 d_2}}(u_i)"
               r"\end{gathered}"),  # two lines: one was cut off beside the lesson
        axis_names=("z₁", "z₂"),  # the plane's coordinates
        tags=frozenset({"network", "model", "data", "non-convex", "estimated-minima"}),
        params=specs, param_values=values, build=decl, scalar_safe=False,
        data_size=_train_size(decl.dataset), minibatch=lambda x, y, idx: source.evaluate(x, y, idx)[1:],
    )
    for key in LAZY:
        object.__delattr__(land, key)
    object.__setattr__(land, "network", source)
    return land


def regular_grid(x, y):
    """(xs, ys) when x, y are np.meshgrid(xs, ys) (x's rows all equal, y's columns all equal), else None."""
    if not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray)) or x.ndim != 2 or x.shape != y.shape \
            or min(x.shape) < 2:
        return None
    if not ((x == x[:1]).all() and (y == y[:, :1]).all()):
        return None
    return x[0], y[:, 0]


def _train_size(dataset: str) -> int:
    """The training set's size, without loading the data (the split keeps round(n · 0.25) for testing)."""
    n = {"digits": 1797, "iris": 150, "wine": 178, "breast_cancer": 569, "diabetes": 442}.get(dataset, 300)
    return n - int(round(n * 0.25))


def plane_landscape(name: str, dataset: str, title: str, hidden: int = 16) -> Landscape:
    """Declare the plane landscape ``name`` of an MLP on ``dataset`` (its defaults: one hidden layer of ``hidden``)."""
    return Declaration(name, dataset, title, hidden)()


def network_of(land: Landscape) -> NetworkPlane | None:
    """The network behind a plane landscape (None for any other landscape)."""
    return land.__dict__.get("network")

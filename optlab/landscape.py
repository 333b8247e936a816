"""The landscape record.

A landscape is declared once (in the top-level ``landscapes`` package, which is
also the registry: ``landscapes.get_landscape``) as a
frozen :class:`Landscape`: an element-wise formula ``value(x, y)`` and its
analytic gradient ``gradient(x, y) -> (gx, gy)``, plus what the dashboard needs
to show and teach it. Formulas use arithmetic and NumPy functions only and
write integer powers as products (``x * x``, not ``x**2``): then the same code
gives bit-identical numbers on Python floats and on arrays, which lets a single
run take the fast scalar path and still equal its row of a batch.

This module knows no registry and no engine: the declarations import it, never
the other way round (tests/test_imports.py checks the arrows).
"""

from __future__ import annotations

import copyreg
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from optlab.params import Param

Domain = tuple[tuple[float, float], tuple[float, float]]
CUSTOM = "custom"  # the name of a typed-in formula's landscape (optlab.formula); landscape=custom in links


@dataclass(frozen=True, eq=False)
class Landscape:
    name: str
    title: str
    value: Callable  # value(x, y) -> f, element-wise
    gradient: Callable  # gradient(x, y) -> (df/dx, df/dy)
    domain: Domain  # plotting domain ((x_lo, x_hi), (y_lo, y_hi))
    minimizers: tuple[tuple[float, float], ...]  # global minimizers; () where there is none
    f_min: float | None  # their value; None where the function is unbounded below
    start: tuple[float, float]  # default start: one that makes an instructive run
    lesson: str  # one line: what this surface teaches
    latex: str
    tags: frozenset[str]
    value_and_grad: Callable | None = None  # optional fused version, for speed
    params: tuple[Param, ...] = ()  # shape parameters (e.g. a condition number)
    param_values: dict = field(default_factory=dict)
    build: Callable | None = None  # build(**params) -> Landscape, for parametrised ones
    scalar_safe: bool = True  # value/gradient give identical bits on floats and arrays
    minima_note: str = ""  # e.g. "only the minima inside the domain are listed"
    # landscapes from a model's loss on a dataset (optlab.models): the number of examples, and
    # minibatch(x, y, idx) -> (df/dx, df/dy) on the examples idx (shape (..., b)) only
    data_size: int = 0
    minibatch: Callable | None = None
    # ... and the model itself: per_example(x, y, *columns) -> (loss, dloss/dx, dloss/dy) and the data's
    # columns, each shape (data_size,) (what the exported script carries)
    per_example: Callable | None = None
    columns: tuple = ()
    formula: str | None = None  # the text of a typed-in formula (optlab.formula), None for declared ones
    # how pickle (st.cache_data, multiprocessing) rebuilds it: origin(key, params) -> Landscape, a module-level
    # function, pickled by reference (key: the formula's text, else the name). Set by whoever makes it: the
    # registry (landscapes) for declared ones, optlab.formula for typed-in ones. None: pickled field by field.
    origin: Callable | None = None
    # what the two coordinates are called on every axis, hover and table: ("w", "b") for a model's weights
    axis_names: tuple[str, str] = ("x", "y")

    @property
    def minima(self) -> np.ndarray:
        """Global minimizers, shape (k, 2); k = 0 where there is none."""
        return np.array(self.minimizers, dtype=float).reshape(-1, 2)

    def f(self, xy) -> np.ndarray:
        """f over points of shape (..., 2); returns shape (...)."""
        xy = np.asarray(xy, dtype=float)
        with np.errstate(all="ignore"):
            return np.asarray(self.value(xy[..., 0], xy[..., 1]), dtype=float)

    def grad(self, xy) -> np.ndarray:
        """∇f over points of shape (..., 2); returns shape (..., 2)."""
        xy = np.asarray(xy, dtype=float)
        with np.errstate(all="ignore"):
            gx, gy = self.gradient(xy[..., 0], xy[..., 1])
        return np.stack(np.broadcast_arrays(gx, gy), axis=-1).astype(float)

    def evaluate(self, x, y):
        """(f, df/dx, df/dy) at x, y: the fused version where one is declared."""
        if self.value_and_grad is not None:
            return self.value_and_grad(x, y)
        gx, gy = self.gradient(x, y)
        return self.value(x, y), gx, gy

    def with_params(self, **values) -> Landscape:
        """The same landscape with other shape parameters (e.g. ``kappa=100``)."""
        if not values:
            return self
        if self.build is None:
            raise ValueError(f"landscape {self.name!r} has no parameters; got {sorted(values)}")
        specs = {p.name: p for p in self.params}
        checked = dict(self.param_values)
        for key, value in values.items():
            if key not in specs:
                raise ValueError(
                    f"unknown parameter {key!r} for landscape {self.name!r}; allowed: {', '.join(specs)}"
                )
            checked[key] = specs[key].check(value, owner=f"landscape {self.name}")
        built = self.build(**checked)
        return with_origin(built, self.origin)

    def __reduce__(self):
        # value and gradient are closures (formulas, models): pickle by name or text, and parameters
        if self.origin is None:
            return copyreg.__newobj__, (type(self),), {k: v for k, v in vars(self).items() if k != "_origin_copies"}
        key = self.name if self.formula is None else self.formula
        return self.origin, (key, dict(self.param_values))

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v:g}" for k, v in self.param_values.items())
        return f"Landscape({self.name!r}{extra})"


def parametrised(build: Callable, params: tuple[Param, ...]) -> Landscape:
    """Declare a landscape with shape parameters through its builder function."""
    defaults = {p.name: p.default for p in params}
    return replace(build(**defaults), params=params, param_values=defaults, build=_rebuild(build, params))


def _rebuild(build, params):
    def rebuild(**values):
        return replace(build(**values), params=params, param_values=values, build=_rebuild(build, params))

    return rebuild


def with_origin(land: Landscape, origin) -> Landscape:
    """land with ``origin`` as how it pickles: a copy of the record as it stands (not dataclasses.replace, which
    would read every field, and a network plane computes some of its fields only when they are first read)."""
    if land.origin is origin:
        return land
    made = land.__dict__.setdefault("_origin_copies", {})  # one copy per origin: a cached landscape stays one object
    if origin not in made:
        copy = object.__new__(type(land))
        copy.__dict__.update({k: v for k, v in land.__dict__.items() if k != "_origin_copies"})
        object.__setattr__(copy, "origin", origin)
        made[origin] = copy
    return made[origin]

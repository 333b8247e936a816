"""Landscape declarations and their registry. Adding one: declare a Landscape in a module here and list it below.

The declarations import only records (optlab.landscape, optlab.params, optlab.models); the engine
(optlab.simulation, optlab.sweeps) and the app look landscapes up here. ``optlab.get_landscape`` is this
``get_landscape``.
"""

from __future__ import annotations

from landscapes.classic import CLASSIC
from landscapes.models import MODELS
from landscapes.networks import NETWORKS
from landscapes.teaching import TEACHING
from optlab.landscape import Landscape, with_origin


def _registered(name: str, params: dict) -> Landscape:
    """What a registered landscape pickles to: its name and parameters (its functions are closures)."""
    return get_landscape(name, **params)


LANDSCAPES: dict[str, Landscape] = {
    landscape.name: with_origin(landscape, _registered) for landscape in (*CLASSIC, *TEACHING, *MODELS, *NETWORKS)
}


def landscape_names() -> list[str]:
    return list(LANDSCAPES)


def get_landscape(name, **params) -> Landscape:
    """A registered landscape by name (or a Landscape passed through), with parameters applied."""
    if isinstance(name, Landscape):
        return name.with_params(**params)
    if name not in LANDSCAPES:
        raise ValueError(f"unknown landscape {name!r}; allowed: {', '.join(LANDSCAPES)}")
    return LANDSCAPES[name].with_params(**params)


__all__ = ["LANDSCAPES", "get_landscape", "landscape_names"]

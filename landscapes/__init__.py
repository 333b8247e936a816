"""Landscape declarations. Adding one: declare a Landscape in a module here and list it below."""

from landscapes.classic import CLASSIC
from landscapes.models import MODELS
from landscapes.networks import NETWORKS
from landscapes.teaching import TEACHING

LANDSCAPES = {landscape.name: landscape for landscape in (*CLASSIC, *TEACHING, *MODELS, *NETWORKS)}

__all__ = ["LANDSCAPES"]

"""Parameter specs: one declaration drives validation, widgets, URLs and docs.

A :class:`Param` describes a hyperparameter of an optimizer, a schedule or a
landscape: its default, the values it accepts, the range a slider should offer,
whether that slider is logarithmic, its LaTeX symbol and a one-line meaning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Param:
    name: str
    default: float | bool | int
    low: float = -math.inf  # valid range (what simulate() accepts)
    high: float = math.inf
    low_open: bool = False  # True: the bound itself is not allowed
    high_open: bool = False
    ui_low: float | None = None  # range offered by the dashboard's widget
    ui_high: float | None = None
    ui_step: float | None = None  # the widget's step (None: a hundredth of the ui range, 1 for an int)
    log: bool = False
    symbol: str = ""
    help: str = ""
    kind: type = float  # float, int, bool, or str: one of ``choices``
    choices: tuple = ()  # kind str: the values allowed, as torch spells them (None too: LBFGS's line_search_fn)
    inf_ok: bool = False  # a float that may also be inf (Prodigy's growth_rate: unlimited, its default)
    none: str = ""  # a float that may also be None, meaning this (Prodigy's beta3=None: "√β2"); "": not allowed
    ui_options: tuple = ()  # a log slider's stops, where the decades' 1-2-5 do not fit (Prodigy's growth_rate)

    @property
    def allowed(self) -> str:
        """The valid range in words, as error messages state it."""
        if self.kind is bool:
            return "True or False"
        if self.kind is str:
            return "one of " + ", ".join(map(repr, self.choices))
        lo = "(" if self.low_open else "["
        hi = ")" if self.high_open or (self.high == math.inf and not self.inf_ok) else "]"
        none = f", or None ({self.none})" if self.none else ""
        return f"{self.kind.__name__} in {lo}{_fmt(self.low)}, {_fmt(self.high)}{hi}{none}"

    def accepts(self, value: float) -> bool:
        if self.kind is bool:
            return isinstance(value, (bool, np.bool_)) or value in (0, 1)
        if self.kind is str:
            return any(value is c or (isinstance(value, str) and value == c) for c in self.choices)
        if value is None:
            return bool(self.none)
        if not math.isfinite(value) and not (self.inf_ok and value == math.inf):
            return False
        if self.kind is int and value != int(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def check(self, value, *, owner: str, batch: int | None = None):
        """Return ``value`` as a float/bool/int or a float array of shape (B,).

        Raises ValueError naming the parameter, the value and what is allowed.
        """
        label = f"{owner} hyperparameter {self.name!r}" if owner else repr(self.name)
        if self.kind is str:  # a choice: one for every run
            if not self.accepts(value):
                raise ValueError(f"{label} = {value!r} is not allowed; allowed: {self.allowed} (one for all runs)")
            return value
        if value is None and self.none:  # one for every run
            return None
        arr = np.asarray(value)
        if arr.dtype == object or arr.dtype.kind not in "biuf":
            raise ValueError(f"{label} = {value!r} is not a number; allowed: {self.allowed}")
        if arr.ndim == 0:
            scalar = arr.item()
            if not self.accepts(scalar):
                raise ValueError(f"{label} = {value!r} is out of range; allowed: {self.allowed}")
            return self.kind(scalar)
        if self.kind is bool:
            raise ValueError(f"{label} must be a single True/False, not an array")
        if arr.ndim != 1 or (batch is not None and arr.shape[0] != batch):
            raise ValueError(
                f"{label} has shape {arr.shape}; allowed: a scalar or shape ({batch if batch else 'B'},)"
            )
        bad = [v for v in arr.tolist() if not self.accepts(v)]
        if bad:
            raise ValueError(f"{label} = {bad[0]!r} is out of range; allowed: {self.allowed}")
        values = arr.astype(float)
        if np.all(values == values[0]):  # a uniform batch is a scalar (and faster)
            return self.kind(values[0])
        return values


def _fmt(v: float) -> str:
    if v in (math.inf, -math.inf):
        return "inf" if v > 0 else "-inf"
    return f"{v:g}"

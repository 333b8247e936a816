"""Learning-rate schedules, each a multiplier of the base learning rate per step.

``multipliers(steps, **params)`` returns an array of shape (steps,): entry k is the
factor step k + 1 uses (so the first step always uses the base rate, as a
torch.optim.lr_scheduler stepped after each optimizer step would).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from optlab.params import Param


@dataclass(frozen=True)
class Schedule:
    name: str
    title: str
    params: tuple[Param, ...]
    factor: Callable  # factor(k, steps, **params) with k = 0 .. steps-1 (an array)
    latex: str
    torch: str  # the closest torch.optim.lr_scheduler

    def values(self, **params) -> dict:
        """Every parameter, defaults filled in and checked (ValueError naming a bad one)."""
        specs = {p.name: p for p in self.params}
        unknown = set(params) - set(specs)
        if unknown:
            raise ValueError(
                f"unknown parameter {sorted(unknown)[0]!r} for schedule {self.name!r}; "
                f"allowed: {', '.join(specs) or 'none'}"
            )
        values = {p.name: p.default for p in self.params}
        for key, value in params.items():
            values[key] = specs[key].check(value, owner=f"schedule {self.name}")
            if isinstance(values[key], np.ndarray):
                raise ValueError(f"schedule parameter {key!r} must be a single number")
        return values

    def multipliers(self, steps: int, **params) -> np.ndarray:
        values = self.values(**params)
        k = np.arange(steps, dtype=float)
        return np.broadcast_to(np.asarray(self.factor(k, steps, **values), dtype=float), (steps,)).copy()


def _cosine(k, steps, min_factor):
    return min_factor + (1 - min_factor) * 0.5 * (1 + np.cos(np.pi * k / steps))


def _warmup_cosine(k, steps, warmup, min_factor):
    warm = min(int(warmup), steps)
    rest = max(steps - warm, 1)
    return np.where(k < warm, (k + 1) / max(warm, 1), _cosine(k - warm, rest, min_factor))


MIN_FACTOR = Param("min_factor", 0.0, low=0.0, high=1.0, ui_low=0.0, ui_high=1.0, symbol=r"\eta_{min}/\eta",
                   help="the final learning rate, as a fraction of the base rate")
GAMMA = Param("gamma", 0.5, low=0.0, high=1.0, low_open=True, ui_low=0.01, ui_high=1.0, symbol=r"\gamma",
              help="factor the learning rate is multiplied by")

SCHEDULES = {
    s.name: s
    for s in (
        Schedule("constant", "Constant", (), lambda k, steps: np.ones_like(k), r"\eta_t = \eta",
                 "none"),
        Schedule(
            "step", "Step decay",
            (Param("step_size", 50, low=1, ui_low=1, ui_high=5000, kind=int, symbol="s",
                   help="steps between decays"), GAMMA),
            lambda k, steps, step_size, gamma: np.power(gamma, np.floor(k / step_size)),
            r"\eta_t = \eta\,\gamma^{\lfloor (t-1)/s \rfloor}", "StepLR",
        ),
        Schedule(
            "exponential", "Exponential decay",
            (Param("gamma", 0.99, low=0.0, high=1.0, low_open=True, ui_low=0.9, ui_high=1.0,
                   symbol=r"\gamma", help="factor per step"),),
            lambda k, steps, gamma: np.power(gamma, k),
            r"\eta_t = \eta\,\gamma^{t-1}", "ExponentialLR",
        ),
        Schedule("cosine", "Cosine", (MIN_FACTOR,), _cosine,
                 r"\eta_t = \eta\,[m + (1-m)\,\tfrac12(1+\cos\tfrac{\pi(t-1)}{T})]", "CosineAnnealingLR"),
        Schedule(
            "warmup_cosine", "Linear warm-up, then cosine",
            (Param("warmup", 20, low=0, ui_low=0, ui_high=1000, kind=int, symbol="w",
                   help="steps of linear warm-up"), MIN_FACTOR),
            _warmup_cosine,
            r"\eta_t = \eta\,t/w\ (t \le w),\ \text{then cosine over the remaining steps}",
            "LinearLR + CosineAnnealingLR (SequentialLR)",
        ),
        Schedule(
            "inverse_time", "Inverse time",
            (Param("decay", 0.01, low=0.0, ui_low=0.0, ui_high=1.0, symbol="k",
                   help="decay rate"),),
            lambda k, steps, decay: 1.0 / (1.0 + decay * k),
            r"\eta_t = \eta / (1 + k\,(t-1))", "LambdaLR",
        ),
    )
}


def schedule_names() -> list[str]:
    return list(SCHEDULES)


def get_schedule(name: str) -> Schedule:
    if isinstance(name, Schedule):
        return name
    try:
        return SCHEDULES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown schedule {name!r}; allowed: {', '.join(SCHEDULES)}") from None

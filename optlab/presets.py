"""One-click presets: a link's worth of settings, a sentence on what to notice, and a check.

Each preset's ``check(runs)`` asserts in numbers what its sentence claims, so a
preset cannot promise what its run does not show (tests/test_presets.py runs them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from optlab.config import RunConfig, from_query
from optlab.simulation import Run


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    query: dict  # in the URL schema
    notice: str  # what to look at
    check: Callable[[dict[str, Run]], bool]

    @property
    def config(self) -> RunConfig:
        cfg, problems = from_query(self.query)
        assert not problems, problems
        return cfg


def _distance(run: Run) -> float:
    return run.metrics()["distance_to_min"]


def _loss_rises(run: Run) -> int:
    return int(np.sum(np.diff(run.loss) > 1e-15))


PRESETS = {p.name: p for p in (
    Preset(
        "adam_vs_sgd", "Adam vs SGD",
        {"landscape": "rosenbrock", "opt": ["adam", "sgd"], "adam.lr": "0.05", "steps": "500"},
        "SGD (lr 0.001) creeps down the steep wall and barely moves along the flat valley: after 500 steps it "
        "is still more than 2 away from the minimum at (1, 1). Adam (lr 0.05) takes steps of about its "
        "learning rate whatever the gradient's size, reaches the valley floor early and ends about three times "
        "closer.",
        lambda r: _distance(r["sgd"]) > 2 and _distance(r["adam"]) < _distance(r["sgd"]) / 3,
    ),
    Preset(
        "momentum_overshoot", "Momentum overshoot",
        {"landscape": "ill_conditioned_bowl", "opt": ["sgd", "momentum"], "sgd.lr": "0.03", "momentum.lr": "0.03",
         "steps": "150"},
        "Same learning rate (0.03) on a valley 25 times steeper across than along. Plain SGD's loss falls at "
        "every step but it creeps along the flat x axis. Momentum builds speed, overshoots the valley floor "
        "again and again (its loss rises on dozens of steps), and still ends far closer to the minimum.",
        lambda r: _loss_rises(r["sgd"]) == 0 and _loss_rises(r["momentum"]) >= 20
        and _distance(r["momentum"]) < _distance(r["sgd"]) / 10,
    ),
    Preset(
        "saddle", "Saddle escape",
        {"landscape": "saddle", "opt": ["sgd", "momentum", "adam"], "sgd.lr": "0.01", "momentum.lr": "0.01",
         "adam.lr": "0.05", "steps": "200"},
        "The start sits a thousandth off the ridge of x² − y². Plain SGD's escape speed is proportional to "
        "that tiny y, so after 200 steps it is still next to the saddle point (0, 0). Momentum accumulates the "
        "small push and Adam normalises it to a full-size step: both have left.",
        lambda r: np.linalg.norm(r["sgd"].path[-1]) < 0.1
        and abs(r["adam"].path[-1][1]) > 1 and abs(r["momentum"].path[-1][1]) > 1,
    ),
    Preset(
        "rastrigin", "Rastrigin traps",
        {"landscape": "rastrigin", "opt": ["sgd", "momentum", "adam"], "sgd.lr": "0.002", "momentum.lr": "0.002",
         "adam.lr": "0.3", "steps": "400"},
        "All three stop in the ripple nearest the start, near (3, −2) with loss ≈ 13, not at the global "
        "minimum (0, 0) with loss 0: gradient methods find local minima, and on Rastrigin there is one in "
        "every cell.",
        lambda r: all(run.loss[-1] > 10 and np.linalg.norm(run.grad[-1]) < 1e-2 and _distance(run) > 3
                      for run in r.values()),
    ),
    Preset(
        "divergence", "lr too large",
        {"landscape": "rosenbrock", "opt": ["sgd", "adam"], "sgd.lr": "0.003", "adam.lr": "0.05", "steps": "300"},
        "SGD with lr 0.003 on Rosenbrock's steep walls overshoots further at every step and leaves the finite "
        "numbers within ten steps: its path stops there and the table gives the step. (lr 0.002 converges.) "
        "Adam's steps stay near its learning rate, so it does not blow up.",
        lambda r: r["sgd"].diverged_at is not None and r["sgd"].diverged_at <= 10 and r["adam"].diverged_at is None,
    ),
    Preset(
        "adamw_vs_adam", "AdamW vs Adam",
        {"landscape": "booth", "opt": ["adam", "adamw"], "adam.lr": "0.05", "adam.weight_decay": "0.5",
         "adamw.lr": "0.05", "adamw.weight_decay": "0.5", "steps": "500"},
        "Same λ = 0.5. Adam adds λ·θ to the gradient and then divides by the gradient's RMS, so the decay is "
        "rescaled away: it ends near Booth's minimum (1, 3). AdamW shrinks θ by lr·λ directly at every step "
        "and ends much closer to the origin.",
        lambda r: np.linalg.norm(r["adamw"].path[-1]) < 0.6 * np.linalg.norm(r["adam"].path[-1])
        and _distance(r["adam"]) < 0.3,
    ),
    Preset(
        "cliff_clipping", "Cliff, clipping",
        {"landscape": "plateau_cliff", "opt": ["sgd", "momentum"], "sgd.lr": "0.2", "momentum.lr": "0.02",
         "steps": "300"},
        "Both crawl across the plateau until the cliff, where the gradient is a hundred times larger: one step "
        "throws plain SGD several units past the minimum. Turn on clipping (say 1.0) and the jump is "
        "bounded by lr·c.",
        lambda r: np.nanmax(np.linalg.norm(np.diff(r["sgd"].path, axis=0), axis=1)) > 4,
    ),
)}

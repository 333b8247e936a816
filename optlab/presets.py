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


def _distance_at(run: Run, k: int) -> float:
    return float(np.linalg.norm(run.path[k] - run.landscape.minima, axis=1).min())


def _farthest(run: Run, after: int) -> float:
    """The largest distance to the nearest minimum from step ``after`` on."""
    return max(_distance_at(run, k) for k in range(after, run.steps + 1))


def _min_gap(run: Run, after: int) -> float:
    """How close the loss gets to the minimum from step ``after`` on."""
    return float(np.min(run.loss[after:]) - run.landscape.f_min)


def _with(run: Run, **changes) -> Run:
    """The same run with some arguments changed (for claims that compare with another setting)."""
    from optlab.simulation import simulate

    args = dict(landscape=run.landscape, optimizer=run.optimizer, start=run.path[0], steps=run.steps,
                seed=run.seed, batch_size=run.batch_size, **run.hparams)
    args.update(changes)
    return simulate(args.pop("landscape"), args.pop("optimizer"), **args)


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
    Preset(
        "minibatch_noise", "Minibatch noise",
        {"landscape": "linear_regression", "opt": ["sgd", "momentum"], "sgd.lr": "0.1", "momentum.lr": "0.02",
         "batch": "5"},
        "Each step's gradient comes from 5 of the 100 examples: a noisy estimate of the full gradient (the step "
        "inspector shows both). Both reach the minimum's neighbourhood within 100 steps and then keep "
        "jittering around it instead of settling: their loss never gets back down to the minimum, a noise "
        "floor. Set the minibatch size to 0 (all examples) and SGD lands on the minimum exactly.",
        lambda r: all(_min_gap(run, 100) > 1e-7 and _farthest(run, 100) < 0.2 for run in r.values())
        and _with(r["sgd"], batch_size=None).metrics()["final_loss"] - r["sgd"].landscape.f_min < 1e-12,
    ),
    Preset(
        "feature_scaling", "Feature scaling",
        {"landscape": "linear_regression_unscaled", "opt": ["sgd", "adam"], "sgd.lr": "0.1", "adam.lr": "0.2"},
        "The feature is not standardised (mean 4): w and b are coupled in a diagonal valley about 160 times "
        "steeper across than along. SGD's lr must stay below 2/19 ≈ 0.105 to be stable across it, so it "
        "crawls along it and has not reached the minimum after 300 steps; the same SGD on the standardised "
        "feature (Linear regression) gets there in under 60. Adam does not fix it: its per-coordinate "
        "scaling cannot straighten a diagonal valley.",
        lambda r: all(run.metrics()["steps_to_tol"] is None for run in r.values())
        and _with(r["sgd"], landscape="linear_regression", start=None).metrics()["steps_to_tol"] < 60,
    ),
    Preset(
        "logistic_minibatch", "Logistic, minibatches",
        {"landscape": "logistic_regression", "opt": ["sgd", "adam"], "sgd.lr": "3", "adam.lr": "0.1",
         "batch": "10"},
        "Minibatches of 10 on logistic regression. SGD with a large lr (3) is fast, within 0.5 of the minimum "
        "after 50 steps, but then wanders around it and ends about 0.25 away: the learning rate scales the "
        "noise. Adam's lr (0.1) bounds every step, so it arrives later and ends much closer.",
        lambda r: _distance_at(r["sgd"], 50) < 0.5 and _distance(r["sgd"]) > 0.15
        and _distance(r["adam"]) < _distance(r["sgd"]) / 3,
    ),
    Preset(
        "tiny_network", "Tiny network: saturation",
        {"landscape": "tiny_network", "opt": ["sgd", "momentum", "adam"], "sgd.lr": "0.1", "momentum.lr": "0.05",
         "adam.lr": "0.05", "x0": "-2.5", "y0": "0.3"},
        "The start has a large input weight (w = −2.5), so the tanh unit is saturated and the gradient is "
        "small: a vanishing gradient. Plain SGD is still slowly leaving that plateau after 300 steps (loss "
        "about twice the minimum). Momentum and Adam build up speed, cross the saddle region and settle in "
        "the mirror-image minimum with w < 0, v < 0 (the one on the side they started from).",
        lambda r: r["sgd"].metrics()["final_loss"] > 1.5 * r["sgd"].landscape.f_min
        and all(_distance(r[n]) < 0.01 and r[n].path[-1][0] < 0 and r[n].path[-1][1] < 0
                for n in ("momentum", "adam")),
    ),
)}

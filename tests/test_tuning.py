"""optlab.tuning: the tuned lr is the best of its grid, each run equal to a single simulate() run."""

import time

import numpy as np
import pytest

from optlab.simulation import simulate
from optlab.tuning import lr_grid, tune_all, tune_lr


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "lion"])
def test_pick_is_the_best_of_the_grid(optimizer):
    lrs = lr_grid(12)
    tuned = tune_lr("rosenbrock", optimizer, steps=150, lrs=lrs, hparams={"lr": 123.0})  # lr given: replaced
    singles = []
    for lr in lrs:
        run = simulate("rosenbrock", optimizer, steps=150, lr=float(lr))
        singles.append(np.inf if run.diverged_at is not None else float(run.loss[-1]))
    singles = np.array(singles)
    np.testing.assert_array_equal(tuned.scores, singles)
    assert tuned.scores[tuned.best] == singles.min()
    assert tuned.lr == lrs[int(np.argmin(singles))]


def test_same_start_budget_and_other_hyperparameters():
    tuned = tune_lr("booth", "momentum", start=(2.0, -3.0), steps=80, lrs=[0.001, 0.01, 0.05],
                    hparams={"momentum": 0.5}, seed=3, noise=0.1)
    run = simulate("booth", "momentum", start=(2.0, -3.0), steps=80, lr=tuned.lr, momentum=0.5, seed=3, noise=0.1)
    assert tuned.loss == float(run.loss[-1])


def test_diverged_runs_are_never_picked():
    tuned = tune_lr("rosenbrock", "sgd", steps=100, lrs=[0.001, 0.1, 1.0])
    assert tuned.diverged.tolist() == [False, True, True]
    assert tuned.lr == 0.001


def test_four_optimizers_forty_lrs_500_steps_within_a_second():
    tune_all("rosenbrock", ["sgd", "adam", "adamw", "lion"], steps=20)  # warm up
    t = time.perf_counter()
    tuned = tune_all("rosenbrock", ["sgd", "adam", "adamw", "lion"], steps=500)
    assert time.perf_counter() - t < 1.0
    assert all(len(t.lrs) == 40 for t in tuned.values())
    # AdamW and Lion at torch's defaults barely move on Rosenbrock; tuned, they get far lower
    for name, default in (("adamw", 1e-3), ("lion", 1e-4)):
        base = float(simulate("rosenbrock", name, steps=500, lr=default).loss[-1])
        assert tuned[name].loss < base / 10

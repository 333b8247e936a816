"""Presets say only what their runs show; the URL codec and the exports round-trip."""

import json
import runpy

import numpy as np
import pytest

import optlab
from optlab import config as C
from optlab.export import torch_script, trajectories_csv
from optlab.presets import PRESETS
from optlab.simulation import simulate

# Each preset's sentence, claim by claim: one assertion per claim, its comment naming the claim.
# Numbers the sentence rounds are checked to that rounding.


def _distance(run) -> float:
    return run.metrics()["distance_to_min"]


def _distances(run) -> np.ndarray:
    """Per step: the distance to the nearest declared minimum."""
    return np.linalg.norm(run.path[:, None, :] - run.landscape.minima[None], axis=-1).min(axis=1)


def _steps(run) -> np.ndarray:
    """Per step: its length ‖θ_k − θ_{k−1}‖."""
    return np.linalg.norm(np.diff(run.path, axis=0), axis=1)


def _coordinate_steps(run) -> np.ndarray:
    """Per step: the larger of |Δx| and |Δy|."""
    return np.abs(np.diff(run.path, axis=0)).max(axis=1)


def _first(mask) -> int | None:
    mask = np.asarray(mask)
    return int(np.argmax(mask)) if mask.any() else None


def _with(run, **changes):
    """The same run with some arguments changed (for claims that compare with another setting)."""
    args = dict(landscape=run.landscape, optimizer=run.optimizer, start=run.path[0], steps=run.steps,
                seed=run.seed, batch_size=run.batch_size, **run.hparams)
    args.update(changes)
    return simulate(args.pop("landscape"), args.pop("optimizer"), **args)


def _loss_rises(run) -> int:
    return int(np.sum(np.diff(run.loss) > 1e-15))


def _hessian(land, p, h=1e-5) -> np.ndarray:
    cols = []
    for e in np.eye(2) * h:
        cols.append((np.array(land.gradient(*(p + e))) - np.array(land.gradient(*(p - e)))) / (2 * h))
    return np.column_stack(cols)


def _table(runs):
    from optlab.ui import comparison_table

    return comparison_table(runs)


def check_adam_vs_sgd(r):
    sgd, adam = r["sgd"], r["adam"]
    assert sgd.hparams["lr"] == 0.001 and adam.hparams["lr"] == 0.05  # "SGD (lr 0.001)", "Adam (lr 0.05)"
    floor = lambda run: np.abs(run.path[:, 1] - run.path[:, 0] ** 2)  # noqa: E731  distance off y = x²
    assert floor(sgd)[10:].max() < 0.05  # SGD "reaches the valley floor (y ≈ x²) by step 10"
    assert 0.0015 < _steps(sgd)[20:].min() and _steps(sgd)[20:].max() < 0.0025  # "about 0.002 per step from 20 on"
    assert 2.05 < _distance(sgd) < 2.15  # "after 500 steps it is still 2.1 away from the minimum at (1, 1)"
    assert _coordinate_steps(adam).max() <= 0.05 * (1 + 1e-9)  # Adam "moves each coordinate by at most its lr"
    assert floor(adam)[20:].max() < 0.06  # (Adam is on the floor from step 20: "along the floor")
    along = np.median(_steps(adam)[20:])
    assert 0.13 < along / 0.05 < 0.17 and 0.0065 < along < 0.0075  # "a median 0.15·lr ≈ 0.007"
    v_hat = np.sqrt(adam.state["v"][-1] / (1 - 0.999 ** adam.steps))
    assert np.abs(adam.grad[0]).max() > 100  # "the steep wall's (over 100 at the start)"
    assert np.all(v_hat > 10 * np.abs(adam.grad[-1]))  # "its running average of squared gradients still holds" them
    assert along > 4 * np.median(_steps(sgd)[20:])  # "more than four times SGD's"
    assert 0.6 < _distance(adam) < 0.7  # "Adam ends 0.65 away"
    assert 2.8 < _distance(sgd) / _distance(adam) < 3.5  # "about three times closer"


def check_momentum_overshoot(r):
    sgd, mom = r["sgd"], r["momentum"]
    land = sgd.landscape
    assert sgd.hparams["lr"] == mom.hparams["lr"] == 0.03  # "Same learning rate (0.03)"
    assert land.gradient(0.0, 1.0)[1] == 25 * land.gradient(1.0, 0.0)[0]  # "25 times steeper across (y) than along"
    assert _loss_rises(sgd) == 0  # "Plain SGD's loss falls at every step"
    np.testing.assert_allclose(sgd.path[1:, 0] / sgd.path[:-1, 0], 0.97)  # "each step shrinks x by only 3 %"
    assert 0.045 < _distance(sgd) < 0.0475  # "after 150 steps it is still 0.047 from the minimum"
    dx = lambda run: np.abs(np.diff(run.path[:, 0])).max()  # noqa: E731
    assert 0.535 < dx(mom) < 0.545  # "its largest step along x, 0.54"
    assert 3.8 < dx(mom) / dx(sgd) < 4.2  # "is four times SGD's"
    y = mom.path[:, 1]
    assert np.sum(np.sign(y[1:]) * np.sign(y[:-1]) < 0) > 40  # "crosses it [y = 0] more than 40 times"
    assert 0.4 < _loss_rises(mom) / mom.steps < 0.6  # "its loss rises on about half of its steps"
    assert 0.00185 < _distance(mom) < 0.00195  # "ends ... (0.0019)"
    assert 22 < _distance(sgd) / _distance(mom) < 28  # "still ends 25 times closer"


def check_saddle(r):
    sgd, mom, adam = r["sgd"], r["momentum"], r["adam"]
    assert sgd.path[0][1] == 1e-3  # "a thousandth off the ridge of x² − y² (y = 0.001)"
    np.testing.assert_allclose(sgd.grad[:, 1], -2 * sgd.path[:, 1])  # "push off the ridge proportional to that y"
    np.testing.assert_allclose(sgd.path[1:, 1] / sgd.path[:-1, 1], 1.02)  # "which grows only 2 % a step"
    assert 0.045 < sgd.path[-1][1] < 0.055  # "after 200 steps y is 0.05"
    assert 0.065 < np.linalg.norm(sgd.path[-1]) < 0.075  # "still next to the saddle point (0, 0), 0.07 from it"
    growth = mom.path[151:, 1] / mom.path[150:-1, 1]
    assert np.all((1.10 < growth) & (growth < 1.115))  # momentum: "y grows 11 % a step"
    assert _first(np.abs(mom.path[:, 1]) > 1) == 72  # "and leaves (|y| > 1) at step 72"
    assert abs(mom.path[-1][1]) > 1  # (and has not come back)
    dy1 = abs(adam.path[1][1] - adam.path[0][1])
    np.testing.assert_allclose(dy1, 0.05, rtol=1e-4)  # Adam: "its first step moves y by lr = 0.05"
    np.testing.assert_allclose(dy1 / abs(adam.path[0][1]), 50, rtol=1e-3)  # "fifty times the offset"
    assert _first(np.abs(adam.path[:, 1]) > 1) == 20  # "and leaves at step 20"
    assert np.linalg.norm(adam.path[-1]) > 1  # (and has not come back)


def check_rastrigin(r):
    land = r["sgd"].landscape
    (x0, x1), (y0, y1) = land.domain
    # a local minimum next to every integer point: SGD started 0.2 off each settles within 0.05 of it
    xs, ys = range(int(np.ceil(x0)), int(x1) + 1), range(int(np.ceil(y0)), int(y1) + 1)
    points = np.array([(i, j) for i in xs for j in ys], dtype=float)
    local = simulate(land, "sgd", lr=0.002, steps=400, start=points + [0.2, -0.2]).path[-1]
    assert np.abs(local - points).max() < 0.05  # "Rastrigin has one next to every point with integer coordinates"
    start = r["sgd"].path[0]
    nearest = local[np.argmin(np.linalg.norm(local - start, axis=1))]
    for run in r.values():
        end = run.path[-1]
        assert _steps(run)[-100:].max() < 1e-6  # "All three stop"
        np.testing.assert_allclose(end, nearest, atol=1e-6)  # "in the ripple nearest the start"
        assert np.abs(end - [2.98, -1.99]).max() < 0.006  # "at (2.98, −1.99)"
        assert 12.85 < run.loss[-1] < 12.95  # "with loss 12.9"
        curvature = np.linalg.eigvalsh(_hessian(land, end))
        assert np.linalg.norm(run.grad[-1]) < 1e-6 and np.all(curvature > 0)  # "stop at a local minimum"
        assert _distance(run) > 3 and run.loss[-1] > 10  # "not at the global minimum (0, 0) with loss 0"
    assert land.minima.tolist() == [[0.0, 0.0]] and land.f(np.zeros(2)) == 0  # "global minimum (0, 0) with loss 0"


def check_divergence(r):
    sgd, adam = r["sgd"], r["adam"]
    assert sgd.hparams["lr"] == 0.003 and adam.hparams["lr"] == 0.05  # "SGD with lr 0.003", "Adam (lr 0.05)"
    lengths = _steps(sgd)[:6]
    assert np.all(np.diff(lengths) > 0)  # "each step is longer than the one before"
    assert [float(f"{s:.2g}") for s in lengths[:4]] == [0.49, 1.5, 12, 900]  # "(0.5, 1.5, 12, 900, …)"
    assert np.all(np.diff(sgd.loss[:7]) > 0)  # "the loss grows at every step"
    assert sgd.diverged_at == 7  # "until at step 7 it leaves the finite numbers"
    finite = np.isfinite(sgd.path).all(axis=1)
    assert finite[:7].all() and not finite[7:].any()  # "its path stops there"
    assert _table(r).loc["SGD", "diverged at step"] == "7"  # "and the table gives the step"
    slower = _with(sgd, lr=0.002)
    assert slower.diverged_at is None and 0.055 < _distance(slower) < 0.065  # "lr 0.002 ... 0.06 from the minimum"
    assert _coordinate_steps(adam).max() <= 0.05 * (1 + 1e-9)  # Adam "moves each coordinate by at most its lr"
    assert adam.diverged_at is None  # "so it does not blow up either"
    assert 1.55 < _distance(adam) < 1.65  # "it ends 1.6 from the minimum"


def check_adamw_vs_adam(r):
    adam, adamw = r["adam"], r["adamw"]
    lam, lr = 0.5, 0.05
    assert adam.hparams["weight_decay"] == adamw.hparams["weight_decay"] == lam  # "Same λ = 0.5"
    land = adam.landscape
    target = _with(adam, steps=5000).path[-1]  # where Adam with L2 is heading
    assert np.linalg.norm(np.array(land.gradient(*target)) + lam * target) < 1e-8  # "the minimum of f + (λ/2)‖θ‖²"
    assert np.abs(target - [1.15, 2.75]).max() < 0.005  # "at (1.15, 2.75)"
    assert 0.285 < np.linalg.norm(target - land.minima[0]) < 0.295  # "0.29 from Booth's minimum (1, 3)"
    sgd = simulate(land, "sgd", lr=lr, weight_decay=lam, start=adam.path[0], steps=adam.steps)
    assert np.linalg.norm(sgd.path[-1] - target) < 1e-9  # "SGD with the same weight decay and lr ends exactly there"
    end = adam.path[-1]
    assert np.abs(end - [1.01, 2.84]).max() < 0.006  # "after 500 steps it is at (1.01, 2.84)"
    assert 0.155 < np.linalg.norm(end - target) < 0.165  # "0.16 from that point"
    to_target = np.linalg.norm(adam.path - target, axis=1)
    assert _steps(adam)[-1] > 1e-4 and to_target[-1] < to_target[-50]  # "and still moving" (towards it)
    m, v = adamw.state["m"], adamw.state["v"]
    t = np.arange(1, adamw.steps + 1)[:, None]
    normalised = (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
    np.testing.assert_allclose(adamw.path[1:], adamw.path[:-1] * (1 - lr * lam) - lr * normalised,
                               rtol=1e-9, atol=1e-12)  # "shrinks θ by lr·λ·θ at every step, outside the division"
    assert np.abs(adamw.path[-1] - [0.93, 1.07]).max() < 0.006  # "it ends at (0.93, 1.07)"
    norm_w, norm_a = np.linalg.norm(adamw.path[-1]), np.linalg.norm(end)
    assert norm_w < norm_a / 2  # "less than half as far from the origin as Adam"
    assert 1.35 < norm_w < 1.45 and 2.95 < norm_a < 3.05  # "(1.4 against 3.0)"


def check_cliff_clipping(r):
    sgd, mom = r["sgd"], r["momentum"]
    land = sgd.landscape
    plateau = np.array([land.gradient(x, 0.0)[0] for x in np.linspace(-3.5, -0.5, 301)])
    assert -0.5501 < plateau.min() and plateau.max() < -0.2499  # "the plateau, whose slope along x is 0.25 to 0.55"
    assert _first(sgd.path[:, 0] > -0.5) == 40  # "SGD (lr 0.2) needs 40 steps"
    assert _first(mom.path[:, 0] > -0.5) == 44  # "momentum (lr 0.02) 44 to reach its edge at x = −0.5"
    cliff = max(abs(land.gradient(x, 0.0)[0]) for x in np.linspace(-0.2, 0.2, 4001))
    assert 99.5 < cliff < 100.5  # "The cliff's slope reaches 100"
    k = int(np.argmax(_steps(sgd)))
    assert 4.85 < _steps(sgd)[k] < 4.95  # "one step of 4.9"
    assert abs(sgd.path[k][0] - 0.07) < 0.005 and abs(sgd.path[k + 1][0] - 5.0) < 0.005  # "from x = 0.07 to 5.0"
    assert 2.95 < sgd.path[k + 1][0] - land.minima[0][0] < 3.05  # "3 units past the minimum (2, 0)"
    assert 0.375 < _steps(mom).max() < 0.385  # "momentum's largest step is 0.38"
    clipped = _steps(_with(sgd, clip_norm=1.0))
    assert clipped.max() <= 0.2 * (1 + 1e-6)  # "Turn on clipping (say 1.0) and every step of SGD is at most lr·c"


def check_minibatch_noise(r):
    from optlab.inspector import step_details

    sgd = r["sgd"]
    fmin = sgd.landscape.f_min
    assert sgd.batch_size == 5 and sgd.landscape.data_size == 100  # "comes from 5 of the 100 examples"
    noise = np.linalg.norm(sgd.grad_used - sgd.grad[:-1], axis=1) / np.linalg.norm(sgd.grad[:-1], axis=1)
    assert np.median(noise) > 0.1  # "a noisy estimate of the full gradient"
    rows = step_details(sgd, 100)["table"].index
    assert "∇f(θ_{k−1})" in rows and "g fed to the optimizer (minibatch gradient)" in rows  # "the inspector shows both"
    for run in r.values():
        gap = run.loss[100:] - fmin
        assert _distances(run)[100:].max() < 0.15  # "by step 100 ... from step 100 on they stay within 0.15 of it"
        steps = _steps(run)
        assert np.median(steps[200:]) > 0.9 * np.median(steps[100:200])  # "their steps do not shrink"
        assert 5e-4 < np.median(gap) < 2e-3  # "their loss stays a median 0.001 above the minimum's"
        assert gap.min() > 1e-7  # "instead of settling": never on the minimum
        assert 0.05 < np.mean(gap <= 1e-4) < 0.15  # "dips within the tolerance (1e-4) on about one step in ten"
    table = _table(r)
    assert table.loc["SGD", "steps to tolerance"] == "60"  # "first at step 60 for SGD"
    assert table.loc["SGD + momentum", "steps to tolerance"] == "159"  # "159 for momentum"
    full = C.run_one(C.from_query({**PRESETS["minibatch_noise"].query, "batch": "0"})[0], "sgd")
    assert full.batch_size is None  # "Set the minibatch size to 0 (all examples)"
    assert full.loss[-1] - fmin < 1e-12  # "and SGD lands on the minimum exactly"


def check_feature_scaling(r):
    sgd, adam = r["sgd"], r["adam"]
    land = sgd.landscape
    hessian = _hessian(land, land.minima[0])  # [[E u², E u], [E u, 1]]
    assert abs(hessian[0, 1] - 4) < 1e-6  # "not standardised (mean 4"
    assert abs(np.sqrt(hessian[0, 0] - hessian[0, 1] ** 2) - 1.5) < 1e-6  # "std 1.5)"
    (low, high), vectors = np.linalg.eigh(hessian)
    assert 155 < high / low < 170  # "a valley 160 times steeper across than along"
    assert 11 < np.degrees(np.arccos(abs(vectors[1, 0]))) < 13  # "its floor tilted 12° off the b axis"
    assert 19.05 < high < 19.15 and 0.1044 < 2 / high < 0.1046  # "2/19.1 ≈ 0.1045 (19.1 is the curvature across)"
    start = _distance(_with(sgd, steps=1))
    assert _distance(_with(sgd, lr=0.104)) < start < _distance(_with(sgd, lr=0.105))  # "must stay below ... stable"
    assert sgd.metrics()["steps_to_tol"] is None and 0.195 < _distance(sgd) < 0.205  # "after 300 steps still 0.2"
    assert _with(sgd, steps=3000).metrics()["steps_to_tol"] == 434  # "needs 434 steps to reach the tolerance"
    scaled = _with(sgd, landscape="linear_regression", start=None)
    assert scaled.metrics()["steps_to_tol"] == 56  # "the same SGD on the standardised feature gets there in 56"
    assert adam.metrics()["steps_to_tol"] is None and 0.255 < _distance(adam) < 0.265  # "Adam ... 0.26 away"
    scalings = np.logspace(-3, 3, 6001)
    best = min(np.linalg.cond(np.diag([1, s]) @ hessian @ np.diag([1, s])) for s in scalings)
    assert 29.5 < best < 31  # "even the best per-coordinate rescaling leaves it 30 times steeper across"


def check_logistic_minibatch(r):
    sgd, adam = r["sgd"], r["adam"]
    assert sgd.batch_size == adam.batch_size == 10  # "Minibatches of 10"
    assert sgd.hparams["lr"] == 3 and adam.hparams["lr"] == 0.1  # "SGD with a large lr (3)", "(lr 0.1)"
    d_sgd, d_adam = _distances(sgd), _distances(adam)
    assert _first(d_sgd < 0.5) == 26 and d_sgd[50] < 0.5  # SGD (lr 3) "within 0.5 of the minimum by step 26"
    assert 0.75 < d_sgd[50:].max() < 0.85  # "then wanders around it (up to 0.8 away after step 50)"
    assert 0.245 < d_sgd[-1] < 0.255  # "and ends 0.25 away"
    around = lambda run: np.median(_steps(run)[150:])  # noqa: E731
    assert 2.5 < around(sgd) / around(_with(sgd, lr=1.0)) < 3.5  # "with lr 1 its steps there are a third as long"
    assert _steps(adam).max() <= 0.1 * np.sqrt(2) * (1 + 1e-9)  # "Adam's steps are at most lr·√2 ≈ 0.14 long"
    assert _first(d_adam < 0.5) == 119  # "so it arrives later (within 0.5 at step 119)"
    assert 0.025 < d_adam[-1] < 0.035  # "and ends 0.03 away"
    assert 7 < d_sgd[-1] / d_adam[-1] < 9  # "eight times closer"


def check_tiny_network(r):
    from landscapes.models import _U  # the dataset's inputs

    sgd, mom, adam = r["sgd"], r["momentum"], r["adam"]
    w0 = sgd.path[0][0]
    assert w0 == -2.5  # "a large input weight (w = −2.5)"
    assert np.sum(np.abs(np.tanh(w0 * _U)) > 0.9) == 71 and len(_U) == 100  # "saturated ... on 71 of the 100"
    gw, gv = sgd.grad[0]
    assert abs(gw + 0.02) < 0.005 and abs(gv - 1.70) < 0.005  # "the gradient along w is small: −0.02, against 1.70"
    assert abs(sgd.loss[0] - 1.8) < 0.05 and abs(sgd.loss[20] - 0.08) < 0.005  # SGD "loss falls from 1.8 to 0.08 in 20"
    assert abs(sgd.path[20][0] - w0) < 0.05 < abs(sgd.path[20][1] - sgd.path[0][1])  # "by changing v (w barely moves)"
    assert abs(sgd.path[-1][0] + 1.96) < 0.005  # "after 300 steps w has moved only from −2.5 to −1.96"
    minimum = sgd.landscape.minima[np.argmin(sgd.landscape.minima[:, 0])]
    assert abs(minimum[0] + 1.43) < 0.005  # "(the minimum's is −1.43)"
    assert 2.25 < sgd.loss[-1] / sgd.landscape.f_min < 2.35  # "its loss is still 2.3 times the minimum"
    dw = lambda run: np.median(np.abs(np.diff(run.path[:, 0]))[20:100])  # noqa: E731
    assert 2.5 < dw(mom) / dw(sgd) < 3.5  # "their median w-steps over steps 20 to 100 are about 3"
    assert 16 < dw(adam) / dw(sgd) < 20  # "and 18 times SGD's"
    assert np.abs(minimum - [-1.43, -2.00]).max() < 0.005  # "the minimum at (−1.43, −2.00)"
    assert np.abs(sgd.landscape.minima.sum(axis=0)).max() < 1e-12  # "the mirror image of (1.43, 2.00)"
    for run in (mom, adam):
        d = np.linalg.norm(run.path - minimum, axis=1)
        assert _first(d < 0.01) <= 171 and d[171:].max() < 0.01  # "both settle within 0.01 ... by step 171"
        assert np.all(run.path[:, 0] < 0)  # "on the side they started from (w < 0)"


# --- the network planes' presets (optlab.networks) -------------------------------------------------

def _network(run):
    from optlab.networks.landscape import network_of

    return network_of(run.landscape)


def _test_accuracy(land, path) -> np.ndarray:
    """Per row of ``path`` (points z of the plane): the test accuracy of the network at θ(z), computed directly."""
    from optlab.networks.landscape import network_of

    source = network_of(land)
    plane, data = source.plane, source.data
    theta = plane.theta0[:, None] + np.outer(plane.d1, path[:, 0]) + np.outer(plane.d2, path[:, 1])  # (P, k)
    return (plane.net.predict(theta, data.X_test) == data.y_test).mean(axis=1)


def check_digits_adam_vs_sgd(r):
    sgd, adam = r["sgd"], r["adam"]
    land = sgd.landscape
    net = _network(sgd).plane.net
    assert net.sizes == (64, 32, 10) and net.size == 2410 and sgd.batch_size == adam.batch_size == 64  # "64-32-10"
    assert land.param_values["solutions"]  # "the plane through θ₀ and two trained networks"
    assert sgd.hparams["lr"] == 0.1 and adam.hparams["lr"] == 0.01  # "SGD (lr 0.1)", "Adam (lr 0.01)"
    a_sgd, a_adam = _test_accuracy(land, sgd.path), _test_accuracy(land, adam.path)
    assert _first(a_sgd >= 0.95) == 1  # SGD "reaches 95 % test accuracy in one step"
    assert 6.15 < np.linalg.norm(sgd.grad_used[0]) < 6.25  # "6.2 on its first minibatch"
    assert 0.615 < _steps(sgd)[0] < 0.625  # "so its first step is 0.62 long"
    steps = _coordinate_steps(adam)
    assert steps.max() < 1.03 * 0.01 and np.all(steps[:15] > 0.95 * 0.01)  # Adam "moves each coordinate by at most
    # about its learning rate a step" (its first steps that long, "whatever the gradient's size")
    np.testing.assert_allclose(_steps(adam)[0], 0.01 * np.sqrt(2), rtol=1e-6)  # "first step is lr·√2 ≈ 0.014"
    assert _first(a_adam >= 0.95) == 28  # "needs 28 steps to reach 95 %"
    assert f"{100 * a_sgd[-1]:.1f}" == "96.9" and f"{100 * a_adam[-1]:.1f}" == "96.2"  # "After 200 steps: ..."
    for run in (sgd, adam):
        random = _with(run, landscape=optlab.get_landscape("mlp_digits_plane"))
        assert _test_accuracy(random.landscape, random.path).max() < 0.12  # "On a random plane ... above 12 %"


def check_network_lr_too_large(r):
    sgd = r["sgd"]
    land = sgd.landscape
    minimum, fmin = land.minima[0], land.f_min
    sharpest = np.linalg.eigvalsh(_hessian(land, minimum)).max()
    assert 0.1505 < sharpest < 0.1515 and 13.25 < 2 / sharpest < 13.35  # "curvature is 0.151", "2/0.151 ≈ 13.3"
    assert sgd.hparams["lr"] == 14 and sgd.batch_size is None  # "With lr 14" (plain gradient descent)
    assert _first(sgd.loss - fmin < 0.01) == 5  # "gets within 0.01 of the minimum's loss in 5 steps"
    np.testing.assert_allclose(sgd.path[-1], sgd.path[-3], atol=1e-9)  # "ends bouncing between two points"
    assert 0.495 < _steps(sgd)[-1] < 0.505  # "0.50 apart"
    far, near = _distances(sgd)[-2:]
    assert 0.215 < near < 0.225 and 0.275 < far < 0.285  # "0.22 and 0.28 from the minimum"
    assert 0.45 < _loss_rises(sgd) / sgd.steps < 0.55  # "its loss rising on half of its steps"
    settled = _with(sgd, lr=13.0)
    assert _distances(settled)[-1] < 1e-5  # "With lr 13 it settles on the minimum (within 1e-5)"
    # "with lr 40 ... wanders the plane: ... median distance from the minimum is about 9, ... median loss 2.5 times
    # the minimum's", "chaotic: the last bits of a CPU's exp and tanh change its path, not those figures": checked
    # from the start and from starts moved by rounding-sized amounts (AVX-512 NumPy's exp and tanh, a last bit
    # apart from libm's, sent this run 2.5 instead of 12 from the minimum at its end)
    paths = []
    for nudge in (0.0, 1e-13, -1e-12, 1e-10, -1e-8):
        thrown = _with(sgd, lr=40.0, start=sgd.path[0] + [nudge, 0.0])
        far, ratio = _distances(thrown)[1:], thrown.loss[1:] / fmin
        assert 8.0 < np.median(far) < 10.0 and 2.2 < np.median(ratio) < 3.0
        assert np.mean(far[100:] > 1.0) > 0.95  # out of the valley, not settling
        paths.append(thrown.path[-1])
    assert np.ptp(np.array(paths), axis=0).max() > 1.0  # "chaotic": rounding-sized nudges end far apart


def check_network_feature_scaling(r):
    sgd = r["sgd"]
    raw = sgd.landscape
    scaled = optlab.get_landscape("mlp_digits_plane")
    raw_plane, scaled_plane = _network(sgd).plane, network_of_land(scaled).plane
    np.testing.assert_array_equal(raw_plane.theta0, scaled_plane.theta0)  # "The same network, θ₀"
    np.testing.assert_array_equal(raw_plane.d1, scaled_plane.d1)  # "and plane"
    np.testing.assert_array_equal(raw_plane.d2, scaled_plane.d2)
    data = _network(sgd).data
    assert data.X.min() == 0 and data.X.max() == 16 and not data.standardise  # "raw pixel intensities (0 to 16)"
    sharp_raw = np.linalg.eigvalsh(_hessian(raw, raw.minima[0])).max()
    sharp_scaled = np.linalg.eigvalsh(_hessian(scaled, scaled.minima[0])).max()
    assert 2.245 < sharp_raw < 2.255 and 0.205 < sharp_scaled < 0.215  # "2.25 instead of 0.21"
    assert 9.5 < sharp_raw / sharp_scaled < 11.5  # "ten times steeper"
    assert 0.885 < 2 / sharp_raw < 0.895 and 9.55 < 2 / sharp_scaled < 9.65  # "below 2/2.25 ≈ 0.89 instead of 9.6"
    assert sgd.hparams["lr"] == 1 and sgd.steps == 300  # "With lr 1", "its 300 steps"
    assert 0.4 < _loss_rises(sgd) / sgd.steps < 0.6  # "bounces (its loss rises on about half of its steps)"
    assert 2.3665 < sgd.loss[-1] < 2.3675 and 2.3485 < raw.f_min < 2.3495  # "ends at loss 2.367, above ... 2.349"
    same = _with(sgd, landscape=scaled)
    assert _distances(same)[-1] < 1e-6 and same.loss[-1] - scaled.f_min < 1e-12  # "settles on the minimum"
    full = {}
    for land in (raw, scaled):
        source = network_of_land(land)
        full[land.param_values["standardise"]] = source.score(source.full_network())
    assert f"{100 * full[False]:.1f}" == "94.4" and f"{100 * full[True]:.1f}" == "97.3"  # "94.4 % ..., 97.3 %"
    assert "94.4 % for the full network" in raw.lesson  # (the lesson beside the plot says so too)


def network_of_land(land):
    from optlab.networks.landscape import network_of

    return network_of(land)


def check_two_solutions(r):
    sgd, adam = r["sgd"], r["adam"]
    land = sgd.landscape
    source = _network(sgd)
    plane = source.plane
    np.testing.assert_array_equal(plane.theta(0.0, 0.0), plane.net.init(0))  # "θ₀ (at (0, 0))"
    np.testing.assert_allclose(plane.theta(1.0, 0.0), source.trained["momentum"], rtol=1e-12, atol=1e-14)  # "(1, 0)"
    np.testing.assert_allclose(plane.theta(0.0, 1.0), source.trained["adam"], rtol=1e-12, atol=1e-14)  # "(0, 1)"
    t = np.linspace(0.0, 1.0, 201)
    line = np.column_stack([1 - t, t])
    f = land.f(line)
    np.testing.assert_allclose(f, plane.net.value(np.stack([plane.theta(*z) for z in line], axis=1),
                                                  source.data.X, source.data.y), rtol=1e-12)  # (the loss of θ(z))
    assert np.all(np.diff(f) < 0)  # "On the straight line between the two solutions the loss falls at every point"
    assert f"{f[0]:.3g}" == "0.0131" and f"{f[-1]:.2g}" == "0.0014"  # "from 0.0131 to 0.0014"
    accuracy = _test_accuracy(land, line)
    assert f"{100 * accuracy.min():.1f}" == "96.0" and f"{100 * accuracy.max():.1f}" == "97.3"  # "96.0 % and 97.3 %"
    for end in ([1.0, 0.0], [0.0, 1.0]):
        assert np.all(np.diff(land.f(np.outer(t, end))) < 0)  # "falls all the way along the lines from θ₀ to each"
    assert sgd.path[0].tolist() == adam.path[0].tolist() == [1.0, 0.0]  # "Started at the momentum solution"
    assert sgd.hparams["lr"] == 0.1 and adam.hparams["lr"] == 0.01 and sgd.steps == 300  # "(lr 0.1)", "after 300"
    for run in (sgd, adam):
        assert run.loss[-1] < f[-1] and _loss_rises(run) == 0  # "keep descending, past both solutions"
    assert 11 < sgd.loss[0] / sgd.loss[-1] < 12  # "11"
    assert 38.5 < adam.loss[0] / adam.loss[-1] < 39.5  # "and 39 times lower than where they started"


CHECKS = {name[len("check_"):]: f for name, f in globals().items() if name.startswith("check_")}


def test_every_preset_has_a_check_of_its_sentence():
    assert set(CHECKS) == set(PRESETS)


@pytest.mark.parametrize("name", list(PRESETS))
def test_each_preset_sentence_holds_in_its_numbers(name):
    CHECKS[name](C.run_all(PRESETS[name].config))


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_links_round_trip(name):
    cfg = PRESETS[name].config
    again, problems = C.from_query(C._group(C.to_query(cfg)))
    assert not problems and again == cfg


def test_defaults_are_left_out_of_links():
    cfg, _ = C.from_query({"opt": ["adam"], "adam.lr": "0.001", "adam.beta1": "0.9", "steps": "300"})
    assert C.to_query(cfg) == [("landscape", "rosenbrock"), ("opt", "adam")]


def test_config_json_spells_out_every_value():
    cfg = PRESETS["adamw_vs_adam"].config
    data = json.loads(C.to_json(cfg))
    assert data["optimizers"]["adamw"]["weight_decay"] == 0.5 and data["optimizers"]["adam"]["beta2"] == 0.999
    assert data["start"] == list(optlab.get_landscape("booth").start)


def test_trajectories_csv_has_every_optimizer_and_step():
    import io

    import pandas as pd

    runs = C.run_all(PRESETS["saddle"].config)
    frame = pd.read_csv(io.StringIO(trajectories_csv(runs)))
    assert set(frame["optimizer"]) == {"sgd", "momentum", "adam"}
    assert len(frame) == 3 * 201
    np.testing.assert_allclose(frame[frame.optimizer == "adam"][["x", "y"]].to_numpy(), runs["adam"].path,
                               rtol=1e-15)


CUSTOM_LINK = {"landscape": "custom", "formula": "(x^2 + y - 11)^2 + (x + y^2 - 7)^2", "opt": ["adam", "rmsprop"],
               "adam.lr": "0.1", "steps": "100", "x0": "0.5", "y0": "-0.5"}


@pytest.mark.parametrize("name", ["adam_vs_sgd", "momentum_overshoot", "custom formula", "tiny_network"])
def test_torch_script_reproduces_the_runs(name, capsys, tmp_path, monkeypatch):
    import io

    import pandas as pd

    torch = pytest.importorskip("torch")
    cfg = C.from_query(CUSTOM_LINK)[0] if name == "custom formula" else PRESETS[name].config
    script = tmp_path / "runs.py"
    script.write_text(torch_script(cfg), encoding="utf-8")
    monkeypatch.setattr("sys.argv", [str(script)])  # the script's CSV goes to stdout
    previous = torch.get_default_dtype()
    try:
        runpy.run_path(str(script), run_name="__main__")
    finally:
        torch.set_default_dtype(previous)  # the script sets float64
    printed = pd.read_csv(io.StringIO(capsys.readouterr().out))
    runs = C.run_all(cfg)
    last = printed.groupby("optimizer", sort=False).last()  # each run's final point
    for opt, row in last.iterrows():
        np.testing.assert_allclose(row[["x", "y"]].to_numpy(float), runs[opt].path[-1], rtol=1e-9)
    assert len(last) == len(cfg.optimizers)

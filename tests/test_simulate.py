"""simulate(): shapes, batches, divergence, noise, clipping, schedules, metrics, validation."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import optlab
from optlab.simulation import MAX_STEPS


def test_single_run_shapes_and_records():
    run = optlab.simulate("rosenbrock", "adam", start=(-1.5, 2.0), steps=30, lr=0.05)
    assert run.path.shape == (31, 2) and run.path.dtype == np.float64
    assert run.loss.shape == (31,) and run.grad.shape == (31, 2)
    assert run.lr.shape == (30,) and run.grad_used.shape == (30, 2)
    assert set(run.state) == {"m", "v", "v_max"} and run.state["m"].shape == (30, 2)
    np.testing.assert_array_equal(run.path[0], [-1.5, 2.0])
    land = optlab.get_landscape("rosenbrock")
    np.testing.assert_array_equal(run.loss, land.f(run.path))
    np.testing.assert_array_equal(run.grad, land.grad(run.path))
    assert run.diverged_at is None and not run.batched


def test_default_start_is_the_landscapes():
    run = optlab.simulate("himmelblau", "sgd", steps=3)
    np.testing.assert_array_equal(run.path[0], optlab.get_landscape("himmelblau").start)


def test_batch_shapes():
    starts = np.array([[-1.5, 2.0], [0.0, 0.0], [1.5, -0.5]])
    run = optlab.simulate("rosenbrock", "adam", start=starts, steps=10, lr=[0.01, 0.02, 0.03])
    assert run.path.shape == (11, 3, 2) and run.loss.shape == (11, 3)
    assert run.state["v"].shape == (10, 3, 2) and run.lr.shape == (10, 3)
    assert run.diverged_at == [None, None, None]
    np.testing.assert_array_equal(run.lr[0], [0.01, 0.02, 0.03])


def test_one_start_with_per_run_hyperparameters_broadcasts_the_start():
    run = optlab.simulate("bowl", "sgd", start=(1.0, 1.0), steps=5, lr=np.array([0.1, 0.2]))
    assert run.path.shape == (6, 2, 2)
    np.testing.assert_allclose(run.path[1, :, 0], [0.9, 0.8])


OPT_NAMES = optlab.optimizer_names()
LAND_NAMES = optlab.landscape_names()


def edges(p) -> list[float]:
    """The values at the ends of a hyperparameter's ranges (valid and slider), zero where allowed, its default."""
    out = set() if p.default is None else {float(p.default)}  # None (Prodigy's beta3: √β2) is one for all runs
    for v in (p.low, p.ui_low, p.ui_high, 0.0):
        if v is not None and p.accepts(v):
            out.add(float(v))
    if np.isfinite(p.high):
        out.add(float(np.nextafter(p.high, -np.inf)) if p.high_open else float(p.high))
    return sorted(out)


def per_run_values(data, p) -> np.ndarray:
    """Three runs' values: two from the edges (zeros included), one from inside the slider's range."""
    if p.name == "lr":  # a step size the runs survive for a while, and the edges (0: θ stays put)
        inside = st.floats(-4, -0.5).map(lambda e: 10.0**e)
        pool = st.sampled_from([0.0, p.ui_low, 1e-3, 0.1]) | inside
    elif p.kind is int:  # LBFGS's max_iter, history_size ...: integers, edges included
        inside = st.integers(int(p.ui_low), int(p.ui_high))
        pool = st.sampled_from([int(v) for v in edges(p) if v == int(v)]) | inside
    else:
        inside = st.floats(p.ui_low, p.ui_high)
        pool = st.sampled_from(edges(p)) | inside
    return np.array([data.draw(pool, label=f"{p.name}[0]"), data.draw(pool, label=f"{p.name}[1]"),
                     data.draw(inside, label=f"{p.name}[2]")])


@pytest.mark.parametrize("name", OPT_NAMES)
@settings(max_examples=15, deadline=None)
@given(
    landscape=st.sampled_from(LAND_NAMES),
    noise=st.sampled_from([0.0, 0.3, (0.0, 0.3, 0.0)]),
    clip=st.sampled_from([None, 1.0]),
    schedule=st.sampled_from(optlab.schedule_names()),
    data=st.data(),
)
def test_batch_equals_single_runs_to_the_last_bit(name, landscape, noise, clip, schedule, data):
    # Every hyperparameter per run (zeros and range edges included), every switch: a run in a batch takes
    # exactly its own torch branch (λ = 0, μ = 0 ...), so it is its single run bit for bit, not to rounding:
    # the batch picks element-wise between results of the same correctly rounded + − × ÷ √ on the same inputs.
    opt = optlab.get_optimizer(name)
    land = optlab.get_landscape(landscape)
    rng = np.random.default_rng(0)
    (x0, x1), (y0, y1) = land.domain
    starts = np.column_stack([rng.uniform(x0, x1, 3), rng.uniform(y0, y1, 3)])
    hp = {}
    for p in opt.hparams:
        hp[p.name] = (data.draw(st.booleans(), label=p.name) if p.kind is bool else
                      data.draw(st.sampled_from(p.choices), label=p.name) if p.kind is str  # one for every run
                      else per_run_values(data, p))
    if hp.get("nesterov"):  # torch (and optlab) require momentum > 0 and no dampening for every run
        hp["momentum"] = np.where(hp["momentum"] > 0, hp["momentum"], 0.5)
        hp["dampening"] = 0.0
    seeds = np.array([1, 2, 1])
    sigma = np.array(noise) if isinstance(noise, tuple) else noise
    common = dict(steps=40, clip_norm=clip, schedule=schedule)
    batch = optlab.simulate(land, name, start=starts, seed=seeds, noise=sigma, **common, **hp)
    for i in range(3):
        single = optlab.simulate(land, name, start=starts[i], seed=int(seeds[i]),
                                 noise=float(sigma[i]) if isinstance(sigma, np.ndarray) else sigma, **common,
                                 **{k: (v[i].item() if isinstance(v, np.ndarray) else v) for k, v in hp.items()})
        row = batch.run(i)
        np.testing.assert_array_equal(row.path, single.path)
        np.testing.assert_array_equal(row.loss, single.loss)
        np.testing.assert_array_equal(row.lr, single.lr)
        np.testing.assert_array_equal(row.grad, single.grad)
        np.testing.assert_array_equal(row.grad_used, single.grad_used)
        for key in single.state:
            np.testing.assert_array_equal(row.state[key], single.state[key])
        assert row.diverged_at == single.diverged_at
        if opt.evaluates:  # and every point it evaluated inside its steps
            for a, b in zip(row.trace, single.trace, strict=True):
                np.testing.assert_array_equal(a["evaluated"], b["evaluated"])


@pytest.mark.parametrize("name", ["adam", "nadam", "radam", "sgd"])
def test_shared_coefficients_change_no_bit(name):
    # per-step coefficients are computed once per distinct hyperparameter combination and gathered;
    # that may not change a single run's numbers
    rng = np.random.default_rng(5)
    starts = rng.uniform(-4, 4, (8, 2))
    hp = {"lr": np.array([1e-3, 1e-2, 1e-3, 5e-2, 1e-2, 1e-3, 2e-2, 1e-2])}
    if name != "sgd":  # repeated values: the same β1^t serves several runs
        hp["beta1"] = np.array([0.9, 0.5, 0.9, 0.0, 0.5, 0.95, 0.9, 0.5])
    else:
        hp["momentum"] = np.array([0.3, 0.9, 0.9, 0.5, 0.3, 0.9, 0.5, 0.5])  # μ = 0 keeps no buffer
    seeds = np.arange(8) % 3
    batch = optlab.simulate("rastrigin", name, start=starts, steps=60, noise=0.3, seed=seeds, **hp)
    for i in range(8):
        single = optlab.simulate("rastrigin", name, start=starts[i], steps=60, noise=0.3, seed=int(seeds[i]),
                                 **{k: float(v[i]) for k, v in hp.items()})
        row = batch.run(i)
        np.testing.assert_array_equal(row.path, single.path)
        np.testing.assert_array_equal(row.loss, single.loss)
        for key in single.state:
            np.testing.assert_array_equal(row.state[key], single.state[key])


def test_divergence_is_recorded_and_silent():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any NumPy RuntimeWarning fails the test
        run = optlab.simulate("rosenbrock", "sgd", start=(-1.5, 2.0), steps=100, lr=1.0)
        batch = optlab.simulate("rosenbrock", "sgd", start=(-1.5, 2.0), steps=100, lr=[1.0, 1e-4])
    d = run.diverged_at
    assert d is not None and 1 <= d < 100
    assert np.isfinite(run.path[:d]).all() and np.isfinite(run.loss[:d]).all()
    assert np.isnan(run.path[d:]).all() and np.isnan(run.loss[d:]).all()
    assert np.isnan(run.state["b"][d - 1:]).all() and np.isnan(run.grad_used[d - 1:]).all()
    assert batch.diverged_at == [d, None]
    np.testing.assert_array_equal(batch.run(0).path, run.path)


@pytest.mark.parametrize("diverging", [1, 5, 12, 16])
def test_divergence_of_few_many_and_all_runs_of_a_batch_is_each_single_run_s(diverging):
    # run.mark_divergence looks at a gathered copy of a few suspects, at the full arrays for many, and fills
    # the rows after every run's divergence at once when all diverge: each way, every run is its single run
    lrs = np.where(np.arange(16) < diverging, np.linspace(0.5, 1.5, 16), np.linspace(1e-4, 1e-3, 16))
    starts = np.column_stack([np.linspace(-1.5, -1.0, 16), np.full(16, 2.0)])
    batch = optlab.simulate("rosenbrock", "momentum", start=starts, steps=60, lr=lrs, record_state=True)
    assert sum(d is not None for d in batch.diverged_at) == diverging
    for i in range(16):
        single = optlab.simulate("rosenbrock", "momentum", start=starts[i], steps=60, lr=float(lrs[i]))
        row = batch.run(i)
        assert row.diverged_at == single.diverged_at
        for a, b in [(row.path, single.path), (row.loss, single.loss), (row.grad, single.grad),
                     (row.grad_used, single.grad_used), (row.state["b"], single.state["b"])]:
            np.testing.assert_array_equal(a, b)


def test_a_float_overflow_in_the_fast_path_is_divergence_not_an_exception():
    # Goldstein–Price overflows quickly with a large step; Python floats raise OverflowError
    run = optlab.simulate("goldstein_price", "sgd", steps=50, lr=10.0)
    batch = optlab.simulate("goldstein_price", "sgd", steps=50, lr=[10.0, 10.0 + 1e-12])
    assert run.diverged_at is not None
    assert batch.diverged_at[0] == run.diverged_at


def test_noise_is_seeded_and_shared_by_runs_with_the_same_seed():
    a = optlab.simulate("bowl", "sgd", steps=50, lr=0.1, noise=0.5, seed=7)
    b = optlab.simulate("bowl", "sgd", steps=50, lr=0.1, noise=0.5, seed=7)
    c = optlab.simulate("bowl", "sgd", steps=50, lr=0.1, noise=0.5, seed=8)
    np.testing.assert_array_equal(a.path, b.path)
    assert not np.array_equal(a.path, c.path)
    clean = optlab.simulate("bowl", "sgd", steps=50, lr=0.1)
    np.testing.assert_array_equal(a.grad, optlab.get_landscape("bowl").grad(a.path))  # grad is the true ∇f
    assert not np.array_equal(a.grad_used, clean.grad_used[:, :])
    noise = a.grad_used - a.grad[:-1]
    assert 0.35 < noise.std() < 0.65  # the requested scale


def test_noise_is_off_by_default_and_clipping_too():
    run = optlab.simulate("plateau_cliff", "sgd", steps=60, lr=0.1)
    np.testing.assert_array_equal(run.grad_used, run.grad[:-1])


def test_gradient_clipping_bounds_the_step():
    free = optlab.simulate("plateau_cliff", "sgd", steps=200, lr=0.2)
    clipped = optlab.simulate("plateau_cliff", "sgd", steps=200, lr=0.2, clip_norm=1.0)
    step_free = np.linalg.norm(np.diff(free.path, axis=0), axis=1)
    step_clipped = np.linalg.norm(np.diff(clipped.path, axis=0), axis=1)
    # the cliff throws plain SGD far away (an exploding gradient): one step ≫ the plateau's steps
    assert np.nanmax(step_free) > 4 and np.nanmax(step_free) > 15 * step_free[0]
    assert step_clipped.max() <= 0.2 * 1.0 + 1e-12
    assert np.linalg.norm(clipped.grad_used, axis=1).max() <= 1.0 + 1e-12


@settings(max_examples=80, deadline=None)
@given(
    name=st.sampled_from(optlab.schedule_names()),
    steps=st.integers(1, 3000),
    gamma=st.floats(0.5, 1.0),
    min_factor=st.floats(0.0, 1.0),
)
def test_schedules_are_positive_and_start_at_the_base_rate(name, steps, gamma, min_factor):
    params = {
        "step": {"gamma": gamma, "step_size": 7}, "exponential": {"gamma": 0.9 + gamma / 10},  # 0.5**1075 = 0
        "cosine": {"min_factor": min_factor}, "warmup_cosine": {"min_factor": min_factor, "warmup": 0},
        "inverse_time": {"decay": 1 - gamma},
    }.get(name, {})
    m = optlab.get_schedule(name).multipliers(steps, **params)
    assert m.shape == (steps,)
    assert np.all(m <= 1.0 + 1e-12) and np.all(m >= 0)
    assert m[0] == pytest.approx(1.0)
    if min_factor > 0 or name not in ("cosine", "warmup_cosine"):
        assert np.all(m > 0)


def test_warmup_rises_linearly_then_decays():
    m = optlab.get_schedule("warmup_cosine").multipliers(100, warmup=10)
    np.testing.assert_allclose(m[:10], np.arange(1, 11) / 10)
    assert np.all(np.diff(m[10:]) <= 0)


def test_schedule_sets_the_recorded_learning_rate():
    run = optlab.simulate("bowl", "sgd", steps=6, lr=0.1, schedule="step", schedule_params={"step_size": 2,
                                                                                          "gamma": 0.5})
    np.testing.assert_allclose(run.lr, [0.1, 0.1, 0.05, 0.05, 0.025, 0.025])


def test_metrics():
    run = optlab.simulate("bowl", "sgd", start=(3.0, 4.0), steps=100, lr=0.1)
    m = run.metrics(tol=1e-4)
    loss = 12.5 * 0.81 ** np.arange(101)  # ½·25·(0.9^k)²
    assert m["final_loss"] == pytest.approx(loss[-1])
    assert m["best_loss"] == pytest.approx(loss.min())
    assert m["steps_to_tol"] == int(np.argmax(loss <= 1e-4))
    assert m["distance_to_min"] == pytest.approx(5 * 0.9**100)
    assert m["path_length"] == pytest.approx(5 * (1 - 0.9**100))
    assert m["diverged_at"] is None
    saddle = optlab.simulate("saddle", "sgd", steps=10, lr=0.01).metrics()
    assert saddle["steps_to_tol"] is None and saddle["distance_to_min"] is None


def test_metrics_of_a_batch_and_a_diverged_run():
    run = optlab.simulate("rosenbrock", "sgd", steps=100, lr=[1.0, 1e-3])
    m = run.metrics()
    assert m["diverged_at"][0] is not None and m["diverged_at"][1] is None
    assert np.isnan(m["final_loss"][0]) and np.isfinite(m["best_loss"][0])
    assert np.isfinite(m["path_length"][0])
    table = run.summary()
    assert list(table.columns) == ["final_loss", "best_loss", "steps_to_tol", "distance_to_min", "path_length",
                                   "diverged_at"]
    assert len(table) == 2


def test_to_frame_is_tidy():
    run = optlab.simulate("rosenbrock", "adam", steps=5, lr=0.05)
    df = run.to_frame()
    assert len(df) == 6 and df["step"].tolist() == list(range(6))
    np.testing.assert_array_equal(df[["x", "y"]].to_numpy(), run.path)
    assert np.isnan(df.loc[0, "exp_avg_x"]) and df.loc[3, "exp_avg_y"] == run.state["m"][2, 1]  # m: torch's exp_avg
    assert df.loc[1, "lr"] == 0.05
    batch = optlab.simulate("rosenbrock", "adam", start=[[-1.5, 2.0], [0.0, 0.0]], steps=5, lr=0.05)
    frame = batch.to_frame()
    assert len(frame) == 12
    np.testing.assert_array_equal(frame[frame.run == 1][["x", "y"]].to_numpy(), batch.path[:, 1])


def test_record_state_false_keeps_path_and_loss_only():
    run = optlab.simulate("rosenbrock", "adam", steps=20, lr=0.05, record_state=False)
    full = optlab.simulate("rosenbrock", "adam", steps=20, lr=0.05)
    np.testing.assert_array_equal(run.path, full.path)
    assert run.grad is None and run.state == {}
    assert {"x", "y", "loss", "lr"} <= set(run.to_frame().columns)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"optimizer": "adamm"}, r"unknown optimizer 'adamm'; allowed: sgd, momentum"),
        ({"landscape": "nope"}, r"unknown landscape 'nope'; allowed: rosenbrock"),
        ({"lr": -0.1}, r"'lr' = -0.1 is out of range; allowed: float in \[0, inf\)"),
        ({"beta1": 1.0}, r"'beta1' = 1.0 is out of range; allowed: float in \[0, 1\)"),
        ({"beta2": -0.1}, r"'beta2' = -0.1 is out of range"),
        ({"eps": float("nan")}, r"'eps' = nan is out of range"),
        ({"lr": "fast"}, r"'lr' = 'fast' is not a number"),
        ({"steps": 0}, rf"steps = 0 is out of range; allowed: an integer in \[1, {MAX_STEPS}\]"),
        ({"steps": MAX_STEPS + 1}, r"steps = 20001 is out of range"),
        ({"steps": 2.5}, r"steps = 2.5 is out of range"),
        ({"start": (1.0, 2.0, 3.0)}, r"start = \(1.0, 2.0, 3.0\) has the wrong shape; allowed: shape \(2,\) or \(B"),
        ({"start": "origin"}, r"start = 'origin' has the wrong shape"),
        ({"start": (np.inf, 0.0)}, r"start = .* is not finite"),
        ({"momentum": 0.9}, r"unknown hyperparameter 'momentum' for adam; allowed: lr, beta1, beta2"),
        ({"betas": (0.9, 0.99)}, r"unknown hyperparameter 'betas' for adam \(pass betas as beta1 and beta2\)"),
        ({"lr": [0.1, 0.2], "start": [[0, 0], [1, 1], [2, 2]]}, r"batch sizes disagree"),
        ({"amsgrad": [True, False]}, r"'amsgrad' must be a single True/False"),
        ({"seed": -1}, r"seed = -1 is not allowed"),
        ({"noise": -1.0}, r"'noise' = -1.0 is out of range"),
        ({"clip_norm": 0.0}, r"'clip_norm' = 0.0 is out of range"),
        ({"schedule": "cyclic"}, r"unknown schedule 'cyclic'; allowed: constant, step"),
        ({"schedule": "step", "schedule_params": {"gamma": 2.0}}, r"'gamma' = 2.0 is out of range"),
        ({"schedule": "step", "schedule_params": {"period": 2}}, r"unknown parameter 'period' for schedule 'step'"),
    ],
)
def test_bad_arguments_raise_value_error_naming_parameter_value_and_allowed(kwargs, message):
    args = {"landscape": "rosenbrock", "optimizer": "adam", **kwargs}
    landscape, optimizer = args.pop("landscape"), args.pop("optimizer")
    with pytest.raises(ValueError, match=message):
        optlab.simulate(landscape, optimizer, **args)


def test_run_step_cap():
    with pytest.raises(ValueError, match="too many"):
        optlab.simulate("bowl", "sgd", start=np.zeros((10_000, 2)), steps=10_000)


def test_state_recording_is_automatic_up_to_a_few_hundred_runs():
    from optlab.simulation import RECORD_STATE_MAX_RUNS

    small = optlab.simulate("bowl", "adam", start=np.zeros((RECORD_STATE_MAX_RUNS, 2)), steps=3)
    large = optlab.simulate("bowl", "adam", start=np.zeros((RECORD_STATE_MAX_RUNS + 1, 2)), steps=3)
    forced = optlab.simulate("bowl", "adam", start=np.zeros((RECORD_STATE_MAX_RUNS + 1, 2)), steps=3,
                             record_state=True)
    assert small.state and small.grad is not None
    assert not large.state and large.grad is None
    assert forced.state["m"].shape == (3, RECORD_STATE_MAX_RUNS + 1, 2)


def test_a_loss_that_overflows_at_a_finite_point_is_divergence_even_if_the_run_comes_back():
    # on the bowl, f = (x² + y²)/2 overflows at x = 1e155 while its gradient (x) does not: one SGD step
    # with lr = 1 lands on the minimum. The path ends finite; the loss was not: diverged at step 0.
    single = optlab.simulate("bowl", "sgd", start=(1e155, 0.0), lr=1.0, steps=3)
    batch = optlab.simulate("bowl", "sgd", start=[(1e155, 0.0), (1.0, 1.0)], lr=1.0, steps=3)
    assert single.diverged_at == 0 and np.isnan(single.path).all()
    assert batch.diverged_at == [0, None] and np.isfinite(batch.path[:, 1]).all()


def test_coupled_optimizers_run_single_runs_through_the_array_path_the_others_keep_the_fast_path(monkeypatch):
    # a coupled update (Adafactor's RMS of θ) sees both coordinates at once: never the per-coordinate float
    # path; the element-wise ones keep it for a single run on a float-safe landscape
    from optlab import simulation

    calls = []
    real = simulation._run_scalar
    monkeypatch.setattr(simulation, "_run_scalar", lambda *a, **k: calls.append(a[1].name) or real(*a, **k))
    for name in OPT_NAMES:
        optlab.simulate("rosenbrock", name, steps=3)
    assert calls == [n for n in OPT_NAMES if not optlab.get_optimizer(n).coupled]
    assert "adafactor" not in calls and "rprop" in calls


def test_a_coupled_run_depends_on_both_coordinates():
    # moving y changes x's step: the RMS of θ scales Adafactor's step length
    a = optlab.simulate("bowl", "adafactor", start=(1.0, 1.0), steps=1, lr=0.1)
    b = optlab.simulate("bowl", "adafactor", start=(1.0, 3.0), steps=1, lr=0.1)
    assert a.path[1, 0] != b.path[1, 0]

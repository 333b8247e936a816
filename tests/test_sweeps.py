"""optlab.sweeps: every cell, start and seed is the run a single simulate() call gives, to the last bit."""

import io

import numpy as np
import pandas as pd
import pytest

import optlab
from optlab import chunks, sweep_axes, sweeps


def test_every_sweep_cell_is_the_single_run_with_that_setting():
    sw = sweeps.sensitivity("rosenbrock", "adam", x="lr", y="beta1", x_range=(1e-3, 3.0), y_range=(0.0, 0.99),
                            n=(7, 5), steps=150, start=(-1.5, 2.0), hparams={"beta2": 0.99})
    assert sw.final_loss.shape == (5, 7) and sw.x.shape == (7,) and sw.y.shape == (5,)
    assert sw.x[0] == pytest.approx(1e-3) and sw.x[-1] == pytest.approx(3.0)
    # lr on a log axis, beta1 linear: evenly spaced up to the rounding to what the grid resolves (each value
    # within RESOLUTION of a step of its exact place, so a difference within twice that)
    np.testing.assert_allclose(np.diff(np.log(sw.x)), np.log(3.0 / 1e-3) / 6, rtol=2 * sweep_axes.RESOLUTION)
    np.testing.assert_allclose(np.diff(sw.y), 0.99 / 4, rtol=2 * sweep_axes.RESOLUTION)
    for i, j in [(0, 0), (4, 6), (2, 3), (1, 5)]:
        run = optlab.simulate("rosenbrock", "adam", start=(-1.5, 2.0), steps=150, lr=float(sw.x[j]),
                              beta1=float(sw.y[i]), beta2=0.99)
        m = run.metrics()
        assert sw.final_loss[i, j] == m["final_loss"] or (np.isnan(sw.final_loss[i, j]) and m["diverged_at"])
        assert sw.best_loss[i, j] == m["best_loss"]
        assert (np.isnan(sw.steps_to_tol[i, j]) if m["steps_to_tol"] is None
                else sw.steps_to_tol[i, j] == m["steps_to_tol"])


def significant_digits(v: float) -> int:
    mantissa = repr(float(v)).split("e")[0].replace("-", "").replace(".", "").strip("0")
    return len(mantissa)


@pytest.mark.parametrize("name", optlab.optimizer_names())
def test_sweep_axes_are_rounded_to_what_a_60_cell_grid_resolves(name):
    opt = optlab.get_optimizer(name)
    for hp in sweep_axes.sweepable(name):
        p = opt.param(hp)
        lo, hi = sweep_axes.axis_range(name, hp)
        values = sweep_axes.axis_values(p, lo, hi, 60)
        exact = np.geomspace(lo, hi, 60) if p.log else np.linspace(lo, hi, 60)
        step = np.log(hi / lo) / 59 if p.log else (hi - lo) / 59
        off = np.abs(np.log(values / exact)) if p.log else np.abs(values - exact)
        assert (off <= sweep_axes.RESOLUTION * step).all(), hp  # each value near its exact place
        assert (np.diff(values) > 0).all() and values[0] == lo and values[-1] == hi, hp
        assert all(p.accepts(v) for v in values.tolist()), hp
        assert max(significant_digits(v) for v in values) <= 4, (hp, values)


def test_a_clicked_cell_loads_short_values_whose_run_is_the_cells_bit_for_bit():
    from optlab import config as C

    cfg = C.RunConfig(landscape="rosenbrock", optimizers=("adam",), steps=120)
    sw = C.run_sensitivity(cfg, 60)  # the app's sweep: lr × β1 over the sliders' ranges
    assert (sw.x_name, sw.y_name) == ("lr", "beta1")
    for i, j in [(48, 31), (0, 59), (59, 0), (17, 42)]:
        x, y = float(sw.x[j]), float(sw.y[i])  # what the click handler loads into the comparison's widgets
        loaded = cfg.with_hp("adam", **{sw.x_name: x, sw.y_name: y})
        query = dict(C.to_query(loaded))  # the link carries short numbers ...
        for key in (f"adam.{sw.x_name}", f"adam.{sw.y_name}"):
            if key in query:
                assert significant_digits(float(query[key])) <= 4, query[key]
        back, problems = C.from_query({k: [v] for k, v in C.to_query(loaded)})  # ... that read back exactly
        assert not problems and back.hp("adam")[sw.x_name] == x and back.hp("adam")[sw.y_name] == y
        run = C.run_one(back, "adam")  # and run the cell's setting: its numbers, to the last bit
        m = run.metrics()
        assert sw.best_loss[i, j] == m["best_loss"]
        assert sw.final_loss[i, j] == m["final_loss"] or (np.isnan(sw.final_loss[i, j]) and m["diverged_at"])


def test_diverged_cells_are_marked_with_their_step():
    sw = sweeps.sensitivity("rosenbrock", "sgd", x="lr", y="momentum", x_range=(1e-4, 0.1), y_range=(0.0, 0.9),
                            n=6, steps=100)
    diverged = ~np.isnan(sw.diverged_at)
    assert diverged.any() and (~diverged).any()  # large lr diverges on Rosenbrock, small does not
    i, j = np.argwhere(diverged)[0]
    run = optlab.simulate("rosenbrock", "sgd", steps=100, lr=float(sw.x[j]), momentum=float(sw.y[i]))
    assert run.diverged_at == sw.diverged_at[i, j]
    assert np.isnan(sw.final_loss[diverged]).all()


def test_sgd_sweep_with_dampening_keeps_the_momentum_zero_row_plain_sgd():
    # SGD's default axes (lr × momentum, from 0): the μ = 0 row steps by g whatever the dampening, as torch does
    sw = sweeps.sensitivity("himmelblau", "sgd", n=4, steps=50, start=(-1.0, -1.5), hparams={"dampening": 0.5},
                            x_range=(1e-3, 0.02), y_range=(0.0, 0.9))
    assert sw.y[0] == 0.0
    for j, lr in enumerate(sw.x):
        plain = optlab.simulate("himmelblau", "sgd", start=(-1.0, -1.5), steps=50, lr=float(lr))
        assert sw.final_loss[0, j] == plain.loss[-1] and sw.best_loss[0, j] == plain.loss.min()
        damped = optlab.simulate("himmelblau", "sgd", start=(-1.0, -1.5), steps=50, lr=float(lr),
                                 momentum=float(sw.y[1]), dampening=0.5)
        assert sw.final_loss[1, j] == damped.loss[-1]


def test_settings_the_optimizer_rejects_are_left_out_not_raised():
    # torch's SGD refuses nesterov without momentum: that row is blank, the others run
    sw = sweeps.sensitivity("bowl", "nesterov", y="momentum", y_range=(0.0, 0.9), n=4, steps=20)
    assert not sw.allowed[0].any() and sw.allowed[1:].all()
    assert np.isnan(sw.final_loss[0]).all() and np.isfinite(sw.final_loss[1:]).all()


def test_default_axes_and_ranges_come_from_the_declarations():
    assert sweep_axes.default_axes("adam") == ("lr", "beta1")
    assert sweep_axes.default_axes("sgd") == ("lr", "momentum")
    assert sweep_axes.default_axes("rmsprop") == ("lr", "momentum")
    assert sweep_axes.default_axes("adadelta") == ("lr", "rho")
    assert "amsgrad" not in sweep_axes.sweepable("adam")  # flags are not swept
    lo, hi = sweep_axes.axis_range("adam", "lr")
    spec = optlab.get_optimizer("adam").param("lr")
    assert (lo, hi) == (spec.ui_low, spec.ui_high)


@pytest.mark.parametrize("kwargs, message", [
    (dict(x="nope"), "cannot be swept"),
    (dict(x="amsgrad"), "cannot be swept"),
    (dict(x="lr", y="lr"), "two different"),
    (dict(n=1), "out of range"),
    (dict(n=sweeps.MAX_SWEEP_CELLS + 1), "out of range"),
    (dict(x_range=(-1.0, 1.0)), r"range lr from -1 to 1: each end must be float in \[0, inf\)"),
    (dict(x_range=(0.1, 0.01)), "from low to high"),
    (dict(y_range=(0.0, 1.0)), r"each end must be float in \[0, 1\)"),  # beta1 = 1 is not allowed
    (dict(x_range=(1e-20, 1.0)), "at most 12 decades"),
    (dict(n=200, steps=1000), "too many"),
])
def test_bad_sweep_arguments_say_what_is_allowed(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sweeps.sensitivity("rosenbrock", "adam", **{"steps": 10, **kwargs})


def test_chunks_and_progress_do_not_change_the_numbers(monkeypatch):
    whole = sweeps.sensitivity("rastrigin", "momentum", n=5, steps=60, noise=0.5, seed=3)
    monkeypatch.setattr(chunks, "CHUNK", 4)
    seen = []
    chunked = sweeps.sensitivity("rastrigin", "momentum", n=5, steps=60, noise=0.5, seed=3, progress=seen.append)
    for name in ("final_loss", "best_loss", "steps_to_tol", "diverged_at"):
        np.testing.assert_array_equal(getattr(whole, name), getattr(chunked, name))
    assert len(seen) == 7 and seen == sorted(seen) and seen[-1] == 1.0  # 25 runs in chunks of at most 4


def test_basin_map_classifies_each_start_as_its_single_run_ends():
    bm = sweeps.basins("himmelblau", "sgd", n=12, steps=200, hparams={"lr": 0.01})
    land = optlab.get_landscape("himmelblau")
    assert bm.reached.shape == (12, 12) and bm.reached.min() >= -2
    assert len(set(bm.reached.ravel().tolist()) & {0, 1, 2, 3}) == 4  # SGD finds all four minima from a grid
    rng = np.random.default_rng(0)
    for i, j in rng.integers(0, 12, (6, 2)):
        start = (bm.x[j], bm.y[i])
        run = optlab.simulate("himmelblau", "sgd", start=start, steps=200, lr=0.01)
        np.testing.assert_array_equal(bm.final[i, j], run.path[-1])
        d = np.linalg.norm(land.minima - run.path[-1], axis=1)
        if d.min() <= bm.radius:
            assert bm.reached[i, j] == int(d.argmin())
        else:
            assert bm.reached[i, j] not in (0, 1, 2, 3)
        # the settle step: from there on the run stays within the radius of where it ends
        near = np.linalg.norm(run.path - run.path[-1], axis=1) <= bm.radius
        k = int(bm.settle_step[i, j])
        assert near[k:].all() and (k == 0 or not near[k - 1])


def test_other_end_points_are_found_and_shared_by_both_panels():
    from optlab.sweep_plots import _merged_ends

    st_ = {name: sweeps.basins("styblinski_tang", name, n=40, steps=300, hparams={"lr": lr})
           for name, lr in (("sgd", 0.01), ("adam", 0.05))}
    bm = st_["sgd"]
    # one global minimum and three local ones, at each coordinate's -2.9035 or 2.7468
    local = np.array([(a, b) for a in (-2.903534, 2.746803) for b in (-2.903534, 2.746803)])[1:]
    assert len(bm.ends) == 3
    for point, f in zip(bm.ends, bm.ends_f, strict=True):
        assert np.linalg.norm(local - point, axis=1).min() < 0.01
        assert f == pytest.approx(optlab.get_landscape("styblinski_tang").f(point))
    assert set(np.unique(bm.reached)) == {0, 1, 2, 3} and sum(bm.shares().values()) == pytest.approx(1)
    points, labels, index = _merged_ends(st_)
    assert len(points) == 3 and all(label.startswith("ends near") for label in labels)
    for name, m in st_.items():  # the same local minimum has the same merged index in both panels
        for e, point in enumerate(m.ends):
            assert np.linalg.norm(points[index[name][e]] - point) <= m.radius


def test_basin_map_marks_divergence_and_landscapes_without_minima():
    bm = sweeps.basins("rosenbrock", "sgd", n=6, steps=50, hparams={"lr": 0.05})
    assert (bm.reached == sweeps.BasinMap.DIVERGED).any()
    assert (np.isnan(bm.settle_step) == (bm.reached == sweeps.BasinMap.DIVERGED)).all()
    saddle = sweeps.basins("saddle", "sgd", n=4, steps=10, hparams={"lr": 0.1})
    assert not len(saddle.minima) and saddle.global_share() == 0
    assert sum(bm.shares().values()) == pytest.approx(1.0)


def test_seed_bands_are_quantiles_of_the_single_runs():
    band = sweeps.seed_bands("rosenbrock", "sgd", n_seeds=9, seed=4, steps=80, hparams={"lr": 1e-3}, noise=2.0)
    assert list(band.seeds) == list(range(4, 13))
    losses = np.column_stack([optlab.simulate("rosenbrock", "sgd", steps=80, lr=1e-3, noise=2.0, seed=s).loss
                              for s in range(4, 13)])
    np.testing.assert_array_equal(band.loss, losses)
    np.testing.assert_array_equal(band.quantiles(), np.quantile(losses, (0.1, 0.5, 0.9), axis=1))
    assert (band.quantiles()[0] < band.quantiles()[2]).any()  # noise spreads the runs


def test_a_diverged_seed_counts_as_worse_than_any_other():
    band = sweeps.seed_bands("rosenbrock", "sgd", n_seeds=10, steps=60, hparams={"lr": 2e-3}, noise=60.0)
    assert 0 < band.diverged < 10
    q = band.quantiles((1.0,))[0]
    assert np.isinf(q[-1])  # the worst run at the end is a diverged one


def test_minibatch_seeds_give_genuinely_different_runs():
    band = sweeps.seed_bands("linear_regression", "sgd", n_seeds=5, steps=50, hparams={"lr": 0.1}, batch_size=4)
    assert len({tuple(col) for col in band.loss.T.tolist()}) == 5


@pytest.mark.parametrize("make", [
    lambda: sweeps.sensitivity("booth", "adam", n=4, steps=20),
    lambda: sweeps.basins("booth", "adam", n=4, steps=20),
    lambda: sweeps.seed_bands("booth", "adam", n_seeds=3, steps=20, noise=0.1),
])
def test_exports_are_tidy_tables_that_survive_csv(make):
    result = make()
    frame = result.to_frame()
    back = pd.read_csv(io.StringIO(frame.to_csv(index=False)))
    assert list(back.columns) == list(frame.columns) and len(back) == len(frame) > 0
    assert (back["optimizer"] == "adam").all() and (back["landscape"] == "booth").all()


def test_sweep_colours_keep_outliers_from_flattening_the_map():
    from optlab.sweep_plots import sweep_colours

    bowl = sweeps.sensitivity("bowl", "sgd", x_range=(1e-3, 3.0), n=8, steps=200)
    z, _, lo, hi = sweep_colours(bowl, "final_loss")
    assert (bowl.final_loss == 0).any() and lo == -16.0  # exactly at the minimum: the floor, not -300
    assert hi <= np.log10(bowl.start_loss) + 2  # blown-up but finite runs do not stretch the scale
    rosen = sweeps.sensitivity("rosenbrock", "adam", x_range=(1e-3, 10.0), n=8, steps=100)
    _, _, lo, hi = sweep_colours(rosen, "final_loss")
    assert lo < hi <= np.log10(rosen.start_loss) + 2
    saddle = sweeps.sensitivity("saddle", "sgd", n=12, steps=300)  # no f*: runs escape towards -inf
    z, title, lo, hi = sweep_colours(saddle, "final_loss")
    assert title.startswith("sign") and np.isfinite(np.clip(z, lo, hi).astype(np.float32)[np.isfinite(z)]).all()
    assert hi - lo <= 12


def test_seed_band_export_is_one_row_per_seed_and_step():
    band = sweeps.seed_bands("booth", "sgd", n_seeds=4, seed=7, steps=10, hparams={"lr": 0.01}, noise=0.5)
    frame = band.to_frame()
    assert len(frame) == 4 * 11 and sorted(frame.seed.unique()) == [7, 8, 9, 10]
    one = frame[frame.seed == 9].sort_values("step")
    np.testing.assert_array_equal(one.loss.to_numpy(), band.loss[:, 2])
    np.testing.assert_array_equal(one.loss_median.to_numpy(), band.quantiles()[1])


def test_in_a_worker_process_every_view_is_the_same_to_the_last_bit():
    # the app computes explore views in a worker process, off the server's lock: same numbers
    here = (sweeps.sensitivity("himmelblau", "sgd", n=5, steps=80, y="momentum"),
            sweeps.basins("himmelblau", "adam", n=6, steps=80, hparams={"lr": 0.05}),
            sweeps.seed_bands("rosenbrock", "sgd", n_seeds=4, steps=60, noise=0.5, hparams={"lr": 1e-3}))
    chunks.run_in_a_worker_process()
    try:
        there = (sweeps.sensitivity("himmelblau", "sgd", n=5, steps=80, y="momentum"),
                 sweeps.basins("himmelblau", "adam", n=6, steps=80, hparams={"lr": 0.05}),
                 sweeps.seed_bands("rosenbrock", "sgd", n_seeds=4, steps=60, noise=0.5, hparams={"lr": 1e-3}))
    finally:
        chunks.run_in_a_worker_process(False)
    for a, b in zip(here, there, strict=True):
        pd.testing.assert_frame_equal(a.to_frame(), b.to_frame(), check_exact=True)


@pytest.mark.parametrize("name", optlab.optimizer_names())
def test_every_default_sweep_range_is_one_the_sweep_accepts(name):
    # found by the link round trip: Adafactor's eps1 slider spanned 27 decades, more than a log axis may
    for hp in sweep_axes.sweepable(name):
        lo, hi = sweep_axes.axis_range(name, hp)
        assert sweep_axes.range_problem(name, hp, lo, hi) is None, (hp, lo, hi)

"""The lr stability limit drawn on the sensitivity heatmap (optlab.stability), checked against the sweep's
own runs: on quadratics, settings left of the limit settle and settings right of it grow, for plain
gradient descent, heavy-ball momentum (with dampening and L2 decay) and Nesterov; elsewhere it is the
local limit from the Hessian at the start, checked against the Hessian computed by hand."""

import numpy as np
import pytest

from landscapes import get_landscape
from optlab import stability, sweep_plots, sweeps

QUADRATICS = ["bowl", "ill_conditioned_bowl", "rotated_bowl", "booth", "matyas", "linear_regression"]


def _check_sides(sweep, margin=0.1):
    """Cells with lr below (1 − margin)·limit settle; above (1 + margin)·limit they grow (or diverge)."""
    b = sweep.boundary
    assert b is not None and b.everywhere
    f_min = sweep.f_min
    lrs, along = (sweep.x, sweep.y) if sweep.x_name == "lr" else (sweep.y, sweep.x)
    below = above = 0
    for j, value in enumerate(along):
        limit = b.lr[j]
        assert b.values[j] == value
        for i, lr in enumerate(lrs):
            cell = (j, i) if sweep.x_name == "lr" else (i, j)
            if not sweep.allowed[cell]:  # Nesterov with momentum 0: torch refuses it
                continue
            grown = not np.isnan(sweep.diverged_at[cell]) or sweep.final_loss[cell] - f_min > sweep.start_loss - f_min
            if lr < (1 - margin) * limit:
                assert np.isnan(sweep.diverged_at[cell]) and not grown, (value, lr, limit)
                below += 1
            elif lr > (1 + margin) * limit:
                assert grown, (value, lr, limit, sweep.final_loss[cell])
                above += 1
    assert below > 5 and above > 5  # the grid straddles the limit


@pytest.mark.parametrize("name", QUADRATICS)
def test_plain_gradient_descent_diverges_beyond_two_over_L(name):
    land = get_landscape(name)
    L = stability.largest_curvature(land, land.start)
    sw = sweeps.sensitivity(name, "sgd", x="lr", y="weight_decay", x_range=(0.1 / L, 10 / L), y_range=(0.0, 0.5 * L),
                            n=14, steps=300)
    lam = np.linalg.eigvalsh(stability.hessian(land, (0.3, -0.2)))[-1]  # the same anywhere on a quadratic
    assert np.isclose(sw.boundary.curvature, lam, rtol=1e-6)
    np.testing.assert_allclose(sw.boundary.lr, 2 / (L + sw.y), rtol=1e-12)
    _check_sides(sw)


@pytest.mark.parametrize("name", ["bowl", "rotated_bowl", "booth"])
@pytest.mark.parametrize("optimizer, hparams", [("momentum", {}), ("momentum", {"dampening": 0.5}),
                                                ("nesterov", {})])
def test_momentum_diverges_beyond_its_limit(name, optimizer, hparams):
    land = get_landscape(name)
    L = stability.largest_curvature(land, land.start)
    sw = sweeps.sensitivity(name, optimizer, x="lr", y="momentum", x_range=(0.1 / L, 20 / L), y_range=(0.0, 0.8),
                            n=16, steps=400, hparams=hparams)
    mu = sw.y
    expected = (np.where(mu == 0, 2 / L, 2 * (1 + mu) / ((1 + 2 * mu) * L)) if optimizer == "nesterov" else
                np.where(mu == 0, 2 / L, 2 * (1 + mu) / ((1 - hparams.get("dampening", 0.0)) * L)))
    np.testing.assert_allclose(sw.boundary.lr, expected, rtol=1e-9)
    _check_sides(sw, margin=0.15)


def test_elsewhere_the_limit_is_local_from_the_hessian_at_the_start():
    land = get_landscape("rosenbrock")
    x, y = -1.5, 2.0
    by_hand = np.array([[2 - 400 * (y - 3 * x * x), -400 * x], [-400 * x, 200]])
    np.testing.assert_allclose(stability.hessian(land, (x, y)), by_hand, rtol=1e-8)
    sw = sweeps.sensitivity("rosenbrock", "sgd", x="lr", y="momentum", n=4, steps=20, start=(x, y))
    b = sw.boundary
    assert not b.everywhere and np.isclose(b.curvature, np.linalg.eigvalsh(by_hand)[-1], rtol=1e-8)
    assert "at the start only" in b.lesson


def test_no_limit_without_a_rule_or_with_a_schedule_or_clipping_and_none_for_negative_curvature():
    assert sweeps.sensitivity("bowl", "adam", n=3, steps=5).boundary is None  # no rule declared
    assert sweeps.sensitivity("bowl", "sgd", n=3, steps=5, schedule="cosine").boundary is None
    assert sweeps.sensitivity("bowl", "sgd", n=3, steps=5, clip_norm=1.0).boundary is None
    assert sweeps.sensitivity("bowl", "sgd", x="momentum", y="dampening", n=3, steps=5).boundary is None  # no lr axis
    saddle = get_landscape("saddle")
    if stability.largest_curvature(saddle, saddle.start) <= 0:
        assert sweeps.sensitivity("saddle", "sgd", n=3, steps=5).boundary is None


def test_the_heatmap_draws_the_limit_where_it_falls_within_the_swept_rates():
    sw = sweeps.sensitivity("bowl", "momentum", x="lr", y="momentum", x_range=(0.1, 10.0), y_range=(0.0, 0.9),
                            n=6, steps=50)
    fig = sweep_plots.sensitivity_figure(sw)
    drawn = [t for t in fig.data if t.name == "stability limit"]
    assert len(drawn) == 2 and [t.showlegend for t in drawn] == [None, False]  # dark under white, one legend entry
    line = drawn[1]
    np.testing.assert_allclose(line.x, sw.boundary.lr) and np.testing.assert_allclose(line.y, sw.y)
    assert line.line.dash == "dash"
    narrow = sweeps.sensitivity("bowl", "momentum", x="lr", y="momentum", x_range=(1e-4, 1e-2), n=4, steps=5)
    assert not any(t.name == "stability limit" for t in sweep_plots.sensitivity_figure(narrow).data)

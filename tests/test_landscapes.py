"""Every landscape: analytic gradient = central differences, declared minima are minima,
formulas give the same bits on floats and arrays, and the metadata is complete."""

import math

import numpy as np
import pytest

import optlab

NAMES = optlab.landscape_names()
CONTRACT = [
    "rosenbrock", "beale", "himmelblau", "booth", "matyas", "three_hump_camel", "six_hump_camel",
    "goldstein_price", "rastrigin", "ackley", "styblinski_tang", "levi13",
]


def test_registry_has_the_contract_names_and_teaching_surfaces():
    assert set(CONTRACT) <= set(NAMES)
    teaching = {"saddle", "monkey_saddle", "ill_conditioned_bowl", "rotated_bowl", "plateau_cliff", "periodic_valley"}
    assert teaching <= set(NAMES)
    assert len(NAMES) >= 18


def _points(land, n, seed):
    (x0, x1), (y0, y1) = land.domain
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)])


@pytest.mark.parametrize("name", NAMES)
def test_gradient_matches_central_differences(name):
    land = optlab.get_landscape(name)
    xy = _points(land, 400, seed=1)
    if name == "ackley":  # not differentiable at the origin: keep away from it
        xy = xy[np.linalg.norm(xy, axis=1) > 1e-3]
    h = 1e-6
    fd = np.empty_like(xy)
    for i in range(2):
        e = np.zeros(2)
        e[i] = h
        fd[:, i] = (land.f(xy + e) - land.f(xy - e)) / (2 * h)
    g = land.grad(xy)
    scale = np.maximum(1.0, np.abs(g))
    np.testing.assert_allclose(g / scale, fd / scale, atol=2e-5 * max(1.0, np.abs(land.f(xy)).max() ** 0.5 * 1e-3))


@pytest.mark.parametrize("name", NAMES)
def test_declared_minima_are_global_minima(name):
    land = optlab.get_landscape(name)
    if land.f_min is None:
        assert land.minima.shape == (0, 2) and land.minima_note, "a surface without a minimum must say so"
        return
    assert land.minima.shape[0] >= 1 and land.minima.shape[1] == 2
    values = land.f(land.minima)
    np.testing.assert_allclose(values, land.f_min, atol=1e-10 * max(1, abs(land.f_min)))
    grads = land.grad(land.minima)
    assert np.abs(grads).max() < 1e-6, grads
    # nothing on a fine grid of the plotting domain is lower (a network's f costs ~1 ms a point: 101² points)
    (x0, x1), (y0, y1) = land.domain
    n = 101 if "network" in land.tags else 301
    gx, gy = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y0, y1, n))
    assert land.f(np.stack([gx, gy], -1)).min() >= land.f_min - 1e-9


def test_six_and_three_hump_camel_minima_are_not_swapped():
    six = optlab.get_landscape("six_hump_camel")
    three = optlab.get_landscape("three_hump_camel")
    assert six.f_min == pytest.approx(-1.0316285, abs=1e-7)
    assert three.f_min == 0.0 and three.f([0.0, 0.0]) == 0.0


@pytest.mark.parametrize("name", [n for n in NAMES if optlab.get_landscape(n).scalar_safe])
def test_floats_and_arrays_give_identical_bits(name):
    land = optlab.get_landscape(name)
    xy = _points(land, 300, seed=2)
    f_arr, gx_arr, gy_arr = (np.broadcast_to(v, (300,)) for v in land.evaluate(xy[:, 0], xy[:, 1]))
    for i, (x, y) in enumerate(xy.tolist()):
        f, gx, gy = land.evaluate(x, y)
        assert (f, gx, gy) == (f_arr[i], gx_arr[i], gy_arr[i]), (x, y)


@pytest.mark.parametrize("name", NAMES)
def test_value_and_grad_agree_with_separate_formulas(name):
    land = optlab.get_landscape(name)
    xy = _points(land, 50, seed=3)
    f, gx, gy = land.evaluate(xy[:, 0], xy[:, 1])
    np.testing.assert_array_equal(np.broadcast_to(f, (50,)), land.f(xy))
    np.testing.assert_array_equal(np.stack(np.broadcast_arrays(gx, gy), -1), land.grad(xy))


@pytest.mark.parametrize("name", NAMES)
def test_non_finite_points_give_non_finite_values(name):
    # simulate() relies on it: a run whose θ left the finite numbers has a non-finite loss
    land = optlab.get_landscape(name)
    bad = np.array([[np.nan, 0.5], [0.5, np.nan], [np.inf, 0.5], [0.5, -np.inf]])
    if name == "periodic_valley":
        bad = bad[[0, 1, 2]]  # sin(x) + y²: an infinite y gives +inf, still non-finite
    if name == "tiny_network":
        bad = bad[[0, 1, 3]]  # tanh(±inf·u) saturates: a finite limit (simulate checks θ as well)
    assert not np.isfinite(land.f(bad)).any()


@pytest.mark.parametrize("name", NAMES)
def test_metadata_is_complete(name):
    land = optlab.get_landscape(name)
    (x0, x1), (y0, y1) = land.domain
    assert x0 < x1 and y0 < y1
    assert x0 <= land.start[0] <= x1 and y0 <= land.start[1] <= y1, "the default start is on the plot"
    assert land.title and land.lesson and land.latex and land.tags
    assert land.name == name
    assert math.isfinite(land.f(land.start))


def test_parametrised_landscapes_take_their_parameters():
    bowl = optlab.get_landscape("ill_conditioned_bowl", kappa=100)
    assert bowl.f([0.0, 1.0]) == pytest.approx(50.0)
    hessian_ratio = bowl.grad([0.0, 1.0])[1] / bowl.grad([1.0, 0.0])[0]
    assert hessian_ratio == pytest.approx(100.0)
    rotated = optlab.get_landscape("rotated_bowl", kappa=10, angle=90)
    assert rotated.f([1.0, 0.0]) == pytest.approx(5.0)  # turned by 90°: x is now the steep axis
    with pytest.raises(ValueError, match="kappa"):
        optlab.get_landscape("rotated_bowl", kappa=0.5)
    with pytest.raises(ValueError, match="unknown parameter 'size'"):
        optlab.get_landscape("rotated_bowl", size=3)
    with pytest.raises(ValueError, match="no parameters"):
        optlab.get_landscape("rosenbrock", kappa=3)


def test_unknown_landscape_names_the_allowed_ones():
    with pytest.raises(ValueError, match="unknown landscape 'rosenbrok'.*rosenbrock"):
        optlab.get_landscape("rosenbrok")

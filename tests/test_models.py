"""Landscapes from real models: computed minima, genuine seeded minibatches, batch = single runs."""

import numpy as np
import pytest

import optlab
from optlab import config as C
from optlab.models import sample_minibatches

MODELS = ["linear_regression", "linear_regression_unscaled", "logistic_regression", "tiny_network"]


@pytest.mark.parametrize("name", MODELS)
def test_model_landscapes_are_registered_and_built_from_data(name):
    land = optlab.get_landscape(name)
    assert land.data_size == 100 and "model" in land.tags and land.minibatch is not None


def test_linear_regression_minimum_is_the_normal_equations_solution():
    land = optlab.get_landscape("linear_regression_unscaled")
    # with the minimum known, recover the data's moments from the gradient (linear in θ) and solve
    hess = np.stack([land.grad([1.0, 0.0]) - land.grad([0.0, 0.0]), land.grad([0.0, 1.0]) - land.grad([0.0, 0.0])])
    w_b = np.linalg.solve(hess.T, -land.grad([0.0, 0.0]))
    np.testing.assert_allclose(land.minima[0], w_b, rtol=1e-10)
    assert 100 < np.linalg.cond(hess) < 300, "the unscaled feature makes a narrow valley"
    scaled = optlab.get_landscape("linear_regression")
    h2 = np.stack([scaled.grad([1.0, 0.0]) - scaled.grad([0.0, 0.0]),
                   scaled.grad([0.0, 1.0]) - scaled.grad([0.0, 0.0])])
    np.testing.assert_allclose(h2, np.eye(2), atol=1e-12)  # standardised: a round bowl
    # the same relation between feature and target: the same best loss
    assert scaled.f_min == pytest.approx(land.f_min, rel=1e-12)


def test_tiny_network_minima_mirror_each_other():
    land = optlab.get_landscape("tiny_network")
    a, b = land.minima
    np.testing.assert_array_equal(a, -b)
    assert land.f(a) == land.f(b)
    assert np.abs(land.grad([0.0, 0.0])).max() < 1e-15, "the origin is a stationary point (a saddle)"


@pytest.mark.parametrize("name", MODELS)
def test_a_full_minibatch_is_the_full_gradient(name):
    land = optlab.get_landscape(name)
    xy = np.array([[0.3, -0.7], [1.2, 0.4]])
    everything = np.tile(np.arange(land.data_size), (2, 1))
    np.testing.assert_allclose(np.stack(land.minibatch(xy[:, 0], xy[:, 1], everything), -1), land.grad(xy),
                               rtol=1e-12, atol=1e-15)


def test_minibatches_are_shuffled_epochs_from_the_seed():
    table, which = sample_minibatches(np.array([3, 5, 3]), steps=50, n=100, batch_size=10)
    assert table.shape == (2, 50, 10) and which.tolist() == [0, 1, 0]
    for epoch in table[0].reshape(5, 100):
        assert sorted(epoch.tolist()) == list(range(100)), "each epoch visits every example once"
    assert not np.array_equal(table[0], table[1])
    again, _ = sample_minibatches(3, steps=50, n=100, batch_size=10)
    np.testing.assert_array_equal(again[0], table[0])


def test_minibatch_runs_are_noisy_seeded_and_a_batch_equals_single_runs():
    kw = dict(steps=200, lr=0.1, batch_size=5)
    run = optlab.simulate("linear_regression", "sgd", seed=1, **kw)
    full = optlab.simulate("linear_regression", "sgd", steps=200, lr=0.1)
    assert run.batch_size == 5 and full.batch_size is None
    np.testing.assert_array_equal(run.path, optlab.simulate("linear_regression", "sgd", seed=1, **kw).path)
    # the noise is real: the gradient used differs from the full-data gradient recorded beside it
    assert np.abs(run.grad_used - run.grad[:-1]).max() > 0.1
    assert full.metrics()["final_loss"] == pytest.approx(full.landscape.f_min, abs=1e-12)
    assert run.metrics()["final_loss"] > full.metrics()["final_loss"] + 1e-6, "noise floor: it jitters around"
    seeds = np.array([1, 2, 1])
    batch = optlab.simulate("linear_regression", "sgd", seed=seeds, start=np.zeros((3, 2)), **kw)
    for i, s in enumerate(seeds.tolist()):
        single = optlab.simulate("linear_regression", "sgd", seed=s, start=(0.0, 0.0), **kw)
        np.testing.assert_array_equal(batch.path[:, i], single.path)


def test_batch_size_is_validated():
    with pytest.raises(ValueError, match="batch_size = 8 applies only to landscapes built from data"):
        optlab.simulate("rosenbrock", "sgd", batch_size=8)
    with pytest.raises(ValueError, match=r"batch_size = 0 is out of range; allowed: an integer in \[1, 100\]"):
        optlab.simulate("linear_regression", "sgd", batch_size=0)
    assert optlab.simulate("linear_regression", "sgd", batch_size=100, steps=3).batch_size is None


def test_batch_travels_in_the_link():
    cfg, problems = C.from_query({"landscape": "logistic_regression", "batch": "8", "seed": "4"})
    assert problems == [] and ("batch", "8") in C.to_query(cfg)
    run = C.run_all(cfg)["adam"]
    np.testing.assert_array_equal(run.path, optlab.simulate("logistic_regression", "adam", batch_size=8, seed=4,
                                                            steps=cfg.steps).path)
    _, problems = C.from_query({"landscape": "rosenbrock", "batch": "8"})
    assert "no minibatches" in problems[0]


@pytest.mark.parametrize("name", MODELS)
def test_a_link_with_batch_reproduces_the_seeded_minibatch_run(name):
    cfg, problems = C.from_query({"landscape": name, "opt": "sgd", "sgd.lr": "0.05", "batch": "7", "seed": "3",
                                  "steps": "40"})
    assert problems == [] and cfg.batch == 7
    run = C.run_all(cfg)["sgd"]
    np.testing.assert_array_equal(run.path, optlab.simulate(name, "sgd", lr=0.05, batch_size=7, seed=3, steps=40).path)
    other = optlab.simulate(name, "sgd", lr=0.05, batch_size=7, seed=4, steps=40)
    assert not np.array_equal(run.path, other.path), "another seed, other minibatches"

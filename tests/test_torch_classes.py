"""Any torch.optim.Optimizer class on the landscapes (optlab.torch_classes): the same gradients as a
declaration's run (noise, clipping, schedule, minibatches), the class's own steps, its state recorded,
several evaluations per step (LBFGS), and clear messages for bad input."""

import numpy as np
import pytest
import torch
from half_step import define as _define

import optlab
from optlab import plots


def test_torch_adam_as_a_class_equals_the_native_declaration_with_noise_clipping_and_a_schedule():
    common = dict(steps=300, lr=0.05, noise=0.3, seed=4, clip_norm=2.0, schedule="cosine")
    native = optlab.simulate("rosenbrock", "adam", **common)
    run = optlab.simulate("rosenbrock", torch.optim.Adam, **common)
    # the declaration equals torch to rounding per step (test_against_torch); 300 steps amplify it to ~1e-11
    assert run.optimizer == "torch.optim.Adam" and not run.verified and native.verified
    np.testing.assert_allclose(run.path, native.path, rtol=0, atol=1e-9)
    np.testing.assert_allclose(run.lr, native.lr, rtol=1e-15)
    np.testing.assert_allclose(run.grad_used, native.grad_used, rtol=0, atol=1e-9)
    np.testing.assert_allclose(run.state["exp_avg"], native.state["m"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(run.state["exp_avg_sq"], native.state["v"], rtol=0, atol=1e-9)
    assert (run.state["evaluations"] == 1).all()


def test_minibatches_are_the_same_as_a_declarations():
    native = optlab.simulate("linear_regression", "sgd", steps=100, lr=0.1, momentum=0.9, batch_size=8, seed=2)
    run = optlab.simulate("linear_regression", torch.optim.SGD, steps=100, lr=0.1, momentum=0.9, batch_size=8,
                          seed=2)
    np.testing.assert_allclose(run.path, native.path, rtol=0, atol=1e-12)
    np.testing.assert_allclose(run.grad_used, native.grad_used, rtol=0, atol=1e-12)


HalfStep = _define()  # θ ← θ − lr·g/2, counting its steps in its state


def test_a_class_from_the_users_own_code_takes_its_own_steps():
    land = optlab.get_landscape("bowl")
    run = optlab.simulate("bowl", HalfStep, lr=0.4, steps=5)
    theta = np.array(land.start, dtype=float)
    for k in range(5):  # by hand
        theta = theta - 0.4 * land.grad(theta) / 2
        np.testing.assert_allclose(run.path[k + 1], theta, rtol=1e-15)
        assert run.state["count"][k, 0] == k + 1
    assert run.optimizer.endswith("HalfStep") and "not verified" in plots.title(run.optimizer)


def test_lbfgs_evaluates_several_times_per_step_and_equals_torch_on_the_same_function():
    run = optlab.simulate("rosenbrock", torch.optim.LBFGS, lr=1, steps=15, line_search_fn="strong_wolfe")
    theta = torch.tensor([-1.5, 2.0], dtype=torch.float64, requires_grad=True)  # torch on its own, for reference
    opt = torch.optim.LBFGS([theta], lr=1, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        f = (1 - theta[0]) ** 2 + 100 * (theta[1] - theta[0] ** 2) ** 2
        f.backward()
        return f

    reference = [theta.detach().numpy().copy()]
    for _ in range(15):
        opt.step(closure)
        reference.append(theta.detach().numpy().copy())
    np.testing.assert_allclose(run.path, np.array(reference), rtol=0, atol=1e-9)
    assert run.state["evaluations"][:3, 0].tolist() == [25, 25, 3] and run.loss[-1] < 1e-8  # as the README says


@pytest.mark.parametrize("optimizer, kwargs, message", [
    (dict, {}, "not a torch.optim.Optimizer subclass"),
    (torch.optim.Adam, {"lr": -1.0}, r"torch.optim.Adam\(lr=-1.0\) was refused: ValueError: Invalid learning rate"),
    (torch.optim.SGD, {"lrr": 0.1}, "was refused: TypeError"),
])
def test_bad_classes_and_arguments_are_clear_messages(optimizer, kwargs, message):
    with pytest.raises(ValueError, match=message):
        optlab.simulate("rosenbrock", optimizer, **kwargs)


class Broken(HalfStep):
    def step(self, closure=None):
        if self.state and next(iter(self.state.values())).get("count", 0) >= 2:
            raise RuntimeError("boom")
        return super().step(closure)


def test_an_exception_inside_step_names_the_class_and_the_step():
    with pytest.raises(ValueError, match=r"Broken.step raised RuntimeError at step 3: boom"):
        optlab.simulate("bowl", Broken, steps=10)


def test_a_run_that_leaves_the_finite_numbers_is_marked_diverged_and_tabled():
    run = optlab.simulate("rosenbrock", torch.optim.SGD, lr=10.0, steps=50)
    assert run.diverged_at is not None and np.isnan(run.path[-1]).all()
    frame = run.to_frame()
    assert {"momentum_buffer_x", "evaluations_x"} <= set(frame.columns) or "evaluations_x" in frame.columns
    assert frame["optimizer"].iloc[0] == "torch.optim.SGD"

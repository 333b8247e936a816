"""Muon for the weight matrices (optlab.muon) against torch.optim.Muon, biases by AdamW as torch.optim.AdamW."""

import numpy as np
import pytest

from optlab.models import minibatch_order
from optlab.muon import Muon, newton_schulz
from optlab.networks import MLP, load_dataset
from optlab.training import train

torch = pytest.importorskip("torch")
if not hasattr(torch.optim, "Muon"):
    pytest.skip("torch.optim.Muon needs torch 2.9 or later", allow_module_level=True)
import torch.optim._muon as torch_muon  # noqa: E402
from torch_networks import float64, torch_model  # noqa: E402, F401  (an autouse fixture)

F = torch.nn.functional


def ns_float64(grad, ns_coefficients, ns_steps, eps):
    """torch's _zeropower_via_newtonschulz line by line, without its cast to bfloat16."""
    a, b, c = ns_coefficients
    x = grad.clone()
    if grad.size(0) > grad.size(1):
        x = x.T
    x.div_(x.norm().clamp(min=eps))
    for _ in range(ns_steps):
        gram = x @ x.T
        update = torch.addmm(gram, gram, gram, beta=b, alpha=c)
        x = torch.addmm(x, update, x, beta=a)
    return x.T if grad.size(0) > grad.size(1) else x


def torch_run(net, data, theta0, steps, batch, seed, lr, wd, momentum, nesterov):
    model = torch_model(net, theta0)
    params = list(model.parameters())
    muon = torch.optim.Muon(params[0::2], lr=lr, weight_decay=wd, momentum=momentum, nesterov=nesterov)
    adamw = torch.optim.AdamW(params[1::2], lr=lr, weight_decay=wd)
    order = minibatch_order(seed, steps, len(data.X), batch)
    X, y = torch.tensor(np.array(data.X)), torch.tensor(np.array(data.y))
    path = [theta0]
    for k in range(steps):
        muon.zero_grad()
        adamw.zero_grad()
        F.cross_entropy(model(X[order[k]]), y[order[k]]).backward()
        muon.step()
        adamw.step()
        path.append(torch.nn.utils.parameters_to_vector(params).detach().numpy().copy())
    return np.array(path)


def ours(net, data, theta0, steps, batch, seed, lr, wd, momentum, nesterov):
    path = [theta0]
    train(net, data.X, data.y, "adamw", theta0, steps=steps, batch_size=batch, seed=seed, lr=lr, weight_decay=wd,
          matrices=Muon(net, lr=lr, weight_decay=wd, momentum=momentum, nesterov=nesterov),
          on_step=lambda k, before, g, after, state: path.append(after[:, 0].copy()))
    return np.array(path)


CASES = [(0.02, 0.1, 0.95, True), (0.05, 0.0, 0.9, False)]


@pytest.mark.parametrize("lr, wd, momentum, nesterov", CASES)
def test_muon_equals_torch_optim_muon_with_its_iteration_in_float64(monkeypatch, lr, wd, momentum, nesterov):
    monkeypatch.setattr(torch_muon, "_zeropower_via_newtonschulz", ns_float64)
    data = load_dataset("digits")
    net = MLP((64, 32, 16, 10))  # a tall, a wide and a square-ish matrix: both sides of the transpose
    theta0 = net.init(1)
    expected = torch_run(net, data, theta0, 30, 32, 4, lr, wd, momentum, nesterov)
    np.testing.assert_allclose(ours(net, data, theta0, 30, 32, 4, lr, wd, momentum, nesterov), expected,
                               rtol=1e-9, atol=1e-12)


def test_torch_optim_muons_bfloat16_iteration_differs_most_where_the_gradient_is_rank_deficient():
    data = load_dataset("iris")
    net = MLP((4, 16, 3))
    theta0 = net.init(0)
    lr = 0.02
    expected = torch_run(net, data, theta0, 1, 16, 0, lr, 0.0, 0.95, True)  # torch's own, in bfloat16; no decay:
    got = ours(net, data, theta0, 1, 16, 0, lr, 0.0, 0.95, True)  # the step is −lr·O itself
    step, torch_step = got[1] - theta0, expected[1] - theta0
    (first, _), (last, _) = (sw for sw in net.slices())
    for _, sb in net.slices():
        np.testing.assert_allclose(step[sb], torch_step[sb], rtol=1e-9, atol=1e-15)  # the biases: AdamW's
    gap = np.linalg.norm(step[first] - torch_step[first]) / np.linalg.norm(torch_step[first])
    assert 0 < gap < 0.15  # the first layer (16 × 4): bfloat16's rounding, a few per cent
    # the output layer: softmax cross-entropy's gradient has rows summing to zero, rank ≤ classes − 1 = 2; the
    # exact iteration keeps that null direction at 0, bfloat16's rounding noise in it is amplified
    ours_sv = np.linalg.svd(step[last].reshape(3, 16), compute_uv=False)
    torch_sv = np.linalg.svd(torch_step[last].reshape(3, 16), compute_uv=False)
    assert ours_sv[-1] < 1e-9 * ours_sv[0] and 0.6 < torch_sv[-1] / torch_sv[0] < 0.75  # README: "two thirds"


def test_newton_schulz_pushes_singular_values_towards_one():
    G = np.random.default_rng(0).normal(size=(32, 10))
    s = np.linalg.svd(newton_schulz(G), compute_uv=False)
    assert 0.6 < s.min() and s.max() < 1.3  # torch's quintic: S' ~ Uniform(0.5, 1.5), not exactly 1
    u, _, vt = np.linalg.svd(G, full_matrices=False)
    assert np.trace(newton_schulz(G).T @ (u @ vt)) / 10 > 0.9  # along U Vᵀ of G's SVD


def test_muon_refuses_bad_settings_with_a_message():
    with pytest.raises(ValueError, match="lr = -1"):
        Muon(MLP((2, 3, 2)), lr=-1)


def test_the_networks_pages_muon_run_is_torch_optim_muon_on_the_matrices_and_adamw_on_the_biases(monkeypatch):
    import optlab
    from optlab.full_training import train_one
    from optlab.networks.landscape import network_of

    monkeypatch.setattr(torch_muon, "_zeropower_via_newtonschulz", ns_float64)
    source = network_of(optlab.get_landscape("mlp_iris_plane"))
    run = train_one(source, "muon", {"lr": 0.02}, steps=40, batch_size=16, seed=5)
    expected = torch_run(source.net, source.data, source.plane.theta0, 40, 16, 5, 0.02, 0.1, 0.95, True)
    np.testing.assert_allclose(run.path, expected[run.steps], rtol=1e-9, atol=1e-12)  # torch's defaults but lr
    assert run.hparams == {"lr": 0.02, "weight_decay": 0.1, "momentum": 0.95, "nesterov": True, "eps": 1e-7,
                           "ns_steps": 5}

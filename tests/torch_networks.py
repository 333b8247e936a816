"""Shared by the networks' tests (test_networks, test_full_training, test_muon): torch in float64 on one thread,
and the same MLP built from torch.nn modules. Import it after ``pytest.importorskip("torch")``."""

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def float64():
    """torch in float64 for the test, on one thread: these networks are tiny, and a second thread only contends
    (2 shared cores)."""
    previous, threads = torch.get_default_dtype(), torch.get_num_threads()
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    yield
    torch.set_default_dtype(previous)
    torch.set_num_threads(threads)


def torch_model(net, theta: np.ndarray) -> torch.nn.Sequential:
    """``net`` (an optlab.networks.MLP) built from torch.nn modules, its parameters set from θ."""
    layers = []
    for o, i in net.shapes:
        layers += [torch.nn.Linear(i, o), torch.nn.Tanh() if net.activation == "tanh" else torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    torch.nn.utils.vector_to_parameters(torch.tensor(theta), model.parameters())
    return model

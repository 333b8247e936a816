"""The exported torch script's landscape for a network plane: the same data, network and directions.

optlab.export traces a declared landscape's formulas; a network's loss is not a formula of
(x, y), so its script carries the network itself instead: the dataset as scikit-learn
ships it (or as generated here) with the split and the standardisation (their NumPy source,
copied in), θ₀ and the two directions (every value exact), and the network written in torch.
Its gradient comes from torch.autograd, not from optlab's hand-written backward pass.
"""

from __future__ import annotations

import inspect

import numpy as np

from optlab.networks.data import prepare, standardiser


def _numbers(values, per_line: int = 8, indent: str = "    ") -> str:
    items = [repr(v) for v in np.asarray(values).ravel().tolist()]
    rows = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "[\n" + "".join(f"{indent}{r},\n" for r in rows) + "]"


def landscape_code(land) -> str:
    """Torch source defining value_and_grad(x, y) and minibatch_grad(x, y, idx) for a network plane landscape."""
    source = land.network
    plane, data = source.plane, source.data
    net = plane.net
    shapes = net.shapes
    labels = "np.intp" if data.task == "classification" else "float"
    return f'''# the dataset: {data.name}, {len(data.raw_X)} examples, {data.features} features, as sklearn ships it
# (or generates it from a seed); the training set is the examples not in TEST_INDEX
RAW_X = np.array({_numbers(data.raw_X)}, dtype=float).reshape({data.raw_X.shape[0]}, {data.raw_X.shape[1]})
RAW_Y = np.array({_numbers(data.raw_y)}, dtype={labels}).reshape({", ".join(map(str, data.raw_y.shape))})
TEST_INDEX = np.array({_numbers(data.test_index, per_line=16)}, dtype=np.intp)
TASK = {data.task!r}
STANDARDISE = {data.standardise!r}


{inspect.getsource(standardiser).rstrip()}


{inspect.getsource(prepare).rstrip()}


_X, _Y, _, _ = prepare(RAW_X, RAW_Y, TEST_INDEX, TASK, STANDARDISE)
X, Y = torch.from_numpy(_X), torch.from_numpy(_Y)

# the network: {"-".join(map(str, net.sizes))}, {net.activation}, {net.loss} loss; θ laid out as
# torch.nn.Sequential(Linear, act, ...).parameters(): W_0 (out, in), b_0, W_1, b_1, ...
SHAPES = {shapes!r}
ACTIVATION = {net.activation!r}
LOSS = {net.loss!r}
# the plane θ(z) = THETA0 + z1 * D1 + z2 * D2 ({net.size} parameters each)
THETA0 = torch.tensor({_numbers(plane.theta0)})
D1 = torch.tensor({_numbers(plane.d1)})
D2 = torch.tensor({_numbers(plane.d2)})


def network_loss(x, y, inputs, targets):
    """The mean loss of the network at θ(x, y) on (inputs, targets), for x, y of any (equal) shape."""
    shape = x.shape
    theta = THETA0 + x.reshape(-1, 1) * D1 + y.reshape(-1, 1) * D2  # (points, P)
    h, at = inputs, 0
    for i, (o, n_in) in enumerate(SHAPES):
        W = theta[:, at:at + o * n_in].reshape(-1, o, n_in)
        b = theta[:, at + o * n_in:at + o * n_in + o]
        at += o * n_in + o
        h = torch.matmul(h, W.transpose(1, 2)) + b[:, None, :]
        if i < len(SHAPES) - 1:
            h = torch.tanh(h) if ACTIVATION == "tanh" else torch.relu(h)
    if LOSS == "cross_entropy":
        labels = targets.expand(h.shape[0], -1)
        loss = torch.nn.functional.cross_entropy(h.transpose(1, 2), labels, reduction="none").mean(1)
    else:
        loss = ((h - targets) ** 2).mean(dim=(1, 2))
    return loss.reshape(shape)


def _with_grad(x, y, inputs, targets):
    x, y = x.detach().requires_grad_(), y.detach().requires_grad_()
    f = network_loss(x, y, inputs, targets)
    df_dx, df_dy = torch.autograd.grad(f.sum(), (x, y))
    return f.detach(), df_dx, df_dy


def value_and_grad(x, y):
    """f = the mean loss over the training set at θ(x, y), and its gradient (by autograd)."""
    return _with_grad(x, y, X, Y)


def minibatch_grad(x, y, idx):
    """The gradient on the training examples idx only (a minibatch)."""
    return _with_grad(x, y, X[idx], Y[idx])[1:]'''

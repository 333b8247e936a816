"""Real networks (optlab.networks): data, the MLP's gradient, the plane landscapes, full training.

References are torch (autograd, torch.nn.functional's losses, torch.optim) and central
differences, never numbers copied from the implementation.
"""

import subprocess
import sys

import numpy as np
import pytest

import optlab
from optlab import sweeps
from optlab.models import minibatch_order
from optlab.networks import DATASETS, MLP, Plane, load_dataset, random_directions
from optlab.networks.landscape import REFERENCE_STEPS, SOLVERS, network_of
from optlab.training import train

torch = pytest.importorskip("torch")
from torch_networks import float64, torch_model  # noqa: E402, F401  (an autouse fixture)

F = torch.nn.functional
NETWORK_LANDSCAPES = [n for n in optlab.landscape_names() if "network" in optlab.get_landscape(n).tags]


def torch_loss(net: MLP, out, y):
    y = torch.tensor(np.array(y))
    return F.cross_entropy(out, y) if net.loss == "cross_entropy" else F.mse_loss(out, y)


def network_for(name: str, hidden=(8,), activation="tanh") -> tuple[MLP, object]:
    data = load_dataset(name)
    loss = "cross_entropy" if data.task == "classification" else "squared"
    return MLP((data.features, *hidden, data.outputs), activation, loss), data


# --- data ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(DATASETS))
def test_datasets_load_split_and_standardise(name):
    data = load_dataset(name)
    n = len(data.raw_X)
    assert len(data.X) + len(data.X_test) == n and len(data.X_test) == round(0.25 * n)
    assert np.isfinite(data.X).all() and np.isfinite(data.X_test).all()
    varying = data.raw_X[np.setdiff1d(np.arange(n), data.test_index)].std(axis=0) > 0
    np.testing.assert_allclose(data.X.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(data.X.std(axis=0)[varying], 1.0, rtol=1e-12)
    if data.task == "classification":
        assert set(np.unique(data.y)) <= set(range(data.classes)) and data.classes >= 2
    raw = load_dataset(name, standardise=False)
    test = np.zeros(n, dtype=bool)
    test[raw.test_index] = True
    np.testing.assert_array_equal(raw.X, raw.raw_X[~test])
    np.testing.assert_array_equal(raw.X_test, raw.raw_X[test])


def test_the_real_datasets_are_scikit_learns_bundled_ones():
    from sklearn import datasets

    for name, loader, shape in [("digits", "load_digits", (1797, 64)), ("iris", "load_iris", (150, 4)),
                                ("wine", "load_wine", (178, 13)), ("breast_cancer", "load_breast_cancer", (569, 30))]:
        X, y = getattr(datasets, loader)(return_X_y=True)
        data = load_dataset(name)
        assert X.shape == shape
        np.testing.assert_array_equal(data.raw_X, X)
        np.testing.assert_array_equal(data.raw_y, y)


def test_the_split_is_seeded():
    a, b, c = load_dataset("moons", seed=1), load_dataset("moons", seed=1), load_dataset("moons", seed=2)
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(a.test_index, c.test_index)
    assert not np.array_equal(load_dataset("digits", seed=0).test_index, load_dataset("digits", seed=5).test_index)


def test_importing_the_registry_loads_no_data():
    code = "import sys, optlab; optlab.landscape_names(); sys.exit('sklearn' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=str(__import__("pathlib").Path(__file__).parents[1]),
                          timeout=120).returncode == 0


# --- the network -----------------------------------------------------------------------------------

ARCHITECTURES = [("iris", (8,), "tanh"), ("wine", (16, 8), "relu"), ("digits", (32,), "tanh"),
                 ("breast_cancer", (4,), "relu"), ("diabetes", (12, 6), "tanh"), ("spiral", (24, 24), "tanh"),
                 ("moons", (64,), "relu"), ("circles", (5,), "tanh")]


@pytest.mark.parametrize("name, hidden, activation", ARCHITECTURES)
def test_loss_and_gradient_equal_torch_autograd(name, hidden, activation):
    net, data = network_for(name, hidden, activation)
    thetas = np.stack([net.init(s) for s in range(3)], axis=1)  # (P, 3): three networks at once
    thetas[:, 2] *= 3.0  # larger weights: saturated units, confident outputs
    values, grads = net.value_and_grad(thetas, data.X, data.y)
    for j in range(3):
        model = torch_model(net, thetas[:, j])
        loss = torch_loss(net, model(torch.tensor(data.X)), data.y)
        loss.backward()
        expected = torch.nn.utils.parameters_to_vector([p.grad for p in model.parameters()]).numpy()
        assert values[j] == pytest.approx(loss.item(), rel=1e-13)
        np.testing.assert_allclose(grads[:, j], expected, rtol=1e-10, atol=1e-10 * np.abs(expected).max())
        single_value, single_grad = net.value_and_grad(thetas[:, j], data.X, data.y)
        assert single_value == pytest.approx(values[j], rel=1e-14)
        np.testing.assert_allclose(single_grad, grads[:, j], rtol=1e-12, atol=1e-15)


def test_init_is_torch_linears_scheme_in_torchs_layout():
    net = MLP((64, 32, 10))
    theta = net.init(0)
    model = torch_model(net, theta)
    for (W, b), layer in zip(net.unflatten(theta), (model[0], model[2]), strict=True):
        np.testing.assert_array_equal(W, layer.weight.detach().numpy())
        np.testing.assert_array_equal(b, layer.bias.detach().numpy())
        bound = 1 / np.sqrt(W.shape[1])  # torch: kaiming_uniform_(a=√5) → U(±1/√fan_in); bias U(±1/√fan_in)
        assert np.abs(W).max() <= bound and np.abs(W).max() > 0.95 * bound and np.abs(b).max() <= bound
        assert abs(W.std() - bound / np.sqrt(3)) < 0.05 * bound  # the uniform distribution's spread
    assert net.size == sum(p.numel() for p in model.parameters()) == 64 * 32 + 32 + 32 * 10 + 10
    assert not np.array_equal(theta, net.init(1))


# --- the plane -------------------------------------------------------------------------------------

def torch_plane(plane: Plane, z, idx=None):
    """f and ∇f at z by torch autograd through θ(z) = θ₀ + z₁ d₁ + z₂ d₂ and the torch.nn network."""
    zt = torch.tensor(z, requires_grad=True)
    theta = torch.tensor(plane.theta0) + zt[0] * torch.tensor(plane.d1) + zt[1] * torch.tensor(plane.d2)
    model = torch_model(plane.net, plane.theta0)
    params = dict(model.named_parameters())
    at, tensors = 0, {}
    for name, p in params.items():
        tensors[name] = theta[at:at + p.numel()].reshape(p.shape)
        at += p.numel()
    X = torch.tensor(plane.X if idx is None else plane.X[idx])
    y = plane.y if idx is None else plane.y[idx]
    out = torch.func.functional_call(model, tensors, (X,))
    loss = torch_loss(plane.net, out, y)
    loss.backward()
    return loss.item(), zt.grad.numpy()


PLANES = [("moons", (16,), "tanh", False), ("digits", (32,), "tanh", False), ("iris", (6, 5), "relu", False),
          ("diabetes", (8,), "tanh", False), ("spiral", (12, 8), "tanh", True)]


def make_plane(name, hidden, activation, solutions, seed=0):
    net, data = network_for(name, hidden, activation)
    theta0 = net.init(seed)
    if solutions:
        a = train(net, data.X, data.y, "adam", theta0, steps=50, lr=0.02).theta
        b = train(net, data.X, data.y, "momentum", theta0, steps=50, lr=0.05).theta
        d1, d2 = a - theta0, b - theta0
    else:
        d1, d2 = random_directions(net, theta0, seed)
    return Plane(net, data.X, data.y, theta0, d1, d2)


@pytest.mark.parametrize("case", PLANES, ids=[c[0] for c in PLANES])
def test_plane_f_and_gradient_equal_the_network_at_theta_z_by_autograd(case):
    plane = make_plane(*case)
    z = np.random.default_rng(1).uniform(-2, 2, (6, 2))
    f, g1, g2 = plane.evaluate(z[:, 0], z[:, 1])
    rng = np.random.default_rng(2)
    idx = rng.integers(0, plane.size, (6, 10))
    _, m1, m2 = plane.evaluate(z[:, 0], z[:, 1], idx)
    for i in range(6):
        value, grad = torch_plane(plane, z[i])
        assert f[i] == pytest.approx(value, rel=1e-12)
        np.testing.assert_allclose([g1[i], g2[i]], grad, rtol=1e-10, atol=1e-12 * max(1.0, np.abs(grad).max()))
        _, mgrad = torch_plane(plane, z[i], idx[i])
        np.testing.assert_allclose([m1[i], m2[i]], mgrad, rtol=1e-10, atol=1e-12 * max(1.0, np.abs(mgrad).max()))


@pytest.mark.parametrize("case", PLANES[:3], ids=[c[0] for c in PLANES[:3]])
def test_plane_gradient_matches_central_differences_and_the_full_gradient(case):
    plane = make_plane(*case)
    z = np.random.default_rng(3).uniform(-1, 1, (5, 2))
    h = 1e-6
    _, g1, g2 = plane.evaluate(z[:, 0], z[:, 1])
    fd1 = (plane.evaluate(z[:, 0] + h, z[:, 1], grad=False)[0] - plane.evaluate(z[:, 0] - h, z[:, 1], grad=False)[0])
    fd2 = (plane.evaluate(z[:, 0], z[:, 1] + h, grad=False)[0] - plane.evaluate(z[:, 0], z[:, 1] - h, grad=False)[0])
    np.testing.assert_allclose(g1, fd1 / (2 * h), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(g2, fd2 / (2 * h), rtol=1e-5, atol=1e-8)
    for i in range(5):  # ∇f(z) = (d₁·∇L, d₂·∇L) with the network's own backward pass
        _, grad = plane.net.value_and_grad(plane.theta(*z[i]), plane.X, plane.y)
        np.testing.assert_allclose([g1[i], g2[i]], [grad @ plane.d1, grad @ plane.d2], rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("case", PLANES[:3], ids=[c[0] for c in PLANES[:3]])
def test_a_point_gives_the_same_bits_alone_or_among_others(case):
    plane = make_plane(*case)
    z = np.random.default_rng(4).uniform(-3, 3, (37, 2))
    idx = np.random.default_rng(5).integers(0, plane.size, (37, 9))
    together = plane.evaluate(z[:, 0], z[:, 1])
    sampled = plane.evaluate(z[:, 0], z[:, 1], idx)
    for i in (0, 5, 36):
        alone = plane.evaluate(z[i, 0], z[i, 1])
        assert tuple(float(a) for a in alone) == tuple(float(t[i]) for t in together)
        alone = plane.evaluate(z[i:i + 1, 0], z[i:i + 1, 1], idx[i:i + 1])
        assert tuple(float(a[0]) for a in alone) == tuple(float(t[i]) for t in sampled)


SURFACES = PLANES + [("wine", (7,), "relu", False), ("moons", (16,), "tanh", False, 7.0)]


@pytest.mark.parametrize("case", SURFACES, ids=[f"{c[0]}-{c[2]}-{len(c[1])}" for c in SURFACES])
def test_a_grid_by_the_separable_first_layer_equals_the_points_one_by_one(case):
    # Plane.surface (e^{2a} = e^{2α_p}·e^{2β_q} on a grid, threads over rows) against evaluate's per-point path
    plane = make_plane(*case[:4])
    reach = case[4] if len(case) > 4 else 2.0
    xs, ys = np.linspace(-reach, reach, 23), np.linspace(-0.8 * reach, 1.3 * reach, 17)
    gx, gy = np.meshgrid(xs, ys)
    surface = plane.surface(xs, ys)
    assert surface.shape == (17, 23)
    np.testing.assert_allclose(surface, plane.evaluate(gx, gy, grad=False)[0], rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_a_grid_in_blocks_of_columns_and_rows_equals_the_points_one_by_one(monkeypatch, activation):
    # columns in several blocks, rows' e^{2β} not all kept, one thread and two
    import optlab.networks.plane as plane_module

    plane = make_plane("digits", (32,), activation, False)
    xs, ys = np.linspace(-2, 2, 11), np.linspace(-1.5, 2.5, 9)
    gx, gy = np.meshgrid(xs, ys)
    direct = plane.evaluate(gx, gy, grad=False)[0]
    np.testing.assert_allclose(plane.surface(xs, ys), direct, rtol=1e-13, atol=1e-15)
    monkeypatch.setattr(plane_module, "BLOCK_ELEMENTS", 3 * plane.size * 33)
    blocks = []
    for threads in (1, 2):
        monkeypatch.setattr(plane_module, "SURFACE_THREADS", threads)
        blocks.append(plane.surface(xs, ys))
        np.testing.assert_allclose(blocks[-1], direct, rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(blocks[0], blocks[1])  # the threads split the rows, never a point's numbers


def test_far_out_the_grid_falls_back_to_the_points_one_by_one():
    plane = make_plane("moons", (16,), "tanh", False)
    xs = np.linspace(-2000, 2000, 5)  # e^{2α} would overflow: the per-point path, same numbers
    gx, gy = np.meshgrid(xs, xs)
    np.testing.assert_array_equal(plane.surface(xs, xs), plane.evaluate(gx, gy, grad=False)[0])


def test_the_landscape_takes_the_grid_path_for_a_meshgrid_only():
    land = optlab.get_landscape("mlp_moons_plane")
    plane = network_of(land).plane
    xs, ys = np.linspace(-3, 3, 11), np.linspace(-2, 2, 9)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1)
    np.testing.assert_array_equal(land.f(grid), plane.surface(xs, ys))
    points = grid.reshape(-1, 2)
    np.testing.assert_array_equal(land.f(points), plane.evaluate(points[:, 0], points[:, 1], grad=False)[0])
    np.testing.assert_allclose(land.f(grid).ravel(), land.f(points), rtol=1e-13)


def test_random_directions_are_filter_normalised():
    net = MLP((64, 32, 10))
    theta0 = net.init(4)
    d1, d2 = random_directions(net, theta0, 4)
    assert not np.allclose(d1, d2)
    for d in (d1, d2):
        for (W, b), (Wd, bd) in zip(net.unflatten(theta0), net.unflatten(d), strict=True):
            np.testing.assert_allclose(np.linalg.norm(np.column_stack([Wd, bd]), axis=1),
                                       np.linalg.norm(np.column_stack([W, b]), axis=1), rtol=1e-12)
    again, _ = random_directions(net, theta0, 4)
    np.testing.assert_array_equal(again, d1)


# --- the registered landscapes ---------------------------------------------------------------------

def test_the_network_landscapes_are_registered():
    assert {"mlp_moons_plane", "mlp_digits_plane"} <= set(NETWORK_LANDSCAPES)


@pytest.mark.parametrize("name", NETWORK_LANDSCAPES)
def test_landscape_is_the_network_on_its_plane(name):
    land = optlab.get_landscape(name)
    source = network_of(land)
    plane = source.plane
    assert land.data_size == plane.size == len(source.data.X)
    assert land.start == (0.0, 0.0)
    np.testing.assert_array_equal(plane.theta(0.0, 0.0), plane.net.init(land.param_values["net_seed"]))
    z = np.array([[0.3, -0.7], [-1.1, 0.4]])
    f, gx, gy = land.evaluate(z[:, 0], z[:, 1])
    for i in range(2):
        value, grad = torch_plane(plane, z[i])
        assert f[i] == pytest.approx(value, rel=1e-12)
        np.testing.assert_allclose([gx[i], gy[i]], grad, rtol=1e-10, atol=1e-12)
    idx = np.tile(np.arange(7), (2, 1))
    np.testing.assert_allclose(np.stack(land.minibatch(z[:, 0], z[:, 1], idx), -1),
                               [torch_plane(plane, z[i], idx[i])[1] for i in range(2)], rtol=1e-10, atol=1e-12)


def test_parameters_build_the_network_they_name_and_the_link_carries_them():
    land = optlab.get_landscape("mlp_moons_plane", hidden=6, layers=2, relu=True, net_seed=3)
    net = network_of(land).plane.net
    assert net.sizes == (2, 6, 6, 2) and net.activation == "relu"
    assert land.title == "Two moons: MLP 2-6-6-2 (ReLU), random plane"
    assert optlab.get_landscape("mlp_moons_plane", hidden=6, layers=2, relu=True, net_seed=3) is land  # cached
    from optlab import config as C

    cfg, problems = C.from_query({"landscape": "mlp_moons_plane", "mlp_moons_plane.hidden": "6",
                                  "mlp_moons_plane.relu": "true", "opt": "adam", "batch": "16"})
    assert not problems and cfg.land.param_values["hidden"] == 6 and cfg.land.param_values["relu"] is True
    url = C.to_url(cfg, "")
    assert "mlp_moons_plane.hidden=6" in url and "mlp_moons_plane.relu=true" in url and "batch=16" in url
    with pytest.raises(ValueError, match="hidden"):
        optlab.get_landscape("mlp_moons_plane", hidden=100)


def test_standardise_off_gives_the_raw_features_on_the_same_plane_and_the_link_carries_it():
    raw = optlab.get_landscape("mlp_iris_plane", standardise=False)
    scaled = optlab.get_landscape("mlp_iris_plane")
    source = network_of(raw)
    data = source.data
    assert not data.standardise and "raw features" in raw.title and "raw" not in scaled.title
    test = np.zeros(len(data.raw_X), dtype=bool)
    test[data.test_index] = True
    np.testing.assert_array_equal(data.X, data.raw_X[~test])  # the features as scikit-learn ships them
    plane = source.plane
    np.testing.assert_array_equal(plane.theta0, network_of(scaled).plane.theta0)
    np.testing.assert_array_equal(plane.d1, network_of(scaled).plane.d1)  # the same plane, other inputs
    z = np.array([0.4, -0.8])
    value, grad = torch_plane(plane, z)  # autograd on the raw features
    f, gx, gy = raw.evaluate(z[0], z[1])
    assert float(f) == pytest.approx(value, rel=1e-12) and float(f) != pytest.approx(float(scaled.f(z)), rel=1e-3)
    np.testing.assert_allclose([gx, gy], grad, rtol=1e-10)
    from optlab import config as C

    cfg, problems = C.from_query({"landscape": "mlp_iris_plane", "mlp_iris_plane.standardise": "false", "opt": "sgd"})
    assert not problems and cfg.land is raw
    assert "mlp_iris_plane.standardise=false" in C.to_url(cfg, "")
    again, problems = C.from_query(C._group(C.to_query(cfg)))
    assert not problems and again == cfg


def test_the_solutions_plane_passes_through_the_trained_networks():
    land = optlab.get_landscape("mlp_moons_plane", solutions=True)
    source = network_of(land)
    plane = source.plane
    data = source.data
    theta0 = plane.net.init(0)
    ends = {}
    for (name, hp), z in zip(SOLVERS, ((1.0, 0.0), (0.0, 1.0)), strict=True):
        model = torch_model(plane.net, theta0)  # the same full-batch training in torch.optim
        opt = torch.optim.SGD(model.parameters(), momentum=0.9, **hp) if name == "momentum" else \
            torch.optim.Adam(model.parameters(), **hp)
        for _ in range(REFERENCE_STEPS):
            opt.zero_grad()
            torch_loss(plane.net, model(torch.tensor(data.X)), data.y).backward()
            opt.step()
        ends[name] = torch.nn.utils.parameters_to_vector(model.parameters()).detach().numpy()
        np.testing.assert_allclose(plane.theta(*z), ends[name], rtol=1e-8, atol=1e-10)
        # the records' fixed descent (optlab.networks.solve) is the engine's training with the declaration
        engine = train(plane.net, data.X, data.y, name, theta0, steps=REFERENCE_STEPS, **hp).theta
        np.testing.assert_allclose(source.trained[name], engine, rtol=1e-9, atol=1e-12)
    assert land.domain == ((-0.5, 1.5), (-0.5, 1.5))


@pytest.mark.parametrize("name", ["mlp_moons_plane", "mlp_digits_plane"])
def test_lesson_reports_the_planes_test_accuracy_beside_the_full_networks(name):
    land = optlab.get_landscape(name)
    source = network_of(land)
    plane, data = source.plane, source.data
    assert "2-D subspace" in land.lesson and "Li, Farkhoor, Liu & Yosinski 2018" in land.lesson
    best = land.minima[0] if len(land.minima) else None
    assert best is not None, land.minima_note
    model = torch_model(plane.net, plane.theta(*best))
    accuracy = (model(torch.tensor(data.X_test)).argmax(1).numpy() == data.y_test).mean()
    full = train(plane.net, data.X, data.y, "adam", plane.theta0, steps=REFERENCE_STEPS, lr=0.01).theta
    full_accuracy = (torch_model(plane.net, full)(torch.tensor(data.X_test)).argmax(1).numpy() == data.y_test).mean()
    assert f"{100 * accuracy:.1f} % at the plane's lowest point" in land.lesson
    assert f"{100 * full_accuracy:.1f} % for the full network" in land.lesson
    assert full_accuracy > accuracy  # two of P dimensions do not reach what all of them do
    print(f"{name}: test accuracy {100 * accuracy:.1f} % in the plane, {100 * full_accuracy:.1f} % full network")


# --- everything the app does, on a network plane ---------------------------------------------------

@pytest.mark.parametrize("optimizer", optlab.optimizer_names())
def test_every_optimizer_runs_on_the_moons_plane_with_minibatches(optimizer):
    lrs = {"adagrad": 0.5, "adadelta": 1.0, "lion": 0.01, "sgd": 0.5, "momentum": 0.1, "nesterov": 0.1}
    lr = lrs.get(optimizer, 0.05)
    run = optlab.simulate("mlp_moons_plane", optimizer, steps=60, batch_size=16, seed=3, lr=lr)
    assert run.diverged_at is None and np.isfinite(run.loss).all()
    assert run.loss[-1] < run.loss[0]
    again = optlab.simulate("mlp_moons_plane", optimizer, steps=60, batch_size=16, seed=3, lr=lr)
    np.testing.assert_array_equal(run.path, again.path)


def test_a_batch_equals_its_single_runs_bit_for_bit_on_a_plane():
    starts = np.array([[0.0, 0.0], [1.0, -1.0], [-2.0, 0.5]])
    batch = optlab.simulate("mlp_moons_plane", "adam", start=starts, steps=30, batch_size=8, seed=[1, 2, 1], lr=0.05)
    for i in range(3):
        single = optlab.simulate("mlp_moons_plane", "adam", start=starts[i], steps=30, batch_size=8,
                                 seed=[1, 2, 1][i], lr=0.05)
        np.testing.assert_array_equal(batch.run(i).path, single.path)
        np.testing.assert_array_equal(batch.run(i).grad_used, single.grad_used)


def test_sweeps_basins_and_seed_bands_run_on_a_plane():
    sw = sweeps.sensitivity("mlp_moons_plane", "adam", x="lr", y="beta1", n=3, steps=20)
    assert sw.final_loss.shape == (3, 3) and np.isfinite(sw.final_loss).all()
    bm = sweeps.basins("mlp_moons_plane", "adam", n=3, steps=20, hparams={"lr": 0.05})
    assert sum(bm.shares().values()) == pytest.approx(1.0)
    band = sweeps.seed_bands("mlp_moons_plane", "sgd", n_seeds=3, steps=20, batch_size=16, hparams={"lr": 0.5})
    assert band.quantiles() is not None


def test_the_page_renders_a_network_plane_from_a_link():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(__import__("pathlib").Path(__file__).parents[1] / "app.py"), default_timeout=300)
    for key, value in {"landscape": "mlp_moons_plane", "mlp_moons_plane.hidden": "8", "opt": ["adam", "sgd"],
                       "adam.lr": "0.05", "sgd.lr": "0.5", "batch": "16", "steps": "60"}.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    from test_app import charts

    assert len(charts(at)) == 3
    assert "mlp_moons_plane.hidden=8" in at.code[0].value and "batch=16" in at.code[0].value


# --- full training ---------------------------------------------------------------------------------

TORCH_OPTIMIZERS = {
    "sgd": (lambda p: torch.optim.SGD(p, lr=0.1), {"lr": 0.1}),
    "momentum": (lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=False), {"lr": 0.05}),
    "nesterov": (lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True), {"lr": 0.05}),
    "adam": (lambda p: torch.optim.Adam(p, lr=0.01), {"lr": 0.01}),
    "adamw": (lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1), {"lr": 0.01, "weight_decay": 0.1}),
    "rmsprop": (lambda p: torch.optim.RMSprop(p, lr=0.003, momentum=0.5), {"lr": 0.003, "momentum": 0.5}),
    "adagrad": (lambda p: torch.optim.Adagrad(p, lr=0.05), {"lr": 0.05}),
    "nadam": (lambda p: torch.optim.NAdam(p, lr=0.01), {"lr": 0.01}),
    "radam": (lambda p: torch.optim.RAdam(p, lr=0.01), {"lr": 0.01}),
}


@pytest.mark.parametrize("name", list(TORCH_OPTIMIZERS))
def test_full_training_equals_torch_optim_step_by_step(name):
    net, data = network_for("digits", (16,), "tanh")
    theta0 = net.init(2)
    steps, batch = 25, 32
    make, hp = TORCH_OPTIMIZERS[name]
    ours = train(net, data.X, data.y, name, theta0, steps=steps, batch_size=batch, seed=7, record_path=True, **hp)
    model = torch_model(net, theta0)
    opt = make(list(model.parameters()))
    order = minibatch_order(7, steps, len(data.X), batch)
    for k in range(steps):
        opt.zero_grad()
        loss = torch_loss(net, model(torch.tensor(data.X[order[k]])), data.y[order[k]])
        assert ours.loss[k, 0] == pytest.approx(loss.item(), rel=1e-9)
        loss.backward()
        opt.step()
        theta = torch.nn.utils.parameters_to_vector(model.parameters()).detach().numpy()
        np.testing.assert_allclose(ours.path[k + 1][:, 0], theta, rtol=1e-9, atol=1e-12, err_msg=f"step {k + 1}")


def test_full_training_of_several_networks_at_once_equals_each_alone():
    net, data = network_for("iris", (8,), "tanh")
    thetas = np.stack([net.init(s) for s in range(3)], axis=1)  # (P, 3)
    together = train(net, data.X, data.y, "adam", thetas, steps=40, batch_size=16, seed=1, lr=0.02)
    for j in range(3):
        alone = train(net, data.X, data.y, "adam", thetas[:, j], steps=40, batch_size=16, seed=1, lr=0.02)
        np.testing.assert_allclose(together.theta[:, j], alone.theta, rtol=1e-12, atol=1e-14)


def test_optimizers_trained_as_one_group_equal_each_trained_alone_bit_for_bit():
    from optlab.training import train_group

    net, data = network_for("iris", (8,), "tanh")
    theta0 = net.init(0)
    members = [("adam", {"lr": 0.02}), ("momentum", {"lr": 0.05}), ("rmsprop", {"lr": 0.01})]
    for seeds in (1, [1, 2, 3]):  # one minibatch order for all, or one per member
        together = train_group(net, data.X, data.y, members, theta0, steps=40, batch_size=16, seeds=seeds)
        for j, ((name, hp), run) in enumerate(zip(members, together, strict=True)):
            alone = train(net, data.X, data.y, name, theta0, steps=40, batch_size=16,
                          seed=seeds if isinstance(seeds, int) else seeds[j], **hp)
            np.testing.assert_array_equal(run.theta, alone.theta)
            np.testing.assert_array_equal(run.loss, alone.loss)
    with pytest.raises(ValueError, match="one seed, or one per member"):
        train_group(net, data.X, data.y, members, theta0, steps=5, seeds=[1, 2])


def test_work_buffers_give_the_same_numbers_and_what_escapes_is_not_overwritten():
    from optlab.networks.mlp import Work, head

    rng = np.random.default_rng(4)
    for net, data in (network_for("digits", (16, 8), "tanh"), network_for("digits", (12,), "relu"),
                      network_for("diabetes", (8,), "tanh")):
        X, y = data.X[:300], data.y[:300]
        work = Work()
        kept = []
        for B in (None, 2, 2, 3, 2):  # new shapes and shapes met before, as a loop's minibatches
            theta = net.init(0) if B is None else net.init(0)[:, None] + 0.3 * rng.standard_normal((net.size, B))
            f, g = net.value_and_grad(theta, X, y, work=work)
            fresh_f, fresh_g = net.value_and_grad(theta, X, y)  # every array new, as before Work
            np.testing.assert_array_equal(f, fresh_f)
            np.testing.assert_array_equal(g, fresh_g)
            outs = net.forward(theta, X, quick=True, work=work)
            np.testing.assert_array_equal(outs[-1], net.forward(theta, X, quick=True)[-1])
            np.testing.assert_array_equal(head(outs[-1], net.targets(y), net.loss, grad=False, work=work)[0],
                                          head(outs[-1], net.targets(y), net.loss, grad=False)[0])
            kept.append((f, g, fresh_f.copy(), fresh_g.copy()))
        for f, g, f0, g0 in kept:  # the loss and gradient are the caller's: later passes leave them alone
            np.testing.assert_array_equal(f, f0)
            np.testing.assert_array_equal(g, g0)
        assert work.nbytes > 0


def test_a_full_batch_training_keeps_the_gradient_it_hands_on():
    """torch's SGD with momentum copies the first gradient into its buffer (state b = g at step 1): a loop reusing
    its passes' arrays must hand on a gradient of its own each step. Checked against the same rule written out."""
    from optlab.networks.mlp import one_blas_thread

    net, data = network_for("digits", (16,), "tanh")
    theta0, lr, mu = net.init(1), 0.05, 0.9
    seen = []
    run = train(net, data.X, data.y, "momentum", theta0, steps=6, lr=lr,
                on_step=lambda k, before, g, after, state: seen.append((g, state.b)))
    theta, b = theta0.copy(), None
    for k in range(6):
        with one_blas_thread():  # (as the loop: two threads split the sums over the examples of ∇W differently)
            _, g = net.value_and_grad(theta, data.X, data.y)
        np.testing.assert_array_equal(seen[k][0][:, 0], g)
        b = g if b is None else mu * b + 1.0 * g
        theta = theta - lr * b
    np.testing.assert_array_equal(run.theta, theta)
    np.testing.assert_array_equal(seen[-1][1][:, 0], b)


@pytest.mark.skipif(not sys.platform.startswith("linux") or __import__("platform").libc_ver()[0] != "glibc",
                    reason="glibc's allocator and getrusage's minor faults")
def test_a_full_batch_step_allocates_nothing_the_kernel_faults_in_again():
    """300 full-batch steps of two runs over digits' 1,348 examples made ~810 page faults a step (glibc trimmed
    the heap the 690 kB temporaries had grown at every step, or mapped each afresh): a fresh process with the
    allocator's thresholds where its dynamic threshold puts them after one such array (set for that process
    only), 50 steps after the first. Measured: 40,500 faults before the passes reused their arrays, 16 after."""
    code = """if True:
        import resource
        from optlab.networks import MLP, load_dataset
        from optlab.training import train_group
        data = load_dataset("digits")
        net = MLP((64, 32, 10))
        seen = []
        train_group(net, data.X, data.y, [("adam", {"lr": 1e-3}), ("sgd", {"lr": 1e-3})], net.init(0), steps=51,
                    on_step=lambda *_: seen.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt))
        print(seen[-1] - seen[0])
    """
    import os

    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(704 << 10), "MALLOC_TRIM_THRESHOLD_": str(1408 << 10)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert int(out.stdout.split()[-1]) < 50 * 20

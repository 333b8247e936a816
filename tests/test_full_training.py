"""View 2 of the real networks: full training (optlab.full_training) and its shared plane (optlab.projection).

References: torch (the same network and minibatches trained by torch.optim, layer norms from its
parameters' .grad), NumPy's SVD and least squares on the stacked checkpoints, and the network
evaluated directly at the points the page draws.
"""

import numpy as np
import pytest

import optlab
from optlab.full_training import MAX_GRID, MAX_STEPS, checkpoint_steps, train_all, train_one
from optlab.models import minibatch_order
from optlab.networks.landscape import network_of
from optlab.projection import disagreements, project

torch = pytest.importorskip("torch")
from torch_networks import float64, torch_model  # noqa: E402, F401  (an autouse fixture)

F = torch.nn.functional


@pytest.fixture(scope="module")
def iris():
    return network_of(optlab.get_landscape("mlp_iris_plane"))


HP = {"sgd": {"lr": 0.2}, "momentum": {"lr": 0.05}, "adam": {"lr": 0.02}}


@pytest.fixture(scope="module")
def trained(iris):
    return train_all(iris, HP, steps=120, batch_size=16, seed=3, grid=9)


def test_full_training_records_what_torch_optim_does(iris):
    net, data = iris.net, iris.data
    steps, batch, seed = 60, 16, 3
    run = train_one(iris, "adam", {"lr": 0.02}, steps=steps, batch_size=batch, seed=seed)
    model = torch_model(net, iris.plane.theta0)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    order = minibatch_order(seed, steps, len(data.X), batch)
    kept = {int(k): i for i, k in enumerate(run.steps)}
    X, y, Xt, yt = (torch.tensor(np.array(a)) for a in (data.X, data.y, data.X_test, data.y_test))
    for k in range(steps + 1):
        params = list(model.parameters())
        theta = torch.nn.utils.parameters_to_vector(params).detach()
        if k in kept:
            i = kept[k]
            np.testing.assert_allclose(run.path[i], theta.numpy(), rtol=1e-9, atol=1e-12)
            with torch.no_grad():
                out, out_t = model(X), model(Xt)
            assert run.train_loss[i] == pytest.approx(F.cross_entropy(out, y).item(), rel=1e-9)
            assert run.test_loss[i] == pytest.approx(F.cross_entropy(out_t, yt).item(), rel=1e-9)
            assert run.train_accuracy[i] == (out.argmax(1) == y).double().mean().item()
            assert run.test_accuracy[i] == (out_t.argmax(1) == yt).double().mean().item()
        if k == steps:
            break
        opt.zero_grad()
        loss = F.cross_entropy(model(X[order[k]]), y[order[k]])
        assert run.minibatch_loss[k] == pytest.approx(loss.item(), rel=1e-9)
        loss.backward()
        before = [p.detach().clone() for p in params]
        grads = [p.grad.detach().clone() for p in params]
        opt.step()
        for layer in range(len(net.shapes)):  # W and b of a layer: parameters 2l and 2l + 1
            w, b = 2 * layer, 2 * layer + 1
            g = torch.sqrt(grads[w].pow(2).sum() + grads[b].pow(2).sum()).item()
            delta = torch.sqrt((params[w] - before[w]).pow(2).sum() + (params[b] - before[b]).pow(2).sum()).item()
            size = torch.sqrt(before[w].pow(2).sum() + before[b].pow(2).sum()).item()
            assert run.grad_norm[k, layer] == pytest.approx(g, rel=1e-9)
            assert run.update_ratio[k, layer] == pytest.approx(delta / size, rel=1e-7)
            steps_of = []  # Adam's effective step lr·m̂/(√v̂ + ε) from torch's own state (exp_avg, exp_avg_sq)
            for p in (params[w], params[b]):
                state = opt.state[p]
                t = int(state["step"])
                m_hat = state["exp_avg"] / (1 - 0.9 ** t)
                v_hat = state["exp_avg_sq"] / (1 - 0.999 ** t)
                steps_of.append((0.02 * m_hat / (v_hat.sqrt() + 1e-8)).abs().flatten())
            median = np.median(torch.cat(steps_of).numpy())
            assert run.effective_step[k, layer] == pytest.approx(median, rel=1e-7)
    assert run.diverged_at is None


def test_checkpoints_are_evenly_spaced_and_hold_both_ends():
    assert checkpoint_steps(400).tolist() == list(range(0, 401, 10))
    for steps in (1, 7, 40, 333, 2000):
        k = checkpoint_steps(steps)
        assert k[0] == 0 and k[-1] == steps and np.all(np.diff(k) > 0) and len(k) == min(41, steps + 1)
        assert np.diff(k).max() - np.diff(k).min() <= 1


def test_the_shared_plane_is_the_principal_plane_of_the_displacements(trained, iris):
    proj = trained.projection
    theta0 = iris.plane.theta0
    A = np.concatenate([r.path for r in trained.runs.values()]) - theta0
    _, s, vt = np.linalg.svd(A, full_matrices=False)  # directly: NumPy's SVD of every displacement
    assert proj.explained == pytest.approx((s[:2] ** 2).sum() / (s ** 2).sum(), rel=1e-10)
    np.testing.assert_allclose(proj.directions @ proj.directions.T, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(proj.directions.T @ proj.directions, vt[:2].T @ vt[:2], atol=1e-10)  # same plane
    for name, run in trained.runs.items():
        moved = run.path - theta0
        z, *_ = np.linalg.lstsq(proj.directions.T, moved.T, rcond=None)  # the nearest point of the plane
        np.testing.assert_allclose(proj.coords[name], z.T, rtol=1e-9, atol=1e-12)
        residual = np.linalg.norm(moved - z.T @ proj.directions, axis=1)
        np.testing.assert_allclose(proj.distance[name], residual, rtol=1e-7, atol=1e-10)
        np.testing.assert_allclose(proj.norm[name], np.linalg.norm(moved, axis=1), rtol=1e-12)
        held = np.linalg.norm(z.T, axis=1) ** 2 / np.maximum(np.linalg.norm(moved, axis=1) ** 2, 1e-300)
        np.testing.assert_allclose(proj.share_held(name)[1:], held[1:], rtol=1e-7, atol=1e-10)
        assert proj.coords[name][0].tolist() == [0.0, 0.0] and proj.distance[name][0] == 0  # the common start


def test_the_plane_loss_is_the_network_at_each_projection_and_over_the_grid(trained, iris):
    net, data = iris.net, iris.data
    proj = trained.projection
    for name in trained.runs:
        points = proj.point(proj.coords[name])  # (K, P)
        np.testing.assert_allclose(trained.plane_loss[name], net.value(points.T, data.X, data.y), rtol=1e-10)
    gx, gy = np.meshgrid(trained.xs, trained.ys)
    direct = net.value(proj.point(np.stack([gx.ravel(), gy.ravel()], axis=1)).T, data.X, data.y)
    np.testing.assert_allclose(trained.surface.ravel(), direct, rtol=1e-10)
    z = np.concatenate(list(proj.coords.values()))
    assert trained.xs[0] < z[:, 0].min() and z[:, 0].max() < trained.xs[-1]  # every checkpoint on the square
    assert trained.ys[0] < z[:, 1].min() and z[:, 1].max() < trained.ys[-1]


def test_disagreements_flag_a_plane_loss_off_by_more_than_a_tenth():
    np.testing.assert_array_equal(disagreements([1.0, 1.0, 0.5, np.nan], [1.05, 1.2, 0.2, 1.0]),
                                  [False, True, True, True])


def test_a_run_in_the_plane_is_held_by_it_exactly():
    rng = np.random.default_rng(0)
    origin, d = rng.normal(size=30), np.linalg.qr(rng.normal(size=(30, 2)))[0].T
    paths = {"a": origin + rng.normal(size=(12, 2)) @ d, "b": origin + rng.normal(size=(12, 2)) @ d}
    proj = project(paths, origin)
    assert proj.explained == pytest.approx(1.0, abs=1e-12)
    for name in paths:
        np.testing.assert_allclose(proj.distance[name], 0.0, atol=1e-12)
        np.testing.assert_allclose(proj.point(proj.coords[name]), paths[name], atol=1e-12)


def test_caps_on_steps_and_grid_say_what_is_allowed(iris):
    with pytest.raises(ValueError, match=f"allowed: 1 to {MAX_STEPS}"):
        train_one(iris, "sgd", {"lr": 0.1}, steps=MAX_STEPS + 1)
    with pytest.raises(ValueError, match=f"allowed: 2 to {MAX_GRID}"):
        train_all(iris, {"sgd": {"lr": 0.1}}, steps=10, grid=MAX_GRID + 1)


def test_a_diverging_run_is_reported_and_kept_off_the_plane():
    relu = network_of(optlab.get_landscape("mlp_iris_plane", relu=True))  # (tanh's bounded units stay finite)
    out = train_all(relu, {"sgd": {"lr": 1e10}, "adam": {"lr": 0.02}}, steps=30, grid=5)
    sgd = out.runs["sgd"]
    first = np.argmax(~np.isfinite(sgd.minibatch_loss)) + 1
    assert sgd.diverged_at == first and np.isnan(sgd.path[-1]).all() and np.isnan(sgd.test_accuracy[-1])
    assert out.runs["adam"].diverged_at is None
    assert list(out.projection.coords) == list(out.plane_loss) == ["adam"]  # the plane is the finite run's
    assert np.isfinite(out.surface).all() and np.isfinite(out.projection.directions).all()


def test_the_honesty_notes_say_what_the_numbers_are(trained):
    from optlab.full_training import honesty_notes
    from optlab.projection import disagreements

    notes = honesty_notes(trained)
    proj = trained.projection
    assert notes[0].startswith(f"The plane holds {100 * proj.explained:.1f} % of the checkpoints' squared distance")
    for note, (name, r) in zip(notes[1:], trained.runs.items(), strict=True):
        assert note.startswith(f"{name}: its last checkpoint (step {r.steps[-1]}) is {proj.distance[name][-1]:.3g} "
                               f"from the plane, {100 * proj.share_off(name)[-1]:.0f} % of its distance from θ₀")
        assert f"true loss {r.train_loss[-1]:.4g}, the plane's {trained.plane_loss[name][-1]:.4g}" in note
        differ = disagreements(r.train_loss, trained.plane_loss[name])
        if differ.any():
            assert f"At {int(differ.sum())} of its {len(differ)} checkpoints (first at step " \
                   f"{r.steps[np.argmax(differ)]})" in note and "not the loss the network had" in note
        else:
            assert "at every checkpoint the two are within 10 %" in note
    assert any("not the loss the network had" in n for n in notes[1:])  # (this training has such checkpoints)


def test_seed_bands_are_the_runs_of_each_minibatch_seed(iris):
    from optlab.full_training import MAX_BAND_STEPS, band_seeds, seed_bands

    bands = seed_bands(iris, {"sgd": {"lr": 0.2}}, steps=30, batch_size=16, seed=4, seeds=3)
    band = bands["sgd"]
    assert band.seeds.tolist() == [4, 5, 6]
    for row, s in enumerate(band.seeds):
        alone = train_one(iris, "sgd", {"lr": 0.2}, steps=30, batch_size=16, seed=int(s))
        np.testing.assert_array_equal(band.train_loss[row], alone.train_loss)
        np.testing.assert_array_equal(band.test_accuracy[row], alone.test_accuracy)
    assert not np.array_equal(band.train_loss[0], band.train_loss[1])  # other minibatches, other runs
    with pytest.raises(ValueError, match="need minibatches"):
        seed_bands(iris, {"sgd": {"lr": 0.2}}, steps=30, batch_size=0)
    assert band_seeds(4, 2000, 10) == MAX_BAND_STEPS // 8000 == 5 and band_seeds(1, 10, 3) == 3  # the cap


@pytest.fixture(scope="module")
def through_ends(iris):
    return train_all(iris, HP, steps=120, batch_size=16, seed=3, grid=9, plane="ends")


def test_the_plane_through_two_ends_holds_them_and_its_numbers_are_a_direct_computation(through_ends, trained, iris):
    out, theta0 = through_ends, iris.plane.theta0
    assert out.plane == "ends" and out.ends == ("sgd", "momentum") and out.plane_note is None
    for name in HP:  # the same runs as the PCA plane's: only the plane differs
        np.testing.assert_array_equal(out.runs[name].path, trained.runs[name].path)
    d = np.array([out.runs[n].path[-1] - theta0 for n in out.ends])  # directly: d_i = θ_i − θ₀
    np.testing.assert_array_equal(out.projection.directions, d)
    held = total = 0.0
    for name, run in out.runs.items():
        moved = run.path - theta0
        z, *_ = np.linalg.lstsq(d.T, moved.T, rcond=None)  # the nearest point of the plane, in the basis d₁, d₂
        np.testing.assert_allclose(out.projection.coords[name], z.T, rtol=1e-8, atol=1e-10)
        residual = np.linalg.norm(moved - z.T @ d, axis=1)
        np.testing.assert_allclose(out.projection.distance[name], residual, rtol=1e-6, atol=1e-9)
        held += (np.linalg.norm(z.T @ d, axis=1) ** 2).sum()
        total += (np.linalg.norm(moved, axis=1) ** 2).sum()
        points = theta0 + z.T @ d  # the plane's loss at each projection: the network evaluated there
        np.testing.assert_allclose(out.plane_loss[name], iris.net.value(points.T, iris.data.X, iris.data.y),
                                   rtol=1e-9)
    assert out.projection.explained == pytest.approx(held / total, rel=1e-10)
    assert out.projection.explained <= trained.projection.explained + 1e-12  # PCA's plane holds the most
    np.testing.assert_allclose(out.projection.coords["sgd"][-1], [1.0, 0.0], atol=1e-9)  # the ends, on the plane
    np.testing.assert_allclose(out.projection.coords["momentum"][-1], [0.0, 1.0], atol=1e-9)
    assert out.projection.distance["sgd"][-1] < 1e-9 * out.projection.norm["sgd"][-1]
    gx, gy = np.meshgrid(out.xs, out.ys)
    direct = iris.net.value((theta0 + np.stack([gx.ravel(), gy.ravel()], axis=1) @ d).T, iris.data.X, iris.data.y)
    np.testing.assert_allclose(out.surface.ravel(), direct, rtol=1e-10)


def test_the_plane_through_two_ends_needs_two_runs_and_says_so(iris):
    one = train_all(iris, {"adam": {"lr": 0.02}}, steps=20, grid=5, plane="ends")
    assert one.plane == "pca" and one.ends is None and "needs two runs that did not diverge (1 here)" in one.plane_note
    with pytest.raises(ValueError, match="allowed: pca, ends"):
        train_all(iris, {"adam": {"lr": 0.02}}, steps=20, grid=5, plane="random")
    from optlab.projection import through_ends as ends_plane

    paths = {"a": np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 0.0]]), "b": np.array([[0.0, 0.0, 0.0], [-2.0, -4.0, 0.0]])}
    with pytest.raises(ValueError, match="one line through θ₀"):
        ends_plane(paths, np.zeros(3), ("a", "b"))


def test_schedule_free_is_judged_at_x_the_point_it_reports(iris):
    from optlab.training import train

    net, data = iris.net, iris.data
    hp = {"lr": 0.5}
    run = train_one(iris, "schedule_free_sgd", hp, steps=40, batch_size=16, seed=3)
    xs, ys = {}, {}  # directly: the optimizer's own x (its state) and y (its parameters) after every step

    def keep(k, before, g, after, state):
        xs[k], ys[k] = state.x[:, 0].copy(), after[:, 0].copy()

    train(net, data.X, data.y, "schedule_free_sgd", iris.plane.theta0, steps=40, batch_size=16, seed=3,
          on_step=keep, **hp)
    for i, k in enumerate(run.steps[1:], start=1):
        np.testing.assert_array_equal(run.path[i], xs[k])
        assert run.train_loss[i] == pytest.approx(float(net.value(xs[k], data.X, data.y)), rel=1e-12)
        if k > 1:  # (x and y differ after the first step, where both are z₁: judging at y gives other numbers)
            assert not np.array_equal(xs[k], ys[k])
    assert run.test_accuracy[-1] == net.accuracy(xs[40], data.X_test, data.y_test)


def test_the_runs_trained_together_equal_each_trained_alone(iris):
    from optlab.full_training import train_many

    members = [("adam", {"lr": 0.02}, 3), ("sgd", {"lr": 0.2}, 4), ("momentum", {"lr": 0.05}, 3)]
    together = train_many(iris, members, steps=30, batch_size=16)
    for (name, hp, seed), run in zip(members, together, strict=True):
        alone = train_one(iris, name, hp, steps=30, batch_size=16, seed=seed)
        np.testing.assert_array_equal(run.path, alone.path)
        np.testing.assert_array_equal(run.minibatch_loss, alone.minibatch_loss)
        np.testing.assert_array_equal(run.grad_norm, alone.grad_norm)
        np.testing.assert_array_equal(run.train_loss, alone.train_loss)


def test_adams_effective_steps_taken_in_blocks_of_steps_equal_those_taken_step_by_step(iris, monkeypatch):
    from optlab import full_training

    members = [("adam", {"lr": 0.02}, 3), ("sgd", {"lr": 0.2}, 3), ("amsgrad", {"lr": 0.05}, 4)]
    runs = {}
    for rows in (1, 7, None):  # a block per step (as the medians were taken), blocks of 7 with a tail, the default
        if rows:
            monkeypatch.setattr(full_training, "MEDIAN_ELEMENTS", rows * iris.net.size * 2)
        runs[rows] = full_training.train_many(iris, members, steps=30, batch_size=16)
        monkeypatch.undo()
    for j in (0, 2):
        assert np.isfinite(runs[1][j].effective_step).all()
        np.testing.assert_array_equal(runs[7][j].effective_step, runs[1][j].effective_step)
        np.testing.assert_array_equal(runs[None][j].effective_step, runs[1][j].effective_step)
    assert runs[None][1].effective_step is None

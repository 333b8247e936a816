"""optlab's update rules against torch.optim itself.

Teacher forcing: torch runs 300 steps on Rosenbrock; at every step optlab starts from
torch's own θ and state buffers (mapped by each buffer's ``torch_name``) and must land
on torch's next θ to rounding error. Comparing whole trajectories instead cannot tell a
wrong rule from rounding differences, which Rosenbrock's curved valley amplifies
exponentially. Short whole trajectories, schedules and clipping are checked as well.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import optlab
from optlab.optimizers.base import ARRAY

torch = pytest.importorskip("torch")
LAND = optlab.get_landscape("rosenbrock")
START = (-1.5, 2.0)


@pytest.fixture(autouse=True)
def _float64_scalars():
    # torch.optim keeps step counts and NAdam's running product Π_t in float32 unless the
    # default dtype is float64 (optim's _get_scalar_dtype); optlab computes them in float64.
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def torch_run(name: str, hp: dict, steps: int, clip=None, scheduler=None, land=LAND, start=START):
    """torch's path, and its state buffers before each step (as numpy)."""
    decl = optlab.get_optimizer(name)
    cls = getattr(torch.optim, decl.torch.rsplit(".", 1)[1])
    p = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = cls([p], foreach=False, **decl.torch_args(hp))  # the declaration's own mapping (betas, etas ...)
    sched = scheduler(opt) if scheduler else None
    path, states, grads, lrs = [p.detach().numpy().copy()], [], [], []
    for _ in range(steps):
        states.append({k: v.detach().numpy().copy() for k, v in opt.state[p].items()
                       if torch.is_tensor(v) and v.shape == p.shape})
        p.grad = torch.from_numpy(land.grad(p.detach().numpy()))
        if clip is not None:
            torch.nn.utils.clip_grad_norm_([p], clip)
        grads.append(p.grad.numpy().copy())
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        if sched:
            sched.step()
        path.append(p.detach().numpy().copy())
    return np.array(path), states, grads, lrs


def check_teacher_forced(name: str, hp: dict, steps: int = 300, rtol: float = 1e-13, land=LAND, start=START):
    """Every step from torch's own θ and state: the largest |optlab − torch| relative to |θ| is returned."""
    opt = optlab.get_optimizer(name)
    full = {**opt.defaults, **hp}
    path, states, grads, lrs = torch_run(name, full, steps, land=land, start=start)
    ns = opt.hp(**full)
    coeffs = opt.coefficients(np.arange(1.0, steps + 1), ns)
    Step = opt.step_type
    compared, worst = 0, 0.0
    for k in range(1, steps + 1):
        theta = path[k - 1]
        if not (np.isfinite(theta).all() and np.isfinite(path[k]).all()):
            break
        state = opt.init(theta, ns, ARRAY)
        state = state._replace(**{b.name: states[k - 1][b.torch_name] for b in opt.buffers
                                   if b.torch_name in states[k - 1]})
        row = {c: np.asarray(v).reshape(steps, -1)[k - 1, 0] if np.ndim(v) else v for c, v in coeffs.items()}
        step = Step(k, lrs[k - 1], *(row[c] for c in Step._fields[2:]))
        with np.errstate(all="ignore"):  # as simulate() does: a diverging step is not an error
            new, new_state = opt.update(grads[k - 1], state, theta, step, ns, ARRAY)
        # rounding in the step, magnified where the rule cancels (1 for every rule but centered RMSprop)
        slack = 16 * np.finfo(float).eps * cancellation(full, new_state) * np.abs(path[k] - theta)
        np.testing.assert_array_less(np.abs(new - path[k]), rtol * np.abs(path[k]) + slack + 1e-300,
                                     err_msg=f"{name} {hp}: step {k} from torch's state")
        worst = max(worst, float(np.max(np.abs(new - path[k]) / np.maximum(np.abs(path[k]), 1e-300))))
        compared += 1
    assert compared >= 1 or not np.isfinite(path[1]).all(), "nothing compared"
    return worst


def cancellation(hp: dict, state) -> float:
    """How much centered RMSprop's √(v − ḡ²) magnifies rounding: max v / (v − ḡ²), else 1.

    torch computes v − ḡ² with addcmul, which may fuse the multiply and the add; NumPy
    rounds twice. The two differ by about one ulp of v, which the subtraction turns into
    a relative error of ulp · v / (v − ḡ²) in the denominator, hence in the step.
    """
    if not hp.get("centered"):
        return 1.0
    with np.errstate(all="ignore"):
        ratio = state.v / (state.v - state.gbar * state.gbar)
    return float(np.nanmax(np.abs(ratio), initial=1.0))


CASES = [
    ("sgd", dict(lr=1e-3)),
    ("sgd", dict(lr=1e-3, weight_decay=0.1)),
    ("sgd", dict(lr=5e-4, momentum=0.9, dampening=0.3)),
    ("momentum", dict(lr=5e-4)),
    ("nesterov", dict(lr=5e-4, weight_decay=0.01)),
    ("adagrad", dict(lr=0.1)),
    ("adagrad", dict(lr=0.3, lr_decay=0.01, initial_accumulator_value=0.5, weight_decay=0.01)),
    ("rmsprop", dict(lr=1e-3)),
    ("rmsprop", dict(lr=1e-3, centered=True)),
    ("rmsprop", dict(lr=1e-4, momentum=0.8, centered=True, weight_decay=0.05, alpha=0.9)),
    ("rmsprop", dict(lr=1e-4, centered=True, alpha=0.3)),
    ("adadelta", dict(lr=1.0)),
    ("adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1)),
    ("adam", dict(lr=0.05)),
    ("adam", dict(lr=0.02, beta1=0.5, beta2=0.9, weight_decay=0.1)),
    ("amsgrad", dict(lr=0.05, beta2=0.9)),
    ("adamw", dict(lr=0.05)),
    ("adamw", dict(lr=0.05, weight_decay=0.5, amsgrad=True)),
    ("adamax", dict(lr=0.05)),
    ("adamax", dict(lr=0.02, beta1=0.8, weight_decay=0.05)),
    ("nadam", dict(lr=0.02)),
    ("nadam", dict(lr=0.02, momentum_decay=0.01, weight_decay=0.05)),
    ("radam", dict(lr=0.02)),
    ("radam", dict(lr=0.02, beta2=0.99, weight_decay=0.05)),
    ("rprop", dict(lr=0.01)),
    ("rprop", dict(lr=0.1, eta_minus=0.3, eta_plus=1.5, step_size_min=1e-3, step_size_max=0.5)),
    ("asgd", dict(lr=1e-4)),
    ("asgd", dict(lr=5e-4, lambd=0.01, alpha=0.5, t0=20, weight_decay=0.05)),
    ("adafactor", dict(lr=0.01)),
    ("adafactor", dict(lr=0.1, beta2_decay=-0.5, eps1=1e-10, eps2=1e-2, d=1.5, weight_decay=0.05)),
]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in h.items())}" for n, h in CASES]


@pytest.mark.parametrize("name, hp", CASES, ids=IDS)
def test_every_step_matches_torch_from_torchs_own_state(name, hp):
    check_teacher_forced(name, hp)


@pytest.mark.parametrize("name, hp", CASES, ids=IDS)
def test_short_trajectories_match_torch(name, hp):
    opt = optlab.get_optimizer(name)
    run = optlab.simulate(LAND, name, start=START, steps=40, **hp)
    path, *_ = torch_run(name, {**opt.defaults, **hp}, 40)
    np.testing.assert_allclose(run.path, path, rtol=1e-12, atol=1e-14)


# every declaration whose update is one torch step on one gradient (lbfgs evaluates the landscape itself inside
# its step: tests/test_lbfgs.py runs torch.optim.LBFGS with a closure)
TORCH_NAMES = [n for n in optlab.optimizer_names() if optlab.get_optimizer(n).torch
               and not optlab.get_optimizer(n).evaluates]
# the hyperparameters of Rprop, ASGD and Adafactor: u ∈ [0, 1] onto the range torch accepts
NEW_RANGES = {
    "eta_minus": lambda u: 0.05 + 0.9 * u, "eta_plus": lambda u: 1.01 + 1.5 * u,
    "step_size_min": lambda u: 10 ** (-8 + 6 * u), "step_size_max": lambda u: 10 ** (-1 + 2 * u),
    "lambd": lambda u: 10 ** (-5 + 4 * u), "alpha": lambda u: u, "t0": lambda u: 200 * u,
    "beta2_decay": lambda u: -1.2 * u, "eps1": lambda u: 10 ** (-30 + 27 * u), "eps2": lambda u: 10 ** (-6 + 5 * u),
    "d": lambda u: 1 + 4 * u,
}
NEW = ["rprop", "asgd", "adafactor"]
LANDS = [("rosenbrock", (-1.5, 2.0)), ("himmelblau", (-1.0, -1.5)), ("rastrigin", (2.3, -1.7))]


@pytest.mark.parametrize("land, start", LANDS, ids=[n for n, _ in LANDS])
@pytest.mark.parametrize("name", NEW)
@settings(max_examples=12, deadline=None)
@given(data=st.data())
def test_random_hyperparameters_of_the_new_declarations_match_torch_for_200_steps(name, land, start, data):
    opt = optlab.get_optimizer(name)
    hp = {"lr": 10 ** data.draw(st.floats(-4, -0.5), label="lr")}
    for p in opt.hparams[1:]:
        hp[p.name] = NEW_RANGES[p.name](data.draw(st.floats(0.0, 1.0), label=p.name)) if p.name in NEW_RANGES \
            else data.draw(st.sampled_from([0.0, 0.01, 0.3]), label=p.name)  # weight decay: off, or on
    check_teacher_forced(name, hp, steps=200, rtol=1e-12, land=optlab.get_landscape(land), start=start)


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(TORCH_NAMES), data=st.data())
def test_random_hyperparameters_match_torch(name, data):
    opt = optlab.get_optimizer(name)
    hp = {}
    for p in opt.hparams:
        if p.kind is bool:
            hp[p.name] = data.draw(st.booleans(), label=p.name)
        elif p.name in NEW_RANGES:
            hp[p.name] = NEW_RANGES[p.name](data.draw(st.floats(0.0, 1.0), label=p.name))
        elif p.name == "lr":
            hp["lr"] = 10 ** data.draw(st.floats(-5, -1), label="lr")
        elif p.name == "alpha":  # small α: centered RMSprop's v − ḡ² cancels (see cancellation())
            hp["alpha"] = data.draw(st.floats(0.05, 0.999), label=p.name)
        elif p.name.startswith("beta") or p.name == "rho":
            hp[p.name] = data.draw(st.floats(0.0, 0.999), label=p.name)
        elif p.name == "eps":
            hp["eps"] = 10 ** data.draw(st.floats(-10, -3), label="eps")
        elif p.name == "dampening":
            hp["dampening"] = data.draw(st.floats(0.0, 1.0), label=p.name)
        elif p.name == "momentum" and name == "nesterov":
            hp["momentum"] = data.draw(st.floats(0.01, 0.99), label=p.name)
        else:
            hp[p.name] = data.draw(st.floats(0.0, 0.9), label=p.name)
    if hp.get("nesterov") and (hp.get("momentum", 0) <= 0 or hp.get("dampening", 0) != 0):
        hp["nesterov"] = False  # torch rejects it; test_nesterov_needs_momentum_and_no_dampening covers that
    check_teacher_forced(name, hp, steps=80, rtol=1e-12)


@pytest.mark.parametrize("name, per_run", [
    ("sgd", dict(momentum=[0.0, 0.9], dampening=0.5)),  # μ = 0 steps by g, not (1 − τ)·g
    ("sgd", dict(momentum=[0.0, 0.9, 0.5], dampening=[0.5, 0.0, 0.3], weight_decay=[0.0, 0.1, 0.0])),
    ("rmsprop", dict(momentum=[0.0, 0.8], weight_decay=[0.1, 0.0], centered=True)),
    ("adam", dict(weight_decay=[0.0, 0.1], amsgrad=True)),
    ("adamw", dict(weight_decay=[0.0, 0.5])),
])
def test_a_batch_mixing_zero_and_non_zero_hyperparameters_matches_torch_run_by_run(name, per_run):
    # Issue 10's example: himmelblau from (-1, -1.5), lr 0.01, momentum [0, 0.9], dampening 0.5. Before the
    # fix the μ = 0 run stepped by (1 − τ)·g and was up to 0.97 away from torch's path (step 6).
    land, start, steps = optlab.get_landscape("himmelblau"), (-1.0, -1.5), 50
    batch = optlab.simulate(land, name, start=start, steps=steps, lr=0.01, **per_run)
    size = max(len(v) for v in per_run.values() if isinstance(v, list))
    for i in range(size):
        hp = {**optlab.get_optimizer(name).defaults, "lr": 0.01,
              **{k: (v[i] if isinstance(v, list) else v) for k, v in per_run.items()}}
        path, *_ = torch_run(name, hp, steps, land=land, start=start)
        np.testing.assert_allclose(batch.path[:, i], path, rtol=1e-12, atol=1e-14, err_msg=f"run {i}: {hp}")


@pytest.mark.parametrize("hp", [dict(nesterov=True), dict(nesterov=True, momentum=0.9, dampening=0.1)])
def test_nesterov_needs_momentum_and_no_dampening(hp):
    with pytest.raises(ValueError, match="Nesterov"):
        torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1, **hp)
    with pytest.raises(ValueError, match="nesterov requires momentum > 0 and dampening = 0"):
        optlab.simulate(LAND, "sgd", start=START, steps=5, **hp)


def test_radam_rectification_switch_is_exercised():
    coeffs = optlab.get_optimizer("radam").coefficients(np.arange(1.0, 301.0), optlab.get_optimizer("radam").hp(
        beta1=0.9, beta2=0.99))
    assert not coeffs["rectified"][:5].any() and coeffs["rectified"][5:].all()


@pytest.mark.parametrize("schedule, params, make", [
    ("step", {"step_size": 7, "gamma": 0.5}, lambda o: torch.optim.lr_scheduler.StepLR(o, 7, 0.5)),
    ("exponential", {"gamma": 0.98}, lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.98)),
    ("cosine", {"min_factor": 0.1}, lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 100, eta_min=1e-4)),
])
def test_schedules_match_torch_lr_schedulers(schedule, params, make):
    run = optlab.simulate(LAND, "sgd", start=START, steps=100, lr=1e-3, schedule=schedule, schedule_params=params)
    path, _, _, lrs = torch_run("sgd", {**optlab.get_optimizer("sgd").defaults, "lr": 1e-3}, 100, scheduler=make)
    np.testing.assert_allclose(run.lr, lrs, rtol=1e-14)
    np.testing.assert_allclose(run.path, path, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name, lr", [("sgd", 0.01), ("adam", 0.05)])
def test_clipping_matches_clip_grad_norm(name, lr):
    run = optlab.simulate(LAND, name, start=START, steps=200, lr=lr, clip_norm=1.0)
    hp = {**optlab.get_optimizer(name).defaults, "lr": lr}
    path, _, grads, _ = torch_run(name, hp, 200, clip=1.0)
    # the clipped gradient at torch's points, and the first 30 steps of the paths
    for k in range(200):
        g = LAND.grad(path[k])
        np.testing.assert_allclose(g * min(1.0, 1.0 / (np.linalg.norm(g) + 1e-6)), grads[k], rtol=1e-14)
    np.testing.assert_allclose(run.path[:30], path[:30], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", NEW)
def test_the_new_declarations_defaults_are_torchs_signature_defaults(name):
    import inspect

    decl = optlab.get_optimizer(name)
    params = inspect.signature(getattr(torch.optim, decl.torch.rsplit(".", 1)[1]).__init__).parameters
    for key, value in decl.torch_args(decl.defaults).items():
        default = params[key].default
        if key == "eps" and name == "adafactor":  # (None, 1e-3): None is the dtype's eps, float64 here
            default = (torch.finfo(torch.float64).eps, default[1])
        assert value == default, (key, value, default)


@pytest.mark.parametrize("name, hp", [("asgd", dict(lr=1e-4, lambd=0.5, t0=10)), ("rprop", dict(lr=0.01)),
                                      ("adafactor", dict(lr=0.05))])
def test_the_new_declarations_follow_torchs_lr_scheduler(name, hp):
    # ASGD's η_t is computed from the group's current lr (schedule_in_coefficients); Rprop reads lr at its
    # first step only; Adafactor's ρ_t = min(lr, 1/√t) each step
    run = optlab.simulate(LAND, name, start=START, steps=100, schedule="exponential",
                          schedule_params={"gamma": 0.97}, **hp)
    path, _, _, lrs = torch_run(name, {**optlab.get_optimizer(name).defaults, **hp}, 100,
                                scheduler=lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.97))
    np.testing.assert_allclose(run.lr, lrs, rtol=1e-14)
    np.testing.assert_allclose(run.path, path, rtol=1e-12, atol=1e-14)


def test_base_fma_rounds_as_torchs_fused_kernels_on_arrays_and_floats():
    # base.fma (Prodigy's moving sums, L-BFGS's moves): y.add_(x, alpha=a) is fma(a, x, y) and
    # y.addcmul_(x, x, value=a) is fma(a·x, x, y), bit for bit; the float path gives the array path's bits
    from optlab.optimizers.base import fma

    rng = np.random.default_rng(7)
    n = 4000
    a, x, y = (rng.normal(size=n) * 10.0 ** rng.uniform(-3, 3, n) for _ in range(3))
    added = torch.from_numpy(y.copy()).add_(torch.from_numpy(x), alpha=float(a[0])).numpy()
    np.testing.assert_array_equal(fma(a[0], x, y), added)
    by_element = np.array([torch.tensor([yi]).add_(torch.tensor([xi]), alpha=float(ai)).item()
                           for ai, xi, yi in zip(a[:500], x[:500], y[:500], strict=True)])
    np.testing.assert_array_equal(fma(a[:500], x[:500], y[:500]), by_element)
    multiplied = torch.from_numpy(y.copy()).addcmul_(torch.from_numpy(x), torch.from_numpy(x),
                                                     value=float(a[1])).numpy()
    np.testing.assert_array_equal(fma(a[1] * x, x, y), multiplied)
    np.testing.assert_array_equal([fma(float(ai), float(xi), float(yi)) for ai, xi, yi in zip(a, x, y, strict=True)],
                                  fma(a, x, y))
    assert (y + a * x != fma(a, x, y)).sum() > n // 20  # two roundings would not be torch's in many of them
    with np.errstate(all="ignore"):  # beyond the finite numbers: IEEE's a·b + c, as torch
        big = np.array([1e300, np.inf, np.nan, 1e-300])
        theirs = torch.from_numpy(big.copy()).add_(torch.from_numpy(big), alpha=1e10).numpy()
        np.testing.assert_array_equal(fma(1e10, big, big), theirs)
        assert fma(1e300, 1e300, 1.0) == np.inf and np.isnan(fma(np.inf, 0.0, 1.0))


def test_base_power_is_pythons_pow_for_every_element_on_every_cpu():
    # torch.optim's bias corrections are Python floats (1 - beta2 ** step, bias_correction2 ** 0.5); NumPy's power
    # with AVX-512 is its own vectorised pow, a last bit apart from libm's in ~5 % of cases (Prodigy's d_numerator
    # then differed from prodigyopt's at step 7 on such a CPU). base.power is Python's pow, whatever NumPy runs on
    from optlab.optimizers.base import power

    rng = np.random.default_rng(11)
    t = np.arange(1.0, 1001.0)[:, None]
    betas = np.array([0.9, 0.999, 0.98, 0.5])
    ours = power(betas, t)  # the table path: 4 bases × 1000 steps
    assert ours.shape == (1000, 4)
    np.testing.assert_array_equal(ours, [[b ** k for b in betas.tolist()] for k in t.ravel().tolist()])
    base, exponent = rng.uniform(0.0, 2.0, 3000), rng.uniform(-50.0, 50.0, 3000)  # every element its own pair
    np.testing.assert_array_equal(power(base, exponent), [b ** e for b, e in zip(base.tolist(), exponent.tolist(),
                                                                                  strict=True)])
    x = rng.uniform(1e-6, 1.0, 3000)
    np.testing.assert_array_equal(power(x, 0.5), [v ** 0.5 for v in x.tolist()])  # not np.sqrt, the root
    assert power(0.999, 7.0).shape == () and power(0.999, 7.0) == 0.999 ** 7.0
    with np.errstate(all="raise"):  # where Python raises, IEEE's values and no warning
        np.testing.assert_array_equal(power([10.0, -10.0, -2.0, np.nan], [400.0, 401.0, 0.5, 2.0]),
                                      [np.inf, -np.inf, np.nan, np.nan])

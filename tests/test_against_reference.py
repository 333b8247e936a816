"""The optimizers not in torch.optim against their reference packages, as test_against_torch.py does for torch's.

Schedule-Free SGD / AdamW: the ``schedulefree`` package's SGDScheduleFree / AdamWScheduleFree in train mode
(the parameters hold y, where the gradient is taken); Prodigy: ``prodigyopt.Prodigy``. Teacher forcing: the
reference runs on the landscape; at every step optlab starts from the reference's own θ and state (its per-
parameter state, and for Prodigy the group's d and d_numerator) and must land on the reference's next θ and
state to rounding error. x, which schedule-free never stores, is checked against what ``eval()`` would put
into the parameters, lerp(y, z, 1 − 1/β).
"""

import inspect
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import optlab
from optlab.optimizers.base import ARRAY

torch = pytest.importorskip("torch")
schedulefree = pytest.importorskip("schedulefree")
prodigyopt = pytest.importorskip("prodigyopt")

REFERENCE = {
    "schedule_free_sgd": lambda params, **kw: schedulefree.SGDScheduleFree(params, foreach=False, **kw),
    "schedule_free_adamw": lambda params, **kw: schedulefree.AdamWScheduleFree(params, foreach=False, **kw),
    "prodigy": lambda params, **kw: prodigyopt.Prodigy(params, **kw),
}
CLASSES = {"schedule_free_sgd": "SGDScheduleFree", "schedule_free_adamw": "AdamWScheduleFree", "prodigy": "Prodigy"}
GROUP_KEYS = ("d", "d_numerator", "d_max")  # Prodigy's per-run numbers live in the param group
WORST_OF_NORM = {}  # per optimizer: the largest |optlab − reference| / max|θ| of a step (for the record)
LANDS = [("rosenbrock", (-1.5, 2.0)), ("himmelblau", (-1.0, -1.5)), ("rastrigin", (2.3, -1.7))]


@pytest.fixture(autouse=True)
def _float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def reference_run(name, hp, steps, land, start, scheduler=None):
    """The reference's path, and its state (numpy, θ-shaped) and group numbers before and after each step."""
    decl = optlab.get_optimizer(name)
    p = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = REFERENCE[name]([p], **decl.torch_args(hp))
    if hasattr(opt, "train"):
        opt.train()  # schedule-free: the parameters hold y
    sched = scheduler(opt) if scheduler else None

    def state():
        out = {k: np.broadcast_to(v.detach().numpy(), (2,)).copy() for k, v in opt.state[p].items()
               if torch.is_tensor(v) and v.ndim <= 1}
        for k, v in opt.state[p].items():  # Prodigy's slice_p ≥ 2 samples x alone: s_y stays 0, θ_0 keeps y's start
            if torch.is_tensor(v) and v.shape == (1,):
                out[k] = np.array([v.item(), {"s": 0.0, "p0": start[1]}[k]])
        group = opt.param_groups[0]
        out.update({k: np.full(2, float(group[k])) for k in GROUP_KEYS if k in group})
        return out

    path, states, grads, lrs = [p.detach().numpy().copy()], [state()], [], []
    for _ in range(steps):
        p.grad = torch.from_numpy(land.grad(p.detach().numpy()))
        grads.append(p.grad.numpy().copy())
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        if sched:
            sched.step()
        path.append(p.detach().numpy().copy())
        states.append(state())
    return np.array(path), states, grads, lrs


BEYOND_SQUARES = 1e150  # a buffer this large has a square beyond float64's range (1.8e308)


def beta_of(hp):
    return hp.get("momentum", hp.get("beta1"))


def check_teacher_forced(name, hp, steps=300, rtol=1e-13, land="rosenbrock", start=(-1.5, 2.0), exact=()):
    """Every step from the reference's own θ and state (θ and the buffers the reference holds compared);
    the largest relative deviation of θ, |optlab − reference| / |reference| per coordinate, is returned.
    ``exact``: the buffers that must be the reference's bit for bit."""
    land = optlab.get_landscape(land)
    opt = optlab.get_optimizer(name)
    full = {**opt.defaults, **hp}
    path, states, grads, lrs = reference_run(name, full, steps, land, start)
    ns = opt.hp(**full)
    coeff_hp = ns._replace(lr=np.asarray(lrs, dtype=float)) if opt.schedule_in_coefficients else ns
    coeffs = opt.coefficients(np.arange(1.0, steps + 1), coeff_hp)
    shape = (2, 1) if opt.coupled else (2,)
    worst, compared = 0.0, 0
    for k in range(1, steps + 1):
        theta = path[k - 1]
        if not (np.isfinite(theta).all() and np.isfinite(path[k]).all()):
            break
        before = states[k - 1]
        if any(np.max(np.abs(v)) > BEYOND_SQUARES for v in (*before.values(), *states[k].values())):
            break  # exploded: past √(float64's max) whether a moment is inf or 1e294 is the order of its products
        state = opt.init(theta.reshape(shape), ns, ARRAY)
        if k > 1:  # at the first step the reference's state is empty, as optlab's init (z, p0 = θ_0 there)
            state = state._replace(**{b.name: before[b.torch_name].reshape(shape) for b in opt.buffers
                                       if b.torch_name in before})
            if "x" in state._fields and beta_of(full) >= 0.05:  # x from y and z, as eval() computes it
                y, z = theta, before["z"]
                state = state._replace(x=(y + (1 - 1 / beta_of(full)) * (z - y)).reshape(shape))
            elif "x" in state._fields:  # β ≈ 0: y ≈ z and x is not determined by them (nor does y or z read it)
                state = state._replace(x=before["z"].reshape(shape))
        row = {c: float(np.asarray(v).reshape(steps, -1)[k - 1, 0]) for c, v in coeffs.items()}
        step = opt.step_type(k, lrs[k - 1], *(row[c] for c in opt.step_type._fields[2:]))
        with np.errstate(all="ignore"):
            new, new_state = opt.update(grads[k - 1].reshape(shape), state, theta.reshape(shape), step, ns, ARRAY)
        new = new.reshape(2)
        targets = [("θ", new, path[k], path[k] - theta)]
        after = states[k]
        for b in opt.buffers:
            if b.torch_name in after:
                targets.append((b.name, getattr(new_state, b.name).reshape(2), after[b.torch_name],
                                after[b.torch_name] - before.get(b.torch_name, theta)))
        if "x" in new_state._fields and beta_of(full) >= 0.05:  # eval()'s x; β small magnifies its rounding
            y, z = path[k], after["z"]
            x = y + (1 - 1 / beta_of(full)) * (z - y)
            targets.append(("x", new_state.x.reshape(2), x, np.abs(z - y) / beta_of(full)))
        for what, ours, theirs, moved in targets:
            if what in exact:
                np.testing.assert_array_equal(ours, theirs, err_msg=f"{name} {hp}: step {k}, {what} bit for bit")
            slack = 16 * np.finfo(float).eps * np.abs(moved)
            # θ coordinate by coordinate; a buffer relative to its larger coordinate (a moment that cancels
            # to ~0 in one coordinate keeps the rounding of the terms it cancelled, which θ never sees)
            scale = np.abs(theirs) if what == "θ" else np.full(2, np.max(np.abs(theirs)))
            np.testing.assert_array_less(np.abs(ours - theirs), rtol * scale + slack + 1e-300,
                                         err_msg=f"{name} {hp}: step {k}, {what} from the reference's state")
            if what == "θ":
                worst = max(worst, float(np.max(np.abs(ours - theirs) / np.maximum(scale, 1e-300))))
                WORST_OF_NORM[name] = max(WORST_OF_NORM.get(name, 0.0),
                                          float(np.max(np.abs(ours - theirs)) / max(np.max(np.abs(theirs)), 1e-300)))
        compared += 1
    assert compared >= 1, "nothing compared"
    return worst


CASES = [
    ("schedule_free_sgd", dict(lr=1e-3)),
    ("schedule_free_sgd", dict(lr=5e-4, momentum=0.5, weight_decay=0.1, warmup_steps=20, r=1.0, weight_lr_power=1.0)),
    ("schedule_free_adamw", dict(lr=0.02)),
    ("schedule_free_adamw", dict(lr=0.05, beta1=0.5, beta2=0.9, weight_decay=0.1, warmup_steps=7, r=0.5)),
    ("schedule_free_adamw", dict(lr=0.01, beta1=0.0)),
    ("prodigy", dict()),
    ("prodigy", dict(lr=0.5, beta1=0.0, weight_decay=0.1, decouple=False, use_bias_correction=True)),
    ("prodigy", dict(weight_decay=0.1, safeguard_warmup=True, d0=1e-3, d_coef=0.5, beta2=0.99)),
    ("prodigy", dict(growth_rate=1.02, beta3=0.95, slice_p=2, use_bias_correction=True)),
    ("prodigy", dict(growth_rate=1.5, beta3=0.0, weight_decay=0.05, decouple=False, beta1=0.5)),
]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in h.items())}" for n, h in CASES]


@pytest.mark.parametrize("name, hp", CASES, ids=IDS)
def test_every_step_matches_the_reference_from_its_own_state(name, hp):
    check_teacher_forced(name, hp)


@pytest.mark.parametrize("name, hp", CASES, ids=IDS)
def test_short_trajectories_match_the_reference(name, hp):
    land = optlab.get_landscape("rosenbrock")
    run = optlab.simulate(land, name, start=(-1.5, 2.0), steps=40, **hp)
    path, states, _, _ = reference_run(name, {**optlab.get_optimizer(name).defaults, **hp}, 40, land, (-1.5, 2.0))
    np.testing.assert_allclose(run.path, path, rtol=1e-12, atol=1e-14)
    if name == "prodigy":  # d per step, as the inspector shows it
        np.testing.assert_allclose(run.state["d"][:, 0], [s["d"][0] for s in states[1:]], rtol=1e-12)


def draw_hp(name, data):
    opt = optlab.get_optimizer(name)
    hp = {}
    for p in opt.hparams:
        u = data.draw(st.floats(0.0, 1.0), label=p.name)
        if p.kind is bool:
            hp[p.name] = u < 0.5
        elif p.name == "lr":
            hp["lr"] = {"schedule_free_sgd": 10 ** (-4 + 2 * u), "schedule_free_adamw": 10 ** (-4 + 3.5 * u),
                        "prodigy": 10 ** (-1 + 1.3 * u)}[name]
        elif p.name in ("momentum", "beta1"):
            hp[p.name] = 0.01 + 0.98 * u if p.name == "momentum" else 0.999 * u
        elif p.name == "beta2":
            hp[p.name] = 0.5 + 0.499 * u
        elif p.name == "eps":
            hp["eps"] = 10 ** (-10 + 7 * u)
        elif p.name == "weight_decay":
            hp[p.name] = [0.0, 0.01, 0.3][min(int(3 * u), 2)]
        elif p.name == "warmup_steps":
            hp[p.name] = float(int(50 * u))
        elif p.name == "d0":
            hp[p.name] = 10 ** (-8 + 6 * u)
        elif p.name == "beta3":  # None (√β2) half the time
            hp[p.name] = None if u < 0.5 else 0.98 * (2 * u - 1)
        elif p.name == "growth_rate":  # inf (the default) a third of the time, else 1 to 1.3
            hp[p.name] = math.inf if u < 1 / 3 else 1 + 0.45 * (u - 1 / 3)
        elif p.name == "slice_p":
            hp[p.name] = 1 + min(int(3 * u), 2)
        else:  # r, weight_lr_power, d_coef
            hp[p.name] = {"r": 2 * u, "weight_lr_power": 3 * u, "d_coef": 0.2 + 2 * u}[p.name]
    return hp


@pytest.mark.parametrize("land, start", LANDS, ids=[n for n, _ in LANDS])
@pytest.mark.parametrize("name", list(REFERENCE))
@settings(max_examples=12, deadline=None)
@given(data=st.data())
def test_random_hyperparameters_match_the_reference_for_200_steps(name, land, start, data):
    check_teacher_forced(name, draw_hp(name, data), steps=200, rtol=1e-12, land=land, start=start)


# hypothesis's finds on Rastrigin with L2 weight decay (decouple=False): near a minimum of f + λ/2·‖θ‖², g + λ·θ
# cancels to ~1e-19 and m with it, so the last bit of g + λ·θ is m's first. The package's grad.add_(p, alpha=λ)
# rounds once (torch's fused multiply-add); g + λ·θ written out rounded twice: m 1.9e-12 of max|m| off at step
# 105 of one example, 0.56 at step 117 of the first below
RASTRIGIN_L2 = [
    dict(lr=0.2802870111288434, beta1=0.42986843321588547, beta2=0.982064978311251, eps=8.622295358098222e-07,
         weight_decay=0.3, decouple=False, use_bias_correction=True, d0=2.265773903956491e-07,
         d_coef=0.449109411670567),
    dict(lr=0.6309582814501111, beta1=0.38329387670762155, beta2=0.9976077579588163, eps=0.0007342557757657282,
         weight_decay=0.01, decouple=False, d0=2.1554033021467227e-06, d_coef=0.47019301004482245),
    dict(lr=0.5636302067219343, beta1=0.6016369372032462, beta2=0.9802491234690661, eps=3.205212728293316e-10,
         weight_decay=0.3, decouple=False, safeguard_warmup=True, d0=2.1301019537275966e-06,
         d_coef=0.3257909969099427),
]


@pytest.mark.parametrize("hp", RASTRIGIN_L2, ids=["wd0.3-bc", "wd0.01", "wd0.3-safeguard"])
def test_prodigy_with_l2_decay_near_a_minimum_keeps_the_references_moments(hp):
    # the moving sums are the package's bit for bit (one rounding where torch fuses); θ within rtol 1e-12
    check_teacher_forced("prodigy", hp, steps=200, rtol=1e-12, land="rastrigin", start=(2.3, -1.7),
                         exact=("m", "v", "s", "d_numerator", "d"))


@pytest.mark.parametrize("hp", [dict(weight_decay=0.3), dict(beta1=0.0, weight_decay=0.1, decouple=False),
                                dict(weight_decay=0.05, safeguard_warmup=True, use_bias_correction=True)])
def test_prodigys_buffers_are_the_packages_bit_for_bit(hp):
    for land, start in LANDS:
        check_teacher_forced("prodigy", hp, steps=200, land=land, start=start,
                             exact=("m", "v", "s", "d_numerator", "d"))


@pytest.mark.parametrize("name", list(REFERENCE))
def test_defaults_are_the_references_signature_defaults(name):
    decl = optlab.get_optimizer(name)
    module = prodigyopt if name == "prodigy" else schedulefree
    params = inspect.signature(getattr(module, CLASSES[name]).__init__).parameters
    for key, value in decl.torch_args(decl.defaults).items():
        assert value == params[key].default, (key, value, params[key].default)
    assert decl.written_out.name == CLASSES[name]


@pytest.mark.parametrize("name, hp", [("schedule_free_sgd", dict(lr=1e-3, warmup_steps=10)),
                                      ("schedule_free_adamw", dict(lr=0.02)), ("prodigy", dict())])
def test_they_follow_a_torch_lr_scheduler(name, hp):
    # schedule-free reads the group's lr each step (its c_t from the running max of the scheduled rates:
    # schedule_in_coefficients); Prodigy scales d·η by it
    land = optlab.get_landscape("rosenbrock")
    run = optlab.simulate(land, name, start=(-1.5, 2.0), steps=100, schedule="exponential",
                          schedule_params={"gamma": 0.97}, **hp)
    path, _, _, lrs = reference_run(name, {**optlab.get_optimizer(name).defaults, **hp}, 100, land, (-1.5, 2.0),
                                    scheduler=lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.97))
    np.testing.assert_allclose(run.lr, lrs, rtol=1e-14)
    np.testing.assert_allclose(run.path, path, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", list(REFERENCE))
def test_the_written_out_class_is_the_reference(name):
    # the exported script's class against the package, 100 steps on himmelblau with every switch on
    decl = optlab.get_optimizer(name)
    hp = {**decl.defaults, **draw_fixed[name]}
    land = optlab.get_landscape("himmelblau")
    path, *_ = reference_run(name, hp, 100, land, (-1.0, -1.5))
    namespace = {"torch": torch, "math": __import__("math")}
    exec(decl.written_out.source, namespace)  # noqa: S102 - our own declaration's source
    p = torch.tensor((-1.0, -1.5), requires_grad=True)
    opt = namespace[decl.written_out.name]([p], **decl.torch_args(hp))
    ours = [p.detach().numpy().copy()]
    for _ in range(100):
        p.grad = torch.from_numpy(land.grad(p.detach().numpy()))
        opt.step()
        ours.append(p.detach().numpy().copy())
    np.testing.assert_allclose(np.array(ours), path, rtol=1e-12, atol=1e-14)


draw_fixed = {
    "schedule_free_sgd": dict(lr=0.002, momentum=0.8, weight_decay=0.05, warmup_steps=10, r=0.5),
    "schedule_free_adamw": dict(lr=0.05, beta1=0.8, weight_decay=0.05, warmup_steps=10, weight_lr_power=1.0),
    "prodigy": dict(weight_decay=0.05, use_bias_correction=True, safeguard_warmup=True, d_coef=2.0, growth_rate=1.05,
                    beta3=0.99, slice_p=2),
}

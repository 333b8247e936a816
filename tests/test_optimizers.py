"""Worked first steps for every optimizer and switch, identities between them, convergence.

All worked examples run on the round bowl f = ½(x² + y²), whose gradient is θ itself, from
θ0 = (3, -4): the numbers below can be followed with pencil and paper. The cross-check
against torch.optim over hundreds of steps is in test_torch_parity.py.
"""

import math

import numpy as np
import pytest

import optlab
from optlab.params import Param

T0 = np.array([3.0, -4.0])


def path(name, steps=2, start=T0, landscape="bowl", **hp):
    return optlab.simulate(landscape, name, start=start, steps=steps, **hp).path


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


# --- SGD family -------------------------------------------------------------------
def test_sgd_steps_down_the_gradient():
    p = path("sgd", lr=0.1)
    close(p[1], 0.9 * T0)  # θ - 0.1·θ
    close(p[2], 0.81 * T0)


def test_sgd_l2_weight_decay_adds_lambda_theta_to_the_gradient():
    close(path("sgd", lr=0.1, weight_decay=0.5)[1], 0.85 * T0)  # g = 1.5·θ


def test_momentum_first_step_copies_the_gradient_then_dampens():
    p = path("momentum", lr=0.1, dampening=0.5)
    close(p[1], 0.9 * T0)  # b1 = g1 = θ0: no dampening on the first step
    # g2 = 0.9·θ0; b2 = 0.9·θ0 + 0.5·0.9·θ0 = 1.35·θ0; θ2 = 0.9·θ0 - 0.135·θ0
    close(p[2], 0.765 * T0)


def test_nesterov_steps_along_g_plus_mu_b():
    p = path("nesterov", lr=0.1)
    close(p[1], 0.81 * T0)  # d = g + 0.9·b = 1.9·θ0
    # g2 = 0.81·θ0; b2 = 0.9·θ0 + 0.81·θ0 = 1.71·θ0; d = 0.81·θ0 + 0.9·1.71·θ0 = 2.349·θ0
    close(p[2], (0.81 - 0.2349) * T0)


def test_named_variants_are_sgd_with_their_defaults():
    np.testing.assert_array_equal(path("momentum", 50, lr=0.01), path("sgd", 50, lr=0.01, momentum=0.9))
    np.testing.assert_array_equal(
        path("nesterov", 50, lr=0.01), path("sgd", 50, lr=0.01, momentum=0.9, nesterov=True)
    )
    np.testing.assert_array_equal(path("amsgrad", 50, lr=0.1), path("adam", 50, lr=0.1, amsgrad=True))


# --- Adam family ------------------------------------------------------------------
def test_adam_first_step_is_lr_times_the_sign():
    # m̂ = g, v̂ = g²: θ1 = θ0 - lr·g/(|g| + eps)
    close(path("adam", 1, lr=0.1)[1], T0 - 0.1 * T0 / (np.abs(T0) + 1e-8))


def test_adam_second_step_with_bias_correction():
    p = path("adam", lr=0.1)
    x1 = 3 - 0.3 / (3 + 1e-8)  # ≈ 2.9
    m2 = 0.9 * 0.1 * 3 + 0.1 * x1
    v2 = 0.999 * 0.001 * 9 + 0.001 * x1 * x1
    expected = x1 - 0.1 * (m2 / 0.19) / (math.sqrt(v2) / math.sqrt(1 - 0.999**2) + 1e-8)
    assert p[2, 0] == pytest.approx(expected, rel=1e-14)


def test_amsgrad_divides_by_the_largest_second_moment():
    # beta2 = 0.5 and a big first step: |g| drops, v falls, AMSGrad keeps v1
    run = optlab.simulate("bowl", "adam", start=(0.3, -0.4), steps=2, lr=0.25, beta2=0.5, amsgrad=True)
    x1 = 0.3 - 0.25 * 0.3 / (0.3 + 1e-8)  # 0.05
    v1, v2 = 0.5 * 0.09, 0.25 * 0.09 + 0.5 * x1 * x1
    assert v2 < v1
    m2 = 0.9 * 0.1 * 0.3 + 0.1 * x1
    expected = x1 - 0.25 * (m2 / 0.19) / (math.sqrt(v1) / math.sqrt(0.75) + 1e-8)
    assert run.path[2, 0] == pytest.approx(expected, rel=1e-13)
    assert run.state["v_max"][1, 0] == pytest.approx(v1, rel=1e-15)
    assert run.state["v"][1, 0] == pytest.approx(v2, rel=1e-14)
    plain = optlab.simulate("bowl", "adam", start=(0.3, -0.4), steps=2, lr=0.25, beta2=0.5)
    assert plain.path[2, 0] != run.path[2, 0]


def test_adam_l2_versus_adamw_decoupled_weight_decay():
    # Adam: g = θ + 0.5·θ = 1.5·θ; first step still lr·sign(g)
    close(path("adam", 1, lr=0.1, weight_decay=0.5)[1], T0 - 0.1 * 1.5 * T0 / (1.5 * np.abs(T0) + 1e-8))
    # AdamW: θ ← θ·(1 - 0.1·0.5) first, then the Adam step on the raw g = θ0
    close(path("adamw", 1, lr=0.1, weight_decay=0.5)[1], 0.95 * T0 - 0.1 * T0 / (np.abs(T0) + 1e-8))


def test_adamw_without_weight_decay_is_adam():
    np.testing.assert_array_equal(path("adamw", 100, lr=0.05, weight_decay=0.0), path("adam", 100, lr=0.05))


def test_adamax_divides_by_the_infinity_norm():
    close(path("adamax", 1, lr=0.002)[1], T0 - 0.002 * T0 / (np.abs(T0) + 1e-8))
    run = optlab.simulate("bowl", "adamax", start=T0, steps=2, lr=0.5)
    x1 = 3 - 0.5 * 3 / (3 + 1e-8)  # 1.5: |g2| < 0.999·|g1|, so u keeps the decayed maximum
    u2 = max(0.999 * (3 + 1e-8), x1 + 1e-8)
    m2 = 0.9 * 0.3 + 0.1 * x1
    assert run.path[2, 0] == pytest.approx(x1 - 0.5 / (1 - 0.81) * m2 / u2, rel=1e-14)


def test_nadam_first_step():
    mu1 = 0.9 * (1 - 0.5 * 0.96**0.004)
    mu2 = 0.9 * (1 - 0.5 * 0.96**0.008)
    den = np.abs(T0) + 1e-8  # √(v1 / (1 - β2)) = |g|
    expected = T0 - 0.002 * T0 / den - 0.002 * mu2 / (1 - mu1 * mu2) * 0.1 * T0 / den
    close(path("nadam", 1)[1], expected)


def test_nadam_momentum_decay_changes_the_schedule():
    assert not np.array_equal(path("nadam", 5, momentum_decay=0.1), path("nadam", 5))


def test_radam_takes_plain_momentum_steps_until_step_6():
    run = optlab.simulate("bowl", "radam", start=T0, steps=8, lr=0.01)
    # unrectified: θ_t = θ_{t-1} - lr·m̂_t, and with g = θ that is exactly SGD-with-bias-corrected-momentum
    m = np.zeros(2)
    theta = T0.copy()
    for t in range(1, 6):
        m = 0.9 * m + 0.1 * theta
        theta = theta - 0.01 * m / (1 - 0.9**t)
        close(run.path[t], theta)
    # step 6 is the first rectified one: it differs from the plain momentum step
    m6 = 0.9 * m + 0.1 * theta
    assert not np.allclose(run.path[6], theta - 0.01 * m6 / (1 - 0.9**6), rtol=1e-6)
    coeffs = optlab.get_optimizer("radam").coefficients(np.arange(1.0, 9.0), optlab.get_optimizer("radam").hp(
        beta1=0.9, beta2=0.999))
    assert coeffs["rectified"].tolist() == [False] * 5 + [True] * 3


# --- without momentum moments -------------------------------------------------------
def test_rmsprop_plain_centered_and_momentum():
    close(path("rmsprop", 1)[1], T0 - 0.01 * T0 / (0.1 * np.abs(T0) + 1e-8))  # √(0.01·g²) = 0.1|g|
    den_c = np.sqrt(0.01 * T0**2 - (0.01 * T0) ** 2) + 1e-8
    close(path("rmsprop", 1, centered=True)[1], T0 - 0.01 * T0 / den_c)
    p = path("rmsprop", 2, lr=0.01, momentum=0.9)
    b1 = T0 / (0.1 * np.abs(T0) + 1e-8)
    x1 = T0 - 0.01 * b1
    v2 = 0.99 * 0.01 * T0**2 + 0.01 * x1**2
    b2 = 0.9 * b1 + x1 / (np.sqrt(v2) + 1e-8)
    close(p[2], x1 - 0.01 * b2)


def test_rmsprop_alpha_is_its_own_decay_not_adams_beta1():
    assert "beta1" not in optlab.get_optimizer("rmsprop").defaults
    assert optlab.get_optimizer("rmsprop").defaults["alpha"] == 0.99


def test_adagrad_accumulator_and_lr_decay():
    close(path("adagrad", 1, lr=0.1)[1], T0 - 0.1 * T0 / (np.abs(T0) + 1e-10))
    s = 1.0 + T0**2
    close(path("adagrad", 1, lr=0.1, initial_accumulator_value=1.0)[1], T0 - 0.1 * T0 / (np.sqrt(s) + 1e-10))
    p = path("adagrad", 2, lr=0.1, lr_decay=0.5)
    x1 = T0 - 0.1 * T0 / (np.abs(T0) + 1e-10)
    close(p[2], x1 - 0.1 / 1.5 * x1 / (np.sqrt(T0**2 + x1**2) + 1e-10))


def test_adadelta_eps_inside_both_roots():
    delta = math.sqrt(1e-6) / np.sqrt(0.1 * T0**2 + 1e-6) * T0
    close(path("adadelta", 1)[1], T0 - delta)
    run = optlab.simulate("bowl", "adadelta", start=T0, steps=1)
    close(run.state["u"][0], 0.1 * delta**2)


def test_lion_steps_by_the_sign_with_decoupled_decay():
    close(path("lion", 1, lr=0.1)[1], T0 - 0.1 * np.sign(T0))
    close(path("lion", 1, lr=0.1, weight_decay=0.5)[1], T0 - 0.1 * (np.sign(T0) + 0.5 * T0))
    run = optlab.simulate("bowl", "lion", start=T0, steps=1, lr=0.1)
    close(run.state["m"][0], 0.01 * T0)  # m = β2·0 + (1 - β2)·g


def test_rprop_steps_by_its_step_size_in_the_sign_and_adapts_it():
    # step 1: Δ = η, θ1 = θ0 − η·sign(g); on the bowl g keeps its sign while θ > 0: Δ2 = η·η⁺
    p = path("rprop", 3, lr=0.1)
    close(p[1], T0 - 0.1 * np.sign(T0))
    close(p[2], p[1] - 0.1 * 1.2 * np.sign(T0))
    close(p[3], p[2] - 0.1 * 1.2 * 1.2 * np.sign(T0))
    # a sign change: from (0.05, -0.05) with η = 0.08 the first step overshoots 0; Δ shrinks ×η⁻ and θ stays
    run = optlab.simulate("bowl", "rprop", start=(0.05, -0.05), steps=3, lr=0.08, eta_minus=0.25)
    close(run.path[1], [-0.03, 0.03])
    close(run.path[2], run.path[1])  # g kept as 0: no step on a sign change
    close(run.state["step_size"][1], [0.02, 0.02])
    close(run.path[3], run.path[2] + 0.02 * np.array([1.0, -1.0]))  # no comparison after a change: Δ kept
    # the step size is clamped
    close(path("rprop", 2, lr=0.1, step_size_max=0.11)[2], T0 - 0.21 * np.sign(T0))


def test_asgd_decays_the_step_size_and_averages_after_t0():
    lr, lam, alpha = 0.1, 0.5, 0.75
    run = optlab.simulate("bowl", "asgd", start=T0, steps=3, lr=lr, lambd=lam, alpha=alpha, t0=1)
    x1 = T0 * (1 - lam * lr) - lr * T0  # step 1: η_1 = lr
    eta2 = lr / (1 + lam * lr * 1) ** alpha
    x2 = x1 * (1 - lam * eta2) - eta2 * x1
    eta3 = lr / (1 + lam * lr * 2) ** alpha
    x3 = x2 * (1 - lam * eta3) - eta3 * x2
    close(run.path[1:], [x1, x2, x3])
    # μ_1 = 1, μ_2 = 1/max(1, 1 − 1) = 1, μ_3 = 1/max(1, 2 − 1) = 1: the average is θ until t − 1 > t0
    close(run.state["ax"], [x1, x2, x3])
    run = optlab.simulate("bowl", "asgd", start=T0, steps=4, lr=lr, t0=0)  # μ_3 = ½, μ_4 = ⅓
    p = run.path
    close(run.state["ax"][2], (p[2] + p[3]) / 2)
    close(run.state["ax"][3], (p[2] + p[3] + p[4]) / 3)


def test_adafactor_first_step_is_relative_to_the_size_of_theta():
    # v1 = g², u = g/|g| = sign(g) (RMS 1: no clipping), α = RMS(θ0)·min(η, 1) = (5/√2)·η
    close(path("adafactor", 1, lr=0.1)[1], T0 - 5 / math.sqrt(2) * 0.1 * np.sign(T0))
    # a θ near 0 moves by at least ε2·ρ
    close(path("adafactor", 1, start=np.array([1e-5, 0.0]), lr=0.1)[1], [1e-5 - 1e-3 * 0.1, 0.0])
    # d clips the update's RMS: g = (3, 0) gives u = (1, 0), RMS 1/√2 ≤ 1; with d = 1 nothing is clipped
    close(path("adafactor", 1, start=np.array([3.0, 0.0]), lr=0.1)[1], [3.0 - 3 / math.sqrt(2) * 0.1, 0.0])



def test_schedule_free_sgd_first_step_is_sgd_then_averages():
    lr, beta = 0.1, 0.9
    run = optlab.simulate("bowl", "schedule_free_sgd", start=T0, steps=2, lr=lr, momentum=beta)
    z1 = T0 - lr * T0  # c_1 = 1: y_1 = z_1 = x_1, a plain SGD step
    close(run.path[1], z1)
    close(run.state["z"][0], z1)
    close(run.state["x"][0], z1)
    # c_2 = ½ (equal weights): z_2 = z_1 − η·∇f(y_1), x_2 = (x_1 + z_2)/2, y_2 = (1 − β)·z_2 + β·x_2
    z2 = z1 - lr * z1
    x2 = (z1 + z2) / 2
    close(run.state["z"][1], z2)
    close(run.state["x"][1], x2)
    close(run.path[2], (1 - beta) * z2 + beta * x2)


def test_schedule_free_warmup_scales_the_rate_and_the_averaging_weights():
    run = optlab.simulate("bowl", "schedule_free_sgd", start=T0, steps=2, lr=0.1, warmup_steps=4)
    close(run.path[1], T0 - 0.025 * T0)  # η_1 = η·1/4
    c2 = 0.05**2 / (0.025**2 + 0.05**2)  # w_k = (max rate so far)²: warmup's small steps weigh less
    z2 = run.state["z"][0] - 0.05 * run.path[1]
    close(run.state["x"][1], (1 - c2) * run.state["x"][0] + c2 * z2)


def test_schedule_free_adamw_first_step_is_lr_times_the_sign():
    close(path("schedule_free_adamw", 1, lr=0.1)[1], T0 - 0.1 * T0 / (np.abs(T0) + 1e-8))


def test_prodigy_first_step_is_d0_sized_and_d_grows_from_the_distance_travelled():
    run = optlab.simulate("bowl", "prodigy", start=T0, steps=2)
    d0 = 1e-6
    # d_1 = d0 (r_1 = 0: no distance travelled yet); m = d0·(1 − β1)·g, √v = d0·√(1 − β2)·|g|
    close(run.state["d"][0], [d0, d0])
    step = d0 * d0 * 0.1 * T0 / (d0 * math.sqrt(0.001) * np.abs(T0) + d0 * 1e-8)
    close(run.path[1], T0 - step)
    # step 2: r_2 = (d/d0)·dlr·⟨g_2, θ_0 − θ_1⟩, s_2 = √β2·s_1 + d0·g_2, d_2 = max(d0, r_2/‖s_2‖₁)
    g2, b3 = run.path[1], math.sqrt(0.999)
    r2 = d0 * float(g2 @ (T0 - run.path[1]))
    s2 = b3 * d0 * T0 + d0 * g2
    close(run.state["d_numerator"][1], [r2, r2])
    close(run.state["d"][1], [max(d0, r2 / np.abs(s2).sum())] * 2)


# --- every optimizer ----------------------------------------------------------------
GOOD_LR = {
    "sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adagrad": 1.0, "rmsprop": 0.02, "adadelta": 2.0,
    "adam": 0.1, "adamw": 0.1, "amsgrad": 0.1, "adamax": 0.1, "nadam": 0.1, "radam": 0.1, "lion": 0.01,
    "rprop": 0.01, "asgd": 0.1, "adafactor": 1.0, "schedule_free_sgd": 0.1, "schedule_free_adamw": 0.1,
    "prodigy": 1.0, "lbfgs": 1.0,
}
NOT_IN_TORCH = {"lion", "schedule_free_sgd", "schedule_free_adamw", "prodigy"}


def test_every_contract_name_is_registered():
    assert optlab.optimizer_names() == list(GOOD_LR)


@pytest.mark.parametrize("name", GOOD_LR)
def test_converges_on_a_well_conditioned_bowl(name):
    run = optlab.simulate("bowl", name, steps=1000, lr=GOOD_LR[name], **({"weight_decay": 0.0}
                          if name == "adamw" else {}))
    assert run.diverged_at is None
    assert np.linalg.norm(run.path[-1]) < 0.03, run.path[-1]
    assert run.loss[-1] < 1e-3 * run.loss[0]


@pytest.mark.parametrize("name", GOOD_LR)
def test_declaration_is_complete(name):
    opt = optlab.get_optimizer(name)
    assert opt.name == name and opt.title and opt.summary and opt.reference and opt.rule.strip()
    assert opt.hparams[0].name == "lr" and opt.hparams[0].log
    assert (opt.torch is None) == (name in NOT_IN_TORCH)
    assert (opt.torch is None) == (opt.written_out is not None)  # the export writes out what torch lacks
    if "weight_decay" in opt.defaults:  # Rprop has none
        assert ("decoupled" in opt.param("weight_decay").help) == opt.decoupled_decay
    for p in opt.hparams:
        assert isinstance(p, Param) and p.symbol and p.help
        assert p.kind is bool or p.accepts(p.default), p
        assert (p.kind is str) == bool(p.choices), p  # a choice, and only a choice, lists its values
        if p.kind in (int, float):
            assert p.ui_low is not None and p.ui_high is not None
    hp = opt.hp()
    assert hp._fields == tuple(opt.defaults) and tuple(hp) == tuple(opt.defaults.values())
    state = opt.init(np.zeros((2, 1)), hp, optlab.optimizers.base.ARRAY)
    assert opt.coupled or opt.init(0.0, hp, optlab.optimizers.base.SCALAR)._fields == state._fields
    # every state field is a recorded buffer; an evaluating update (LBFGS) may keep more after them (its history)
    recorded = list(state._fields)[: len(opt.buffers)] if opt.evaluates else list(state._fields)
    assert [b.name for b in opt.buffers] == recorded
    # the step record: t, lr, then the coefficients, one field each, in the order coefficients() gives them
    coefficients = opt.coefficients(np.arange(1.0, 4.0)[:, None], hp)
    assert opt.step_type._fields == ("t", "lr", *coefficients)


def test_torch_defaults():
    d = {n: optlab.get_optimizer(n).defaults for n in GOOD_LR}
    assert d["sgd"]["lr"] == 1e-3 and d["sgd"]["momentum"] == 0 and d["momentum"]["momentum"] == 0.9
    assert d["adam"] == {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0,
                         "amsgrad": False}
    assert d["adamw"]["weight_decay"] == 1e-2
    assert d["rmsprop"] == {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0, "momentum": 0.0,
                            "centered": False}
    assert d["adagrad"]["eps"] == 1e-10 and d["adadelta"]["lr"] == 1.0 and d["adadelta"]["eps"] == 1e-6
    assert d["adamax"]["lr"] == 2e-3 and d["nadam"]["momentum_decay"] == 4e-3 and d["radam"]["lr"] == 1e-3


# --- adding an optimizer: one declaration and one registry entry ---------------------------------
def test_a_new_declaration_drives_simulate_the_inspector_sweeps_and_the_export(monkeypatch):
    from typing import NamedTuple

    from optlab import sweep_axes
    from optlab.config import RunConfig
    from optlab.export import torch_script
    from optlab.inspector import step_details
    from optlab.optimizers import OPTIMIZERS
    from optlab.optimizers import worked as W
    from optlab.optimizers.base import Buffer, Optimizer, WrittenOut, ema, l2, lr, momentum, weight_decay

    class SignumState(NamedTuple):
        m: float | np.ndarray

    def update(g, state, params, step, hp, xp):
        m = ema(state.m, l2(g, params, hp, xp), hp.momentum)
        return params - step.lr * xp.sign(m), SignumState(m)

    def worked(s):
        return W.l2(s) + [W.Line("m_k", W.ema(s.prev.m, s.g, s.h.momentum), s.state.m),
                          W.Line(r"\theta_k", s.theta_prev - s.lr * W.sign(s.state.m), s.theta)]

    signum = Optimizer(
        name="signum", title="Signum", hparams=(lr(1e-2), momentum(0.9), weight_decay()),
        init=lambda params, hp, xp: SignumState(xp.zeros_like(params)), update=update,
        buffers=(Buffer("m", "m_t", "momentum", "exp_avg"),),
        rule=r"\theta_t = \theta_{t-1} - \eta\,\operatorname{sign}(m_t)",
        summary="sign of the momentum", reference="Bernstein et al. 2018", worked=worked, sweep_y=("momentum",),
        written_out=WrittenOut("Signum", "\nclass Signum(torch.optim.Optimizer):\n    pass  # written out here\n"),
    )
    monkeypatch.setitem(OPTIMIZERS, "signum", signum)
    run = optlab.simulate("himmelblau", "signum", start=(-1.0, -1.5), steps=20, weight_decay=0.1)
    batch = optlab.simulate("himmelblau", "signum", start=[(-1.0, -1.5), (0.5, 0.5)], steps=20,
                            weight_decay=np.array([0.1, 0.0]))
    assert np.array_equal(batch.run(0).path, run.path)
    d = step_details(run, 5)
    assert [line.result for _, line in d["lines"]] == ["g", "m", "theta"] * 2
    assert d["values"][0]["theta"] == run.path[5, 0]
    assert sweep_axes.default_axes("signum") == ("lr", "momentum")
    script = torch_script(RunConfig(optimizers=("signum",)))
    assert "class Signum(torch.optim.Optimizer)" in script and "Signum(params, " in script


def test_prodigy_at_lr_0_changes_nothing():
    # prodigyopt rejects lr = 0; a step at rate 0 accumulates nothing and then skips, as its lr = 0 groups do
    run = optlab.simulate("bowl", "prodigy", start=T0, steps=3, lr=0.0)
    close(run.path, [T0] * 4)
    close(run.state["d"], np.full((3, 2), 1e-6))

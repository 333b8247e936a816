"""The exports do what the README says.

- The torch.optim script runs on its own (torch and NumPy; optlab not importable) and its CSV
  equals optlab.simulate's path and loss at every step, for a matrix of configurations.
- Its f and gradient equal every registered landscape's (and typed-in formulas') on random points.
- Its learning-rate factors equal the schedules' own; refused optimizers are left out, saying why.
- The trajectories CSV names state columns after what they hold and carries each run's settings.
- The configuration JSON reads back (optlab.load_config) into bit-equal runs.
"""

import io
import json
import os
import runpy
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import optlab
from optlab import config as C
from optlab.codegen import TraceError, trace
from optlab.export import schedule_code, torch_script, trajectories_csv
from optlab.presets import PRESETS
from optlab.schedules import SCHEDULES

# Script vs simulate, every step: rounding error only. Measured at most 5.1e-12 absolute and
# 3.7e-11 relative (centered RMSprop, whose v − ḡ² cancels; every other run below 1.2e-12);
# torch.optim rounds its updates differently (lerp, addcdiv) and the models' means sum in another order.
RTOL, ATOL = 1e-9, 1e-12
# The script's f and gradient vs the landscape's at the same point: the same operations, so most are
# bit-equal; transcendental functions (torch vs NumPy), means over a dataset and autograd (formulas)
# differ in the last bits (measured at most 2.8e-14 absolute).
F_RTOL, F_ATOL = 1e-12, 1e-12

ALL = optlab.optimizer_names()
EVERY_LR = {"sgd.lr": "0.02", "momentum.lr": "0.01", "nesterov.lr": "0.01", "adagrad.lr": "0.5",
            "rmsprop.lr": "0.01", "adam.lr": "0.05", "adamw.lr": "0.05", "amsgrad.lr": "0.05", "adamax.lr": "0.05",
            "nadam.lr": "0.05", "radam.lr": "0.05", "lion.lr": "0.01", "schedule_free_sgd.lr": "0.02",
            "schedule_free_adamw.lr": "0.05"}
NON_DEFAULT_HP = {
    "sgd.lr": "0.01", "sgd.momentum": "0.5", "sgd.dampening": "0.2", "sgd.weight_decay": "0.1",
    "nesterov.lr": "0.005", "nesterov.weight_decay": "0.01",
    "rmsprop.lr": "0.005", "rmsprop.centered": "true", "rmsprop.momentum": "0.5", "rmsprop.alpha": "0.9",
    "adamw.lr": "0.1", "adamw.amsgrad": "true", "adamw.weight_decay": "0.1",
    "adagrad.lr": "1", "adagrad.lr_decay": "0.01", "adagrad.initial_accumulator_value": "0.5",
    "adadelta.rho": "0.8", "adadelta.weight_decay": "0.05",
    "nadam.lr": "0.1", "nadam.momentum_decay": "0.01", "radam.lr": "0.1", "radam.weight_decay": "0.05",
    "radam.beta2": "0.99", "adamax.lr": "0.1", "adamax.weight_decay": "0.05", "adamax.beta1": "0.8",
    "lion.lr": "0.05", "lion.weight_decay": "0.1", "lion.beta1": "0.8",
    "rprop.lr": "0.05", "rprop.eta_minus": "0.3", "rprop.eta_plus": "1.5", "rprop.step_size_max": "0.5",
    "asgd.lr": "0.005", "asgd.lambd": "0.01", "asgd.t0": "20", "asgd.alpha": "0.5",
    "adafactor.lr": "0.05", "adafactor.beta2_decay": "-0.5", "adafactor.eps2": "0.01", "adafactor.d": "1.5",
    "adafactor.weight_decay": "0.05",
    "schedule_free_sgd.lr": "0.01", "schedule_free_sgd.momentum": "0.8", "schedule_free_sgd.weight_decay": "0.05",
    "schedule_free_sgd.warmup_steps": "10", "schedule_free_sgd.r": "0.5",
    "schedule_free_adamw.lr": "0.05", "schedule_free_adamw.beta1": "0.8", "schedule_free_adamw.weight_decay": "0.05",
    "schedule_free_adamw.warmup_steps": "10", "schedule_free_adamw.weight_lr_power": "1",
    "prodigy.weight_decay": "0.05", "prodigy.use_bias_correction": "true", "prodigy.safeguard_warmup": "true",
    "prodigy.d_coef": "2", "prodigy.beta1": "0.5",
    "lbfgs.lr": "0.5", "lbfgs.line_search_fn": "strong_wolfe", "lbfgs.history_size": "3", "lbfgs.max_iter": "5",
    "lbfgs.max_eval": "9", "lbfgs.tolerance_grad": "1e-9", "lbfgs.tolerance_change": "1e-11",
}
# name -> (link, what the config must exercise: simulate with it turned off must give another path)
MATRIX = {
    "every optimizer, shape parameters": (
        {"landscape": "rotated_bowl", "rotated_bowl.kappa": "20", "rotated_bowl.angle": "25", "opt": ALL,
         "steps": "150", **EVERY_LR}, ["landscape_params"]),
    "non-default hyperparameters": (
        {"landscape": "booth", "opt": [n for n in ALL if n not in ("adam", "amsgrad")], "steps": "150",
         **NON_DEFAULT_HP}, ["hparams"]),
    "schedule, noise, clipping": (
        {"landscape": "himmelblau", "opt": ["adam", "momentum", "lion", "rmsprop"], "adam.lr": "0.05",
         "momentum.lr": "0.002", "lion.lr": "0.02", "schedule": "warmup_cosine", "schedule.warmup": "30",
         "noise": "0.5", "clip": "2", "seed": "3", "steps": "200"}, ["schedule", "noise", "clip"]),
    "step schedule, transcendental f": (
        {"landscape": "rastrigin", "opt": ["momentum", "adam"], "schedule": "step", "schedule.step_size": "30",
         "adam.lr": "0.02", "steps": "150"}, ["schedule"]),
    "ackley (np.where in the gradient)": (
        {"landscape": "ackley", "opt": ["adam", "sgd"], "adam.lr": "0.05", "sgd.lr": "0.01", "steps": "150"}, []),
    "minibatches and noise on a model": (
        {"landscape": "linear_regression", "opt": ["sgd", "adam", "lion"], "sgd.lr": "0.1", "adam.lr": "0.05",
         "lion.lr": "0.01", "batch": "10", "noise": "0.1", "seed": "5", "steps": "150"}, ["batch", "noise"]),
    "minibatches and a schedule on logistic regression": (
        {"landscape": "logistic_regression", "opt": ["adam", "nadam"], "adam.lr": "0.05", "nadam.lr": "0.05",
         "batch": "16", "schedule": "exponential", "steps": "150"}, ["batch", "schedule"]),
    "tiny network, full batch": (
        {"landscape": "tiny_network", "opt": ["adam", "sgd"], "adam.lr": "0.02", "sgd.lr": "0.1", "steps": "150"},
        []),
    "network plane, minibatches": (
        {"landscape": "mlp_moons_plane", "mlp_moons_plane.hidden": "6", "opt": ["adam", "sgd"], "adam.lr": "0.05",
         "sgd.lr": "0.5", "batch": "16", "seed": "2", "steps": "100"}, ["batch", "landscape_params"]),
    "typed-in formula, domain parameters": (
        {"landscape": "custom", "formula": "(x^2 + y - 11)^2/10 + sin(3*x) + abs(y) + x/3.3", "custom.xmin": "-4",
         "opt": ["adam", "rmsprop"], "adam.lr": "0.05", "steps": "150"}, []),
    "a refused optimizer among others": (
        {"landscape": "booth", "opt": ["nesterov", "sgd", "lion"], "steps": "300"}, []),
}


def matrix_config(name: str) -> C.RunConfig:
    cfg, problems = C.from_query(MATRIX[name][0])
    assert not problems, problems
    if name == "a refused optimizer among others":  # a link cannot hold it: the page's sliders can
        cfg = replace(cfg, hparams={"nesterov": {"momentum": 0.0}})
    return cfg


def without(cfg: C.RunConfig, feature: str) -> C.RunConfig:
    off = {"schedule": dict(schedule="constant", schedule_params={}), "noise": dict(noise=0.0),
           "clip": dict(clip=0.0), "batch": dict(batch=0), "hparams": dict(hparams={}),
           "landscape_params": dict(landscape_params={})}
    return replace(cfg, **off[feature])


def isolated_env() -> dict:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}


@pytest.fixture
def float64_default():
    """The scripts set torch's default dtype to float64; restore it for the tests that follow."""
    torch = pytest.importorskip("torch")
    previous = torch.get_default_dtype()
    yield torch
    torch.set_default_dtype(previous)


# Where the scripts run: this interpreter with -I (no PYTHONPATH, no working directory, no user site on
# sys.path), which still sees its site-packages, so the installed optlab (pip install -e . or .) and
# landscapes too. Before anything else, a finder at the head of sys.meta_path refuses both packages,
# however they are installed (an editable install's finder, a .pth, a copy in site-packages): the script
# gets NumPy, torch and the standard library, and an `import optlab` anywhere in it fails.
NO_OPTLAB = """\
import importlib.abc, sys
class NoOptlab(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("optlab", "landscapes"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
assert not {"optlab", "landscapes"} & set(sys.modules), "imported before the script ran"
sys.meta_path.insert(0, NoOptlab())
"""


def test_optlab_is_not_importable_where_the_scripts_run(tmp_path):
    for package in ("optlab", "landscapes"):
        out = subprocess.run([sys.executable, "-I", "-c", NO_OPTLAB + f"import {package}"], cwd=tmp_path,
                             env=isolated_env(), capture_output=True, text=True, timeout=60)
        assert out.returncode != 0 and f"No module named {package!r}" in out.stderr, (package, out.stderr)
    # ... and that finder is what keeps them out: -I alone still imports the installed package
    out = subprocess.run([sys.executable, "-I", "-c", "import optlab, landscapes"], cwd=tmp_path,
                         env=isolated_env(), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


# One process runs every script (torch is imported once), as above; the driver first checks that optlab
# cannot be imported.
DRIVER = NO_OPTLAB + """\
import runpy
try:
    import optlab
except ModuleNotFoundError:
    pass
else:
    sys.exit("optlab is importable here: " + optlab.__file__)
for stem in sys.argv[1:]:
    sys.argv = [stem + ".py", "--csv", stem + ".csv"]
    runpy.run_path(stem + ".py", run_name="__main__")
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    pytest.importorskip("torch")
    where = tmp_path_factory.mktemp("scripts")
    stems = {}
    for i, name in enumerate(MATRIX):
        stems[name] = f"script_{i}"
        (where / f"script_{i}.py").write_text(torch_script(matrix_config(name)), encoding="utf-8")
    (where / "driver.py").write_text(DRIVER)
    out = subprocess.run([sys.executable, "-I", "driver.py", *stems.values()], cwd=where, env=isolated_env(),
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return {name: pd.read_csv(where / f"{stem}.csv") for name, stem in stems.items()}


def assert_same_runs(frame: pd.DataFrame, runs: dict, steps: int):
    assert list(frame.columns) == ["optimizer", "step", "x", "y", "loss"]
    assert list(dict.fromkeys(frame["optimizer"])) == list(runs)
    for name, run in runs.items():
        rows = frame[frame["optimizer"] == name]
        assert rows["step"].tolist() == list(range(steps + 1))
        np.testing.assert_allclose(rows[["x", "y"]].to_numpy(), run.path, rtol=RTOL, atol=ATOL, err_msg=name)
        np.testing.assert_allclose(rows["loss"].to_numpy(), run.loss, rtol=RTOL, atol=ATOL, err_msg=name)


@pytest.mark.parametrize("name", list(MATRIX))
def test_exported_script_reproduces_every_step_without_optlab(name, exported):
    cfg = matrix_config(name)
    runs = optlab.runs_from_config(cfg)
    assert_same_runs(exported[name], runs, cfg.steps)
    for feature in MATRIX[name][1]:  # the feature changes the runs, so the script reproduces it
        plain = optlab.runs_from_config(without(cfg, feature))
        moved = max(np.nanmax(np.abs(plain[n].path - runs[n].path)) for n in runs)
        assert moved > 1e-6, f"{feature} does not change the runs of {name!r}"


def test_the_matrix_covers_every_optimizer(exported):
    assert set(exported["every optimizer, shape parameters"]["optimizer"]) == set(ALL)
    assert set(exported["non-default hyperparameters"]["optimizer"]) | {"adam", "amsgrad"} == set(ALL)


def test_a_lion_only_script_runs_from_the_command_line_and_prints_its_csv(tmp_path):
    pytest.importorskip("torch")
    cfg, _ = C.from_query({"landscape": "himmelblau", "opt": "lion", "lion.lr": "0.01", "steps": "100",
                           "schedule": "cosine", "noise": "0.2"})
    script = tmp_path / "optimizer_lab_runs.py"
    script.write_text(torch_script(cfg), encoding="utf-8")
    out = subprocess.run([sys.executable, "-I", script.name], cwd=tmp_path, env=isolated_env(),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert_same_runs(pd.read_csv(io.StringIO(out.stdout)), optlab.runs_from_config(cfg), cfg.steps)


def test_refused_optimizers_are_left_out_with_the_reason():
    cfg = matrix_config("a refused optimizer among others")
    why = C.refused(cfg)["nesterov"]
    script = torch_script(cfg)
    compile(script, "optimizer_lab_runs.py", "exec")
    assert f"# nesterov is not exported: the app does not run it either ({why})" in script
    assert "'nesterov': lambda" not in script and "'sgd': lambda" in script and "'lion': lambda" in script
    assert list(optlab.runs_from_config(cfg)) == ["sgd", "lion"]


LANDSCAPES = [(name, {}) for name in optlab.landscape_names()] + [
    ("ill_conditioned_bowl", {"kappa": 300.0}), ("rotated_bowl", {"kappa": 50.0, "angle": -65.0}),
    ("mlp_moons_plane", {"hidden": 5, "layers": 2, "relu": True, "net_seed": 3}),
    ("mlp_iris_plane", {"solutions": True}), ("mlp_digits_plane", {"hidden": 8, "extent": 1.0}),
    ("mlp_iris_plane", {"standardise": False}),
]
FORMULAS = [
    "x^2 + 10*y^2 + 2*sin(3*x)",
    "sqrt(abs(x*y)) + exp(-x^2) + log(1 + y^2) + tanh(x - y) + tan(x/4) + cos(y)",
    "2^x + x/3.3 + pi*e*y + x^-1.5",  # NaN for x < 0, as optlab's
    "y^2",  # no x: autograd's gradient in x is 0
    "7",  # a constant
]
CONFIGS = ([C.RunConfig(landscape=name, landscape_params=params, optimizers=("sgd",)) for name, params in LANDSCAPES]
           + [C.RunConfig(landscape=optlab.landscape.CUSTOM, formula=text, optimizers=("sgd",),
                          landscape_params={"xmin": -3.0, "ymax": 2.0}) for text in FORMULAS])


@pytest.mark.parametrize("cfg", CONFIGS, ids=[f"{c.landscape}-{c.formula or c.landscape_params}" for c in CONFIGS])
def test_script_f_and_gradient_equal_the_landscapes(cfg, tmp_path, float64_default):
    torch = float64_default
    land = cfg.land
    script = tmp_path / "runs.py"
    script.write_text(torch_script(cfg), encoding="utf-8")
    value_and_grad = runpy.run_path(str(script), run_name="exported")["value_and_grad"]
    (x0, x1), (y0, y1) = land.domain
    rng = np.random.default_rng(0)
    points = np.column_stack([rng.uniform(x0, x1, 256), rng.uniform(y0, y1, 256)])
    f, gx, gy = value_and_grad(torch.tensor(points[:, 0]), torch.tensor(points[:, 1]))
    np.testing.assert_allclose(f.numpy(), land.f(points), rtol=F_RTOL, atol=F_ATOL)
    np.testing.assert_allclose(np.column_stack([gx.numpy(), gy.numpy()]), land.grad(points), rtol=F_RTOL,
                               atol=F_ATOL)
    assert np.isfinite(land.f(points)).any()


def test_every_registered_landscape_is_in_that_test():
    assert {c.landscape for c in CONFIGS} == {*optlab.landscape_names(), optlab.landscape.CUSTOM}
    assert {c.landscape for c in CONFIGS if c.landscape_params and c.landscape != "custom"} == {
        name for name in optlab.landscape_names() if optlab.get_landscape(name).params}


SCHEDULE_PARAMS = {"constant": {}, "step": {"step_size": 7, "gamma": 0.3}, "exponential": {"gamma": 0.97},
                   "cosine": {"min_factor": 0.1}, "warmup_cosine": {"warmup": 13, "min_factor": 0.05},
                   "inverse_time": {"decay": 0.05}}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_script_learning_rate_factors_are_the_schedules_own(name):
    steps, params = 120, SCHEDULE_PARAMS[name]
    expected = SCHEDULES[name].multipliers(steps, **params)
    code = schedule_code(name, steps, params)
    if code is None:  # the constant schedule: no scheduler at all, the base rate every step
        assert np.all(expected == 1.0)
        return
    namespace = {"np": np}
    exec(code, namespace)  # noqa: S102 - our own generated code
    factors = np.broadcast_to(np.asarray(namespace["lr_factor"](np.arange(steps, dtype=float)), dtype=float),
                              (steps,))
    np.testing.assert_array_equal(factors, expected)
    assert code in torch_script(C.RunConfig(schedule=name, schedule_params=params, steps=steps))


def test_a_formula_that_branches_cannot_be_traced_silently():
    with pytest.raises(TraceError, match="np.where"):
        trace(lambda x, y: x if x > 0 else y, ("x", "y"))


# --- the trajectories CSV -------------------------------------------------------------------------
def test_trajectories_csv_names_state_columns_after_what_they_hold():
    cfg, _ = C.from_query({"landscape": "booth", "opt": ["adadelta", "adamax", "sgd", "rmsprop"], "steps": "20",
                           "sgd.momentum": "0.5"})
    runs = C.run_all(cfg)
    frame = pd.read_csv(io.StringIO(trajectories_csv(runs)))
    for name, run in runs.items():
        rows = frame[frame["optimizer"] == name]
        for buffer in optlab.get_optimizer(name).buffers:
            for axis, col in ((0, f"{buffer.torch_name}_x"), (1, f"{buffer.torch_name}_y")):
                assert np.isnan(rows[col].iloc[0])  # step 0: before any step
                np.testing.assert_array_equal(rows[col].to_numpy()[1:], run.state[buffer.name][:, axis])
    # Adadelta's u (running mean of Δ²) and Adamax's u (∞-norm) no longer share a column
    adadelta, adamax = frame[frame.optimizer == "adadelta"], frame[frame.optimizer == "adamax"]
    assert adadelta["exp_inf_x"].isna().all() and adamax["acc_delta_x"].isna().all()
    assert adadelta["acc_delta_x"].iloc[1:].notna().all() and adamax["exp_inf_x"].iloc[1:].notna().all()
    assert "u_x" not in frame.columns


def test_trajectories_csv_carries_each_runs_settings():
    cfg, _ = C.from_query({"landscape": "linear_regression", "opt": ["adam", "sgd"], "adam.lr": "0.05",
                           "adam.amsgrad": "true", "sgd.momentum": "0.3", "steps": "15", "seed": "4",
                           "noise": "0.25", "clip": "3", "batch": "8", "schedule": "step",
                           "schedule.step_size": "5"})
    runs = C.run_all(cfg)
    frame = pd.read_csv(io.StringIO(trajectories_csv(runs)))
    for name in runs:
        rows = frame[frame["optimizer"] == name]
        for hp, value in cfg.hp(name).items():
            assert rows[f"hp_{hp}"].tolist() == [value] * len(rows), hp
        other = next(n for n in runs if n != name)
        for hp in set(cfg.hp(other)) - set(cfg.hp(name)):
            assert rows[f"hp_{hp}"].isna().all()
    for col, value in {"seed": 4, "noise": 0.25, "clip_norm": 3.0, "batch_size": 8, "schedule": "step",
                       "schedule_step_size": 5, "schedule_gamma": 0.5}.items():
        assert frame[col].tolist() == [value] * len(frame), col
    custom = C.run_all(C.from_query({"landscape": "custom", "formula": "x^2 + y^2", "custom.xmax": "3",
                                     "opt": "sgd", "steps": "3"})[0])
    frame = custom["sgd"].to_frame()
    assert frame["formula"].tolist() == ["x^2 + y^2"] * 4 and frame["landscape_xmax"].tolist() == [3.0] * 4
    assert frame["clip_norm"].isna().all() and frame["batch_size"].isna().all()


def test_trajectories_csv_settings_of_a_batch_are_per_run():
    batch = optlab.simulate("booth", "adam", start=[[0.0, 0.0], [1.0, 1.0]], steps=3, lr=np.array([0.1, 0.2]),
                            seed=np.array([1, 2]), noise=0.5)
    frame = batch.to_frame()
    assert frame.groupby("run")["hp_lr"].unique().map(list).tolist() == [[0.1], [0.2]]
    assert frame.groupby("run")["seed"].unique().map(list).tolist() == [[1], [2]]


# --- the configuration JSON read back ------------------------------------------------------------
JSON_CONFIGS = {
    "preset adamw_vs_adam": PRESETS["adamw_vs_adam"].config,
    "preset saddle": PRESETS["saddle"].config,
    "formula and domain": C.from_query({"landscape": "custom", "formula": "x^2 + 3*y^2 + sin(2*x)",
                                        "custom.xmin": "-2", "opt": ["adam", "rmsprop"], "adam.lr": "0.05"})[0],
    "model, minibatches, noise, clipping": C.from_query({
        "landscape": "logistic_regression", "opt": ["sgd", "lion"], "batch": "12", "noise": "0.3", "seed": "9",
        "clip": "0.5", "steps": "120"})[0],
    "schedule, shape parameters, start, view": C.read_link({
        "landscape": "rotated_bowl", "rotated_bowl.kappa": "40", "opt": ["nesterov", "adamax"], "x0": "3",
        "y0": "-2", "schedule": "warmup_cosine", "schedule.warmup": "25", "nesterov.lr": "0.004",
        "view": "multiples", "inspect": "adamax", "k": "7", "explore": "sensitivity", "sweep.n": "30"})[0],
}


@pytest.mark.parametrize("name", list(JSON_CONFIGS))
def test_config_json_loads_back_into_the_same_runs(name, tmp_path):
    cfg = JSON_CONFIGS[name]
    text = C.to_json(cfg)
    path = tmp_path / "optimizer-lab-config.json"
    path.write_text(text, encoding="utf-8")
    load = C.load_state if isinstance(cfg, C.PageState) else optlab.load_config  # with the page's view, or not
    for source in (text, path, str(path), json.loads(text)):
        loaded = load(source)
        assert loaded == cfg
        assert C.to_json(loaded) == text
    runs, app = optlab.runs_from_config(loaded), C.run_all(C.runs_of(cfg))  # what the page computes
    assert list(runs) == list(app)
    for opt, run in runs.items():
        for field in ("path", "loss", "lr"):
            np.testing.assert_array_equal(getattr(run, field), getattr(app[opt], field), err_msg=f"{opt} {field}")
        assert run.hparams == app[opt].hparams and run.batch_size == app[opt].batch_size


def test_config_json_fields_are_what_is_read():
    data = json.loads(C.to_json(PRESETS["adamw_vs_adam"].config))
    data["optimizers"]["adam"]["lr"] = 0.0123
    data["steps"], data["noise"] = 77, 0.5
    cfg = optlab.load_config(json.dumps(data))  # the "query" copy still says otherwise: the fields win
    assert cfg.hp("adam")["lr"] == 0.0123 and cfg.steps == 77 and cfg.noise == 0.5
    assert optlab.runs_from_config(cfg)["adam"].path.shape == (78, 2)


def test_config_json_with_bad_values_says_which():
    data = json.loads(C.to_json(PRESETS["adamw_vs_adam"].config))
    data["optimizers"]["adam"]["lr"] = -1
    with pytest.raises(ValueError, match="adam.lr"):
        optlab.load_config(data)
    with pytest.warns(UserWarning, match="adam.lr"):
        cfg = optlab.load_config(data, strict=False)
    assert cfg.hp("adam")["lr"] == optlab.get_optimizer("adam").defaults["lr"]

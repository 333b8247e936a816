"""The exports do what the README says.

- The trajectories CSV names state columns after what they hold and carries each run's settings.
- The configuration JSON reads back (optlab.load_config) into bit-equal runs.
"""

import io
import json

import numpy as np
import pandas as pd
import pytest

import optlab
from optlab import config as C
from optlab.export import trajectories_csv
from optlab.presets import PRESETS


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
    "schedule, shape parameters, start, view": C.from_query({
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
    for source in (text, path, str(path), json.loads(text)):
        loaded = optlab.load_config(source)
        assert loaded == cfg
        assert C.to_json(loaded) == text
    runs, app = optlab.runs_from_config(loaded), C.run_all(cfg)  # what the page computes
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

"""Presets say only what their runs show; the URL codec and the exports round-trip."""

import json
import runpy

import numpy as np
import pytest

import optlab
from optlab import config as C
from optlab.export import torch_script, trajectories_csv
from optlab.presets import PRESETS


@pytest.mark.parametrize("name", list(PRESETS))
def test_each_preset_sentence_holds_in_its_numbers(name):
    preset = PRESETS[name]
    runs = C.run_all(preset.config)
    assert preset.check(runs), preset.notice


def test_the_saddle_preset_in_words():
    runs = C.run_all(PRESETS["saddle"].config)
    assert np.linalg.norm(runs["sgd"].path[-1]) < 0.1  # plain SGD is still near the saddle point
    assert np.linalg.norm(runs["adam"].path[-1]) > 1  # Adam has left it


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_links_round_trip(name):
    cfg = PRESETS[name].config
    again, problems = C.from_query(C._group(C.to_query(cfg)))
    assert not problems and again == cfg


def test_defaults_are_left_out_of_links():
    cfg, _ = C.from_query({"opt": ["adam"], "adam.lr": "0.001", "adam.beta1": "0.9", "steps": "300"})
    assert C.to_query(cfg) == [("landscape", "rosenbrock"), ("opt", "adam")]


def test_config_json_spells_out_every_value():
    cfg = PRESETS["adamw_vs_adam"].config
    data = json.loads(C.to_json(cfg))
    assert data["optimizers"]["adamw"]["weight_decay"] == 0.5 and data["optimizers"]["adam"]["beta2"] == 0.999
    assert data["start"] == list(optlab.get_landscape("booth").start)


def test_trajectories_csv_has_every_optimizer_and_step():
    import io

    import pandas as pd

    runs = C.run_all(PRESETS["saddle"].config)
    frame = pd.read_csv(io.StringIO(trajectories_csv(runs)))
    assert set(frame["optimizer"]) == {"sgd", "momentum", "adam"}
    assert len(frame) == 3 * 201
    np.testing.assert_allclose(frame[frame.optimizer == "adam"][["x", "y"]].to_numpy(), runs["adam"].path,
                               rtol=1e-15)


CUSTOM_LINK = {"landscape": "custom", "formula": "(x^2 + y - 11)^2 + (x + y^2 - 7)^2", "opt": ["adam", "rmsprop"],
               "adam.lr": "0.1", "steps": "100", "x0": "0.5", "y0": "-0.5"}


@pytest.mark.parametrize("name", ["adam_vs_sgd", "momentum_overshoot", "custom formula", "tiny_network"])
def test_torch_script_reproduces_the_runs(name, capsys, tmp_path, monkeypatch):
    import io

    import pandas as pd

    torch = pytest.importorskip("torch")
    cfg = C.from_query(CUSTOM_LINK)[0] if name == "custom formula" else PRESETS[name].config
    script = tmp_path / "runs.py"
    script.write_text(torch_script(cfg), encoding="utf-8")
    monkeypatch.setattr("sys.argv", [str(script)])  # the script's CSV goes to stdout
    previous = torch.get_default_dtype()
    try:
        runpy.run_path(str(script), run_name="__main__")
    finally:
        torch.set_default_dtype(previous)  # the script sets float64
    printed = pd.read_csv(io.StringIO(capsys.readouterr().out))
    runs = C.run_all(cfg)
    last = printed.groupby("optimizer", sort=False).last()  # each run's final point
    for opt, row in last.iterrows():
        np.testing.assert_allclose(row[["x", "y"]].to_numpy(float), runs[opt].path[-1], rtol=1e-9)
    assert len(last) == len(cfg.optimizers)

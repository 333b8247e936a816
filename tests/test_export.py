"""The configuration JSON export reads back (optlab.load_config) into bit-equal runs."""

import json

import numpy as np
import pytest

import optlab
from optlab import config as C
from optlab.presets import PRESETS

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

"""What a new user reaches and reads on the comparison page (issue 13), driven by AppTest: the step
inspector's number box and step buttons, the lr hint and "Tune learning rates", plain-text labels and
titles in place of internal ids."""

import re

import numpy as np
from test_app import figure, open_app, share_url

import optlab
from optlab import tuning
from optlab.optimizers import get_optimizer, optimizer_names


def test_the_step_inspectors_number_box_and_buttons_set_k_and_the_link():
    at = open_app({"opt": ["adam", "sgd"], "steps": "500"})
    assert at.slider(key="k").value == 1
    assert at.button(key="k:prev").disabled and not at.button(key="k:next").disabled
    at.number_input(key="k#box").set_value(40).run()  # one entry, not 39 key presses
    assert at.slider(key="k").value == 40 and "k=40" in share_url(at)
    at.button(key="k:next").click().run()
    assert at.slider(key="k").value == 41 and at.number_input(key="k#box").value == 41 and "k=41" in share_url(at)
    at.button(key="k:prev").click().run()
    at.button(key="k:prev").click().run()
    assert at.slider(key="k").value == 39 and "k=39" in share_url(at)
    assert "Step 39, numbers substituted" in " ".join(m.value for m in at.markdown)
    at.number_input(key="k#box").set_value(500).run()
    assert at.slider(key="k").value == 500 and at.button(key="k:next").disabled


def test_the_step_box_reaches_single_steps_of_a_long_run():
    at = open_app({"opt": ["adam"], "steps": "5000"})
    at.number_input(key="k#box").set_value(4321).run()
    at.button(key="k:next").click().run()
    assert at.slider(key="k").value == 4322 and "k=4322" in share_url(at)


def _hints(at) -> list[str]:
    return [c.value for c in at.caption if "barely moved" in c.value]


def test_an_optimizer_at_torchs_default_lr_that_barely_moves_is_told_why_and_what_to_try():
    at = open_app({"opt": ["adam", "adamw", "lion"], "adam.lr": "0.05"})  # AdamW 1e-3, Lion 1e-4: torch's defaults
    hints = _hints(at)
    for name in ("adamw", "lion"):
        run = optlab.simulate("rosenbrock", name, steps=500)
        (x0, x1), (y0, y1) = optlab.get_landscape("rosenbrock").domain
        assert np.linalg.norm(run.path[-1] - run.path[0]) < 0.02 * np.hypot(x1 - x0, y1 - y0)
        title = get_optimizer(name).title
        line = next(h for h in hints if h.startswith(f":orange[:material/directions_walk: {title} barely"))
        assert "is torch's default" in line and "Tune learning rates" in line
    assert not any("Adam barely" in h for h in hints)  # Adam at 0.05 moves
    lrs = dict(zip(at.table[0].value.index, at.table[0].value["lr"], strict=True))
    assert lrs["AdamW"] == "0.001 (torch's default)" and lrs["Lion"] == "0.0001 (torch's default)"


def test_tune_learning_rates_sets_each_optimizers_best_rate_of_the_grid_and_says_so():
    at = open_app({"opt": ["adamw", "sgd"], "steps": "300"})
    at.button(key="tune").click().run()
    assert not at.exception
    expected = tuning.tune_all(optlab.get_landscape("rosenbrock"), ["adamw", "sgd"], start=(-1.5, 2.0), steps=300)
    lrs = dict(zip(at.table[0].value.index, at.table[0].value["lr"], strict=True))
    for name, title in (("adamw", "AdamW"), ("sgd", "SGD")):
        lr = expected[name].lr
        assert at.select_slider(key=f"{name}.lr").value == lr
        assert lrs[title] == f"{lr:g} (tuned)"
        assert f"{name}.lr={lr!r}" in share_url(at) or f"{name}.lr={lr:g}" in share_url(at)
    assert not _hints(at)  # tuned, neither barely moves
    tuned_final = optlab.simulate("rosenbrock", "adamw", steps=300, lr=expected["adamw"].lr).loss[-1]
    assert tuned_final < optlab.simulate("rosenbrock", "adamw", steps=300).loss[-1]


def test_widget_labels_are_plain_text_and_name_each_parameter():
    at = open_app({"opt": list(optimizer_names())[:6]})
    labels = [w.label for kind in ("select_slider", "number_input", "selectbox", "multiselect", "checkbox",
                                   "slider", "radio", "text_input") for w in at.get(kind)]
    assert labels and all(label and not re.search(r"[$\\]", label) for label in labels), labels
    assert "lr (η)" in labels  # a symbol as Unicode beside the name


def test_legends_hover_and_table_use_titles_not_ids():
    at = open_app({"opt": ["momentum", "adam"], "view": "multiples"})
    names = {t["name"] for t in figure(at)["data"] if t.get("mode") == "lines+markers"}
    assert {"SGD + momentum", "Adam"} <= names and not names & {"momentum", "adam"}
    hover = " ".join(t.get("hovertemplate", "") for t in figure(at)["data"])
    assert "momentum<" not in hover and "adam<" not in hover
    titles = [a["text"] for a in figure(at)["layout"].get("annotations", []) if "text" in a]
    assert any("SGD + momentum" in t for t in titles), titles
    assert at.table[0].value.index.tolist() == ["SGD + momentum", "Adam"]

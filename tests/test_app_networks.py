"""The networks page (AppTest): full training from a link, its shared plane, its honesty notes, its caps."""

import re

import numpy as np
import pytest
from test_app import _fresh_cache, charts, decode, figure, open_app, share_url  # noqa: F401  (fixture)

import optlab
from optlab import full_training as T
from optlab.networks.landscape import network_of

LINK = {"train": "true", "landscape": "mlp_iris_plane", "opt": ["adam", "sgd"], "adam.lr": "0.02", "sgd.lr": "0.2",
        "steps": "100", "batch": "16", "seed": "2", "train.grid": "20"}


def expected(**changes):
    values = {"steps": 100, "grid": 20} | changes
    source = network_of(optlab.get_landscape("mlp_iris_plane"))
    return T.train_all(source, {"adam": {**optlab.get_optimizer("adam").defaults, "lr": 0.02},
                                "sgd": {**optlab.get_optimizer("sgd").defaults, "lr": 0.2}},
                       steps=values["steps"], batch_size=16, seed=2, grid=values["grid"])


def traces(at, index) -> dict:
    """A figure's traces by name, the first of each name (the training loss before the test loss)."""
    out = {}
    for t in figure(at, index)["data"]:
        if t.get("name"):
            out.setdefault(t["name"], t)
    return out


def texts(at) -> str:
    return "\n".join(e.value for kind in (at.caption, at.warning, at.error, at.info, at.markdown) for e in kind)


def test_a_link_opens_the_page_and_draws_what_full_training_gives():
    at = open_app(LINK)
    assert len(charts(at)) == 5
    ft = expected()
    curves = traces(at, 0)
    for name, label in (("adam", "Adam"), ("sgd", "SGD")):
        r = ft.runs[name]
        np.testing.assert_allclose(decode(curves[label]["y"]), r.train_loss, rtol=1e-12)  # training loss per step
        np.testing.assert_array_equal(decode(curves[label]["x"]), r.steps)
        test = [t for t in figure(at, 0)["data"] if t.get("legendgroup") == name and t["line"]["dash"] == "dash"]
        np.testing.assert_allclose(decode(test[0]["y"]), r.test_loss, rtol=1e-12)  # test loss
        np.testing.assert_allclose(decode(test[1]["y"]), 100 * r.test_accuracy, rtol=1e-12)  # test accuracy
    plane = traces(at, 1)
    for name, label in (("adam", "Adam"), ("sgd", "SGD")):
        xy = np.column_stack([decode(plane[label]["x"]), decode(plane[label]["y"])])
        np.testing.assert_allclose(xy, ft.projection.coords[name], rtol=1e-10, atol=1e-12)  # the projected path
    contour = next(t for t in figure(at, 1)["data"] if t["type"] == "contour")
    np.testing.assert_allclose(decode(contour["z"]).reshape(20, 20), np.log10(ft.surface), rtol=1e-6)
    page = texts(at)
    assert f"The plane holds {100 * ft.projection.explained:.1f} %" in page
    for note in T.honesty_notes(ft, {"adam": "Adam", "sgd": "SGD"}):
        assert note in page
    url = share_url(at)
    assert "train=true" in url and "train.grid=20" in url and "batch=16" in url


def test_the_first_to_reach_a_test_accuracy_is_named_from_the_numbers():
    at = open_app(LINK)
    ft = expected()
    target = max(np.nanmax(r.test_accuracy) for r in ft.runs.values()) - 0.02
    match = re.search(r"First checkpoint at ([\d.]+) % test accuracy[^:]*: (.*)\.", texts(at))
    assert match and match.group(1) == f"{100 * target:.1f}"
    for name, title in (("adam", "Adam"), ("sgd", "SGD")):
        r = ft.runs[name]
        step = int(r.steps[np.argmax(r.test_accuracy >= target)])
        assert f"{title} at step {step}" in match.group(2)


def test_where_the_plane_and_the_network_disagree_the_page_says_so_in_words():
    at = open_app(LINK)
    ft = expected()
    from optlab.projection import disagreements

    for name, title in (("adam", "Adam"), ("sgd", "SGD")):
        differ = disagreements(ft.runs[name].train_loss, ft.plane_loss[name])
        warned = [w.value for w in at.warning if w.value.startswith(f"{title}:")]
        if differ.any():
            assert warned and f"At {int(differ.sum())} of its {len(differ)} checkpoints" in warned[0]
            assert "not the loss the network had" in warned[0]
        else:
            assert not warned


def test_a_landscape_without_a_network_gets_a_message_not_a_traceback():
    at = open_app({"train": "true", "landscape": "rosenbrock"})
    assert any("Full training needs a network" in i.value for i in at.info)
    assert not charts(at)
    assert "train=true" in share_url(at)


def test_steps_and_grid_are_capped_with_a_message():
    at = open_app({**LINK, "steps": "2500", "train.grid": "500"})
    assert any(f"capped at {T.MAX_STEPS:,} steps" in w.value and "asks for 2,500" in w.value for w in at.warning)
    assert any("train.grid" in w.value for w in at.warning)  # the link's grid is out of range: named, default used
    contour = next(t for t in figure(at, 1)["data"] if t["type"] == "contour")
    assert len(decode(contour["x"])) == T.GRID
    curves = traces(at, 0)
    assert decode(curves["Adam"]["x"])[-1] == T.MAX_STEPS


@pytest.mark.parametrize("setting", ["noise", "clip"])
def test_settings_full_training_does_not_use_are_named(setting):
    at = open_app({**LINK, setting: "0.5", "steps": "20"})
    what = {"noise": "gradient noise σ", "clip": "gradient clipping"}[setting]
    assert any(c.value.startswith("Not applied to full training") and what in c.value for c in at.caption)


def test_a_muon_run_from_the_link_is_drawn_and_kept_in_the_link():
    at = open_app({**LINK, "opt": ["adam"], "steps": "40", "train.muon": "true", "train.muon_lr": "0.02"})
    source = network_of(optlab.get_landscape("mlp_iris_plane"))
    muon = T.train_one(source, "muon", {"lr": 0.02}, steps=40, batch_size=16, seed=2)
    curves = traces(at, 0)
    np.testing.assert_allclose(decode(curves["Muon (weight matrices) + AdamW (biases)"]["y"]), muon.train_loss,
                               rtol=1e-12)
    assert any(c.value.startswith("Muon (weight matrices) + AdamW (biases): torch.optim.Muon's rule") for c in
               at.caption)
    url = share_url(at)
    assert "train.muon=true" in url and "train.muon_lr=0.02" in url


def test_seed_bands_shade_the_range_over_seeds_and_need_minibatches():
    at = open_app({**LINK, "opt": ["sgd"], "steps": "30", "train.seeds": "3"})
    source = network_of(optlab.get_landscape("mlp_iris_plane"))
    runs = [T.train_one(source, "sgd", {**optlab.get_optimizer("sgd").defaults, "lr": 0.2}, steps=30, batch_size=16,
                        seed=s) for s in (2, 3, 4)]
    shaded = [t for t in figure(at, 0)["data"] if t.get("fill") == "tonexty"]
    assert [t["name"] for t in shaded] == ["SGD: training loss over 3 seeds", "SGD: test accuracy over 3 seeds"]
    np.testing.assert_allclose(decode(shaded[0]["y"]), np.max([r.train_loss for r in runs], axis=0), rtol=1e-12)
    np.testing.assert_allclose(decode(shaded[1]["y"]), 100 * np.max([r.test_accuracy for r in runs], axis=0),
                               rtol=1e-12)
    assert any("minibatch seeds 2 to 4" in c.value for c in at.caption)
    assert "train.seeds=3" in share_url(at)
    full = open_app({**LINK, "opt": ["sgd"], "steps": "30", "train.seeds": "3", "batch": "0"})
    assert any("Seed bands need minibatches" in i.value for i in full.info)
    assert not [t for t in figure(full, 0)["data"] if t.get("fill") == "tonexty"]


def test_the_plane_through_two_ends_from_the_link_is_drawn_with_its_honesty_numbers():
    at = open_app({**LINK, "train.plane": "ends"})
    source = network_of(optlab.get_landscape("mlp_iris_plane"))
    ft = T.train_all(source, {"adam": {**optlab.get_optimizer("adam").defaults, "lr": 0.02},
                              "sgd": {**optlab.get_optimizer("sgd").defaults, "lr": 0.2}},
                     steps=100, batch_size=16, seed=2, grid=20, plane="ends")
    assert ft.ends == ("adam", "sgd")
    plane = traces(at, 1)
    for name, label in (("adam", "Adam"), ("sgd", "SGD")):
        xy = np.column_stack([decode(plane[label]["x"]), decode(plane[label]["y"])])
        np.testing.assert_allclose(xy, ft.projection.coords[name], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.column_stack([decode(plane["Adam"]["x"]), decode(plane["Adam"]["y"])])[-1],
                               [1.0, 0.0], atol=1e-9)  # Adam's end at z = (1, 0)
    assert figure(at, 1)["layout"]["xaxis"]["title"]["text"] == "z₁ (Adam's end at 1)"
    page = texts(at)
    assert "through the last checkpoints of Adam (z = (1, 0)) and SGD (z = (0, 1))" in page
    for note in T.honesty_notes(ft, {"adam": "Adam", "sgd": "SGD"}):
        assert note in page
    assert "explained by the plane through θ₀ and the ends of Adam and SGD" in page
    assert "train.plane=ends" in share_url(at)


def test_a_tampered_plane_in_the_link_is_named_and_the_default_plane_drawn():
    at = open_app({**LINK, "train.plane": "[x](http://e.vil)"})
    assert any("train.plane" in w.value and "using pca" in w.value for w in at.warning)
    assert "spanned by the first two principal directions" in texts(at)
    assert "train.plane" not in share_url(at)


def test_the_plane_through_two_ends_with_one_run_says_why_it_draws_the_other():
    at = open_app({**LINK, "opt": ["adam"], "steps": "20", "train.plane": "ends"})
    assert any("needs two runs that did not diverge (1 here)" in w.value for w in at.warning)
    assert "spanned by the first two principal directions" in texts(at)

"""The networks page's default views, computed in the background when the server starts (optlab.app_cache.warm_up).

What is warmed must be exactly what the page computes fresh, the page must find it (its arguments are the
page's, read from the same link), a view is computed once however the page and the warm-up meet, any other
setting is computed on demand, and OPTLAB_WARM_UP=0 (the tests' default: tests/conftest.py) turns it off.
"""

import os
import sys
import threading
import time

import numpy as np
import pytest
import streamlit as st
from test_app import charts, decode, figure, open_app  # noqa: F401

from optlab import app_cache
from optlab import full_training as T
from optlab.training_plots import title


@pytest.fixture(autouse=True)
def _clean():
    app_cache.forget_warm_up()
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    app_cache.forget_warm_up()


@pytest.fixture(scope="module")
def warmed():
    """The real warm-up, once: the default views' FullTrainings it computed, by their arguments."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(app_cache.WARM_UP, "1")
        mp.setattr(app_cache, "QUIET", 0.0)
        app_cache.forget_warm_up()
        app_cache.warm_up(wait=True)
        out = dict(app_cache._warm)
        app_cache.forget_warm_up()
    return out


def _same(a: T.FullTraining, b: T.FullTraining) -> None:
    assert list(a.runs) == list(b.runs)
    for name in a.runs:
        for field in ("steps", "path", "minibatch_loss", "train_loss", "test_loss", "train_accuracy", "test_accuracy",
                      "grad_norm", "update_ratio", "effective_step"):
            x, y = getattr(a.runs[name], field), getattr(b.runs[name], field)
            assert (x is None) == (y is None)
            if x is not None:
                np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(a.plane_loss[name], b.plane_loss[name])
        np.testing.assert_array_equal(a.projection.coords[name], b.projection.coords[name])
    for field in ("xs", "ys", "surface"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert a.projection.explained == b.projection.explained and a.layers == b.layers


def test_every_network_planes_default_view_is_warmed_and_equals_what_the_page_computes_fresh(warmed):
    views = app_cache.default_views()
    assert [args[0].landscape for args in views] == ["mlp_moons_plane", "mlp_iris_plane", "mlp_digits_plane"]
    assert set(warmed) == set(views)
    for args in views:
        _same(warmed[args], app_cache._train_all(*args))


def test_the_page_from_a_warm_server_shows_the_same_numbers_and_trains_nothing(warmed, monkeypatch):
    monkeypatch.setenv(app_cache.WARM_UP, "1")
    app_cache._warm.update(warmed)
    for args in warmed:
        app_cache._claims[args] = threading.Event()
        app_cache._claims[args].set()
    monkeypatch.setattr(app_cache, "_train_all", lambda *a: pytest.fail(f"trained {a[0].landscape} again"))
    for args, ft in warmed.items():
        st.cache_data.clear()
        st.cache_resource.clear()
        at = open_app({"train": "true", "landscape": args[0].landscape})
        assert len(charts(at)) == 5
        curves = {}
        for t in figure(at, 0)["data"]:  # the first of each name: the training loss (the test loss comes next)
            curves.setdefault(t.get("name"), t)
        for name, run in ft.runs.items():
            np.testing.assert_array_equal(decode(curves[title(name)]["y"]), run.train_loss)
        contour = next(t for t in figure(at, 1)["data"] if t["type"] == "contour")
        np.testing.assert_array_equal(decode(contour["z"]).reshape(ft.surface.shape), np.log10(ft.surface))
        assert f"The plane holds {100 * ft.projection.explained:.1f} %" in "\n".join(e.value for e in at.caption)


class _Counting:
    """A stand-in for app_cache._train_all that takes ``seconds`` and counts its calls by landscape."""

    def __init__(self, seconds: float = 0.0):
        self.seconds, self.calls, self.priority, self.lock = seconds, [], {}, threading.Lock()

    def __call__(self, cfg, *args):
        with self.lock:
            self.calls.append(cfg.landscape)
        if sys.platform == "linux":
            self.priority[cfg.landscape] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        time.sleep(self.seconds)
        return ("trained", cfg, *args)


class _NoSummary:
    def summary(self):
        return {}


@pytest.fixture
def counting(monkeypatch):
    import optlab.networks.landscape

    monkeypatch.setenv(app_cache.WARM_UP, "1")
    monkeypatch.setattr(app_cache, "QUIET", 0.0)
    monkeypatch.setattr(optlab.networks.landscape, "network_of", lambda land: _NoSummary())
    fake = _Counting(0.3)
    monkeypatch.setattr(app_cache, "_train_all", fake)
    return fake


def test_the_warm_up_starts_once_per_process_in_a_low_priority_thread(counting):
    first = app_cache.warm_up()
    assert first is not None and first.daemon and app_cache.warm_up() is first
    first.join()
    assert counting.calls == ["mlp_moons_plane", "mlp_iris_plane", "mlp_digits_plane"]
    app_cache.warm_up(wait=True)
    assert len(counting.calls) == 3  # not again
    if sys.platform == "linux":
        assert set(counting.priority.values()) == {19}  # the warm-up thread's own nice value
    for args in app_cache.default_views():
        assert app_cache.full_training(*args) == ("trained", *args)  # the page's cached function hands it out
    assert len(counting.calls) == 3


def test_each_view_waits_until_no_script_has_run_for_a_while(counting, monkeypatch):
    monkeypatch.setattr(app_cache, "QUIET", 0.6)
    monkeypatch.setattr(counting, "seconds", 0.0)
    app_cache.warm_up()  # (the end of the server's first run)
    for _ in range(5):  # a user's reruns, 0.2 s apart
        time.sleep(0.2)
        app_cache.warm_up()
    assert counting.calls == []
    time.sleep(0.3)
    assert counting.calls == []  # 0.3 s after the last run
    app_cache.warm_up(wait=True)
    assert counting.calls == ["mlp_moons_plane", "mlp_iris_plane", "mlp_digits_plane"]


def test_a_default_view_the_page_asks_for_while_it_is_warming_up_is_computed_once(counting):
    moons, iris, digits = app_cache.default_views()
    app_cache.warm_up()
    time.sleep(0.1)  # the warm-up is computing moons' view
    assert app_cache.full_training(*moons) == ("trained", *moons)  # waited for the warm-up's
    assert app_cache.full_training(*digits) == ("trained", *digits)  # not reached yet: the page's own, ...
    app_cache.warm_up(wait=True)
    assert sorted(counting.calls) == sorted(["mlp_moons_plane", "mlp_iris_plane", "mlp_digits_plane"])  # ... once
    if sys.platform == "linux":
        assert counting.priority["mlp_digits_plane"] == 0  # (computed in the page's thread)


def test_any_other_setting_is_computed_on_demand_and_not_kept(counting):
    cfg, *rest = app_cache.default_views()[2]
    from dataclasses import replace

    other = (replace(cfg, seed=1), *rest)
    assert app_cache.full_training(*other) == ("trained", *other)
    assert app_cache.full_training(*other) == ("trained", *other)  # (Streamlit's cache)
    assert counting.calls == ["mlp_digits_plane"] and other not in app_cache._warm


def test_off_with_OPTLAB_WARM_UP_0(counting, monkeypatch):
    monkeypatch.setenv(app_cache.WARM_UP, "0")
    assert app_cache.warm_up(wait=True) is None
    args = app_cache.default_views()[0]
    assert app_cache.full_training(*args) == ("trained", *args)
    assert counting.calls == ["mlp_moons_plane"] and not app_cache._warm


def test_the_app_starts_the_warm_up_once_its_first_page_is_served(counting, monkeypatch):
    started = []
    monkeypatch.setattr(app_cache, "warm_up", lambda wait=False: started.append(True))
    open_app()
    assert started

"""Any torch optimizer class in the app: picked from the modules the server allows (optlab.torch_choice), its
keyword arguments typed in as literals, named by the link, labelled "not verified by us", its state_dict shown
as named buffers, and every bad input a message on the page, never a traceback, never an import of a module
that is not on the list."""

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from half_step import source as half_step_source
from test_app import open_app, share_url

import optlab
from optlab import config as C
from optlab import torch_choice
from optlab.torch_choice import TorchChoiceError, parse_kwargs

torch = pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _fresh_cache():
    st.cache_data.clear()
    st.cache_resource.clear()
    C._run_torch.cache_clear()
    yield


CANARY = """
import pathlib, torch
pathlib.Path({flag!r}).write_text("imported")
""" + half_step_source("Halve")  # θ ← θ − lr·g/2 (tests/half_step.py)


@pytest.fixture
def canary(tmp_path, monkeypatch):
    """A module on sys.path that leaves a file behind when it is imported, with an optimizer class in it."""
    name = f"optlab_canary_{tmp_path.name.replace('-', '_')}"
    flag = tmp_path / "imported"
    (tmp_path / f"{name}.py").write_text(CANARY.format(flag=str(flag)))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name, flag
    sys.modules.pop(name, None)


# --- keyword arguments: literals only -------------------------------------------------------------------
def test_keyword_arguments_are_literals():
    assert parse_kwargs("") == {}
    assert parse_kwargs("lr=0.01, betas=(0.9, 0.99), foreach=False, name='x', eps=1e-8, d=None, m=[1, 2]") == {
        "lr": 0.01, "betas": (0.9, 0.99), "foreach": False, "name": "x", "eps": 1e-8, "d": None, "m": [1, 2]}
    assert parse_kwargs("lr=-1") == {"lr": -1}


@pytest.mark.parametrize("text, says", [
    ("lr=__import__('os').system('echo hi')", "only literal values"),
    ("lr=open('/etc/passwd').read()", "only literal values"),
    ("lr=(lambda: 1)()", "only literal values"),
    ("lr=x", "only literal values"),
    ("lr=2**1000000", "only literal values"),
    ("lr=f'{1}'", "only literal values"),
    ("0.01", "only keyword arguments"),
    ("**{'lr': 1}", "only keyword arguments"),
    ("lr=1, lr=2", "given twice"),
    ("params=[1]", "params is θ itself"),
    ("lr=0.01)", "is not keyword arguments"),
    ("lr=" + "(" * 300 + "1" + ")" * 300, "characters long"),
])
def test_anything_else_is_refused_with_a_reason(text, says):
    with pytest.raises(TorchChoiceError, match=says):
        parse_kwargs(text)


# --- which modules: the operator's setting ----------------------------------------------------------------
def test_by_default_torch_optim_and_pytorch_optimizer_when_installed(monkeypatch):
    monkeypatch.delenv(torch_choice.ENV, raising=False)
    installed = __import__("importlib").util.find_spec("pytorch_optimizer") is not None
    assert torch_choice.allowed_modules() == ("torch.optim", *(("pytorch_optimizer",) if installed else ()))
    names = torch_choice.class_names()
    assert "torch.optim.Adam" in names and "torch.optim.LBFGS" in names and "torch.optim.Optimizer" not in names


def test_the_setting_narrows_and_widens_the_list(monkeypatch, canary):
    name, flag = canary
    monkeypatch.setenv(torch_choice.ENV, "")
    with pytest.raises(TorchChoiceError, match="allows no torch optimizer classes"):
        torch_choice.resolve("torch.optim.Adam")
    monkeypatch.setenv(torch_choice.ENV, f"torch.optim, {name}")
    assert torch_choice.resolve(f"{name}.Halve").__name__ == "Halve" and flag.exists()
    assert f"{name}.Halve" in torch_choice.class_names()


NOT_ALLOWED = "not a module this server allows"


def open_with_secrets(secrets: dict, query: dict):
    """The app with these Streamlit secrets (what .streamlit/secrets.toml would hold) and this link."""
    from streamlit.testing.v1 import AppTest
    from test_app import APP

    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in secrets.items():
        at.secrets[key] = value
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture
def _secret_reset():
    yield
    torch_choice.set_secret(None)  # the app's last run handed its secrets over: not for the next test


def test_the_secrets_torch_modules_set_the_list_and_the_environment_variable_wins(monkeypatch, canary,
                                                                                  _secret_reset):
    name, flag = canary
    monkeypatch.delenv(torch_choice.ENV, raising=False)
    at = open_with_secrets({"torch_modules": ["torch.optim"]}, {"opt": ["adam"], "steps": "20",
                                                                "torch": f"{name}.Halve"})
    assert any(NOT_ALLOWED in w.value.replace("\\", "") for w in at.warning) and not flag.exists()
    at.toggle(key="torch:on").set_value(True).run()
    names = at.selectbox(key="torch").options
    assert "torch.optim.Adam" in names and not any(n.startswith("pytorch_optimizer") for n in names)
    assert any("secrets' torch_modules" in c.value for c in at.caption)
    at = open_with_secrets({"torch_modules": f"torch.optim, {name}"},
                           {"opt": ["adam"], "steps": "20", "torch": f"{name}.Halve", "torch.args": "lr=0.001"})
    assert not at.warning and not at.error and flag.exists()
    run = optlab.simulate("rosenbrock", torch_choice.resolve(f"{name}.Halve"), steps=20, lr=0.001)
    assert at.table[0].value.loc["Halve (" + name + ", not verified by us)", "final loss"] == f"{run.loss[-1]:.4g}"
    flag.unlink()
    sys.modules.pop(name, None)
    monkeypatch.setenv(torch_choice.ENV, "torch.optim")  # the environment variable wins over the secrets
    at = open_with_secrets({"torch_modules": [name]}, {"opt": ["adam"], "steps": "20", "torch": f"{name}.Halve"})
    assert any(NOT_ALLOWED in w.value.replace("\\", "") for w in at.warning) and not flag.exists()
    assert torch_choice.allowed_modules() == ("torch.optim",)


@pytest.mark.parametrize("value", [5, {"a": "torch.optim"}, ["torch.optim", 3]])
def test_a_secrets_torch_modules_of_another_type_is_a_message_and_allows_none(monkeypatch, value, _secret_reset):
    monkeypatch.delenv(torch_choice.ENV, raising=False)
    at = open_with_secrets({"torch_modules": value}, {"opt": ["adam"], "steps": "20", "torch": "torch.optim.Adam"})
    assert any("must be a list of module names" in e.value for e in at.error)
    assert any("allows no torch optimizer classes" in w.value for w in at.warning)
    assert len(at.table[0].value) == 1  # adam alone


@pytest.mark.parametrize("path, says", [("{name}.Halve", NOT_ALLOWED), ("torch.optim.{name}.Halve", NOT_ALLOWED),
                                        ("torch.optim.adam.Adam.{name}", NOT_ALLOWED),
                                        ("{name}", "is not a class name such as torch.optim.Adam")])
def test_a_module_not_on_the_list_is_never_imported_whatever_the_link_says(canary, monkeypatch, path, says):
    name, flag = canary
    monkeypatch.delenv(torch_choice.ENV, raising=False)
    path = path.format(name=name)
    state, problems = C.read_link({"opt": ["adam"], "torch": path})
    assert state.runs.torch_class is None and says in problems[0].replace("\\", "")
    at = open_app({"opt": ["adam"], "torch": path, "steps": "20"})
    assert any(says in w.value.replace("\\", "") for w in at.warning)
    assert not flag.exists() and name not in sys.modules


# --- the page ----------------------------------------------------------------------------------------------
def test_a_torch_class_runs_beside_the_declarations_labelled_not_verified_with_its_buffers(monkeypatch):
    monkeypatch.delenv(torch_choice.ENV, raising=False)
    query = {"landscape": "himmelblau", "opt": ["momentum"], "torch": "torch.optim.SGD",
             "torch.args": "lr=0.002, momentum=0.9", "steps": "40", "inspect": "torch.optim.SGD", "k": "7"}
    at = open_app(query)
    assert not at.error
    assert at.toggle(key="torch:on").value and at.selectbox(key="torch").value == "torch.optim.SGD"
    assert at.text_input(key="torch.args").value == "lr=0.002, momentum=0.9"
    link = share_url(at)
    assert "torch=torch.optim.SGD" in link and "torch.args=lr%3D0.002,+momentum%3D0.9" in link
    back, problems = C.read_link({k: v for k, v in query.items()})
    assert problems == [] and back.runs.torch_args == "lr=0.002, momentum=0.9"
    run = optlab.simulate("himmelblau", torch.optim.SGD, steps=40, lr=0.002, momentum=0.9)
    table = at.table[0].value
    assert "SGD (torch.optim, not verified by us)" in table.index
    assert table.loc["SGD (torch.optim, not verified by us)", "final loss"] == f"{run.loss[-1]:.4g}"
    inspector = at.table[1].value  # the inspector on the torch class, step 7: its state_dict, named
    np.testing.assert_array_equal(inspector.loc["state['momentum_buffer']"].to_numpy(dtype=float),
                                  run.state["momentum_buffer"][6])
    np.testing.assert_array_equal(inspector.loc["θ_k"].to_numpy(dtype=float), run.path[7])
    assert any("Not verified by us" in m.value for m in at.markdown)


def test_a_pytorch_optimizer_class_is_listed_and_runs_in_the_app_and_the_api(monkeypatch):
    # pytorch_optimizer (a dev requirement) is on the default list once installed; its Lion runs on the landscape
    # as optlab.simulate(optimizer=the class) and in the app, and takes the steps the class takes in torch
    po = pytest.importorskip("pytorch_optimizer")
    monkeypatch.delenv(torch_choice.ENV, raising=False)
    assert "pytorch_optimizer" in torch_choice.allowed_modules()
    assert {"pytorch_optimizer.Lion", "pytorch_optimizer.Yogi"} <= set(torch_choice.class_names())
    assert torch_choice.resolve("pytorch_optimizer.Lion") is po.Lion
    run = optlab.simulate("rosenbrock", po.Lion, start=(-1.5, 2.0), steps=60, lr=0.01, betas=(0.8, 0.95))
    land, p = optlab.get_landscape("rosenbrock"), torch.tensor([-1.5, 2.0], dtype=torch.float64, requires_grad=True)
    opt, path = po.Lion([p], lr=0.01, betas=(0.8, 0.95)), [p.detach().numpy().copy()]
    for _ in range(60):  # the class directly in torch, on the landscape's gradients
        p.grad = torch.from_numpy(land.grad(p.detach().numpy()))
        opt.step()
        path.append(p.detach().numpy().copy())
    np.testing.assert_array_equal(run.path, np.array(path))
    assert run.optimizer == f"{po.Lion.__module__}.Lion" and not run.verified  # where the class is defined
    # Lion's rule is sign(β1·m + (1 − β1)·g) steps of lr: optlab's own declaration (Chen et al. 2023), same steps
    native = optlab.simulate("rosenbrock", "lion", start=(-1.5, 2.0), steps=60, lr=0.01, beta1=0.8, beta2=0.95)
    np.testing.assert_allclose(run.path, native.path, rtol=0, atol=1e-14)
    np.testing.assert_allclose(run.state["exp_avg"], native.state["m"], rtol=1e-13, atol=1e-300)
    at = open_app({"landscape": "rosenbrock", "opt": ["lion"], "lion.lr": "0.01", "lion.beta1": "0.8",
                   "lion.beta2": "0.95", "steps": "60", "torch": "pytorch_optimizer.Lion",
                   "torch.args": "lr=0.01, betas=(0.8, 0.95)"})
    assert not at.error and at.selectbox(key="torch").value == "pytorch_optimizer.Lion"
    assert "pytorch_optimizer.Lion" in at.selectbox(key="torch").options
    table = at.table[0].value
    label = "Lion (pytorch_optimizer, not verified by us)"
    assert table.loc[label, "final loss"] == f"{run.loss[-1]:.4g}" == table.loc["Lion", "final loss"]


def test_the_switch_picks_a_class_and_the_typed_arguments_reach_the_run(monkeypatch):
    monkeypatch.delenv(torch_choice.ENV, raising=False)
    at = open_app({"opt": ["adam"], "steps": "30"})
    at.toggle(key="torch:on").set_value(True).run()
    at.selectbox(key="torch").set_value("torch.optim.Adagrad").run()
    at.text_input(key="torch.args").input("lr=0.3, lr_decay=0.01").run()
    assert not at.exception and not at.error
    assert "torch=torch.optim.Adagrad" in share_url(at)
    run = optlab.simulate("rosenbrock", torch.optim.Adagrad, steps=30, lr=0.3, lr_decay=0.01)
    shown = at.table[0].value.loc["Adagrad (torch.optim, not verified by us)", "final loss"]
    assert shown == f"{run.loss[-1]:.4g}"
    at.toggle(key="torch:on").set_value(False).run()
    assert "torch=" not in share_url(at) and len(at.table[0].value) == 1


@pytest.mark.parametrize("query, says, rows", [
    ({"torch": "torch.optim.Adamm"}, "has no 'Adamm'", 1),
    ({"torch": "torch.optim.lr_scheduler"}, "is not an optimizer", 1),
    ({"torch": "torch.optim.Optimizer"}, "is not an optimizer", 1),
    ({"torch": "torch.optim.Adam", "torch.args": "lr=__import__('os')"}, "only literal values", 2),  # args dropped
])
def test_a_bad_link_is_one_warning_naming_it(query, says, rows):
    at = open_app({"opt": ["adam"], "steps": "20", **query})
    (warning,) = [w.value for w in at.warning if "ignored" in w.value]
    assert says in warning.replace("\\", "")
    assert len(at.table[0].value) == rows  # the declarations still run (and the class, without the bad arguments)


@pytest.mark.parametrize("args, says", [
    ("lr=-1", "Invalid learning rate"),
    ("lrr=0.1", "unexpected keyword argument 'lrr'"),
    ("steps=5", "steps is the page's own setting"),
])
def test_arguments_the_class_refuses_are_a_message_not_a_traceback(args, says):
    at = open_app({"opt": ["adam"], "steps": "20", "torch": "torch.optim.Adam", "torch.args": args})
    (error,) = [e.value for e in at.error if "torch class" in e.value]
    assert says in error.replace("\\", "")
    assert len(at.table[0].value) == 1 and "torch.args=" in share_url(at)  # kept in the link, to fix


def test_an_exception_inside_step_is_a_message_not_a_traceback(monkeypatch, canary):
    name, _ = canary
    (Path(sys.path[0]) / f"{name}.py").write_text(
        CANARY.format(flag="/dev/null") + "\n\n" + textwrap.dedent('''
        class Explodes(torch.optim.Optimizer):
            def __init__(self, params, lr=0.1):
                super().__init__(params, dict(lr=lr))

            def step(self, closure=None):
                raise RuntimeError("boom at the first step")
        '''))
    monkeypatch.setenv(torch_choice.ENV, f"torch.optim,{name}")
    at = open_app({"opt": ["adam"], "steps": "20", "torch": f"{name}.Explodes"})
    (error,) = [e.value for e in at.error if "torch class" in e.value]
    assert "step raised RuntimeError at step 1: boom at the first step" in error.replace("\\", "")
    at = open_app({"opt": ["adam"], "steps": "20", "torch": "torch.optim.SparseAdam"})  # torch's own refusal
    (error,) = [e.value for e in at.error if "torch class" in e.value]
    assert "SparseAdam" in error and len(at.table[0].value) == 1


def test_torch_stays_optional_for_the_dashboard():
    # the default page in a fresh interpreter never imports torch; with torch hidden, the switch says so
    code = textwrap.dedent('''
        import sys
        sys.path.insert(0, "tests")
        from test_app import open_app
        at = open_app({"opt": ["adam"]})
        print("torch" in sys.modules)
        sys.modules["torch"] = None  # as if not installed
        import optlab.torch_choice as tc
        tc.torch_available = lambda: False
        at.toggle(key="torch:on").set_value(True).run()
        print(not at.exception, any("torch is not installed" in i.value for i in at.info))
        at = open_app({"opt": ["adam"], "torch": "torch.optim.Adam"})
        print(any("torch is not installed" in w.value for w in at.warning))
    ''')
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.stdout.split() == ["False", "True", "True", "True"], out.stderr[-2000:]


def test_a_class_that_never_stops_is_stopped_with_a_message(monkeypatch):
    endless = dict(max_iter=10**9, max_eval=10**9, tolerance_grad=-1.0, tolerance_change=-1.0)
    with pytest.raises(ValueError, match=r"torch.optim.LBFGS took longer than 0.5 s \(stopped in step 1 of 5\)"):
        optlab.simulate("rosenbrock", torch.optim.LBFGS, steps=5, time_limit=0.5, **endless)
    monkeypatch.setattr(C, "TORCH_TIME_LIMIT", 0.5)  # the page's limit (60 s), shortened for the test
    at = open_app({"opt": ["adam"], "steps": "5", "torch": "torch.optim.LBFGS",
                   "torch.args": ", ".join(f"{k}={v!r}" for k, v in endless.items())})
    (error,) = [e.value for e in at.error if "torch class" in e.value]
    assert "took longer than 0.5 s" in error.replace("\\", "")


def test_an_lbfgs_setting_that_could_keep_the_page_busy_for_minutes_is_refused_saying_why():
    at = open_app({"opt": ["adam", "lbfgs"], "steps": "5000", "lbfgs.max_iter": "100"})
    (error,) = [e.value for e in at.error if "L-BFGS is not run" in e.value]
    assert "5000 steps × max_iter 100 × history_size 100 = 50,000,000" in error and "at most 12,000,000" in error
    assert len(at.table[0].value) == 1  # Adam still runs
    assert C.refused(C.RunConfig(optimizers=("lbfgs",), steps=5000)) == {}  # the defaults at the longest run

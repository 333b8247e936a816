"""The installable package: what pip installs, and `optlab-lab`, the installed way to start the dashboard."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import optlab
from optlab import cli

ROOT = Path(__file__).resolve().parents[1]
tomllib = pytest.importorskip("tomllib")  # Python 3.11+
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def code_of(path: Path) -> str:
    """The module's statements without its docstring."""
    body = ast.parse(path.read_text(encoding="utf-8")).body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return ast.dump(ast.Module(body=body, type_ignores=[]))


def test_the_repos_app_py_and_the_packaged_script_are_the_same_page():
    # streamlit run app.py (from the repo) and optlab-lab (installed: the repo's app.py is not) run the same code
    assert code_of(ROOT / "app.py") == code_of(ROOT / "optlab" / "_app.py")
    assert cli.APP == ROOT / "optlab" / "_app.py" and cli.APP.is_file()


def test_optlab_lab_is_the_console_script():
    assert PYPROJECT["project"]["scripts"] == {"optlab-lab": "optlab.cli:main"}


def test_optlab_lab_passes_the_repos_streamlit_config_and_then_its_arguments(monkeypatch):
    # .streamlit/config.toml is read only by a server started in the repo's folder: optlab-lab passes each
    # of its settings on the command line, before the user's own options (the later one wins)
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    settings = {f"--{section}.{key}": value for section, keys in config.items() for key, value in keys.items()}
    passed = dict(zip(cli.OPTIONS[::2], cli.OPTIONS[1::2], strict=True))
    assert passed == {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in settings.items()}

    from streamlit.web import cli as streamlit_cli

    calls = []
    monkeypatch.setattr(streamlit_cli, "main", lambda args, prog_name: calls.append((args, prog_name)))
    cli.main(["--server.port", "8599", "--server.headless", "true"])
    assert calls == [(["run", str(cli.APP), *cli.OPTIONS, "--server.port", "8599", "--server.headless", "true"],
                      "optlab-lab")]
    monkeypatch.setattr(sys, "argv", ["optlab-lab", "--server.port", "1"])
    cli.main()
    assert calls[-1][0][-2:] == ["--server.port", "1"]


def test_the_package_declares_the_runtime_and_finds_both_packages():
    project = PYPROJECT["project"]
    names = {dep.split(">")[0].split("=")[0].strip() for dep in project["dependencies"]}
    assert names == {"streamlit", "numpy", "pandas", "plotly", "orjson", "sympy", "scikit-learn"}
    assert all(">=" in dep for dep in project["dependencies"])  # minimum versions, no pins
    include = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    assert include == ["optlab", "optlab.*", "landscapes", "landscapes.*"]
    # requirements.txt is this package (editable), so the README's pip install -r requirements.txt gets it
    lines = [line for line in (ROOT / "requirements.txt").read_text().splitlines() if not line.startswith("#")]
    assert [line for line in lines if line.strip()] == ["-e ."]


def test_the_public_api_is_the_same_names():
    for name in optlab.__all__:
        assert getattr(optlab, name) is not None
    assert optlab.get_landscape is __import__("landscapes").get_landscape
    assert sorted(optlab.__all__) == sorted(set(optlab.__all__))
    assert set(optlab.__all__) <= set(dir(optlab))
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        optlab.no_such_name  # noqa: B018
    assert optlab.simulation.MAX_STEPS == optlab.MAX_STEPS  # a submodule, loaded on first use

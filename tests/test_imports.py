"""Arrows one way: the imports among optlab's and landscapes' modules, read from their source.

The layers: records (optlab.params, optlab.landscape, optlab.models, optlab.optimizers.base, optlab.schedules)
<- declarations and registries (landscapes, optlab.optimizers) <- engine (optlab.simulation, sweeps, chunks, formula,
minima, config, export) <- figures (plots, progress_plots, sweep_plots) <- app (ui, dashboard). Checked here as:

1. no cycle among the modules' imports, counting those inside functions (a lazy import is still an arrow);
2. importing a module runs its parent packages' __init__ first: counting that, no cycle at import time
   that leaves a package (a package's __init__ importing its own modules is how a package is built; the
   declarations importing optlab's records must not run optlab's engine or registries);
3. what an import pulls in, in fresh interpreters: landscapes without pandas or Streamlit, optlab's whole
   public API without Streamlit, a run without pandas or sympy; and any module imported first works.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("optlab", "landscapes")


def module_files() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = module_files()


def is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def imports(name: str, packages: tuple[str, ...] = ()) -> list[tuple[str, bool]]:
    """(imported module, at module level?) for each import of optlab's or landscapes' modules in ``name``
    (or of ``packages``'s).

    ``from a import b`` imports the module a.b where there is one, else a; ``import a.b`` imports a.b.
    Module level: not inside a function (an import in a class body, an if or a try runs with the module)."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    package = name if is_package(name) else name.rpartition(".")[0]
    found = []

    def visit(node, top: bool):
        for child in ast.iter_child_nodes(node):
            inner = top and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((alias.name, top) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:  # relative: from . import x, from ..a import b
                    anchor = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                for alias in child.names:
                    sub = f"{base}.{alias.name}"
                    found.append((sub if sub in MODULES else base, top))
            visit(child, inner)

    visit(tree, True)
    return [(target, top) for target, top in found if target.split(".")[0] in (packages or PACKAGES)]


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def dfs(node):
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = dfs(nxt)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = dfs(node)
            if cycle:
                return cycle
    return None


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's components with more than one module, or with a module that imports itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_the_graph_sees_the_imports():
    # the reader itself: every kind of import statement the project uses resolves to a module
    assert ("optlab.landscape", True) in imports("landscapes.classic")
    assert ("landscapes", True) in imports("optlab.simulation")
    assert ("optlab.sweeps", True) in imports("optlab.config")  # from optlab import sweeps
    assert ("optlab.optimizers.worked", True) in imports("optlab.optimizers.adam")  # ... as W
    assert ("optlab.formula", False) in imports("optlab.link")  # inside a function
    assert ("optlab.simulation", False) in imports("optlab")  # the façade's names, loaded on first use
    for name in MODULES:
        for target, _ in imports(name):
            assert target in MODULES, (name, target)
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles_even_through_imports_inside_functions():
    graph = {name: {target for target, _ in imports(name) if target != name} for name in MODULES}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_importing_a_module_never_comes_back_to_it_from_outside_its_package():
    graph = {}
    for name in MODULES:
        edges = {target for target, top in imports(name) if top}
        parts = name.split(".")
        edges |= {".".join(parts[:i]) for i in range(1, len(parts))}  # its parents' __init__ run first
        graph[name] = edges
    for component in strongly_connected(graph):
        shared = min(component, key=len)
        assert is_package(shared) and all(m == shared or m.startswith(shared + ".") for m in component), (
            "modules that import each other at import time across packages: " + ", ".join(sorted(component)))


def test_only_the_app_imports_streamlit():
    # the README: plain Python, no Streamlit except the app layer (dashboard, ui, app_*, pages/, the chart element)
    # and the command that starts it
    users = {name for name in MODULES if imports(name, ("streamlit",))}
    assert users == {"optlab.ui", "optlab.dashboard", "optlab.cli", "optlab.app_state", "optlab.app_cache",
                     "optlab.pages.compare", "optlab.pages.explore", "optlab.pages.header", "optlab.pages.networks",
                     "optlab.chart"}, users


def fresh(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_landscapes_need_neither_pandas_nor_streamlit():
    out = fresh("import landscapes, sys; assert 'pandas' not in sys.modules and 'streamlit' not in sys.modules, "
                "sorted(m for m in sys.modules if m.split('.')[0] in ('pandas', 'streamlit'))[:5]; "
                "print(len(landscapes.landscape_names()))")
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) == len(__import__("landscapes").LANDSCAPES)


def test_optlab_and_its_whole_api_never_import_streamlit_and_a_run_needs_no_pandas():
    code = """
import sys
import optlab
assert "streamlit" not in sys.modules and "pandas" not in sys.modules
run = optlab.simulate("rosenbrock", "adam", steps=10)
assert "pandas" not in sys.modules and "sympy" not in sys.modules, "a run imported pandas or sympy"
assert run.to_frame().shape[0] == 11  # the table imports pandas
for name in optlab.__all__:
    getattr(optlab, name)
print(sorted(m for m in sys.modules if m.split(".")[0] == "streamlit"))
"""
    out = fresh(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_every_module_can_be_imported_first():
    # each in an interpreter where no module of the project has been imported yet (one process: the
    # project's modules are removed from sys.modules between imports; numpy, streamlit, ... stay loaded)
    names = [n for n in MODULES if n != "optlab._app"]  # a script: it runs the page when imported
    code = f"""
import importlib, json, sys
failed = {{}}
for name in {names!r}:
    for loaded in [m for m in sys.modules if m.split(".")[0] in ("optlab", "landscapes")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as e:
        failed[name] = repr(e)
print(json.dumps(failed))
"""
    out = fresh(code)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {}


@pytest.mark.parametrize("name", ["optlab.landscape", "optlab.params", "optlab.models", "optlab.optimizers.base",
                                  "optlab.schedules"])
def test_records_import_no_registry_and_no_engine(name):
    below = {target for target, _ in imports(name)}
    assert below <= {"optlab.landscape", "optlab.params"}, below


NETWORK_RECORDS = sorted(name for name in MODULES if name == "optlab.networks" or name.startswith("optlab.networks."))
RECORDS = {"optlab.landscape", "optlab.params", "optlab.models", "optlab.schedules"}


@pytest.mark.parametrize("name", NETWORK_RECORDS)
def test_the_networks_records_import_no_registry_and_no_engine(name):
    # what a network plane's declaration needs (data, the MLP and its backward pass, the plane's f and ∇f, the
    # fixed descents that define it): records, so landscapes/ can import them; full training is optlab.training
    below = {target for target, _ in imports(name)}
    assert below <= RECORDS | set(NETWORK_RECORDS), below - RECORDS - set(NETWORK_RECORDS)


def test_the_declarations_import_only_records():
    for name in (n for n in MODULES if n.split(".")[0] == "landscapes" and n != "landscapes"):
        below = {target for target, _ in imports(name)}
        assert below <= RECORDS | set(NETWORK_RECORDS) | {n for n in MODULES if n.startswith("landscapes.")}, \
            (name, below)

"""The README's generated tables match the declarations, and its commands match .ci/run."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _script(name: str):
    """A script of scripts/ as a module, loaded from its file (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen_docs = _script("gen_docs")


def test_readme_tables_are_generated_from_the_declarations():
    text = (ROOT / "README.md").read_text()
    assert gen_docs.render(text) == text, "run: python scripts/gen_docs.py"
    for block, names in (("optimizers", gen_docs.optlab.optimizer_names()),
                         ("landscapes", gen_docs.optlab.landscape_names())):
        body = text.split(f"<!-- BEGIN {block} -->")[1].split(f"<!-- END {block} -->")[0]
        for name in names:
            assert f"| `{name}`" in body, (block, name)


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash scripts/test.sh" in readme and "bash scripts/test.sh" in ci


def test_the_readme_python_example_runs():
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Python API")[1].split("```python\n")[1].split("```")[0]
    namespace: dict = {}
    exec(compile(block, "README.md (Python API)", "exec"), namespace)  # noqa: S102 - our own README
    assert namespace["run"].path.shape == (501, 2) and namespace["batch"].path.shape == (301, 3, 2)
    assert namespace["sw"].final_loss.shape == (100, 100)
    assert abs(sum(namespace["bm"].shares().values()) - 1) < 1e-12

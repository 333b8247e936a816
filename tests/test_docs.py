"""The README's generated tables match the declarations, and its commands match .ci/run."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import gen_docs  # noqa: E402


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

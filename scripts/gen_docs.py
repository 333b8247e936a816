"""Regenerate the README's tables from the declarations: python scripts/gen_docs.py

The README holds generated blocks between `<!-- BEGIN name -->` and `<!-- END name -->`;
tests/test_docs.py fails when they are out of date.
"""

from __future__ import annotations

import re
from pathlib import Path

import optlab

ROOT = Path(__file__).resolve().parents[1]


def _value(v) -> str:
    if v is None or isinstance(v, str):  # a choice
        return repr(v)
    return str(v).lower() if isinstance(v, bool) else f"{v:g}"


def optimizers_table() -> str:
    rows = ["| name | what it does | hyperparameters (URL: `<name>.<hp>`), torch defaults | reference |",
            "|---|---|---|---|"]
    for name in optlab.optimizer_names():
        o = optlab.get_optimizer(name)
        hps = ", ".join(f"`{p.name}`={_value(p.default)}" for p in o.hparams)
        rows.append(f"| `{name}` | {o.summary} | {hps} | {o.reference} |")
    return "\n".join(rows)


def landscapes_table() -> str:
    rows = ["| name | f(x, y) | global minimum | what it teaches |", "|---|---|---|---|"]
    for name in optlab.landscape_names():
        land = optlab.get_landscape(name)
        if land.f_min is None:
            minimum = "none (unbounded below)"
        else:
            points = ", ".join(f"({x:.4g}, {y:.4g})" for x, y in land.minima)
            minimum = f"{land.f_min:.6g} at {points}"
        params = "".join(f"; `{name}.{p.name}`={_value(p.default)}" for p in land.params)
        rows.append(f"| `{name}`{params} | ${_one_line(land.latex)}$ | {minimum} | {land.lesson} |")
    return "\n".join(rows)


BLOCKS = {"optimizers": optimizers_table, "landscapes": landscapes_table}


def render(text: str) -> str:
    for name, make in BLOCKS.items():
        pattern = re.compile(rf"(<!-- BEGIN {name} -->)\n.*?(<!-- END {name} -->)", re.S)
        text = pattern.sub(lambda m, make=make: f"{m.group(1)}\n{make()}\n{m.group(2)}", text)
    return text


def _one_line(latex: str) -> str:
    """A formula the page shows on several lines (\\begin{gathered} … \\\\ …) as one line for a table cell."""
    for environment in (r"\begin{gathered}", r"\end{gathered}"):
        latex = latex.replace(environment, "")
    return latex.replace(r"\\", r",\ ").replace(", ,", ",").strip()


if __name__ == "__main__":
    readme = ROOT / "README.md"
    readme.write_text(render(readme.read_text()))
    print("README.md tables regenerated")


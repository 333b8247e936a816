import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a fresh clone without installing the package


def pytest_sessionstart(session):
    """Start the formula worker's server up front, as the app does when it starts: the tests that time a
    formula's rejection measure the formula, not the one-off second of loading sympy in the server."""
    from optlab.formula import compile_formula, start_worker

    start_worker()
    compile_formula("x + y")  # waits until the server answers

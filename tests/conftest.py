# optlab and landscapes are imported as installed (pip install -e ., which scripts/test.sh does)


def pytest_sessionstart(session):
    """Start the formula worker's server up front, as the app does when it starts: the tests that time a
    formula's rejection measure the formula, not the one-off second of loading sympy in the server."""
    from optlab.formula import compile_formula, start_worker

    start_worker()
    compile_formula("x + y")  # waits until the server answers

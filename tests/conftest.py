# optlab and landscapes are imported as installed (pip install -e ., which scripts/test.sh does)
import os

from hypothesis import settings

# CI (.ci/run sets OPTLAB_REQUIRE_BROWSER): hypothesis draws the same examples on every run, so that a red CI is
# the change's and not a rare example found by chance; a developer's run draws new ones each time.
settings.register_profile("ci", derandomize=True)
if os.environ.get("OPTLAB_REQUIRE_BROWSER"):
    settings.load_profile("ci")

# The app's background training of the networks page's default views (optlab.app_cache.warm_up) is off in the
# tests and the servers they start (seconds of CPU beside tests that time things); tests/test_warm_up.py turns
# it on.
os.environ.setdefault("OPTLAB_WARM_UP", "0")


def pytest_sessionstart(session):
    """Start the formula worker's server up front, as the app does when it starts: the tests that time a
    formula's rejection measure the formula, not the one-off second of loading sympy in the server."""
    from optlab.formula import compile_formula, start_worker

    start_worker()
    compile_formula("x + y")  # waits until the server answers

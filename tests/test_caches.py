"""The page's caches are bounded by bytes as well as by entries: one entry can be 60 kB or 6 MB."""

import numpy as np
import streamlit as st

from optlab import app_cache as ui  # the page's caches
from optlab import config as C


def test_entries_past_the_byte_budget_are_evicted_least_recently_used_first():
    calls = []

    @st.cache_data(max_entries=100, show_spinner=False)
    def square(key: int) -> np.ndarray:
        calls.append(key)
        return np.full(1000, key, dtype=np.float64)  # 8 kB

    budget = ui._Budget(20_000)  # room for two
    sizes = lambda a: a.nbytes  # noqa: E731
    for key in (1, 2, 1, 3):  # 1 is used again before 3 comes: 2 is the least recently used
        ui._cached(square, budget, sizes, key)
    assert calls == [1, 2, 3] and list(budget.sizes) == [(1,), (3,)]
    ui._cached(square, budget, sizes, 2)  # evicted, so computed again
    assert calls == [1, 2, 3, 2]
    ui._cached(square, budget, sizes, 3)  # still cached
    assert calls == [1, 2, 3, 2]
    square.clear()


def test_the_size_of_runs_is_what_their_arrays_hold():
    cfg, _ = C.from_query({"opt": ["adam", "sgd"], "steps": "300"})
    runs = C.run_all(cfg)
    held = sum(a.nbytes for r in runs.values() for a in (r.path, r.loss, r.lr, r.grad, r.grad_used,
                                                            *r.state.values()) if a is not None)
    assert ui._runs_bytes(runs) == held > 300 * 2 * 8
    assert ui._figures_bytes(runs) > ui._figures_bytes({})

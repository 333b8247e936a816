"""Many runs of one optimizer in chunks: bounded memory, progress as each chunk finishes, optionally in one
worker process (the app's choice; see :func:`run_in_a_worker_process`).

Each chunk is one batched :func:`optlab.simulate`, reduced at once to small per-run arrays by the caller's
``reduce(run, path)``; the chunks' arrays are concatenated. The views in :mod:`optlab.sweeps` are built on
:func:`in_chunks`.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import threading

import numpy as np

from optlab.simulation import simulate

MAX_RUN_STEPS = 30_000_000  # runs × steps of one view: a second or two here (77 × 77 × 5000 steps: 1.9 s)
CHUNK = 16384  # at most this many runs per simulate() call ...
CHUNK_RUN_STEPS = 4_000_000  # ... and this many run-steps: path and loss of a chunk stay near 100 MB


def check_budget(runs: int, steps: int, cost: float = 1.0) -> None:
    """``cost``: the optimizer's (its declaration's ``cost``: a run-step's price relative to a batched one)."""
    if runs * steps * cost > MAX_RUN_STEPS:
        weighed = f" (each counting {cost:,g}: the optimizer runs one run at a time)" if cost != 1 else ""
        raise ValueError(f"{runs:,} runs × {steps:,} steps{weighed} is too many; allowed: at most "
                         f"{MAX_RUN_STEPS:,} run-steps (fewer cells or fewer steps)")


def _chunk(land, optimizer, start, steps, reduce, args) -> dict:
    run = simulate(land, optimizer, start=start, steps=steps, record_state=False, **args)
    return reduce(run, run.path)


_EXECUTOR: concurrent.futures.Executor | None = None


def run_in_a_worker_process(enabled: bool = True) -> None:
    """Compute the chunks of every sweep, basin map and seed band of this process in one worker process
    (the app turns this on). In the server itself, a long view holds Python's lock in the many small NumPy
    calls of its loop, so another session's small change took 2.5 times as long beside it; in a worker
    process, it does not. Off by default: a notebook computes in its own process."""
    global _EXECUTOR
    if enabled and _EXECUTOR is None:
        import multiprocessing

        # spawn: a fresh interpreter that holds none of the server's sockets, locks or threads
        _EXECUTOR = concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        atexit.register(run_in_a_worker_process, False)  # shut down before the interpreter tears modules down
    elif not enabled and _EXECUTOR is not None:
        _EXECUTOR.shutdown(cancel_futures=True)
        _EXECUTOR = None


_SPAWN_LOCK = threading.Lock()


def _submit(executor, *args):
    """executor.submit(*args), the worker process (started by the first submit) not told to run the parent's
    __main__ script first. spawn has a new worker import that script as __mp_main__: app.py guards its page, but
    the script Streamlit runs as __main__ can be any file (AppTest's generated one called an undefined
    ``__args`` there, and the worker died: BrokenProcessPool). What the worker computes is all in optlab's
    modules, so it needs nothing of __main__."""
    import multiprocessing.spawn as spawn

    with _SPAWN_LOCK:
        prepare = spawn.get_preparation_data

        def without_main(name):
            data = prepare(name)
            data.pop("init_main_from_path", None)
            data.pop("init_main_from_name", None)
            return data

        spawn.get_preparation_data = without_main
        try:
            return executor.submit(*args)
        finally:
            spawn.get_preparation_data = prepare


def in_chunks(land, optimizer, B, steps, progress, reduce, start=None, **kwargs) -> dict:
    """simulate() B runs in chunks of CHUNK, reduce each chunk to per-run arrays, concatenate them.

    Per-run arguments (arrays with B entries) are sliced, the others shared; ``start``
    always goes in with shape (b, 2), so that even a chunk of one run is a batch.
    """
    executor = _EXECUTOR
    start = np.asarray(land.start if start is None else start, dtype=float)
    start = np.broadcast_to(start.reshape(-1, 2), (B, 2))
    parts: list[dict] = []
    size = max(1, min(CHUNK, CHUNK_RUN_STEPS // (steps + 1)))
    bounds = np.linspace(0, B, -(-B // size) + 1).astype(int).tolist()  # equal chunks of at most `size` runs
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        args = {k: v[lo:hi] if isinstance(v, np.ndarray) and v.ndim == 1 and len(v) == B else v
                for k, v in kwargs.items()}
        if executor is None:
            parts.append(_chunk(land, optimizer, start[lo:hi], steps, reduce, args))
        else:
            parts.append(_submit(executor, _chunk, land, optimizer, start[lo:hi], steps, reduce, args))
        if progress is not None and executor is None:
            progress(hi / B)
    if executor is not None:  # submitted at once, collected in order: progress as each chunk comes back
        futures, parts = parts, []
        for future, hi in zip(futures, bounds[1:], strict=True):
            parts.append(future.result())
            if progress is not None:
                progress(hi / B)
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


"""The app's computations, cached across sessions and bounded by bytes, keyed by the typed records.

Runs are keyed by their RunConfig (hashable: equal configs, equal runs), figures by the RunConfig
and the view, the explore views by the RunConfig and the view's own settings (what else a view
does not use is left out of its key, e.g. a basin map's start).
"""

from __future__ import annotations

import collections
import contextlib
import functools
import logging
import os
import sys
import threading
import time

import numpy as np
import streamlit as st

from optlab import chunks, plots, progress_plots, sweep_plots
from optlab import config as C
from optlab.state import Explore, RunConfig

# The explore views' chunks run in one worker process, not in the server: a long basin map held Python's lock
# in the many small NumPy calls of its loop, and another session's small change waited for it (the worker
# starts with the first chunk; chunks.run_in_a_worker_process).
chunks.run_in_a_worker_process()


class _Budget:
    """The bytes a cached function's entries hold, least recently used first, and the entries to evict once
    they pass a budget: Streamlit's caches count entries only, and one entry here can be 60 kB or 6 MB."""

    def __init__(self, limit: int):
        self.limit = limit
        self.sizes: collections.OrderedDict[tuple, int] = collections.OrderedDict()
        self.lock = threading.Lock()

    def note(self, key: tuple, size) -> list[tuple]:
        """Record a use of key (size() is called for a new one); return the keys to evict, oldest first."""
        with self.lock:
            if key in self.sizes:
                self.sizes.move_to_end(key)
                return []
        n = int(size())
        with self.lock:
            self.sizes[key] = n
            evict = []
            while sum(self.sizes.values()) > self.limit and len(self.sizes) > 1:
                evict.append(self.sizes.popitem(last=False)[0])
            return evict


def _cached(fn, budget: _Budget, size, *args):
    """fn(*args) from its Streamlit cache, within budget: entries past it are cleared, oldest first."""
    value = fn(*args)
    for old in budget.note(args, lambda: size(value)):
        fn.clear(*old)
    return value


def _runs_bytes(runs: dict) -> int:
    arrays = [a for r in runs.values() for a in (r.path, r.loss, r.lr, r.grad, r.grad_used, *r.state.values())]
    return sum(a.nbytes for a in arrays if isinstance(a, np.ndarray))


def _figures_bytes(runs: dict) -> int:
    # measured with tracemalloc: ~2 MB of grids, contours and surface, and ~160 B per run-step of paths, markers
    # and animation frames (5 optimizers x 5000 steps: 5.9 MB)
    return 2_000_000 + 160 * sum(r.steps * r.size for r in runs.values())


RUNS_BUDGET = _Budget(64 << 20)  # bytes of runs kept for all sessions together
FIGURES_BUDGET = _Budget(128 << 20)  # bytes of figures


def runs_for(cfg: RunConfig) -> dict:
    return _cached(_runs, RUNS_BUDGET, _runs_bytes, cfg)


def figures_for(cfg: RunConfig, view: str) -> dict:
    return _cached(_figures, FIGURES_BUDGET, lambda _: _figures_bytes(runs_for(cfg)), cfg, view)


@st.cache_data(max_entries=128, show_spinner=False)
def _runs(cfg: RunConfig) -> dict:
    return C.run_all(cfg)


# cache_resource, not cache_data: a figure must be the same object on every rerun. A chart's
# element id is hashed from its spec, and cache_data hands out unpickled copies whose JSON
# differs from the figure first built, so the first click on the contour was lost; unpickling
# also re-validates the animation frames (slow). Figures are never mutated after building.
@st.cache_resource(max_entries=64, show_spinner=False)
def _figures(cfg: RunConfig, view: str) -> dict:
    runs = _runs(cfg)
    land, start = cfg.land, cfg.start_point
    main = (plots.multiples_figure(land, runs, start) if view == "multiples"
            else plots.contour_spec(land, runs, start))
    return {"main": main, "surface": plots.surface_spec(land, runs),
            "progress": progress_plots.progress_spec(land, runs)}


# --- the explore views ---------------------------------------------------------------------------------
@contextlib.contextmanager
def _progress_bar(delay: float = 0.5):
    """A progress callback for a computation inside a cached function: a bar appears once the computation
    has taken ``delay`` seconds, and is removed at the end. Created inside the cached function (not
    passed in), so that a cache hit replays "create, fill, remove", which shows nothing."""
    started, bar = time.perf_counter(), None

    def report(fraction: float) -> None:
        nonlocal bar
        if bar is None and time.perf_counter() - started < delay:
            return
        bar = bar or st.progress(0.0)
        bar.progress(min(max(fraction, 0.0), 1.0), text=f"{fraction:.0%} of the runs done")

    try:
        yield report
    finally:
        if bar is not None:
            bar.empty()


def sweep_key(explore: Explore) -> Explore:
    """The part of the explore settings a sensitivity sweep uses (its axes and ranges)."""
    return Explore(sweep_opt=explore.sweep_opt, sweep_x=explore.sweep_x, sweep_y=explore.sweep_y,
                   sweep_range=explore.sweep_range)


@st.cache_data(max_entries=16, show_spinner=False)
def sensitivity(cfg: RunConfig, axes: Explore, n: int):
    with _progress_bar() as progress:
        return C.run_sensitivity(cfg, n, progress, explore=axes)


@st.cache_resource(max_entries=16, show_spinner=False)
def sensitivity_figure(cfg: RunConfig, axes: Explore, n: int, metric: str, current):
    return sweep_plots.sensitivity_figure(sensitivity(cfg, axes, n), metric, current)


@st.cache_data(max_entries=8, show_spinner=False)
def basins(cfg: RunConfig, names: tuple[str, ...], n: int):
    with _progress_bar() as progress:
        return C.run_basins(cfg, n, progress, names=names)


@st.cache_resource(max_entries=16, show_spinner=False)
def basins_figure(cfg: RunConfig, names: tuple[str, ...], n: int):
    return sweep_plots.basins_figure(basins(cfg, names, n))


@st.cache_data(max_entries=8, show_spinner=False)
def full_training(cfg: RunConfig, steps: int, grid: int, muon_lr: float | None = None, plane: str = "pca"):
    """The networks page's training (optlab.full_training) of cfg's network plane, its optimizers and settings
    (and Muon with ``muon_lr``, unless None), on the shared ``plane`` (pca or ends); a default view is the one
    the server computed when it started (:func:`warm_up`), waited for if it is being computed."""
    return _default_view((cfg, steps, grid, muon_lr, plane))


def _train_all(cfg: RunConfig, steps: int, grid: int, muon_lr: float | None, plane: str):
    from optlab import full_training as T
    from optlab import muon
    from optlab.networks.landscape import network_of

    hparams = {name: cfg.hp(name) for name in cfg.optimizers}
    if muon_lr is not None:
        hparams[muon.NAME] = {"lr": muon_lr}
    return T.train_all(network_of(cfg.land), hparams, steps=steps,
                       batch_size=cfg.batch or None, seed=cfg.seed, schedule=cfg.schedule,
                       schedule_params=dict(cfg.schedule_params), grid=grid, plane=plane)


# --- the networks page's default views, computed in the background when the server starts ------------------
# A network's full training takes seconds (digits' default view: ~3 s of CPU, the comparison page's first view
# ~0.35 s), so the server computes each network plane's default view (the link ``train=true&landscape=<name>``:
# what the networks page shows when a network is picked in the sidebar) once, in a thread of its own, after it
# has served its first page and been quiet for QUIET seconds, with what its header shows of the plane (the
# estimated minimum and the test scores: the landscape's lazy fields, kept by the process); the networks page
# then answers those views at once. Any other setting (another seed, optimizer, lr, ...) is computed on demand
# as before. OPTLAB_WARM_UP=0 turns it off. A default view is computed once: by the warm-up, or by the page that
# asks for it first (the warm-up then skips it); whoever asks while it is being computed waits for it.
WARM_UP = "OPTLAB_WARM_UP"
_warm: dict[tuple, object] = {}  # full_training's arguments (cfg, steps, grid, muon_lr, plane) -> FullTraining
_claims: dict[tuple, threading.Event] = {}  # the default views being computed or done: set when done
_warm_lock = threading.Lock()
_warm_thread: threading.Thread | None = None
QUIET = 10.0  # seconds without a script run before each view is warmed. The first page's browser draws its charts
# for seconds after its script has ended, and a niced thread did not stay out of its way (autogroup scheduling: a
# browser started from elsewhere is another group, whose share a nice value does not touch): measured
# (bench/bench_networks.py --part start, 3 fresh servers each), the comparison page's first view took 1.21 times
# as long with a 3 s wait, 1.01 times with 10 s. A user's reruns also keep the server's Python to themselves.
_last_run = 0.0  # time.monotonic() at the end of the last script run (warm_up notes it)


def _enabled() -> bool:
    return os.environ.get(WARM_UP, "1") != "0"


@functools.cache
def default_views() -> tuple[tuple, ...]:
    """full_training's arguments for each network plane's default view on the networks page, as the page reads
    them from the link (optlab.link.read_link: the sidebar's and the page's widgets hold the same values)."""
    from landscapes.networks import NETWORKS
    from optlab import full_training as T
    from optlab.link import read_link

    views = []
    for land in NETWORKS:
        state, _ = read_link({"train": "true", "landscape": land.name})
        cfg, view = state.runs, state.view
        views.append((cfg, min(cfg.steps, T.MAX_STEPS), view.train_grid,
                      view.train_muon_lr if view.train_muon else None, view.train_plane))
    return tuple(views)


def _default_view(args: tuple):
    """full_training's result for ``args``: a default view computed once (see above), any other computed now."""
    if not _enabled() or args not in default_views():
        return _train_all(*args)
    with _warm_lock:
        done = _claims.get(args)
        if done is None:
            done = _claims[args] = threading.Event()
            mine = True
        else:
            mine = False
    if not mine:
        done.wait()
        if args in _warm:
            return _warm[args]
        return _train_all(*args)  # (it failed there: here it fails with the page's message)
    try:
        _warm[args] = _train_all(*args)
        return _warm[args]
    finally:
        done.set()


def warm_up(wait: bool = False) -> threading.Thread | None:
    """Compute the networks page's default views (:func:`default_views`) in a background thread, once per
    process (the dashboard calls this at the end of every run; only the first starts it); ``wait``: until it is
    done. Each view waits until no script has run for QUIET seconds, and the thread runs at the lowest CPU
    priority (Linux: a thread's own nice value), so that the pages users open meanwhile keep the CPU (as far as
    the scheduler lets a nice value reach: QUIET)."""
    global _warm_thread, _last_run
    if not _enabled():
        return None
    with _warm_lock:
        _last_run = time.monotonic()
        if _warm_thread is None:
            _warm_thread = threading.Thread(target=_warm_defaults, name="optlab-warm-up", daemon=True)
            _warm_thread.start()
        thread = _warm_thread
    if wait:
        thread.join()
    return thread


def _quiet() -> None:
    """Until no script has ended for QUIET seconds (warm_up, called at the end of every run, notes the time)."""
    while (left := QUIET - (time.monotonic() - _last_run)) > 0:
        time.sleep(left)


def _warm_defaults() -> None:
    from optlab.networks.landscape import network_of

    if sys.platform == "linux":  # (elsewhere a thread's id is no process's: leave it)
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    for args in default_views():
        _quiet()
        with _warm_lock:
            if args in _claims:  # a page asked for it first
                continue
            done = _claims[args] = threading.Event()
        try:
            network_of(args[0].land).summary()  # what the page's header shows: the plane's minimum, the scores
            _warm[args] = _train_all(*args)
        except Exception:  # (a default view that fails here fails on the page too, with its message there)
            logging.getLogger(__name__).exception("warming up the networks page's view of %s failed", args[0])
        finally:
            done.set()


def forget_warm_up() -> None:
    """Forget the warmed views and let :func:`warm_up` start again (benchmarks, tests)."""
    global _warm_thread
    with _warm_lock:
        thread = _warm_thread
    if thread is not None:
        thread.join()
    with _warm_lock:
        _warm_thread = None
        _warm.clear()
        _claims.clear()


@st.cache_data(max_entries=4, show_spinner=False)
def training_bands(cfg: RunConfig, steps: int, seeds: int, muon_lr: float | None = None):
    """The networks page's seed bands (optlab.full_training.seed_bands) of cfg's optimizers (and Muon's)."""
    from optlab import full_training as T
    from optlab import muon
    from optlab.networks.landscape import network_of

    hparams = {name: cfg.hp(name) for name in cfg.optimizers}
    if muon_lr is not None:
        hparams[muon.NAME] = {"lr": muon_lr}
    return T.seed_bands(network_of(cfg.land), hparams, steps=steps, batch_size=cfg.batch, seed=cfg.seed, seeds=seeds,
                        schedule=cfg.schedule, schedule_params=dict(cfg.schedule_params))


@st.cache_resource(max_entries=8, show_spinner=False)
def full_training_figures(cfg: RunConfig, steps: int, grid: int, muon_lr: float | None = None,
                          seeds: int = 1, plane: str = "pca") -> dict:
    from optlab import training_plots as P

    ft = full_training(cfg, steps, grid, muon_lr, plane)
    bands = training_bands(cfg, steps, seeds, muon_lr) if seeds > 1 else None
    return {"curves": P.curves_spec(ft, bands), "plane": P.plane_spec(ft), "surface": P.surface_spec(ft),
            "honesty": P.honesty_spec(ft), "layers": P.layers_spec(ft)}


@st.cache_data(max_entries=4, show_spinner=False)  # every seed's loss per step: the largest entries
def seed_bands(cfg: RunConfig, n: int):
    with _progress_bar() as progress:
        return C.run_seed_bands(cfg, n, progress)

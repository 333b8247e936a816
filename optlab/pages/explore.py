"""Many runs at once (optlab.sweeps): sensitivity to hyperparameters, basins of attraction, seed bands.

Each view uses the comparison's landscape, settings and steps (the sidebar); its own settings
travel in the link (``explore``, ``sweep.*``, ``basins.*``, ``seeds.*``). The page's body is a
fragment: a view's own widgets rerun only the view.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import streamlit as st

from optlab import app_cache, chunks, sweep_axes
from optlab import app_state as A
from optlab import config as C
from optlab import schema as S
from optlab.chart import plotly_chart
from optlab.optimizers import get_optimizer
from optlab.pages.compare import clicked, refused_banner
from optlab.pages.header import header, share
from optlab.state import PageState, RunConfig
from optlab.ui import field_widget

TITLES = {"sensitivity": "Sensitivity to hyperparameters", "basins": "Basins of attraction", "seeds": "Seed bands"}
RANGES = ("sweep.xmin", "sweep.xmax", "sweep.ymin", "sweep.ymax")


def page(cfg: RunConfig, error: str | None) -> None:
    slot = header(cfg, notice=False)
    rejected = refused_banner(cfg)
    shown = replace(cfg, optimizers=tuple(n for n in cfg.optimizers if n not in rejected))
    if not shown.optimizers:
        share(slot, PageState(cfg, A.view_state(cfg, st.session_state.get("explore", S.EXPLORE_VIEWS[0]))),
              error=error)
        if not cfg.optimizers:
            st.info("Pick at least one optimizer in the sidebar.")
        return
    views(slot, cfg, shown, error)


@st.fragment
def views(slot, cfg: RunConfig, shown: RunConfig, error: str | None) -> None:
    """The view picker and the open view (on the optimizers the page runs); publishes the link."""
    st.subheader("Explore: many runs at once")
    A.ensure("explore", S.EXPLORE_VIEWS[0])
    view = st.radio("view", S.EXPLORE_VIEWS, key="explore", horizontal=True, format_func=TITLES.get,
                    label_visibility="collapsed",
                    help="Sensitivity: one optimizer over a grid of two hyperparameters. Basins: where each start "
                         "point of the domain ends up. Seed bands: the spread of noisy runs over many seeds.")
    try:
        {"sensitivity": sensitivity_view, "basins": basins_view, "seeds": seeds_view}[view](shown)
    except ValueError as err:  # a setting simulate() refuses: say so, keep everything the user set
        st.error(f"This view cannot run with these settings: {err}", icon=":material/error:")
    share(slot, PageState(cfg, A.view_state(cfg, view)), error=error)


def _csv_button(label: str, frame, file_name: str) -> None:
    """A download whose CSV is written only when clicked (a basin map is tens of thousands of rows)."""
    st.download_button(label, lambda: frame().to_csv(index=False), file_name, "text/csv", on_click="ignore")


def _capped(n: int, names, steps: int, what: str, square: bool = True) -> int:
    """``names``: the optimizers each cell runs, weighed by their declarations' ``cost``."""
    slow = [get_optimizer(o).title for o in names if get_optimizer(o).cost != 1]
    m = C.capped(n, sum(get_optimizer(o).cost for o in names), steps, square)
    if m < n:
        why = f" ({', '.join(slow)} runs one run at a time, several evaluations a step)" if slow else ""
        st.warning(f"{what} reduced from {n} to {m} so that runs × steps stays within "
                   f"{chunks.MAX_RUN_STEPS:,} (a second or two of computing){why}; fewer steps allow more.",
                   icon=":material/speed:")
    return max(m, 2)


# --- sensitivity --------------------------------------------------------------------------------------
def sensitivity_view(cfg: RunConfig) -> None:
    opt, x, y, n, metric = _sweep_controls(cfg)
    axes = app_cache.sweep_key(A.explore_settings(cfg, "sensitivity"))
    _, _, _, xr, yr = axes.sweep_axes(cfg.optimizers)
    bad = [p for p in (sweep_axes.range_problem(opt, x, *xr), sweep_axes.range_problem(opt, y, *yr)) if p]
    if bad:
        st.error("This range cannot be swept: " + "; ".join(bad) + ".", icon=":material/error:")
        return
    cells = _capped(n, [opt], cfg.steps, "Cells per axis")
    with st.spinner(f"Running {opt} {cells * cells:,} times, {cfg.steps} steps each…", show_time=True):
        sweep = app_cache.sensitivity(cfg, axes, cells)
    current = None
    if opt in cfg.optimizers:
        hp = cfg.hp(opt)
        current = (hp[x], hp[y])
    if metric == "steps_to_tol" and cfg.land.f_min is None:
        st.caption(f"{cfg.land.title} has no known minimum, so no steps to tolerance: coloured by the final loss.")
        metric = "final_loss"
    fig = app_cache.sensitivity_figure(cfg, axes, cells, metric, current)
    event = plotly_chart(fig, key="chart:sweep")
    _load_clicked_cell(event.click, sweep)
    finite = sweep.final_loss[np.isfinite(sweep.final_loss)]
    diverged = int(np.isfinite(sweep.diverged_at).sum())
    others = "as in the comparison" if opt in cfg.optimizers else "torch's defaults"
    st.caption(f"{cells}×{cells} settings of {get_optimizer(opt).title}, {cfg.steps} steps from "
               f"({cfg.start_point[0]:g}, {cfg.start_point[1]:g}), other hyperparameters {others}. "
               f"{diverged:,} diverged (×)"
               + (f"; best final f {finite.min():.4g}" + ("" if sweep.f_min is None else f" (f* = {sweep.f_min:.4g})")
                  if finite.size else "")
               + (f"; {int((~sweep.allowed).sum()):,} settings {opt} does not allow (grey)"
                  if not sweep.allowed.all() else "")
               + ". Click a cell to run that setting in the comparison.")
    if sweep.boundary is not None:
        st.caption(sweep.boundary.lesson)
    _csv_button("Sweep (CSV)", lambda: sweep.to_frame(), "optimizer-lab-sweep.csv")


def _sweep_controls(cfg: RunConfig):
    """The sweep's optimizer, axes, size and colour; a new optimizer or axis resets what depends on it."""
    resolved = A.explore_settings(cfg, "sensitivity").resolved(cfg.optimizers)
    A.ensure("sweep.opt", resolved["sweep.opt"])
    c1, c2, c3, c4 = st.columns([2, 2, 2, 1])
    opt = field_widget("sweep.opt", c1, on_change=A.forget, args=("sweep.x", "sweep.y", *RANGES))
    names = sweep_axes.sweepable(opt)
    A.ensure("sweep.x", "lr")
    x = field_widget("sweep.x", c2, on_change=A.forget, args=(*RANGES[:2],))
    _, dy = sweep_axes.default_axes(opt, x)
    if st.session_state.get("sweep.y") not in [n for n in names if n != x]:
        st.session_state["sweep.y"] = dy
        A.forget(*RANGES[2:])  # the old y's range does not fit the new y
    y = field_widget("sweep.y", c3, options=[n for n in names if n != x], on_change=A.forget, args=(*RANGES[2:],))
    n = field_widget("sweep.n", c4)
    for key, value in zip(RANGES, (*sweep_axes.axis_range(opt, x), *sweep_axes.axis_range(opt, y)), strict=True):
        A.ensure(key, value)
    with st.expander("ranges and colour"):
        for col, label, key in zip(st.columns(4), (f"{x} from", f"{x} to", f"{y} from", f"{y} to"), RANGES,
                                   strict=True):
            field_widget(key, col, label=label)
        metric = field_widget("sweep.metric", horizontal=True)
    return opt, x, y, n, metric


def setting_values(chosen, opt: str, x: str, y: str, xv: float, yv: float) -> dict:
    """The widget values that run one sweep cell's setting in the comparison (optimizer added if missing)."""
    values = {f"{opt}.{x}": xv, f"{opt}.{y}": yv}
    if opt not in chosen:
        values["opt"] = [*chosen, opt]
    return values


def _load_clicked_cell(event, sweep) -> None:
    """A clicked cell: its optimizer and two hyperparameters go into the comparison's widgets (the sidebar),
    and the whole app reruns with them."""
    point = clicked(event)
    if point is None:
        return
    i, j = np.argmin(np.abs(sweep.y - point[1])), np.argmin(np.abs(sweep.x - point[0]))
    xv, yv = float(sweep.x[j]), float(sweep.y[i])  # the cell's own (rounded) values: exactly what its run used
    title = get_optimizer(sweep.optimizer).title
    if not sweep.allowed[i, j]:
        st.toast(f"{title} does not allow {sweep.x_name} = {xv:g}, {sweep.y_name} = {yv:g}", icon=":material/block:")
        st.rerun(scope="fragment")
    st.session_state.update(setting_values(list(st.session_state.get("opt", [])), sweep.optimizer, sweep.x_name,
                                           sweep.y_name, xv, yv))
    st.toast(f"{title}: {sweep.x_name} = {xv:g}, {sweep.y_name} = {yv:g} loaded into the comparison",
             icon=":material/check:")
    st.rerun(scope="app")


# --- basins -------------------------------------------------------------------------------------------
def basins_view(cfg: RunConfig) -> None:
    land = cfg.land
    A.ensure("basins.opt", list(cfg.optimizers[:2]))
    c1, c2 = st.columns([3, 1])
    chosen = field_widget("basins.opt", c1, max_selections=S.FIELD["basins.opt"].limit)
    n = field_widget("basins.n", c2)
    if not len(land.minima):
        st.info(f"{land.title} has no minimum to reach, so there are no basins. Basin maps tell most on landscapes "
                "with several minima: Himmelblau, six-hump camel, Rastrigin, Styblinski–Tang.")
        return
    if not chosen:
        st.info("Pick one or two optimizers.")
        return
    cells = _capped(n, chosen, cfg.steps, "Starts per axis")
    key = replace(cfg, start=None)  # the start point is the one setting a basin map does not use
    with st.spinner(f"Running {len(chosen) * cells * cells:,} starts, {cfg.steps} steps each…", show_time=True):
        maps = app_cache.basins(key, tuple(chosen), cells)
    plotly_chart(app_cache.basins_figure(key, tuple(chosen), cells), key="chart:basins")
    m = next(iter(maps.values()))
    st.caption(f"Each of {cells}×{cells} start points, coloured by where its run is after {cfg.steps} steps: "
               f"within {m.radius:.3g} of a global minimum (★), or of another point where many runs end, usually a "
               "local minimum (○); grey: elsewhere; black: diverged. Lighter where the run settled sooner. "
               "Hyperparameters and schedule as in the comparison.")
    _csv_button("Basin maps (CSV)", lambda: pd.concat([mp.to_frame() for mp in maps.values()], ignore_index=True),
                "optimizer-lab-basins.csv")


# --- seed bands ---------------------------------------------------------------------------------------
def seeds_view(cfg: RunConfig) -> None:
    from optlab import sweep_plots

    n = field_widget("seeds.n")
    if not (cfg.noise > 0 or (cfg.batch and cfg.land.data_size)):
        st.info("Without noise every seed gives the same run. Set **gradient noise σ** in the sidebar (under "
                "*Schedule, noise, clipping*), or a **minibatch size** on a landscape built from data.")
        return
    runs = _capped(n, cfg.optimizers, cfg.steps, "Seeds", square=False)
    with st.spinner(f"Running {len(cfg.optimizers) * runs:,} seeds, {cfg.steps} steps each…", show_time=True):
        bands = app_cache.seed_bands(cfg, runs)
    plotly_chart(sweep_plots.seed_bands_figure(bands), key="chart:seeds")
    st.caption(f"Seeds {cfg.seed} to {cfg.seed + runs - 1}: the median loss per step and the band between the 10th "
               "and 90th percentiles. A diverged run counts as worse than any other.")
    _csv_button("Seed bands (CSV)", lambda: pd.concat([b.to_frame() for b in bands.values()], ignore_index=True),
                "optimizer-lab-seeds.csv")

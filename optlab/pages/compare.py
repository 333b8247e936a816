"""The comparison (the default page): every optimizer's trajectory on one landscape, side by side."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from optlab import app_cache, ui
from optlab import app_state as A
from optlab import config as C
from optlab.optimizers import get_optimizer
from optlab.pages.header import header, share
from optlab.state import PageState, RunConfig


def page(cfg: RunConfig, error: str | None) -> None:
    if not cfg.optimizers:
        share(header(cfg), PageState(cfg, A.view_state(cfg)), error=error)
        st.info("Pick at least one optimizer in the sidebar.")
        return
    rejected = refused_banner(cfg)
    shown = replace(cfg, optimizers=tuple(n for n in cfg.optimizers if n not in rejected))
    if not shown.optimizers:
        share(header(cfg), PageState(cfg, A.view_state(cfg)), error=error)
        return
    runs = app_cache.runs_for(shown)
    figs = app_cache.figures_for(shown, st.session_state.get("view", "overlay"))
    slot = header(shown)
    diverged_banner(runs)
    charts(figs)
    table(runs)
    inspector(slot, cfg, runs, error)  # a fragment: it publishes the link, with its step, on each of its reruns


def refused_banner(cfg: RunConfig) -> dict[str, str]:
    rejected = C.refused(cfg)
    for name, why in rejected.items():
        st.error(f"{get_optimizer(name).title} is not run: {why}.", icon=":material/block:")
    return rejected


def diverged_banner(runs: dict) -> None:
    diverged = [get_optimizer(n).title + (f" (step {r.diverged_at})" if r.diverged_at else " (at its start: f is not "
                                          "finite there; move the start)")
                for n, r in runs.items() if r.diverged_at is not None]  # step 0 too: a start where f is NaN
    if diverged:
        st.error("Diverged — the loss or θ left the finite numbers: " + ", ".join(diverged)
                 + ". Their paths stop there; try a smaller learning rate.", icon=":material/error:")


def charts(figs: dict) -> None:
    view = st.session_state.get("view", "overlay")
    left, right = st.columns(2)
    with left:
        st.plotly_chart(figs["main"], width="stretch", key=f"chart:main:{view}", on_select=_start_here,
                        selection_mode="points", config={"displaylogo": False})
    with right:
        st.plotly_chart(figs["surface"], width="stretch", key="chart:surface", config={"displaylogo": False})
    st.plotly_chart(figs["progress"], width="stretch", key="chart:progress", config={"displaylogo": False})


def clicked(event) -> tuple[float, float] | None:
    """The (x, y) of the point a chart's selection event holds, or None."""
    points = (event or {}).get("selection", {}).get("points", [])
    return (float(points[0]["x"]), float(points[0]["y"])) if points else None


def _start_here() -> None:
    """A click on the contour (a callback: before the widgets are drawn): the runs start there."""
    view = st.session_state.get("view", "overlay")
    point = clicked(st.session_state.get(f"chart:main:{view}"))
    if point is not None:
        st.session_state["x0"], st.session_state["y0"] = round(point[0], 4), round(point[1], 4)


def table(runs: dict) -> None:
    st.table(ui.comparison_table(runs))
    st.caption("Steps to tolerance: the first step with f − f* ≤ 1e-4. Distance: from the last point to the "
               "nearest global minimum (— where the surface has none).")


@st.fragment
def inspector(slot, cfg: RunConfig, runs: dict, error: str | None) -> None:
    """Pick an optimizer and a step k, see the numbers of that update; reruns on its own."""
    from optlab.inspector import step_details

    st.subheader("Step inspector")
    names = list(runs)
    if st.session_state.get("inspect") not in names:
        st.session_state["inspect"] = names[0]
    c1, c2 = st.columns([1, 3])
    name = c1.selectbox("optimizer", names, format_func=lambda n: get_optimizer(n).title, key="inspect")
    run = runs[name]
    last = max((run.diverged_at - 1) if run.diverged_at is not None else run.steps, 1)
    st.session_state["k"] = min(max(int(st.session_state.get("k") or 1), 1), last)
    if last > 1:
        k = c2.slider("step k", 1, last, key="k")
    else:
        k = 1
        c2.caption("Only step 1 is finite for this run.")
    d = step_details(run, k)
    left, right = st.columns([3, 2])
    with left:
        opt = get_optimizer(name)
        st.markdown(f"**{opt.title}**: {opt.summary}")
        st.latex(d["rule"])
        st.markdown(f"**Step {k}, numbers substituted** (x coordinate, then y):")
        for line in d["worked"]:
            st.latex(line)
    with right:
        st.table(d["table"].style.format("{:.6g}"))
        if d["note"]:
            st.caption(d["note"])
    view = A.view_state(cfg)
    view = replace(view, inspect=None if name == names[0] else name, k=None if k == 1 else k)
    share(slot, PageState(cfg, view), runs, error)

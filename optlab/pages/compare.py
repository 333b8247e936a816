"""The comparison (the default page): every optimizer's trajectory on one landscape, side by side."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import streamlit as st

from optlab import app_cache, tuning, ui
from optlab import app_state as A
from optlab import config as C
from optlab import schema as S
from optlab.chart import plotly_chart
from optlab.optimizers import get_optimizer
from optlab.pages.header import header, share
from optlab.plots import title
from optlab.state import PageState, RunConfig


def page(cfg: RunConfig, error: str | None) -> None:
    if not cfg.optimizers:
        share(header(cfg), PageState(cfg, A.view_state(cfg)), error=error)
        st.info("Pick at least one optimizer in the sidebar.")
        return
    with st.container():  # always there, banners or not: the charts below keep their place, so their elements
        rejected = refused_banner(cfg)
    shown = replace(cfg, optimizers=tuple(n for n in cfg.optimizers if n not in rejected))
    if not shown.optimizers:
        share(header(cfg), PageState(cfg, A.view_state(cfg)), error=error)
        return
    runs = app_cache.runs_for(shown)
    figs = app_cache.figures_for(shown, st.session_state.get("view", "overlay"))
    slot = header(shown)
    st.html(PHONE_CSS)
    with st.container():  # (as above)
        diverged_banner(runs)
    charts(figs)
    table(runs, shown)
    inspector(slot, cfg, runs, error)  # a fragment: it publishes the link, with its step, on each of its reruns


# On a phone: a wide table or equation scrolls sideways instead of being cut off at the right
PHONE_CSS = """<style>
[data-testid="stTable"] { overflow-x: auto; }
[data-testid="stTable"] table { min-width: max-content; }
.katex-display { overflow-x: auto; overflow-y: hidden; padding-bottom: 2px; }
</style>"""


def refused_banner(cfg: RunConfig) -> dict[str, str]:
    rejected = C.refused(cfg)
    for name, why in rejected.items():
        st.error(f"{get_optimizer(name).title} is not run: {why}.", icon=":material/block:")
    if cfg.torch_class:  # a torch class: the page's message for it, whatever went wrong (never a traceback)
        _, why = C.run_torch(cfg)
        if why:
            st.error(f"The torch class {S.shown(cfg.torch_class, 80)} is not run: {S.plain(why)}",
                     icon=":material/block:")
    return rejected


def diverged_banner(runs: dict) -> None:
    diverged = [title(n) + (f" (step {r.diverged_at})" if r.diverged_at else " (at its start: f is not "
                                          "finite there; move the start)")
                for n, r in runs.items() if r.diverged_at is not None]  # step 0 too: a start where f is NaN
    if diverged:
        st.error("Diverged — the loss or θ left the finite numbers: " + ", ".join(diverged)
                 + ". Their paths stop there; try a smaller learning rate.", icon=":material/error:")


def charts(figs: dict) -> None:
    view = st.session_state.get("view", "overlay")
    left, right = st.columns(2)
    with left:
        plotly_chart(figs["main"], key=f"chart:main:{view}", on_click=_start_here)
    with right:
        plotly_chart(figs["surface"], key="chart:surface")
    plotly_chart(figs["progress"], key="chart:progress")


def clicked(event) -> tuple[float, float] | None:
    """The (x, y) of a chart's click ({"x", "y", ...}, optlab.chart), or None."""
    return (float(event["x"]), float(event["y"])) if event and event.get("x") is not None else None


def _start_here(point: dict) -> None:
    """A click on the contour (a callback: before the widgets are drawn): the runs start there."""
    point = clicked(point)
    if point is not None:
        st.session_state["x0"], st.session_state["y0"] = round(point[0], 4), round(point[1], 4)


BARELY = 0.02  # a run that ends within this share of the domain's diagonal of its start "barely moved"
TUNED = "_tuned_lr"  # session state: optimizer -> the lr "tune learning rates" set


def barely_moved(cfg: RunConfig, runs: dict) -> dict[str, str]:
    """Optimizers whose run ends next to its start, each with a sentence on why and what to try."""
    (x0, x1), (y0, y1) = cfg.land.domain
    diagonal = float(np.hypot(x1 - x0, y1 - y0))
    hints = {}
    for name, run in runs.items():
        if name not in cfg.optimizers or run.diverged_at is not None or "lr" not in cfg.hp(name):
            continue  # (a torch class's run has no declaration to suggest a rate from)
        moved = float(np.linalg.norm(run.path[-1] - run.path[0]))
        if moved >= BARELY * diagonal:
            continue
        lr, default = cfg.hp(name)["lr"], get_optimizer(name).param("lr").default
        why = f"its lr {lr:g} is torch's default" if lr == default else f"its lr {lr:g} is small for this landscape"
        hints[name] = (f"{get_optimizer(name).title} barely moved ({moved:.2g} in {run.steps} steps, "
                       f"{moved / diagonal:.1%} of the plot's diagonal): {why}; try “Tune learning rates” or a "
                       "larger lr.")
    return hints


def table(runs: dict, cfg: RunConfig | None = None) -> None:
    frame = ui.comparison_table(runs)
    if cfg is not None:
        tuned = st.session_state.get(TUNED, {})
        frame.insert(0, "lr", [_lr_note(cfg, name, tuned) if name in cfg.optimizers
                               else f"{float(run.lr[0]):g} (its own)" for name, run in runs.items()])
    st.table(frame)
    st.caption("Steps to tolerance: the first step with f − f* ≤ 1e-4. Distance: from the last point to the "
               "nearest global minimum (— where the surface has none).")
    if cfg is None:
        return
    for hint in barely_moved(cfg, runs).values():
        st.caption(f":orange[:material/directions_walk: {hint}]")
    st.button("Tune learning rates", key="tune", on_click=_tune, args=(cfg,), icon=":material/tune:",
              help=f"For each optimizer, run {tuning.N_LRS} learning rates from {tuning.LR_RANGE[0]:g} to "
                   f"{tuning.LR_RANGE[1]:g} (log-spaced) from this start with these settings and the same "
                   f"{cfg.steps} steps, and set the one that ends at the lowest loss.")


def _lr_note(cfg: RunConfig, name: str, tuned: dict) -> str:
    hp = cfg.hp(name)
    if "lr" not in hp:
        return "—"
    lr = hp["lr"]
    if tuned.get(name) == lr:
        return f"{lr:g} (tuned)"
    return f"{lr:g} (torch's default)" if lr == get_optimizer(name).param("lr").default else f"{lr:g}"


def _tune(cfg: RunConfig) -> None:
    """The button's callback (before the widgets are drawn): each optimizer's best lr of the grid, set."""
    tunable = [n for n in cfg.optimizers if get_optimizer(n).cost == 1]  # L-BFGS: 40 runs one at a time, slow
    slow = [get_optimizer(n).title for n in cfg.optimizers if n not in tunable]
    results = tuning.tune_all(cfg.land, tunable, start=cfg.start_point, seed=cfg.seed,
                              hparams=dict(cfg.hparams), **C._common(cfg))
    tuned = {}
    for name, result in results.items():
        if np.isfinite(result.loss):
            st.session_state[f"{name}.lr"] = result.lr
            tuned[name] = result.lr
    st.session_state[TUNED] = tuned
    st.toast(("Tuned: " + ", ".join(f"{get_optimizer(n).title} lr {v:g}" for n, v in tuned.items())
              if tuned else "No learning rate of the grid avoided diverging.")
             + (f" Not tuned: {', '.join(slow)} (it runs one run at a time: {tuning.N_LRS} runs would take long)."
                if slow else ""), icon=":material/tune:")


K_BOX = "k#box"  # the step inspector's number box: not in the link (the slider's "k" is)


def _k_from_box() -> None:
    st.session_state["k"] = int(st.session_state[K_BOX])


def _k_step(delta: int, last: int) -> None:
    st.session_state["k"] = min(max(int(st.session_state.get("k") or 1) + delta, 1), last)


@st.fragment
def inspector(slot, cfg: RunConfig, runs: dict, error: str | None) -> None:
    """Pick an optimizer and a step k, see the numbers of that update; reruns on its own."""
    from optlab.inspector import plain_label, step_details

    st.subheader("Step inspector")
    names = list(runs)
    if st.session_state.get("inspect") not in names:
        st.session_state["inspect"] = names[0]
    c1, c2, c3, c4 = st.columns([3, 6, 2, 2], vertical_alignment="bottom")
    name = c1.selectbox("optimizer", names, format_func=title, key="inspect")
    run = runs[name]
    last = max((run.diverged_at - 1) if run.diverged_at is not None else run.steps, 1)
    st.session_state["k"] = min(max(int(st.session_state.get("k") or 1), 1), last)
    if last > 1:
        # the slider holds k (the link's key); the number box and the buttons write to it
        st.session_state[K_BOX] = st.session_state["k"]
        k = c2.slider("step k", 1, last, key="k")
        c3.number_input("step k (number)", 1, last, step=1, key=K_BOX, on_change=_k_from_box,
                        label_visibility="collapsed")
        b1, b2 = c4.columns(2)
        b1.button("◀", key="k:prev", on_click=_k_step, args=(-1, last), disabled=k <= 1, help="previous step",
                  width="stretch")
        b2.button("▶", key="k:next", on_click=_k_step, args=(1, last), disabled=k >= last, help="next step",
                  width="stretch")
    else:
        k = 1
        c2.caption("Only step 1 is finite for this run.")
    axes = cfg.land.axis_names
    if not run.verified:  # a torch class: no declaration, so no rule or worked lines; its state_dict, named
        from optlab.inspector import torch_step

        st.markdown(f"**{title(name)}**: the class's own steps on the same gradients; what its state_dict holds "
                    "after each step is shown as named buffers. Not verified by us: we check only that this is "
                    "what the class does.")
        st.table(torch_step(run, k, axis_names=axes).style.format("{:.6g}"))
        view = replace(A.view_state(cfg), inspect=None if name == names[0] else name, k=None if k == 1 else k)
        share(slot, PageState(cfg, view), runs, error)
        return
    d = step_details(run, k, axis_names=axes)
    opt = get_optimizer(name)
    st.markdown(f"**{opt.title}**: {opt.summary}")
    left, right = st.columns([3, 2])
    with left:
        st.latex(d["rule"])
        st.markdown(f"**Step {k}, numbers substituted** ({axes[0]} coordinate, then {axes[1]}):")
        for line in d["worked"]:
            st.latex(line)
    with right:
        shown = d["table"].rename(index=plain_label, columns=dict(zip("xy", axes, strict=True)))
        st.table(shown.style.format("{:.6g}"))
        if d["note"]:
            st.caption(d["note"])
    if "evaluations" in d:  # an evaluating optimizer (LBFGS): what happened inside the step
        st.markdown(f"**Inside step {k}**: {len(d['evaluations'])} evaluations of f and ∇f, in order "
                    "(the open circles on the contour)")
        st.dataframe(d["evaluations"].style.format("{:.6g}", subset=list(d["evaluations"].columns[1:])))
    if "history" in d:
        st.markdown(f"**History after step {k}**: the {len(d['history'])} pairs (s, y) = (move, change of gradient) "
                    "the next direction is computed from")
        st.dataframe(d["history"].style.format("{:.6g}"))
    view = A.view_state(cfg)
    view = replace(view, inspect=None if name == names[0] else name, k=None if k == 1 else k)
    share(slot, PageState(cfg, view), runs, error)

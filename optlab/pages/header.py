"""What every page starts with (title, landscape, preset notice) and ends with (the link, the exports)."""

from __future__ import annotations

import streamlit as st

from optlab import app_state as A
from optlab import config as C
from optlab.export import torch_script, trajectories_csv
from optlab.presets import PRESETS
from optlab.state import PageState, RunConfig


def header(cfg: RunConfig, notice: bool = True):
    """Title, landscape and preset notice; returns the "Share and export" popover, filled by :func:`share` at
    the end of the run (the link holds the inspector's and explore views' settings). A popover's content is
    drawn only when it is opened, so its code box and downloads cost the first view nothing."""
    land = cfg.land
    title, box = st.columns([4, 1], vertical_alignment="bottom")
    title.title("Optimizer Lab")
    slot = box.popover("Share and export", icon=":material/share:", width="stretch")
    st.caption("How optimizers move on a 2-D loss surface — with torch.optim's exact update rules.")
    c1, c2 = st.columns([3, 2])
    with c1:
        st.markdown(f"**{land.title}** · {land.lesson}")
        if land.minima_note:
            st.caption(land.minima_note)
    with c2:
        st.latex(land.latex)
    preset = PRESETS.get(st.session_state.get(A.PRESET) or "")
    with st.container():  # there with or without its notice: the charts below keep their elements (optlab.chart)
        if notice and preset is not None and C.to_query(preset.config) == C.to_query(cfg):
            st.info(f"**{preset.title}.** {preset.notice}", icon=":material/visibility:")
    return slot


def share(slot, state: PageState, runs: dict | None = None, error: str | None = None) -> None:
    """The page's state published: the share box and its exports, the address bar, the last valid view.
    Called once per run, by the part of the page that ran last (a fragment on its own reruns)."""
    with slot:
        st.caption("This link reproduces exactly this view (copy button on the right):")
        st.code(C.to_url(state, st.context.url), language=None, wrap_lines=True)
        if runs:
            # written when clicked, not on every rerun (the CSV and the script took ~30 ms of each change)
            st.download_button("Trajectories (CSV)", lambda: trajectories_csv(runs), "optimizer-lab-trajectories.csv",
                               "text/csv", width="stretch", on_click="ignore")
            st.download_button("Configuration (JSON)", C.to_json(state), "optimizer-lab-config.json",
                               "application/json", width="stretch", on_click="ignore")
            st.download_button("torch.optim script", lambda: torch_script(state.runs), "optimizer_lab_runs.py",
                               "text/x-python", width="stretch", on_click="ignore")
    A.sync_url(state)
    A.remember(state.runs, error)

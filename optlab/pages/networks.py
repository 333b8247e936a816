"""Real networks, view 2: the network of a plane landscape trained in all its weights, projected honestly.

The sidebar's landscape names the network (one of the network planes: its dataset, architecture, θ₀ and
standardisation), and its optimizers, hyperparameters, steps, minibatch size, seed and schedule are the
training's (optlab.full_training: the optimizers' own declarations on θ of shape (P,)). The page's own
setting, the shared plane's grid, travels in the link (``train.grid``); ``train=true`` opens this page.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import streamlit as st

from optlab import app_cache
from optlab import app_state as A
from optlab import full_training as T
from optlab import muon as MUON
from optlab.chart import plotly_chart
from optlab.networks.landscape import network_of
from optlab.pages.compare import refused_banner
from optlab.pages.header import header, share
from optlab.state import PageState, RunConfig
from optlab.training_plots import title
from optlab.ui import field_widget


def page(cfg: RunConfig, error: str | None) -> None:
    slot = header(cfg, notice=False)
    st.subheader("Full training, projected honestly")
    state = PageState(cfg, A.view_state(cfg, train=True))
    land = None if error else cfg.land
    if land is None or network_of(land) is None:
        st.info("Full training needs a network: pick one of the network planes in the sidebar (Two moons, Iris or "
                "Digits). Their network is trained here in all its weights; the comparison page trains it in the "
                "plane only.", icon=":material/hub:")
        share(slot, state, error=error)
        return
    rejected = refused_banner(cfg)
    shown = replace(cfg, optimizers=tuple(n for n in cfg.optimizers if n not in rejected))
    if not shown.optimizers:
        if not cfg.optimizers:
            st.info("Pick at least one optimizer in the sidebar.")
        share(slot, state, error=error)
        return
    steps = _capped_steps(shown.steps)
    _unused_settings(shown)
    c1, c2, c3, c4, c5 = st.columns(5, vertical_alignment="bottom")
    grid = int(field_widget("train.grid", c1))
    plane = str(field_widget("train.plane", c5))
    wanted = int(field_widget("train.seeds", c2))
    with c3:
        with_muon = bool(field_widget("train.muon"))
    muon_lr = float(field_widget("train.muon_lr", c4)) if with_muon else None
    if with_muon:
        st.caption(f"{MUON.TITLE}: torch.optim.Muon's rule (momentum 0.95, Nesterov, weight decay 0.1, five "
                   "Newton–Schulz steps) on each weight matrix, torch.optim.AdamW with the same lr and weight "
                   "decay on the biases (Muon takes matrices only). The Newton–Schulz iteration runs in float64 "
                   "here; torch runs it in bfloat16, which gives other numbers (tests/test_muon.py).")
    runs = len(shown.optimizers) + with_muon
    seeds = _band_seeds(shown, land, runs, steps, wanted)
    try:
        with st.spinner(f"Training {runs * seeds} network(s) for {steps} steps…", show_time=True):
            ft = app_cache.full_training(shown, steps, grid, muon_lr, plane)
            figs = app_cache.full_training_figures(shown, steps, grid, muon_lr, seeds, plane)
    except ValueError as err:  # a setting training refuses: say so, keep everything the user set
        st.error(f"Full training cannot run with these settings: {err}", icon=":material/error:")
        share(slot, state, error=error)
        return
    source = network_of(land)
    net, data = source.net, source.data
    batch = f"minibatches of {ft.batch_size}" if ft.batch_size else f"all {len(data.X):,} training examples a step"
    st.caption(f"MLP {'-'.join(map(str, net.sizes))} ({net.activation}), all {net.size:,} weights trained from the "
               f"plane's θ₀ on {data.name} ({batch}, seed {shown.seed}), with the optimizers and hyperparameters of "
               "the sidebar: the same update rules as on the landscapes, on arrays of P numbers. Loss and accuracy "
               f"at {len(next(iter(ft.runs.values())).steps)} evenly spaced checkpoints, on the whole training and "
               "test sets.")
    _diverged(ft)
    plotly_chart(figs["curves"], key="chart:train:curves")
    if seeds > 1:
        st.caption(f"Shaded: the lowest to the highest training loss and test accuracy over minibatch seeds "
                   f"{shown.seed} to {shown.seed + seeds - 1}; the lines are seed {shown.seed}'s.")
    _reached(ft)
    st.markdown("#### Every trajectory on one plane")
    if ft.plane_note:
        st.warning(ft.plane_note, icon=":material/info:")
    if ft.ends is None:
        spanned = ("spanned by the first two principal directions of all the runs' checkpoints θ − θ₀ (Li et al. "
                   "2018, §7)")
    else:
        spanned = (f"through the last checkpoints of {title(ft.ends[0])} (z = (1, 0)) and {title(ft.ends[1])} "
                   "(z = (0, 1)) (d₁ and d₂ are their ends − θ₀, Garipov et al. 2018: both ends lie on it "
                   "exactly and the loss along the way between them shows whether a barrier separates them; z is "
                   "in that basis, not an orthonormal one, so the picture's angles and lengths are not the weights')")
    st.caption(f"The plane through θ₀ (the common start) {spanned}; colours: the training loss over that plane, "
               f"computed on a {grid}×{grid} grid. A checkpoint is drawn at its projection, and the plane's loss "
               "there is the loss of the projected network θ₀ + z₁d₁ + z₂d₂, not of the checkpoint itself: see "
               "below how far apart they are.")
    left, right = st.columns(2)
    with left:
        plotly_chart(figs["plane"], key="chart:train:plane")
    with right:
        plotly_chart(figs["surface"], key="chart:train:surface")
    st.markdown("#### How honest the picture is")
    st.caption(f"Per checkpoint (the {len(next(iter(ft.runs.values())).steps)} evenly spaced steps of the curves), "
               "not per step: the plane's loss at a checkpoint's projection is a forward pass over the whole "
               "training set, and one at every step would cost several times the training itself.")
    for note in T.honesty_notes(ft, {n: title(n) for n in ft.runs}):
        (st.warning if "not the loss" in note or "less than half" in note else st.caption)(note)
    plotly_chart(figs["honesty"], key="chart:train:honesty")
    st.markdown("#### Inside the network, layer by layer")
    st.caption("Per layer (its W and b together), at every step: the norm of the gradient the step used, and the "
               "update-to-weight ratio ‖θₖ − θₖ₋₁‖/‖θₖ₋₁‖: how much of the layer each step rewrites; for Adam, "
               "AdamW and AMSGrad also the effective step lr·m̂/(√v̂ + ε) that moves each weight (its median over "
               "the layer's weights).")
    plotly_chart(figs["layers"], key="chart:train:layers")
    st.caption("The update rules are torch.optim's (tests/test_full_training.py checks a training step by step "
               "against torch).")
    share(slot, state, error=error)


def _capped_steps(steps: int) -> int:
    if steps > T.MAX_STEPS:
        st.warning(f"Full training is capped at {T.MAX_STEPS:,} steps per optimizer (the sidebar asks for "
                   f"{steps:,}), so that the page answers within seconds: showing {T.MAX_STEPS:,}.",
                   icon=":material/speed:")
        return T.MAX_STEPS
    return steps


def _band_seeds(cfg: RunConfig, land, runs: int, steps: int, wanted: int) -> int:
    """The seeds the bands run (1: none), with a message where fewer than asked."""
    if wanted <= 1:
        return 1
    if not cfg.batch or cfg.batch >= land.data_size:
        st.info("Seed bands need minibatches: without them every seed gives the same run. Set a **minibatch "
                "size** in the sidebar.", icon=":material/info:")
        return 1
    seeds = T.band_seeds(runs, steps, wanted)
    if seeds < wanted:
        st.warning(f"Seeds reduced from {wanted} to {seeds} so that optimizers × seeds × steps stays within "
                   f"{T.MAX_BAND_STEPS:,} (a few seconds); fewer steps allow more.", icon=":material/speed:")
    return seeds


def _unused_settings(cfg: RunConfig) -> None:
    unused = [what for what, on in (("gradient noise σ", cfg.noise > 0), ("gradient clipping", cfg.clip > 0)) if on]
    if unused:
        st.caption(f"Not applied to full training: {' and '.join(unused)} (the sidebar's settings for the "
                   "landscapes); the network is trained with its true minibatch gradients.")


def _diverged(ft: T.FullTraining) -> None:
    gone = [f"{title(n)} (step {r.diverged_at})" for n, r in ft.runs.items() if r.diverged_at is not None]
    if gone:
        st.error("Diverged, their loss or weights no longer finite: " + ", ".join(gone) + ". They are left off "
                 "the shared plane (their huge last weights would be all it shows).", icon=":material/error:")


def _reached(ft: T.FullTraining) -> None:
    """Who reaches the best test accuracy any run reaches, minus 2 points, first (classification)."""
    runs = {n: r for n, r in ft.runs.items() if r.test_accuracy is not None}
    if not runs:
        return
    target = max(np.nanmax(r.test_accuracy) for r in runs.values()) - 0.02
    firsts = {n: int(r.steps[np.argmax(r.test_accuracy >= target)]) for n, r in runs.items()
              if np.any(r.test_accuracy >= target)}
    parts = [f"{title(n)} at step {k}" for n, k in sorted(firsts.items(), key=lambda kv: kv[1])]
    never = [title(n) for n in runs if n not in firsts]
    st.caption(f"First checkpoint at {100 * target:.1f} % test accuracy (2 points below the best any run reaches): "
               + ", ".join(parts) + (f"; never: {', '.join(never)}" if never else "") + ".")

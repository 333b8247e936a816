"""Plotly figures of full training (optlab.full_training): the curves, the shared plane (contour and 3-D),
how honest that plane is, and each layer's gradient norm and update-to-weight ratio.

Built from NumPy arrays; no Streamlit here. Colours and names are the comparison's (optlab.plots).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from optlab import muon
from optlab.full_training import FullTraining
from optlab.plots import NUMBERS
from optlab.plots import color as _color
from optlab.plots import title as _title

LEGEND = dict(orientation="h", yanchor="top", y=-0.26, xanchor="left", x=0.0)  # below the axis titles
LOG = dict(type="log", exponentformat="power", minorloglabels="none")


def title(name: str) -> str:
    """What a person reads for a run: the optimizer's title, or Muon's (optlab.muon: not a declaration)."""
    return muon.TITLE if name == muon.NAME else _title(name)


def color(name: str) -> str:
    return "#222222" if name == muon.NAME else _color(name)


def _log_range(values) -> list | None:
    v = np.concatenate([np.ravel(a) for a in values])
    v = v[np.isfinite(v) & (v > 0)]
    if not v.size:
        return None
    lo, hi = np.log10(np.percentile(v, 0.5)), np.log10(v.max())
    return [lo - 0.1, hi + 0.1] if hi > lo else [lo - 0.5, hi + 0.5]


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _band(fig, name: str, steps, values, col: int, what: str) -> None:
    """The range between the lowest and the highest of ``values`` (seeds × checkpoints), shaded."""
    with np.errstate(all="ignore"):
        lo, hi = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
    fig.add_trace(go.Scatter(x=steps, y=lo, mode="lines", line=dict(width=0), legendgroup=name, showlegend=False,
                             hoverinfo="skip"), row=1, col=col)
    fig.add_trace(go.Scatter(x=steps, y=hi, mode="lines", line=dict(width=0), fill="tonexty",
                             fillcolor=_rgba(color(name), 0.18), legendgroup=name, showlegend=False,
                             name=f"{title(name)}: {what} over {len(values)} seeds",
                             hovertemplate=f"{title(name)}, step %{{x}}: {what} up to %{{y:.4g}} over {len(values)} "
                                           "seeds<extra></extra>"), row=1, col=col)


def curves_figure(ft: FullTraining, bands: dict | None = None, height: int = 420) -> go.Figure:
    """Loss (log axis) and accuracy per step on the training set (solid) and the test set (dashed); ``bands``
    (optimizer -> full_training.Band): the range of the training loss and the test accuracy over seeds."""
    classification = all(r.test_accuracy is not None for r in ft.runs.values())
    cols = 2 if classification else 1
    fig = make_subplots(rows=1, cols=cols, horizontal_spacing=0.1,
                        subplot_titles=("loss (training —, test - -)",
                                        "accuracy (training —, test - -)")[:cols])
    for name, band in (bands or {}).items():
        _band(fig, name, band.steps, band.train_loss, 1, "training loss")
        if classification and band.test_accuracy is not None:
            _band(fig, name, band.steps, 100 * band.test_accuracy, 2, "test accuracy")
    for name, r in ft.runs.items():
        c = color(name)
        for values, dash, which in ((r.train_loss, "solid", "training"), (r.test_loss, "dash", "test")):
            fig.add_trace(go.Scatter(x=r.steps, y=values, mode="lines", name=title(name), legendgroup=name,
                                     showlegend=which == "training", line=dict(color=c, dash=dash),
                                     hovertemplate=f"{title(name)}, step %{{x}}: {which} loss %{{y:.4g}}"
                                                   "<extra></extra>"), row=1, col=1)
        if classification:
            for values, dash, which in ((r.train_accuracy, "solid", "training"), (r.test_accuracy, "dash", "test")):
                fig.add_trace(go.Scatter(x=r.steps, y=100 * values, mode="lines", legendgroup=name, showlegend=False,
                                         line=dict(color=c, dash=dash),
                                         hovertemplate=f"{title(name)}, step %{{x}}: {which} accuracy %{{y:.1f}} %"
                                                       "<extra></extra>"), row=1, col=2)
    fig.update_yaxes(**LOG, range=_log_range(
        [r.train_loss for r in ft.runs.values()] + [r.test_loss for r in ft.runs.values()]), row=1, col=1)
    if classification:
        fig.update_yaxes(title_text="%", range=[0, 100], row=1, col=2, **NUMBERS)
    fig.update_xaxes(title_text="step", **NUMBERS)
    fig.update_layout(height=height, margin=dict(l=60, r=20, t=50, b=120), legend=LEGEND)
    return fig


def _plane_axes(ft: FullTraining) -> tuple[str, str]:
    if ft.ends is not None:  # d_i = θ_i − θ₀: run i's end at z_i = 1
        return f"z₁ ({title(ft.ends[0])}'s end at 1)", f"z₂ ({title(ft.ends[1])}'s end at 1)"
    return "z₁ (1st principal direction)", "z₂ (2nd)"


def plane_figure(ft: FullTraining, height: int = 520) -> go.Figure:
    """The training loss over the shared plane (contour, log colour), every run's checkpoints projected onto it."""
    z = np.log10(np.clip(ft.surface, 1e-300, None))
    fig = go.Figure(go.Contour(x=ft.xs, y=ft.ys, z=z, colorscale="Viridis", ncontours=30, line=dict(width=0.5),
                               colorbar=dict(title=dict(text="log₁₀ loss", side="right"), **NUMBERS),
                               hovertemplate="z = (%{x:.3g}, %{y:.3g}): log₁₀ loss %{z:.3f}<extra></extra>"))
    for name, coords in ft.projection.coords.items():
        r = ft.runs[name]
        fig.add_trace(go.Scatter(x=coords[:, 0], y=coords[:, 1], mode="lines+markers", name=title(name),
                                 line=dict(color=color(name), width=2), marker=dict(size=5, color=color(name)),
                                 customdata=np.column_stack([r.steps, r.train_loss, ft.plane_loss[name]]),
                                 hovertemplate=f"{title(name)}, step %{{customdata[0]}}: true loss "
                                               "%{customdata[1]:.4g}, plane's %{customdata[2]:.4g}<extra></extra>"))
    fig.add_trace(go.Scatter(x=[0.0], y=[0.0], mode="markers", name="θ₀ (the common start)",
                             marker=dict(symbol="x", size=11, color="white", line=dict(color="black", width=1))))
    x_name, y_name = _plane_axes(ft)
    fig.update_layout(height=height, margin=dict(l=70, r=20, t=40, b=130), legend=LEGEND,
                      xaxis=dict(title=x_name, **NUMBERS), yaxis=dict(title=y_name, **NUMBERS),
                      title=dict(text=f"The shared plane: it holds {100 * ft.projection.explained:.1f} % of the "
                                      "checkpoints' squared distance from θ₀", font=dict(size=14)))
    return fig


def surface_figure(ft: FullTraining, height: int = 520) -> go.Figure:
    """The same plane in 3-D: the loss surface and each run at its plane loss (its true loss as dots)."""
    fig = go.Figure(go.Surface(x=ft.xs, y=ft.ys, z=np.log10(np.clip(ft.surface, 1e-300, None)),
                               colorscale="Viridis", opacity=0.85, showscale=False,
                               hovertemplate="z = (%{x:.3g}, %{y:.3g}): log₁₀ loss %{z:.3f}<extra></extra>"))
    for name, coords in ft.projection.coords.items():
        r = ft.runs[name]
        fig.add_trace(go.Scatter3d(x=coords[:, 0], y=coords[:, 1], z=np.log10(ft.plane_loss[name]), mode="lines",
                                   name=title(name), line=dict(color=color(name), width=5)))
        fig.add_trace(go.Scatter3d(x=coords[:, 0], y=coords[:, 1], z=np.log10(r.train_loss), mode="markers",
                                   name=f"{title(name)}: true loss", legendgroup=name, showlegend=False,
                                   marker=dict(size=2.5, color=color(name))))
    fig.update_layout(height=height, margin=dict(l=0, r=0, t=10, b=10), legend=LEGEND,
                      scene=dict(xaxis=dict(title="z₁", **NUMBERS), yaxis=dict(title="z₂", **NUMBERS),
                                 zaxis=dict(title="log₁₀ loss", **NUMBERS)))
    return fig


def honesty_figure(ft: FullTraining, height: int = 380) -> go.Figure:
    """Per checkpoint: its distance from the plane (a share of its distance from θ₀), and its true loss beside
    the plane's loss at its projection."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                        subplot_titles=("distance from the plane<br>(share of the distance from θ₀)",
                                        "true loss — , plane's loss at the projection ···"))
    proj = ft.projection
    for name in proj.coords:
        r, c = ft.runs[name], color(name)
        fig.add_trace(go.Scatter(x=r.steps[1:], y=100 * proj.share_off(name)[1:], mode="lines+markers",
                                 name=title(name), legendgroup=name, line=dict(color=c), marker=dict(size=4),
                                 hovertemplate=f"{title(name)}, step %{{x}}: %{{y:.1f}} % of its distance from θ₀ "
                                               "is off the plane<extra></extra>"), row=1, col=1)
        fig.add_trace(go.Scatter(x=r.steps, y=r.train_loss, mode="lines", legendgroup=name, showlegend=False,
                                 line=dict(color=c), hovertemplate=f"{title(name)}, step %{{x}}: true loss "
                                                                   "%{y:.4g}<extra></extra>"), row=1, col=2)
        fig.add_trace(go.Scatter(x=r.steps, y=ft.plane_loss[name], mode="lines", legendgroup=name, showlegend=False,
                                 line=dict(color=c, dash="dot"), hovertemplate=f"{title(name)}, step %{{x}}: "
                                                                               "plane's loss %{y:.4g}<extra></extra>"),
                      row=1, col=2)
    fig.update_yaxes(title_text="%", rangemode="tozero", row=1, col=1, **NUMBERS)
    fig.update_yaxes(**LOG, row=1, col=2)
    fig.update_xaxes(title_text="step", **NUMBERS)
    fig.update_layout(height=height, margin=dict(l=60, r=20, t=60, b=120), legend={**LEGEND, "y": -0.36})  # (its
    # two-line panel titles leave a shorter plot: the same gap below the axis title needs a larger share of it)
    return fig


def layers_figure(ft: FullTraining, height: int = 420) -> go.Figure:
    """Per layer (a column each): the gradient norm and the update-to-weight ratio per step (log axes), and
    where a run is Adam's (AdamW's, AMSGrad's) its effective step lr·m̂/(√v̂ + ε), the median over the layer."""
    cols = len(ft.layers)
    adam = any(r.effective_step is not None for r in ft.runs.values())
    rows = 3 if adam else 2
    titles = [f"{name}: ‖g‖" for name in ft.layers] + [f"{name}: ‖Δθ‖/‖θ‖" for name in ft.layers]
    if adam:
        titles += [f"{name}: Adam's step, median |lr·m̂/(√v̂+ε)|" for name in ft.layers]
    fig = make_subplots(rows=rows, cols=cols, shared_xaxes=True, vertical_spacing=0.1, horizontal_spacing=0.08,
                        subplot_titles=titles)
    for name, r in ft.runs.items():
        steps = np.arange(1, len(r.grad_norm) + 1)
        for j in range(cols):
            shown = [(1, r.grad_norm[:, j], "gradient norm"), (2, r.update_ratio[:, j], "update / weight")]
            if r.effective_step is not None:
                shown.append((3, r.effective_step[:, j], "Adam's effective step (median)"))
            for row, values, what in shown:
                fig.add_trace(go.Scatter(x=steps, y=values, mode="lines", name=title(name), legendgroup=name,
                                         showlegend=row == 1 and j == 0, line=dict(color=color(name), width=1.2),
                                         hovertemplate=f"{title(name)}, step %{{x}}: {what} %{{y:.3g}}"
                                                       "<extra></extra>"), row=row, col=j + 1)
    fig.update_yaxes(**LOG)
    fig.update_xaxes(title_text="step", row=rows, **NUMBERS)
    fig.update_layout(height=height + (200 if adam else 0), margin=dict(l=60, r=20, t=50, b=120), legend=LEGEND)
    return fig

"""Plotly figures of full training (optlab.full_training): the curves, the shared plane (contour and 3-D),
how honest that plane is, and each layer's gradient norm and update-to-weight ratio.

Built from NumPy arrays; no Streamlit here. Colours and names are the comparison's (optlab.plots). The page
draws the ``*_spec`` figures, plain dicts and arrays (optlab.plots.FigureSpec: no plotly object model, whose
validation of every value was ~0.3 s of the page's first view); ``*_figure`` are the same as go.Figure.
A grid of panels takes its axes, their domains and the panel titles from plotly's own make_subplots, once per
arrangement (:func:`_subplots`).
"""

from __future__ import annotations

import functools

import numpy as np
import orjson
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from optlab import muon
from optlab.full_training import FullTraining
from optlab.plots import NUMBERS, FigureSpec, to_json, viridis
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


@functools.lru_cache(maxsize=32)
def _subplots_of(rows: int, cols: int, titles: tuple, options: tuple) -> tuple[bytes, tuple]:
    """make_subplots' layout for this arrangement (JSON, no template) and each panel's (xaxis, yaxis) names."""
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, **dict(options))
    refs = []
    for r in range(1, rows + 1):
        for c in range(1, cols + 1):
            fig.add_trace(go.Scatter(), row=r, col=c)
            refs.append(((r, c), (fig.data[-1].xaxis, fig.data[-1].yaxis)))
    layout = fig.to_plotly_json()["layout"]
    layout.pop("template", None)
    return to_json(layout), tuple(refs)


def _merge(into: dict, values: dict) -> None:
    """Nested dicts merged as plotly's update does (a dict updates a dict, anything else replaces)."""
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value.copy() if isinstance(value, dict) else value


class _Subplots:
    """A grid of panels as a FigureSpec is built: plotly's make_subplots layout, traces placed on a panel's axes
    (as add_trace(row=, col=) does) and axes updated by row and column (as update_xaxes/update_yaxes do)."""

    def __init__(self, rows: int, cols: int, titles=(), **options):
        layout, refs = _subplots_of(rows, cols, tuple(titles), tuple(sorted(options.items())))
        self.layout = orjson.loads(layout)
        self.refs = dict(refs)
        self.data: list[dict] = []

    def add(self, trace: dict, row: int, col: int) -> None:
        x, y = self.refs[(row, col)]
        self.data.append({**trace, "xaxis": x, "yaxis": y})

    def axes(self, which: str, props: dict, row: int | None = None, col: int | None = None) -> None:
        """Update the x (``which`` = "x") or y axes of the panels in ``row`` and ``col`` (None: every one)."""
        names = {refs[0 if which == "x" else 1] for (r, c), refs in self.refs.items()
                 if row in (None, r) and col in (None, c)}
        for name in names:
            _merge(self.layout.setdefault(which + "axis" + name[1:], {}), props)

    def spec(self, **layout) -> FigureSpec:
        _merge(self.layout, layout)
        return FigureSpec(data=self.data, layout=self.layout)


def _band(fig: _Subplots, name: str, steps, values, col: int, what: str) -> None:
    """The range between the lowest and the highest of ``values`` (seeds × checkpoints), shaded."""
    with np.errstate(all="ignore"):
        lo, hi = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
    fig.add(dict(type="scatter", x=steps, y=lo, mode="lines", line=dict(width=0), legendgroup=name,
                 showlegend=False, hoverinfo="skip"), 1, col)
    fig.add(dict(type="scatter", x=steps, y=hi, mode="lines", line=dict(width=0), fill="tonexty",
                 fillcolor=_rgba(color(name), 0.18), legendgroup=name, showlegend=False,
                 name=f"{title(name)}: {what} over {len(values)} seeds",
                 hovertemplate=f"{title(name)}, step %{{x}}: {what} up to %{{y:.4g}} over {len(values)} "
                               "seeds<extra></extra>"), 1, col)


def curves_spec(ft: FullTraining, bands: dict | None = None, height: int = 420) -> FigureSpec:
    """Loss (log axis) and accuracy per step on the training set (solid) and the test set (dashed); ``bands``
    (optimizer -> full_training.Band): the range of the training loss and the test accuracy over seeds."""
    classification = all(r.test_accuracy is not None for r in ft.runs.values())
    cols = 2 if classification else 1
    fig = _Subplots(1, cols, ("loss (training —, test - -)", "accuracy (training —, test - -)")[:cols],
                    horizontal_spacing=0.1)
    for name, band in (bands or {}).items():
        _band(fig, name, band.steps, band.train_loss, 1, "training loss")
        if classification and band.test_accuracy is not None:
            _band(fig, name, band.steps, 100 * band.test_accuracy, 2, "test accuracy")
    for name, r in ft.runs.items():
        c = color(name)
        for values, dash, which in ((r.train_loss, "solid", "training"), (r.test_loss, "dash", "test")):
            fig.add(dict(type="scatter", x=r.steps, y=values, mode="lines", name=title(name), legendgroup=name,
                         showlegend=which == "training", line=dict(color=c, dash=dash),
                         hovertemplate=f"{title(name)}, step %{{x}}: {which} loss %{{y:.4g}}<extra></extra>"), 1, 1)
        if classification:
            for values, dash, which in ((r.train_accuracy, "solid", "training"), (r.test_accuracy, "dash", "test")):
                fig.add(dict(type="scatter", x=r.steps, y=100 * values, mode="lines", legendgroup=name,
                             showlegend=False, line=dict(color=c, dash=dash),
                             hovertemplate=f"{title(name)}, step %{{x}}: {which} accuracy %{{y:.1f}} %"
                                           "<extra></extra>"), 1, 2)
    fig.axes("y", {**LOG, "range": _log_range(
        [r.train_loss for r in ft.runs.values()] + [r.test_loss for r in ft.runs.values()])}, row=1, col=1)
    if classification:
        fig.axes("y", {"title": {"text": "%"}, "range": [0, 100], **NUMBERS}, row=1, col=2)
    fig.axes("x", {"title": {"text": "step"}, **NUMBERS})
    return fig.spec(height=height, margin=dict(l=60, r=20, t=50, b=120), legend=LEGEND)


def curves_figure(ft: FullTraining, bands: dict | None = None, height: int = 420) -> go.Figure:
    """:func:`curves_spec` as a go.Figure."""
    return curves_spec(ft, bands, height).figure()


def _plane_axes(ft: FullTraining) -> tuple[str, str]:
    if ft.ends is not None:  # d_i = θ_i − θ₀: run i's end at z_i = 1
        return f"z₁ ({title(ft.ends[0])}'s end at 1)", f"z₂ ({title(ft.ends[1])}'s end at 1)"
    return "z₁ (1st principal direction)", "z₂ (2nd)"


def plane_spec(ft: FullTraining, height: int = 520) -> FigureSpec:
    """The training loss over the shared plane (contour, log colour), every run's checkpoints projected onto it."""
    z = np.log10(np.clip(ft.surface, 1e-300, None))
    data = [dict(type="contour", x=ft.xs, y=ft.ys, z=z, colorscale=viridis(), ncontours=30, line=dict(width=0.5),
                 colorbar=dict(title=dict(text="log₁₀ loss", side="right"), **NUMBERS),
                 hovertemplate="z = (%{x:.3g}, %{y:.3g}): log₁₀ loss %{z:.3f}<extra></extra>")]
    for name, coords in ft.projection.coords.items():
        r = ft.runs[name]
        data.append(dict(type="scatter", x=coords[:, 0], y=coords[:, 1], mode="lines+markers", name=title(name),
                         line=dict(color=color(name), width=2), marker=dict(size=5, color=color(name)),
                         customdata=np.column_stack([r.steps, r.train_loss, ft.plane_loss[name]]),
                         hovertemplate=f"{title(name)}, step %{{customdata[0]}}: true loss "
                                       "%{customdata[1]:.4g}, plane's %{customdata[2]:.4g}<extra></extra>"))
    data.append(dict(type="scatter", x=[0.0], y=[0.0], mode="markers", name="θ₀ (the common start)",
                     marker=dict(symbol="x", size=11, color="white", line=dict(color="black", width=1))))
    x_name, y_name = _plane_axes(ft)
    return FigureSpec(data=data, layout=dict(
        height=height, margin=dict(l=70, r=20, t=40, b=130), legend=LEGEND,
        xaxis=dict(title=dict(text=x_name), **NUMBERS), yaxis=dict(title=dict(text=y_name), **NUMBERS),
        title=dict(text=f"The shared plane: it holds {100 * ft.projection.explained:.1f} % of the checkpoints' "
                        "squared distance from θ₀", font=dict(size=14))))


def plane_figure(ft: FullTraining, height: int = 520) -> go.Figure:
    """:func:`plane_spec` as a go.Figure."""
    return plane_spec(ft, height).figure()


def surface_spec(ft: FullTraining, height: int = 520) -> FigureSpec:
    """The same plane in 3-D: the loss surface and each run at its plane loss (its true loss as dots)."""
    data = [dict(type="surface", x=ft.xs, y=ft.ys, z=np.log10(np.clip(ft.surface, 1e-300, None)),
                 colorscale=viridis(), opacity=0.85, showscale=False,
                 hovertemplate="z = (%{x:.3g}, %{y:.3g}): log₁₀ loss %{z:.3f}<extra></extra>")]
    for name, coords in ft.projection.coords.items():
        r = ft.runs[name]
        data.append(dict(type="scatter3d", x=coords[:, 0], y=coords[:, 1], z=np.log10(ft.plane_loss[name]),
                         mode="lines", name=title(name), line=dict(color=color(name), width=5)))
        data.append(dict(type="scatter3d", x=coords[:, 0], y=coords[:, 1], z=np.log10(r.train_loss),
                         mode="markers", name=f"{title(name)}: true loss", legendgroup=name, showlegend=False,
                         marker=dict(size=2.5, color=color(name))))
    return FigureSpec(data=data, layout=dict(
        height=height, margin=dict(l=0, r=0, t=10, b=10), legend=LEGEND,
        scene=dict(xaxis=dict(title=dict(text="z₁"), **NUMBERS), yaxis=dict(title=dict(text="z₂"), **NUMBERS),
                   zaxis=dict(title=dict(text="log₁₀ loss"), **NUMBERS))))


def surface_figure(ft: FullTraining, height: int = 520) -> go.Figure:
    """:func:`surface_spec` as a go.Figure."""
    return surface_spec(ft, height).figure()


def honesty_spec(ft: FullTraining, height: int = 380) -> FigureSpec:
    """Per checkpoint: its distance from the plane (a share of its distance from θ₀), and its true loss beside
    the plane's loss at its projection."""
    fig = _Subplots(1, 2, ("distance from the plane<br>(share of the distance from θ₀)",
                           "true loss — , plane's loss at the projection ···"), horizontal_spacing=0.12)
    proj = ft.projection
    for name in proj.coords:
        r, c = ft.runs[name], color(name)
        fig.add(dict(type="scatter", x=r.steps[1:], y=100 * proj.share_off(name)[1:], mode="lines+markers",
                     name=title(name), legendgroup=name, line=dict(color=c), marker=dict(size=4),
                     hovertemplate=f"{title(name)}, step %{{x}}: %{{y:.1f}} % of its distance from θ₀ is off the "
                                   "plane<extra></extra>"), 1, 1)
        fig.add(dict(type="scatter", x=r.steps, y=r.train_loss, mode="lines", legendgroup=name, showlegend=False,
                     line=dict(color=c), hovertemplate=f"{title(name)}, step %{{x}}: true loss "
                                                       "%{y:.4g}<extra></extra>"), 1, 2)
        fig.add(dict(type="scatter", x=r.steps, y=ft.plane_loss[name], mode="lines", legendgroup=name,
                     showlegend=False, line=dict(color=c, dash="dot"),
                     hovertemplate=f"{title(name)}, step %{{x}}: plane's loss %{{y:.4g}}<extra></extra>"), 1, 2)
    fig.axes("y", {"title": {"text": "%"}, "rangemode": "tozero", **NUMBERS}, row=1, col=1)
    fig.axes("y", LOG, row=1, col=2)
    fig.axes("x", {"title": {"text": "step"}, **NUMBERS})
    return fig.spec(height=height, margin=dict(l=60, r=20, t=60, b=120), legend={**LEGEND, "y": -0.36})  # (its
    # two-line panel titles leave a shorter plot: the same gap below the axis title needs a larger share of it)


def honesty_figure(ft: FullTraining, height: int = 380) -> go.Figure:
    """:func:`honesty_spec` as a go.Figure."""
    return honesty_spec(ft, height).figure()


def layers_spec(ft: FullTraining, height: int = 420) -> FigureSpec:
    """Per layer (a column each): the gradient norm and the update-to-weight ratio per step (log axes), and
    where a run is Adam's (AdamW's, AMSGrad's) its effective step lr·m̂/(√v̂ + ε), the median over the layer."""
    cols = len(ft.layers)
    adam = any(r.effective_step is not None for r in ft.runs.values())
    rows = 3 if adam else 2
    titles = [f"{name}: ‖g‖" for name in ft.layers] + [f"{name}: ‖Δθ‖/‖θ‖" for name in ft.layers]
    if adam:
        titles += [f"{name}: Adam's step, median |lr·m̂/(√v̂+ε)|" for name in ft.layers]
    fig = _Subplots(rows, cols, titles, shared_xaxes=True, vertical_spacing=0.1, horizontal_spacing=0.08)
    for name, r in ft.runs.items():
        steps = np.arange(1, len(r.grad_norm) + 1)
        for j in range(cols):
            shown = [(1, r.grad_norm[:, j], "gradient norm"), (2, r.update_ratio[:, j], "update / weight")]
            if r.effective_step is not None:
                shown.append((3, r.effective_step[:, j], "Adam's effective step (median)"))
            for row, values, what in shown:
                fig.add(dict(type="scatter", x=steps, y=values, mode="lines", name=title(name), legendgroup=name,
                             showlegend=row == 1 and j == 0, line=dict(color=color(name), width=1.2),
                             hovertemplate=f"{title(name)}, step %{{x}}: {what} %{{y:.3g}}<extra></extra>"),
                        row, j + 1)
    fig.axes("y", LOG)
    fig.axes("x", {"title": {"text": "step"}, **NUMBERS}, row=rows)
    return fig.spec(height=height + (200 if adam else 0), margin=dict(l=60, r=20, t=50, b=120), legend=LEGEND)


def layers_figure(ft: FullTraining, height: int = 420) -> go.Figure:
    """:func:`layers_spec` as a go.Figure."""
    return layers_spec(ft, height).figure()

"""The loss and step-size charts: per step, one line per optimizer, a run that explodes marked where it leaves.

Built from NumPy arrays with Plotly, as optlab.plots; no Streamlit here.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import orjson
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from optlab.landscape import Landscape
from optlab.plots import GRID, NUMBERS, FigureSpec, _finite, _grid, color, log_axis, title
from optlab.simulation import Run

PROGRESS_MARGIN = dict(l=60, r=25, t=60, b=110)


# A run leaves the loss or step-size chart (and does not set its range) when it goes this far beyond what
# the landscape itself spans: on a log axis, EXPLODE_LOG decades above it; on a linear one, EXPLODE_LINEAR
# times its span beyond it. So one exploding run cannot flatten every other curve, as the contour keeps the
# landscape's domain whatever a path does.
EXPLODE_LOG = 3.0
EXPLODE_LINEAR = 100.0


def chart_range(series: list[np.ndarray], reference: tuple[float, float], log: bool) -> tuple[float, float]:
    """The y range of a per-step chart (in decades for a log axis), padded: the runs that stay within reach
    of ``reference`` (the landscape's own range of the quantity), and of the runs that explode beyond it only
    their values inside ``reference``; they leave the chart where they leave that."""
    ys = [np.asarray(y, dtype=float) for y in series]
    if log:
        with np.errstate(all="ignore"):
            ys = [np.log10(y[np.isfinite(y) & (y > 0)]) for y in ys]
        ceiling = math.log10(max(reference[1], 1e-300)) + EXPLODE_LOG
        ref = math.log10(max(reference[1], 1e-300))
        tame = [y for y in ys if y.size and y.max() <= ceiling]
        tame += [y[y <= ref] for y in ys if y.size and y.max() > ceiling]
        hi = max((float(y.max()) for y in tame if y.size), default=ref)
        below = [y[y <= hi] for y in ys]
        lo = min((float(y.min()) for y in below if y.size), default=hi - 1)
        pad = max(0.05 * (hi - lo), 0.1)
        return lo - pad, hi + pad
    ys = [y[np.isfinite(y)] for y in ys]
    r_lo, r_hi = reference
    span = max(r_hi - r_lo, abs(r_hi), abs(r_lo), 1e-12)
    within = [y.size and y.min() >= r_lo - EXPLODE_LINEAR * span and y.max() <= r_hi + EXPLODE_LINEAR * span
              for y in ys]
    tame = [y if ok else y[(y >= r_lo) & (y <= r_hi)] for y, ok in zip(ys, within, strict=True)]
    tame = [y for y in tame if y.size]
    if tame:
        lo, hi = min(float(y.min()) for y in tame), max(float(y.max()) for y in tame)
    else:
        lo, hi = r_lo, r_hi
    pad = 0.05 * (hi - lo) or 0.5 * max(abs(hi), 1e-12)
    return lo - pad, hi + pad


_AXIS = {1: "", 2: "2"}  # a panel's axes: x, y (loss) and x2, y2 (step size)


def _leaves(fig: FigureSpec, name: str, x: np.ndarray, y: np.ndarray, bounds: tuple[float, float], log: bool,
            col: int, nth: int) -> None:
    """Where a run leaves the chart: a marker at its last point inside and "↑ leaves the chart at step k"."""
    with np.errstate(all="ignore"):
        v = np.log10(np.where(y > 0, y, np.nan)) if log else y
    lo, hi = bounds
    out = np.flatnonzero(np.isfinite(v) & ((v > hi) | (v < lo)) | np.isposinf(y) | (np.isneginf(y) & (not log)))
    if not out.size:
        return
    j = int(out[0])
    up = not (np.isfinite(v[j]) and v[j] < lo) and not np.isneginf(y[j])
    if j > 0 and np.isfinite(v[j - 1]):
        px, py = float(x[j - 1]), float(y[j - 1])
    else:  # the first point is already outside: at the edge
        px, py = float(x[j]), float(10 ** (hi if up else lo)) if log else (hi if up else lo)
    c = color(name)
    fig["data"].append(dict(
        type="scatter", x=[px], y=[py], mode="markers", legendgroup=name, showlegend=False, cliponaxis=False,
        marker=dict(symbol="triangle-up" if up else "triangle-down", size=11, color=c, line=dict(color="white",
                                                                                                   width=1)),
        hovertemplate=f"{title(name)} leaves the chart at step {int(x[j])}<extra></extra>", xaxis=f"x{_AXIS[col]}",
        yaxis=f"y{_AXIS[col]}"))
    left = px <= 0.6 * float(np.nanmax(x))  # the text on the side with room, inside its panel
    fig["layout"].setdefault("annotations", []).append(dict(
        x=px, y=math.log10(py) if log else py, text=f"{'↑' if up else '↓'} leaves the chart at step {int(x[j])}",
        showarrow=False, xanchor="left" if left else "right", xshift=8 if left else -8,
        yshift=(-10 if up else 10) - 14 * nth,
        font=dict(size=11, color=c), bgcolor="rgba(255,255,255,0.75)", xref=f"x{_AXIS[col]}", yref=f"y{_AXIS[col]}"))


@functools.cache
def _panels_spec(gap: bool) -> bytes:
    # the panels' names as titles above them, in two short lines (on a phone a y title of the right panel
    # sat on the left one), the legend under them
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                        subplot_titles=("loss per step<br>" + ("f − f*" if gap else "f"), "step size<br>‖θₖ − θₖ₋₁‖"))
    fig.update_annotations(font=dict(size=13))
    fig.update_xaxes(title_text="step", **NUMBERS)
    return orjson.dumps(fig.to_dict()["layout"])


def _panels(gap: bool) -> dict:
    """The two panels' layout, laid out by plotly's make_subplots once (it takes longer than the rest of the
    figure): traces go on axes x, y (loss) and x2, y2 (step size)."""
    return orjson.loads(_panels_spec(gap))


def progress_spec(land: Landscape, runs: dict[str, Run], height: int = 320) -> FigureSpec:
    """Two panels: loss per step (f − f* on a log axis where the minimum is known, f itself otherwise)
    and step size ‖θ_k − θ_{k−1}‖ per step (log axis: where steps shrink, grow or explode).

    Each keeps the range of the runs that did not explode (see :func:`chart_range`); a run that
    leaves it is marked where it does."""
    gap = land.f_min is not None
    losses, sizes, traces = {}, {}, []
    for name, run in runs.items():
        y = run.loss - land.f_min if gap else run.loss
        if gap:
            y = np.where(y > 0, y, np.nan)  # exactly at the minimum: nothing to draw on a log axis
        losses[name] = (np.arange(run.steps + 1), y)
        size = np.linalg.norm(np.diff(run.path, axis=0), axis=1)
        sizes[name] = (np.arange(1, run.steps + 1), np.where(size > 0, size, np.nan))
        template = f"{title(name)} step %{{x}}<br>%{{y:.4g}}<extra></extra>"
        line = dict(type="scatter", mode="lines", name=title(name), legendgroup=name,
                    line=dict(color=color(name), width=2), hovertemplate=template)
        traces += [dict(line, x=losses[name][0], y=y, xaxis="x", yaxis="y"),
                   dict(line, x=sizes[name][0], y=sizes[name][1], showlegend=False, xaxis="x2", yaxis="y2")]
    # the landscape's own ranges: f over the plotting grid (and the start), and the domain's size
    z = _finite(_grid(land, GRID)[2])
    starts = [float(y[0]) for _, y in losses.values() if np.isfinite(y[0])]
    if gap:
        loss_ref = (0.0, max([float(np.percentile(z, 99.5)) - land.f_min, *starts, 1e-300]))
    else:
        loss_ref = (min([float(np.percentile(z, 0.5)), *starts]), max([float(np.percentile(z, 99.5)), *starts]))
    (x0, x1), (y0, y1) = land.domain
    size_ref = (0.0, math.hypot(x1 - x0, y1 - y0) / 3)  # EXPLODE_LOG decades over this: 300 domains a step
    loss_range = chart_range([y for _, y in losses.values()], loss_ref, gap)
    size_range = chart_range([y for _, y in sizes.values()], size_ref, True)
    loss_axis = log_axis(*loss_range) if gap else dict(type="linear", **NUMBERS)
    layout = _panels(gap)
    layout["yaxis"].update(range=list(loss_range), **loss_axis)
    layout["yaxis2"].update(range=list(size_range), **log_axis(*size_range))
    layout.update(height=height + 40, margin=PROGRESS_MARGIN,
                  legend=dict(orientation="h", y=-0.28, x=0, xanchor="left", yanchor="top"))
    fig = FigureSpec(data=traces, layout=layout)
    for nth, name in enumerate(runs):
        _leaves(fig, name, *losses[name], loss_range, gap, 1, nth)
        _leaves(fig, name, *sizes[name], size_range, True, 2, nth)
    return fig


def progress_figure(land: Landscape, runs: dict[str, Run], height: int = 320) -> go.Figure:
    """progress_spec's figure as a go.Figure (the Python API's)."""
    return progress_spec(land, runs, height).figure()

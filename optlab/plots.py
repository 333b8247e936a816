"""Plotly figures of runs: contour, small multiples and 3-D surface with trajectories (loss and step size
per step: optlab.progress_plots).

Built from NumPy arrays; no Streamlit here. The contour figure carries its own
animation (frames, play/pause, a step slider) that runs in the browser.
"""

from __future__ import annotations

import functools
import math
import zlib

import numpy as np
import orjson
import plotly.graph_objects as go
from _plotly_utils.utils import to_typed_array_spec
from plotly.subplots import make_subplots

from optlab.landscape import Landscape
from optlab.optimizers import get_optimizer, optimizer_names, optimizer_title
from optlab.simulation import Run

# one colour per declared optimizer (20 now): the first 13 as before, then from plotly's Dark24 those least like
# them (with 13 colours for 20 optimizers, SGD and Rprop, Adam and L-BFGS ... were drawn alike)
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#bcbd22", "#7f7f7f", "#393b79", "#ad494a", "#637939", "#00A08B", "#B68100", "#750D86", "#FB00D1",
           "#222A2A", "#1616A7", "#862A16", "#A777F1", "#620042", "#778AAE", "#0D2A63")
MAX_FRAMES = 100
GRID = 120
# Margins as large as plotly's automatic margins come out on a wide screen (room for axis labels, colour bar,
# legend, play button and slider). Plotly draws a figure, measures what pushes its margins and, when they must
# grow, draws it all again: preset, the page's figures are drawn once (~0.2 s less browser time). They still
# grow where needed (a long legend, a narrow screen).
CONTOUR_MARGIN = dict(l=85, r=95, t=50, b=165)
MULTIPLES_MARGIN = dict(l=40, r=85, t=70, b=155)


def color(optimizer: str) -> str:
    """A fixed colour per optimizer, the same in every figure and view (a torch class's run: from its name)."""
    names = optimizer_names()
    index = names.index(optimizer) if optimizer in names else zlib.crc32(optimizer.encode())
    return PALETTE[index % len(PALETTE)]


def title(optimizer: str) -> str:
    """What a person reads for an optimizer (legends, panel titles, hover): "SGD + momentum", not "momentum";
    a torch class's run: "Adam (torch.optim, not verified by us)"."""
    return optimizer_title(optimizer)


# Numbers on every axis and colour bar as powers of ten (10⁻⁴, 2×10¹¹), never Plotly's SI suffixes
# ("100µ", "−200B"); a log axis labels its decades only (not its minor ticks as bare "2" and "5").
NUMBERS = dict(exponentformat="power")


def log_axis(lo: float | None = None, hi: float | None = None) -> dict:
    """A log axis's settings; lo, hi: its range in decades (log₁₀), where known, to space the labelled ones."""
    axis = dict(type="log", exponentformat="power", minorloglabels="none")
    if lo is not None and hi is not None:
        decades = hi - lo
        if decades >= 1.5:
            # at most about five labels, decades or every n-th: six across 10⁻⁵…10 crowded a phone's sweep chart
            axis["dtick"] = max(1, math.ceil(decades / 4))
        else:  # within a decade or so, decades alone would leave one label or none: 1 to 9 times each, in full
            axis["minorloglabels"] = "complete"
            axis["dtick"] = "D1"
    return axis


@functools.lru_cache(maxsize=64)
def _grid(land: Landscape, n: int):
    (x0, x1), (y0, y1) = land.domain
    xs, ys = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
    z = land.f(np.stack(np.meshgrid(xs, ys), axis=-1))
    return xs, ys, z


class Scale:
    """Log-spaced colours and heights where f spans decades (Rosenbrock), linear otherwise."""

    def __init__(self, z: np.ndarray, f_min: float | None):
        finite = z[np.isfinite(z)]
        if not finite.size:  # nowhere finite on the plotting grid (sqrt(x)*sqrt(-x): only on the line x = 0)
            finite = np.zeros(1) if f_min is None else np.full(1, f_min)
        self.floor = f_min if f_min is not None else float(finite.min())
        above = finite - self.floor
        spread = np.percentile(above, 95) / max(np.percentile(above, 5), 1e-12)
        self.log = bool(f_min is not None and spread > 100)
        self.delta = max(float(np.percentile(above, 3)), 1e-12) if self.log else 0.0
        self.label = "log₁₀(f − f*)" if self.log else "f"

    def __call__(self, f):
        f = np.asarray(f, dtype=float)
        if not self.log:
            return f
        with np.errstate(all="ignore"):
            return np.log10(np.maximum(f - self.floor, 0) + self.delta)


def _finite(z: np.ndarray) -> np.ndarray:
    """z's finite values; [0, 1] where there are none, so that a blank plot still has a colour range."""
    finite = z[np.isfinite(z)]
    return finite if finite.size else np.array([0.0, 1.0])


def _scale(land: Landscape) -> Scale:
    return Scale(_grid(land, GRID)[2], land.f_min)


def _frames_at(steps: int) -> np.ndarray:
    return np.unique(np.linspace(0, steps, min(steps, MAX_FRAMES) + 1).round().astype(int))


def _last_finite(path: np.ndarray, k: int) -> np.ndarray:
    """θ_k, or the last finite point before it for a diverged run."""
    rows = np.flatnonzero(np.isfinite(path[: k + 1]).all(axis=1))
    return path[rows[-1]] if len(rows) else path[0]


def _contour_traces(land: Landscape, showscale: bool = True) -> list:
    xs, ys, z = _grid(land, GRID)
    a, b = land.axis_names
    scale = _scale(land)
    zz = scale(z)
    finite = _finite(zz)
    lo, hi = float(finite.min()), float(np.percentile(finite, 99.5))
    traces = [
        dict(
            type="contour", x=xs, y=ys, z=zz, colorscale=viridis(), ncontours=30, zmin=lo, zmax=hi,
            contours=dict(coloring="heatmap", showlines=True), line=dict(width=0.5, color="rgba(255,255,255,0.35)"),
            colorbar=dict(title=dict(text=scale.label, side="right"), thickness=12, len=0.9, **NUMBERS),
            showscale=showscale, name="f",
            # a click on the contour sets the start point (Plotly's click event; optlab.chart reads the pointer)
            hovertemplate=f"click to start here: {a} = %{{x:.3g}}, {b} = %{{y:.3g}}<extra></extra>",
        ),
    ]
    return traces


def _markers(land: Landscape, start) -> list:
    a, b = land.axis_names
    at = f"{a} = %{{x:.4g}}, {b} = %{{y:.4g}}"
    traces = []
    if len(land.minima):
        traces.append(dict(
            type="scatter", x=land.minima[:, 0], y=land.minima[:, 1], mode="markers",
            name="estimated minimum" if land.formula is not None else "global minimum",
            marker=dict(symbol="star", size=15, color="white", line=dict(color="black", width=1)),
            hovertemplate=("estimated " if land.formula is not None else "")
            + f"minimum: {at}<extra></extra>",
        ))
    traces.append(dict(
        type="scatter", x=[float(start[0])], y=[float(start[1])], mode="markers", name="start",
        marker=dict(symbol="x", size=11, color="white", line=dict(color="black", width=1)),
        hovertemplate=f"start: {at}<extra></extra>",
    ))
    return traces


def _path_trace(name: str, run: Run, showlegend=True, xaxis=None, yaxis=None,
                axis_names: tuple[str, str] = ("x", "y")) -> dict:
    k = np.arange(run.steps + 1)
    a, b = axis_names
    return dict(
        type="scatter", x=run.path[:, 0], y=run.path[:, 1], mode="lines+markers", name=title(name), legendgroup=name,
        line=dict(color=color(name), width=2), marker=dict(size=3, color=color(name)), showlegend=showlegend,
        customdata=np.column_stack([k, run.loss]),
        hovertemplate=f"{title(name)} step %{{customdata[0]}}<br>{a} = %{{x:.4g}}, {b} = %{{y:.4g}}"
        "<br>f = %{customdata[1]:.4g}<extra></extra>",
        **({"xaxis": xaxis, "yaxis": yaxis} if xaxis else {}),
    )


POINT_DASHES = ("dot", "dash", "dashdot")  # an optimizer's point buffers, in the order declared


def _point_traces(name: str, run: Run, xaxis=None, yaxis=None, axis_names=("x", "y")) -> list:
    """The paths of the state buffers that are points on the landscape (a declaration's ``point=True``:
    ASGD's averaged iterate θ̄), dashed in the optimizer's colour and legend group: what it reports
    beside where it steps."""
    if not run.verified:
        return []
    a, b = axis_names
    out = []
    points = [p for p in get_optimizer(run.optimizer).buffers if p.point and p.name in run.state]
    for i, buffer in enumerate(points):  # several (schedule-free's z and x): each its own dash
        xy = run.state[buffer.name]
        label = f"{title(name)}: {buffer.help.split(':')[0]}"
        out.append(dict(
            type="scatter", x=xy[:, 0], y=xy[:, 1], mode="lines", name=label, legendgroup=name, showlegend=False,
            line=dict(color=color(name), width=2, dash=POINT_DASHES[i % len(POINT_DASHES)]),
            customdata=np.arange(1, run.steps + 1),
            hovertemplate=f"{label}, step %{{customdata}}<br>{a} = %{{x:.4g}}, {b} = %{{y:.4g}}<extra></extra>",
            **({"xaxis": xaxis, "yaxis": yaxis} if xaxis else {})))
    if run.trace is not None:  # an evaluating optimizer (LBFGS): every point a step evaluated
        out.append(_evaluations_trace(name, run, xaxis, yaxis, axis_names))
    return out


def _evaluations_trace(name: str, run: Run, xaxis=None, yaxis=None, axis_names=("x", "y")) -> dict:
    """The points an evaluating optimizer's steps evaluated (LBFGS's iterations and line search), as small
    open markers in its colour: one step moves through several of them."""
    a, b = axis_names
    rows = [(k + 1, j + 1, *xyf, what) for k, step in enumerate(run.trace)
            for j, (xyf, what) in enumerate(zip(step["evaluated"].tolist(), step["what"], strict=True))]
    k, j, x, y, f, what = (list(c) for c in zip(*rows, strict=True)) if rows else ([],) * 6
    label = f"{title(name)}: points evaluated inside its steps"
    return dict(
        type="scatter", x=x, y=y, mode="markers", name=label, legendgroup=name, showlegend=False,
        marker=dict(symbol="circle-open", size=5, color=color(name), line=dict(width=1)),
        **({"customdata": np.array([k, j, f, what], dtype=object).T} if rows else {}),
        hovertemplate=f"{title(name)} step %{{customdata[0]}}, evaluation %{{customdata[1]}} (%{{customdata[3]}})"
        f"<br>{a} = %{{x:.4g}}, {b} = %{{y:.4g}}<br>f = %{{customdata[2]:.4g}}<extra></extra>",
        **({"xaxis": xaxis, "yaxis": yaxis} if xaxis else {}))


HEAD_RADIUS = 6.5  # px: the position marker of each optimizer, a 13 px disc with a white outline


def _head_shape(name: str, run: Run, k: int, xref: str = "x", yref: str = "y") -> dict:
    """The marker of an optimizer's position at step k: a circle shape of fixed pixel size.

    A layout shape, not a trace: animation frames that update a trace make plotly.js replot
    only that trace, and its cartesian plot then removes every layer without a listed trace,
    the contour's among them (see _animation). It joins the optimizer's legend group, so
    hiding the optimizer in the legend hides its marker too.
    """
    return dict(type="circle", xref=xref, yref=yref, xsizemode="pixel", ysizemode="pixel",
                x0=-HEAD_RADIUS, x1=HEAD_RADIUS, y0=-HEAD_RADIUS, y1=HEAD_RADIUS, **_head_xy(run, k),
                fillcolor=color(name), line=dict(color="white", width=2), layer="above",
                legendgroup=name, showlegend=False)


def _head_xy(run: Run, k: int) -> dict:
    """A frame's update of one position marker: only its anchor (plotly keeps the rest of the shape)."""
    x, y = _last_finite(run.path, k)
    return dict(xanchor=float(x), yanchor=float(y))


class AnimatedFigure(go.Figure):
    """A figure whose animation (its frames, the Play/Pause buttons and the step slider) is held as plain
    JSON-ready dicts and merged in wherever the figure is written: ``to_dict``, and so ``to_json``,
    ``to_plotly_json``, ``show``, ``write_html`` and the app's chart element. plotly's object model validates
    and copies each of a hundred frames and slider steps, which took 45 of the contour figure's 59 ms on every
    change. ``animation()`` gives them as written."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._optlab_animation = orjson.dumps({"layout": {}, "frames": []})

    def set_animation(self, layout: dict, frames: list) -> None:
        """The figure's animation: layout entries ("updatemenus", "sliders") and frames, kept as written."""
        self._optlab_animation = to_json({"layout": layout, "frames": frames})

    def animation(self) -> dict:
        """{"layout": {"updatemenus": [...], "sliders": [...]}, "frames": [...]}: a fresh copy."""
        return orjson.loads(self._optlab_animation)

    def to_dict(self) -> dict:
        spec = super().to_dict()
        extra = self.animation()
        spec["layout"].update(extra["layout"])
        if extra["frames"]:
            spec["frames"] = extra["frames"]
        return spec


@functools.cache
def _viridis() -> bytes:
    return orjson.dumps(go.Contour(colorscale="Viridis").to_plotly_json()["colorscale"])


def viridis() -> list:
    """The Viridis colour scale as plotly writes it for colorscale="Viridis" (a fresh copy)."""
    return orjson.loads(_viridis())


def _typed(value):
    """orjson's default for what it does not write itself: a NumPy array as plotly writes it (plotly's own
    base64 typed-array spec; an array of objects as a list), a NumPy number as a number."""
    if isinstance(value, np.ndarray):
        spec = to_typed_array_spec(value)
        return spec.tolist() if isinstance(spec, np.ndarray) else spec
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON: {type(value).__name__}")


def to_json(value) -> bytes:
    """JSON of a figure spec (or any part of one) as plotly.js reads it, NumPy arrays as plotly writes them."""
    return orjson.dumps(value, default=_typed)


class FigureSpec(dict):
    """A figure as plotly.js reads it, ``{"data": [...], "layout": {...}, "frames": [...]}`` with NumPy arrays
    inside, built without plotly's object model. That model validates, converts and copies every value: for the
    page's three figures ~100 ms of each rerun that changes a run, three quarters of the server's work. The app
    draws specs (optlab.chart writes them with :func:`to_json`); ``figure()`` gives the same figure as a
    go.Figure (the Python API's); tests/test_compare.py checks that both write the same JSON."""

    def __init__(self, data: list, layout: dict, frames: list | None = None):
        super().__init__(data=data, layout=layout, **({"frames": frames} if frames else {}))

    def figure(self) -> go.Figure:
        layout = dict(self["layout"])
        animation = {k: layout.pop(k) for k in ("updatemenus", "sliders") if k in layout}
        fig = AnimatedFigure(self["data"], layout=layout)
        if animation or self.get("frames"):
            fig.set_animation(animation, self.get("frames", []))
        return fig


def _animation_spec(frames: np.ndarray, make_heads) -> tuple[dict, list]:
    """Browser-side animation frames that move only the position markers (layout shapes), and the layout
    entries that play them: ({"updatemenus", "sliders"}, frames).

    Frames carry no trace data, only the shapes' anchors. A frame that updates a trace
    (even a scatter trace named exactly in ``traces=[...]``) makes plotly.js's cartesian
    plot redraw that trace alone and remove the layers of all the others: the contour was
    gone for the whole animation (0 of its paths while playing), whether or not the frame
    asked for a redraw (the redraw put it back only for the next frame to remove it again).
    With layout-only frames no trace is replotted; redraw=True draws each frame whole
    (about 125 ms per frame in software rendering).

    The buttons sit in their own row above the slider, whose rail spans the plot's width, so that every
    step stays clickable on a phone as on a desktop. Both hang from the plot area's bottom edge (y=0) by a
    padding in pixels, so they stay clear of the x-axis title however tall the plot area comes out (on a
    phone the legend takes more rows and the plot area shrinks: a position in plot fractions moved up into
    the title there).
    """
    still = dict(mode="immediate", frame=dict(duration=0, redraw=True), transition=dict(duration=0))
    layout = dict(
        updatemenus=[dict(
            type="buttons", direction="left", x=0.0, y=0.0, xanchor="left", yanchor="top", showactive=False,
            pad=dict(t=70, r=8),
            buttons=[
                dict(label="▶ Play", method="animate", args=[None, dict(
                    frame=dict(duration=60, redraw=True), transition=dict(duration=0), fromcurrent=True)]),
                dict(label="❚❚ Pause", method="animate", args=[[None], still]),
            ],
        )],
        sliders=[dict(
            active=len(frames) - 1, x=0.0, y=0.0, len=1.0, xanchor="left", yanchor="top",
            currentvalue=dict(prefix="step ", font=dict(size=12), xanchor="right"),
            pad=dict(t=106, b=0),
            steps=[dict(label=str(k), method="animate", args=[[str(k)], still]) for k in frames],
        )],
    )
    return layout, [dict(name=str(k), layout=dict(shapes=make_heads(k))) for k in frames]


def _animation(fig: AnimatedFigure, frames: np.ndarray, make_heads) -> AnimatedFigure:
    """The animation of _animation_spec, added to a figure."""
    fig.set_animation(*_animation_spec(frames, make_heads))
    return fig


def contour_spec(land: Landscape, runs: dict[str, Run], start, height: int = 520) -> FigureSpec:
    """All optimizers overlaid on the contour, with a browser-side animation of their positions."""
    traces = _contour_traces(land) + _markers(land, start)
    traces += [_path_trace(name, run, axis_names=land.axis_names) for name, run in runs.items()]
    traces += [t for name, run in runs.items() for t in _point_traces(name, run, axis_names=land.axis_names)]
    steps = max((r.steps for r in runs.values()), default=0)
    (x0, x1), (y0, y1) = land.domain
    a, b = land.axis_names
    animation, frames = _animation_spec(_frames_at(steps), lambda k: [_head_xy(r, k) for r in runs.values()])
    return FigureSpec(data=traces, frames=frames, layout=dict(
        height=height, margin=CONTOUR_MARGIN, uirevision=land.name,
        xaxis=dict(range=[x0, x1], title=dict(text=a), constrain="domain", **NUMBERS),
        yaxis=dict(range=[y0, y1], title=dict(text=b), **NUMBERS),
        legend=dict(orientation="h", y=1.02, x=0, yanchor="bottom"), clickmode="event+select",
        dragmode="zoom", shapes=[_head_shape(name, run, steps) for name, run in runs.items()], **animation,
    ))


def contour_figure(land: Landscape, runs: dict[str, Run], start, height: int = 520) -> go.Figure:
    """All optimizers overlaid on the contour, with a browser-side animation of their positions."""
    return contour_spec(land, runs, start, height).figure()


# one panel each: a panel's height by the number of columns, so that panels keep about the overlay's
# aspect (a half-page column is ~700 px wide) instead of growing tall and narrow
PANEL_HEIGHT = {1: 360, 2: 300, 3: 230}


def multiples_figure(land: Landscape, runs: dict[str, Run], start, height: int | None = None) -> go.Figure:
    """One contour panel per optimizer, same axes, one slider moving them all to the same step.

    Each panel has the overlay's marks (global minimum, start), and the legend names them; each
    panel's title names its optimizer. ``height``: of one row of panels (default: by the number of columns)."""
    names = list(runs)
    cols = min(len(names), 3)
    rows = math.ceil(len(names) / cols)
    row_px = height or PANEL_HEIGHT[max(cols, 1)]
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[title(n) for n in names], shared_xaxes=True,
                        figure=AnimatedFigure(),
                        shared_yaxes=True, horizontal_spacing=0.07, vertical_spacing=min(0.08, 40 / (row_px * rows)))
    heads = []  # one position marker per panel, on that panel's axes
    steps = max((r.steps for r in runs.values()), default=0)
    for i, name in enumerate(names):
        row, col = divmod(i, cols)
        for t in _contour_traces(land, showscale=i == 0) + _markers(land, start):
            t["showlegend"] = i == 0 and t["type"] == "scatter"  # the marks' legend entries once
            t["legendgroup"] = t["name"]
            fig.add_trace(t, row=row + 1, col=col + 1)
        # the panel's title names its optimizer; the legend holds the marks
        fig.add_trace(_path_trace(name, runs[name], showlegend=False, axis_names=land.axis_names), row=row + 1,
                      col=col + 1)
        path = fig.data[-1]
        for t in _point_traces(name, runs[name], axis_names=land.axis_names):
            fig.add_trace(t, row=row + 1, col=col + 1)
        heads.append(_head_shape(name, runs[name], steps, xref=path.xaxis or "x", yref=path.yaxis or "y"))
    (x0, x1), (y0, y1) = land.domain
    a, b = land.axis_names
    fig.update_xaxes(range=[x0, x1], nticks=6 if cols < 3 else 4, **NUMBERS)
    fig.update_yaxes(range=[y0, y1], nticks=6, **NUMBERS)
    fig.update_xaxes(title_text=a, row=rows)
    fig.update_yaxes(title_text=b, col=1)
    total = row_px * rows + MULTIPLES_MARGIN["t"] + MULTIPLES_MARGIN["b"]
    plot_px = total - MULTIPLES_MARGIN["t"] - MULTIPLES_MARGIN["b"]
    fig.update_layout(height=total, margin=MULTIPLES_MARGIN, shapes=heads,  # the legend above the panel titles
                      legend=dict(orientation="h", y=1 + 26 / plot_px, x=0, yanchor="bottom"))
    fig.update_annotations(yshift=4)  # the panel titles, clear of the panel below's top edge
    return _animation(fig, _frames_at(steps), lambda k: [_head_xy(runs[n], k) for n in names])


def surface_spec(land: Landscape, runs: dict[str, Run], height: int = 520) -> FigureSpec:
    """The landscape as a 3-D surface, each run's path on it."""
    xs, ys, z = _grid(land, 80)
    scale = _scale(land)
    zz = scale(z)
    finite = _finite(zz)
    # a linear scale is clipped at its 99.5th percentile, so that a few towering corners do not flatten the
    # rest; a log scale is not (clipping there only cut a saw-toothed edge into the surface)
    top = float(np.percentile(finite, 99.5)) if not scale.log else float(finite.max())
    traces = [dict(type="surface", x=xs, y=ys, z=np.minimum(zz, top), colorscale=viridis(), opacity=0.9,
                   showscale=False, hoverinfo="skip", name="f", contours=dict(z=dict(show=False)))]
    (x0, x1), (y0, y1) = land.domain
    a, b = land.axis_names
    for name, run in runs.items():
        p = run.path
        inside = (p[:, 0] >= x0) & (p[:, 0] <= x1) & (p[:, 1] >= y0) & (p[:, 1] <= y1)
        lift = 0.02 * (top - float(finite.min()))  # just above the surface, so it is not hidden by it
        zp = np.where(inside, np.minimum(scale(run.loss), top) + lift, np.nan)
        traces.append(dict(
            type="scatter3d", x=np.where(inside, p[:, 0], np.nan), y=np.where(inside, p[:, 1], np.nan), z=zp,
            mode="lines",
            name=title(name), legendgroup=name, line=dict(color=color(name), width=6),
            hovertemplate=f"{title(name)}<br>{a} = %{{x:.3g}}, {b} = %{{y:.3g}}<extra></extra>",
        ))
    axis = dict(**NUMBERS)
    return FigureSpec(data=traces, layout=dict(
        height=height, margin=dict(l=0, r=0, t=30, b=0), uirevision=land.name, showlegend=False,
        # few height labels: seen from high up the z axis is short on screen, and six labels ran together
        scene=dict(xaxis=dict(title=dict(text=a), **axis), yaxis=dict(title=dict(text=b), **axis),
                   zaxis=dict(title=dict(text=scale.label), nticks=4, **axis),
                   # from high up: into valleys (Rosenbrock's), not at the ridge in front of them
                   camera=dict(eye=dict(x=0.9, y=-1.3, z=1.7), center=dict(x=0, y=0, z=-0.15)), aspectmode="manual",
                   aspectratio=dict(x=1, y=1, z=0.6)),
    ))


def surface_figure(land: Landscape, runs: dict[str, Run], height: int = 520) -> go.Figure:
    """The landscape as a 3-D surface, each run's path on it."""
    return surface_spec(land, runs, height).figure()

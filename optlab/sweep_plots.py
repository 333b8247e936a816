"""Plotly figures of the many-run views (optlab.sweeps): sensitivity heatmap, basin maps, seed bands.

Built from NumPy arrays, no Streamlit. Large grids go in as float32/int16 arrays, which
Plotly serialises as compact typed arrays.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.colors import hex_to_rgb
from plotly.subplots import make_subplots

from optlab.optimizers import get_optimizer
from optlab.plots import NUMBERS, color, log_axis
from optlab.sweeps import TOL, BasinMap, SeedBand, Sweep

# outcome colours of a basin map: one per declared minimum, then "none" and "diverged"
BASIN_COLORS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#1f78b4")
NONE_COLOR, DIVERGED_COLOR = "#9e9e9e", "#202020"


def _axis_title(optimizer: str, name: str) -> str:
    p = get_optimizer(optimizer).param(name)
    meaning = p.help.split(":")[0].split(" (")[0]  # "decay of the first moment m (the momentum)" -> before "("
    return f"{name}: {meaning}" if meaning else name


def sweep_colours(sweep: Sweep, metric: str) -> tuple[np.ndarray, str, float, float]:
    """(z, colour-bar title, zmin, zmax): what a sweep's heatmap shows, with a range no outlier can ruin.

    final_loss: log₁₀(f − f*) from 1e-16 up to 100 times the start's gap (a run that ends further
    up has blown up, whatever its number); without a known minimum (saddles) a signed
    log, sign(f)·log₁₀(1 + |f|), within 6 decades of the start's. steps_to_tol: steps.
    """
    finite = lambda a: a[np.isfinite(a)]  # noqa: E731
    if metric == "steps_to_tol":
        z = sweep.steps_to_tol
        vals = finite(z)
        return z, "steps to tolerance", 0.0, float(vals.max()) if vals.size else float(sweep.steps)
    with np.errstate(all="ignore"):
        if sweep.f_min is not None:
            z = np.log10(np.maximum(sweep.final_loss - sweep.f_min, 1e-300))
            lo, hi = -16.0, math.log10(max(sweep.start_loss - sweep.f_min, 1e-16)) + 2
            title = "log₁₀(final f − f*)"
        else:
            signed = lambda f: np.sign(f) * np.log10(1 + np.abs(f))  # noqa: E731
            z = signed(sweep.final_loss)
            lo, hi = float(signed(sweep.start_loss)) - 6, float(signed(sweep.start_loss)) + 6
            title = "sign·log₁₀(1 + |final f|)"
    vals = finite(z)
    if vals.size:  # no wider than the data, no wider than the band
        lo, hi = max(lo, float(vals.min())), min(hi, float(vals.max()))
    if not lo < hi:
        lo, hi = lo - 0.5, lo + 0.5
    return z, title, lo, hi


def sensitivity_figure(sweep: Sweep, metric: str = "final_loss", current: tuple[float, float] | None = None,
                       height: int = 480) -> go.Figure:
    """Heatmap over the two hyperparameters; diverged cells crossed out; click a cell to load it."""
    p_x = get_optimizer(sweep.optimizer).param(sweep.x_name)
    p_y = get_optimizer(sweep.optimizer).param(sweep.y_name)
    z, title, lo, hi = sweep_colours(sweep, metric)
    fig = go.Figure(go.Heatmap(
        x=sweep.x, y=sweep.y, z=np.clip(z, lo, hi).astype(np.float32), zmin=lo, zmax=hi, colorscale="Viridis",
        reversescale=True, colorbar=dict(title=dict(text=title, side="right"), thickness=14, **NUMBERS),
        hoverinfo="skip",  # the cell markers below carry the hover, so that a click selects one
    ))
    yy, xx = np.nonzero(~np.isnan(sweep.diverged_at))
    if len(xx):
        fig.add_trace(go.Scatter(
            x=sweep.x[xx], y=sweep.y[yy], mode="markers", name="diverged", hoverinfo="skip",
            marker=dict(symbol="x-thin", size=7, line=dict(width=1.5, color="#c62828")),
        ))
    b = sweep.boundary
    if b is not None:
        inside = (b.lr >= sweep_lr_range(sweep)[0]) & (b.lr <= sweep_lr_range(sweep)[1])
        if inside.any():  # the limit, dashed, where it falls within the swept rates
            lr, along = b.lr[inside], b.values[inside]
            xy = dict(x=lr if sweep.x_name == "lr" else along, y=along if sweep.x_name == "lr" else lr)
            name = "stability limit" + ("" if b.everywhere else " at the start")
            # a dark line under a white dashed one: visible on light and dark cells, and in the legend
            fig.add_trace(go.Scatter(**xy, mode="lines", name=name, legendgroup="limit", hoverinfo="skip",
                                     line=dict(color="#212121", width=4.5)))
            fig.add_trace(go.Scatter(**xy, mode="lines", name=name, legendgroup="limit", hoverinfo="skip",
                                     showlegend=False, line=dict(color="white", width=2, dash="dash")))
    if current is not None:
        fig.add_trace(go.Scatter(
            x=[current[0]], y=[current[1]], mode="markers", name="the comparison's setting", hoverinfo="skip",
            marker=dict(symbol="star", size=16, color="white", line=dict(width=1.5, color="black")),
            unselected=dict(marker=dict(opacity=1))))
    # plotly.js cannot select a heatmap cell: an invisible marker per cell makes a click return x, y.
    # One trace per kind of cell, each with its own hover text.
    gx, gy = np.meshgrid(sweep.x, sweep.y)
    where = f"{sweep.x_name} = %{{x:.4g}}<br>{sweep.y_name} = %{{y:.4g}}<br>"
    value = "%{customdata:.0f} steps" if metric == "steps_to_tol" else f"{title} = %{{customdata:.3g}}"
    diverged = ~np.isnan(sweep.diverged_at)
    never = sweep.allowed & ~diverged & np.isnan(z)
    kinds = [
        (sweep.allowed & ~diverged & ~never, z, value + "<br>click to run this setting"),
        (diverged, sweep.diverged_at, "diverged at step %{customdata:.0f}<br>click to run this setting"),
        (never, z, f"never within {TOL:g} of f*<br>click to run this setting" if metric == "steps_to_tol"
         else "click to run this setting"),
        (~sweep.allowed, z, f"{get_optimizer(sweep.optimizer).title} does not allow this setting"),
    ]
    for mask, data, text in kinds:
        if mask.any():
            fig.add_trace(go.Scatter(
                x=gx[mask], y=gy[mask], customdata=data[mask].astype(np.float32), mode="markers", showlegend=False,
                marker=dict(opacity=0, size=10), hovertemplate=where + text + "<extra></extra>"))
    fig.update_xaxes(title_text=_axis_title(sweep.optimizer, sweep.x_name), **_sweep_axis(p_x, sweep.x))
    fig.update_yaxes(title_text=_axis_title(sweep.optimizer, sweep.y_name), **_sweep_axis(p_y, sweep.y))
    fig.update_xaxes(automargin=True)  # small margins that grow to fit the labels (the chart element has no
    fig.update_yaxes(automargin=True)  # template that turns this on, as st.plotly_chart's had)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=60, b=10), clickmode="event+select", hoverdistance=-1,
                      plot_bgcolor="#e0e0e0", dragmode="zoom",
                      legend=dict(orientation="h", y=1.0, x=0, xanchor="left", yanchor="bottom"),
                      title=dict(text=f"{get_optimizer(sweep.optimizer).title}, {sweep.steps} steps: "
                                      "click a cell to run that setting", font=dict(size=14), y=0.98, x=0,
                                 xanchor="left"))
    return fig


def sweep_lr_range(sweep: Sweep) -> tuple[float, float]:
    values = sweep.x if sweep.x_name == "lr" else sweep.y
    return float(values.min()), float(values.max())


def _sweep_axis(p, values) -> dict:
    """A sweep axis: decades only, as powers of ten, on a log one (lr), plain numbers otherwise."""
    if not p.log:
        return dict(type="linear", **NUMBERS)
    v = np.asarray(values, dtype=float)
    return log_axis(math.log10(v.min()), math.log10(v.max()))


OTHER_COLORS = ("#80b1d3", "#ffed6f", "#bc80bd", "#fb8072", "#b3de69", "#fccde5", "#bebada", "#fdb462",
                "#8dd3c7", "#ccebc5")  # lighter than the global minima's; the first ones far from green and orange


def _tint(hex_color: str, amount: float) -> str:
    r, g, b = (round(v + (255 - v) * amount) for v in hex_to_rgb(hex_color))
    return f"rgb({r},{g},{b})"


def _merged_ends(maps: dict[str, BasinMap]) -> tuple[np.ndarray, list[str], dict[str, np.ndarray]]:
    """The other end points of all panels, merged within the radius so that one point has one colour:
    (points, labels, per map the merged index of each of its own end points)."""
    points: list[np.ndarray] = []
    labels: list[str] = []
    index = {}
    for name, m in maps.items():
        own = []
        for e, point in enumerate(m.ends):
            near = [i for i, p in enumerate(points) if np.hypot(*(p - point)) <= m.radius]
            if near:
                own.append(near[0])
            else:
                points.append(point)
                labels.append(m.label(len(m.minima) + e))
                own.append(len(points) - 1)
        index[name] = np.array(own, dtype=int)
    return np.array(points).reshape(-1, 2), labels, index


def basins_figure(maps: dict[str, BasinMap], height: int = 460) -> go.Figure:
    """One panel per optimizer, same axes: each start coloured by where its run ends (a global minimum,
    another point where many runs end, elsewhere, diverged), lighter where it settled sooner."""
    first = next(iter(maps.values()))
    k, steps = len(first.minima), first.steps
    ends, end_labels, index = _merged_ends(maps)
    colors = ([BASIN_COLORS[i % len(BASIN_COLORS)] for i in range(k)]
              + [OTHER_COLORS[i % len(OTHER_COLORS)] for i in range(len(ends))] + [NONE_COLOR, DIVERGED_COLOR])
    labels = ([first.label(i) for i in range(k)] + end_labels
              + [first.label(BasinMap.NONE), first.label(BasinMap.DIVERGED)])
    n = len(colors)
    scale = []  # one band per outcome: light = settled early, dark = settled late
    for i, c in enumerate(colors):
        scale += [[i / n, _tint(c, 0.55)], [(i + 0.999) / n, c]]
    scale.append([1.0, colors[-1]])  # plotly.js ignores a colorscale that does not end at 1
    fig = make_subplots(rows=1, cols=len(maps), shared_yaxes=True, horizontal_spacing=0.04,
                        subplot_titles=[_basin_title(name, m) for name, m in maps.items()])
    for col, (name, m) in enumerate(maps.items(), start=1):
        r = m.reached
        band = np.where(r == BasinMap.DIVERGED, n - 1, np.where(r == BasinMap.NONE, n - 2, r))
        others = r >= k
        if others.any():
            band[others] = k + index[name][r[others] - k]
        settled = np.where(np.isnan(m.settle_step), steps, m.settle_step) / max(steps, 1)
        fig.add_trace(go.Heatmap(
            x=m.x, y=m.y, z=((band + 0.999 * settled) / n).astype(np.float32), zmin=0, zmax=1, colorscale=scale,
            showscale=False, customdata=np.where(np.isnan(m.settle_step), -1, m.settle_step).astype(np.int16),
            hovertemplate="start (%{x:.3g}, %{y:.3g})<br>stays where it ends from step %{customdata} "
                          "(-1: diverged)<extra></extra>",
        ), row=1, col=col)
        marks = [(m.minima, "star", 13)] + ([(ends, "circle", 8)] if len(ends) else [])
        for points, symbol, size in marks:
            if len(points):
                fig.add_trace(go.Scatter(x=points[:, 0], y=points[:, 1], mode="markers", showlegend=False,
                                         hoverinfo="skip", marker=dict(symbol=symbol, size=size, color="white",
                                                                       line=dict(width=1.2, color="black"))),
                              row=1, col=col)
    for label, c in zip(labels, colors, strict=True):  # legend entries for the outcome colours
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=label,
                                 marker=dict(symbol="square", size=12, color=c)))
    a, b = _axis_names(first.landscape)
    fig.update_xaxes(title_text=f"{a}₀ (start)", range=[first.x[0], first.x[-1]], matches="x", **NUMBERS)
    fig.update_yaxes(title_text=f"{b}₀ (start)", range=[first.y[0], first.y[-1]], col=1, **NUMBERS)
    fig.update_xaxes(automargin=True)  # small margins that grow to fit the labels (the chart element has no
    fig.update_yaxes(automargin=True)  # template that turns this on, as st.plotly_chart's had)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10),
                      legend=dict(orientation="h", y=-0.18, x=0, yanchor="top"))
    return fig


def _axis_names(landscape: str) -> tuple[str, str]:
    from landscapes import get_landscape

    try:
        return get_landscape(landscape).axis_names
    except (KeyError, ValueError):  # a typed-in formula's: x and y
        return ("x", "y")


def _basin_title(name: str, m: BasinMap) -> str:
    return f"{get_optimizer(name).title}: {m.global_share():.0%} reach a global minimum"


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = hex_to_rgb(hex_color)
    return f"rgba({r},{g},{b},{alpha})"


def seed_bands_figure(bands: dict[str, SeedBand], height: int = 380) -> go.Figure:
    """Median loss per step over the seeds, with the 10–90 % band, one colour per optimizer.

    The y axis stops at 100 times the start's f − f* (or 10 times the highest median): a band
    that goes further, or is unbounded because seeds diverged, is drawn to that edge.
    """
    fig = go.Figure()
    first = next(iter(bands.values()))
    gap = first.f_min is not None
    qs = {name: band.quantiles() - (band.f_min if gap else 0.0) for name, band in bands.items()}
    start = max(float(np.abs(q[1, 0])) for q in qs.values())
    medians = np.concatenate([q[1][np.isfinite(q[1])] for q in qs.values()])
    top = max(100 * start, 10 * float(np.abs(medians).max()) if medians.size else 0.0, 1e-12)
    for name, band in bands.items():
        with np.errstate(invalid="ignore"):
            q = np.minimum(qs[name], top)  # beyond the axis, or unbounded (+inf): drawn at the edge
            if gap:
                q = np.where(q > 0, q, np.nan)  # a log axis shows only > 0
        steps = np.arange(q.shape[1])
        c = color(name)
        title = get_optimizer(name).title
        fig.add_trace(go.Scatter(x=steps, y=q[0], mode="lines", line=dict(width=0), legendgroup=name,
                                 showlegend=False, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=steps, y=q[2], mode="lines", line=dict(width=0), fill="tonexty",
                                 fillcolor=_rgba(c, 0.22), legendgroup=name, name=f"{title}: 10–90 %",
                                 hoverinfo="skip"))
        diverged = f" ({band.diverged} diverged)" if band.diverged else ""
        fig.add_trace(go.Scatter(x=steps, y=q[1], mode="lines", line=dict(color=c, width=2), legendgroup=name,
                                 name=f"{title}: median of {len(band.seeds)} seeds{diverged}"))
    fig.update_xaxes(title_text="step", **NUMBERS)
    if gap:
        lows = np.concatenate([q[0][np.isfinite(q[0]) & (q[0] > 0)] for q in qs.values()])
        low = float(lows.min()) if lows.size else top * 1e-6
        span = [np.log10(low) - 0.2, np.log10(top)]
        fig.update_yaxes(title_text="f − f*", range=span, **log_axis(*span))
    else:
        fig.update_yaxes(title_text="f", range=[None, top], **NUMBERS)
    fig.update_xaxes(automargin=True)  # small margins that grow to fit the labels (the chart element has no
    fig.update_yaxes(automargin=True)  # template that turns this on, as st.plotly_chart's had)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), hovermode="x unified",
                      legend=dict(orientation="h", y=1.02, x=0, yanchor="bottom"))
    return fig

"""The app's comparison in a notebook: ``optlab.compare(...)`` and the table the page shows.

:func:`compare` turns its arguments into the :class:`~optlab.config.RunConfig` the page
would hold (checked as the page checks a link, but raising ValueError instead of falling
back to a default), runs it with :func:`optlab.config.run_all`, as the page does, and
returns a :class:`Comparison`: the runs, and the page's figures and table built from them
by the same functions (optlab.plots, :func:`comparison_table`). ``.link()`` is the page's
link to the same runs.

>>> import optlab
>>> cmp = optlab.compare("rosenbrock", {"adam": {"lr": 0.05}, "sgd": {}}, steps=500)
>>> cmp.runs["adam"].path.shape
(501, 2)

Plotly is imported by the figure methods only; nothing here needs Streamlit. (The module
is not named ``compare``: a submodule of that name would replace the function
``optlab.compare`` as soon as it is imported.)
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import pandas as pd

from landscapes import get_landscape, landscape_names
from optlab import config as C
from optlab.landscape import CUSTOM, Landscape
from optlab.optimizers import get_optimizer, optimizer_title
from optlab.schedules import get_schedule
from optlab.simulation import MAX_STEPS, Run

APP = "http://localhost:8501"  # where `streamlit run app.py` serves the page


def comparison_table(runs: dict[str, Run]) -> pd.DataFrame:
    """One row per optimizer: final and best loss, steps to tolerance, distance to the minimum, divergence."""

    def num(v):
        return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4g}"

    rows = []
    for name, run in runs.items():
        m = run.metrics()
        rows.append({
            "optimizer": optimizer_title(name), "final loss": num(m["final_loss"]),
            "best loss": num(m["best_loss"]),
            "steps to tolerance": "never" if m["steps_to_tol"] is None else str(m["steps_to_tol"]),
            "distance to minimum": num(m["distance_to_min"]),
            "diverged at step": "—" if m["diverged_at"] is None else str(m["diverged_at"]),
        })
    return pd.DataFrame(rows).set_index("optimizer")


class Comparison:
    """Runs of several optimizers on one landscape, as the page shows them.

    ``runs``: optimizer name -> :class:`~optlab.Run`, in the order given; ``landscape``;
    ``config``: the page's :class:`~optlab.config.RunConfig` (``link()`` is its URL);
    ``start``: the start point. The figure methods return the page's Plotly figures.
    """

    def __init__(self, config: C.RunConfig):
        self.config = config
        self.landscape: Landscape = config.land
        self.start: tuple[float, float] = tuple(config.start_point)
        self.runs: dict[str, Run] = C.run_all(config)

    def __getitem__(self, name: str) -> Run:
        return self.runs[name]

    def __repr__(self) -> str:
        return (f"Comparison({self.landscape!r}, {', '.join(self.runs)}; {self.config.steps} steps "
                f"from ({self.start[0]:.4g}, {self.start[1]:.4g}))")

    # --- the page's figures ----------------------------------------------------------------
    def contour(self, height: int = 520):
        """All optimizers on the contour, with the play button and step slider (the page's "overlay" view)."""
        from optlab import plots

        return plots.contour_figure(self.landscape, self.runs, self.start, height=height)

    def multiples(self, height: int | None = None):
        """One contour panel per optimizer (the page's "multiples" view); ``height``: of one row of panels
        (default: the page's, by the number of columns)."""
        from optlab import plots

        return plots.multiples_figure(self.landscape, self.runs, self.start, height=height)

    def surface(self, height: int = 520):
        """The 3-D surface with the trajectories on it."""
        from optlab import plots

        return plots.surface_figure(self.landscape, self.runs, height=height)

    def progress(self, height: int = 320):
        """Loss and step size per step."""
        from optlab import progress_plots

        return progress_plots.progress_figure(self.landscape, self.runs, height=height)

    def figure(self, height: int = 520):
        """The contour and the surface side by side, as the page's top row, in one figure.

        The traces are those of :meth:`contour` and :meth:`surface`; the legend shows and hides an
        optimizer in both panels, and the contour keeps its animation.
        """
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        contour, surface = self.contour(height), self.surface(height)
        split = 0.45  # the contour's panel is [0, split] of the width, the surface's [split + gap, 1]
        fig = make_subplots(rows=1, cols=2, specs=[[{"type": "xy"}, {"type": "scene"}]],
                            horizontal_spacing=0.1, column_widths=[0.5, 0.5])
        for trace in contour.data:
            fig.add_trace(trace, row=1, col=1)
        for trace in surface.data:
            if isinstance(trace, go.Scatter3d):  # one legend entry per optimizer, for both panels
                trace = go.Scatter3d(trace, legendgroup=trace.legendgroup or trace.name, showlegend=False)
            fig.add_trace(trace, row=1, col=2)
        fig.update_traces(selector=dict(type="contour"), colorbar=dict(x=split + 0.01, xanchor="left"))
        c, s = contour.layout, surface.layout
        fig.update_xaxes(c.xaxis.to_plotly_json() | {"domain": [0, split]}, row=1, col=1)
        fig.update_yaxes(c.yaxis.to_plotly_json(), row=1, col=1)
        fig.update_scenes(s.scene.to_plotly_json() | {"domain": fig.layout.scene.domain.to_plotly_json()})
        fig.update_layout(height=height, margin=c.margin, legend=c.legend, uirevision=c.uirevision,
                          dragmode=c.dragmode, shapes=c.shapes)
        spec = fig.to_dict()
        animation = contour.animation()  # the buttons, the slider and the frames, as plain dicts
        spec["layout"]["updatemenus"] = animation["layout"]["updatemenus"]
        # under the contour only, below the play and pause buttons as on the page: every step reachable
        spec["layout"]["sliders"] = [animation["layout"]["sliders"][0] | {"x": 0.0, "len": split}]
        spec["frames"] = animation["frames"]  # they move the position markers, the contour's shapes
        return go.Figure(spec, _validate=False)  # as plots does: validating the frames is slow

    # --- the page's table, exports and link ------------------------------------------------
    def table(self) -> pd.DataFrame:
        """The page's comparison table (one row per optimizer)."""
        return comparison_table(self.runs)

    def to_frame(self) -> pd.DataFrame:
        """Every run's trajectory, one row per optimizer and step: the page's "Trajectories (CSV)"."""
        return pd.concat([run.to_frame() for run in self.runs.values()], ignore_index=True)

    def link(self, base: str = APP) -> str:
        """The page's link to these runs (``base``: where the app runs)."""
        return C.to_url(self.config, base)

    def _repr_html_(self) -> str:
        land = self.landscape
        what = html.escape(land.title if land.formula is None else f"f(x, y) = {land.formula}")
        link = html.escape(self.link(), quote=True)
        return (f"<p><b>{what}</b> · {self.config.steps} steps from ({self.start[0]:.4g}, {self.start[1]:.4g}) · "
                f'<a href="{link}" target="_blank">open in Optimizer Lab</a></p>' + self.table().to_html())


def compare(landscape, optimizers=C.DEFAULT_OPTIMIZERS, *, steps: int = C.STEPS.default, start=None, seed: int = 0,
            noise: float = 0.0, clip: float = 0.0, batch: int = 0, schedule: str = "constant",
            schedule_params: dict | None = None, **landscape_params) -> Comparison:
    """Run optimizers on a landscape as the app does: the same runs, figures and table.

    ``landscape``: a registered name (``optlab.landscape_names()``) or a Landscape, e.g. from
    ``optlab.formula_landscape``; its shape parameters as keywords (``kappa=100``).
    ``optimizers``: a name, a list of names, or a dict name -> hyperparameters
    (torch.optim's names, ``beta1``/``beta2`` for betas; defaults for the rest).
    ``steps`` (at most the app's 5,000), ``start`` (default: the landscape's), ``seed``, ``noise``
    (gradient noise), ``clip`` (gradient-norm clipping, 0: off), ``batch`` (minibatch size on
    landscapes built from data, 0: all), ``schedule`` and ``schedule_params``: as on the page.

    What the page would not run raises ValueError naming the value and what is allowed.
    """
    return Comparison(run_config(landscape, optimizers, steps=steps, start=start, seed=seed, noise=noise, clip=clip,
                                 batch=batch, schedule=schedule, schedule_params=schedule_params,
                                 **landscape_params))


def run_config(landscape, optimizers=C.DEFAULT_OPTIMIZERS, *, steps: int = C.STEPS.default, start=None,
               seed: int = 0, noise: float = 0.0, clip: float = 0.0, batch: int = 0, schedule: str = "constant",
               schedule_params: dict | None = None, **landscape_params) -> C.RunConfig:
    """:func:`compare`'s arguments as the page's RunConfig (ValueError for what the page would not run)."""
    land = _landscape(landscape, landscape_params)
    name = CUSTOM if land.formula is not None else land.name
    land_params = {p.name: land.param_values[p.name] for p in land.params
                   if land.param_values[p.name] != p.default}
    names, hparams = _optimizers(optimizers)
    try:
        steps = _number(C.STEPS, steps)
    except ValueError as e:
        if "out of range" not in str(e):
            raise
        raise ValueError(f"{e} (the app's cap; optlab.simulate runs up to {MAX_STEPS:,})") from None
    if start is not None:
        try:
            x, y = start
        except (TypeError, ValueError):
            raise ValueError(f"start = {start!r} is not a point; allowed: a pair (x, y)") from None
        start = (float(_number(replace(C.COORD, name="x0"), x)), float(_number(replace(C.COORD, name="y0"), y)))
        if start == tuple(float(c) for c in land.start):
            start = None  # as the page holds it: the landscape's own start
    seed = _number(C.SEED, seed)
    noise = float(_number(C.NOISE, noise))
    clip = float(_number(C.CLIP, 0.0 if clip is None else clip))
    batch = _number(C.BATCH, 0 if batch is None else batch)
    if batch and not land.data_size:
        raise ValueError(f"batch = {batch} applies only to landscapes built from data; {land.title} is not "
                         "(landscapes with data: " + ", ".join(n for n in landscape_names()
                                                              if get_landscape(n).data_size) + ")")
    if batch > land.data_size:
        raise ValueError(f"batch = {batch} is more than the {land.data_size} examples of {land.title}; "
                         f"allowed: an integer in [0, {land.data_size}] (0: all of them)")
    sched = get_schedule(schedule)
    values = sched.values(**dict(schedule_params or {}))
    sched_params = {p.name: values[p.name] for p in sched.params if values[p.name] != p.default}
    cfg = C.RunConfig(landscape=name, landscape_params=land_params, formula=land.formula, optimizers=names,
                      hparams=hparams, steps=steps, start=start, seed=seed, schedule=sched.name,
                      schedule_params=sched_params, noise=noise, clip=clip, batch=batch)
    # what the page reads from this config's link: anything it would replace by a default is an error here
    _, problems = C.from_query(C.group(C.to_query(cfg)))
    if problems:
        raise ValueError("the app would not run this configuration: " + "; ".join(problems))
    return cfg


def _landscape(landscape, params: dict) -> Landscape:
    if isinstance(landscape, Landscape):
        land = landscape.with_params(**params)
        if land.formula is None and land.name not in landscape_names():
            raise ValueError(f"the app cannot show the landscape {land.name!r}: it is not registered; allowed: a "
                             f"registered name ({', '.join(landscape_names())}) or optlab.formula_landscape(...)")
        return land
    if not isinstance(landscape, str) or landscape not in landscape_names():
        raise ValueError(f"unknown landscape {landscape!r}; allowed: {', '.join(landscape_names())}, or your own "
                         "f(x, y) as optlab.formula_landscape('x^2 + 10*y^2')")
    return get_landscape(landscape, **params)


def _optimizers(optimizers) -> tuple[tuple[str, ...], dict]:
    """(names, non-default hyperparameters per name), each checked as simulate() checks them."""
    if isinstance(optimizers, str):
        optimizers = [optimizers]
    if isinstance(optimizers, Mapping):
        items = list(optimizers.items())
    else:
        try:
            items = [(name, None) for name in optimizers]
        except TypeError:
            raise ValueError(f"optimizers = {optimizers!r}; allowed: a name, a list of names, or a dict "
                             "name -> hyperparameters") from None
    if not items:
        raise ValueError("no optimizer to compare; allowed: a name, a list of names, or a dict name -> "
                         "hyperparameters, e.g. {'adam': {'lr': 0.05}, 'sgd': {}}")
    names: list[str] = []
    hparams: dict[str, dict] = {}
    for name, hp in items:
        opt = get_optimizer(name)  # ValueError naming the allowed ones
        if name in names:
            raise ValueError(f"{name} is listed twice; each optimizer is run once")
        names.append(name)
        if hp is None:
            hp = {}
        if not isinstance(hp, Mapping):
            raise ValueError(f"the hyperparameters of {name} are {hp!r}; allowed: a dict such as {{'lr': 0.01}}")
        specs = {p.name: p for p in opt.hparams}
        unknown = [k for k in hp if k not in specs]
        if unknown:
            hint = " (pass betas as beta1 and beta2)" if "betas" in unknown else ""
            raise ValueError(f"unknown hyperparameter {unknown[0]!r} for {name}{hint}; allowed: {', '.join(specs)}")
        values = {k: _number(specs[k], v, owner=name) for k, v in hp.items()}
        problem = opt.check({**opt.defaults, **values}) if opt.check else None
        if problem:
            raise ValueError(f"{name}: {problem}")
        values = {k: v for k, v in values.items() if v != specs[k].default}
        if values:
            hparams[name] = values
    return tuple(names), hparams


def _number(spec, value, owner: str = ""):
    """value checked against spec as one number (Param.check, which also accepts one value per run)."""
    label = f"{owner} hyperparameter {spec.name!r}" if owner else repr(spec.name)
    if spec.kind is str:
        return spec.check(value, owner=owner)
    if spec.kind is not bool and isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{label} = {value!r} is not a number; allowed: {spec.allowed}")
    if np.ndim(value) != 0:
        raise ValueError(f"{label} = {value!r}: one value per optimizer here (for many runs at once, use "
                         f"optlab.simulate or optlab.sweeps); allowed: {spec.allowed}")
    return spec.check(value, owner=owner)

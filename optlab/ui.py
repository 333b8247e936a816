"""The dashboard's Streamlit code: controls -> RunConfig -> cached runs and figures -> page.

The only module that imports Streamlit. The URL is the config's canonical query
(optlab.config), written back to the address bar after every change, so the
share box, the address bar and the presets all go through one codec.
"""

from __future__ import annotations

import collections
import contextlib
import math
import threading
import time
from dataclasses import replace

import numpy as np
import pandas as pd
import streamlit as st

from landscapes import get_landscape, landscape_names
from optlab import config as C
from optlab import plots, sweep_plots, sweeps
from optlab.comparison import comparison_table
from optlab.export import torch_script, trajectories_csv
from optlab.optimizers import get_optimizer, optimizer_names
from optlab.params import Param
from optlab.presets import PRESETS
from optlab.schedules import get_schedule, schedule_names

DEFAULT_PRESET = "adam_vs_sgd"
MAX_PROBLEMS = 12  # lines of a tampered link's warning
LOG_GRID = sorted({round(m * 10.0**e, 12) for e in range(-6, 4) for m in (1, 2, 5)})


# --- state: URL <-> widgets ---------------------------------------------------------
def _query_dict() -> dict[str, list[str]]:
    return {k: st.query_params.get_all(k) for k in st.query_params.keys()}


def _widget_values(cfg: C.RunConfig) -> dict:
    """Every widget's value for a config (the keys the controls use)."""
    v = {"w:landscape": cfg.landscape, "w:opt": list(cfg.optimizers), "w:steps": cfg.steps,
         "w:x0": float(cfg.start_point[0]), "w:y0": float(cfg.start_point[1]), "w:seed": cfg.seed,
         "w:schedule": cfg.schedule, "w:noise": float(cfg.noise), "w:clip": float(cfg.clip), "w:view": cfg.view,
         "w:batch": cfg.batch}
    if cfg.landscape == C.CUSTOM:
        v["w:formula"] = cfg.land.formula
    for p in cfg.land.params:
        v[f"w:{cfg.landscape}.{p.name}"] = cfg.landscape_params.get(p.name, p.default)
    for name in cfg.optimizers:
        for hp, value in cfg.hp(name).items():
            v[f"w:{name}.{hp}"] = value
    for p in get_schedule(cfg.schedule).params:
        v[f"w:schedule.{p.name}"] = cfg.schedule_params.get(p.name, p.default)
    if cfg.optimizers:
        v["w:inspect"] = cfg.inspect or cfg.optimizers[0]
    v["w:k"] = cfg.k or 1
    v.update(_explore_widget_values(cfg))
    return v


def _load(cfg: C.RunConfig, problems: list[str] | None = None) -> None:
    """Put a config into the widgets (before they are created, or from a callback)."""
    for key in [k for k in st.session_state if str(k).startswith("w:")]:
        del st.session_state[key]
    st.session_state.update(_widget_values(cfg))
    st.session_state["url_problems"] = problems or []


def _apply_preset(name: str) -> None:
    _load(PRESETS[name].config)
    st.session_state["preset"] = name


def _reset() -> None:
    _apply_preset(DEFAULT_PRESET)


def _link() -> tuple[dict[str, list[str]], list[str]]:
    """The link's parameters, and what could not be read of it. Streamlit drops a whole query string of over
    1,000 parameters or 512 Ki characters without a word (``sanitize_query_string``); its start is read here."""
    query = _query_dict()
    if query:
        return query, []
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    raw = getattr(get_script_run_ctx(), "query_string", "") or ""
    return C.read_query_string(raw) if raw.strip("&") else ({}, [])


def _init_session() -> None:
    if "w:landscape" in st.session_state:
        return
    query, unread = _link()
    if not query and not unread:
        _apply_preset(DEFAULT_PRESET)
        return
    cfg, problems = C.from_query(query)
    problems = unread + problems
    _load(cfg, problems)
    st.session_state["preset"] = next((p.name for p in PRESETS.values() if C.to_query(p.config) == C.to_query(cfg)),
                                      None)


# --- controls ---------------------------------------------------------------------------
def _ensure(key: str, default):
    if key not in st.session_state:
        st.session_state[key] = default


def _fmt(v) -> str:
    return f"{v:g}"


def _param_widget(p: Param, key: str, label: str | None = None):
    """A widget generated from a parameter's declaration."""
    _ensure(key, p.default)
    label = label or (f"${p.symbol}$ {p.name}" if p.symbol and not p.symbol.startswith(r"\text") else p.name)
    if p.kind is bool:
        return st.checkbox(label, key=key, help=p.help)
    if p.log:  # a log-spaced slider; the link's own value is kept as an extra stop
        current = float(st.session_state[key])
        lo = p.ui_low if p.ui_low is not None else 1e-6
        hi = p.ui_high if p.ui_high is not None else 1e3
        grid = [g for g in LOG_GRID if lo <= g <= max(hi, 1e3) and p.accepts(g)]
        options = sorted(set(grid) | {current})
        return st.select_slider(label, options=options, key=key, format_func=_fmt, help=p.help)
    if p.kind is int:
        return int(st.number_input(label, min_value=int(max(p.low, -1e9)), max_value=int(min(p.high, 1e9)),
                                   step=1, key=key, help=p.help))
    step = (p.ui_high - p.ui_low) / 100 if p.ui_low is not None and p.ui_high is not None else 0.01
    high = None if p.high == math.inf else float(p.high - (1e-9 if p.high_open else 0))
    low = None if p.low == -math.inf else float(p.low + (1e-12 if p.low_open else 0))
    return float(st.number_input(label, min_value=low, max_value=high, step=float(step), format="%g", key=key,
                                 help=p.help))


def _controls() -> C.RunConfig:
    sb = st.sidebar
    with sb:
        st.markdown("### Presets")
        cols = st.columns(2)
        for i, p in enumerate(PRESETS.values()):
            cols[i % 2].button(p.title, key=f"preset:{p.name}", on_click=_apply_preset, args=(p.name,),
                               width="stretch")
        st.button("↺ Reset to defaults", on_click=_reset, width="stretch")

        st.markdown("### Landscape")
        landscape = st.selectbox("landscape", [*landscape_names(), C.CUSTOM], key="w:landscape",
                                 format_func=_landscape_title, label_visibility="collapsed",
                                 on_change=_forget, args=("w:x0", "w:y0"))  # each landscape's own start
        formula, land = None, None
        if landscape == C.CUSTOM:
            formula, land = _formula_input()
        land = land or _last_valid_landscape(landscape)
        landscape_params = {}
        for p in land.params:
            value = _param_widget(p, f"w:{landscape}.{p.name}")
            if value != p.default:
                landscape_params[p.name] = value
        try:
            land = land.with_params(**landscape_params)
        except ValueError as e:  # an empty custom domain
            st.error(str(e), icon=":material/error:")
            st.session_state["landscape_error"] = str(e)
        _keep_start_in_a_new_domain(land)

        st.markdown("### Optimizers")
        chosen = st.multiselect("optimizers", optimizer_names(), key="w:opt", label_visibility="collapsed",
                                format_func=lambda n: get_optimizer(n).title,
                                placeholder="pick one or more optimizers")
        hparams = {}
        for name in chosen:
            opt = get_optimizer(name)
            with st.expander(f"{opt.title}", expanded=len(chosen) <= 2):
                values = {}
                for p in opt.hparams:
                    value = _param_widget(p, f"w:{name}.{p.name}")
                    if value != p.default:
                        values[p.name] = value
                if values:
                    hparams[name] = values

        st.markdown("### Run")
        _ensure("w:steps", C.STEPS.default)
        steps = int(st.number_input("steps", 1, C.APP_MAX_STEPS, step=50, key="w:steps"))
        c1, c2 = st.columns(2)
        _ensure("w:x0", float(land.start[0]))
        _ensure("w:y0", float(land.start[1]))
        x0 = c1.number_input("start x", -1e6, 1e6, step=0.1, format="%g", key="w:x0")
        y0 = c2.number_input("start y", -1e6, 1e6, step=0.1, format="%g", key="w:y0")
        st.caption("or click on the contour plot to start there")
        batch = 0
        if land.data_size:
            _ensure("w:batch", 0)
            batch = int(st.number_input(
                f"minibatch size (0 = all {land.data_size} examples)", 0, land.data_size, step=1, key="w:batch",
                help="Each step's gradient is the mean over this many examples, sampled with the seed in "
                     "shuffled epochs: a minibatch gradient, not the full gradient, as in real minibatch SGD."))
            batch = 0 if batch == land.data_size else batch

        with st.expander("Schedule, noise, clipping"):
            schedule = st.selectbox("learning-rate schedule", schedule_names(), key="w:schedule",
                                    format_func=lambda n: get_schedule(n).title)
            schedule_params = {}
            for p in get_schedule(schedule).params:
                value = _param_widget(p, f"w:schedule.{p.name}", label=p.name)
                if value != p.default:
                    schedule_params[p.name] = value
            noise = _param_widget(C.NOISE, "w:noise", label="gradient noise σ")
            _ensure("w:seed", 0)
            seed = int(st.number_input("seed", 0, 2**32 - 1, step=1, key="w:seed"))
            clip = _param_widget(C.CLIP, "w:clip", label="clip gradient norm (0 = off)")

        _ensure("w:view", "overlay")
        view = st.radio("view", C.VIEWS, key="w:view", horizontal=True,
                        format_func={"overlay": "overlaid", "multiples": "one panel each"}.get)

    start = (float(x0), float(y0))
    return C.RunConfig(
        landscape=landscape, landscape_params=landscape_params, formula=formula, optimizers=tuple(chosen),
        hparams=hparams, steps=steps, start=None if start == tuple(land.start) else start, seed=seed,
        schedule=schedule, schedule_params=schedule_params, noise=float(noise), clip=float(clip), batch=batch,
        view=view,
    )


def _keep_start_in_a_new_domain(land) -> None:
    """When the user changes a formula's domain so that the start falls outside, start from the new default."""
    previous = st.session_state.get("domain")
    st.session_state["domain"] = (land.name, land.domain)
    if previous is None or previous == (land.name, land.domain) or previous[0] != land.name:
        return  # a link's own start is kept; a new landscape has its own start already
    (x_lo, x_hi), (y_lo, y_hi) = land.domain
    x0, y0 = st.session_state.get("w:x0"), st.session_state.get("w:y0")
    if x0 is not None and not (x_lo <= x0 <= x_hi and y_lo <= y0 <= y_hi):
        _forget("w:x0", "w:y0")


def _landscape_title(name: str) -> str:
    return "✎ Your own formula…" if name == C.CUSTOM else get_landscape(name).title


FORMULA_HELP = ("f(x, y) in ordinary notation: numbers, x, y, + − * / and ^ or ** for powers, parentheses, "
                "exp, log, sqrt, abs, tanh, sin, cos, tan, pi and e. Example: (1-x)^2 + 100*(y-x^2)^2")


def _formula_input():
    """The formula box: (the text, its landscape), or the default formula's landscape while the text is rejected."""
    from optlab.formula import DEFAULT_FORMULA, MAX_LENGTH, FormulaBusy, FormulaError, formula_landscape, start_worker

    start_worker()  # at once, not on the first formula: loading sympy in the worker's server takes a second
    _ensure("w:formula", DEFAULT_FORMULA)
    text = st.text_input("f(x, y) =", key="w:formula", help=FORMULA_HELP, max_chars=MAX_LENGTH)
    try:
        land = formula_landscape(text)
    except FormulaBusy as e:
        st.warning(C.plain(e), icon=":material/hourglass:")
        st.session_state["landscape_error"] = f"Your formula could not be compiled right now: {C.plain(e)}."
        return text, None
    except FormulaError as e:
        st.error(f"Not accepted: {C.plain(e)}", icon=":material/error:")
        st.session_state["landscape_error"] = f"Your formula is not accepted: {C.plain(e)}."
        return text, None
    # the domain widgets come next; their values for this run are already in the session state
    domain = {p.name: st.session_state.get(f"w:{C.CUSTOM}.{p.name}", p.default) for p in land.params}
    try:
        shown = land.with_params(**domain)
    except ValueError:  # an empty domain: reported where the domain is applied
        shown = None
    if shown is not None and shown.f_min is None:  # accepted, but NaN or infinite all over this domain
        st.warning(shown.minima_note, icon=":material/warning:")
        st.session_state["landscape_error"] = shown.minima_note
    return text, land


def _last_valid_landscape(name: str):
    """The landscape to take the controls from: for a formula not accepted (or not compiled yet), the last
    one shown in this session, else the default formula."""
    if name != C.CUSTOM:
        return get_landscape(name)
    from optlab.formula import DEFAULT_FORMULA, formula_landscape

    last = st.session_state.get("last_valid")
    return last.land if last is not None and last.landscape == C.CUSTOM else formula_landscape(DEFAULT_FORMULA)


def _last_valid_view(cfg: C.RunConfig) -> C.RunConfig:
    """cfg with the last valid landscape of this session in place of one that cannot be shown."""
    last = st.session_state.get("last_valid")
    if last is not None and last.landscape == cfg.landscape:
        return replace(cfg, formula=last.formula, landscape_params=dict(last.landscape_params), start=last.start)
    return replace(cfg, formula=None, landscape_params={}, start=None)


# --- computing (cached) -----------------------------------------------------------------
def _runs_key(cfg: C.RunConfig) -> str:
    return cfg.runs_only().key()


class _Budget:
    """The bytes a cached function's entries hold, least recently used first, and the entries to evict once
    they pass a budget: Streamlit's caches count entries only, and one entry here can be 60 kB or 6 MB."""

    def __init__(self, limit: int):
        self.limit = limit
        self.sizes: collections.OrderedDict[tuple, int] = collections.OrderedDict()
        self.lock = threading.Lock()

    def note(self, key: tuple, size) -> list[tuple]:
        """Record a use of key (size() is called for a new one); return the keys to evict, oldest first."""
        with self.lock:
            if key in self.sizes:
                self.sizes.move_to_end(key)
                return []
        n = int(size())
        with self.lock:
            self.sizes[key] = n
            evict = []
            while sum(self.sizes.values()) > self.limit and len(self.sizes) > 1:
                evict.append(self.sizes.popitem(last=False)[0])
            return evict


def _cached(fn, budget: _Budget, size, *args):
    """fn(*args) from its Streamlit cache, within budget: entries past it are cleared, oldest first."""
    value = fn(*args)
    for old in budget.note(args, lambda: size(value)):
        fn.clear(*old)
    return value


def _runs_bytes(runs: dict) -> int:
    arrays = [a for r in runs.values() for a in (r.path, r.loss, r.lr, r.grad, r.grad_used, *r.state.values())]
    return sum(a.nbytes for a in arrays if isinstance(a, np.ndarray))


def _figures_bytes(runs: dict) -> int:
    # measured with tracemalloc: ~2 MB of grids, contours and surface, and ~160 B per run-step of paths, markers
    # and animation frames (5 optimizers x 5000 steps: 5.9 MB)
    return 2_000_000 + 160 * sum(r.steps * r.size for r in runs.values())


RUNS_BUDGET = _Budget(64 << 20)  # bytes of runs kept for all sessions together
FIGURES_BUDGET = _Budget(128 << 20)  # bytes of figures


def runs_for(key: str) -> dict:
    return _cached(_runs, RUNS_BUDGET, _runs_bytes, key)


def figures_for(key: str, view: str) -> dict:
    return _cached(_figures, FIGURES_BUDGET, lambda _: _figures_bytes(runs_for(key)), key, view)


@st.cache_data(max_entries=128, show_spinner=False)
def _runs(key: str) -> dict:
    cfg, _ = C.from_query(_parse_key(key))
    return C.run_all(cfg)


# cache_resource, not cache_data: a figure must be the same object on every rerun. A chart's
# element id is hashed from its spec, and cache_data hands out unpickled copies whose JSON
# differs from the figure first built, so the first click on the contour was lost; unpickling
# also re-validates the animation frames (slow). Figures are never mutated after building.
@st.cache_resource(max_entries=64, show_spinner=False)
def _figures(key: str, view: str) -> dict:
    cfg, _ = C.from_query(_parse_key(key))
    runs = _runs(key)
    land, start = cfg.land, cfg.start_point
    main = (plots.multiples_figure(land, runs, start) if view == "multiples"
            else plots.contour_figure(land, runs, start))
    return {"main": main, "surface": plots.surface_figure(land, runs), "progress": plots.progress_figure(land, runs)}


def _parse_key(key: str) -> dict[str, list[str]]:
    from urllib.parse import parse_qs

    return parse_qs(key, keep_blank_values=True)


# --- page sections ------------------------------------------------------------------------
def _header(cfg: C.RunConfig):
    """Title, landscape and preset notice; returns the "Share and export" popover, filled at the end of the run
    (the link holds the inspector's and explore views' settings). A popover's content is drawn only when it is
    opened, so its code box and downloads cost the first view nothing."""
    land = cfg.land
    title, share = st.columns([4, 1], vertical_alignment="bottom")
    title.title("Optimizer Lab")
    box = share.popover("Share and export", icon=":material/share:", width="stretch")
    st.caption("How optimizers move on a 2-D loss surface — with torch.optim's exact update rules.")
    c1, c2 = st.columns([3, 2])
    with c1:
        st.markdown(f"**{land.title}** · {land.lesson}")
        if land.minima_note:
            st.caption(land.minima_note)
    with c2:
        st.latex(land.latex)
    preset = PRESETS.get(st.session_state.get("preset") or "")
    if preset is not None and C.to_query(preset.config) == C.to_query(cfg.runs_only()):
        st.info(f"**{preset.title}.** {preset.notice}", icon=":material/visibility:")
    return box


def _charts(cfg: C.RunConfig, figs: dict) -> None:
    left, right = st.columns(2)
    with left:
        event = st.plotly_chart(figs["main"], width="stretch", key=f"main:{cfg.view}", on_select="rerun",
                                selection_mode="points", config={"displaylogo": False})
        _handle_click(cfg, event)
    with right:
        st.plotly_chart(figs["surface"], width="stretch", key="surface", config={"displaylogo": False})
    st.plotly_chart(figs["progress"], width="stretch", key="progress", config={"displaylogo": False})


def _clicked(event) -> tuple[float, float] | None:
    """The (x, y) of the point a chart's selection event holds, or None."""
    points = (event or {}).get("selection", {}).get("points", [])
    return (float(points[0]["x"]), float(points[0]["y"])) if points else None


def _handle_click(cfg: C.RunConfig, event) -> None:
    point = _clicked(event)
    if point is None:
        return
    x, y = point
    if st.session_state.get("last_click") == (x, y):
        return
    st.session_state["last_click"] = (x, y)
    st.session_state["pending_start"] = (round(x, 4), round(y, 4))
    st.rerun()


def _apply_pending_start() -> None:
    pending = st.session_state.pop("pending_start", None)
    if pending is not None:
        st.session_state["w:x0"], st.session_state["w:y0"] = pending


def _table(cfg: C.RunConfig, runs: dict) -> None:
    st.table(comparison_table(runs))
    st.caption("Steps to tolerance: the first step with f − f* ≤ 1e-4. Distance: from the last point to the "
               "nearest global minimum (— where the surface has none).")


def _inspector(cfg: C.RunConfig, runs: dict) -> C.RunConfig:
    """Pick an optimizer and a step k; returns the config with that choice (it travels in the link)."""
    from optlab.inspector import step_details

    st.subheader("Step inspector")
    names = list(runs)
    if st.session_state.get("w:inspect") not in names:
        st.session_state["w:inspect"] = names[0]
    c1, c2 = st.columns([1, 3])
    name = c1.selectbox("optimizer", names, format_func=lambda n: get_optimizer(n).title, key="w:inspect")
    run = runs[name]
    last = max((run.diverged_at - 1) if run.diverged_at is not None else run.steps, 1)
    st.session_state["w:k"] = min(max(int(st.session_state.get("w:k") or 1), 1), last)
    if last > 1:
        k = c2.slider("step k", 1, last, key="w:k")
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
    return replace(cfg, inspect=None if name == names[0] else name, k=None if k == 1 else k)


def _share_and_export(box, cfg: C.RunConfig, runs: dict | None = None) -> None:
    with box:
        url = C.to_url(cfg, st.context.url)
        st.caption("This link reproduces exactly this view (copy button on the right):")
        st.code(url, language=None, wrap_lines=True)
        if runs is None:
            return
        st.download_button("Trajectories (CSV)", trajectories_csv(runs), "optimizer-lab-trajectories.csv",
                           "text/csv", width="stretch")
        st.download_button("Configuration (JSON)", C.to_json(cfg), "optimizer-lab-config.json", "application/json",
                           width="stretch")
        st.download_button("torch.optim script", torch_script(cfg), "optimizer_lab_runs.py", "text/x-python",
                           width="stretch")


def _sync_url(cfg: C.RunConfig) -> None:
    grouped: dict[str, list[str]] = {}
    for key, value in C.to_query(cfg):
        grouped.setdefault(key, []).append(value)
    if grouped != _query_dict():
        st.query_params.from_dict(grouped)


def main() -> None:
    _init_session()
    _keep_explore_settings()
    _apply_pending_start()
    _apply_pending_setting()
    st.session_state["landscape_error"] = None
    cfg = _controls()
    error = st.session_state["landscape_error"]
    if error:  # the typed-in text stays in its box; the page and the link keep the last valid view
        cfg = _last_valid_view(cfg)
        what = (f"the formula {C.shown(cfg.land.formula, 60)}" if cfg.land.formula is not None
                else "the last valid landscape")
        st.error(f"{error} Fix it in the sidebar. Until then, this page shows the last valid view, with "
                 f"{what}.", icon=":material/error:")
    problems = st.session_state.get("url_problems") or []
    if problems:  # each echo of the link is a truncated code span (C.shown); at most MAX_PROBLEMS lines
        listed = problems[:MAX_PROBLEMS]
        more = len(problems) - len(listed)
        st.warning("Some parts of this link were ignored and replaced by defaults:\n\n"
                   + "\n".join(f"- {p}" for p in listed) + (f"\n- … and {more:,} more" if more else ""),
                   icon=":material/warning:")
    if not cfg.optimizers:
        _share_and_export(_header(cfg), cfg)
        st.info("Pick at least one optimizer in the sidebar.")
        _sync_url(cfg)
        return
    rejected = C.refused(cfg)
    for name, why in rejected.items():
        st.error(f"{get_optimizer(name).title} is not run: {why}.", icon=":material/block:")
    if len(rejected) == len(cfg.optimizers):
        _share_and_export(_header(cfg), cfg)
        _sync_url(cfg)
        return
    shown = replace(cfg, optimizers=tuple(n for n in cfg.optimizers if n not in rejected))
    key = _runs_key(shown)
    runs = runs_for(key)
    figs = figures_for(key, cfg.view)
    share = _header(shown)
    diverged = [get_optimizer(n).title + (f" (step {r.diverged_at})" if r.diverged_at else " (at its start: f is not "
                                          "finite there; move the start)")
                for n, r in runs.items() if r.diverged_at is not None]  # step 0 too: a start where f is NaN
    if diverged:
        st.error("Diverged — the loss or θ left the finite numbers: " + ", ".join(diverged)
                 + ". Their paths stop there; try a smaller learning rate.", icon=":material/error:")
    _charts(cfg, figs)
    _table(cfg, runs)
    cfg = _inspector(cfg, runs)
    cfg = replace(cfg, explore=_explore(shown).explore)
    _share_and_export(share, cfg, runs)
    _sync_url(cfg)
    if not error:
        st.session_state["last_valid"] = cfg.runs_only()


# --- explore: sensitivity sweep, basin maps, seed bands (optlab.sweeps) ------------------------
EXPLORE_TITLES = {"off": "off", "sensitivity": "Sensitivity to hyperparameters", "basins": "Basins of attraction",
                  "seeds": "Seed bands"}


def _explore_widget_values(cfg: C.RunConfig) -> dict:
    e = cfg.explore
    v = {"w:explore": e.view or "off", "w:sweep.n": e.sweep_n, "w:sweep.metric": e.sweep_metric,
         "w:basins.n": e.basins_n, "w:seeds.n": e.seeds_n}
    if cfg.optimizers:
        opt, x, y, (xlo, xhi), (ylo, yhi) = e.sweep_axes(cfg.optimizers)
        v.update({"w:sweep.opt": opt, "w:sweep.x": x, "w:sweep.y": y, "w:sweep.xmin": xlo, "w:sweep.xmax": xhi,
                  "w:sweep.ymin": ylo, "w:sweep.ymax": yhi,
                  "w:basins.opt": list(e.basin_optimizers(cfg.optimizers))})
    return v


EXPLORE_KEYS = ("w:sweep.opt", "w:sweep.x", "w:sweep.y", "w:sweep.xmin", "w:sweep.xmax", "w:sweep.ymin",
                "w:sweep.ymax", "w:sweep.n", "w:sweep.metric", "w:basins.opt", "w:basins.n", "w:seeds.n")


def _keep_explore_settings() -> None:
    """Streamlit forgets the state of widgets a run does not draw: a view's settings would be lost while
    another view is open. Writing them back makes them plain session state, kept until drawn again."""
    for key in EXPLORE_KEYS:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def _explore_state(cfg: C.RunConfig, view: str) -> C.Explore:
    """The explore views' settings from the session (every view's, open or not), defaults left out."""
    ss, first = st.session_state, cfg.optimizers[0]
    opt = ss.get("w:sweep.opt") or first
    x = ss.get("w:sweep.x") if ss.get("w:sweep.x") in sweeps.sweepable(opt) else "lr"
    _, dy = sweeps.default_axes(opt, x)
    y = ss.get("w:sweep.y") if ss.get("w:sweep.y") in sweeps.sweepable(opt) and ss.get("w:sweep.y") != x else dy
    defaults = (*sweeps.axis_range(opt, x), *sweeps.axis_range(opt, y))
    ranges = {k: float(ss[f"w:sweep.{k}"]) for k, d in zip(C.RANGE_KEYS, defaults, strict=True)
              if ss.get(f"w:sweep.{k}") is not None and float(ss[f"w:sweep.{k}"]) != d}
    basins = tuple(ss.get("w:basins.opt", cfg.optimizers[:2]))
    return C.Explore(
        view=None if view == "off" else view, sweep_opt=None if opt == first else opt,
        sweep_x=None if x == "lr" else x, sweep_y=None if y == dy else y, sweep_range=ranges,
        sweep_n=int(ss.get("w:sweep.n", C.SWEEP_N.default)), sweep_metric=ss.get("w:sweep.metric", C.SWEEP_METRICS[0]),
        basins_opts=() if basins == tuple(cfg.optimizers[:2]) else basins,
        basins_n=int(ss.get("w:basins.n", C.BASINS_N.default)), seeds_n=int(ss.get("w:seeds.n", C.SEEDS_N.default)),
    )


def _forget(*keys: str) -> None:
    for key in keys:
        st.session_state.pop(key, None)


def _explore(cfg: C.RunConfig) -> C.RunConfig:
    """The many-run views; returns the config with their settings (they travel in the link)."""
    st.subheader("Explore: many runs at once")
    _ensure("w:explore", "off")
    view = st.radio("view", list(EXPLORE_TITLES), key="w:explore", horizontal=True, format_func=EXPLORE_TITLES.get,
                    label_visibility="collapsed",
                    help="Sensitivity: one optimizer over a grid of two hyperparameters. Basins: where each start "
                         "point of the domain ends up. Seed bands: the spread of noisy runs over many seeds.")
    views = {"sensitivity": _sensitivity_view, "basins": _basins_view, "seeds": _seeds_view}
    if view in views:
        try:
            views[view](cfg)
        except ValueError as err:  # a setting simulate() refuses: say so, keep everything the user set
            st.error(f"This view cannot run with these settings: {err}", icon=":material/error:")
    else:
        st.caption("Pick a view: how sensitive an optimizer is to its hyperparameters, which minimum each start "
                   "point reaches, or how much noisy runs spread over seeds. Each uses this page's landscape, "
                   "settings and steps.")
    return replace(cfg, explore=_explore_state(cfg, view))


def _run_view(run, key: str, n: int):
    """A view's computation for a config key (inside its cached function), with a progress bar."""
    cfg, _ = C.from_query(_parse_key(key))
    with _progress_bar() as progress:
        return run(cfg, n, progress)


@contextlib.contextmanager
def _progress_bar(delay: float = 0.5):
    """A progress callback for a computation inside a cached function: a bar appears once the computation
    has taken ``delay`` seconds, and is removed at the end. Created inside the cached function (not
    passed in), so that a cache hit replays "create, fill, remove", which shows nothing."""
    started, bar = time.perf_counter(), None

    def report(fraction: float) -> None:
        nonlocal bar
        if bar is None and time.perf_counter() - started < delay:
            return
        bar = bar or st.progress(0.0)
        bar.progress(min(max(fraction, 0.0), 1.0), text=f"{fraction:.0%} of the runs done")

    try:
        yield report
    finally:
        if bar is not None:
            bar.empty()


def _csv_button(label: str, frame, file_name: str) -> None:
    """A download whose CSV is written only when clicked (a basin map is tens of thousands of rows)."""
    st.download_button(label, lambda: frame().to_csv(index=False), file_name, "text/csv", on_click="ignore")


def _capped(n: int, runs_per_cell: int, steps: int, what: str, square: bool = True) -> int:
    m = C.capped(n, runs_per_cell, steps, square)
    if m < n:
        st.warning(f"{what} reduced from {n} to {m} so that runs × steps stays within "
                   f"{sweeps.MAX_RUN_STEPS:,} (a second or two of computing); fewer steps allow more.",
                   icon=":material/speed:")
    return max(m, 2)


def _sensitivity_view(cfg: C.RunConfig) -> None:
    e = _explore_state(cfg, "sensitivity")
    opt_default, *_ = e.sweep_axes(cfg.optimizers)
    _ensure("w:sweep.opt", opt_default)
    ranges = ("w:sweep.xmin", "w:sweep.xmax", "w:sweep.ymin", "w:sweep.ymax")
    c1, c2, c3, c4 = st.columns([2, 2, 2, 1])
    opt = c1.selectbox("optimizer", optimizer_names(), key="w:sweep.opt", format_func=lambda n: get_optimizer(n).title,
                       on_change=_forget, args=("w:sweep.x", "w:sweep.y", *ranges))
    names = sweeps.sweepable(opt)
    _ensure("w:sweep.x", "lr")
    x = c2.selectbox("across (x)", names, key="w:sweep.x", on_change=_forget, args=(*ranges[:2],))
    _, dy = sweeps.default_axes(opt, x)
    if st.session_state.get("w:sweep.y") not in [n for n in names if n != x]:
        st.session_state["w:sweep.y"] = dy
        _forget(*ranges[2:])  # the old y's range does not fit the new y
    y = c3.selectbox("down (y)", [n for n in names if n != x], key="w:sweep.y", on_change=_forget,
                     args=(*ranges[2:],))
    _ensure("w:sweep.n", C.SWEEP_N.default)
    n = int(c4.number_input("cells per axis", 2, sweeps.MAX_SWEEP_CELLS, step=10, key="w:sweep.n"))
    for key, value in zip(ranges, (*sweeps.axis_range(opt, x), *sweeps.axis_range(opt, y)), strict=True):
        _ensure(key, value)
    with st.expander("ranges and colour"):
        r1, r2, r3, r4 = st.columns(4)
        for col, label, key in zip((r1, r2, r3, r4), (f"{x} from", f"{x} to", f"{y} from", f"{y} to"), ranges,
                                   strict=True):
            col.number_input(label, format="%g", key=key)
        _ensure("w:sweep.metric", C.SWEEP_METRICS[0])
        metric = st.radio("colour", C.SWEEP_METRICS, key="w:sweep.metric", horizontal=True,
                          format_func={"final_loss": "final loss", "steps_to_tol": "steps to tolerance"}.get)
    e = _explore_state(cfg, "sensitivity")
    _, _, _, xr, yr = e.sweep_axes(cfg.optimizers)
    bad = [p for p in (sweeps.range_problem(opt, x, *xr), sweeps.range_problem(opt, y, *yr)) if p]
    if bad:
        st.error("This range cannot be swept: " + "; ".join(bad) + ".", icon=":material/error:")
        return
    cells = _capped(n, 1, cfg.steps, "Cells per axis")
    sub = replace(cfg.runs_only(), explore=replace(e, view=None, sweep_metric=C.SWEEP_METRICS[0], basins_opts=(),
                                                   basins_n=C.BASINS_N.default, seeds_n=C.SEEDS_N.default))
    with st.spinner(f"Running {opt} {cells * cells:,} times, {cfg.steps} steps each…", show_time=True):
        sweep = _sensitivity(sub.key(), cells)
    current = None
    if opt in cfg.optimizers:
        hp = cfg.hp(opt)
        current = (hp[x], hp[y])
    if metric == "steps_to_tol" and cfg.land.f_min is None:
        st.caption(f"{cfg.land.title} has no known minimum, so no steps to tolerance: coloured by the final loss.")
        metric = "final_loss"
    fig = _sensitivity_figure(sub.key(), cells, metric, current)
    event = st.plotly_chart(fig, width="stretch", key=f"sweep:{st.session_state.get('sweep_chart', 0)}",
                            on_select="rerun", selection_mode="points",
                            config={"displaylogo": False})
    _handle_cell_click(event, sweep)
    finite = sweep.final_loss[np.isfinite(sweep.final_loss)]
    diverged = int(np.isfinite(sweep.diverged_at).sum())
    others = "as in the comparison" if opt in cfg.optimizers else "torch's defaults"
    st.caption(f"{cells}×{cells} settings of {get_optimizer(opt).title}, {cfg.steps} steps from "
               f"({cfg.start_point[0]:g}, {cfg.start_point[1]:g}), other hyperparameters {others}. "
               f"{diverged:,} diverged (×)"
               + (f"; best final f {finite.min():.4g}" + ("" if sweep.f_min is None else f" (f* = {sweep.f_min:.4g})")
                  if finite.size else "")
               + (f"; {int((~sweep.allowed).sum()):,} settings {opt} does not allow (grey)"
                  if not sweep.allowed.all() else "")
               + ". Click a cell to run that setting in the comparison above.")
    _csv_button("Sweep (CSV)", lambda: sweep.to_frame(), "optimizer-lab-sweep.csv")


@st.cache_data(max_entries=16, show_spinner=False)
def _sensitivity(key: str, n: int):
    return _run_view(C.run_sensitivity, key, n)


@st.cache_resource(max_entries=16, show_spinner=False)
def _sensitivity_figure(key: str, n: int, metric: str, current):
    return sweep_plots.sensitivity_figure(_sensitivity(key, n), metric, current)


def _handle_cell_click(event, sweep) -> None:
    point = _clicked(event)
    if point is None:
        return
    xv, yv = point
    st.session_state["sweep_chart"] = st.session_state.get("sweep_chart", 0) + 1  # a new chart: selection cleared
    i, j = np.argmin(np.abs(sweep.y - yv)), np.argmin(np.abs(sweep.x - xv))
    xv, yv = float(sweep.x[j]), float(sweep.y[i])  # the cell's own (rounded) values: exactly what its run used
    if not sweep.allowed[i, j]:
        st.toast(f"{get_optimizer(sweep.optimizer).title} does not allow {sweep.x_name} = {xv:g}, "
                 f"{sweep.y_name} = {yv:g}", icon=":material/block:")
        st.rerun()
    st.session_state["pending_setting"] = (sweep.optimizer, sweep.x_name, sweep.y_name, xv, yv)
    st.rerun()


def _apply_pending_setting() -> None:
    """A clicked sweep cell: put its optimizer and two hyperparameters into the comparison's widgets."""
    pending = st.session_state.pop("pending_setting", None)
    if pending is None:
        return
    opt, x, y, xv, yv = pending
    chosen = list(st.session_state.get("w:opt", []))
    if opt not in chosen:
        st.session_state["w:opt"] = [*chosen, opt]
    st.session_state[f"w:{opt}.{x}"] = xv
    st.session_state[f"w:{opt}.{y}"] = yv
    st.toast(f"{get_optimizer(opt).title}: {x} = {xv:g}, {y} = {yv:g} loaded into the comparison",
             icon=":material/check:")


def _basins_view(cfg: C.RunConfig) -> None:
    land = cfg.land
    _ensure("w:basins.opt", list(cfg.optimizers[:2]))
    _ensure("w:basins.n", C.BASINS_N.default)
    c1, c2 = st.columns([3, 1])
    chosen = c1.multiselect("optimizers (one or two)", optimizer_names(), key="w:basins.opt", max_selections=2,
                            format_func=lambda n: get_optimizer(n).title)
    n = int(c2.number_input("starts per axis", 2, sweeps.MAX_BASIN_CELLS, step=10, key="w:basins.n"))
    if not len(land.minima):
        st.info(f"{land.title} has no minimum to reach, so there are no basins. Basin maps tell most on landscapes "
                "with several minima: Himmelblau, six-hump camel, Rastrigin, Styblinski–Tang.")
        return
    if not chosen:
        st.info("Pick one or two optimizers.")
        return
    cells = _capped(n, len(chosen), cfg.steps, "Starts per axis")
    # the start point is the one setting a basin map does not use: leave it out of the cache key
    sub = replace(cfg.runs_only(), start=None, explore=replace(C.Explore(), basins_opts=tuple(chosen)))
    with st.spinner(f"Running {len(chosen) * cells * cells:,} starts, {cfg.steps} steps each…", show_time=True):
        maps = _basins(sub.key(), cells)
    st.plotly_chart(_basins_figure(sub.key(), cells), width="stretch", key="basins", config={"displaylogo": False})
    m = next(iter(maps.values()))
    st.caption(f"Each of {cells}×{cells} start points, coloured by where its run is after {cfg.steps} steps: "
               f"within {m.radius:.3g} of a global minimum (★), or of another point where many runs end, usually a "
               "local minimum (○); grey: elsewhere; black: diverged. Lighter where the run settled sooner. "
               "Hyperparameters and schedule as in the comparison.")
    _csv_button("Basin maps (CSV)", lambda: pd.concat([mp.to_frame() for mp in maps.values()], ignore_index=True),
                "optimizer-lab-basins.csv")


@st.cache_data(max_entries=8, show_spinner=False)
def _basins(key: str, n: int):
    return _run_view(C.run_basins, key, n)


@st.cache_resource(max_entries=16, show_spinner=False)
def _basins_figure(key: str, n: int):
    return sweep_plots.basins_figure(_basins(key, n))


def _seeds_view(cfg: C.RunConfig) -> None:
    _ensure("w:seeds.n", C.SEEDS_N.default)
    n = int(st.number_input("seeds per optimizer", 2, sweeps.MAX_SEEDS, step=5, key="w:seeds.n"))
    noisy = cfg.noise > 0 or (cfg.batch and cfg.land.data_size)
    if not noisy:
        st.info("Without noise every seed gives the same run. Set **gradient noise σ** in the sidebar (under "
                "*Schedule, noise, clipping*), or a **minibatch size** on a landscape built from data.")
        return
    runs = _capped(n, len(cfg.optimizers), cfg.steps, "Seeds", square=False)
    sub = replace(cfg.runs_only(), explore=C.Explore())
    with st.spinner(f"Running {len(cfg.optimizers) * runs:,} seeds, {cfg.steps} steps each…", show_time=True):
        bands = _seed_bands(sub.key(), runs)
    st.plotly_chart(sweep_plots.seed_bands_figure(bands), width="stretch", key="seeds",
                    config={"displaylogo": False})
    st.caption(f"Seeds {cfg.seed} to {cfg.seed + runs - 1}: the median loss per step and the band between the 10th "
               "and 90th percentiles. A diverged run counts as worse than any other.")
    _csv_button("Seed bands (CSV)", lambda: pd.concat([b.to_frame() for b in bands.values()], ignore_index=True),
                "optimizer-lab-seeds.csv")


@st.cache_data(max_entries=4, show_spinner=False)  # every seed's loss per step: the largest entries
def _seed_bands(key: str, n: int):
    return _run_view(C.run_seed_bands, key, n)

"""The dashboard's shared controls: widgets generated from Param declarations, the sidebar, the table.

A widget's key is its field's URL key (optlab.schema): ``landscape``, ``opt``, ``adam.lr``,
``steps``... :func:`sidebar` draws the controls every page shares and reads them into a RunConfig.
"""

from __future__ import annotations

import math
from dataclasses import replace

import streamlit as st

from optlab import app_state as A
from optlab import schema as S
from optlab.comparison import comparison_table  # noqa: F401 - the page's table, shared with the notebook API
from optlab.landscape import CUSTOM
from optlab.optimizers import get_optimizer
from optlab.params import Param
from optlab.presets import PRESETS
from optlab.schedules import get_schedule
from optlab.state import RunConfig

LOG_GRID = sorted({round(m * 10.0**e, 12) for e in range(-6, 4) for m in (1, 2, 5)})
FORMULA_HELP = ("f(x, y) in ordinary notation: numbers, x, y, + − * / and ^ or ** for powers, parentheses, "
                "exp, log, sqrt, abs, tanh, sin, cos, tan, pi and e. Example: (1-x)^2 + 100*(y-x^2)^2")


def _g(v) -> str:
    return f"{v:g}"


GREEK = {r"\eta": "η", r"\beta": "β", r"\epsilon": "ε", r"\lambda": "λ", r"\mu": "μ", r"\tau": "τ",
         r"\sigma": "σ", r"\gamma": "γ", r"\rho": "ρ", r"\alpha": "α", r"\delta": "δ", r"\kappa": "κ",
         r"\theta": "θ", r"\nu": "ν", r"\xi": "ξ", r"\omega": "ω", r"\psi": "ψ", r"\Delta": "Δ"}
_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def symbol_text(symbol: str) -> str:
    """A parameter's TeX symbol as plain Unicode (\\beta_1 → β₁, \\eta_{min}/\\eta → η_min/η)."""
    for tex, char in sorted(GREEK.items(), key=lambda kv: -len(kv[0])):
        symbol = symbol.replace(tex, char)
    symbol = symbol.replace("{", "").replace("}", "").replace("\\", "").replace("^-", "⁻").replace("^+", "⁺")
    return "".join(c.translate(_SUBSCRIPT) if i and symbol[i - 1] == "_" else c
                   for i, c in enumerate(symbol)).replace("_₀", "₀").replace("_₁", "₁").replace("_₂", "₂")


def param_label(p: Param) -> str:
    """A widget's label: plain text (Streamlit renders Markdown and $TeX$ in labels, and the accessible name
    would read "$\\eta$ lr"): the name, then its symbol in Unicode, "lr (η)"."""
    if not p.symbol or p.symbol.startswith(r"\text") or p.symbol == p.name:
        return p.name
    return f"{p.name} ({symbol_text(p.symbol)})"


def param_widget(p: Param, key: str, label: str | None = None, where=st):
    """A widget generated from a parameter's declaration (in ``where``: st, a column, the sidebar)."""
    A.ensure(key, p.default)
    label = label or param_label(p)
    if p.kind is bool:
        return where.checkbox(label, key=key, help=p.help)
    if p.kind is str:  # a choice (LBFGS's line_search_fn): torch's spelling, None as "None" (a selectbox
        texts = ["None" if c is None else c for c in p.choices]  # holding None would show no selection)
        if st.session_state[key] not in texts:
            st.session_state[key] = texts[p.choices.index(p.default)]
        picked = where.selectbox(label, texts, key=key, help=p.help)
        return p.choices[texts.index(picked)]
    if p.log:  # a log-spaced slider; the link's own value is kept as an extra stop
        current = float(st.session_state[key])
        lo = p.ui_low if p.ui_low is not None else 1e-6
        hi = p.ui_high if p.ui_high is not None else 1e3
        grid = list(p.ui_options) or [g for g in LOG_GRID if lo <= g <= max(hi, 1e3) and p.accepts(g)]
        options = sorted(set(grid) | {current} | ({math.inf} if p.inf_ok else set()))  # inf: Prodigy's growth_rate
        return where.select_slider(label, options=options, key=key, format_func=_g, help=p.help)
    if p.kind is int:
        return int(where.number_input(label, min_value=int(max(p.low, -2**53)), max_value=int(min(p.high, 2**53)),
                                      step=int(p.ui_step or 1), key=key, help=p.help))
    step = p.ui_step or ((p.ui_high - p.ui_low) / 100 if p.ui_low is not None and p.ui_high is not None else 0.01)
    high = None if p.high == math.inf else float(p.high - (1e-9 if p.high_open else 0))
    low = None if p.low == -math.inf else float(p.low + (1e-12 if p.low_open else 0))
    if p.none:  # a float that may be None: the box left empty (Prodigy's beta3: √β2)
        value = where.number_input(label, min_value=low, max_value=high, step=float(step), format="%g", key=key,
                                   help=p.help, placeholder=f"None: {symbol_text(p.none)}")
        return None if value is None else float(value)
    return float(where.number_input(label, min_value=low, max_value=high, step=float(step), format="%g", key=key,
                                    help=p.help))


def field_widget(key: str, where=st, *, spec: Param | None = None, got=None, **shown):
    """The widget of one field of the page's state, as optlab.schema declares it: its kind, label, choices and
    how they are titled, or its Param (``spec`` overrides it, e.g. a range known only now); the widget's key is
    the field's URL key. ``got``: the values its choices depend on (default: the session's). ``shown``: the
    widget's own arguments (label_visibility, on_change, ...; options: fewer choices than the field's)."""
    f = S.FIELD[key]
    label = shown.pop("label", f.label or key)
    if f.widget in ("selectbox", "radio", "multiselect"):
        options = shown.pop("options", None) or list(f.choices(st.session_state if got is None else got))
        if f.default is not None:
            A.ensure(key, list(f.default) if f.widget == "multiselect" else f.default)
        draw = getattr(where, f.widget)
        return draw(label, options, key=key, format_func=f.title or str, **shown)
    spec = spec or f.spec(st.session_state if got is None else got)
    return param_widget(spec, key, label, where=where)


def _family(prefix: str, params, label=None) -> dict:
    """The widgets of a family field (``<prefix>.<param>``); the values that differ from their defaults."""
    values = {p.name: param_widget(p, f"{prefix}.{p.name}", label and p.name) for p in params}
    return {k: v for (k, v), p in zip(values.items(), params, strict=True) if v != p.default}


def sidebar() -> tuple[RunConfig, str | None]:
    """The controls every page shares; returns what they set, and why the landscape cannot be shown (or None)."""
    with st.sidebar:
        _presets()
        st.markdown("### Landscape")
        landscape = field_widget("landscape", label_visibility="collapsed",
                                 on_change=A.forget, args=("x0", "y0"))  # each landscape's own start
        formula, land, error = None, None, None
        if landscape == CUSTOM:
            formula, land, error = _formula_input()
        land = land or _last_valid_landscape(landscape)
        landscape_params = _family(landscape, land.params)
        try:
            land = land.with_params(**landscape_params)
        except ValueError as e:  # an empty custom domain
            st.error(str(e), icon=":material/error:")
            error = str(e)
        _keep_start_in_a_new_domain(land)

        st.markdown("### Optimizers")
        chosen = field_widget("opt", label_visibility="collapsed", placeholder="pick one or more optimizers")
        hparams = {}
        for name in chosen:
            with st.expander(get_optimizer(name).title, expanded=len(chosen) <= 2):
                hparams[name] = _family(name, get_optimizer(name).hparams)

        torch_class, torch_args = _torch_class()

        st.markdown("### Run")
        steps = field_widget("steps")
        c1, c2 = st.columns(2)
        x0, y0 = (field_widget(key, where, spec=replace(S.COORD, name=key, default=float(land.start[axis])))
                  for axis, (key, where) in enumerate((("x0", c1), ("y0", c2))))  # the landscape's own start
        st.caption("or click on the contour plot to start there")
        batch = 0
        if land.data_size:
            batch = field_widget("batch", spec=replace(S.BATCH, high=land.data_size),
                                 label=f"minibatch size (0 = all {land.data_size} examples)")
            batch = 0 if batch == land.data_size else batch

        with st.expander("Schedule, noise, clipping"):
            schedule = field_widget("schedule")
            schedule_params = _family("schedule", get_schedule(schedule).params, label=True)
            noise = field_widget("noise")
            seed = field_widget("seed")
            clip = field_widget("clip")

        field_widget("view", horizontal=True)

    start = (float(x0), float(y0))
    cfg = RunConfig(
        landscape=landscape, landscape_params=landscape_params, formula=formula, optimizers=tuple(chosen),
        hparams={k: v for k, v in hparams.items() if v}, steps=steps,
        start=None if start == tuple(land.start) else start, seed=seed, schedule=schedule,
        schedule_params=schedule_params, noise=float(noise), clip=float(clip), batch=batch,
        torch_class=torch_class, torch_args=torch_args)
    return cfg, error


TORCH_ARGS_HELP = ("Keyword arguments as in a call, literal values only (numbers, strings, tuples, lists, True, "
                   "False, None), e.g. lr=0.01, betas=(0.9, 0.99). θ is given by the page; steps, start, noise, "
                   "schedule and clipping are the page's settings.")


def _torch_class() -> tuple[str | None, str]:
    """The switch "compare a torch optimizer class", then the class (from the modules this server allows) and
    its keyword arguments: (class name or None, arguments as typed). torch is imported only when it is on."""
    from optlab import torch_choice

    on = st.toggle("+ a torch optimizer class (not verified by us)", key=A.TORCH_ON,
                   help="Any torch.optim.Optimizer of the modules this server allows, run on the same gradients "
                        "as the optimizers above. Optimizer Lab has not checked it: it shows what the class does.")
    if not on:
        return None, ""
    if not torch_choice.torch_available():
        st.info("torch is not installed on this server, so no torch class can run here (pip install torch).")
        return None, ""
    names = torch_choice.class_names()
    if not names:
        st.info(f"This server allows no torch optimizer classes ({torch_choice.setting()}: "
                f"{', '.join(torch_choice.allowed_modules()) or 'none'}).")
        return None, ""
    if st.session_state.get("torch") not in names:
        st.session_state["torch"] = "torch.optim.Adam" if "torch.optim.Adam" in names else names[0]
    A.ensure("torch.args", "")
    cls = st.selectbox("torch optimizer class", names, key="torch")
    args = st.text_input("keyword arguments", key="torch.args", placeholder="lr=0.01, betas=(0.9, 0.99)",
                         max_chars=torch_choice.MAX_ARGS_CHARS, help=TORCH_ARGS_HELP)
    st.caption(f"Classes of {', '.join(torch_choice.allowed_modules())} ({torch_choice.setting()}).")
    return cls, args


def _presets() -> None:
    st.markdown("### Presets")
    for p in PRESETS.values():  # one column: every preset's full name readable ("Momentum overshoot")
        st.button(p.title, key=f"preset:{p.name}", on_click=A.apply_preset, args=(p.name,), width="stretch",
                  help=p.notice.split(". ")[0] + ".")
    st.button("↺ Reset to defaults", on_click=A.reset, width="stretch")


def _keep_start_in_a_new_domain(land) -> None:
    """When the user changes a formula's domain so that the start falls outside, start from the new default."""
    previous = st.session_state.get("_domain")
    st.session_state["_domain"] = (land.name, land.domain)
    if previous is None or previous == (land.name, land.domain) or previous[0] != land.name:
        return  # a link's own start is kept; a new landscape has its own start already
    (x_lo, x_hi), (y_lo, y_hi) = land.domain
    x0, y0 = st.session_state.get("x0"), st.session_state.get("y0")
    if x0 is not None and not (x_lo <= x0 <= x_hi and y_lo <= y0 <= y_hi):
        A.forget("x0", "y0")


def _last_valid_landscape(landscape: str):
    """The landscape shown while the user's own cannot be: on an overloaded machine even the default formula
    may not compile in time, and then the page says so, tries again by itself, and shows nothing else yet."""
    from optlab.formula import DEFAULT_FORMULA, FormulaBusy, compile_later

    try:
        return A.last_valid_landscape(landscape)
    except FormulaBusy as e:
        compile_later(DEFAULT_FORMULA)
        st.warning(f"{S.plain(e)}. This page tries again by itself.", icon=":material/hourglass:")
        _rerun_once_compiled(DEFAULT_FORMULA)
        st.stop()


@st.fragment(run_every=1.0)
def _rerun_once_compiled(text: str) -> None:
    """Polls the background compile of a formula the server was too busy for; reruns the page when it is done."""
    from optlab.formula import retrying

    if not retrying(text):
        st.rerun()


def _formula_input():
    """The formula box: (the text, its landscape or None while the text is rejected, why it is rejected)."""
    from optlab.formula import (
        DEFAULT_FORMULA,
        MAX_LENGTH,
        FormulaBusy,
        FormulaError,
        compile_later,
        formula_landscape,
        start_worker,
    )

    start_worker()  # at once, not on the first formula: loading sympy in the worker's server takes a second
    A.ensure("formula", DEFAULT_FORMULA)
    text = st.text_input("f(x, y) =", key="formula", help=FORMULA_HELP, max_chars=MAX_LENGTH)
    try:
        land = formula_landscape(text)
    except FormulaBusy as e:
        compile_later(text)
        said = S.plain(e).removesuffix("; try again in a moment")
        st.warning(f"{said}. This page tries again by itself and shows your formula once it is compiled.",
                   icon=":material/hourglass:")
        _rerun_once_compiled(text)
        return text, None, f"Your formula could not be compiled right now: {S.plain(e)}."
    except FormulaError as e:
        st.error(f"Not accepted: {S.plain(e)}", icon=":material/error:")
        return text, None, f"Your formula is not accepted: {S.plain(e)}."
    # the domain widgets come next; their values for this run are already in the session state
    domain = {p.name: st.session_state.get(f"{CUSTOM}.{p.name}", p.default) for p in land.params}
    try:
        shown = land.with_params(**domain)
    except ValueError:  # an empty domain: reported where the domain is applied
        shown = None
    if shown is not None and shown.f_min is None:  # accepted, but NaN or infinite all over this domain
        st.warning(shown.minima_note, icon=":material/warning:")
        return text, land, shown.minima_note
    return text, land, None

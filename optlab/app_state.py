"""The page's state in a Streamlit session: loaded from the link into the widgets, published back to it.

A widget's key is its field's URL key (optlab.schema), so loading a PageState is writing its
link's values, defaults spelled out, into st.session_state; the page reads the widgets back into
the typed records (optlab.ui, optlab.pages) and :func:`publish` writes the link (address bar and
share box) from them through the one codec, optlab.link.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from optlab import link
from optlab import schema as S
from optlab.landscape import CUSTOM
from optlab.presets import PRESETS
from optlab.schedules import get_schedule
from optlab.state import Explore, PageState, RunConfig, ViewState

DEFAULT_PRESET = "adam_vs_sgd"
MAX_PROBLEMS = 12  # lines of a tampered link's warning
LINK_PROBLEMS = "_link_problems"  # what the link that opened this session did not hold (shown until a preset)
LAST_VALID = "_last_valid"  # the last RunConfig shown without an error (a formula not accepted shows it)
PRESET = "_preset"  # the preset the widgets were loaded from
TORCH_ON = "torch:on"  # the sidebar's switch "compare a torch optimizer class" (the link: whether torch= is there)


# --- link -> widgets ---------------------------------------------------------------------------------
def widget_values(state: PageState) -> dict:
    """Every widget's value for a state, by URL key, defaults spelled out."""
    cfg, view = state.runs, state.view
    start = cfg.start_point
    v = {"landscape": cfg.landscape, "opt": list(cfg.optimizers), "steps": cfg.steps, "x0": float(start[0]),
         "y0": float(start[1]), "seed": cfg.seed, "schedule": cfg.schedule, "noise": float(cfg.noise),
         "clip": float(cfg.clip), "batch": cfg.batch, "view": view.view, "k": view.k or 1,
         "torch": cfg.torch_class or "", "torch.args": cfg.torch_args, TORCH_ON: bool(cfg.torch_class)}
    if cfg.landscape == CUSTOM:
        v["formula"] = cfg.text
    v |= {f"{cfg.landscape}.{p.name}": cfg.landscape_params.get(p.name, p.default) for p in cfg.shape.params}
    v |= {f"{name}.{hp}": value for name in cfg.optimizers for hp, value in cfg.hp(name).items()}
    v |= {f"schedule.{p.name}": cfg.schedule_params.get(p.name, p.default) for p in get_schedule(cfg.schedule).params}
    if cfg.optimizers:
        v["inspect"] = view.inspect or cfg.optimizers[0]
    if view.explore.view:
        v["explore"] = view.explore.view
    v |= {"train.grid": view.train_grid, "train.seeds": view.train_seeds, "train.muon": view.train_muon,
          "train.muon_lr": view.train_muon_lr, "train.plane": view.train_plane}
    return v | view.explore.resolved(cfg.optimizers)


def _is_widget_key(key: str) -> bool:
    return not str(key).startswith("_") and ":" not in str(key)


def load(state: PageState, problems: list[str] | None = None) -> None:
    """Put a state into the widgets (before they are created, or from a callback)."""
    for key in [k for k in st.session_state if _is_widget_key(k)]:
        del st.session_state[key]
    st.session_state.update(widget_values(state))
    st.session_state[LINK_PROBLEMS] = problems or []


def apply_preset(name: str) -> None:
    state, problems = link.read_link(PRESETS[name].query)
    load(state)
    st.session_state[PRESET] = name


def reset() -> None:
    apply_preset(DEFAULT_PRESET)


def _query() -> tuple[dict[str, list[str]], list[str]]:
    """The link's parameters, and what could not be read of it. Streamlit drops a whole query string of over
    1,000 parameters or 512 Ki characters without a word (``sanitize_query_string``); its start is read here."""
    query = {k: st.query_params.get_all(k) for k in st.query_params.keys()}
    if query:
        return query, []
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    raw = getattr(get_script_run_ctx(), "query_string", "") or ""
    return link.read_query_string(raw) if raw.strip("&") else ({}, [])


def open_session() -> PageState | None:
    """On a session's first run: the link (or the default preset) into the widgets; returns the link's state."""
    if "landscape" in st.session_state:
        return None
    query, unread = _query()
    if not query and not unread:
        apply_preset(DEFAULT_PRESET)
        return None
    state, problems = link.read_link(query)
    load(state, unread + problems)
    same = link.to_query(state.runs)
    st.session_state[PRESET] = next((p.name for p in PRESETS.values() if link.to_query(p.config) == same), None)
    return state


def keep_settings() -> None:
    """Streamlit forgets the state of widgets a run does not draw: the explore views' settings (and the
    inspector's while the explore page is open) would be lost. Written back, they are plain session state,
    kept until drawn again."""
    for key in S.VIEW_KEYS:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def forget(*keys: str) -> None:
    for key in keys:
        st.session_state.pop(key, None)


def ensure(key: str, default):
    if key not in st.session_state:
        st.session_state[key] = default


def explore_settings(cfg: RunConfig, view: str | None) -> Explore:
    """The explore views' settings from the session (every view's, drawn or not), defaults left out."""
    return Explore.normalized(st.session_state, cfg.optimizers, view=view)


def view_state(cfg: RunConfig, explore_view: str | None = None, train: bool = False) -> ViewState:
    """How the page shows the runs, from the session's widgets (``train``: the networks page is open)."""
    ss = st.session_state
    inspect = ss.get("inspect")
    first = cfg.optimizers[0] if cfg.optimizers else None
    k = int(ss.get("k") or 1)
    return ViewState(view=ss.get("view", S.VIEWS[0]), inspect=None if inspect in (None, first) else inspect,
                     k=None if k == 1 else k,
                     explore=explore_settings(cfg, explore_view) if cfg.optimizers else Explore(view=explore_view),
                     train=train, train_grid=int(ss.get("train.grid", S.TRAIN_GRID.default)),
                     train_seeds=int(ss.get("train.seeds", S.TRAIN_SEEDS.default)),
                     train_muon=bool(ss.get("train.muon", False)),
                     train_muon_lr=float(ss.get("train.muon_lr", S.TRAIN_MUON_LR.default)),
                     train_plane=str(ss.get("train.plane", "pca")))


# --- a formula that cannot be shown: the last valid view ---------------------------------------------
def last_valid_landscape(name: str):
    """The landscape to take the controls from: for a formula not accepted (or not compiled yet), the last
    one shown in this session, else the default formula."""
    from landscapes import get_landscape

    if name != CUSTOM:
        return get_landscape(name)
    from optlab.formula import DEFAULT_FORMULA, formula_landscape

    last = st.session_state.get(LAST_VALID)
    return last.land if last is not None and last.landscape == CUSTOM else formula_landscape(DEFAULT_FORMULA)


def shown_runs(cfg: RunConfig, error: str | None) -> RunConfig:
    """cfg, or with an error (the typed-in text stays in its box) the last valid landscape in its place,
    said in a red box."""
    if not error:
        return cfg
    last = st.session_state.get(LAST_VALID)
    if last is not None and last.landscape == cfg.landscape:
        cfg = replace(cfg, formula=last.formula, landscape_params=last.landscape_params, start=last.start)
    else:
        cfg = replace(cfg, formula=None, landscape_params={}, start=None)
    what = (f"the formula {S.shown(cfg.land.formula, 60)}" if cfg.land.formula is not None
            else "the last valid landscape")
    st.error(f"{error} Fix it in the sidebar. Until then, this page shows the last valid view, with {what}.",
             icon=":material/error:")
    return cfg


def link_warning() -> None:
    """The one warning naming every ignored part of the link that opened the page (at most MAX_PROBLEMS lines;
    each echo of the link is a truncated code span, schema.shown)."""
    problems = st.session_state.get(LINK_PROBLEMS) or []
    if problems:
        listed = problems[:MAX_PROBLEMS]
        more = len(problems) - len(listed)
        st.warning("Some parts of this link were ignored and replaced by defaults:\n\n"
                   + "\n".join(f"- {p}" for p in listed) + (f"\n- … and {more:,} more" if more else ""),
                   icon=":material/warning:")


# --- state -> link -----------------------------------------------------------------------------------
def sync_url(state: PageState) -> None:
    """The address bar: the state's canonical link (written only when it differs). Written here rather than by
    widgets bound to it (``bind="query-params"``): Streamlit 1.67 refuses a script's write to a bound parameter
    and drops the parameters of bound widgets a run does not draw (tests/test_streamlit_binding.py)."""
    grouped: dict[str, list[str]] = {}
    for key, value in link.to_query(state):
        grouped.setdefault(key, []).append(value)
    if grouped != {k: st.query_params.get_all(k) for k in st.query_params.keys()}:
        st.query_params.from_dict(grouped)


def remember(cfg: RunConfig, error: str | None) -> None:
    if not error:
        st.session_state[LAST_VALID] = cfg

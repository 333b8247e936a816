"""The dashboard: `streamlit run app.py` and `optlab-lab` call :func:`main`.

Every run: the link that opened the session goes into the widgets (optlab.app_state), the sidebar
is read into what to run (optlab.ui), and the page st.navigation picked shows it (optlab.pages).
A link of the explore views (``explore=basins``) opens the explore page, ``train=true`` the networks page.
Once the first page has been served, the networks page's default views are computed in the background
(optlab.app_cache.warm_up).
"""

from __future__ import annotations

from functools import partial

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from optlab import app_cache, torch_choice, ui
from optlab import app_state as A
from optlab.pages import compare, explore, networks


def main() -> None:
    st.set_page_config(page_title="Optimizer Lab", page_icon="📉", layout="wide")
    _operator_secrets()  # before the link is read: it may name a torch class
    ctx: dict = {}
    pages = {
        "compare": st.Page(partial(_show, compare.page, ctx), title="Compare", icon=":material/compare_arrows:",
                           url_path="compare", default=True),
        "explore": st.Page(partial(_show, explore.page, ctx), title="Explore: many runs",
                           icon=":material/grid_view:", url_path="explore"),
        "networks": st.Page(partial(_show, networks.page, ctx), title="Networks: full training",
                            icon=":material/hub:", url_path="networks"),
    }
    current = st.navigation(list(pages.values()))
    opened = A.open_session()
    target = None if opened is None else ("networks" if opened.view.train else
                                          "explore" if opened.view.explore.view else None)
    if target is not None and current is not pages[target]:
        st.switch_page(pages[target], query_params={k: st.query_params.get_all(k) for k in st.query_params.keys()})
    A.keep_settings()
    cfg, error = ui.sidebar()
    cfg = A.shown_runs(cfg, error)
    with st.container():  # (the charts keep their place whether the warning shows or not)
        A.link_warning()
    ctx.update(cfg=cfg, error=error)
    current.run()
    app_cache.warm_up()  # after the server's first page: the networks page's default views, in the background


def _operator_secrets() -> None:
    """The server operator's settings in Streamlit's secrets (.streamlit/secrets.toml), handed to the modules
    that use them: ``torch_modules``, the modules torch classes may come from (OPTLAB_TORCH_MODULES wins)."""
    try:
        value = st.secrets.get(torch_choice.SECRET)
    except StreamlitSecretNotFoundError:  # no secrets file: nothing set
        value = None
    problem = torch_choice.set_secret(value)
    if problem:
        st.error(problem, icon=":material/error:")


def _show(page, ctx: dict) -> None:
    page(ctx["cfg"], ctx["error"])

"""The dashboard with parts swapped out, for `python -m bench.bench_app --parts`: where the browser's time goes.

OPTLAB_PAGE_PART=trivial_figures  the whole default page, its three figures replaced by the hello page's chart
OPTLAB_PAGE_PART=figures_only     the default page's three figures in their columns, nothing else on the page
"""

import os

import streamlit as st
from hello_app import figure as hello_figure  # streamlit puts this script's folder on sys.path

from optlab import app_cache, app_state, dashboard
from optlab.pages import compare
from optlab.presets import PRESETS

part = os.environ.get("OPTLAB_PAGE_PART", "trivial_figures")
st.set_page_config(page_title="Optimizer Lab", layout="wide")
if part == "figures_only":
    cfg = PRESETS[app_state.DEFAULT_PRESET].config
    compare.charts(app_cache.figures_for(cfg, "overlay"))
else:
    hello = hello_figure()
    app_cache.figures_for = lambda cfg, view: {"main": hello, "surface": hello, "progress": hello}
    dashboard.main()

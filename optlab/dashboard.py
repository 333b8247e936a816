"""The dashboard: what `streamlit run app.py` and `optlab-lab` run (the page's settings, then the page)."""

import streamlit as st

from optlab import ui


def main() -> None:
    st.set_page_config(page_title="Optimizer Lab", page_icon="📉", layout="wide")
    ui.main()

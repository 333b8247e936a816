"""Optimizer Lab: `streamlit run app.py`."""

import streamlit as st

from optlab.dashboard import main

st.set_page_config(page_title="Optimizer Lab", page_icon="📉", layout="wide")
main()

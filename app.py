"""Optimizer Lab: `streamlit run app.py` (or, installed, `optlab-lab`)."""

from optlab.dashboard import main

main()

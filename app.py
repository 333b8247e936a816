"""Optimizer Lab: `streamlit run app.py` (or, installed, `optlab-lab`)."""

from optlab.dashboard import main

# `streamlit run` executes this file as __main__. The explore views' worker process (optlab.chunks: spawn)
# imports it as __mp_main__ when it starts: without this guard it ran the whole page there too, in bare mode,
# and its hundreds of warnings filled a piped stdout until the worker blocked (tests/browser.py pipes it).
if __name__ == "__main__":
    main()

"""The framework's floor for bench_app.py: a Streamlit page with one small Plotly chart."""

import numpy as np
import plotly.graph_objects as go
import streamlit as st


def figure() -> go.Figure:
    """The hello page's chart (bench/parts_app.py puts it in place of the dashboard's figures)."""
    x = np.linspace(0, 6.28, 200)
    return go.Figure(go.Scatter(x=x, y=np.sin(x)))


if __name__ == "__main__":  # run by `streamlit run`, not on import
    st.plotly_chart(figure(), width="stretch")

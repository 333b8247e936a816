"""The framework's floor for bench_app.py: a Streamlit page with one slider and one Plotly contour.

``figure()`` is the small chart bench/parts_app.py puts in place of the dashboard's figures.
"""

import numpy as np
import plotly.graph_objects as go
import streamlit as st


def figure() -> go.Figure:
    """The hello page's chart (bench/parts_app.py puts it in place of the dashboard's figures)."""
    x = np.linspace(0, 6.28, 200)
    return go.Figure(go.Scatter(x=x, y=np.sin(x)))


def contour(k: int) -> go.Figure:
    """The hello page's chart: a 60×60 contour that the slider changes (its title names k)."""
    x = np.linspace(-3, 3, 60)
    z = np.sin(k * x)[None, :] * np.cos(x)[:, None]
    return go.Figure(go.Contour(x=x, y=x, z=z), layout=dict(title=dict(text=f"k = {k}"), height=420))


if __name__ == "__main__":  # run by `streamlit run`, not on import
    k = st.slider("k", 1, 50, 10, key="k")
    st.plotly_chart(contour(k), width="stretch")

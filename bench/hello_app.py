"""The framework's floor for bench_app.py: a Streamlit page with one small Plotly chart."""

import numpy as np
import plotly.graph_objects as go
import streamlit as st

x = np.linspace(0, 6.28, 200)
st.plotly_chart(go.Figure(go.Scatter(x=x, y=np.sin(x))), width="stretch")

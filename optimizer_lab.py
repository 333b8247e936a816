"""The distribution's import name (optimizer-lab -> optimizer_lab), so that Streamlit finds this project's
pyproject.toml beside it and serves the asset_dir of the components it declares (optlab.chart). Streamlit
looks for ``importlib.util.find_spec("optimizer_lab")``; the package itself is ``optlab``."""

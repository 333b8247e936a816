"""Optimizer Lab: see how optimizers move on 2-D loss landscapes.

The core is plain Python (NumPy, pandas): no Streamlit needed.

>>> import optlab
>>> run = optlab.simulate("rosenbrock", "adam", start=(-1.5, 2.0), steps=500, lr=0.05)
>>> run.path.shape
(501, 2)
"""

from optlab.landscape import Landscape, get_landscape, landscape_names
from optlab.optimizers import Optimizer, get_optimizer, optimizer_names
from optlab.params import Param
from optlab.schedules import Schedule, get_schedule, schedule_names
from optlab.simulation import MAX_RUN_STEPS, MAX_STEPS, Run, simulate

__all__ = [
    "MAX_RUN_STEPS", "MAX_STEPS", "Landscape", "Optimizer", "Param", "Run", "Schedule",
    "get_landscape", "get_optimizer", "get_schedule", "landscape_names", "optimizer_names",
    "schedule_names", "simulate", "formula_landscape", "FormulaError", "load_config", "runs_from_config",
    "compare", "Comparison",
]


def __getattr__(name):
    # typed-in formulas need sympy: imported on first use, not with optlab
    if name in ("formula_landscape", "FormulaError"):
        from optlab import formula

        return getattr(formula, name)
    if name in ("load_config", "runs_from_config"):  # the app's configuration (JSON export) in a notebook
        from optlab import config

        return getattr(config, name)
    if name in ("compare", "Comparison"):  # the app's runs, figures and table in a notebook (plotly: on use)
        from optlab import comparison

        return getattr(comparison, name)
    raise AttributeError(f"module 'optlab' has no attribute {name!r}")

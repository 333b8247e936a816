"""Optimizer Lab: see how optimizers move on 2-D loss landscapes.

The core is plain Python (NumPy; pandas for the tables): no Streamlit needed.

>>> import optlab
>>> run = optlab.simulate("rosenbrock", "adam", start=(-1.5, 2.0), steps=500, lr=0.05)
>>> run.path.shape
(501, 2)

Importing ``optlab`` imports nothing else: each name below is loaded on first use (PEP 562). So the
declarations in ``landscapes``, which import optlab's records (``optlab.landscape``), do not run the
engine or the registries with them, and the arrows between modules point one way (tests/test_imports.py).
"""

from __future__ import annotations

import importlib

__all__ = [
    "MAX_RUN_STEPS", "MAX_STEPS", "Landscape", "Optimizer", "Param", "Run", "Schedule",
    "get_landscape", "get_optimizer", "get_schedule", "landscape_names", "optimizer_names",
    "schedule_names", "simulate", "formula_landscape", "FormulaError", "load_config", "runs_from_config",
    "compare", "Comparison",
]


def __getattr__(name):
    if name in ("Landscape",):
        from optlab import landscape as module
    elif name in ("get_landscape", "landscape_names"):  # the registry is the declarations' package
        import landscapes as module
    elif name in ("Optimizer", "get_optimizer", "optimizer_names"):
        from optlab import optimizers as module
    elif name in ("Param",):
        from optlab import params as module
    elif name in ("Schedule", "get_schedule", "schedule_names"):
        from optlab import schedules as module
    elif name in ("MAX_RUN_STEPS", "MAX_STEPS", "Run", "simulate"):
        from optlab import simulation as module
    elif name in ("formula_landscape", "FormulaError"):  # typed-in formulas need sympy
        from optlab import formula as module
    elif name in ("load_config", "runs_from_config"):  # the app's configuration (JSON export) in a notebook
        from optlab import config as module
    elif name in ("compare", "Comparison"):  # the app's runs, figures and table in a notebook (plotly: on use)
        from optlab import comparison as module
    elif name.startswith("__"):
        raise AttributeError(f"module 'optlab' has no attribute {name!r}")
    else:
        try:  # a submodule not imported yet (optlab.simulation.SimpleNamespace, ...)
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise
        raise AttributeError(f"module 'optlab' has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value  # found once: later lookups do not come here
    return value


def __dir__():
    return sorted({*globals(), *__all__})

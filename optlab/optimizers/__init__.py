"""The optimizer registry: one declaration per optimizer, looked up by name."""

from __future__ import annotations

from optlab.optimizers.adafactor import ADAFACTOR
from optlab.optimizers.adam import ADAM, ADAMAX, ADAMW, AMSGRAD, NADAM, RADAM
from optlab.optimizers.adaptive import ADADELTA, ADAGRAD, RMSPROP
from optlab.optimizers.asgd import ASGD
from optlab.optimizers.base import Buffer, Optimizer
from optlab.optimizers.lbfgs import LBFGS
from optlab.optimizers.lion import LION
from optlab.optimizers.prodigy import PRODIGY
from optlab.optimizers.rprop import RPROP
from optlab.optimizers.schedule_free import SCHEDULE_FREE_ADAMW, SCHEDULE_FREE_SGD
from optlab.optimizers.sgd import MOMENTUM, NESTEROV, SGD

OPTIMIZERS: dict[str, Optimizer] = {
    o.name: o
    for o in (SGD, MOMENTUM, NESTEROV, ADAGRAD, RMSPROP, ADADELTA, ADAM, ADAMW, AMSGRAD,
              ADAMAX, NADAM, RADAM, LION, RPROP, ASGD, ADAFACTOR,
              SCHEDULE_FREE_SGD, SCHEDULE_FREE_ADAMW, PRODIGY, LBFGS)
}


def optimizer_names() -> list[str]:
    return list(OPTIMIZERS)


def optimizer_title(name: str) -> str:
    """What a person reads for an optimizer (legends, tables, the inspector): "SGD + momentum", not
    "momentum"; for a torch class's run (optlab.torch_classes, named "module.Class"): "Class (module, not
    verified by us)"."""
    if name not in OPTIMIZERS:
        module, _, cls = str(name).rpartition(".")
        return f"{cls} ({module}, not verified by us)"
    return OPTIMIZERS[name].title


def get_optimizer(name: str) -> Optimizer:
    if isinstance(name, Optimizer):
        return name
    try:
        return OPTIMIZERS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown optimizer {name!r}; allowed: {', '.join(OPTIMIZERS)}"
        ) from None


__all__ = ["Buffer", "OPTIMIZERS", "Optimizer", "get_optimizer", "optimizer_names", "optimizer_title"]

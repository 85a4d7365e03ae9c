"""The optimizer registry: torch.optim's optimizers as batched init/update pairs."""

from __future__ import annotations

from .base import ConfigError, Context, HParam, OptimizerSpec
from . import adafactor, adam, lbfgs, muon, sgd

OPTIMIZERS: dict[str, OptimizerSpec] = {
    spec.name: spec
    for spec in [
        sgd.SPEC,
        adam.SPEC,
        adam.SPEC_W,
        lbfgs.SPEC,
        adafactor.SPEC,
        muon.SPEC,
    ]
}


def get(name: str) -> OptimizerSpec:
    """The registered optimizer called ``name`` (torch's class name)."""
    try:
        return OPTIMIZERS[name]
    except KeyError:
        raise ConfigError(
            f"unknown optimizer {name!r}; choose one of: {', '.join(OPTIMIZERS)}"
            " (or give a dotted path to a torch.optim.Optimizer subclass)"
        ) from None


__all__ = ["OPTIMIZERS", "ConfigError", "Context", "HParam", "OptimizerSpec", "get"]

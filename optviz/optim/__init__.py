"""The optimizer registry: torch.optim's optimizers as batched init/update pairs."""

from __future__ import annotations

from ..params import ConfigError, HParam, lookup
from . import adafactor, adam, adaptive, generic, lbfgs, muon, rprop, sgd
from .base import Context, OptimizerSpec

OPTIMIZERS: dict[str, OptimizerSpec] = {
    spec.name: spec
    for spec in [
        sgd.SPEC,
        adam.SPEC,
        adam.SPEC_W,
        adam.NADAM,
        adam.RADAM,
        adam.ADAMAX,
        adaptive.ADAGRAD,
        adaptive.RMSPROP,
        adaptive.ADADELTA,
        sgd.ASGD,
        rprop.SPEC,
        lbfgs.SPEC,
        adafactor.SPEC,
        muon.SPEC,
    ]
}


def get(name: str, allowed: tuple[str, ...] = ("",)) -> OptimizerSpec:
    """The registered optimizer called ``name`` (torch's class name), or any
    ``torch.optim.Optimizer`` subclass by dotted path from the ``allowed`` packages."""
    if isinstance(name, str) and "." in name and name not in OPTIMIZERS:
        return generic.load(name, tuple(allowed))
    return lookup(OPTIMIZERS, name, "optimizer (or a dotted path to a torch.optim.Optimizer subclass)")


__all__ = ["OPTIMIZERS", "ConfigError", "Context", "HParam", "OptimizerSpec", "get"]

"""Operator settings, read from the environment.

A deployment for a class sets these so that no request can tie up the server:

``OPTVIZ_MAX_STEPS``  most steps in one run (default 20000)
``OPTVIZ_MAX_RUNS``   most runs in one batch (default 1000000)
``OPTVIZ_MAX_WORK``   most runs x steps in one request (default 200000000)
``OPTVIZ_MAX_GRID``   largest basin-map side (default 200)
``OPTVIZ_DEVICE``     auto, cpu or cuda (default auto)
``OPTVIZ_OPTIMIZER_MODULES``  comma-separated packages whose Optimizer classes a
                      web user may name by dotted path (default torch.optim,pytorch_optimizer)
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

from .params import ConfigError


@dataclass(frozen=True)
class Limits:
    max_steps: int = 20_000
    max_runs: int = 1_000_000
    max_work: int = 200_000_000
    max_grid: int = 200
    device: str = "auto"
    optimizer_modules: tuple[str, ...] = ("torch.optim", "pytorch_optimizer")

    def check(self, runs: int, steps: int) -> None:
        """Refuse a request over the limits, naming the limit and how to raise it."""
        if steps > self.max_steps:
            raise ConfigError(
                f"{steps} steps is more than this server allows ({self.max_steps}; OPTVIZ_MAX_STEPS)"
            )
        if runs > self.max_runs:
            raise ConfigError(f"{runs} runs is more than this server allows ({self.max_runs}; OPTVIZ_MAX_RUNS)")
        if runs * steps > self.max_work:
            raise ConfigError(
                f"{runs} runs x {steps} steps = {runs * steps:,} run-steps is more than this server "
                f"allows ({self.max_work:,}; OPTVIZ_MAX_WORK). Use fewer runs or steps."
            )


NO_LIMITS = Limits(max_steps=10**12, max_runs=10**12, max_work=10**18, max_grid=10**6, optimizer_modules=("",))


def limits() -> Limits:
    """The limits set in the environment; a malformed value keeps its default, with a warning."""
    default = Limits()
    values = {}
    for field, name in [
        ("max_steps", "OPTVIZ_MAX_STEPS"),
        ("max_runs", "OPTVIZ_MAX_RUNS"),
        ("max_work", "OPTVIZ_MAX_WORK"),
        ("max_grid", "OPTVIZ_MAX_GRID"),
    ]:
        text = os.environ.get(name)
        if text is None:
            continue
        try:
            value = int(text)
            if value < 1:
                raise ValueError
            values[field] = value
        except ValueError:
            warnings.warn(f"{name}={text!r} is not a whole number >= 1; using {getattr(default, field)}")
    device = os.environ.get("OPTVIZ_DEVICE", "").strip()
    if device:
        values["device"] = device
    modules = os.environ.get("OPTVIZ_OPTIMIZER_MODULES")
    if modules is not None:
        values["optimizer_modules"] = tuple(m.strip() for m in modules.split(",") if m.strip())
    return Limits(**{**default.__dict__, **values})

"""optviz: see how optimizers move.

The engine runs torch.optim's optimizers and lr_scheduler's schedules as one
batched computation over many runs, and holds every path equal to torch's own.

>>> import optviz
>>> res = optviz.run("rosenbrock", ["SGD", {"optimizer": "Adam", "hparams": {"lr": 0.05}}], steps=200)
>>> res.arrays["params"].shape          # (steps + 1, runs, 2)
(201, 2, 2)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from . import config, engine
from .engine import Result, RunConfig, stream
from .experiment import Experiment, Outcome, compute
from .optim import OPTIMIZERS
from .optim.schedules import SCHEDULES
from .params import ConfigError
from .problems import SurfaceProblem, Task
from .problems.datasets import DataConfig
from .problems.surfaces import SURFACES


def run(
    surface: str = "rosenbrock",
    runs: Iterable[RunConfig | str | Mapping[str, Any]] = ("SGD",),
    *,
    steps: int = 500,
    surface_params: Mapping[str, Any] | None = None,
    record: Iterable[str] = ("params", "loss", "lr"),
    device: str | None = None,
    dtype: str = "float32",
) -> Result:
    """Run optimizers on a surface; results come back as numpy arrays.

    Args:
        surface: a surface id from ``SURFACES``.
        runs: each an optimizer name, a dict of :class:`RunConfig` fields
            (``optimizer``, ``hparams``, ``schedule``, ``schedule_args``, ``start``,
            ``noise``, ``seed``, ``label``) or a ``RunConfig``.
        steps: optimizer steps per run.
        record: what to keep per step: ``params``, ``loss``, ``lr``, ``grad``, ``state``.

    Returns:
        A :class:`Result`: ``arrays["params"]`` is ``(steps + 1, runs, 2)``,
        ``arrays["loss"]`` ``(steps + 1, runs)``, ``arrays["lr"]`` ``(steps, runs)``;
        ``final_loss``, ``best_loss``, ``diverged_at`` (-1: never) per run.
    """
    configs = [
        r if isinstance(r, RunConfig) else RunConfig(r) if isinstance(r, str) else RunConfig(**r) for r in runs
    ]
    limits = dataclasses.replace(config.limits(), optimizer_modules=("",))
    problem = SurfaceProblem(surface, surface_params or {})
    return engine.run(problem, configs, steps=steps, record=tuple(record), device=device, dtype=dtype, limits=limits)


__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "SURFACES",
    "ConfigError",
    "DataConfig",
    "Experiment",
    "Outcome",
    "Result",
    "RunConfig",
    "SurfaceProblem",
    "Task",
    "compute",
    "run",
    "stream",
]

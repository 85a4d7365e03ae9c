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
import importlib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine import Result, RunConfig

# Imported on first use, so that `python -m optviz list` and a plain `import optviz`
# do not pay torch's import (2.5-3 s on a laptop) before they need it.
_LAZY = {
    "OPTIMIZERS": "optim",
    "SCHEDULES": "optim.schedules",
    "SURFACES": "problems.surfaces",
    "ConfigError": "params",
    "DataConfig": "problems.datasets",
    "Experiment": "experiment",
    "Outcome": "experiment",
    "compute": "experiment",
    "Result": "engine",
    "RunConfig": "engine",
    "stream": "engine",
    "SurfaceProblem": "problems",
    "Task": "problems",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    elif name.startswith("_"):  # not __main__ (that runs the command line), nor a probe's dunder
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    else:  # a submodule, as `import optviz; optviz.engine` gave when this file imported them all
        try:
            value = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


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
    from . import config, engine
    from .engine import RunConfig
    from .problems import SurfaceProblem

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

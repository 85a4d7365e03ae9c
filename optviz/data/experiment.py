"""A training experiment: a task and the runs that train on it.

The dataset counterpart of :class:`optviz.experiment.Experiment`: one frozen,
hashable value that keys the app's cache, is exported as JSON and is replayed by
``python -m optviz train --config``. :func:`from_dict` reads untrusted input and
names the bad field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..engine import RunConfig
from ..experiment import _run as _read_run
from ..optim.base import ConfigError
from .datasets import TASKS, DataConfig
from .problem import Task

VERSION = 1
KIND = "train"


@dataclass(frozen=True)
class TrainExperiment:
    task: Task = field(default_factory=Task)
    runs: tuple[RunConfig, ...] = ()
    dtype: str = "float32"

    def __post_init__(self):
        object.__setattr__(self, "runs", tuple(self.runs))

    def to_dict(self) -> dict[str, Any]:
        return {"version": VERSION, "kind": KIND, "task": self.task.to_dict(), "dtype": self.dtype,
                "runs": [_run_dict(r) for r in self.runs]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def replace(self, **changes) -> TrainExperiment:
        return replace(self, **changes)


def _run_dict(run: RunConfig) -> dict[str, Any]:
    out = run.to_dict()
    del out["noise"], out["seed"]  # a surface's simulated noise; mini-batches are the noise here
    return out


def is_train_config(data: Any) -> bool:
    return isinstance(data, Mapping) and (data.get("kind") == KIND or "task" in data)


def from_dict(data: Any) -> TrainExperiment:
    if not isinstance(data, Mapping):
        raise ConfigError("a training experiment must be a JSON object")
    task = data.get("task", {})
    if not isinstance(task, Mapping):
        raise ConfigError("'task' must be an object")
    runs = data.get("runs", [])
    if not isinstance(runs, list):
        raise ConfigError("'runs' must be a list")
    dtype = data.get("dtype", "float32")
    if dtype not in ("float32", "float64"):
        raise ConfigError(f"'dtype' must be float32 or float64, got {dtype!r}")
    return TrainExperiment(task_from_dict(task), tuple(_read_run(r, i) for i, r in enumerate(runs)), dtype)


def from_json(text: str) -> TrainExperiment:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not valid JSON: {exc}") from None
    return from_dict(data)


def _typed(mapping: Mapping, key: str, kinds, default, where: str):
    value = mapping.get(key, default)
    if isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,)):
        raise ConfigError(f"'{where}.{key}' has the wrong type: {value!r}")
    if not isinstance(value, kinds):
        raise ConfigError(f"'{where}.{key}' has the wrong type: {value!r}")
    return value


def task_from_dict(task: Mapping[str, Any]) -> Task:
    known = {"data", "model", "model_params", "loss", "loss_params", "batch_size", "epochs", "shuffle_seed",
             "init_seed"}
    unknown = set(task) - known
    if unknown:
        raise ConfigError(f"'task' has unknown fields: {', '.join(sorted(unknown))}")
    data = task.get("data", {})
    if not isinstance(data, Mapping):
        raise ConfigError("'task.data' must be an object")
    unknown = set(data) - {"dataset", "params", "test_fraction", "standardize", "seed", "csv", "target", "task"}
    if unknown:
        raise ConfigError(f"'task.data' has unknown fields: {', '.join(sorted(unknown))}")
    w = "task.data"
    config = DataConfig(
        dataset=_typed(data, "dataset", str, "moons", w),
        params=dict(_typed(data, "params", Mapping, {}, w)),
        test_fraction=float(_typed(data, "test_fraction", (int, float), 0.25, w)),
        standardize=_typed(data, "standardize", bool, True, w),
        seed=_typed(data, "seed", int, 0, w),
        csv=_typed(data, "csv", str, "", w),
        target=_typed(data, "target", str, "", w),
        task=_typed(data, "task", str, "auto", w),
    )
    if config.task not in TASKS:
        raise ConfigError(f"'task.data.task' must be one of {', '.join(TASKS)}")
    w = "task"
    return Task(
        data=config,
        model=_typed(task, "model", str, "mlp", w),
        model_params=dict(_typed(task, "model_params", Mapping, {}, w)),
        loss=_typed(task, "loss", str, "cross_entropy", w),
        loss_params=dict(_typed(task, "loss_params", Mapping, {}, w)),
        batch_size=_typed(task, "batch_size", int, 32, w),
        epochs=_typed(task, "epochs", int, 30, w),
        shuffle_seed=_typed(task, "shuffle_seed", int, 0, w),
        init_seed=_typed(task, "init_seed", int, 0, w),
    )

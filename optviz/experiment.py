"""An experiment: a problem, the runs on it, and how long to run them.

One frozen, hashable value that the app keeps in its URL, caches on, exports as
JSON, and that ``python -m optviz run --config`` replays. ``from_dict`` reads
untrusted input (a share link, an uploaded file) and says what is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from . import surfaces
from .engine import RunConfig, SurfaceProblem
from .optim.base import ConfigError

VERSION = 1


@dataclass(frozen=True)
class Experiment:
    problem: SurfaceProblem = field(default_factory=SurfaceProblem)
    runs: tuple[RunConfig, ...] = ()
    steps: int = 500
    dtype: str = "float32"

    def __post_init__(self):
        object.__setattr__(self, "runs", tuple(self.runs))

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "problem": {"surface": self.problem.surface, "params": dict(self.problem.params)},
            "steps": self.steps,
            "dtype": self.dtype,
            "runs": [r.to_dict() for r in self.runs],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def replace(self, **changes) -> Experiment:
        return replace(self, **changes)


def from_dict(data: Any) -> Experiment:
    """Build an Experiment from parsed JSON, raising ConfigError naming the bad field."""
    if not isinstance(data, Mapping):
        raise ConfigError("an experiment must be a JSON object")
    problem = data.get("problem", {})
    if not isinstance(problem, Mapping):
        raise ConfigError("'problem' must be an object like {\"surface\": \"rosenbrock\"}")
    surface = problem.get("surface", "rosenbrock")
    if not isinstance(surface, str):
        raise ConfigError("'problem.surface' must be a surface id")
    surfaces.get(surface)
    params = problem.get("params", {})
    if not isinstance(params, Mapping):
        raise ConfigError("'problem.params' must be an object")
    runs = data.get("runs", [])
    if not isinstance(runs, list):
        raise ConfigError("'runs' must be a list")
    return Experiment(
        problem=SurfaceProblem(surface, params),
        runs=tuple(_run(r, i) for i, r in enumerate(runs)),
        steps=_int(data.get("steps", 500), "steps"),
        dtype=_choice(data.get("dtype", "float32"), "dtype", ("float32", "float64")),
    )


def from_json(text: str) -> Experiment:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not valid JSON: {exc}") from None
    return from_dict(data)


def _run(data: Any, i: int) -> RunConfig:
    where = f"runs[{i}]"
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where} must be an object")
    unknown = set(data) - {"optimizer", "hparams", "schedule", "schedule_args", "start", "noise", "seed", "label", "color"}
    if unknown:
        raise ConfigError(f"{where} has unknown fields: {', '.join(sorted(unknown))}")
    for key in ("hparams", "schedule_args"):
        if not isinstance(data.get(key, {}), Mapping):
            raise ConfigError(f"{where}.{key} must be an object")
    start = data.get("start")
    if start is not None:
        if not isinstance(start, list | tuple) or not all(_is_number(v) for v in start):
            raise ConfigError(f"{where}.start must be a list of numbers")
        start = tuple(float(v) for v in start)
    noise = data.get("noise", 0.0)
    if not _is_number(noise):
        raise ConfigError(f"{where}.noise must be a number")
    for key in ("optimizer", "schedule", "label", "color"):
        if key in data and not isinstance(data[key], str):
            raise ConfigError(f"{where}.{key} must be a string")
    return RunConfig(
        optimizer=data.get("optimizer", "SGD"),
        hparams=dict(data.get("hparams", {})),
        schedule=data.get("schedule", "constant"),
        schedule_args=dict(data.get("schedule_args", {})),
        start=start,
        noise=float(noise),
        seed=_int(data.get("seed", 0), f"{where}.seed"),
        label=data.get("label", ""),
        color=data.get("color", ""),
    )


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _int(v: Any, name: str) -> int:
    if isinstance(v, bool) or not (isinstance(v, int) or (isinstance(v, float) and v.is_integer())):
        raise ConfigError(f"'{name}' must be a whole number, got {v!r}")
    return int(v)


def _choice(v: Any, name: str, choices: tuple[str, ...]) -> str:
    if v not in choices:
        raise ConfigError(f"'{name}' must be one of {', '.join(choices)}, got {v!r}")
    return v

"""An experiment: a problem, the runs on it, how long and in which precision.

One frozen, hashable value for every kind of problem: the app keeps it in its
URL and caches on it, the exports write it as JSON, and ``python -m optviz run
--config`` replays it. :func:`from_dict` reads untrusted input (a share link's
JSON, an uploaded file) and says what is wrong. :func:`compute` runs it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import config, cost, engine
from .config import NO_LIMITS, Cost, Limits
from .engine import Progress, Result, RunConfig
from .params import ConfigError
from .problems import ProblemConfig, SurfaceProblem, Task
from .problems import from_dict as problem_from_dict

VERSION = 2
DTYPES = ("float32", "float64")
RUN_FIELDS = ("optimizer", "hparams", "schedule", "schedule_args", "start", "noise", "seed", "label", "color")
# Floats of weights kept per computation (params of every k-th step): 32 MB in float64.
PATH_BUDGET = 1 << 22


@dataclass(frozen=True)
class Experiment:
    """``problem`` is any problem config (:mod:`optviz.problems`); ``steps`` None means
    the problem's own length (a surface's 500 steps, a training's epochs of batches)."""

    problem: ProblemConfig = field(default_factory=SurfaceProblem)
    runs: tuple[RunConfig, ...] = ()
    steps: int | None = None
    dtype: str = "float32"

    def __post_init__(self):
        object.__setattr__(self, "runs", tuple(self.runs))

    @property
    def n_steps(self) -> int:
        return self.steps if self.steps is not None else self.problem.default_steps

    def to_dict(self) -> dict[str, Any]:
        out = {"version": VERSION, "problem": self.problem.to_dict()}
        if self.steps is not None:
            out["steps"] = self.steps
        return out | {"dtype": self.dtype, "runs": [r.to_dict() for r in self.runs]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def replace(self, **changes) -> Experiment:
        return dataclasses.replace(self, **changes)

    def numbers_only(self) -> Experiment:
        """The experiment without what does not change the numbers (labels, colours): a cache key."""
        return self.replace(runs=tuple(dataclasses.replace(r, label="", color="") for r in self.runs))


def from_dict(data: Any) -> Experiment:
    """An Experiment from parsed JSON, raising ConfigError naming the bad field.

    Reads this version's files and the first release's two forms: a surface
    experiment (``problem: {surface, params}``) and a training one (``kind:
    train, task: {...}``).
    """
    if not isinstance(data, Mapping):
        raise ConfigError("an experiment must be a JSON object")
    if data.get("kind") == "train" or "task" in data:  # the first release's training files
        task = data.get("task", {})
        if not isinstance(task, Mapping):
            raise ConfigError("'task' must be an object")
        problem = Task.from_dict(task, where="task")
    else:
        problem = problem_from_dict(data.get("problem", {}))
    runs = data.get("runs", [])
    if not isinstance(runs, list):
        raise ConfigError("'runs' must be a list")
    steps = data.get("steps")
    if steps is None and not problem.own_length:
        steps = problem.default_steps
    return Experiment(
        problem=problem,
        runs=tuple(read_run(r, f"runs[{i}]") for i, r in enumerate(runs)),
        steps=None if steps is None else _int(steps, "steps"),
        dtype=_choice(data.get("dtype", "float32"), "dtype", DTYPES),
    )


MAX_JSON_DIGITS = 100  # a whole number longer than this is no count a config needs


def _json_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_JSON_DIGITS:
        raise ConfigError(f"a whole number of {len(text.lstrip('-')):,} digits is larger than any count a config needs")
    return int(text)


def from_json(text: str) -> Experiment:
    try:
        data = json.loads(text, parse_int=_json_int)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not valid JSON: {exc}") from None
    except RecursionError:  # json's C scanner stops cleanly at Python's recursion limit
        raise ConfigError("not a config: its lists or objects are nested too deeply") from None
    return from_dict(data)


def read_run(data: Any, where: str) -> RunConfig:
    """One run from parsed JSON; ``where`` names it in errors (``runs[2]``)."""
    if isinstance(data, str):
        return RunConfig(data)
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where} must be an object")
    unknown = set(data) - set(RUN_FIELDS)
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
    if isinstance(v, int) and not isinstance(v, bool) and v.bit_length() > 63:
        raise ConfigError(f"'{name}' must be a whole number below 2**63, got one of {v.bit_length():,} bits")
    if isinstance(v, bool) or not (isinstance(v, int) or (isinstance(v, float) and v.is_integer())):
        raise ConfigError(f"'{name}' must be a whole number, got {v!r}")
    return int(v)


def _choice(v: Any, name: str, choices: tuple[str, ...]) -> str:
    if v not in choices:
        raise ConfigError(f"'{name}' must be one of {', '.join(choices)}, got {v!r}")
    return v


# -- running it -----------------------------------------------------------------------


@dataclass
class Outcome:
    """A computed experiment: the engine's Result, plus what the problem measures on the path.

    ``result.arrays["params"]`` holds the weights at ``path_steps`` (every point
    for a small problem, every k-th and the last for a big model). Problems that
    measure more (a model's train/test loss and accuracy) fill ``metrics`` at
    ``eval_steps``: each (points, runs), NaN after a run diverged.
    """

    experiment: Experiment
    result: Result
    eval_steps: np.ndarray
    metrics: dict[str, np.ndarray]
    train_subset: int | None = None  # training rows the train metrics were measured on
    eval_time: float = 0.0
    steps_per_epoch: int = 1
    reused: int = 0  # runs not computed again, but reused from an earlier computation

    @property
    def steps(self) -> int:
        return self.result.steps

    @property
    def path_steps(self) -> np.ndarray:
        return self.result.params_steps

    @property
    def path_params(self) -> np.ndarray:
        return self.result.arrays["params"]

    def epochs(self, steps: np.ndarray) -> np.ndarray:
        return np.asarray(steps) / self.steps_per_epoch

    def path_index(self, step: int) -> int:
        """Index into ``path_steps`` of the last kept point at or before ``step``."""
        return int(np.searchsorted(self.path_steps, step, side="right") - 1)

    def relabelled(self, experiment: Experiment) -> Outcome:
        """The same numbers under another experiment's labels and colours."""
        configs = list(experiment.runs)
        return dataclasses.replace(self, experiment=experiment,
                                   result=dataclasses.replace(self.result, configs=configs))


def keep_interval(steps: int, runs: int, dims: int) -> int:
    """Keep every k-th point's weights so that all kept weights fit the budget."""
    keep = max(2, PATH_BUDGET // max(1, runs * dims))
    return max(1, math.ceil((steps + 1) / keep))


def estimate(exp: Experiment, limits: Limits | None = None, record: tuple[str, ...] = engine.DEFAULT_RECORD
             ) -> Cost:
    """What computing ``exp`` costs (:func:`optviz.cost.estimate`): evaluations per step,
    multiply-adds, CPU seconds and memory; ConfigError for a value that cannot run."""
    limits = limits or config.limits()
    problem = exp.problem.build()
    steps, runs = exp.n_steps, len(exp.runs)
    dims = sum(math.prod(s) for s in problem.layout)
    return cost.estimate(problem, exp.runs, steps, dtype=exp.dtype, record=record,
                         keep_every=keep_interval(steps, runs, dims), allowed=limits.optimizer_modules)


def estimate_seconds(exp: Experiment) -> float:
    """A rough CPU time, an upper bound: every step makes its most evaluations (LBFGS's max_eval)."""
    return estimate(exp, NO_LIMITS).seconds


def check(exp: Experiment, limits: Limits | None = None, record: tuple[str, ...] = engine.DEFAULT_RECORD) -> None:
    """Refuse an experiment the server would take too long over, or that cannot run at all,
    before any work: the checks the engine makes, with ConfigError saying what to change."""
    limits = limits or config.limits()
    if isinstance(exp.n_steps, bool) or not isinstance(exp.n_steps, int) or exp.n_steps < 1:
        raise ConfigError(f"steps must be a whole number >= 1, got {exp.n_steps!r}")
    limits.check(len(exp.runs), exp.n_steps)
    problem = exp.problem.build()
    check_work = getattr(problem, "check_work", None)
    if check_work is not None:  # a training's own words: epochs and batches
        check_work(len(exp.runs), exp.n_steps, limits.max_steps)
    if exp.runs:
        limits.check(len(exp.runs), exp.n_steps, estimate(exp, limits, record))


def compute(
    exp: Experiment,
    on_progress: Callable[[Progress], Any] | None = None,
    *,
    record: tuple[str, ...] = engine.DEFAULT_RECORD,
    chunk: int | None = None,
    device: str | None = None,
    limits: Limits | None = None,
    keep_every: int | None = None,
) -> Outcome:
    """Run every config of ``exp`` as one batch, then measure what the problem measures.

    ``on_progress`` gets an :class:`~optviz.engine.Progress` every ``chunk`` steps
    (returning False cancels); ConfigError comes before any work if the problem or
    a run is invalid or too big. ``keep_every`` overrides :func:`keep_interval`.
    """
    limits = limits or config.limits()
    if not exp.runs:
        raise ConfigError("no runs to compute")
    problem = exp.problem.build()
    steps, runs = exp.n_steps, len(exp.runs)
    check(exp, limits, record)
    dims = sum(math.prod(s) for s in problem.layout)
    small = getattr(problem, "small_step", None)
    threads = 1 if small is None or small(runs) else None
    result = engine.run(problem, exp.runs, steps=steps, record=record, device=device, dtype=exp.dtype,
                        chunk=chunk, limits=limits, keep_every=keep_every or keep_interval(steps, runs, dims),
                        threads=threads,
                        on_chunk=on_progress)
    evaluate = getattr(problem, "evaluate_path", None)
    if evaluate is None or "params" not in result.arrays:
        return Outcome(exp, result, np.zeros(0, dtype=np.int64), {})
    tick = time.perf_counter()
    eval_steps, metrics, subset = evaluate(result.params_steps, result.arrays["params"], exp.dtype)
    return Outcome(exp, result, eval_steps, metrics, subset, time.perf_counter() - tick,
                   getattr(problem, "steps_per_epoch", 1))


# -- reusing runs ------------------------------------------------------------------------------

# Kinds whose runs share nothing: each run's numbers are the same, bit for bit, computed alone
# or in any batch (elementwise kernels, per-run noise streams). A model's runs share
# mini-batches and batched matrix kernels, whose rounding may follow the batch's shape.
SEPARABLE_KINDS = ("surface", "formula")


def separable(exp: Experiment, record: tuple[str, ...] = engine.DEFAULT_RECORD) -> bool:
    """Whether :func:`compute_reusing` may put ``exp`` together from runs computed apart.
    Not with the optimizer's state recorded: a batch keeps a buffer for a run that torch
    (and the run alone) does not have (SGD's momentum buffer at momentum 0)."""
    return exp.problem.kind in SEPARABLE_KINDS and set(record) <= set(engine.DEFAULT_RECORD)


def compute_reusing(
    exp: Experiment,
    lookup: Callable[[Any], Outcome | None],
    store: Callable[[Any, Outcome], None],
    *,
    record: tuple[str, ...] = engine.DEFAULT_RECORD,
    on_progress: Callable[[Progress], Any] | None = None,
    chunk: int | None = None,
    device: str | None = None,
    limits: Limits | None = None,
) -> Outcome:
    """:func:`compute` for a :func:`separable` experiment, computing only the runs that
    ``lookup`` does not have (as one batch) and handing each new one to ``store``.

    Edit one run of four and only that one is computed again. The keys name a run, the
    length, precision and device, and how many points are kept, so a reused run is the one
    the whole batch would have computed. ``on_progress`` sees the new runs only.
    """
    limits = limits or config.limits()
    if not exp.runs:
        raise ConfigError("no runs to compute")
    check(exp, limits, record)
    problem = exp.problem.build()
    steps, runs = exp.n_steps, len(exp.runs)
    dims = sum(math.prod(s) for s in problem.layout)
    keep = keep_interval(steps, runs, dims)
    where = str(engine.choose_device(device or limits.device, runs * dims))
    keys = [("run", exp.replace(runs=(run,)), keep, where, record) for run in exp.runs]
    have = {key: lookup(key) for key in dict.fromkeys(keys)}
    missing = [key for key, part in have.items() if part is None]
    tick = time.perf_counter()
    if missing:
        new = compute(exp.replace(runs=tuple(key[1].runs[0] for key in missing)), on_progress, record=record,
                      chunk=chunk, device=where, limits=limits, keep_every=keep)
        for i, key in enumerate(missing):
            have[key] = _take(new, i)
            store(key, have[key])
    reused = sum(key not in missing for key in keys)  # a run twice, computed now, was not reused
    return _join(exp, [have[key] for key in keys], time.perf_counter() - tick, reused)


def _take(outcome: Outcome, i: int) -> Outcome:
    """Run ``i`` of an outcome whose problem measures nothing on the path, as if alone."""
    r = outcome.result
    one = [i]
    result = dataclasses.replace(
        r, configs=[r.configs[i]], resolved=[r.resolved[i]], arrays={k: v[:, one] for k, v in r.arrays.items()},
        final_loss=r.final_loss[one], final_params=r.final_params[one], best_loss=r.best_loss[one],
        best_step=r.best_step[one], diverged_at=r.diverged_at[one], run_time=r.run_time[one])
    return dataclasses.replace(outcome, experiment=outcome.experiment.replace(runs=(r.configs[i],)), result=result)


def _join(exp: Experiment, parts: list[Outcome], wall_time: float, reused: int) -> Outcome:
    """One outcome of ``exp`` from one-run outcomes in its order; ``wall_time`` is what
    computing the new ones took."""
    results = [p.result for p in parts]
    first = results[0]

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(r, name) for r in results])

    result = dataclasses.replace(
        first, configs=list(exp.runs), resolved=[r.resolved[0] for r in results],
        arrays={k: np.concatenate([r.arrays[k] for r in results], axis=1) for k in first.arrays},
        final_loss=cat("final_loss"), final_params=cat("final_params"), best_loss=cat("best_loss"),
        best_step=cat("best_step"), diverged_at=cat("diverged_at"), run_time=cat("run_time"), wall_time=wall_time)
    return dataclasses.replace(parts[0], experiment=exp, result=result, reused=reused)

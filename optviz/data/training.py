"""Train every run of an experiment together and measure what the views show.

:func:`train` streams the engine over a :class:`ModelProblem` and keeps, with
bounded memory, what the pictures need: every run's mini-batch loss and LR at
each step, its weights at every k-th step (every step for small models), and
then train/test loss and accuracy at up to a few hundred of those points,
evaluated in one batched pass after training.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from .. import config
from ..config import Limits
from ..engine import Result, _Stepper
from ..optim.base import ConfigError
from .experiment import TrainExperiment
from .problem import ModelProblem, Task

# Floats of weights kept per training (params of every k-th step): 32 MB in float64.
PATH_BUDGET = 1 << 22
# Floats of weights one streamed chunk may hold before it is thinned.
CHUNK_BUDGET = 1 << 23
# Multiply-adds spent evaluating train/test metrics after training.
EVAL_BUDGET = 3e9
MAX_EVAL_POINTS = 200
TRAIN_SUBSET = 1000  # train metrics on at most this many training rows


def max_train_work() -> float:
    """Most multiply-adds one training may take (OPTVIZ_MAX_TRAIN_WORK), about a minute of CPU."""
    text = os.environ.get("OPTVIZ_MAX_TRAIN_WORK")
    if text:
        try:
            value = float(text)
            if value > 0:
                return value
        except ValueError:
            pass
        warnings.warn(f"OPTVIZ_MAX_TRAIN_WORK={text!r} is not a positive number; using the default")
    return 5e11


# Per-step tensors below this many elements run on one intra-op thread.
SMALL_STEP = 1 << 20


@contextmanager
def single_threaded(enabled: bool = True) -> Iterator[None]:
    """Run torch's intra-op work on one thread while inside, then restore the count.

    A training step is a few hundred small kernels: splitting each across
    threads costs more than it saves, and on a busy machine every parallel
    region waits for a free core, which can make a step ten times slower.
    torch's setting is OpenMP's, which belongs to the calling thread: a
    Streamlit session's script thread changes its own, not its neighbours'.
    """
    if not enabled:
        yield
        return
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


@lru_cache(maxsize=8)
def problem_for(task: Task) -> ModelProblem:
    """One ModelProblem per task (its data and tensors are reused by every view)."""
    return ModelProblem(task)


def work(problem: ModelProblem, runs: int) -> float:
    """Multiply-adds of a training: forward and backward (about 3x the forward) per sample."""
    samples = problem.task.epochs * problem.n_train + problem.batch_size  # the last point's batch too
    return 3.0 * runs * samples * problem.flops_per_sample


def check(problem: ModelProblem, runs: int, limits: Limits | None = None) -> None:
    """Refuse a training the server would take too long over, with what to change."""
    limits = limits or config.limits()
    if problem.steps > limits.max_steps:
        raise ConfigError(
            f"{problem.task.epochs} epochs x {problem.steps_per_epoch} batches = {problem.steps:,} steps is more "
            f"than this server allows ({limits.max_steps:,}; OPTVIZ_MAX_STEPS). Use fewer epochs or larger batches."
        )
    limit = max_train_work()
    needed = work(problem, runs)
    if needed > limit:
        raise ConfigError(
            f"{runs} runs x {problem.task.epochs} epochs on a {problem.dims:,}-weight model is about "
            f"{needed / 1e9:,.0f} GFLOP; this server allows {limit / 1e9:,.0f} (OPTVIZ_MAX_TRAIN_WORK). "
            "Use fewer runs or epochs, or a smaller model."
        )


@dataclass
class Training:
    """A finished training: the engine's Result plus kept weights and metrics.

    ``result.arrays["loss"]`` is each run's mini-batch loss at every point
    (steps + 1, runs), ``result.arrays["lr"]`` its LR per update. Weights are kept
    at ``path_steps`` (every ``keep_every``-th step and the last):
    ``path_params`` (K, runs, P). ``metrics`` hold train/test loss and accuracy at
    ``eval_steps`` (a subset of ``path_steps``), each (S, runs); NaN after a
    run diverged.
    """

    experiment: TrainExperiment
    result: Result
    steps_per_epoch: int
    keep_every: int
    path_steps: np.ndarray
    path_params: np.ndarray
    eval_steps: np.ndarray
    metrics: dict[str, np.ndarray]
    train_subset: int  # training rows the train metrics were measured on
    eval_time: float

    @property
    def steps(self) -> int:
        return self.result.steps

    def epochs(self, steps: np.ndarray) -> np.ndarray:
        return np.asarray(steps) / self.steps_per_epoch

    def path_index(self, step: int) -> int:
        """Index into ``path_steps`` of the last kept point at or before ``step``."""
        return int(np.searchsorted(self.path_steps, step, side="right") - 1)


def keep_interval(steps: int, runs: int, dims: int) -> int:
    """Keep every k-th point's weights so that all kept weights fit the budget."""
    keep = max(2, PATH_BUDGET // max(1, runs * dims))
    return max(1, math.ceil((steps + 1) / keep))


def train(
    exp: TrainExperiment,
    on_progress: Callable[[dict[str, np.ndarray], int, int], None] | None = None,
    *,
    progress_chunks: int = 10,
    device: str | None = None,
    limits: Limits | None = None,
) -> Training:
    """Run every config of ``exp`` as one batch and evaluate the kept points.

    ``on_progress(arrays, done, steps)`` receives the loss and LR so far, about
    ``progress_chunks`` times, while the engine works. Raises ConfigError (with
    the reason) before any work if the task or a run is invalid or too big.
    """
    limits = limits or config.limits()
    if not exp.runs:
        raise ConfigError("no runs to train")
    problem = problem_for(exp.task)
    runs, steps, dims = len(exp.runs), problem.steps, problem.dims
    check(problem, runs, limits)
    k = keep_interval(steps, runs, dims)
    chunk = max(1, min(steps, CHUNK_BUDGET // max(1, runs * dims)))
    if on_progress is not None:
        chunk = max(1, min(chunk, math.ceil(steps / max(1, progress_chunks))))
    started = time.perf_counter()
    stepper = _Stepper(problem, list(exp.runs), steps, chunk, ("params", "loss", "lr"), device, exp.dtype, limits)
    parts: dict[str, list[np.ndarray]] = {"loss": [], "lr": []}
    kept_steps: list[np.ndarray] = []
    kept: list[np.ndarray] = []
    small = stepper.device.type == "cpu" and runs * problem.batch_size * problem.width <= SMALL_STEP
    with single_threaded(small):
        for c in stepper.chunks():
            n = c.arrays["params"].shape[0]
            t = np.arange(c.start, c.start + n)
            keep = (t % k == 0) | (t == steps)
            kept_steps.append(t[keep])
            kept.append(c.arrays.pop("params")[keep].copy())  # copy: let the chunk's full array go
            for key, arr in c.arrays.items():
                parts.setdefault(key, []).append(arr)
            if on_progress is not None and not c.done:
                on_progress({key: np.concatenate(v) for key, v in parts.items()}, c.start + n, steps)
    result = stepper.result(parts, time.perf_counter() - started)
    path_steps = np.concatenate(kept_steps)
    path_params = np.concatenate(kept)
    tick = time.perf_counter()
    eval_steps, metrics, subset = _evaluate(problem, path_steps, path_params, runs, exp.dtype)
    return Training(exp, result, problem.steps_per_epoch, k, path_steps, path_params, eval_steps, metrics, subset,
                    time.perf_counter() - tick)


def eval_points(problem: ModelProblem, runs: int, n_eval: int, available: int) -> int:
    per_point = runs * max(1, n_eval) * problem.flops_per_sample / 2
    return int(min(available, MAX_EVAL_POINTS, max(12, EVAL_BUDGET // max(per_point, 1))))


def _evaluate(problem: ModelProblem, path_steps, path_params, runs, dtype):
    tdtype = torch.float64 if dtype == "float64" else torch.float32
    X_train, y_train, X_test, y_test = problem.tensors(tdtype)
    subset = len(y_train)
    if subset > TRAIN_SUBSET:
        rows = np.sort(np.random.default_rng(0).choice(len(y_train), TRAIN_SUBSET, replace=False))
        X_train, y_train, subset = X_train[rows], y_train[rows], TRAIN_SUBSET
    count = eval_points(problem, runs, subset + len(y_test), len(path_steps))
    pick = np.unique(np.linspace(0, len(path_steps) - 1, count).round().astype(int))
    eval_steps = path_steps[pick]
    params = torch.as_tensor(path_params[pick], dtype=tdtype).reshape(-1, path_params.shape[2])
    alive = torch.isfinite(params).all(1).numpy()
    # A diverged run's NaN weights score NaN, not a chance accuracy.
    params = torch.nan_to_num(params, nan=0.0, posinf=0.0, neginf=0.0)
    metrics: dict[str, np.ndarray] = {}
    for split, X, y in (("train", X_train, y_train), ("test", X_test, y_test)):
        if not len(y):
            continue
        for name, values in problem.evaluate(params, X, y).items():
            values = np.where(alive, values, np.nan)
            metrics[f"{split}_{name}"] = values.reshape(len(pick), runs)
    return eval_steps, metrics, subset

"""Cached, streamed training for the Datasets page.

``results`` returns the finished training and its pictures from the global
cache when this experiment was trained before (by anyone; labels and colours
are not part of the key: renaming a run does not retrain it). Otherwise it
trains, calling ``on_progress`` with the loss so far when the work is long
enough to be worth a partial picture, and stores the result.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

from .. import config
from ..data.analysis import DataView, Landscape, data_view, landscape
from ..data.experiment import TrainExperiment
from ..data.problem import ModelProblem
from ..data.training import Training, problem_for, train, work
from ..engine import resolve
from ..optim.base import ConfigError

STREAM_ABOVE_SECONDS = 0.5
# Conservative CPU figures: Python and kernel overhead per step and run, and multiply-adds per second.
SECONDS_PER_STEP, SECONDS_PER_RUN_STEP, FLOPS = 3e-4, 1e-4, 2e9


@dataclass
class Bundle:
    training: Training
    landscape: Landscape | None
    view: DataView | None


class _Miss(Exception):
    """Raised inside the cached function so that a miss is not cached."""


@st.cache_data(max_entries=24, max_size="384MB", show_spinner=False)
def _cached(key: TrainExperiment, _bundle: Bundle | None = None) -> Bundle:
    # Streamlit hashes ``key`` only; called without ``_bundle`` it peeks, with it stores.
    if _bundle is None:
        raise _Miss
    return _bundle


def cache_key(exp: TrainExperiment) -> TrainExperiment:
    """The experiment without what does not change the numbers: labels and colours."""
    return exp.replace(runs=tuple(dataclasses.replace(r, label="", color="") for r in exp.runs))


def estimate_seconds(problem: ModelProblem, runs: int) -> float:
    return problem.steps * (SECONDS_PER_STEP + runs * SECONDS_PER_RUN_STEP) + work(problem, runs) / FLOPS


def results(exp: TrainExperiment, on_progress: Callable[[dict, int, int], None] | None = None) -> Bundle:
    key = cache_key(exp)
    try:
        bundle = _cached(key)
    except _Miss:
        problem = problem_for(key.task)
        stream = on_progress is not None and estimate_seconds(problem, len(key.runs)) > STREAM_ABOVE_SECONDS
        training = train(key, on_progress if stream else None)
        bundle = _cached(key, _bundle=Bundle(training, landscape(training, problem), data_view(training, problem)))
    # The cached numbers, with this page's labels and colours.
    return dataclasses.replace(bundle, training=dataclasses.replace(bundle.training, experiment=exp))


def run_errors(exp: TrainExperiment, problem: ModelProblem) -> dict[int, str]:
    """Per run index, why the engine would refuse it (torch's own words)."""
    errors = {}
    for i, run in enumerate(exp.runs):
        try:
            resolve(problem, run, problem.steps, config.limits().optimizer_modules)
        except ConfigError as exc:
            errors[i] = str(exc)
    return errors


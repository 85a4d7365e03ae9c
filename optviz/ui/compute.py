"""Cached, streamed computation for the page.

``results`` returns a finished Result from the global cache when this exact
experiment was computed before (by anyone: the cache is shared and bounded);
otherwise it streams the runs, calling ``on_progress`` with the partial arrays
so the page can draw while the engine works, and then stores the result.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import streamlit as st

from .. import config
from ..engine import Result, _Stepper
from ..experiment import Experiment

# Partial pictures cost a redraw each; only long computations get them.
STREAM_ABOVE_SECONDS = 0.4


def estimate_seconds(exp: Experiment) -> float:
    """A rough CPU time for an experiment: a fixed cost per step (Python and small
    kernels, ~100 us) and a little per run; LBFGS evaluates the problem up to
    max_iter times per step."""
    per_step = 1e-4 + 1e-7 * len(exp.runs)
    if any(r.optimizer == "LBFGS" for r in exp.runs):
        per_step *= 20
    return exp.steps * per_step


class _Miss(Exception):
    """Raised inside the cached function so that a miss is not cached."""


@st.cache_data(max_entries=64, max_size="256MB", show_spinner=False)
def _cached(exp: Experiment, _result: Result | None = None) -> Result:
    # Streamlit hashes ``exp`` only (a leading underscore excludes ``_result``), and
    # does not cache exceptions: calling without ``_result`` peeks, with it stores.
    if _result is None:
        raise _Miss
    return _result


def results(exp: Experiment, on_progress: Callable[[dict, int], None] | None = None) -> Result:
    try:
        return _cached(exp)
    except _Miss:
        pass
    limits = config.limits()
    stream_it = on_progress is not None and estimate_seconds(exp) > STREAM_ABOVE_SECONDS
    chunk = max(exp.steps // 10, 1) if stream_it else exp.steps
    started = time.perf_counter()
    stepper = _Stepper(exp.problem, list(exp.runs), exp.steps, chunk, ("params", "loss", "lr"), None,
                       exp.dtype, limits)
    parts: dict[str, list[np.ndarray]] = {}
    for c in stepper.chunks():
        for key, arr in c.arrays.items():
            parts.setdefault(key, []).append(arr)
        if stream_it and not c.done:
            on_progress({k: np.concatenate(v) for k, v in parts.items()}, c.start + len(c.arrays["lr"]))
    result = stepper.result(parts, time.perf_counter() - started)
    return _cached(exp, _result=result)


def run_errors(exp: Experiment) -> dict[int, str]:
    """Per run index, why the engine would refuse it (torch's own words)."""
    from ..engine import resolve
    from ..optim.base import ConfigError

    errors = {}
    for i, run in enumerate(exp.runs):
        try:
            resolve(exp.problem, run, exp.steps, config.limits().optimizer_modules)
        except ConfigError as exc:
            errors[i] = str(exc)
    return errors


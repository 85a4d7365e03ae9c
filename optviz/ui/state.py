"""Session state for the page: widget keys <-> Experiment.

Widgets own their values through ``st.session_state`` keys; this module is the
one place that knows those keys. ``load`` writes an Experiment into them (a
preset, a share link) and ``collect`` reads them back into a frozen Experiment
that keys the compute cache and the URL.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import streamlit as st

from .. import charts, share, surfaces
from ..engine import RunConfig, SurfaceProblem
from ..experiment import Experiment
from ..optim.base import ConfigError
from ..presets import DEFAULT
from . import runs


def allowed_modules() -> tuple[str, ...]:
    return runs.allowed_modules()


# The run list: shared widgets, this page's keys (no prefix: links and tests predate the editor).
EDITOR = runs.RunEditor("")
hp_key, sched_key = EDITOR.hp_key, EDITOR.sched_key
ui_default, read_value = runs.ui_default, runs.read_value
on_optimizer_change, on_schedule_change, remove_run = (
    EDITOR.on_optimizer_change, EDITOR.on_schedule_change, EDITOR.remove_run)


def init() -> list[str]:
    """On a session's first run, load the experiment from the URL. Returns warnings."""
    s = st.session_state
    if "run_ids" in s:
        # Streamlit drops a page's widget values while another page (Sweeps) is
        # shown; coming back, put the last experiment back into them.
        if "surface" not in s or any(f"r{rid}.optimizer" not in s for rid in s.run_ids):
            load(*s.get("last_experiment", (DEFAULT, share.View())))
        return []
    params = {key: st.query_params.get_all(key) for key in st.query_params.keys()}
    if not params:
        load(DEFAULT, share.View())
        return []
    exp, view, warnings = share.decode(params, DEFAULT, allowed_modules())
    load(exp, view)
    return warnings


def load(exp: Experiment, view: share.View) -> None:
    """Put an experiment into the widgets' state (call before widgets exist, or from a callback)."""
    s = st.session_state
    EDITOR.clear()
    s.surface = exp.problem.surface
    set_surface_params(exp.problem.spec, dict(exp.problem.params))
    first = exp.runs[0] if exp.runs else RunConfig()
    start = share.common_start(exp.runs) or exp.problem.start
    s.start_x, s.start_y = float(start[0]), float(start[1])
    s.steps, s.noise, s.seed, s.dtype = exp.steps, float(first.noise), int(first.seed), exp.dtype
    s.view, s.tol = view.view, view.tol
    for run in exp.runs:
        add_run(run, own_start=run.start is not None and tuple(run.start) != tuple(start))


def set_surface_params(spec: surfaces.Surface, values: dict[str, Any]) -> None:
    for p in spec.params:
        st.session_state[f"sp.{p.name}"] = float(values.get(p.name, p.default))


def add_run(run: RunConfig | None = None, own_start: bool = False) -> int:
    """Append a run to the editor; with no run, a new one in the next palette colour."""
    s = st.session_state
    rid = EDITOR.add_run(run)
    s[f"r{rid}.own_start"] = own_start
    start = run.start if own_start and run is not None else (s.start_x, s.start_y)
    s[f"r{rid}.start_x"], s[f"r{rid}.start_y"] = float(start[0]), float(start[1])
    return rid


def _copy_start(rid: int, new: int) -> None:
    s = st.session_state
    for key in ("own_start", "start_x", "start_y"):
        s[f"r{new}.{key}"] = s.get(f"r{rid}.{key}")


EDITOR.after_duplicate = _copy_start
duplicate_run = EDITOR.duplicate_run


def on_surface_change() -> None:
    """A new surface starts at its own classic start with its default parameters."""
    spec = surfaces.get(st.session_state.surface)
    set_surface_params(spec, {})
    st.session_state.start_x, st.session_state.start_y = spec.start


def on_own_start(rid: int) -> None:
    """Switching a run to its own start begins from the page's start point."""
    s = st.session_state
    if s.get(f"r{rid}.own_start"):
        s[f"r{rid}.start_x"], s[f"r{rid}.start_y"] = float(s.start_x), float(s.start_y)


def collect_run(rid: int) -> RunConfig:
    s = st.session_state
    run = EDITOR.collect_run(rid)
    if s.get(f"r{rid}.own_start"):
        start = (float(s[f"r{rid}.start_x"]), float(s[f"r{rid}.start_y"]))
    else:
        start = (float(s.start_x), float(s.start_y))
    return RunConfig(run.optimizer, run.hparams, run.schedule, run.schedule_args, start, float(s.noise),
                     int(s.seed), run.label, run.color)


def collect() -> tuple[Experiment, share.View, dict[int, str]]:
    """The experiment the widgets describe, the view, and errors of runs that can't be built."""
    s = st.session_state
    spec = surfaces.get(s.surface)
    sparams = {p.name: s.get(f"sp.{p.name}", p.default) for p in spec.params}
    errors: dict[int, str] = {}
    try:
        problem = SurfaceProblem(spec.id, sparams)
    except ConfigError as exc:
        errors[-1] = str(exc)
        problem = SurfaceProblem(spec.id)
    collected = []
    for n, rid in enumerate(s.run_ids):
        try:
            run = collect_run(rid)
        except ConfigError as exc:
            errors[rid] = str(exc)
            continue
        if run.color == charts.PALETTE[n % len(charts.PALETTE)]:
            run = replace(run, color="")  # the default colour needs no room in the link
        collected.append(run)
    exp = Experiment(problem, tuple(collected), int(s.steps), s.get("dtype", "float32"))
    view = share.View(s.view, float(s.tol))
    s.last_experiment = (exp, view)  # not a widget key: it outlives a visit to another page
    return exp, view, errors


def sync_url(exp: Experiment, view: share.View) -> None:
    """Keep the address bar equal to the page, so copying it shares the picture."""
    wanted = share.encode(exp, view)
    current = {k: st.query_params.get_all(k) for k in st.query_params.keys()}
    normal = {k: v if isinstance(v, list) else [v] for k, v in wanted.items()}
    if current != normal:
        st.query_params.from_dict(wanted)

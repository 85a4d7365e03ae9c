"""Session state for the page: widget keys <-> Experiment.

Widgets own their values through ``st.session_state`` keys; this module is the
one place that knows those keys. ``load`` writes an Experiment into them (a
preset, a share link) and ``collect`` reads them back into a frozen Experiment
that keys the compute cache and the URL.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from dataclasses import replace

from .. import charts, config, schedules, share, surfaces
from ..engine import RunConfig, SurfaceProblem
from ..experiment import Experiment
from ..optim import get as get_optimizer
from ..optim.base import ConfigError, HParam
from ..presets import DEFAULT


def allowed_modules() -> tuple[str, ...]:
    return config.limits().optimizer_modules


def hp_key(rid: int, name: str, i: int | None = None) -> str:
    return f"r{rid}.hp.{name}" if i is None else f"r{rid}.hp.{name}.{i}"


def sched_key(rid: int, name: str) -> str:
    return f"r{rid}.s.{name}"


def ui_default(spec, h: HParam) -> Any:
    return spec.ui_defaults.get(h.name, h.default)


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
    for key in [k for k in s.keys() if isinstance(k, str) and k.startswith("r") and "." in k]:
        del s[key]
    s.surface = exp.problem.surface
    set_surface_params(exp.problem.spec, dict(exp.problem.params))
    first = exp.runs[0] if exp.runs else RunConfig()
    start = share.common_start(exp.runs) or exp.problem.start
    s.start_x, s.start_y = float(start[0]), float(start[1])
    s.steps, s.noise, s.seed, s.dtype = exp.steps, float(first.noise), int(first.seed), exp.dtype
    s.view, s.tol = view.view, view.tol
    s.next_run_id = 0
    s.run_ids = []
    for run in exp.runs:
        add_run(run, own_start=run.start is not None and tuple(run.start) != tuple(start))


def set_surface_params(spec: surfaces.Surface, values: dict[str, Any]) -> None:
    for p in spec.params:
        st.session_state[f"sp.{p.name}"] = float(values.get(p.name, p.default))


def add_run(run: RunConfig | None = None, own_start: bool = False) -> int:
    """Append a run to the editor; with no run, a new one in the next palette colour."""
    s = st.session_state
    rid = s.next_run_id
    s.next_run_id += 1
    run = run or RunConfig("Adam", label=f"run {len(s.run_ids) + 1}")
    spec = get_optimizer(run.optimizer, allowed_modules())
    s[f"r{rid}.optimizer"] = spec.name
    s[f"r{rid}.label"] = run.label or spec.name
    s[f"r{rid}.color"] = run.color or ""
    _set_hparams(rid, spec, run.hp)
    s[f"r{rid}.own_start"] = own_start
    start = run.start if own_start else (s.start_x, s.start_y)
    s[f"r{rid}.start_x"], s[f"r{rid}.start_y"] = float(start[0]), float(start[1])
    s[f"r{rid}.sched"] = run.schedule
    for a in schedules.get(run.schedule).args:
        _set_value(sched_key(rid, a.name), a, run.sargs.get(a.name, a.default))
    s.run_ids = [*s.run_ids, rid]
    return rid


def _set_hparams(rid, spec, values):
    for h in spec.hparams:
        _set_value(hp_key(rid, h.name), h, values.get(h.name, ui_default(spec, h)))


def _set_value(key: str, h: HParam, value: Any) -> None:
    if h.kind == "floats":
        for i, v in enumerate(value):
            st.session_state[f"{key}.{i}"] = None if v is None else float(v)
    elif h.kind == "float":
        st.session_state[key] = None if value is None else float(value)
    elif h.kind == "int":
        st.session_state[key] = None if value is None else int(value)
    elif h.kind == "text":
        st.session_state[key] = share._value(value)
    elif h.kind == "ints":
        st.session_state[key] = "" if value is None else share._value(value)
    else:
        st.session_state[key] = value


def read_value(key: str, h: HParam) -> Any:
    s = st.session_state
    if h.kind == "floats":
        return tuple(s.get(f"{key}.{i}", h.default[i] if h.default else None) for i in range(h.length))
    value = s.get(key, h.default)
    if h.kind in ("text", "ints") and isinstance(value, str):
        return h.parse(value)
    return value


def on_optimizer_change(rid: int) -> None:
    """A new optimizer starts from its own defaults (ui defaults, else torch's)."""
    spec = get_optimizer(st.session_state[f"r{rid}.optimizer"], allowed_modules())
    _set_hparams(rid, spec, {})


def on_schedule_change(rid: int) -> None:
    spec = schedules.get(st.session_state[f"r{rid}.sched"])
    for a in spec.args:
        _set_value(sched_key(rid, a.name), a, a.default)


def on_surface_change() -> None:
    """A new surface starts at its own classic start with its default parameters."""
    spec = surfaces.get(st.session_state.surface)
    set_surface_params(spec, {})
    st.session_state.start_x, st.session_state.start_y = spec.start


def duplicate_run(rid: int) -> None:
    run = collect_run(rid)
    own = bool(st.session_state.get(f"r{rid}.own_start"))
    new = add_run(RunConfig(run.optimizer, run.hparams, run.schedule, run.schedule_args, run.start,
                            label=f"{run.label} (copy)", color=""), own_start=own)
    # Put the copy right after its original.
    ids = [i for i in st.session_state.run_ids if i != new]
    ids.insert(ids.index(rid) + 1, new)
    st.session_state.run_ids = ids


def on_own_start(rid: int) -> None:
    """Switching a run to its own start begins from the page's start point."""
    s = st.session_state
    if s.get(f"r{rid}.own_start"):
        s[f"r{rid}.start_x"], s[f"r{rid}.start_y"] = float(s.start_x), float(s.start_y)


def remove_run(rid: int) -> None:
    st.session_state.run_ids = [i for i in st.session_state.run_ids if i != rid]


def collect_run(rid: int) -> RunConfig:
    s = st.session_state
    spec = get_optimizer(s[f"r{rid}.optimizer"], allowed_modules())
    hp = {}
    for h in spec.hparams:
        value = read_value(hp_key(rid, h.name), h)
        if value != h.default:
            hp[h.name] = value
    schedule = schedules.get(s.get(f"r{rid}.sched", "constant"))
    sargs = {}
    for a in schedule.args:
        value = read_value(sched_key(rid, a.name), a)
        if value != a.default:
            sargs[a.name] = value
    if s.get(f"r{rid}.own_start"):
        start = (float(s[f"r{rid}.start_x"]), float(s[f"r{rid}.start_y"]))
    else:
        start = (float(s.start_x), float(s.start_y))
    return RunConfig(spec.name, hp, schedule.name, sargs, start, float(s.noise), int(s.seed),
                     s.get(f"r{rid}.label", ""), s.get(f"r{rid}.color", ""))


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
    runs = []
    for n, rid in enumerate(s.run_ids):
        try:
            run = collect_run(rid)
        except ConfigError as exc:
            errors[rid] = str(exc)
            continue
        if run.color == charts.PALETTE[n % len(charts.PALETTE)]:
            run = replace(run, color="")  # the default colour needs no room in the link
        runs.append(run)
    exp = Experiment(problem, tuple(runs), int(s.steps), s.get("dtype", "float32"))
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

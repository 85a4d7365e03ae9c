"""The Sweeps page: thousands of runs at once, where batching pays off.

Four sections: an LR sweep (loss against lr, one curve per optimizer), a basin
map (a run from every start of a grid, two optimizers side by side), a
hyperparameter heatmap (with Polyak's heavy ball where the curvatures are
known) and a trainability map (per-layer learning rates of a tiny network, from
:func:`optviz.classics.fractal_grid`). The LR sweep and the heatmap run on a
surface or on a dataset with a model. Each engine section's settings are one
frozen value (:mod:`optviz.codec`) that keys the cache and the link; each
computation is one engine batch, streamed with a progress bar; a click on a run
opens its path on the page of its kind. The trainability map's link is its own
(:func:`optviz.classics.fractal_link`), and a click on it zooms in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import streamlit as st

from .. import charts, classics, config, sweeps
from ..charts.classics import fractal_figure
from ..classics import FRACTAL_NUM, FRACTAL_STEPS, FRACTAL_VIEW, Window, fractal_from_link, fractal_link
from ..codec import (
    BASIN_SLOTS,
    COLOR_BY,
    LR_SLOTS,
    MAX_LRS,
    SECTIONS,
    SWEEP_DEFAULTS,
    SWEEP_KINDS,
    View,
    decode_sweep,
    default_axis,
    encode,
    encode_sweep,
    float_hparams,
    second_axis,
)
from ..engine import RunConfig
from ..experiment import Experiment
from ..optim import OPTIMIZERS
from ..optim import get as get_optimizer
from ..params import ConfigError
from ..problems import ProblemConfig, Task, surfaces
from ..problems.base import value_text
from ..sweeps import Axis
from . import plot, theme, viewport
from .explore import DATASETS, page_of
from .kinds import surface, training
from .widgets import (
    allowed_modules,
    computed,
    history_navigation,
    link_warnings,
    plain,
    query_params,
    set_value,
    sync_url,
    table,
)

# Every sweep here is float64: near a good setting the loss falls below
# float32's smallest number, and a map of zeros has no best cell.
DTYPE = "float64"
BASIN_SIDE_BY_SIDE = 800  # CSS pixels of main area for two basin maps side by side
# One CPU thread per sweep: a classroom server's sessions share a few cores,
# and splitting small elementwise ops costs more than it saves (bench_sweeps).
THREADS = 1
NONE = "—"  # an empty optimizer slot
PREFIX = {"lr": "sw.lr", "basin": "sw.bm", "heatmap": "sw.hm"}
KIND_NAMES = {"surface": "A surface", "train": "A dataset and a model"}


def run_label(run: RunConfig, with_lr: bool = True) -> str:
    """``SGD momentum=0.9``: what a curve or a map is called."""
    if run.label:
        return run.label
    hp = {k: v for k, v in run.hparams if with_lr or k != "lr"}
    return " ".join([run.optimizer, *(f"{k}={value_text(v)}" for k, v in hp.items())])


def settings_text(run: RunConfig, skip: tuple[str, ...] = ("lr",)) -> str:
    return " ".join(f"{k}={value_text(v)}" for k, v in run.hparams if k not in skip)


def parse_settings(name: str, text: str, skip: tuple[str, ...] = ("lr",)) -> dict[str, Any]:
    """``momentum=0.9 nesterov=true`` (spaces or semicolons between pairs) with torch's names."""
    spec = get_optimizer(name, allowed_modules())
    out: dict[str, Any] = {}
    for pair in filter(None, re.split(r"[;\s]+", text.strip())):
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"{pair!r} is not key=value, like momentum=0.9")
        if key in skip:
            raise ConfigError(f"{key} has its own box here; leave it out of the settings")
        out[key] = spec.hparam(key).parse(value)
    return out


# -- the problem of a section ---------------------------------------------------------------


def _tk(prefix: str):
    """Widget keys of a section's training task (the Datasets page's widgets, under this prefix)."""
    return lambda name: f"{prefix}.t.{name}"


def _sk(prefix: str):
    """Widget keys of a section's surface or formula (the Surfaces page's picker, under this prefix)."""
    return lambda name: f"{prefix}.{name}"


def _group(kind: str) -> str:
    """The picker a kind is chosen in: a dataset's, or the surfaces' (a typed formula is a surface)."""
    return "train" if kind in DATASETS.kinds else "surface"


def _load_problem(prefix: str, problem: ProblemConfig, overwrite: bool) -> None:
    s = st.session_state
    if not overwrite and f"{prefix}.kind" in s:
        return
    s[f"{prefix}.kind"] = _group(problem.kind)
    if _group(problem.kind) == "train":
        training.load(_tk(prefix), Experiment(problem), View())
    else:
        for key in [k for k in s.keys() if isinstance(k, str) and k.startswith(prefix + ".sp.")]:
            del s[key]
        surface.load_surface(_sk(prefix), problem)


def _collect_problem(prefix: str, default: ProblemConfig, errors: list[str]) -> ProblemConfig:
    if st.session_state.get(f"{prefix}.kind") == "train":
        task, _, _, _, problem_errors = training.collect(_tk(prefix))
        errors += problem_errors
        return task if task is not None else Task()
    problem, problem_errors = surface.read_surface(_sk(prefix))
    errors += problem_errors
    return problem


def _on_kind_change(prefix: str, section: str) -> None:
    s = st.session_state
    group = s.get(f"{prefix}.kind") or "surface"
    default = SWEEP_DEFAULTS[section].problem
    _load_problem(prefix, default if _group(default.kind) == group else Task(), overwrite=True)
    s[f"{prefix}.kind"] = group


def _on_surface_change(prefix: str) -> None:
    """A new surface starts with its default parameters."""
    s = st.session_state
    if s[f"{prefix}.surface"] in surfaces.SURFACES:
        for p in surfaces.get(s[f"{prefix}.surface"]).params:
            set_value(f"{prefix}.sp.{p.name}", p, p.default)


def _problem_ui(section: str) -> None:
    prefix, s = PREFIX[section], st.session_state
    groups = list(dict.fromkeys(_group(kind) for kind in SWEEP_KINDS[section]))
    if len(groups) > 1:
        st.segmented_control("Problem", groups, key=f"{prefix}.kind", format_func=KIND_NAMES.get,
                             required=True, on_change=_on_kind_change, args=(prefix, section))
    if s.get(f"{prefix}.kind") == "train":
        training.sidebar(_tk(prefix))
        return
    surface.surface_picker(_sk(prefix), on_change=lambda: _on_surface_change(prefix))
    st.number_input("Steps", key=f"{prefix}.steps", min_value=1, step=50)


def _steps(prefix: str, problem: ProblemConfig) -> int | None:
    if problem.own_length:
        return None  # the epochs decide
    return int(st.session_state.get(f"{prefix}.steps") or problem.default_steps)


# -- state -------------------------------------------------------------------------------------


def widget_values(section: str, s) -> dict[str, Any]:
    """Widget key -> value for ``s``, one section's settings, besides its problem."""
    prefix = PREFIX[section]
    out: dict[str, Any] = {f"{prefix}.steps": s.steps or 300}
    if section == "lr":
        out.update({f"{prefix}.lo": s.lo, f"{prefix}.hi": s.hi, f"{prefix}.num": s.num})
        for n in range(LR_SLOTS):
            run = s.runs[n] if n < len(s.runs) else None
            out[f"{prefix}.opt{n}"] = run.optimizer if run else NONE
            out[f"{prefix}.set{n}"] = settings_text(run) if run else ""
        return out
    if section == "basin":
        out.update({f"{prefix}.grid": s.grid, f"{prefix}.color": s.color_by})
        for n in range(BASIN_SLOTS):
            run = s.runs[n] if n < len(s.runs) else None
            spec = get_optimizer(run.optimizer, allowed_modules()) if run else None
            out[f"{prefix}.opt{n}"] = run.optimizer if run else NONE
            out[f"{prefix}.lr{n}"] = float(run.hp.get("lr", spec.ui_defaults.get("lr", spec.defaults["lr"]))) \
                if run else 0.01
            out[f"{prefix}.set{n}"] = settings_text(run) if run else ""
        return out
    out.update({f"{prefix}.opt": s.run.optimizer, f"{prefix}.set": settings_text(s.run, skip=(s.x.name, s.y.name))})
    for key, a in (("x", s.x), ("y", s.y)):
        out.update({f"{prefix}.{key}": a.name, f"{prefix}.{key}lo": float(a.lo), f"{prefix}.{key}hi": float(a.hi),
                    f"{prefix}.{key}n": int(a.num), f"{prefix}.{key}log": bool(a.log)})
    return out


def load(section: str, settings, overwrite: bool = True) -> None:
    """Put settings into the widgets' state (call before the widgets exist)."""
    state = st.session_state
    _load_problem(PREFIX[section], settings.problem, overwrite)
    for key, value in widget_values(section, settings).items():
        if overwrite or key not in state:
            state[key] = value


def _load_link(params: Mapping[str, str | list[str]], stored: dict) -> tuple[str, list[str]]:
    """Load a Sweeps link: its section's settings go into ``stored`` (the trainability map's
    straight into its widgets). Returns the section and the link's warnings."""
    mode = params.get("mode")
    mode = mode[0] if isinstance(mode, list) and mode else mode
    if mode == "fractal":  # the trainability map: not an engine sweep, a link of its own
        window, num, steps, warnings = fractal_from_link(params)
        _load_fractal(window, num, steps, warnings)
        return "fractal", warnings
    if mode:
        section, settings, warnings = decode_sweep(params, allowed_modules())
        stored[section] = settings
        return section, warnings
    return "lr", []


def init() -> list[str]:
    """On the page's first run in a session, read the link; later, restore widget
    values that Streamlit dropped while another page was shown, or, on the browser's Back
    or Forward, show the address gone to. Returns warnings."""
    state = st.session_state
    warnings: list[str] = []
    params = query_params()
    if "sw.settings" not in state:
        stored = dict(SWEEP_DEFAULTS)
        section, warnings = _load_link(params, stored)
        state["sw.settings"] = stored
        state["sw.section"] = section
    elif history_navigation() and params.get("mode"):
        # Each change was an entry of the browser's history: Back undoes it.
        stored = dict(state["sw.settings"])
        section, warnings = _load_link(params, stored)
        state["sw.settings"] = stored
        if section != "fractal":
            load(section, stored[section])
        state["sw.section"] = state["sw.last_section"] = section
    if (pending := state.pop("sw.fr.pending", None)) is not None:  # a click on the map, before its widgets
        _load_fractal(Window(*pending), state["sw.fr.num"], state["sw.fr.steps"])
    if any(f"sw.fr.{key}" not in state for key in FRACTAL_KEYS):
        _load_fractal(*state.get("sw.fr.last", (FRACTAL_VIEW, FRACTAL_NUM, FRACTAL_STEPS)))
    for section, settings in state["sw.settings"].items():
        load(section, settings, overwrite=False)
    if "sw.section" not in state:  # a widget key: dropped while another page was shown
        state["sw.section"] = state.get("sw.last_section", "lr")
    return warnings


def collect(section: str) -> tuple[Any, list[str]]:
    """The section's settings as the widgets describe them, and what could not be read."""
    state, errors = st.session_state, []
    prefix = PREFIX[section]
    stored = state["sw.settings"][section]
    problem = _collect_problem(prefix, stored.problem, errors)
    steps = _steps(prefix, problem)
    if section == "lr":
        runs = []
        for n in range(LR_SLOTS):
            name = state.get(f"{prefix}.opt{n}", NONE)
            if name == NONE:
                continue
            try:
                runs.append(RunConfig(name, parse_settings(name, state.get(f"{prefix}.set{n}", ""))))
            except ConfigError as exc:
                errors.append(f"{name} (row {n + 1}): {exc}")
        settings = replace(stored, problem=problem, runs=tuple(runs), lo=float(state[f"{prefix}.lo"]),
                           hi=float(state[f"{prefix}.hi"]), num=int(state[f"{prefix}.num"]), steps=steps)
    elif section == "basin":
        runs = []
        for n in range(BASIN_SLOTS):
            name = state.get(f"{prefix}.opt{n}", NONE)
            if name == NONE:
                continue
            try:
                hp = parse_settings(name, state.get(f"{prefix}.set{n}", ""))
                hp["lr"] = float(state[f"{prefix}.lr{n}"])
                runs.append(RunConfig(name, hp))
            except ConfigError as exc:
                errors.append(f"{name} ({'left' if n == 0 else 'right'}): {exc}")
        settings = replace(stored, problem=problem, runs=tuple(runs), grid=int(state[f"{prefix}.grid"]),
                           steps=steps, color_by=state.get(f"{prefix}.color") or "minimum")
    else:
        name = state[f"{prefix}.opt"]
        axes = []
        for key in ("x", "y"):
            axes.append(Axis(state[f"{prefix}.{key}"], float(state[f"{prefix}.{key}lo"]),
                             float(state[f"{prefix}.{key}hi"]), int(state[f"{prefix}.{key}n"]),
                             bool(state[f"{prefix}.{key}log"])))
        try:
            run = RunConfig(name, parse_settings(name, state.get(f"{prefix}.set", ""),
                                                 skip=(axes[0].name, axes[1].name)))
        except ConfigError as exc:
            errors.append(f"{name}: {exc}")
            run = RunConfig(name)
        settings = replace(stored, problem=problem, run=run, x=axes[0], y=axes[1], steps=steps)
    state["sw.settings"] = {**state["sw.settings"], section: settings}
    return settings, errors


# -- callbacks ----------------------------------------------------------------------------------


def on_basin_optimizer_change(n: int) -> None:
    """A new optimizer starts from its own lr (the app's default for it) and no other settings."""
    state = st.session_state
    name = state[f"sw.bm.opt{n}"]
    state[f"sw.bm.set{n}"] = ""
    if name != NONE:
        spec = get_optimizer(name, allowed_modules())
        state[f"sw.bm.lr{n}"] = float(spec.ui_defaults.get("lr", spec.defaults["lr"]))


def on_lr_optimizer_change(n: int) -> None:
    st.session_state[f"sw.lr.set{n}"] = ""


def _set_axis(key: str, a: Axis | None) -> None:
    if a is not None:
        st.session_state.update({f"sw.hm.{key}": a.name, f"sw.hm.{key}lo": float(a.lo), f"sw.hm.{key}hi": float(a.hi),
                                 f"sw.hm.{key}n": int(a.num), f"sw.hm.{key}log": bool(a.log)})


def on_heatmap_optimizer_change() -> None:
    """A new optimizer keeps the lr axis and varies its own second hyperparameter."""
    state = st.session_state
    name = state["sw.hm.opt"]
    state["sw.hm.set"] = ""
    allowed = allowed_modules()
    _set_axis("x", default_axis(name, "lr", allowed) if state["sw.hm.x"] != "lr" else None)
    _set_axis("y", default_axis(name, second_axis(name, allowed), allowed))


def on_axis_change(key: str) -> None:
    """A new hyperparameter on an axis starts from its own sensible range."""
    state = st.session_state
    _set_axis(key, default_axis(state["sw.hm.opt"], state[f"sw.hm.{key}"], allowed_modules()))


# -- computing and opening runs ----------------------------------------------------------------




@st.cache_data(max_entries=32, show_spinner=False)
def _grid(problem) -> charts.Grid:
    return charts.surface_grid(problem, n=120)


def _options() -> dict:
    return dict(dtype=DTYPE, limits=config.limits(), threads=THREADS)


def open_runs(problem: ProblemConfig, runs: list[RunConfig], steps: int | None) -> None:
    """Show ``runs`` on the page of the problem's kind: load its widgets, put them in its link, switch."""
    page = page_of(problem.kind)
    exp = Experiment(problem, tuple(runs), steps, DTYPE)
    page.load(exp, View())
    st.session_state.pop(page.k("preset"), None)
    st.switch_page(st.Page(page, title=page.ui.TITLE, url_path=page.url_path), query_params=encode(exp, View()))


def open_sweep(params: dict[str, str | list[str]]) -> None:
    """Show a Sweeps-page link (a classic's): load its section's widgets, put it in the address bar, switch."""
    state = st.session_state
    stored = dict(state.get("sw.settings", SWEEP_DEFAULTS))
    section, _ = _load_link(params, stored)
    state["sw.settings"] = stored
    if section != "fractal":
        load(section, stored[section])
    state["sw.section"] = state["sw.last_section"] = section
    st.switch_page(st.Page(sweeps_page, title="Sweeps", url_path="sweeps"), query_params=params)


def _chart_place():
    """Where a section's chart goes: placed before its computation, whose progress bar (only
    when the result is not cached) would otherwise shift the chart, and Streamlit would mount
    a new one, losing the view, at the next change."""
    return st.container()


def _named(run: RunConfig, label: str, color: str) -> RunConfig:
    return replace(run, label=label, color=color)


def _errors(errors: list[str]) -> None:
    for e in errors:
        st.error(plain(e))


# -- the sections ---------------------------------------------------------------------------------


def lr_section() -> None:
    names = [NONE, *OPTIMIZERS]
    with st.sidebar:
        st.markdown("### LR sweep")
        _problem_ui("lr")
        c1, c2 = st.columns(2)
        c1.number_input("Lowest lr", key="sw.lr.lo", format="%g", min_value=1e-12)
        c2.number_input("Highest lr", key="sw.lr.hi", format="%g", min_value=1e-12)
        c1.number_input("How many lrs", key="sw.lr.num", min_value=2, max_value=MAX_LRS, step=50,
                        help="Spaced evenly in log between the two")
    st.markdown("**Optimizers**, one curve each. Other hyperparameters go by torch's names, e.g. "
                "`momentum=0.9 nesterov=true` or `betas=0.9,0.99`; the lr is swept.")
    cols = st.columns(LR_SLOTS)
    for n, col in enumerate(cols):
        col.selectbox(f"Optimizer {n + 1}", names, key=f"sw.lr.opt{n}", label_visibility="collapsed",
                      on_change=on_lr_optimizer_change, args=(n,))
        col.text_input(f"Settings {n + 1}", key=f"sw.lr.set{n}", label_visibility="collapsed",
                       placeholder="torch's defaults", disabled=st.session_state[f"sw.lr.opt{n}"] == NONE)
    settings, errors = collect("lr")
    sync_url(theme.linked(encode_sweep("lr", settings)))
    _errors(errors)
    if not settings.runs:
        st.info("Choose an optimizer to sweep.")
        return
    chart = _chart_place()
    try:
        lrs = sweeps.log_lrs(settings.lo, settings.hi, settings.num)
        sweep = computed(("sweep", "lr", settings), lambda on_progress: sweeps.lr_sweep(
            settings.problem, settings.runs, lrs, settings.steps, on_progress=on_progress, **_options()))
    except ConfigError as exc:
        st.error(plain(str(exc)))
        return
    colors = [charts.PALETTE[k % len(charts.PALETTE)] for k in range(len(settings.runs))]
    sweep = replace(sweep, configs=tuple(c if c.label else replace(c, label=run_label(c, with_lr=False))
                                         for c in sweep.configs))
    stacked = viewport.layout("sw.lr.viewport") == "stacked"  # a phone: one panel above the other
    fig = charts.lr_sweep_figure(sweep, colors, stacked=stacked)
    event = plot.chart(theme.chart(fig), key="sw.lr.chart", where=chart, clicks=True)
    n_div = int((sweep.diverged_at >= 0).sum())
    st.caption(
        f"{sweep.final_loss.size:,} runs × {sweep.steps:,} steps as one batch in {sweep.wall_time:.2f} s "
        f"({sweep.dtype}, {sweep.device}); each run is torch.optim's own path. "
        f"{n_div:,} runs diverged (✕). ★ marks each optimizer's best lr: the lowest final loss among "
        "runs that did not diverge. **Click a point to watch that run.**"
    )
    _lr_table(sweep)
    clicked = plot.clicked(event)
    if clicked is not None:
        k, i = int(clicked[0]), int(clicked[1])
        runs = [_named(sweep.run(k, i), f"{sweep.label(k)}, lr {sweep.lrs[i]:.3g}", colors[k])]
        best = sweep.best_index(k)
        if best is not None and best != i:
            other = charts.PALETTE[(k + 1) % len(charts.PALETTE)]
            runs.append(_named(sweep.run(k, best), f"{sweep.label(k)}, best lr {sweep.lrs[best]:.3g}", other))
        open_runs(sweep.problem, runs, settings.steps)


def _lr_table(sweep: sweeps.LRSweep) -> None:
    rows = []
    for k in range(len(sweep.configs)):
        b = sweep.best_index(k)
        diverged = sweep.diverged_at[k] >= 0
        rows.append({
            "optimizer": sweep.label(k),
            "best lr": "all diverged" if b is None else f"{sweep.lrs[b]:.4g}",
            "final loss at best lr": "—" if b is None else f"{sweep.final_loss[k, b]:.4g}",
            "smallest lr that diverged": f"{sweep.lrs[np.argmax(diverged)]:.4g}" if diverged.any() else "—",
            "lrs that diverged": f"{int(diverged.sum())} of {sweep.lrs.size}",
        })
    table(rows)


def basin_section() -> None:
    names = [NONE, *OPTIMIZERS]
    limits = config.limits()
    with st.sidebar:
        st.markdown("### Basin map")
        _problem_ui("basin")
        st.number_input("Starts per side", key="sw.bm.grid", min_value=2, step=10,
                        help=f"An n × n grid of start points over the surface's domain; at most "
                             f"{limits.max_grid} × {limits.max_grid} (OPTVIZ_MAX_GRID)")
    # Each map's settings in a row of fixed widths, the two rows side by side where they fit and
    # one above the other where not (columns cut "SGD" to "SC" at 1024 pixels).
    sides = st.container(horizontal=True, gap="medium")
    for n in range(BASIN_SLOTS):
        with sides.container(horizontal=True, width="content"):
            st.selectbox("Left map" if n == 0 else "Right map", names[1:] if n == 0 else names,
                         key=f"sw.bm.opt{n}", on_change=on_basin_optimizer_change, args=(n,), width=160)
            off = st.session_state[f"sw.bm.opt{n}"] == NONE
            st.number_input("lr", key=f"sw.bm.lr{n}", format="%g", min_value=0.0, disabled=off, width=110)
            st.text_input("Other settings", key=f"sw.bm.set{n}", placeholder="e.g. momentum=0.9", disabled=off,
                          width=190)
    st.segmented_control("Colour each start by", list(COLOR_BY), key="sw.bm.color",
                         format_func=charts.COLOR_BY.get, required=True)
    settings, errors = collect("basin")
    sync_url(theme.linked(encode_sweep("basin", settings)))
    _errors(errors)
    if not settings.runs:
        st.info("Choose an optimizer to map.")
        return
    # Two maps side by side need a laptop's width: below it (a projector with the sidebar open,
    # a phone), one above the other.
    stacked = viewport.layout("sw.bm.viewport", narrow_below=BASIN_SIDE_BY_SIDE) == "stacked"
    chart = _chart_place()
    try:
        bm = computed(("sweep", "basin", settings.problem, settings.runs, settings.grid, settings.steps),
                      lambda on_progress: sweeps.basin_map(settings.problem, settings.runs, settings.steps,
                                                           nx=settings.grid, on_progress=on_progress, **_options()))
    except ConfigError as exc:
        st.error(plain(str(exc)))
        return
    bm = replace(bm, configs=tuple(c if c.label else replace(c, label=run_label(c)) for c in bm.configs))
    fig = charts.basin_figure(bm, _grid(settings.problem), settings.color_by, clickable=True,
                              click_grid=not plot.draws_in_place(), stacked=stacked)
    # No tool bar on a narrow screen: it sat on the colour bar. Elsewhere, Plotly's own (on hover).
    event = plot.chart(theme.chart(fig), key="sw.bm.chart", where=chart, clicks=True,
                       config={"displayModeBar": False} if stacked else None)
    how = {
        "minimum": f"A run *reaches* a minimum when it ends within {bm.tol:.2g} of it; grey ones ended "
                   "elsewhere (a local minimum, a saddle, or still on the way); black ones diverged.",
        "loss": "Dark is low: the final loss above the best one known."
                + (" Black starts diverged." if bm.diverged.any() else ""),
        "diverged": "Coloured starts diverged, dark red early and pale late; grey ones did not.",
    }[settings.color_by]
    st.caption(
        f"{bm.final_loss.size:,} runs × {bm.steps:,} steps as one batch in {bm.wall_time:.2f} s ({bm.dtype}, "
        f"{bm.device}). Each square is a start point. {how} {settings.problem.teaches} "
        "**Click a start to watch both runs from there on the Surfaces page.**"
    )
    clicked = plot.clicked(event)
    if clicked is not None:
        j, i = int(clicked[0]), int(clicked[1])
        runs = [_named(bm.run(k, j, i), bm.label(k), charts.PALETTE[k]) for k in range(len(bm.configs))]
        open_runs(bm.problem, runs, settings.steps)


def heatmap_section() -> None:
    with st.sidebar:
        st.markdown("### Hyperparameter heatmap")
        _problem_ui("heatmap")
    c1, c2, _ = st.columns([1, 2, 1])
    c1.selectbox("Optimizer", list(OPTIMIZERS), key="sw.hm.opt", on_change=on_heatmap_optimizer_change)
    c2.text_input("Other settings", key="sw.hm.set", placeholder="torch's defaults; name=value with torch's names")
    allowed = allowed_modules()
    choices = float_hparams(st.session_state["sw.hm.opt"], allowed)
    for key, title in (("x", "Across (x)"), ("y", "Up (y)")):
        if st.session_state.get(f"sw.hm.{key}") not in choices:
            name = st.session_state["sw.hm.opt"]
            st.session_state[f"sw.hm.{key}"] = "lr" if key == "x" else second_axis(name, allowed)
            on_axis_change(key)
        a1, a2, a3, a4, a5, _ = st.columns([3, 2, 2, 2, 2, 2], vertical_alignment="bottom")
        a1.selectbox(title, choices, key=f"sw.hm.{key}", on_change=on_axis_change, args=(key,))
        a2.number_input("from", key=f"sw.hm.{key}lo", format="%g")
        a3.number_input("to", key=f"sw.hm.{key}hi", format="%g")
        a4.number_input("values", key=f"sw.hm.{key}n", min_value=2)
        a5.toggle("log", key=f"sw.hm.{key}log")
    settings, errors = collect("heatmap")
    sync_url(theme.linked(encode_sweep("heatmap", settings)))
    _errors(errors)
    chart = _chart_place()
    try:
        hm = computed(("sweep", "heatmap", settings), lambda on_progress: sweeps.heatmap(
            settings.problem, settings.run, settings.x, settings.y, settings.steps, on_progress=on_progress,
            **_options()))
    except ConfigError as exc:
        st.error(plain(str(exc)))
        return
    polyak = _polyak(settings)
    fig = charts.heatmap_figure(hm, polyak, clickable=True, click_grid=not plot.draws_in_place())
    event = plot.chart(theme.chart(fig), key="sw.hm.chart", where=chart, clicks=True)
    note = ""
    curvatures = getattr(settings.problem, "curvatures", lambda: None)()
    if polyak is not None:
        L, mu = curvatures
        note = (f" On this quadratic (curvatures L = {L:.3g} and μ = {mu:.3g}) SGD with momentum is "
                "Polyak's heavy ball; his optimal setting ☆ is "
                f"α* = (2/(√L+√μ))² = {polyak[0]:.3g}, "
                f"β* = ((√κ−1)/(√κ+1))² = {polyak[1]:.3g}: the best cell ◯ should sit next to it.")
    elif curvatures is not None and settings.run.optimizer == "SGD":
        note = (" Put lr across and momentum up (no Nesterov, no dampening) to see Polyak's optimal "
                "heavy ball.")
    st.caption(
        f"{hm.final_loss.size:,} runs × {hm.steps:,} steps as one batch in {hm.wall_time:.2f} s ({hm.dtype}, "
        f"{hm.device}).{' Black cells diverged.' if (hm.diverged_at >= 0).any() else ''}{note} "
        "**Click a cell to watch that run.**"
    )
    clicked = plot.clicked(event)
    if clicked is not None:
        j, i = int(clicked[0]), int(clicked[1])
        label = f"{settings.x.name} {hm.x.values[i]:.3g}, {settings.y.name} {hm.y.values[j]:.3g}"
        runs = [_named(hm.run(j, i), label, charts.PALETTE[0])]
        if polyak is not None:
            star = RunConfig("SGD", {**settings.run.hp, "lr": polyak[0], "momentum": polyak[1]})
            runs.append(_named(star, f"Polyak: lr {polyak[0]:.3g}, momentum {polyak[1]:.3g}", charts.PALETTE[1]))
        open_runs(hm.problem, runs, settings.steps)


def _polyak(settings) -> tuple[float, float] | None:
    """Polyak's point, where the map is SGD's lr x momentum on a quadratic and SGD is the
    plain heavy ball (no Nesterov, dampening, weight decay or schedule)."""
    point = sweeps.polyak_point(settings.problem)
    hp = settings.run.hp
    heavy_ball = settings.run.optimizer == "SGD" and not hp.get("nesterov") and not hp.get("dampening") \
        and not hp.get("weight_decay") and settings.run.schedule == "constant"
    if point is None or not heavy_ball or (settings.x.name, settings.y.name) != ("lr", "momentum"):
        return None
    return point


FRACTAL_KEYS = ("x", "y", "half", "num", "steps")
MIN_HALF = 1e-12  # decades: float64's lrs still differ from cell to cell at this half-width


def _load_fractal(window: Window, num: int, steps: int, warnings: list[str] | None = None) -> None:
    """The trainability map's widgets (before they exist); ``sw.fr.last`` outlives a visit elsewhere.
    Values past the widgets' bounds (a hand-edited link) are brought inside, with a warning:
    a number input refuses a value outside its range with an exception."""
    state, limits = st.session_state, config.limits()
    fitted = (max(window.half, MIN_HALF), min(max(num, 8), limits.max_grid), min(max(steps, 1), limits.max_steps))
    if fitted != (window.half, num, steps) and warnings is not None:
        warnings.append(f"half={window.half:g}, num={num}, steps={steps} brought within this server's bounds: "
                        f"half={fitted[0]:g}, num={fitted[1]}, steps={fitted[2]}")
    window, num, steps = Window(window.x, window.y, fitted[0]), fitted[1], fitted[2]
    state["sw.fr.x"], state["sw.fr.y"], state["sw.fr.half"] = float(window.x), float(window.y), float(window.half)
    state["sw.fr.num"], state["sw.fr.steps"] = int(num), int(steps)
    state["sw.fr.last"] = (window, int(num), int(steps))


def _reset_fractal() -> None:
    _load_fractal(FRACTAL_VIEW, st.session_state["sw.fr.num"], st.session_state["sw.fr.steps"])


def fractal_section() -> None:
    state, limits = st.session_state, config.limits()
    c1, c2, c3, c4, c5 = st.columns(5)
    c1.number_input("Centre: log10 lr₁", key="sw.fr.x", format="%.6g", help="The first layer's learning rate")
    c2.number_input("Centre: log10 lr₂", key="sw.fr.y", format="%.6g", help="The second layer's learning rate")
    c3.number_input("Half-width (decades)", key="sw.fr.half", format="%.4g", min_value=MIN_HALF)
    c4.number_input("Cells per side", key="sw.fr.num", min_value=min(8, limits.max_grid), max_value=limits.max_grid,
                    step=16,
                    help=f"At most {limits.max_grid} (OPTVIZ_MAX_GRID)")
    c5.number_input("Steps", key="sw.fr.steps", min_value=1, max_value=limits.max_steps, step=50)
    window = Window(float(state["sw.fr.x"]), float(state["sw.fr.y"]), float(state["sw.fr.half"]))
    num, steps = int(state["sw.fr.num"]), int(state["sw.fr.steps"])
    state["sw.fr.last"] = (window, num, steps)
    sync_url(fractal_link(window, num, steps))
    chart = _chart_place()
    try:
        limits.check(num * num, steps)
        grid = computed(("sweep", "fractal", window, num, steps),
                        lambda on_progress: classics.fractal_grid(window, num, steps))
    except ConfigError as exc:
        st.error(plain(str(exc)))
        return
    event = plot.chart(theme.chart(fractal_figure({"grids": [grid]}, height=520)), key="sw.fr.chart",
                       where=chart, clicks=True)
    st.caption(f"{num}² networks × {steps} steps in one batch: {grid['diverged'].mean():.0%} diverged (red: "
               f"sooner is darker), the rest converged (blue: faster is darker). Box-counting dimension of the "
               f"boundary: {grid['dimension']:.2f}. Click a cell to zoom in four times around it.")
    st.button("Back to the whole view", key="sw.fr.reset", on_click=_reset_fractal, icon=":material/zoom_out_map:")
    clicked = plot.clicked(event)
    if clicked is not None and tuple(clicked[:2]) != state.get("sw.fr.last_click"):
        state["sw.fr.last_click"] = tuple(clicked[:2])
        state["sw.fr.pending"] = (float(clicked[0]), float(clicked[1]), window.half / 4)
        st.rerun()


SECTION_UI = {"lr": lr_section, "basin": basin_section, "heatmap": heatmap_section,
              "fractal": fractal_section}
# The page's sections: the engine's sweeps (their links in optviz.codec), then the trainability map.
PAGE_SECTIONS = {**SECTIONS, "fractal": "Trainability map"}
INTRO = {
    "lr": "How sensitive is each optimizer to its learning rate? Every lr of the range is a run; "
          "all of them go through the engine as one batch.",
    "basin": "Where does a run end, depending on where it starts? Every square of the grid is a start point.",
    "heatmap": "Two hyperparameters on a grid, coloured by the final loss: where is the sweet spot?",
    "fractal": "A tiny tanh network trained by full-batch GD with one learning rate per layer, at every cell of "
               "a grid of the two: where does training diverge? The boundary is a fractal (Sohl-Dickstein 2024).",
}


def sweeps_page() -> None:
    """Thousands of runs at once: LR sweeps, basin maps, hyperparameter heatmaps."""
    with link_warnings("sw", init() + theme.init(query_params())):
        _sweeps_body()


def _sweeps_body() -> None:
    # No big title: on a projector the chart should start as high as it can; the
    # navigation bar already says "Sweeps".
    st.segmented_control("Section", list(PAGE_SECTIONS), key="sw.section", format_func=PAGE_SECTIONS.get,
                         label_visibility="collapsed", required=True)
    section = st.session_state.get("sw.section") or "lr"
    st.session_state["sw.last_section"] = section  # outlives the widget's value on another page
    st.markdown(f"**Sweeps and maps: thousands of runs at once.** {INTRO[section]}")
    SECTION_UI[section]()
    theme.sidebar_ui()

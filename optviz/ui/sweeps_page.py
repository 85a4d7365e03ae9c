"""The Sweeps page: thousands of runs at once, where batching pays off.

Three sections: an LR sweep (loss against lr, one curve per optimizer), a basin
map (a run from every start of a grid, two optimizers side by side) and a
hyperparameter heatmap (with Polyak's heavy ball on the quadratic). Widgets go
through ``sweeps_state.collect()`` into one frozen settings value per section;
each computation is one engine batch, streamed with a progress bar, cached on
those settings; a click on a run opens its path on the Surfaces page.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import streamlit as st

from .. import charts, config, surfaces, sweep_charts, sweeps
from ..engine import RunConfig
from ..experiment import Experiment
from ..optim.base import ConfigError
from ..share import View, encode
from . import state as surface_state
from . import sweeps_state as ss
from .surfaces_page import surfaces_page

# Every sweep here is float64: near a good setting the loss falls below
# float32's smallest number, and a map of zeros has no best cell.
DTYPE = "float64"
# One CPU thread per sweep: a classroom server's sessions share a few cores,
# and splitting small elementwise ops costs more than it saves (bench_sweeps).
THREADS = 1


class _Miss(Exception):
    """Raised inside the cached function so that a miss is not cached."""


@st.cache_data(max_entries=48, max_size="256MB", show_spinner=False)
def _cached(key, _result=None):
    # Hashes ``key`` (section + frozen settings) only; calling without ``_result`` peeks.
    if _result is None:
        raise _Miss
    return _result


def _compute(key, stream):
    """The cached result for ``key``, or ``stream`` run with a progress bar.
    A rerun (any widget change) stops the script at the next bar update, which
    closes the stream: the engine stops between two chunks."""
    key = (key, config.limits())  # a lower work bound must not be served a bigger cached result
    try:
        return _cached(key)
    except _Miss:
        pass
    bar = st.progress(0.0, text="computing…")

    def on_progress(p: sweeps.Progress) -> None:
        bar.progress(p.fraction, text=f"{p.runs:,} runs in one batch: step {p.done} of {p.total}")

    result = sweeps.finish(stream, on_progress)
    bar.empty()
    return _cached(key, _result=result)


@st.cache_data(max_entries=32, show_spinner=False)
def _grid(problem) -> charts.Grid:
    return charts.surface_grid(problem, n=120)


def _options() -> dict:
    return dict(dtype=DTYPE, limits=config.limits(), threads=THREADS)


# -- opening a run on the Surfaces page ---------------------------------------------------


def open_on_surfaces(problem, runs: list[RunConfig], steps: int) -> None:
    """Show ``runs`` on the Surfaces page: load its widgets, put them in its link, switch."""
    exp = Experiment(problem, tuple(runs), steps, DTYPE)
    surface_state.load(exp, View())
    st.session_state.pop("preset", None)
    st.switch_page(st.Page(surfaces_page, url_path="surfaces"), query_params=encode(exp, View()))


def _clicked(event) -> list | None:
    """The clicked point's ``customdata``. It arrives as a list, or, from a numpy
    (typed-array) customdata, as a dict keyed "0", "1", ..."""
    points = ((event or {}).get("selection") or {}).get("points") or []
    for p in points:
        data = p.get("customdata")
        if isinstance(data, dict):
            data = [data[k] for k in sorted(data, key=int)]
        if data is not None:
            return list(data)
    return None


# -- the sections ---------------------------------------------------------------------------


def _surface_ui(prefix: str) -> None:
    st.selectbox("Surface", list(surfaces.SURFACES), key=f"{prefix}.surface",
                 format_func=lambda sid: surfaces.SURFACES[sid].name, on_change=ss.on_surface_change,
                 args=(prefix,))
    spec = surfaces.get(st.session_state[f"{prefix}.surface"])
    for p in spec.params:
        st.number_input(f"{p.name}: {p.help}" if p.help else p.name, key=f"{prefix}.sp.{p.name}", format="%g")


def lr_section() -> None:
    names = [ss.NONE, *ss.optimizer_names()]
    with st.sidebar:
        st.markdown("### LR sweep")
        _surface_ui("sw.lr")
        c1, c2 = st.columns(2)
        c1.number_input("Lowest lr", key="sw.lr.lo", format="%g", min_value=1e-12)
        c2.number_input("Highest lr", key="sw.lr.hi", format="%g", min_value=1e-12)
        c1.number_input("How many lrs", key="sw.lr.num", min_value=2, max_value=ss.MAX_LRS, step=50,
                        help="Spaced evenly in log between the two")
        c2.number_input("Steps", key="sw.lr.steps", min_value=1, max_value=config.limits().max_steps, step=50)
    st.markdown("**Optimizers**, one curve each. Other hyperparameters go by torch's names, e.g. "
                "`momentum=0.9 nesterov=true` or `betas=0.9,0.99`; the lr is swept.")
    cols = st.columns(ss.LR_SLOTS)
    for n, col in enumerate(cols):
        col.selectbox(f"Optimizer {n + 1}", names, key=f"sw.lr.opt{n}", label_visibility="collapsed",
                      on_change=ss.on_lr_optimizer_change, args=(n,))
        col.text_input(f"Settings {n + 1}", key=f"sw.lr.set{n}", label_visibility="collapsed",
                       placeholder="torch's defaults", disabled=st.session_state[f"sw.lr.opt{n}"] == ss.NONE)
    settings, errors = ss.collect("lr")
    ss.sync_url("lr", settings)
    for e in errors:
        st.error(e)
    if not settings.runs:
        st.info("Choose an optimizer to sweep.")
        return
    try:
        lrs = sweeps.log_lrs(settings.lo, settings.hi, settings.num)
        stream = sweeps.stream_lr_sweep(settings.problem, settings.runs, lrs, settings.steps, **_options())
        sweep = _compute(("lr", settings), stream)
    except ConfigError as exc:
        st.error(str(exc))
        return
    colors = [charts.PALETTE[k % len(charts.PALETTE)] for k in range(len(settings.runs))]
    sweep = _relabel(sweep)
    fig = sweep_charts.lr_sweep_figure(sweep, colors)
    event = st.plotly_chart(fig, key="sw.lr.chart", on_select="rerun", selection_mode="points", theme=None,
                            config={"displaylogo": False})
    n_div = int((sweep.diverged_at >= 0).sum())
    st.caption(
        f"{sweep.final_loss.size:,} runs × {sweep.steps} steps as one batch in {sweep.wall_time:.2f} s "
        f"({sweep.dtype}, {sweep.device}); each run is torch.optim's own path. "
        f"{n_div:,} runs diverged (✕). ★ marks each optimizer's best lr: the lowest final loss among "
        "runs that did not diverge. **Click a point to watch that run on the Surfaces page.**"
    )
    _lr_table(sweep)
    clicked = _clicked(event)
    if clicked is not None:
        k, i = int(clicked[0]), int(clicked[1])
        runs = [_named(sweep.run(k, i), f"{sweep.label(k)}, lr {sweep.lrs[i]:.3g}", colors[k])]
        best = sweep.best_index(k)
        if best is not None and best != i:
            other = charts.PALETTE[(k + 1) % len(charts.PALETTE)]
            runs.append(_named(sweep.run(k, best), f"{sweep.label(k)}, best lr {sweep.lrs[best]:.3g}", other))
        open_on_surfaces(sweep.problem, runs, sweep.steps)


def _relabel(sweep: sweeps.LRSweep) -> sweeps.LRSweep:
    """Curves named by their settings (``SGD momentum=0.9``), so two SGDs differ in the legend."""
    configs = tuple(c if c.label else replace(c, label=ss.run_label(c, with_lr=False)) for c in sweep.configs)
    return replace(sweep, configs=configs)


def _named(run: RunConfig, label: str, color: str) -> RunConfig:
    return replace(run, label=label, color=color)


def _lr_table(sweep: sweeps.LRSweep) -> None:
    rows = []
    for k in range(len(sweep.configs)):
        b = sweep.best_index(k)
        diverged = sweep.diverged_at[k] >= 0
        rows.append({
            "optimizer": sweep.label(k),
            "best lr": "all diverged" if b is None else f"{sweep.lrs[b]:.3g}",
            "final loss at best lr": "" if b is None else f"{sweep.final_loss[k, b]:.3g}",
            "smallest lr that diverged": f"{sweep.lrs[np.argmax(diverged)]:.3g}" if diverged.any()
            else "none",
            "lrs that diverged": f"{int(diverged.sum())} of {sweep.lrs.size}",
        })
    st.dataframe(rows, hide_index=True)


def basin_section() -> None:
    names = [ss.NONE, *ss.optimizer_names()]
    limits = config.limits()
    with st.sidebar:
        st.markdown("### Basin map")
        _surface_ui("sw.bm")
        c1, c2 = st.columns(2)
        c1.number_input("Starts per side", key="sw.bm.grid", min_value=2, max_value=limits.max_grid, step=10,
                        help=f"An n × n grid of start points over the surface's domain; at most "
                             f"{limits.max_grid} × {limits.max_grid}")
        c2.number_input("Steps", key="sw.bm.steps", min_value=1, max_value=limits.max_steps, step=50)
    sides = st.columns(ss.BASIN_SLOTS, gap="large")
    for n, side in enumerate(sides):
        c1, c2, c3 = side.columns([3, 2, 4])
        c1.selectbox("Left map" if n == 0 else "Right map", names[1:] if n == 0 else names,
                     key=f"sw.bm.opt{n}", on_change=ss.on_basin_optimizer_change, args=(n,))
        off = st.session_state[f"sw.bm.opt{n}"] == ss.NONE
        c2.number_input("lr", key=f"sw.bm.lr{n}", format="%g", min_value=0.0, disabled=off)
        c3.text_input("Other settings", key=f"sw.bm.set{n}", placeholder="e.g. momentum=0.9", disabled=off)
    st.segmented_control("Colour each start by", list(ss.COLOR_BY), key="sw.bm.color",
                         format_func=sweep_charts.COLOR_BY.get, required=True)
    settings, errors = ss.collect("basin")
    ss.sync_url("basin", settings)
    for e in errors:
        st.error(e)
    if not settings.runs:
        st.info("Choose an optimizer to map.")
        return
    try:
        stream = sweeps.stream_basin_map(settings.problem, settings.runs, settings.steps, nx=settings.grid,
                                         **_options())
        bm = _compute(("basin", settings.problem, settings.runs, settings.grid, settings.steps), stream)
    except ConfigError as exc:
        st.error(str(exc))
        return
    bm = replace(bm, configs=tuple(c if c.label else replace(c, label=ss.run_label(c)) for c in bm.configs))
    fig = sweep_charts.basin_figure(bm, _grid(settings.problem), settings.color_by, clickable=True)
    event = st.plotly_chart(fig, key="sw.bm.chart", on_select="rerun", selection_mode="points", theme=None,
                            config={"displaylogo": False})
    spec = settings.problem.spec
    how = {
        "minimum": f"A run *reaches* a minimum when it ends within {bm.tol:.2g} of it; grey ones ended "
                   "elsewhere (a local minimum, a saddle, or still on the way); black ones diverged.",
        "loss": "Dark is low: the final loss above the best one known."
                + (" Black starts diverged." if bm.diverged.any() else ""),
        "diverged": "Coloured starts diverged, dark red early and pale late; grey ones did not.",
    }[settings.color_by]
    st.caption(
        f"{bm.final_loss.size:,} runs × {bm.steps} steps as one batch in {bm.wall_time:.2f} s ({bm.dtype}, "
        f"{bm.device}). Each square is a start point. {how} {spec.teaches} "
        "**Click a start to watch both runs from there on the Surfaces page.**"
    )
    clicked = _clicked(event)
    if clicked is not None:
        j, i = int(clicked[0]), int(clicked[1])
        runs = [_named(bm.run(k, j, i), bm.label(k), charts.PALETTE[k]) for k in range(len(bm.configs))]
        open_on_surfaces(bm.problem, runs, bm.steps)


def heatmap_section() -> None:
    limits = config.limits()
    with st.sidebar:
        st.markdown("### Hyperparameter heatmap")
        _surface_ui("sw.hm")
        st.number_input("Steps", key="sw.hm.steps", min_value=1, max_value=limits.max_steps, step=50)
    c1, c2, _ = st.columns([1, 2, 1])
    c1.selectbox("Optimizer", ss.optimizer_names(), key="sw.hm.opt", on_change=ss.on_heatmap_optimizer_change)
    c2.text_input("Other settings", key="sw.hm.set",
                  placeholder="torch's defaults; name=value with torch's names")
    choices = ss.float_hparams(st.session_state["sw.hm.opt"])
    for key, title in (("x", "Across (x)"), ("y", "Up (y)")):
        if st.session_state.get(f"sw.hm.{key}") not in choices:
            name = st.session_state["sw.hm.opt"]
            st.session_state[f"sw.hm.{key}"] = "lr" if key == "x" else ss.second_axis(name)
            ss.on_axis_change(key)
        a1, a2, a3, a4, a5, _ = st.columns([3, 2, 2, 2, 2, 2], vertical_alignment="bottom")
        a1.selectbox(title, choices, key=f"sw.hm.{key}", on_change=ss.on_axis_change, args=(key,))
        a2.number_input("from", key=f"sw.hm.{key}lo", format="%g")
        a3.number_input("to", key=f"sw.hm.{key}hi", format="%g")
        a4.number_input("values", key=f"sw.hm.{key}n", min_value=2, max_value=limits.max_grid)
        a5.toggle("log", key=f"sw.hm.{key}log")
    settings, errors = ss.collect("heatmap")
    ss.sync_url("heatmap", settings)
    for e in errors:
        st.error(e)
    try:
        stream = sweeps.stream_heatmap(settings.problem, settings.run, settings.x, settings.y, settings.steps,
                                       **_options())
        hm = _compute(("heatmap", settings), stream)
    except ConfigError as exc:
        st.error(str(exc))
        return
    polyak = _polyak(settings)
    fig = sweep_charts.heatmap_figure(hm, polyak, clickable=True)
    event = st.plotly_chart(fig, key="sw.hm.chart", on_select="rerun", selection_mode="points", theme=None,
                            config={"displaylogo": False})
    note = ""
    if polyak is not None:
        kappa = dict(settings.problem.params)["kappa"]
        note = (f" On this quadratic (curvatures L = 1 and μ = 1/κ = {1 / kappa:.3g}) SGD with momentum is "
                "Polyak's heavy ball; his optimal setting ☆ is "
                f"α* = (2/(√L+√μ))² = {polyak[0]:.3g}, "
                f"β* = ((√κ−1)/(√κ+1))² = {polyak[1]:.3g}: the best cell ◯ should sit next to "
                "it.")
    elif settings.problem.surface == "quadratic" and settings.run.optimizer == "SGD":
        note = (" Put lr across and momentum up (no Nesterov, no dampening) to see Polyak's optimal "
                "heavy ball.")
    st.caption(
        f"{hm.final_loss.size:,} runs × {hm.steps} steps as one batch in {hm.wall_time:.2f} s ({hm.dtype}, "
        f"{hm.device}).{' Black cells diverged.' if (hm.diverged_at >= 0).any() else ''}{note} "
        "**Click a cell to watch that run on the Surfaces page.**"
    )
    clicked = _clicked(event)
    if clicked is not None:
        j, i = int(clicked[0]), int(clicked[1])
        label = f"{settings.x.name} {hm.x.values[i]:.3g}, {settings.y.name} {hm.y.values[j]:.3g}"
        runs = [_named(hm.run(j, i), label, charts.PALETTE[0])]
        if polyak is not None:
            star = RunConfig("SGD", {**settings.run.hp, "lr": polyak[0], "momentum": polyak[1]})
            label = f"Polyak: lr {polyak[0]:.3g}, momentum {polyak[1]:.3g}"
            runs.append(_named(star, label, charts.PALETTE[1]))
        open_on_surfaces(hm.problem, runs, hm.steps)


def _polyak(settings) -> tuple[float, float] | None:
    """Polyak's point, where the map is SGD's lr x momentum on the quadratic and SGD is the
    plain heavy ball (no Nesterov, dampening, weight decay or schedule)."""
    point = sweeps.polyak_point(settings.problem)
    hp = settings.run.hp
    heavy_ball = settings.run.optimizer == "SGD" and not hp.get("nesterov") and not hp.get("dampening") \
        and not hp.get("weight_decay") and settings.run.schedule == "constant"
    if point is None or not heavy_ball or (settings.x.name, settings.y.name) != ("lr", "momentum"):
        return None
    return point


SECTION_UI = {"lr": lr_section, "basin": basin_section, "heatmap": heatmap_section}
INTRO = {
    "lr": "How sensitive is each optimizer to its learning rate? Every lr of the range is a run; "
          "all of them go through the engine as one batch.",
    "basin": "Where does a run end, depending on where it starts? Every square of the grid is a start point.",
    "heatmap": "Two hyperparameters on a grid, coloured by the final loss: where is the sweet spot?",
}


def sweeps_page() -> None:
    """Thousands of runs at once: LR sweeps, basin maps, hyperparameter heatmaps."""
    warnings = ss.init()
    for w in warnings:
        st.warning(f"Link: {w}", icon=":material/link_off:")
    # No big title: on a projector the chart should start as high as it can; the
    # navigation bar already says "Sweeps".
    st.segmented_control("Section", list(ss.SECTIONS), key="sw.section", format_func=ss.SECTIONS.get,
                         label_visibility="collapsed", required=True)
    section = st.session_state.get("sw.section") or "lr"
    st.session_state["sw.last_section"] = section  # outlives the widget's value on another page
    st.markdown(f"**Sweeps and maps: thousands of runs at once.** {INTRO[section]}")
    SECTION_UI[section]()

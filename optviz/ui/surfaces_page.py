"""The surface page: pick a surface, compose runs, watch them race.

Widgets live in ``*_ui`` functions; values travel through ``state.collect()``
as one frozen Experiment; compute is cached on it; charts come from the pure
builders in ``optviz.charts``.
"""

from __future__ import annotations


import pandas as pd
import streamlit as st

from .. import charts, config, surfaces
from ..engine import Result, finite_or_none
from ..experiment import Experiment
from ..export import to_csv, to_json
from ..optim import get as get_optimizer
from ..presets import PRESETS
from ..share import View
from . import compute, state
from .runs import runnable
from .maths import rule_latex

VIEW_LABELS = {"contour": "Contour", "3d": "3-D"}


@st.cache_data(max_entries=32, show_spinner=False)
def _grid(problem) -> charts.Grid:
    return charts.surface_grid(problem)


def _apply_preset(preset_id: str) -> None:
    state.load(PRESETS[preset_id].experiment, View())
    st.session_state.preset = preset_id


def sidebar_ui() -> None:
    """Presets and the problem: surface, its parameters, start, steps, noise."""
    s = st.session_state
    with st.sidebar:
        st.markdown("### Classroom presets")
        for pid, preset in PRESETS.items():
            st.button(preset.title, key=f"preset.{pid}", on_click=_apply_preset, args=(pid,),
                      width="stretch", help=preset.look_for)
        st.divider()
        st.markdown("### Surface")
        st.selectbox("Surface", list(surfaces.SURFACES), key="surface", on_change=state.on_surface_change,
                     format_func=lambda sid: surfaces.SURFACES[sid].name, label_visibility="collapsed")
        spec = surfaces.get(s.surface)
        for p in spec.params:
            st.number_input(f"{p.name}: {p.help}" if p.help else p.name, key=f"sp.{p.name}", format="%g")
        st.markdown("**Start point** (or click the contour)")
        c1, c2 = st.columns(2)
        c1.number_input("x", key="start_x", format="%g")
        c2.number_input("y", key="start_y", format="%g")
        st.number_input("Steps", min_value=1, max_value=config.limits().max_steps, step=50, key="steps")
        with st.expander("Gradient noise"):
            st.number_input("σ (std of noise added to each gradient)", min_value=0.0, key="noise", format="%g",
                            help="Simulates the noise of mini-batch SGD on an analytic surface.")
            st.number_input("Seed", min_value=0, step=1, key="seed",
                            help="Runs with the same seed see the same noise: a fair race.")


def surface_info_ui(exp: Experiment) -> None:
    spec, params = exp.problem.spec, dict(exp.problem.params)
    minima = spec.minima(**params)
    left, right = st.columns([3, 2])
    with left:
        st.markdown(f"#### {spec.name}")
        st.latex(spec.latex)
    with right:
        st.markdown(f"**What it teaches:** {spec.teaches}")
        if minima:
            where = ", ".join(f"({x:.4g}, {y:.4g})" for x, y, _ in minima)
            st.markdown(f"**Global minimum:** f = {minima[0][2]:.6g} at {where}")
        else:
            st.markdown("**No minimum:** f is unbounded below; runs leave the picture.")


def _own_start_row(rid: int) -> None:
    """The Surfaces page's own per-run widgets: a start point of its own."""
    o1, o2, o3, _ = st.columns([2, 1, 1, 2])
    own = o1.toggle("Own start point", key=f"r{rid}.own_start", on_change=state.on_own_start, args=(rid,),
                    help="Off: the run starts at the page's start point (sidebar, or a click on the contour).")
    o2.number_input("x₀", key=f"r{rid}.start_x", format="%g", disabled=not own)
    o3.number_input("y₀", key=f"r{rid}.start_y", format="%g", disabled=not own)


def runs_ui(exp: Experiment, errors: dict[int, str], colors: list[str]) -> None:
    """One expander per run: optimizer and torch's hyperparameters, schedule, label, colour."""
    state.EDITOR.ui(exp.runs, errors, colors, extra=_own_start_row)


def summary_frame(result: Result, exp: Experiment, tol: float) -> pd.DataFrame:
    fmin = charts.known_minimum(exp.problem)
    rows = []
    for i, run in enumerate(result.configs):
        loss = result.arrays["loss"][:, i]
        gap = loss - fmin if fmin is not None else loss
        hp = {k: v for k, v in run.hparams}
        rows.append({
            "run": run.label or run.optimizer,
            "optimizer": run.optimizer,
            "settings": ", ".join(f"{k}={v}" for k, v in hp.items())
            + (f"; {run.schedule}" if run.schedule != "constant" else ""),
            "final loss": finite_or_none(result.final_loss[i]),
            "best loss": finite_or_none(result.best_loss[i]),
            f"steps to f−f* ≤ {tol:g}" if fmin is not None else f"steps to f ≤ {tol:g}": charts.steps_to_reach(gap, tol),
            "diverged at": None if result.diverged_at[i] < 0 else int(result.diverged_at[i]),
            "time (ms)": round(float(result.run_time[i]) * 1e3, 2),
        })
    return pd.DataFrame(rows)


def results_ui(exp: Experiment, view: View, colors: list[str]) -> None:
    errors = compute.run_errors(exp)
    runs = runnable(exp.runs, errors)
    if not runs:
        return
    run_exp = exp.replace(runs=runs)
    run_colors = [c for i, c in enumerate(colors) if i not in errors]
    grid = _grid(exp.problem)
    styles = charts.styles([r.label or r.optimizer for r in runs], run_colors)
    chart = st.empty()
    progress = st.empty()

    def on_progress(arrays, done):
        progress.progress(done / exp.steps, text=f"computing… step {done} of {exp.steps}")
        chart.plotly_chart(charts.race_figure(exp.problem, arrays, styles, grid=grid, view=view.view,
                                              animate=False, total_steps=exp.steps), theme=None)

    result = compute.results(run_exp, on_progress)
    progress.empty()
    fig = charts.race_figure(exp.problem, result.arrays, styles, grid=grid, view=view.view,
                             clickable=view.view == "contour")
    # theme=None keeps the figure's own large, projector-friendly fonts.
    event = chart.plotly_chart(fig, key="race", on_select="rerun", selection_mode="points", theme=None,
                               config={"displaylogo": False})
    _handle_click(event, fig)
    n_div = int((result.diverged_at >= 0).sum())
    st.caption(
        f"{len(runs)} runs × {exp.steps} steps computed in {result.wall_time * 1e3:.0f} ms on {result.device} "
        f"({result.dtype}); torch.optim's own paths, step for step."
        + (f" {n_div} run(s) diverged." if n_div else "")
    )
    st.dataframe(summary_frame(result, run_exp, view.tol), hide_index=True,
                 column_config={"final loss": st.column_config.NumberColumn(format="%.4g"),
                                "best loss": st.column_config.NumberColumn(format="%.4g")})
    with st.expander("The update rules, with these settings"):
        seen = set()
        for run in runs:
            if run.optimizer in seen:
                continue
            seen.add(run.optimizer)
            spec = get_optimizer(run.optimizer, state.allowed_modules())
            st.markdown(f"**{spec.name}** — {spec.summary}")
            if spec.rule:
                st.latex(rule_latex(spec, dict(run.hparams)))
    downloads_ui(run_exp, result, fig)


def downloads_ui(exp: Experiment, result: Result, fig) -> None:
    st.markdown("##### Download")
    c1, c2, c3, c4 = st.columns(4)
    c1.download_button("Runs (CSV)", lambda: to_csv(exp, result), "optviz-runs.csv", "text/csv",
                       on_click="ignore", icon=":material/table:")
    c2.download_button("Runs (JSON)", lambda: to_json(exp, result), "optviz-runs.json", "application/json",
                       on_click="ignore", icon=":material/data_object:")
    c3.download_button("Animation (HTML)", lambda: charts.to_html(fig), "optviz-race.html", "text/html",
                       on_click="ignore", icon=":material/movie:",
                       help="A standalone page that plays offline: drop it into slides.")
    c4.download_button("Config (JSON)", exp.to_json, "optviz-config.json", "application/json",
                       on_click="ignore", icon=":material/settings:",
                       help="Replay it with: python -m optviz run --config optviz-config.json")


def _handle_click(event, fig) -> None:
    """A click on the contour's click grid moves the start point there."""
    grid_curve = getattr(fig, "_click_trace", None)
    for p in event.selection.points if event is not None else []:
        if grid_curve is not None and p.get("curve_number") == grid_curve:
            xy = (round(float(p["x"]), 4), round(float(p["y"]), 4))
            if st.session_state.get("last_click") != xy:
                st.session_state.last_click = xy
                st.session_state.start_x, st.session_state.start_y = xy
                st.rerun()


@st.fragment
def comparison_fragment() -> None:
    """The run editor and the results: editing a run reruns only this panel."""
    exp, view, errors = state.collect()
    colors = [r.color or charts.PALETTE[i % len(charts.PALETTE)] for i, r in enumerate(exp.runs)]
    state.sync_url(exp, view)
    results_ui(exp, view, colors)
    runs_ui(exp, errors, colors)


def surfaces_page() -> None:
    """Race optimizers on an analytic surface."""
    warnings = state.init()
    for w in warnings:
        st.warning(f"Share link: {w}", icon=":material/link_off:")
    sidebar_ui()
    st.title("optviz")
    preset = PRESETS.get(st.session_state.get("preset", ""))
    exp, view, errors = state.collect()
    if -1 in errors:
        st.error(errors[-1])
    surface_info_ui(exp)
    if preset:
        st.info(f"**{preset.title}.** {preset.look_for}", icon=":material/school:")
    st.segmented_control("View", list(VIEW_LABELS), key="view", format_func=VIEW_LABELS.get,
                         label_visibility="collapsed", required=True)
    comparison_fragment()

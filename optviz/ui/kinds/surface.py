"""The Surfaces page's own part: the surface (or a typed formula), the start point, steps and noise.

A registered surface and a typed formula are two kinds of problem with one
picker: "Custom formula" is the last entry of the surface list.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from ... import charts
from ...charts import state as inside
from ...codec import View, common_start
from ...experiment import Experiment, Outcome
from ...params import ConfigError
from ...problems import FormulaProblem, SurfaceProblem, surfaces
from ...problems.formula import EXAMPLE
from .. import plot, stepper
from ..widgets import param_widget, plain, set_value

Key = Callable[[str], str]
TITLE = "Surfaces"
FORMULA = "formula"  # the picker's entry for a typed formula
RUN_STARTS = True  # each run may start at a point of its own
RUN_NOISE = True  # and have gradient noise of its own
INSIDE = True  # draws the optimizer's state (arrows, state panel, curvature): see optviz.ui.inside
STEP_MODE = True  # its figure stops at one update (figure's at=, reveal=): see optviz.ui.stepper
SIDEBAR_AFTER_RESULTS = True  # its sidebar writes no state while drawn: see ExperimentPage.results_first
CHOICES = [*surfaces.SURFACES, FORMULA]
VIEW_LABELS = {"contour": "Contour", "3d": "3-D"}
# Widget keys the page always draws: if any is missing, Streamlit dropped them (see explore.init).
REQUIRED = ("surface", "start_x", "start_y", "steps", "view", "tol", "inside")


def load(k: Key, exp: Experiment, view: View) -> None:
    """Put the experiment's problem and page-wide settings into the widgets."""
    s = st.session_state
    problem = exp.problem
    load_surface(k, problem)
    start = common_start(exp.runs) or problem.start
    s[k("start_x")], s[k("start_y")] = float(start[0]), float(start[1])
    s[k("steps")] = exp.n_steps
    s[k("view")], s[k("tol")] = view.view, view.tol
    s[k("inside")] = view.inside
    stepper.load(k, view.step, view.predict)


def _set_surface_params(k: Key, spec: surfaces.Surface, values: dict[str, Any]) -> None:
    for p in spec.params:
        set_value(k(f"sp.{p.name}"), p, values.get(p.name, p.default))


def _declarations(params: dict[str, float]) -> str:
    return ", ".join(f"{name}={value:g}" for name, value in params.items())


def _parse_declarations(text: str) -> dict[str, float]:
    """``a=1, b=100``: the formula's parameters and their starting values."""
    out: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.replace(";", ",").split(","))):
        name, eq, value = item.partition("=")
        try:
            if not eq:
                raise ValueError
            out[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"{item!r} is not name=number, like b=100") from None
    return out


def load_surface(k: Key, problem) -> None:
    """Put a surface or a typed formula into the picker's widgets."""
    s = st.session_state
    if isinstance(problem, FormulaProblem):
        s[k("surface")] = FORMULA
        s[k("formula")] = problem.formula
        s[k("fdecl")] = _declarations(problem.values)
        for name, value in problem.values.items():
            s[k(f"fp.{name}")] = float(value)
    else:
        s[k("surface")] = problem.surface
        _set_surface_params(k, problem.spec, problem.values)


def read_surface(k: Key) -> tuple[SurfaceProblem | FormulaProblem, list[str]]:
    """The surface or formula the picker describes, and why it could not be used (then a stand-in)."""
    s = st.session_state
    errors: list[str] = []
    if s.get(k("surface")) == FORMULA:
        try:
            declared = _parse_declarations(s.get(k("fdecl"), ""))
            values = {name: float(s.get(k(f"fp.{name}"), value)) for name, value in declared.items()}
            problem = FormulaProblem(s.get(k("formula"), EXAMPLE), values)
            problem.check()
            return problem, errors
        except ConfigError as exc:
            errors.append(str(exc))
            return SurfaceProblem("rosenbrock"), errors
    spec = surfaces.get(s.get(k("surface"), "rosenbrock"))
    values = {p.name: s.get(k(f"sp.{p.name}"), p.default) for p in spec.params}
    try:
        return SurfaceProblem(spec.id, values), errors
    except ConfigError as exc:
        errors.append(str(exc))
        return SurfaceProblem(spec.id), errors


def _on_declarations(k: Key) -> None:
    """New parameters start at their declared values."""
    s = st.session_state
    try:
        for name, value in _parse_declarations(s.get(k("fdecl"), "")).items():
            s[k(f"fp.{name}")] = value
    except ConfigError:
        pass  # read_surface says why


def _formula_defaults(k: Key) -> None:
    """A first typed formula starts as the example, with its parameter."""
    s = st.session_state
    if k("formula") not in s:
        s[k("formula")], s[k("fdecl")], s[k("fp.b")] = EXAMPLE, "b=100", 100.0


def surface_picker(k: Key, on_change: Callable[[], None] | None = None) -> None:
    """The surface list (a typed formula last) and the chosen one's parameters."""
    s = st.session_state
    st.selectbox("Surface", CHOICES, key=k("surface"), on_change=on_change,
                 format_func=lambda sid: "Custom formula…" if sid == FORMULA else surfaces.SURFACES[sid].name,
                 label_visibility="collapsed")
    if s.get(k("surface")) == FORMULA:
        _formula_defaults(k)
        st.text_area("f(x, y) =", key=k("formula"), height=68, max_chars=500,
                     help="Numbers, + − * / ^, parentheses, the variables x and y, pi, e, your parameters, and "
                          "sin cos tan exp log log1p sqrt abs tanh sinh cosh arctan floor ceil min max clip "
                          "where. Read safely: nothing you type is run as code.")
        st.text_input("Parameters", key=k("fdecl"), on_change=_on_declarations, args=(k,),
                      placeholder="e.g. a=1, b=100", help="Names used in the formula, with their values.")
        try:
            declared = _parse_declarations(s.get(k("fdecl"), ""))
        except ConfigError:
            declared = {}
        for name, value in declared.items():
            if k(f"fp.{name}") not in s:
                s[k(f"fp.{name}")] = value
            st.number_input(name, key=k(f"fp.{name}"), format="%g")
        return
    spec = surfaces.get(s[k("surface")])
    for p in spec.params:
        param_widget(k(f"sp.{p.name}"), p, label=f"{p.name}: {p.help}" if p.help else p.name)


def collect(k: Key) -> tuple[SurfaceProblem | FormulaProblem, int, dict[str, Any], View, list[str]]:
    """The problem, the steps, what every run shares (the start point), the view and errors."""
    s = st.session_state
    problem, errors = read_surface(k)
    shared = {"start": (float(s[k("start_x")]), float(s[k("start_y")]))}
    inside = bool(s.get(k("inside"), False))
    step, predict = stepper.link_state(k) if inside else (None, False)
    view = View(s[k("view")], float(s[k("tol")]), inside, step=step, predict=predict)
    return problem, int(s[k("steps")]), shared, view, errors


def _on_surface_change(k: Key) -> None:
    """A new surface starts at its own classic start with its default parameters."""
    s = st.session_state
    if s[k("surface")] == FORMULA:
        _formula_defaults(k)  # before this run reads it, which may be before the picker is drawn
        problem, _ = read_surface(k)
        start = problem.start
    else:
        spec = surfaces.get(s[k("surface")])
        _set_surface_params(k, spec, {})
        start = spec.start
    s[k("start_x")], s[k("start_y")] = (float(v) for v in start)


def sidebar(k: Key) -> None:
    """The surface, its parameters, the start point, steps and gradient noise."""
    st.markdown("### Surface")
    surface_picker(k, on_change=lambda: _on_surface_change(k))
    st.segmented_control("View", list(VIEW_LABELS), key=k("view"), format_func=VIEW_LABELS.get,
                         required=True, width="stretch")
    st.markdown("**Start point** (or click the contour)")
    c1, c2 = st.columns(2)
    c1.number_input("x", key=k("start_x"), format="%g")
    c2.number_input("y", key=k("start_y"), format="%g")
    st.number_input("Steps", min_value=1, step=50, key=k("steps"))
    st.caption("Gradient noise is each run's own setting, below the chart.")
    st.toggle("Show the optimizer's state", key=k("inside"),
              help="Arrows at each run's point (−gradient, momentum, the update taken), a panel of the state "
                   "over steps, the update with its numbers, and the curvature. Records the gradient and "
                   "torch's optimizer state at every step, so it computes a little longer.")


def header(exp: Experiment, k: Key) -> None:
    """One line above the chart: the surface and its formula."""
    st.markdown(f"**{exp.problem.name}** $\\quad {exp.problem.latex}$")


def about(exp: Experiment, k: Key) -> None:
    """Under the chart: what the surface teaches and where its minima are."""
    problem, minima = exp.problem, exp.problem.minima()
    if minima:
        where = ", ".join(f"({x:.4g}, {y:.4g})" for x, y, _ in minima)
        found = " (found numerically)" if isinstance(problem, FormulaProblem) else ""
        minimum = f"**Global minimum{found}:** f = {minima[0][2]:.6g} at {where}."
    else:
        minimum = "**No minimum:** f is unbounded below in view; runs leave the picture."
    st.markdown(f"**What it teaches:** {problem.teaches} {minimum}")
    for note in getattr(getattr(problem, "analysis", None), "notes", ()):
        st.caption(plain(note))


@st.cache_data(max_entries=32, show_spinner=False)
def _grid(problem: SurfaceProblem) -> charts.Grid:
    return charts.surface_grid(problem)


def extras(outcome: Outcome) -> Any:
    """What the figure needs besides the runs: the surface on a grid."""
    return _grid(outcome.experiment.problem)


def progress_figure(exp: Experiment, arrays: dict, styles, total: int, view: View, layout: str = "wide"):
    """The light picture drawn while a long computation streams in."""
    return charts.race_figure(exp.problem, arrays, styles, grid=_grid(exp.problem), view=view.view,
                              animate=False, total_steps=total, layout=layout)


def figure(outcome: Outcome, extra: Any, styles, view: View, layout: str = "wide", *, at: int | None = None,
           reveal: bool = True):
    """The race; ``at`` and ``reveal``: step mode (see :func:`optviz.charts.race_figure`)."""
    arrays = outcome.result.arrays
    if view.inside:
        arrays = inside.as_torch_keeps(arrays, outcome.result.resolved)
    return charts.race_figure(outcome.experiment.problem, arrays, styles, grid=extra, view=view.view,
                              clickable=view.view == "contour", click_cells=plot.draws_in_place(), layout=layout,
                              arrows=view.inside, at=at, reveal=reveal)


def summary_columns(outcome: Outcome, i: int, view: View) -> dict[str, Any]:
    """The table's columns that only a surface has: steps to reach the known minimum."""
    fmin = outcome.experiment.problem.known_minimum()
    loss = outcome.result.arrays["loss"][:, i]
    gap = loss - fmin if fmin is not None else loss
    name = f"steps to f−f* ≤ {view.tol:g}" if fmin is not None else f"steps to f ≤ {view.tol:g}"
    return {name: charts.steps_to_reach(gap, view.tol)}


def on_click(k: Key, event, fig) -> None:
    """A click on the contour's click grid moves the start point there."""
    grid_curve = getattr(fig, "_click_trace", None)
    for p in event.selection.points if event is not None else []:
        if grid_curve is not None and p.get("curve_number") == grid_curve:
            xy = (round(float(p["x"]), 4), round(float(p["y"]), 4))
            if st.session_state.get(k("last_click")) != xy:
                st.session_state[k("last_click")] = xy
                st.session_state[k("start_x")], st.session_state[k("start_y")] = xy
                st.rerun()

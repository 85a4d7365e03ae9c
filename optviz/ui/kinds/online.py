"""The Online page's own part: Reddi et al.'s online problem, its variant and parameters,
the start x and the steps; the figure is x against the step and the average regret.

The runs (optimizer, betas, lr, schedule) are the shared run editor's, as on every page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from ...charts.online import online_figure
from ...codec import View, common_start
from ...experiment import Experiment, Outcome
from ...params import ConfigError
from ...problems import OnlineProblem
from ...problems.online import PARAMS, VARIANTS
from ..widgets import param_widget, set_value

Key = Callable[[str], str]
TITLE = "Online"
RUN_STARTS = False  # one x for every run, in the sidebar: the editor's starts are 2-D points
RUN_NOISE = False  # the problem draws its own noise (the stochastic variant)
REQUIRED = ("variant", "start_x", "steps")
SIDEBAR_AFTER_RESULTS = True  # its sidebar writes no state while drawn: see ExperimentPage.results_first
VARIANT_LABELS = {"cyclic": "Cyclic (the proof's)", "stochastic": "Stochastic"}
# Which parameters each variant reads: the others would only confuse.
SHOWN = {"cyclic": ("big", "small", "period", "radius"), "stochastic": ("big", "small", "p", "seed", "radius")}


def load(k: Key, exp: Experiment, view: View) -> None:
    s = st.session_state
    problem: OnlineProblem = exp.problem
    s[k("variant")] = problem.variant
    for h in PARAMS.params:
        set_value(k(f"op.{h.name}"), h, problem.values[h.name])
    start = common_start(exp.runs) or problem.start
    s[k("start_x")] = float(start[0])
    s[k("steps")] = exp.n_steps


def collect(k: Key) -> tuple[OnlineProblem, int, dict[str, Any], View, list[str]]:
    s = st.session_state
    variant = s.get(k("variant")) or "cyclic"
    values = {h.name: s.get(k(f"op.{h.name}"), h.default) for h in PARAMS.params}
    errors: list[str] = []
    try:
        problem = OnlineProblem(variant, values)
    except ConfigError as exc:
        errors.append(str(exc))
        problem = OnlineProblem(variant)
    return problem, int(s[k("steps")]), {"start": (float(s[k("start_x")]),)}, View(), errors


def sidebar(k: Key) -> None:
    st.markdown("### Online problem")
    st.caption(
        "f_t(x) = C·x on the rare rounds, −c·x otherwise, and x is clamped to [−r, r] after each step "
        "(Reddi, Kale and Kumar, ICLR 2018)."
    )
    st.segmented_control(
        "Variant", list(VARIANTS), key=k("variant"), format_func=VARIANT_LABELS.get, required=True, width="stretch"
    )
    shown = SHOWN[st.session_state.get(k("variant")) or "cyclic"]
    for h in PARAMS.params:
        if h.name in shown:
            # Not bounded by the hint's range: a link may carry any value the problem accepts (its check says no).
            param_widget(k(f"op.{h.name}"), h, label=f"{h.name}: {h.help}")
    st.number_input("Start x", key=k("start_x"), format="%g")
    st.number_input("Steps", min_value=1, step=1000, key=k("steps"))


def header(exp: Experiment, k: Key) -> None:
    v = exp.problem.values
    rare = (
        f"once every {v['period']} rounds"
        if exp.problem.variant == "cyclic"
        else f"with probability {v['p']:g} (seed {v['seed']})"
    )
    st.markdown(
        f"**{exp.problem.name}** $\\quad f_t(x) = {v['big']:g}\\,x$ {rare}, otherwise "
        f"$-{v['small']:g}\\,x$, on $[-{v['radius']:g}, {v['radius']:g}]$"
    )


def about(exp: Experiment, k: Key) -> None:
    st.markdown(
        "**What it teaches:** the rare large gradient says x should go down, but Adam's second moment "
        "forgets it within a few dozen steps (β₂ = 0.99), so the many small gradients win and x drifts "
        "up, to the worst point. AMSGrad keeps the largest second moment and goes to the best fixed "
        "point. The regret is measured against that point in hindsight."
    )


def extras(outcome: Outcome) -> Any:
    return None


def progress_figure(exp: Experiment, arrays: dict, styles, total: int, view: View, layout: str = "wide"):
    return online_figure(exp.problem, arrays["params"], styles, total_steps=total)


def figure(outcome: Outcome, extra: Any, styles, view: View, layout: str = "wide"):
    return online_figure(outcome.experiment.problem, outcome.path_params, styles, steps=outcome.path_steps)


def summary_columns(outcome: Outcome, i: int, view: View) -> dict[str, Any]:
    """Where the run ended, and its average regret over all the rounds."""
    xs = outcome.path_params[:, i, 0]
    regret = outcome.experiment.problem.average_regret(xs[:-1, None])[0] if len(xs) > 1 else None
    return {"final x": float(xs[-1]), "average regret": None if regret is None else float(regret)}


def on_click(k: Key, event, fig) -> None:
    """Nothing to click on this figure."""

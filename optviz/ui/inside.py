"""The "inside the optimizer" section under a race: the state over steps for a chosen run
and, on request, the curvature along every path. On a surface: every coordinate, the
update at a chosen step with the recorded numbers, the exact Hessian's eigen-directions
and each run's local stability. On a model: norms and percentiles over the weights
(recorded with ``norms``) and λ_max by Lanczos. Thin: the figures and numbers come from
:mod:`optviz.charts.state`, :mod:`optviz.curvature` and :mod:`optviz.ui.maths`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import streamlit as st
import torch

from .. import curvature
from ..charts import state as inside
from ..engine import DEFAULT_RECORD
from ..experiment import Outcome
from . import guard, plot
from .kinds import KIND_UI
from .maths import step_latex
from .theme import chart
from .widgets import cached, table

CURVATURE = "inside.curvature"  # the curvature switch's key (kept in the link as curvature=1)

# What the inside view needs the engine to record besides the race's own arrays.
RECORD = (*DEFAULT_RECORD, "grad", "state")


def section(k: Callable[[str], str], outcome: Outcome, styles, *, card: bool = True, narrow: bool = False) -> None:
    """``card``: the update with its numbers here (step mode draws it under the race instead);
    ``narrow``: a phone's width (see :func:`optviz.ui.maths.step_latex`)."""
    result = outcome.result
    labels = [s.label for s in styles]
    st.markdown("#### Inside the optimizer")
    c1, c2 = st.columns([1, 2])
    run = c1.selectbox("Run", range(len(labels)), format_func=lambda i: labels[i], key=k("inside.run"))
    run = min(int(run or 0), len(labels) - 1)
    last = max(result.steps - 1, 0)
    if k("inside.step") in st.session_state and st.session_state[k("inside.step")] > last:
        st.session_state[k("inside.step")] = last
    step = c2.slider("Update number t (from point t to t + 1)", 0, max(last, 1), key=k("inside.step"),
                     disabled=last == 0)
    step = min(step, last)
    arrays = inside.as_torch_keeps(result.arrays, result.resolved)
    resolved = result.resolved[run]
    plot.chart(chart(inside.state_figure(arrays, run, styles[run], step=step, resolved=resolved)),
               key=k("inside.figure"), where=st.container())
    per_weight = "grad" in arrays  # a surface's every coordinate; a model's norms only
    diverged = int(result.diverged_at[run])
    if not per_weight:
        st.caption("A model's state is summarized at every step by norms and by percentiles of step ÷ gradient "
                   "over its weights: the per-weight buffers are not kept, so memory does not grow with the model.")
        if st.toggle("Curvature along the paths (λ_max by Lanczos on Hessian-vector products)",
                     key=k(CURVATURE)):
            model_curvature_ui(outcome, styles, labels, step)
        return
    if not card:
        pass  # step mode draws it under the race (optviz.ui.stepper)
    elif 0 <= diverged <= step + 1:
        st.info(f"{labels[run]} diverged at point {diverged}: from there on it has no numbers to show.")
    else:
        st.markdown(f"**The update that made point {step + 1}**, with torch's recorded numbers "
                    "(state after the update):")
        values = inside.step_values(arrays, run, step)
        for line in step_latex(resolved["optimizer"], resolved["hparams"], values, step + 1, narrow):
            st.latex(line)
    if st.toggle("Curvature along the paths (exact 2×2 Hessian)", key=k(CURVATURE)):
        curvature_ui(outcome, styles, labels, step)


def curvature_ui(outcome: Outcome, styles, labels: list[str], step: int) -> None:
    exp, result = outcome.experiment, outcome.result
    fn = exp.problem.build().loss
    pc = cached(("curvature", exp.numbers_only()),
                lambda: curvature.path_curvature(fn, result.arrays, result.resolved))
    plot.chart(chart(inside.sharpness_figure(pc.sharpness, pc.lines, styles, step=step, measures=pc.measure)),
               key="inside.sharpness", where=st.container())
    points = np.asarray(result.arrays["params"])[min(step, len(result.arrays["params"]) - 1)]
    hess = curvature.hessian_2d(fn, torch.as_tensor(points, dtype=torch.float64))
    grid = KIND_UI[exp.problem.kind].extras(outcome)
    cross, stability = st.columns([3, 2])
    plot.chart(chart(inside.hessian_cross_figure(grid, points, hess.eigenvalues.numpy(), hess.eigenvectors.numpy(),
                                                 styles, step=step)),
               key="inside.hessian", where=cross)
    cross.caption(f"The exact Hessian's eigen-directions at point {step}: the longer arm is the sharper "
                  "direction (arms ∝ √|λ|); a dashed arm curves down, so a saddle shows one solid, one dashed.")
    st.caption("Dotted: each run's stable limit at its step size (2/η for gradient descent, 2(1+β)/η for heavy "
               "ball; Adam's 38/η bounds its preconditioned sharpness λ_max(P⁻¹H), P = diag(√v̂) + ε). Above "
               "the line, the step overshoots along the sharpest direction.")
    rows = [{key: f"{v:.4g}" if isinstance(v, float) and v == v else ("—" if isinstance(v, float) else v)
             for key, v in row.items()} for row in curvature.stability_rows(pc, labels, step)]
    with stability:
        st.markdown(f"**Local stability at point {step}**")
        table(rows)


def model_curvature_ui(outcome: Outcome, styles, labels: list[str], step: int) -> None:
    exp, result = outcome.experiment, outcome.result

    def measure():
        # Seconds of Hessian-vector products: it takes its turn on the server like a training does.
        note = st.empty()
        try:
            with guard.heavy_slot(note), st.spinner("Measuring λ_max along the paths…"):
                return curvature.model_curvature(exp.problem.build(), result)
        finally:
            note.empty()

    mc = cached(("model-curvature", exp.numbers_only()), measure)
    plot.chart(chart(inside.sharpness_figure(mc.sharpness, mc.lines, styles, step=step, measures=mc.measure,
                                             steps=mc.steps)), key="inside.model_sharpness", where=st.container())
    st.caption(f"λ_max of the training loss's Hessian at {len(mc.steps)} points of each path. Dotted: each run's "
               "stable limit (2/η for gradient descent, 2(1+β)/η for heavy ball); full-batch GD climbs to it and "
               "hovers (the edge of stability). Adam's 38/η bounds its preconditioned sharpness λ_max(P⁻¹H), "
               "P = diag(√v̂) + ε, drawn for Adam runs instead (v̂ from a replay of the runs, kept at these "
               "points only).")

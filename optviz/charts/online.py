"""The online problem's figure: where each run's x goes, step by step, and its average regret.

A pure builder from the runs' recorded points to a Plotly figure, for the experiment
page of the online kind (:mod:`optviz.ui.kinds.online`) and anything else that has
the points. The regret is the problem's own (:meth:`OnlineProblem.regret`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..analysis import thin
from ..problems import OnlineProblem
from .common import FONT, Style


def online_figure(
    problem: OnlineProblem,
    params: np.ndarray,
    runs: Sequence[Style],
    *,
    steps: np.ndarray | None = None,
    total_steps: int | None = None,
    height: int = 560,
    limit: int = 2000,
) -> go.Figure:
    """x against the step (top) and the average regret R_t / t (bottom), one line per run.

    ``params`` is ``(points, runs, 1)`` at ``steps`` (default: every step from 0); the
    regret needs every step, so it is drawn only then. At most ``limit`` points per line
    (a 20,000-step run is 20,000 points per run). A dotted line marks the best fixed
    point in hindsight over the steps drawn.
    """
    xs = np.asarray(params, dtype=np.float64)[..., 0]
    steps = np.arange(len(xs)) if steps is None else np.asarray(steps)
    every_step = len(steps) == 0 or bool((steps == np.arange(len(steps))).all())
    regret = problem.regret(xs[:-1]) if every_step and len(xs) > 1 else None
    fig = make_subplots(2, 1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.55, 0.45])
    keep = thin(len(xs), limit)
    for i, style in enumerate(runs):
        line = dict(color=style.color, dash=style.dash, width=2)
        fig.add_scatter(x=steps[keep], y=xs[keep, i], name=style.label, legendgroup=str(i), line=line, row=1, col=1)
        if regret is not None:
            k = thin(len(regret), limit)
            # Round t = s + 1 was played at the point of step s.
            fig.add_scatter(
                x=steps[k] + 1,
                y=regret[k, i],
                name=style.label,
                legendgroup=str(i),
                showlegend=False,
                line=line,
                row=2,
                col=1,
            )
    r = problem.values["radius"]
    if len(xs) > 1:
        best = problem.best_fixed(len(xs) - 1)
        fig.add_hline(
            y=best,
            line=dict(color="#555", dash="dot", width=1),
            row=1,
            col=1,
            annotation_text=f"best fixed point {best:+g}",
            annotation_position="bottom right",
        )
    fig.update_yaxes(title_text="x", range=[-1.08 * r, 1.08 * r], row=1, col=1)
    fig.update_yaxes(title_text="average regret" if regret is not None else "", type="log", row=2, col=1)
    fig.update_xaxes(title_text="step", row=2, col=1)
    if total_steps:
        fig.update_xaxes(range=[0, total_steps])
    fig.update_layout(
        height=height,
        font=FONT,
        template="plotly_white",
        margin=dict(l=80, r=30, t=58, b=62),  # room for the ticks and legend: no second draw to widen it
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),  # above: clear of the step axis's title
        hovermode="x unified",
    )
    return fig

"""Plotly figures for a fair comparison: pure functions, no Streamlit.

* :func:`compare_race_figure`: each optimizer's tuned configuration racing, its
  median over the seeds as a line and the seeds' spread (min–max or quartiles)
  as a band; the x-axis in steps, gradient evaluations or seconds.
* :func:`sensitivity_figure`: every trial's score against its lr, one panel per
  optimizer on a shared y-axis: how forgiving each one is. The tuned trial is a
  star; a trial without a value (every seed diverged, or none reached the
  target) is a cross above the dots.

Every trial a user may click carries ``customdata`` = (contender, trial).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..compare import AXES, CompareResult
from .common import FONT, PALETTE, escaped
from .sweeps import loss_gap


def _colors(result: CompareResult, colors: Sequence[str] | None) -> list[str]:
    return [
        (colors[k] if colors and k < len(colors) else None) or PALETTE[k % len(PALETTE)]
        for k in range(len(result.tuned))
    ]


def _rgba(color: str, alpha: float) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def loss_axis_name(result: CompareResult) -> str:
    """What the race's y-axis shows: the gap to the known minimum, or the (mini-batch) loss."""
    if result.fmin is not None:
        return "f − f*"
    return "training loss (mini-batch)" if result.comparison.problem.kind == "train" else "f"


def compare_race_figure(
    result: CompareResult,
    axis: str = "steps",
    band: str = "minmax",
    colors: Sequence[str] | None = None,
    height: int = 460,
    narrow: bool = False,
) -> go.Figure:
    """The tuned configurations racing: median over the seeds, and a band over them.

    ``axis``: ``steps``, ``evals`` (gradient evaluations: LBFGS's line search
    counts each one) or ``time`` (each run's measured share of the batch's
    seconds). ``band``: ``minmax`` or ``iqr``.
    """
    if axis not in AXES:
        raise ValueError(f"axis must be one of {sorted(AXES)}")
    colors = _colors(result, colors)
    fig = go.Figure()
    lows: list[float] = []
    log = True
    for k in range(len(result.tuned)):
        x, lo, med, hi = result.band(k, axis, band)
        for values in (lo, med, hi):
            finite = values[np.isfinite(values)]
            log = log and bool((finite > 0).all())
            if finite.size:
                lows.append(float(finite.min()))
    span = "min–max" if band == "minmax" else "quartiles"
    for k in range(len(result.tuned)):
        x, lo, med, hi = result.band(k, axis, band)
        clean = [np.where(np.isfinite(v) & ((v > 0) if log else True), v, np.nan) for v in (lo, med, hi)]
        lo, med, hi = clean
        label = escaped(result.label(k))
        tuned = result.setting_text(k, int(result.tuned[k]))
        group = f"c{k}"
        # The band: its upper edge, then the lower edge filled up to it.
        for y, fill in ((hi, {}), (lo, dict(fill="tonexty", fillcolor=_rgba(colors[k], 0.18)))):
            fig.add_trace(
                go.Scatter(x=x, y=y, mode="lines", line=dict(width=0), hoverinfo="skip", showlegend=False,
                           legendgroup=group, connectgaps=False, **fill)
            )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=med,
                mode="lines",
                name=f"{label}<br>({tuned})" if narrow else f"{label} ({tuned})",  # a phone: two lines
                legendgroup=group,
                line=dict(color=colors[k], width=3),
                hovertemplate=f"<b>{label}</b> ({tuned})<br>{AXES[axis]} %{{x:.4g}}"
                "<br>median %{y:.3g}<extra></extra>",
            )
        )
    fig.update_xaxes(title_text=AXES[axis], rangemode="tozero")
    fig.update_yaxes(
        title_text=f"{loss_axis_name(result)}<br>(median, {span} of {result.comparison.seeds} seeds)",
        type="log" if log else "linear",
        exponentformat="power",
    )
    if log and lows:
        top = max(
            float(np.nanmax(np.where(np.isfinite(result.curves["loss"]), result.curves["loss"], np.nan))),
            min(lows) * 10,
        )
        rng = [math.log10(max(min(lows), 1e-300)) - 0.3, math.log10(top) + 0.3]
        fig.update_yaxes(range=rng, dtick=max(1, math.ceil((rng[1] - rng[0]) / 8)))
    # On a phone the legend is a column of two-line entries at the figure's foot, in a bottom
    # margin of its own (the figure grows by as much): placed under the plot, Plotly widened the
    # margin to fit it, the plot shrank, and the legend rose onto the x-axis title.
    below = 44 * len(result.tuned) if narrow else 0
    fig.update_layout(
        height=height + below,
        font=FONT,
        template="plotly_white",
        hoverlabel=dict(font_size=15),
        legend=dict(orientation="v", yanchor="bottom", yref="container", y=0, x=0, font=dict(size=15)) if narrow
        else dict(orientation="h", yanchor="bottom", y=1.02, x=0, font=dict(size=15)),
        margin=dict(l=80, r=44, t=40 if narrow else 70, b=70 + below), modebar=dict(orientation="v"),
        title=None,
    )
    return fig


def trial_values(result: CompareResult) -> tuple[np.ndarray, bool, str]:
    """Each trial's score as the metric reads (K, B): NaN where it has none; whether a log
    axis suits it, and what the axis is called."""
    spec = result.spec
    value = -result.score if spec.higher else result.score.copy()
    value = np.where(np.isfinite(value), value, np.nan)
    name = result.comparison.metric
    if name in ("final_loss", "best_loss"):
        value, log = loss_gap(result.comparison.problem, value)
        what = "f − f*" if result.fmin is not None else spec.name
        return value, log, f"median {what}" if what != spec.name else f"median {spec.name}"
    finite = value[np.isfinite(value)]
    log = not spec.higher and bool(finite.size) and bool((finite > 0).all())
    return value, log, f"median {spec.name}"


def sensitivity_figure(
    result: CompareResult, colors: Sequence[str] | None = None, height: int = 420, x: str = "lr",
    columns: int | None = None,
) -> go.Figure:
    """Every trial's score (its median over the seeds) against its lr, one panel per
    optimizer on a shared y-axis: a wide low floor is a forgiving optimizer. ``columns``
    wraps the panels into rows (a phone: one a row)."""
    colors = _colors(result, colors)
    K = len(result.tuned)
    values, log, what = trial_values(result)
    labels = [escaped(result.label(k)) for k in range(K)]  # user text: Plotly renders HTML in it
    cols = max(1, min(K, columns or K))
    rows = math.ceil(K / cols)
    fig = make_subplots(rows=rows, cols=cols, shared_yaxes=True, horizontal_spacing=0.06,
                        vertical_spacing=min(0.3, 0.5 / rows), subplot_titles=labels)
    finite = values[np.isfinite(values)]
    if log:
        finite = np.log10(finite[finite > 0])
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    span = hi - lo if hi > lo else 1.0
    band_y = hi + 0.12 * span
    higher = result.spec.higher
    if higher:  # the best is on top: failures go below
        band_y = lo - 0.12 * span
    for k in range(K):
        c = result.comparison.contenders[k]
        j = [r.name for r in c.space].index(x) if x in [r.name for r in c.space] else 0
        xs = result.values[k][:, j]
        ys = values[k]
        custom = np.stack([np.full(xs.size, k), np.arange(xs.size)], axis=1)
        texts = [result.setting_text(k, b) for b in range(xs.size)]
        ok = np.isfinite(ys)
        hover = (
            f"<b>{labels[k]}</b><br>%{{text}}<br>{what} %{{y:.4g}}"
            "<br><i>click: watch this trial</i><extra></extra>"
        )
        fig.add_trace(
            go.Scatter(
                x=xs[ok],
                y=ys[ok],
                mode="markers",
                name=labels[k],
                showlegend=False,
                text=[t for t, o in zip(texts, ok) if o],
                customdata=custom[ok],
                marker=dict(size=9, color=colors[k], opacity=0.75, line=dict(color="white", width=0.5)),
                hovertemplate=hover,
            ),
            row=k // cols + 1,
            col=k % cols + 1,
        )
        if (~ok).any():
            fig.add_trace(
                go.Scatter(
                    x=xs[~ok],
                    y=np.full((~ok).sum(), 10**band_y if log else band_y),
                    mode="markers",
                    name=f"{labels[k]}: no value",
                    showlegend=False,
                    customdata=custom[~ok],
                    text=[t for t, o in zip(texts, ok) if not o],
                    marker=dict(symbol="x-thin", size=9, color=colors[k], line=dict(color=colors[k], width=2)),
                    hovertemplate=f"<b>{labels[k]}</b><br>%{{text}}<br>{_no_value(result)}"
                    "<br><i>click: watch this trial</i><extra></extra>",
                ),
                row=k // cols + 1,
                col=k % cols + 1,
            )
        b = int(result.tuned[k])
        if np.isfinite(ys[b]):
            fig.add_trace(
                go.Scatter(
                    x=[xs[b]],
                    y=[ys[b]],
                    mode="markers",
                    name=f"{labels[k]} tuned",
                    showlegend=False,
                    text=[texts[b]],
                    customdata=custom[[b]],
                    marker=dict(symbol="star", size=20, color=colors[k], line=dict(color="black", width=1.5)),
                    hovertemplate=f"<b>{labels[k]}: tuned</b><br>%{{text}}<br>{what} %{{y:.4g}}"
                    "<br><i>click: watch this trial</i><extra></extra>",
                ),
                row=k // cols + 1,
                col=k % cols + 1,
            )
        r = c.space[j]
        # Narrow panels (three or more side by side): a tick every second decade, so labels never touch.
        decades = math.log10(r.hi / r.lo) if r.log and r.lo > 0 else 0.0
        fig.update_xaxes(
            type="log" if r.log else "linear",
            exponentformat="power",
            title_text=r.name,
            dtick=2 if r.log and K >= 3 and decades > 3 else None,
            nticks=None if r.log else 4,
            row=k // cols + 1,
            col=k % cols + 1,
        )
    ymin, ymax = (min(lo, band_y), max(hi, band_y))
    pad = 0.08 * (ymax - ymin or 1.0)
    fig.update_yaxes(
        type="log" if log else "linear",
        exponentformat="power",
        range=[ymin - pad, ymax + pad],
        # Panels in rows (a phone) are a third as tall: half as many decade ticks, or they touch.
        dtick=max(1, math.ceil((ymax - ymin) / (8 if rows == 1 else 4))) if log else None,
    )
    for row in range(1, rows + 1):
        fig.update_yaxes(title_text=what, row=row, col=1)
    fig.update_layout(
        height=height if rows == 1 else 80 + rows * (height - 80) * 3 // 4,
        font=FONT,
        template="plotly_white",
        hoverlabel=dict(font_size=15),
        margin=dict(l=70, r=44, t=50, b=60), modebar=dict(orientation="v"),
    )
    fig.update_annotations(font_size=15)
    return fig


def _no_value(result: CompareResult) -> str:
    return "no median: most seeds missed the target" if result.spec.target else "no median: most seeds diverged"


__all__ = ["compare_race_figure", "loss_axis_name", "sensitivity_figure", "trial_values"]

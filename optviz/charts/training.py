"""Plotly figures of a training: pure functions, no Streamlit.

:func:`training_figure` puts four views in one figure whose animation frames
(Play button and step slider, run in the browser) move them together: the loss
landscape with each run's path, the data as the model sees it (decision
boundaries, fitted curve, or predicted vs true), the train/test loss, and the
accuracy (or R²) over epochs. :func:`progress_figure` is the light picture drawn
while a training streams in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..analysis import DataView, Landscape, level_lines, thin, training_frames
from ..experiment import Outcome
from .common import CONTROLS_BOTTOM, FONT, PALETTE, AnimatedFigure, Grid, Style, f32, gapped, last_finite, shaded_image

# Light class colours (ColorBrewer "Paired", light members): the runs own the saturated palette.
# Data classes in pale, muted fills with grey edges and a shape each: the saturated
# palette belongs to the runs, whose boundaries cross the points.
CLASS_COLORS = ("#c4c4c4", "#e3cb8f", "#b9cfe0", "#d7bcd1", "#c2d6b4", "#e6b8a8", "#d2d29c", "#b5b5d6")
CLASS_EDGES = ("#5f5f5f",) * len(CLASS_COLORS)
CLASS_SYMBOLS = ("circle", "square", "diamond", "triangle-up", "triangle-down", "pentagon", "hexagon", "star")
MAX_PATH_POINTS = 400


def _label(style: Style, diverged: int, steps_per_epoch: int) -> str:
    if diverged < 0:
        return style.label
    return f"{style.label} ✕ diverged at epoch {diverged / steps_per_epoch:.3g}"


def metric_name(training: Outcome) -> str | None:
    m = training.metrics
    if "test_accuracy" in m or "train_accuracy" in m:
        return "accuracy"
    if "test_r2" in m or "train_r2" in m:
        return "r2"
    return None


def training_figure(
    training: Outcome,
    land: Landscape | None,
    view: DataView | None,
    runs: Sequence[Style],
    *,
    animate: bool = True,
    layout: str = "wide",
) -> AnimatedFigure:
    """The four views, animated together over the evaluated steps: a 2 x 2 grid (``wide``),
    or one above the other (``stacked``, for a phone)."""
    spe = training.steps_per_epoch
    metric = metric_name(training)
    # Short titles: at a projector's width two of them share a line.
    data_title = {"boundary": "Decision boundaries", "curve": "Fitted curves",
                  "parity": "Predicted vs true"}.get(view.kind if view else "", "Learning rate")
    land_title = ("Loss landscape" if land is None else
                  "Loss over the two weights" if land.kind == "weights" else "Loss on the paths' PCA plane")
    split_note = " (— test, ··· train)" if "test_loss" in training.metrics else ""
    titles = (land_title, data_title, f"Loss{split_note}",
              {"accuracy": f"Accuracy{split_note}", "r2": f"R²{split_note}"}.get(metric, ""))
    if layout == "stacked":
        # Room under a panel for its ticks and x-axis title, then the next panel's title.
        fig = make_subplots(rows=4, cols=1, row_heights=[0.3, 0.3, 0.2, 0.2], vertical_spacing=0.09,
                            subplot_titles=titles, figure=AnimatedFigure())
    else:
        fig = make_subplots(rows=2, cols=2, column_widths=[0.5, 0.5], row_heights=[0.58, 0.42],
                            horizontal_spacing=0.14, vertical_spacing=0.17, subplot_titles=titles,
                            figure=AnimatedFigure())
    fig._cells = _CELLS[layout]
    shown = view.frame_steps if view is not None else training_frames(training)
    eval_steps = training.eval_steps
    epochs = training.epochs(eval_steps)
    moving: list[int] = []
    frame_data: list[list[dict]] = [[] for _ in shown]
    diverged = training.result.diverged_at
    if land is not None:
        land = land.named([s.label for s in runs])
    runs = [Style(_label(s, int(diverged[r]), spe), s.color, s.dash) for r, s in enumerate(runs)]

    if land is not None:
        _add_landscape(fig, land)
    else:
        fig.add_annotation(text="no plane to draw: every run diverged, or none moved", showarrow=False,
                           xref="x domain", yref="y domain", x=0.5, y=0.5, **_cell(fig, 0))
    if view is not None:
        _add_data(fig, view)

    for r, style in enumerate(runs):
        common = dict(legendgroup=f"run{r}", name=style.label)
        line = dict(color=style.color, width=3, dash=style.dash)
        legend_done = False
        # -- landscape: full path faintly, then a tail and head that the frames move.
        if land is not None:
            path = land.paths[:, r]
            t = thin(len(path), MAX_PATH_POINTS)
            steps_t = training.path_steps[t]
            fig.add_trace(go.Scatter(x=f32(path[t, 0]), y=f32(path[t, 1]), mode="lines", line={**line, "width": 2},
                                     opacity=0.55, customdata=steps_t, showlegend=True, **common,
                                     hovertemplate="<b>%{fullData.name}</b><br>step %{customdata}<extra></extra>"),
                          **_cell(fig, 0))
            legend_done = True
            fig.add_trace(go.Scatter(x=[path[0, 0]], y=[path[0, 1]], mode="markers", showlegend=False,
                                     hoverinfo="skip", **common,
                                     marker=dict(color="white", size=10, line=dict(color=style.color, width=3))),
                          **_cell(fig, 0))
            ends = [last_finite(path, training.path_index(int(s))) for s in shown]
            tail0, head0 = _tail(path, ends[-1], training), path[[ends[-1]]]
            fig.add_trace(go.Scatter(x=tail0[:, 0], y=tail0[:, 1], mode="lines", line={**line, "width": 5},
                                     showlegend=False, hoverinfo="skip", **common), **_cell(fig, 0))
            fig.add_trace(go.Scatter(x=head0[:, 0], y=head0[:, 1], mode="markers", showlegend=False, hoverinfo="skip",
                                     marker=dict(color=style.color, size=15, line=dict(color="white", width=2)),
                                     **common), **_cell(fig, 0))
            moving += [len(fig.data) - 2, len(fig.data) - 1]
            for f, end in enumerate(ends):
                tail = _tail(path, end, training)
                frame_data[f] += [dict(type="scatter", x=f32(tail[:, 0]), y=f32(tail[:, 1])),
                                  dict(type="scatter", x=f32(path[[end], 0]), y=f32(path[[end], 1]))]
        # -- the data view: one moving trace per run.
        if view is not None:
            _add_run_data(fig, view, r, style, common, moving, frame_data)
        else:
            _add_lr(fig, training, r, style, common, shown, moving, frame_data)
        # -- loss and metric curves with a moving dot each.
        for cell, key in ((2, "loss"), (3, metric)):
            if key is None:
                continue
            have = [s for s in ("test", "train") if f"{s}_{key}" in training.metrics]
            for split in have:
                values = training.metrics[f"{split}_{key}"][:, r]
                fig.add_trace(go.Scatter(
                    x=epochs, y=values, mode="lines", showlegend=not legend_done and split == have[0], **common,
                    line={**line, "dash": "solid" if split == "test" else "dot", "width": 3 if split == "test" else 2},
                    customdata=eval_steps,
                    hovertemplate=f"%{{fullData.name}}<br>{split} {'loss' if key == 'loss' else key}: %{{y:.4g}}"
                                  "<br>epoch %{x:.3g} (step %{customdata})<extra></extra>"), **_cell(fig, cell))
                legend_done = True
            values = training.metrics[f"{have[0]}_{key}"][:, r]
            idx = [last_finite(values, int(np.searchsorted(eval_steps, s))) for s in shown]
            fig.add_trace(go.Scatter(x=[epochs[idx[-1]]], y=[values[idx[-1]]], mode="markers", showlegend=False,
                                     hoverinfo="skip", marker=dict(color=style.color, size=11), **common),
                          **_cell(fig, cell))
            moving.append(len(fig.data) - 1)
            for f, i in enumerate(idx):
                frame_data[f].append(dict(type="scatter", x=[float(epochs[i])], y=[float(values[i])]))

    _style(fig, training, land, view, metric, 860 if layout == "wide" else 1580)
    if animate and len(shown) > 1:
        _add_frames(fig, training, shown, moving, frame_data)
    return fig


# Where each view goes: (row, col) of the landscape, the data, the loss and the metric.
_CELLS = {"wide": ((1, 1), (1, 2), (2, 1), (2, 2)), "stacked": ((1, 1), (2, 1), (3, 1), (4, 1))}


def _cell(fig, view: int) -> dict:
    row, col = fig._cells[view]
    return dict(row=row, col=col)


def _tail(path: np.ndarray, end: int, training: Outcome) -> np.ndarray:
    """The kept points just before ``end``: about one epoch, at most a few hundred."""
    span = max(3, min(300, math.ceil(training.steps_per_epoch
                                     / max(1, training.path_steps[1] - training.path_steps[0]
                                           if len(training.path_steps) > 1 else 1))))
    return f32(path[max(0, end - span) : end + 1])


def _add_landscape(fig, land: Landscape) -> None:
    """The loss surface as a shaded image with contour lines (darker is lower, on a log scale).

    Not a Contour trace: plotly.js drops heatmap and contour traces from the
    picture as soon as an animation without full redraws starts (plotly.js
    #4491, plotly.py #2151). A layout image and line traces stay put.
    """
    grid = Grid(land.x, land.y, land.z, land.floor)
    level = grid.level(grid.z)
    finite = level[np.isfinite(level)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    hi = hi if hi > lo else lo + 1.0
    fig.add_layout_image(shaded_image(land.x, land.y, level, lo, hi), **_cell(fig, 0))
    lines = [level_lines(land.x, land.y, level, v) for v in np.linspace(lo, hi, 16)[1:-1]]
    lines = np.concatenate(lines) if lines else np.zeros((0, 2))
    fig.add_trace(go.Scatter(**gapped(lines), mode="lines", line=dict(width=0.7, color="rgba(0,0,0,0.25)"),
                             hoverinfo="skip", showlegend=False, name="contours"), **_cell(fig, 0))
    # Hover anywhere on the surface: an invisible grid of points that knows the loss there.
    ix, iy = thin(len(land.x), 41), thin(len(land.y), 41)
    xx, yy = np.meshgrid(land.x[ix], land.y[iy])
    fig.add_trace(go.Scatter(x=f32(xx.ravel()), y=f32(yy.ravel()), mode="markers", marker=dict(size=10, opacity=0),
                             customdata=f32(land.z[np.ix_(iy, ix)].ravel()), showlegend=False, name="loss",
                             hovertemplate="(%{x:.3g}, %{y:.3g})<br>loss %{customdata:.4g}<extra></extra>"),
                  **_cell(fig, 0))
    if land.marker is not None:
        x, y, what = land.marker
        fig.add_trace(go.Scatter(x=[x], y=[y], mode="markers", name=what, showlegend=True,
                                 marker=dict(symbol="star", size=17, color="gold", line=dict(color="black", width=1.5)),
                                 hovertemplate=f"{what}<br>(%{{x:.4g}}, %{{y:.4g}})<extra></extra>"), **_cell(fig, 0))


def _add_data(fig, view: DataView) -> None:
    """The static part of the data view: the points."""
    if view.kind == "boundary":
        for k, name in enumerate(view.classes):
            fill, edge = CLASS_COLORS[k % len(CLASS_COLORS)], CLASS_EDGES[k % len(CLASS_EDGES)]
            for X, y, test in ((view.X_train, view.y_train, False), (view.X_test, view.y_test, True)):
                pts = X[y == k]
                if not len(pts):
                    continue
                fig.add_trace(go.Scatter(
                    x=f32(pts[:, 0]), y=f32(pts[:, 1]), mode="markers", name=f"class {name}",
                    legendgroup=f"class{k}", showlegend=not test,
                    marker=dict(color="white" if test else fill, size=7, symbol=CLASS_SYMBOLS[k % len(CLASS_SYMBOLS)],
                                line=dict(color=edge, width=1.5 if test else 0.8)),
                    hovertemplate=f"class {name} ({'test' if test else 'train'})<extra></extra>"), **_cell(fig, 1))
    elif view.kind == "curve":
        for X, y, test in ((view.X_train, view.y_train, False), (view.X_test, view.y_test, True)):
            if len(y):
                fig.add_trace(go.Scatter(
                    x=f32(X[:, 0]), y=f32(y), mode="markers", showlegend=False,
                    name="test rows" if test else "training rows",
                    marker=dict(size=6, color="white" if test else "#9aa5b1", line=dict(color="#52606d", width=1)),
                    hovertemplate=("test" if test else "train") + " (%{x:.3g}, %{y:.3g})<extra></extra>"),
                    **_cell(fig, 1))
    elif view.kind == "parity":
        finite = view.y_test[np.isfinite(view.y_test)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", showlegend=False, hoverinfo="skip",
                                 line=dict(color="#9aa5b1", dash="dash", width=2), name="perfect"), **_cell(fig, 1))


def _add_run_data(fig, view: DataView, r: int, style: Style, common: dict, moving: list, frame_data: list) -> None:
    values = view.values[:, r]
    last = values[-1] if len(values) else None
    if view.kind == "boundary":
        line = gapped(view.lines[-1][r])
        fig.add_trace(go.Scatter(**line, mode="lines", showlegend=False, hoverinfo="skip",
                                 line=dict(color=style.color, width=3, dash=style.dash), **common), **_cell(fig, 1))
        moving.append(len(fig.data) - 1)
        for f, lines in enumerate(view.lines):
            frame_data[f].append(dict(type="scatter", **gapped(lines[r])))
    elif view.kind == "curve":
        fig.add_trace(go.Scatter(x=f32(view.grid_x), y=f32(last), mode="lines", showlegend=False,
                                 line=dict(color=style.color, width=3, dash=style.dash), **common,
                                 hovertemplate="%{fullData.name}<br>x=%{x:.3g}: %{y:.3g}<extra></extra>"),
                      **_cell(fig, 1))
        moving.append(len(fig.data) - 1)
        for f in range(len(values)):
            frame_data[f].append(dict(type="scatter", x=f32(view.grid_x), y=f32(values[f])))
    else:
        fig.add_trace(go.Scatter(x=f32(view.y_test), y=f32(last), mode="markers", showlegend=False,
                                 marker=dict(color=style.color, size=6, opacity=0.7), **common,
                                 hovertemplate="%{fullData.name}<br>true %{x:.3g}, predicted %{y:.3g}<extra></extra>"),
                      **_cell(fig, 1))
        moving.append(len(fig.data) - 1)
        for f in range(len(values)):
            frame_data[f].append(dict(type="scatter", x=f32(view.y_test), y=f32(values[f])))


def _add_lr(fig, training: Outcome, r: int, style: Style, common: dict, shown, moving, frame_data) -> None:
    lr = training.result.arrays.get("lr")
    if lr is None or not len(lr):
        return
    t = thin(len(lr), MAX_PATH_POINTS)
    x = training.epochs(t)
    fig.add_trace(go.Scatter(x=x, y=lr[t, r], mode="lines", line=dict(color=style.color, width=3, dash=style.dash),
                             showlegend=False, **common,
                             hovertemplate="%{fullData.name}<br>epoch %{x:.3g}<br>lr %{y:.4g}<extra></extra>"),
                  **_cell(fig, 1))
    idx = [min(int(s), len(lr) - 1) for s in shown]
    fig.add_trace(go.Scatter(x=[training.epochs(idx[-1])], y=[lr[idx[-1], r]], mode="markers", showlegend=False,
                             hoverinfo="skip", marker=dict(color=style.color, size=11), **common), **_cell(fig, 1))
    moving.append(len(fig.data) - 1)
    for f, i in enumerate(idx):
        frame_data[f].append(dict(type="scatter", x=[float(training.epochs(i))], y=[float(lr[i, r])]))


def _log_axis(values: np.ndarray, ratio: float = 20) -> bool:
    finite = values[np.isfinite(values)]
    return bool(finite.size and finite.min() > 0 and finite.max() / finite.min() > ratio)


def _style(fig, training: Outcome, land, view, metric, height) -> None:
    epochs_total = training.steps / training.steps_per_epoch
    if land is not None:
        # No grid lines across the shaded surface; the contours are the grid.
        fig.update_xaxes(title_text=land.axis_titles[0], range=[land.x[0], land.x[-1]], showgrid=False, zeroline=False,
                         **_cell(fig, 0))
        fig.update_yaxes(title_text=land.axis_titles[1], range=[land.y[0], land.y[-1]], showgrid=False, zeroline=False,
                         **_cell(fig, 0))
        if land.kind == "weights":  # one unit of each weight the same length: the true shape of the bowl
            fig.update_yaxes(scaleanchor="x", scaleratio=1, constrain="domain", **_cell(fig, 0))
            fig.update_xaxes(constrain="domain", **_cell(fig, 0))
    if view is not None and view.kind == "boundary":
        fig.update_xaxes(title_text=view.axis_titles[0], range=[view.grid_x[0], view.grid_x[-1]], **_cell(fig, 1))
        fig.update_yaxes(title_text=view.axis_titles[1], range=[view.grid_y[0], view.grid_y[-1]], **_cell(fig, 1))
    elif view is not None:
        fig.update_xaxes(title_text=view.axis_titles[0], **_cell(fig, 1))
        fig.update_yaxes(title_text=view.axis_titles[1], **_cell(fig, 1))
    else:
        lr = training.result.arrays.get("lr")
        fig.update_xaxes(title_text="epoch", range=[0, epochs_total], **_cell(fig, 1))
        log = lr is not None and _log_axis(lr, 100)
        fig.update_yaxes(type="log" if log else "linear", exponentformat="power", rangemode=None if log else "tozero",
                         dtick=1 if log else None, **_cell(fig, 1))
    losses = np.concatenate([v.ravel() for k, v in training.metrics.items() if k.endswith("_loss")] or [np.zeros(1)])
    fig.update_xaxes(title_text="epoch", range=[0, epochs_total], **_cell(fig, 2))
    fig.update_yaxes(type="log" if _log_axis(losses) else "linear", exponentformat="power", **_cell(fig, 2))
    fig.update_xaxes(title_text="epoch", range=[0, epochs_total], **_cell(fig, 3))
    if metric == "accuracy":
        fig.update_yaxes(range=[-0.02, 1.07], tickformat=".0%", **_cell(fig, 3))  # "100%" under the title
    elif metric == "r2":
        values = np.concatenate([v.ravel() for k, v in training.metrics.items() if k.endswith("_r2")])
        finite = values[np.isfinite(values)]
        low = max(-1.0, float(finite.min())) if finite.size else 0.0
        fig.update_yaxes(range=[low - 0.05, 1.02], **_cell(fig, 3))
    # The plane's range is the landscape's: a tick label sticking out of its top ran into the title above.
    fig.update_yaxes(ticklabeloverflow="hide past domain", **_cell(fig, 0))
    fig.update_layout(
        height=height, font=FONT, template="plotly_white", margin=dict(l=64, r=44, t=80, b=40),
        legend=dict(orientation="h", yanchor="bottom", y=1.04, x=0, font=dict(size=15)),
        modebar=dict(orientation="v"),  # in the right margin: it covers no legend entry
        hoverlabel=dict(font_size=14),
        uirevision="train",
    )
    for annotation in fig.layout.annotations:  # subplot titles: a little smaller than the axes' text
        annotation.font.size = 16


def _add_frames(fig, training: Outcome, shown, moving, frame_data) -> None:
    spe = training.steps_per_epoch
    names = [f"{int(s)}" for s in shown]
    # plotly.js hides the traces a frame does not mention once an animation starts
    # (plotly.js #4596): each frame re-states that the others stay visible.
    static = [i for i in range(len(fig.data)) if i not in set(moving)]
    keep = [dict(type=fig.data[i].type, visible=True) for i in static]
    fig._raw_frames = [dict(data=data + keep, traces=moving + static, name=name)
                       for data, name in zip(frame_data, names)]
    # Every moving trace is a scatter (boundaries too, as lines): no full redraw per frame.
    play = dict(frame=dict(duration=80, redraw=False), transition=dict(duration=0), fromcurrent=True,
                mode="immediate")
    pause = dict(frame=dict(duration=0, redraw=False), mode="immediate")
    jump = dict(mode="immediate", frame=dict(duration=0, redraw=False), transition=dict(duration=0))
    # The buttons on their own row under the last x axis title, the slider on the row under them.
    bottom = CONTROLS_BOTTOM
    plot = fig.layout.height - fig.layout.margin.t - bottom
    fig.update_layout(
        updatemenus=[dict(type="buttons", direction="left", x=0.0, y=-62 / plot, xanchor="left", yanchor="top",
                          pad=dict(r=10, t=0), showactive=False,
                          buttons=[dict(label="▶ Play", method="animate", args=[None, play]),
                                   dict(label="❚❚ Pause", method="animate", args=[[None], pause])])],
        sliders=[dict(active=len(shown) - 1, x=0.0, y=-104 / plot, len=1.0, xanchor="left", yanchor="top",
                      pad=dict(t=28), currentvalue=dict(prefix="", font=dict(size=16, color="#222")),
                      font=dict(color="rgba(0,0,0,0)"), ticklen=3,
                      steps=[dict(label=f"epoch {int(s) / spe:.3g} · step {int(s)}", method="animate",
                                  args=[[name], jump]) for s, name in zip(shown, names)])],
        margin=dict(b=bottom),
    )


def progress_figure(arrays: dict[str, np.ndarray], steps_per_epoch: int, runs: Sequence[Style], total_steps: int,
                    height: int = 360) -> go.Figure:
    """Each run's mini-batch loss so far, while the training streams in."""
    loss = arrays["loss"]
    fig = go.Figure()
    t = thin(loss.shape[0], 600)
    for r, style in enumerate(runs):
        fig.add_trace(go.Scatter(x=t / steps_per_epoch, y=f32(loss[t, r]), mode="lines", name=style.label,
                                 line=dict(color=style.color, width=2, dash=style.dash)))
    fig.update_layout(height=height, font=FONT, template="plotly_white", margin=dict(l=60, r=44, t=50, b=40),
                      modebar=dict(orientation="v"),
                      title=dict(text="Mini-batch loss so far", font=dict(size=16)),
                      xaxis=dict(title="epoch", range=[0, total_steps / steps_per_epoch]),
                      yaxis=dict(type="log" if _log_axis(loss) else "linear", exponentformat="power"),
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0.3))
    return fig


__all__ = ["CLASS_COLORS", "PALETTE", "metric_name", "progress_figure", "training_figure"]

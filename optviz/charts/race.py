"""Plotly figures from run results: pure functions, no Streamlit.

Data goes in and a ``plotly.graph_objects.Figure`` comes out, so the app, the
HTML export, the CLI and notebooks draw the same pictures. The race figure puts
the surface, the loss curves and the LR curves in one figure with Plotly
animation frames, so its Play button and step slider run in the browser and
move every view together, with no round trip to the server per frame.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from ..analysis import thin
from ..problems import SurfaceProblem
from . import state as inside
from .common import (
    CONTROLS_BOTTOM,
    FONT,
    SURFACE_COLORS,
    TEMPLATE,
    AnimatedFigure,
    Grid,
    Style,
    f32,
    frame_steps,
    gapped,
    last_finite,
)


def surface_grid(problem: SurfaceProblem, n: int = 120, domain=None) -> Grid:
    """The surface on an n x n grid over its domain (or ``domain``)."""
    (x0, x1), (y0, y1) = domain or problem.domain
    x = np.linspace(x0, x1, n)
    y = np.linspace(y0, y1, n)
    xx, yy = np.meshgrid(x, y)
    pts = torch.from_numpy(np.stack([xx, yy], axis=-1))
    with torch.no_grad():
        z = problem.loss(pts).numpy()
    z = np.where(np.isfinite(z), z, np.nan)
    minima = problem.minima()
    floor = min([float(np.nanmin(z))] + [m[2] for m in minima])
    grid = Grid(x, y, z, floor, log=problem.levels == "log")
    grid.background  # noqa: B018  (computed now, so a cached grid carries it)
    return grid



# -- figures --------------------------------------------------------------------


@dataclass(frozen=True)
class Panels:
    """Where the surface, loss and LR panels sit (paper coordinates), and the figure's height."""

    surface_x: tuple[float, float]
    surface_y: tuple[float, float]
    curves_x: tuple[float, float]
    loss_y: tuple[float, float]
    lr_y: tuple[float, float]
    height: int
    bottom: int  # px under the plots for the Play button row and the step slider


# "wide": the surface on the left, loss above lr on the right (a laptop, a projector).
# "stacked": the surface above the two curves (a phone, or a narrow main area).
LAYOUTS = {
    "wide": Panels((0.0, 0.5), (0.0, 1.0), (0.62, 1.0), (0.55, 1.0), (0.0, 0.38), 660, CONTROLS_BOTTOM),
    "stacked": Panels((0.0, 1.0), (0.52, 1.0), (0.0, 1.0), (0.22, 0.40), (0.0, 0.13), 1080, CONTROLS_BOTTOM),
}


# Margins that already hold the y ticks and title and the legend row: a margin Plotly must
# widen to fit them costs a second full draw.
LEFT, TOP = 74, 84
STEP_BOTTOM = 64  # px under the plots in step mode: the x axes' ticks and titles only


def race_figure(
    problem: SurfaceProblem,
    arrays: Mapping[str, np.ndarray],
    runs: Sequence[Style],
    *,
    grid: Grid | None = None,
    view: str = "contour",
    animate: bool = True,
    total_steps: int | None = None,
    max_frames: int = 80,
    layout: str = "wide",
    clickable: bool = False,
    click_cells: bool = False,
    arrows: bool = False,
    at: int | None = None,
    reveal: bool = True,
) -> AnimatedFigure:
    """Surface with paths, loss vs step and LR vs step, in one figure.

    ``arrays`` holds ``params`` (points, runs, 2), ``loss`` (points, runs) and
    ``lr`` (steps, runs): all of them, or a prefix while runs stream in.
    ``view`` is ``contour`` or ``3d``; ``layout`` is ``wide`` (side by side) or
    ``stacked`` (the surface above the curves, for a narrow screen). With ``animate`` the figure carries
    frames, a Play button and a step slider that move every panel together:
    each run's head and a short exact tail travel along its full (fainter) path.
    With ``clickable``, an invisible grid covers the contour so that a click there is a
    selection event (``fig._click_trace`` is its index): a grid of points, or with
    ``click_cells`` (for a chart that reports clicks on heatmap cells) one transparent heatmap,
    which costs a redraw far less than hundreds of marker elements.

    Step mode (``at``: a class going one update at a time) has no animation: each path
    is drawn up to point ``at``, where its head and arrows are, and with ``reveal`` the
    update from there too (its arrow, the momentum it leaves, the new point ``at + 1``,
    ringed). Without ``reveal`` only −∇f is drawn at ``at``: the class predicts the rest.

    The figure is written as plain Plotly JSON (axes ``x``/``y`` for the
    contour, ``x2``/``y2`` for the loss, ``x3``/``y3`` for the LR): building it
    through validated graph objects cost more than computing the runs.
    """
    grid = grid or surface_grid(problem)
    params, loss = arrays["params"], arrays["loss"]
    lr = arrays.get("lr")
    points = params.shape[0]
    total = total_steps if total_steps is not None else points - 1
    # The last point drawn, and the heads' point: the whole path, or step mode's.
    stepping = at is not None
    upto, at = points - 1, min(max(int(at), 0), points - 1) if stepping else points - 1
    if stepping:
        animate, upto = False, min(at + 1 if reveal else at, points - 1)
    fmin = problem.known_minimum()
    log_loss = fmin is not None
    gap = _positive(loss - fmin) if log_loss else loss
    height_of = (lambda values: _lift(values, grid)) if view == "3d" else None
    xy_axes = {} if view == "3d" else dict(xaxis="x", yaxis="y")
    kind = "scatter3d" if view == "3d" else "scatter"

    data = _surface_traces(problem, grid, view)
    click_trace = None
    if clickable and view != "3d":
        click_trace = len(data)
        data.append(_click_grid(problem, cells=click_cells))

    moving: list[int] = []  # trace indices the frames update, per run: tail, head, loss dot, lr dot
    runs = [_mark_divergence(style, params[:, r]) for r, style in enumerate(runs)]
    for r, style in enumerate(runs):
        path = params[:, r]
        end = last_finite(path, at)
        t = thin(upto + 1)
        common = dict(legendgroup=f"run{r}", name=style.label)
        line = dict(color=style.color, width=3, dash=style.dash)
        hover = "<b>%{fullData.name}</b><br>step %{customdata}<br>x=%{x:.4g}, y=%{y:.4g}<extra></extra>"
        whole = _xy(path, t, height_of, loss[:, r])
        head = _xy(path, [end], height_of, loss[:, r])
        tail = _xy(path, _tail(end, points, max_frames), height_of, loss[:, r])
        if view == "3d":
            data.append(dict(type=kind, **whole, mode="lines", line=dict(color=style.color, width=5), opacity=0.6,
                             customdata=t, hovertemplate=hover, **common))
        else:
            custom = t
            if arrows and "grad" in arrays:  # the recorded state at every point, on hover
                custom, hover = inside.path_hover(arrays, r, t)
            data.append(dict(type=kind, **whole, mode="lines", line=line, opacity=0.8, customdata=custom,
                             hovertemplate=hover, **common, **xy_axes))
            data.append(dict(type=kind, x=[path[0, 0]], y=[path[0, 1]], mode="markers", showlegend=False,
                             hoverinfo="skip",
                             marker=dict(color="white", size=11, line=dict(color=style.color, width=3)),
                             **common, **xy_axes))
        data.append(dict(type=kind, **tail, mode="lines", showlegend=False, hoverinfo="skip", **common, **xy_axes,
                         line=dict(color=style.color, width=9) if view == "3d" else {**line, "width": 5}))
        data.append(dict(type=kind, **head, mode="markers", showlegend=False, hoverinfo="skip", **common, **xy_axes,
                         marker=dict(color=style.color, size=7 if view == "3d" else 15,
                                     line=dict(color="white", width=2))))
        moving += [len(data) - 2, len(data) - 1]
        if upto > at and view != "3d" and np.isfinite(path[upto]).all():  # step mode: the new point, ringed
            data.append(dict(type=kind, x=[path[upto, 0]], y=[path[upto, 1]], mode="markers", showlegend=False,
                             hovertemplate=f"point {upto}<br>x=%{{x:.4g}}, y=%{{y:.4g}}<extra></extra>",
                             marker=dict(color="white", size=15, line=dict(color=style.color, width=4)),
                             **common, **xy_axes))

        data.append(dict(type="scatter", x=t, y=gap[t, r], mode="lines", line=line, showlegend=False, **common,
                         xaxis="x2", yaxis="y2",
                         hovertemplate="%{fullData.name}<br>step %{x}<br>%{y:.4g}<extra></extra>"))
        data.append(dict(type="scatter", x=[end], y=[gap[end, r]], mode="markers", showlegend=False,
                         hoverinfo="skip", marker=dict(color=style.color, size=11), xaxis="x2", yaxis="y2", **common))
        moving.append(len(data) - 1)
        if lr is not None and lr.shape[0]:
            lt = thin(lr.shape[0])
            k = min(end, lr.shape[0] - 1)
            data.append(dict(type="scatter", x=lt, y=lr[lt, r], mode="lines", line=line, showlegend=False,
                             xaxis="x3", yaxis="y3", **common,
                             hovertemplate="%{fullData.name}<br>step %{x}<br>lr %{y:.4g}<extra></extra>"))
            data.append(dict(type="scatter", x=[k], y=[lr[k, r]], mode="markers", showlegend=False,
                             hoverinfo="skip", marker=dict(color=style.color, size=11), xaxis="x3", yaxis="y3",
                             **common))
            moving.append(len(data) - 1)

    drawn_arrows = None
    if arrows and view != "3d" and "grad" in arrays:
        drawn_arrows = _arrow_traces(problem, arrays, runs, data, moving, at, hidden=stepping and not reveal)
    panels = LAYOUTS[layout]
    if stepping:  # no Play row or slider: the step controls under the figure come into view
        panels = replace(panels, height=panels.height - panels.bottom + STEP_BOTTOM, bottom=STEP_BOTTOM)
    spec_layout = _race_layout(problem, grid, view, total, log_loss, lr, _loss_range(gap, log_loss, grid), panels)
    fig = AnimatedFigure(spec=dict(data=data, layout=spec_layout))
    fig._click_trace = click_trace
    if animate and points > 1:
        _add_frames(fig, params, gap, lr, loss, height_of, max_frames, moving, view, panels, drawn_arrows)
    return fig


def _arrow_traces(problem, arrays, runs, data, moving, at, hidden=False):
    """Arrow traces at each run's point ``at`` (a segment with an arrowhead at its tip), and
    a legend entry per kind stating its scale. Returns what the frames need to move them.

    Scales come from the whole path, so an arrow's length means the same at every step.
    ``hidden``: only −∇f (the momentum after the update would give the update away)."""
    vectors = inside.arrow_vectors(arrays)
    (x0, x1), (y0, y1) = problem.domain
    reach = inside.REACH * min(x1 - x0, y1 - y0)
    params = arrays["params"]
    kinds = [(kind, vectors[kind.key], inside.arrow_scale(vectors[kind.key], reach))
             for kind in inside.ARROW_KINDS if kind.key in vectors and not (hidden and kind.key != "gradient")]
    for kind, _, scale in kinds:
        # A legend-only entry: clicking it hides that kind of arrow for every run.
        data.append(dict(type="scatter", x=[None], y=[None], mode="lines", xaxis="x", yaxis="y",
                         name=f"{kind.label} {inside.scale_text(scale)}", legendgroup=f"arrow-{kind.key}",
                         line=dict(color="#444", dash=kind.dash, width=kind.width), hoverinfo="skip"))
    for r, style in enumerate(runs):
        end = last_finite(params[:, r], at)
        for kind, vec, scale in kinds:
            data.append(dict(type="scatter", **inside.arrow_xy(params[end, r], vec[end, r], scale),
                             mode="lines+markers", showlegend=False, hoverinfo="skip", xaxis="x", yaxis="y",
                             legendgroup=f"arrow-{kind.key}",
                             line=dict(color=style.color, dash=kind.dash, width=kind.width),
                             marker=dict(symbol="arrow", angleref="previous", size=[0, 13], color=style.color)))
            moving.append(len(data) - 1)
    return params, kinds


def _click_grid(problem, n: int = 25, cells: bool = False) -> dict:
    """Invisible points over the contour, or (``cells``) a transparent heatmap of the same grid:
    hovering shows the loss, a click selects a start."""
    (x0, x1), (y0, y1) = problem.domain
    xs, ys = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
    xx, yy = np.meshgrid(xs, ys)
    with torch.no_grad():
        f = problem.loss(torch.from_numpy(np.stack([xx.ravel(), yy.ravel()], -1))).numpy().astype(np.float32)
    common = dict(showlegend=False, name="start here", xaxis="x", yaxis="y",
                  hovertemplate="(%{x:.3g}, %{y:.3g}): f = %{customdata:.4g}<br>click to start here<extra></extra>")
    if cells:
        return dict(type="heatmap", x=xs.astype(np.float32), y=ys.astype(np.float32), z=np.zeros((n, n), np.float32),
                    customdata=f.reshape(n, n), opacity=0, showscale=False, **common)
    return dict(type="scatter", x=xx.ravel().astype(np.float32), y=yy.ravel().astype(np.float32), mode="markers",
                marker=dict(size=20, opacity=0), customdata=f, **common)


def _mark_divergence(style: Style, path: np.ndarray) -> Style:
    """A diverged run says so in the legend: its path leaves the picture."""
    bad = np.flatnonzero(~np.isfinite(path).all(axis=-1))
    if not bad.size:
        return style
    return Style(f"{style.label} ✕ diverged at step {bad[0]}", style.color, style.dash)


def _loss_range(gap: np.ndarray, log: bool, grid: Grid):
    """Y range of the loss panel. On a log axis, everything: a diverging run's rise up to
    where it was frozen is the point of the picture, and decades cost no room. On a linear
    axis (a surface with no minimum), from the starting loss down: a run racing to minus
    infinity must not squash every other curve into a flat line."""
    finite = gap[np.isfinite(gap)]
    if log:
        finite = finite[finite > 0]
    if not finite.size:
        return None
    if log:
        top = float(finite.max())
    else:
        top = float(np.nanmax(gap[0][np.isfinite(gap[0])])) if np.isfinite(gap[0]).any() else float(finite.max())
    low = float(finite.min())
    if not log:
        low = max(low, grid.floor)  # unbounded surfaces: stop at the lowest value in the picture
    if log:
        return [math.log10(low) - 0.3, math.log10(max(top, low * 10)) + 0.5]
    pad = 0.05 * (top - low or 1.0)
    return [low - pad, top + pad]


def _xy(path: np.ndarray, idx, height_of, loss: np.ndarray) -> dict:
    idx = np.asarray(idx)
    out = dict(x=path[idx, 0], y=path[idx, 1])
    if height_of is not None:
        out["z"] = height_of(loss)[idx]
    return out


def _back(points: int, max_frames: int) -> int:
    """How far a tail reaches back, unthinned: long enough to join one frame to the next."""
    spacing = max(1, (points - 1) // max(1, max_frames - 1))
    return max(30, 3 * spacing)


def _tail(end: int, points: int, max_frames: int) -> np.ndarray:
    """The points of the tail that ends at ``end``."""
    return np.arange(max(0, end - _back(points, max_frames)), end + 1)


def _lift(loss: np.ndarray, grid: Grid) -> np.ndarray:
    """Height of a path drawn on the 3-D surface: the surface's own log-gap, raised a hair."""
    z = grid.height(grid.z)
    return grid.height(loss) + 0.02 * (np.nanmax(z) - np.nanmin(z))


def _positive(values: np.ndarray) -> np.ndarray:
    """Gaps for a log axis: exact zeros (a run sitting on the minimum) drawn at a tiny floor."""
    return np.where(values > 0, values, np.where(np.isfinite(values), 1e-16, np.nan))


def _surface_traces(problem, grid, view) -> list[dict]:
    z = grid.level(grid.z).astype(np.float32)
    minima = problem.minima()
    hover = "x=%{x:.3g}<br>y=%{y:.3g}<extra></extra>"
    if view == "3d":
        z = grid.height(grid.z).astype(np.float32)
        traces = [dict(type="surface", x=grid.x, y=grid.y, z=z, colorscale=SURFACE_COLORS, opacity=0.9,
                       showscale=False, hovertemplate=hover, name="surface")]
        if minima:
            traces.append(dict(type="scatter3d", x=[m[0] for m in minima], y=[m[1] for m in minima],
                               z=grid.height(np.array([m[2] for m in minima])), mode="markers", name="global minimum",
                               marker=dict(symbol="diamond", size=6, color="black"),
                               hovertemplate="minimum<br>(%{x:.4g}, %{y:.4g})<extra></extra>"))
        return traces
    lines = grid.background[3]
    traces = [
        # The surface itself is a layout image (see shaded_image); these are its level lines.
        dict(type="scatter", **gapped(lines), mode="lines", line=dict(width=0.7, color="rgba(0,0,0,0.25)"),
             hoverinfo="skip", showlegend=False, name="contours", xaxis="x", yaxis="y"),
    ]
    if minima:
        traces.append(dict(type="scatter", x=[m[0] for m in minima], y=[m[1] for m in minima], mode="markers",
                           name="global minimum", xaxis="x", yaxis="y",
                           marker=dict(symbol="star", size=18, color="gold", line=dict(color="black", width=1.5)),
                           hovertemplate="global minimum<br>(%{x:.4g}, %{y:.4g})<extra></extra>"))
    return traces


def _race_layout(problem, grid, view, total, log_loss, lr, loss_range, panels: Panels) -> dict:
    (x0, x1), (y0, y1) = problem.domain
    steps = [0, max(total, 1)]
    lr_type = "linear"
    if lr is not None and lr.size:
        finite = lr[np.isfinite(lr)]
        if finite.size and finite.min() > 0 and finite.max() / finite.min() > 100:
            lr_type = "log"
    if view == "3d":
        surface_title = "3-D surface: height is " + grid.level_title
    else:
        # No colour bar (it crowded the loss panel's ticks): the title says how to read the shading.
        surface_title = "Contour: darker is lower" + (" (log scale)" if grid.log else "")
    titles = [
        (surface_title, panels.surface_x, panels.surface_y),
        ("Loss  f − f*" if log_loss else "Loss", panels.curves_x, panels.loss_y),
        ("Learning rate", panels.curves_x, panels.lr_y),
    ]
    layout = dict(
        height=panels.height,
        font=FONT,
        template=TEMPLATE,
        margin=dict(l=LEFT, r=44, t=TOP, b=panels.bottom),
        legend=dict(orientation="h", yanchor="bottom", y=1 + 34 / (panels.height - TOP - panels.bottom), x=0,
                    font=dict(size=16)),  # above the panel titles
        # A vertical tool bar in the right margin: it covers no legend entry.
        modebar=dict(orientation="v"),
        hoverlabel=dict(font_size=15),
        uirevision=problem.name,  # keep zoom and camera across reruns of one surface
        annotations=[
            dict(text=text, x=(xd[0] + xd[1]) / 2, y=yd[1], xref="paper", yref="paper", xanchor="center",
                 yanchor="bottom", showarrow=False, font=dict(size=16), yshift=4)
            for text, xd, yd in titles
        ],
        xaxis2=dict(domain=panels.curves_x, anchor="y2", range=steps, matches="x3", showticklabels=True,
                    uirevision="steps"),
        yaxis2=dict(domain=panels.loss_y, anchor="x2", type="log" if log_loss else "linear", exponentformat="power",
                    nticks=5, range=loss_range),
        xaxis3=dict(domain=panels.curves_x, anchor="y3", range=steps, title=dict(text="step", standoff=4)),
        yaxis3=dict(domain=panels.lr_y, anchor="x3", type=lr_type, exponentformat="power", nticks=4,
                    rangemode="tozero" if lr_type == "linear" else "normal"),
    )
    if view == "3d":
        z = grid.height(grid.z)
        ticks = dict(tickfont=dict(size=14), title=dict(font=dict(size=16)), nticks=5)
        layout["scene"] = dict(
            domain=dict(x=panels.surface_x, y=panels.surface_y),
            camera=dict(eye=dict(x=1.25, y=-1.35, z=0.9)),  # closer than plotly's default: fills the panel
            xaxis=dict(**ticks, range=[x0, x1]) | {"title": dict(text="x", font=dict(size=16))},
            yaxis=dict(**ticks, range=[y0, y1]) | {"title": dict(text="y", font=dict(size=16))},
            # A diverged path leaves the box rather than stretching it.
            zaxis=dict(tickfont=dict(size=14), nticks=5, title=dict(text=grid.level_title, font=dict(size=16)),
                       range=[float(np.nanmin(z)), float(np.nanmax(z)) * 1.05 + 0.05]),
            aspectmode="manual", aspectratio=dict(x=1.15, y=1.15, z=0.6),
        )
    else:
        plain = dict(showgrid=False, zeroline=False)  # the shaded surface carries its own lines
        layout["xaxis"] = dict(domain=panels.surface_x, anchor="y", range=[x0, x1], title=dict(text="x"), **plain)
        layout["yaxis"] = dict(domain=panels.surface_y, anchor="x", range=[y0, y1], title=dict(text="y"), **plain)
        layout["images"] = [grid.background[2]]
    return layout


@dataclass(frozen=True)
class PathFrames:
    """A race's animation frames, as the arrays they are cut from: each run's whole path, the
    point each frame ends at, and what the loss and lr panels' dots and the arrows show there.
    :meth:`frames` gives Plotly's frames; the in-place chart sends :meth:`to_spec` instead (the
    path once, not a tail a frame) and cuts the same frames in the browser (``optviz.ui.plot``'s
    ``pathFrames``).

    Frame ``f`` moves, for each run ``r`` (trace indices ``moving``, in this order): the tail
    (points ``ends[f, r] - back`` to ``ends[f, r]``), the head, the loss dot (``ends[f, r]``,
    ``gap[f, r]``) and the lr dot (``min(ends[f, r], lr_steps - 1)``, ``lr[f, r]``; when ``lr``
    is given); then, after every run's, each run's arrows (``arrows[f, r, k]`` = x0, y0, x1, y1,
    NaN for none). Coordinates are float32: a screen needs no more."""

    names: list[str]
    ends: np.ndarray  # (frames, runs) int32: each run's last finite point at that frame
    back: int
    kind: str  # the tail's and head's trace type: scatter or scatter3d
    x: np.ndarray  # (points, runs) float32
    y: np.ndarray
    z: np.ndarray | None  # (points, runs) heights on the 3-D surface
    gap: np.ndarray  # (frames, runs) the loss panel's y at each frame's end
    lr: np.ndarray | None  # (frames, runs) the lr panel's y there
    lr_steps: int
    moving: list[int]
    arrows: np.ndarray | None = None  # (frames, runs, kinds, 4)

    def frames(self) -> list[dict]:
        runs = self.x.shape[1]
        cols = [(a, c) for a, c in zip("xyz", (self.x, self.y, self.z), strict=True) if c is not None]
        frames = []
        for f, name in enumerate(self.names):
            data = []
            for r in range(runs):
                end = int(self.ends[f, r])
                tail = slice(max(0, end - self.back), end + 1)
                data.append(dict(type=self.kind, **{a: c[tail, r] for a, c in cols}))
                data.append(dict(type=self.kind, **{a: c[[end], r] for a, c in cols}))
                data.append(dict(type="scatter", x=[end], y=[self.gap[f, r]]))
                if self.lr is not None:
                    data.append(dict(type="scatter", x=[min(end, self.lr_steps - 1)], y=[self.lr[f, r]]))
            if self.arrows is not None:
                for seg in self.arrows[f].reshape(-1, 4):
                    drawn = bool(np.isfinite(seg).all())
                    data.append(dict(type="scatter", x=[float(seg[0]), float(seg[2])] if drawn else [None, None],
                                     y=[float(seg[1]), float(seg[3])] if drawn else [None, None]))
            frames.append(dict(data=data, traces=self.moving, name=name))
        return frames

    def to_spec(self) -> dict:
        """What ``pathFrames`` in the browser cuts the frames from (numpy arrays left as they are)."""
        out = dict(names=self.names, runs=int(self.x.shape[1]), back=self.back, kind=self.kind, moving=self.moving,
                   lr_steps=self.lr_steps)
        for key in ("ends", "x", "y", "z", "gap", "lr", "arrows"):
            value = getattr(self, key)
            out[key] = None if value is None else np.ascontiguousarray(value).ravel()
        return out


def _add_frames(fig, params, gap, lr, loss, height_of, max_frames, moving, view, panels: Panels, arrows=None):
    points, runs = params.shape[:2]
    shown = frame_steps(points, max_frames)
    ends = np.stack([last_finite(params[:, r], shown) for r in range(runs)], axis=1).astype(np.int32)
    z = None if height_of is None else np.stack([height_of(loss[:, r]) for r in range(runs)], axis=1)
    runs_at = np.arange(runs)
    lr_steps = 0 if lr is None else lr.shape[0]
    segments = None
    if arrows is not None and arrows[1]:  # their traces come after every run's (see _arrow_traces)
        segments = np.full((len(shown), runs, len(arrows[1]), 4), np.nan)
        for f in range(len(shown)):
            for r in range(runs):
                end = ends[f, r]
                for k, (_, vec, scale) in enumerate(arrows[1]):
                    seg = inside.arrow_xy(params[end, r], vec[end, r], scale)
                    if seg["x"][0] is not None:
                        segments[f, r, k] = seg["x"][0], seg["y"][0], seg["x"][1], seg["y"][1]
    fig._frames = PathFrames(names=[str(int(k)) for k in shown], ends=ends, back=_back(points, max_frames),
                             kind="scatter3d" if view == "3d" else "scatter", x=f32(params[..., 0]),
                             y=f32(params[..., 1]), z=None if z is None else f32(z), gap=gap[ends, runs_at],
                             lr=lr[np.minimum(ends, lr_steps - 1), runs_at] if lr_steps else None,
                             lr_steps=lr_steps, moving=moving, arrows=segments)
    redraw = view == "3d"  # WebGL scenes only repaint on a full redraw
    play = dict(frame=dict(duration=50, redraw=redraw), transition=dict(duration=0), fromcurrent=True, mode="immediate")
    pause = dict(frame=dict(duration=0, redraw=False), mode="immediate")
    jump = dict(mode="immediate", frame=dict(duration=0, redraw=redraw), transition=dict(duration=0))
    # The buttons sit on their own row under the x axis titles, the slider on the row under
    # them: neither covers the other's label, at any width.
    plot = panels.height - TOP - panels.bottom  # the plot area's height: paper coordinates' unit
    buttons, slider = -62 / plot, -104 / plot
    fig._raw_layout = dict(
        updatemenus=[
            dict(type="buttons", direction="left", x=0.0, y=buttons, xanchor="left", yanchor="top",
                 pad=dict(r=10, t=0), showactive=False,
                 buttons=[dict(label="▶ Play", method="animate", args=[None, play]),
                          dict(label="❚❚ Pause", method="animate", args=[[None], pause])])
        ],
        sliders=[
            dict(active=len(shown) - 1, x=0.0, y=slider, len=1.0, xanchor="left", yanchor="top",
                 pad=dict(t=28, l=0, r=0), currentvalue=dict(prefix="step ", font=dict(size=16, color="#222")),
                 # 100+ tick labels would overprint; the current value says the step.
                 font=dict(color="rgba(0,0,0,0)"), ticklen=3,
                 steps=[dict(label=str(int(k)), method="animate", args=[[str(int(k))], jump]) for k in shown])
        ],
    )



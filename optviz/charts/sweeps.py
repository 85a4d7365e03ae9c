"""Plotly figures for sweeps and maps: pure functions, no Streamlit.

* :func:`lr_sweep_figure`: final and best loss against the lr, log-log, one
  curve per optimizer config; diverged runs and each config's best lr marked.
* :func:`basin_figure`: maps of start points side by side, coloured by final
  loss, by the minimum reached or by divergence, over the surface's contours.
* :func:`heatmap_figure`: final loss over two hyperparameters, with the best
  cell and (on the quadratic) Polyak's optimal heavy ball marked.

Every point a user may click carries ``customdata`` naming its run, so the app
can open that run's path.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import get_colorscale
from plotly.subplots import make_subplots

from ..sweeps import BasinMap, Heatmap, LRSweep
from .common import FONT, PALETTE, TEMPLATE, Grid, decade_dtick, escaped

NONE_COLOR = "#BBBBBB"  # a start that reached no known minimum
DIVERGED_COLOR = "#000000"
# Colour-blind-safe sequential scale (plotly's cividis): dark = low loss. Written out, as plotly.py
# writes a named scale, for the figures built as plain JSON.
LOSS_SCALE = get_colorscale("Cividis")
# When a run diverged: dark red early, pale late (ColorBrewer OrRd, reversed).
DIVERGED_SCALE = [[0.0, "#7f0000"], [0.35, "#d7301f"], [0.7, "#fc8d59"], [1.0, "#fdd49e"]]
COLOR_BY = {"minimum": "Minimum reached", "loss": "Final loss", "diverged": "Diverged"}


def loss_gap(problem, loss: np.ndarray) -> tuple[np.ndarray, bool]:
    """``f - f*`` for a log axis where the problem has a known minimum (zeros drawn
    just below the smallest gap); else the loss itself, on a log axis where it is
    positive (a model's loss) and a linear one where it is not (a saddle)."""
    known = getattr(problem, "known_minimum", None)
    fmin = known() if known is not None else None
    loss = np.asarray(loss, dtype=np.float64)
    if fmin is None:
        finite = loss[np.isfinite(loss)]
        return loss, bool(finite.size) and bool((finite > 0).all())
    gap = loss - fmin
    positive = gap[np.isfinite(gap) & (gap > 0)]
    floor = positive.min() / 10 if positive.size else 1e-300
    return np.where(np.isfinite(gap), np.maximum(gap, floor), np.nan), True


def loss_name(problem, log: bool, logged: bool = False) -> str:
    """What a loss axis shows: ``f − f*`` where the problem knows its minimum, else
    ``f``; ``logged`` for a colour scale of log10 values (on a log scale)."""
    known = getattr(problem, "known_minimum", None)
    what = "f − f*" if known is not None and known() is not None else "f"
    return f"log₁₀({what})" if logged and log else what


def _axis_span(values: np.ndarray, log: bool) -> tuple[float, float] | None:
    """Lowest and highest finite value, in axis units (log10 on a log axis)."""
    finite = values[np.isfinite(values)]
    if log:
        finite = np.log10(finite[finite > 0])
    return (float(finite.min()), float(finite.max())) if finite.size else None


def _log_range(values: np.ndarray, pad: float = 0.3) -> list[float] | None:
    finite = values[np.isfinite(values) & (values > 0)]
    if not finite.size:
        return None
    return [math.log10(finite.min()) - pad, math.log10(finite.max()) + pad]


def lr_sweep_figure(sweep: LRSweep, colors: Sequence[str] | None = None, height: int = 600,
                    stacked: bool = False) -> go.Figure:
    """Final loss (left) and best loss along the way (right) against the lr; ``stacked``, one
    above the other (a phone, where side by side each panel was a finger wide).

    A diverged run has no final loss: it is a cross on a band above the curves
    (left) and a cross at the best loss it reached before diverging (right).
    Each config's best lr (lowest final loss among runs that did not diverge)
    is a star, and named in the legend. Points carry ``customdata`` = (k, i).
    """
    final, log = loss_gap(sweep.problem, sweep.final_loss)
    best, _ = loss_gap(sweep.problem, sweep.best_loss)
    what = loss_name(sweep.problem, log)
    titles = (f"Final loss {what}<br>after {sweep.steps} steps", f"Best loss {what}<br>along the way")
    if stacked:
        fig = make_subplots(rows=2, cols=1, vertical_spacing=0.2, subplot_titles=titles)
        height = 2 * height - 120
    else:
        fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.09, subplot_titles=titles)

    def at(panel: int) -> dict:  # the final-loss panel (1) or the best-loss one (2)
        return dict(row=panel, col=1) if stacked else dict(row=1, col=panel)

    # The "diverged" band: one row of crosses per config above every curve, in axis
    # units (log10 on a log axis). A diverged run has no final loss to plot.
    lo, hi = _axis_span(final, log) or _axis_span(best, log) or (0.0, 1.0)
    span = hi - lo if hi > lo else 1.0
    first, gap = (hi + 0.35, 0.22) if log else (hi + 0.12 * span, 0.07 * span)
    band_rows = [first + gap * k for k in range(len(sweep.configs))]
    left_range = [lo - (0.3 if log else 0.05 * span), band_rows[-1] + (0.15 if log else 0.05 * span)]
    lrs = sweep.lrs
    for k in range(len(sweep.configs)):
        color = (colors[k] if colors and k < len(colors) else None) or PALETTE[k % len(PALETTE)]
        label = escaped(sweep.label(k))
        b = sweep.best_index(k)
        name = f"{label} — best lr {lrs[b]:.3g}" if b is not None else f"{label} — every lr diverged"
        diverged = sweep.diverged_at[k] >= 0
        custom = np.stack([np.full(lrs.size, k), np.arange(lrs.size), sweep.diverged_at[k]], axis=1)
        hover = (f"<b>{label}</b><br>lr %{{x:.3g}}<br>{what} %{{y:.3g}}<br>"
                 "<i>click: watch this run</i><extra></extra>")
        common = dict(legendgroup=f"c{k}", customdata=custom)
        for col, values in ((1, final[k]), (2, best[k])):
            fig.add_trace(go.Scatter(x=lrs, y=np.where(diverged, np.nan, values), mode="lines+markers",
                                     name=name, showlegend=col == 1, line=dict(color=color, width=3),
                                     marker=dict(size=5, color=color), hovertemplate=hover, **common),
                          **at(col))
        if diverged.any():
            # Left: a row of crosses per config above the curves (a diverged run has no final loss).
            # Right: each cross at the best loss the run reached before it diverged.
            band = np.full(diverged.sum(), 10 ** band_rows[k] if log else band_rows[k])
            for col, y in ((1, band), (2, best[k][diverged])):
                fig.add_trace(go.Scatter(
                    x=lrs[diverged], y=y, mode="markers", showlegend=False, name=f"{label} diverged",
                    marker=dict(symbol="x-thin", size=8, color=color, line=dict(color=color, width=2)),
                    hovertemplate=f"<b>{label}</b><br>lr %{{x:.3g}}<br>diverged at step %{{customdata[2]}}"
                                  "<br><i>click: watch this run</i><extra></extra>",
                    legendgroup=f"c{k}", customdata=custom[diverged]), **at(col))
        if b is not None:
            fig.add_trace(go.Scatter(
                x=[lrs[b]], y=[final[k, b]], mode="markers", showlegend=False, name=f"{label} best lr",
                marker=dict(symbol="star", size=20, color=color, line=dict(color="black", width=1.5)),
                hovertemplate=f"<b>{label}: best lr</b><br>lr %{{x:.3g}}<br>{what} %{{y:.3g}}"
                              "<br><i>click: watch this run</i><extra></extra>",
                legendgroup=f"c{k}", customdata=custom[[b]]), **at(1))
    if (sweep.diverged_at >= 0).any():
        fig.add_annotation(x=0, xref="x domain", y=band_rows[0], yref="y", text="✕ diverged",
                           showarrow=False, xanchor="left", yanchor="bottom", xshift=4,
                           font=dict(size=14, color="#444"))
    else:
        left_range[1] = hi + (0.3 if log else 0.05 * span)
    fig.update_xaxes(title_text="learning rate", type="log", exponentformat="power",
                     dtick=decade_dtick(np.log10(lrs[[0, -1]])))
    fig.update_yaxes(type="log" if log else "linear", exponentformat="power")
    right = _log_range(best) if log else None
    for col, rng in ((1, left_range), (2, right)):
        if rng:
            fig.update_yaxes(range=rng, dtick=decade_dtick(rng) if log else None, **at(col))
    fig.update_layout(
        height=height, font=FONT, template="plotly_white", hoverlabel=dict(font_size=15),
        # Under the lr axis' title, one line per optimizer: above the panels, a row of long
        # "best lr" entries ran under the tool bar on a phone.
        legend=dict(orientation="v", yanchor="bottom", yref="container", y=0, x=0, font=dict(size=15)),
        margin=dict(l=60, r=44, t=70, b=70 + 24 * len(sweep.configs)), modebar=dict(orientation="v"),
    )
    return fig


def _outcome_colors(n_minima: int) -> list[str]:
    return [PALETTE[m % len(PALETTE)] for m in range(n_minima)] + [NONE_COLOR, DIVERGED_COLOR]


def _discrete_scale(colors: list[str]) -> list[list]:
    """A colorscale that maps integer codes 0..n-1 to flat colours."""
    n = len(colors)
    scale = []
    for i, c in enumerate(colors):
        scale += [[i / n, c], [(i + 1) / n, c]]
    return scale


def basin_figure(bm: BasinMap, grid: Grid, color_by: str = "minimum", height: int = 620,
                 clickable: bool = False, click_grid: bool = True, stacked: bool = False) -> go.Figure:
    """One map per config, side by side on the same grid of starts (one above the other where
    ``stacked``: a phone, where two maps side by side were a finger wide each).

    ``color_by``: ``minimum`` (which known minimum the run ended within
    ``bm.tol`` of; grey for none; black for diverged), ``loss`` (final
    ``log10(f - f*)``; black for diverged) or ``diverged`` (the step it
    diverged at; grey for runs that did not). The surface's contours and
    minima lie on top. With ``clickable``, a click on a start is a selection event
    whose ``customdata`` begins (j, i): see :func:`_cell_clicks`.

    Written as plain Plotly JSON: built through graph objects, which validate every array,
    the figure cost most of a recolour's time on the server.
    """
    if color_by not in COLOR_BY:
        raise ValueError(f"color_by must be one of {sorted(COLOR_BY)}")
    k_maps = len(bm.configs)
    n_min = len(bm.minima)
    layout = _maps_layout(k_maps, stacked)
    for k, title in enumerate(layout["annotations"]):
        title["text"] = _share_title(bm, k)
    if stacked:
        height = 60 + 460 * k_maps
    data: list[dict] = []

    def sfx(k: int) -> str:  # map k's axes: x and y, x2 and y2, ...
        return str(k + 1) if k else ""

    def place(k: int) -> dict:
        return dict(xaxis=f"x{sfx(k)}", yaxis=f"y{sfx(k)}")

    def colorbar(k: int, title: str) -> dict:
        bar = dict(title=dict(text=title, side="top", font=dict(size=13)), thickness=12, tickfont=dict(size=13),
                   len=0.8)
        if stacked:  # beside its own map, clear of the map above's title
            lo, hi = layout[f"yaxis{sfx(k)}"]["domain"]
            bar.update(y=(lo + hi) / 2, yanchor="middle", len=0.9 * (hi - lo))
        return bar

    gap, log = loss_gap(bm.problem, bm.final_loss)
    level = np.log10(gap) if log else gap
    finite_level = level[np.isfinite(level)]
    zmin, zmax = (0.0, 1.0)
    if finite_level.size:
        # The 2nd percentile, not the minimum: a few starts that land exactly on the
        # global minimum (1e-30) would otherwise flatten every local minimum into one colour.
        zmin, zmax = float(np.percentile(finite_level, 2)), float(finite_level.max())
        zmin = zmin if zmin < zmax else float(finite_level.min())
    clipped = bool(finite_level.size) and float(finite_level.min()) < zmin
    what = loss_name(bm.problem, log, logged=True)
    loss_title = what + (f"<br><sub>darkest: ≤ {zmin:.2g}</sub>" if clipped else "")
    max_step = int(bm.diverged_at.max()) if (bm.diverged_at >= 0).any() else 1
    # One colour bar, on the last map that has something to colour.
    has_loss = [bool(np.isfinite(level[k][~bm.diverged[k]]).any()) for k in range(k_maps)]
    has_div = [bool(bm.diverged[k].any()) for k in range(k_maps)]
    loss_bar = max((k for k in range(k_maps) if has_loss[k]), default=-1)
    div_bar = max((k for k in range(k_maps) if has_div[k]), default=-1)
    for k in range(k_maps):
        at = place(k)
        diverged = bm.diverged[k]
        custom = np.stack([bm.final_loss[k], bm.minimum[k] + 1, bm.diverged_at[k]], axis=-1)
        custom = custom.astype(np.float32)
        hover = ("start (%{x:.3g}, %{y:.3g})<br>final loss %{customdata[0]:.4g}"
                 "<br>ends at minimum %{customdata[1]} (0 = none)"
                 "<br>diverged at step %{customdata[2]} (−1 = never)"
                 "<extra></extra>")
        cells = dict(customdata=custom, hovertemplate=hover)  # what a start shows on hover
        if clickable:
            words = np.where(diverged, "diverged at step " + bm.diverged_at[k].astype(str),
                             np.where(bm.minimum[k] < 0, "ends at no known minimum",
                                      "ends at minimum " + (bm.minimum[k] + 1).astype(str)))
            click_hover = ("start (%{x:.3g}, %{y:.3g})<br>final loss %{customdata[0]:.4g}<br>%{text}"
                           "<br><i>click: watch from here</i><extra></extra>")
            if not click_grid:
                cells = _cell_clicks(cells, click_hover, words)
        if color_by == "minimum":
            codes = np.where(diverged, n_min + 1, np.where(bm.minimum[k] < 0, n_min, bm.minimum[k]))
            colors = _outcome_colors(n_min)
            layers = [dict(z=codes, colorscale=_discrete_scale(colors), zmin=-0.5, zmax=len(colors) - 0.5)]
        elif color_by == "loss":
            layers = [dict(z=np.where(diverged, np.nan, level[k]), colorscale=LOSS_SCALE, zmin=zmin, zmax=zmax,
                           showscale=k == loss_bar, colorbar=colorbar(k, loss_title)),
                      _flat(np.where(diverged, 1.0, np.nan), DIVERGED_COLOR)]
        else:
            layers = [_flat(np.where(diverged, np.nan, 0.0), NONE_COLOR),
                      dict(z=np.where(diverged, bm.diverged_at[k], np.nan), colorscale=DIVERGED_SCALE, zmin=0,
                           zmax=max_step, showscale=k == div_bar, colorbar=colorbar(k, "diverged<br>at step"))]
        data += _hovered(layers, cells, dict(type="heatmap", x=bm.xs, y=bm.ys, showscale=False, **at))
        data.append(_contours(at, grid))
        data += _minima(at, bm, color_by)
        if clickable and click_grid:
            data.append(_click_grid(bm.xs, bm.ys, custom, click_hover, at=at, text=words))
    data += _basin_legend(bm, color_by)
    (x0, x1), (y0, y1) = (bm.xs[0], bm.xs[-1]), (bm.ys[0], bm.ys[-1])
    dx, dy = (x1 - x0) / max(len(bm.xs) - 1, 1) / 2, (y1 - y0) / max(len(bm.ys) - 1, 1) / 2
    for k in range(k_maps):
        layout[f"xaxis{sfx(k)}"].update(title=dict(text="x₀ (start)"), range=[x0 - dx, x1 + dx],
                                        constrain="domain", scaleanchor=f"y{sfx(k)}", scaleratio=1)
        layout[f"yaxis{sfx(k)}"].update(range=[y0 - dy, y1 + dy], constrain="domain")
        if stacked or k == 0:
            layout[f"yaxis{sfx(k)}"]["title"] = dict(text="y₀ (start)")
    layout.update(
        height=height, font=FONT, template=TEMPLATE, hoverlabel=dict(font=dict(size=15)),
        legend=dict(orientation="h", yanchor="top", y=-0.12 / (k_maps if stacked else 1), x=0, font=dict(size=15)),
        margin=dict(l=60, r=44, t=80, b=90 + 60 * stacked), modebar=dict(orientation="v"), plot_bgcolor="white",
    )
    return go.Figure(dict(data=data, layout=layout), _validate=False)  # what's written here is plotly's own JSON


@functools.lru_cache(maxsize=8)
def _maps_layout_json(k_maps: int, stacked: bool) -> str:
    if stacked:
        # Room under a map for its ticks and x-axis title, then the next map's two-line title.
        fig = make_subplots(rows=k_maps, cols=1, vertical_spacing=0.4 / k_maps, subplot_titles=["·"] * k_maps)
    else:
        fig = make_subplots(rows=1, cols=k_maps, shared_yaxes=True, horizontal_spacing=0.04,
                            subplot_titles=["·"] * k_maps)
    layout = fig.layout.to_plotly_json()
    layout.pop("template", None)
    return json.dumps(layout)


def _maps_layout(k_maps: int, stacked: bool) -> dict:
    """make_subplots' axes and title annotations for ``k_maps`` maps in a row (sharing y) or a
    column, as a fresh dict: it builds and validates a whole figure, so it is asked once a shape."""
    return json.loads(_maps_layout_json(k_maps, stacked))


def _cell_clicks(cells: dict, hover: str, text=None) -> dict:
    """A map's heatmap arguments (``cells``: x, y, customdata) with each cell carrying its own
    (j, i) first, for a chart that reports a click on a cell (the in-place chart).

    ``st.plotly_chart`` reports clicks on points only: there, an invisible grid of markers
    (:func:`_click_grid`) catches them. Those markers cost a drawing: on a 100 x 100 map, more
    than a second of a laptop's time per redraw.
    """
    custom = cells["customdata"]
    J, cols = np.meshgrid(np.arange(custom.shape[0]), np.arange(custom.shape[1]), indexing="ij")
    custom = np.concatenate([np.stack([J, cols], -1).astype(custom.dtype), custom], axis=-1)
    return {**cells, "customdata": custom, "hovertemplate": _shift(hover, 2), "text": text}


def _click_grid(xs, ys, custom, hover, at: dict | None = None, most: int = 70, text=None) -> dict:
    """Invisible markers on (at most ``most`` x ``most``) cells: Streamlit reports clicks on
    points, not on heatmap cells. customdata = (j, i, *the cell's own)."""
    jj = np.unique(np.linspace(0, len(ys) - 1, min(len(ys), most)).round().astype(int))
    ii = np.unique(np.linspace(0, len(xs) - 1, min(len(xs), most)).round().astype(int))
    J, cols = np.meshgrid(jj, ii, indexing="ij")
    data = np.concatenate([np.stack([J, cols], -1), custom[J, cols]], axis=-1).reshape(-1, 2 + custom.shape[-1])
    return dict(type="scatter", x=np.asarray(xs)[cols.ravel()], y=np.asarray(ys)[J.ravel()], mode="markers",
                marker=dict(size=12, opacity=0), showlegend=False, name="click",
                customdata=data.astype(np.float32), hovertemplate=_shift(hover, 2),
                text=None if text is None else text[J, cols].ravel(), **(at or {}))


def _shift(template: str, by: int) -> str:
    """A hovertemplate's ``customdata[n]`` moved to ``customdata[n + by]``."""
    return re.sub(r"customdata\[(\d+)\]", lambda m: f"customdata[{int(m.group(1)) + by}]", template)


def _share_title(bm: BasinMap, k: int) -> str:
    shares = bm.shares(k)
    reached = sum(v for m, v in shares.items() if m >= 0)
    bits = [f"{_pct(reached)} reach a known minimum"] if bm.minima else []
    if shares.get(-2):
        bits.append(f"{_pct(shares[-2])} diverge")
    stats = f"<br><span style='font-size:14px'>{', '.join(bits)}</span>" if bits else ""
    return f"<b>{escaped(bm.label(k))}</b>{stats}"


def _pct(x: float) -> str:
    """A share as a percentage that never rounds a few runs away to 0% or 100%."""
    if 0 < x < 0.01:
        return "<1%"
    if 0.99 < x < 1:
        return ">99%"
    return f"{x:.0%}"


def _flat(z, color) -> dict:
    """A heatmap layer of one colour where ``z`` has a value."""
    return dict(z=z, colorscale=[[0, color], [1, color]])


def _hovered(layers: list[dict], cells: dict, base: dict) -> list[dict]:
    """A map's heatmap layers, bottom first, each ``base`` and its own. The first that has a value
    anywhere carries the cells' hover and click (``cells``), on its gaps too; the rest skip theirs:
    each cell's numbers are sent once. A heatmap with no value takes no hover at all (every
    start diverged, or none did)."""
    take = next((i for i, t in enumerate(layers) if np.isfinite(t["z"]).any()), 0)
    return [{**base, **t, "z": np.asarray(t["z"], dtype=np.float32), **(cells if i == take else {"hoverinfo": "skip"})}
            for i, t in enumerate(layers)]


def _contours(at: dict, grid: Grid) -> dict:
    return dict(type="contour", x=grid.x, y=grid.y, z=grid.level(grid.z).astype(np.float32), ncontours=14,
                showscale=False, contours=dict(coloring="none"), line=dict(color="rgba(255,255,255,0.6)", width=1),
                hoverinfo="skip", name="contours of f", showlegend=False, **at)


def _minima(at: dict, bm, color_by) -> list[dict]:
    if not bm.minima:
        return []
    xs, ys = [m[0] for m in bm.minima], [m[1] for m in bm.minima]
    # In "minimum" mode each star wears its basin's colour and number, so the legend reads both ways.
    colors = [PALETTE[m % len(PALETTE)] for m in range(len(xs))] if color_by == "minimum" else "gold"
    return [dict(
        type="scatter", x=xs, y=ys, mode="markers+text", text=[str(m + 1) for m in range(len(xs))],
        textposition="top center", textfont=dict(size=16, color="black", shadow="0 0 3px white, 0 0 3px white"),
        showlegend=False, name="known minimum",
        marker=dict(symbol="star", size=19, color=colors, line=dict(color="white", width=1.8)),
        hovertemplate="known minimum %{text}<br>(%{x:.4g}, %{y:.4g})<extra></extra>", **at,
    )]


def _legend_square(name, color) -> dict:
    return dict(type="scatter", x=[None], y=[None], mode="markers", name=name, showlegend=True,
                marker=dict(symbol="square", size=14, color=color, line=dict(color="#666", width=1)))


def _basin_legend(bm, color_by) -> list[dict]:
    out = []
    if color_by == "minimum":
        for m, (x, y, _) in enumerate(bm.minima):
            out.append(_legend_square(f"minimum {m + 1} ({x:.3g}, {y:.3g})", PALETTE[m % len(PALETTE)]))
        out.append(_legend_square(f"no known minimum within {bm.tol:.2g}", NONE_COLOR))
    elif color_by == "diverged":
        out.append(_legend_square("did not diverge", NONE_COLOR))
    if color_by != "diverged" and bm.diverged.any():
        out.append(_legend_square("diverged", DIVERGED_COLOR))
    return out


def heatmap_figure(hm: Heatmap, polyak: tuple[float, float] | None = None, height: int = 600,
                   clickable: bool = False, click_grid: bool = True) -> go.Figure:
    """Final ``log10(f - f*)`` over two hyperparameters. Black cells diverged; a
    ring marks the best cell; a star marks ``polyak`` = (x, y) if given. With
    ``clickable``, a click on a cell is a selection event whose ``customdata`` begins
    (j, i): see :func:`_cell_clicks`."""
    gap, log = loss_gap(hm.problem, hm.final_loss)
    diverged = hm.diverged_at >= 0
    level = np.log10(gap) if log else gap
    xv, yv = hm.x.values, hm.y.values
    custom = np.stack([hm.final_loss, hm.diverged_at], axis=-1).astype(np.float64)
    what = loss_name(hm.problem, log, logged=True)
    hover = (f"{hm.x.name} %{{x:.3g}}<br>{hm.y.name} %{{y:.3g}}<br>final loss %{{customdata[0]:.3g}}"
             "<br>diverged at step %{customdata[1]} (-1: never)<extra></extra>")
    fig = go.Figure()
    cells = dict(customdata=custom, hovertemplate=hover)
    click_hover = hover.replace("<extra>", "<br><i>click: watch this run</i><extra>")
    if clickable and not click_grid:
        cells = _cell_clicks(cells, click_hover)
    layers = [dict(z=np.where(diverged, np.nan, level), colorscale=LOSS_SCALE, name="final loss",
                   colorbar=dict(title=dict(text=f"final<br>{what}", side="top", font=dict(size=13)), thickness=14,
                                 tickfont=dict(size=13)))]
    if diverged.any():
        layers.append(dict(_flat(np.where(diverged, 1.0, np.nan), DIVERGED_COLOR), showscale=False, name="diverged"))
    fig.add_traces(_hovered(layers, cells, dict(type="heatmap", x=xv, y=yv)))
    if diverged.any():
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name="diverged",
                                 marker=dict(symbol="square", size=14, color=DIVERGED_COLOR)))
    if clickable and click_grid:
        fig.add_trace(_click_grid(xv, yv, custom, click_hover))
    best = hm.best_cell()
    if best is not None:
        j, i = best
        fig.add_trace(go.Scatter(
            x=[xv[i]], y=[yv[j]], mode="markers",
            name=f"best cell: {hm.x.name} {xv[i]:.3g}, {hm.y.name} {yv[j]:.3g}",
            marker=dict(symbol="circle-open", size=22, color="#D55E00", line=dict(width=4)),
            hovertemplate="best cell<br>%{x:.3g}, %{y:.3g}<extra></extra>"))
    if polyak is not None:
        fig.add_trace(go.Scatter(
            x=[polyak[0]], y=[polyak[1]], mode="markers",
            name=f"Polyak's heavy ball: lr α* = {polyak[0]:.3g}, momentum β* = {polyak[1]:.3g}",
            marker=dict(symbol="star", size=22, color="white", line=dict(color="black", width=2)),
            hovertemplate="Polyak's optimal heavy ball<br>α* = %{x:.4g}, β* = %{y:.4g}<extra></extra>"))
    for update, a in ((fig.update_xaxes, hm.x), (fig.update_yaxes, hm.y)):
        ticks = {}
        if a.log:  # 1, 2, 5 per decade over a short range; powers of ten only over a long one
            span = math.log10(a.values[-1] / a.values[0]) if a.values[0] > 0 else 0
            ticks = dict(dtick="D2") if span <= 3 else dict(dtick=decade_dtick((0, span)))
        update(title_text=a.name + (" (log scale)" if a.log else ""), type="log" if a.log else "linear",
               exponentformat="power", **ticks)
    fig.update_layout(
        height=height, font=FONT, template="plotly_white", hoverlabel=dict(font_size=15),
        title=dict(text=f"<b>{escaped(hm.config.label or hm.config.optimizer)}</b>: final loss after {hm.steps} steps",
                   font=dict(size=17)),
        legend=dict(orientation="h", yanchor="top", y=-0.16, x=0, font=dict(size=15)),
        margin=dict(l=70, r=44, t=60, b=110), modebar=dict(orientation="v"), plot_bgcolor="white",
    )
    return fig

"""Themes: one pure restyling of any figure, applied where a page draws it.

The projector theme is for a room, not a laptop: a washed-out beamer at the
back of a classroom loses thin lines, pale grid lines and 14-pixel text. It
scales every font, line and marker and darkens what carries the picture's
structure (text, axes, grid). Nothing is recomputed: data in, Figure out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import plotly.graph_objects as go

from .common import AnimatedFigure

THEMES = ("default", "projector")
FONT_SCALE = 1.25
# Larger text needs a larger figure: the height and margins grow alike, so what a figure
# places in paper units under its plots (Play, the step slider) keeps its room.
SIZE_SCALE = 1.2
# A legend lists many entries in few words: larger, it wraps to more rows than the room above a plot has
# (and, wrapped, spans the width up to the tool bar). Its lines thicken; its text stays the figure's own.
LEGEND_SCALE = 1.0
# Titles (a figure's, its panels') sit side by side and span their panels: larger, they run into each other.
TITLE_SCALE = 1.0
LINE_SCALE = 1.7
MARKER_SCALE = 1.35
INK = "#000000"
GRID = "#b0b0b0"
# plotly.js's sizes where a figure leaves them unset: scaled too, so every line thickens.
DEFAULT_FONT, DEFAULT_LINE = 12, 2.0
# Lines that draw data; the contour's level lines and arrows are scatter traces too.
LINED = ("scatter", "scattergl", "scatter3d", "scatterpolar", "contour")


def apply(fig: go.Figure, theme: str) -> go.Figure:
    """``fig`` in ``theme``: the projector restyling, or ``fig`` itself for the default."""
    return projector(fig) if theme == "projector" else fig


def projector(fig: go.Figure) -> AnimatedFigure:
    """A copy of ``fig`` for a projector: fonts ×1.25 (black), lines ×1.7, markers ×1.35, the figure ×1.2,
    black axis lines and darker grid lines. The input is not changed; frames keep their
    data (they move traces, and the styles stay on the traces)."""
    if isinstance(fig, AnimatedFigure):
        spec, raw_layout, frames, source = fig.spec, fig._raw_layout, fig._raw_frames, fig._frames
    else:
        whole = fig.to_dict()
        spec, raw_layout, frames, source = whole, {}, whole.get("frames", []), None
    out = AnimatedFigure(
        spec=dict(data=[_trace(t) for t in spec["data"]], layout=_layout(spec["layout"])), raw_frames=frames,
        frames_from=source,
    )
    out._raw_layout = _controls(raw_layout)
    out._click_trace = getattr(fig, "_click_trace", None)
    return out


def _scaled(value: Any, factor: float) -> Any:
    """A size (a number, or one per point) times ``factor``."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return value * factor
    if isinstance(value, np.ndarray) and value.dtype.kind in "fiu":
        return value * factor
    if isinstance(value, list | tuple) and all(isinstance(v, int | float) for v in value):
        return [v * factor for v in value]
    return value


def _fonts(obj: Any, inside_font: bool = False, scale: float = FONT_SCALE) -> Any:
    """A copy of a layout part with every font's size scaled (dicts and lists copied, arrays shared)."""
    if isinstance(obj, Mapping):
        out = {}
        for key, value in obj.items():
            if inside_font and key == "size":
                out[key] = _scaled(value, scale)
            else:
                out[key] = _fonts(value, key.endswith("font"), scale)
        return out
    if isinstance(obj, list):
        return [_fonts(v, inside_font, scale) for v in obj]
    return obj


def _axis(axis: Mapping) -> dict:
    out = dict(axis)
    out.update(
        linecolor=INK,
        linewidth=2,
        showline=True,
        gridcolor=GRID,
        gridwidth=1.2,
        tickfont={"color": INK, **out.get("tickfont", {})},
    )
    return out


def _controls(layout: Mapping) -> dict:
    """Fonts scaled, and Play and a step slider under the plots (paper units below 0) moved
    down with the larger tick labels and titles above them."""
    out = _fonts(layout)
    for key in ("updatemenus", "sliders"):
        if isinstance(out.get(key), list):
            out[key] = [
                {**c, "y": c["y"] * FONT_SCALE} if isinstance(c.get("y"), int | float) and c["y"] < 0 else c
                for c in out[key]
            ]
    return out


def _layout(layout: Mapping) -> dict:
    own = {"legend": LEGEND_SCALE, "annotations": TITLE_SCALE, "title": TITLE_SCALE}
    out = _controls({k: v for k, v in layout.items() if k not in own})
    out |= {k: _fonts(layout[k], scale=scale) for k, scale in own.items() if k in layout}
    font = dict(out.get("font", {}))
    font.setdefault("size", DEFAULT_FONT * FONT_SCALE)
    out["font"] = {**font, "color": INK}
    # The figure grows with its text; the room under the plots (ticks, titles, Play) grows more.
    margin = dict(out.get("margin") or {})
    below = margin.get("b", 0) * (FONT_SCALE - 1) * SIZE_SCALE
    if isinstance(out.get("height"), int | float):
        out["height"] = round(out["height"] * SIZE_SCALE + below)
    if margin:
        margin = {k: _scaled(v, SIZE_SCALE) if k in ("l", "r", "t", "b") else v for k, v in margin.items()}
        out["margin"] = {**margin, "b": margin.get("b", 0) + below}
    for key, value in list(out.items()):
        if isinstance(value, Mapping) and (key.startswith(("xaxis", "yaxis"))):
            out[key] = _axis(value)
        elif key == "scene" and isinstance(value, Mapping):
            out[key] = {k: _axis(v) if k.endswith("axis") and isinstance(v, Mapping) else v for k, v in value.items()}
    return out


def _trace(trace: Mapping) -> dict:
    out = dict(trace)
    kind = out.get("type", "scatter")
    line = out.get("line")
    if kind in LINED and (isinstance(line, Mapping) or "lines" in str(out.get("mode", "lines"))):
        line = dict(line or {})
        line["width"] = _scaled(line.get("width", DEFAULT_LINE), LINE_SCALE)
        out["line"] = line
    marker = out.get("marker")
    if isinstance(marker, Mapping):
        marker = dict(marker)
        if "size" in marker:
            marker["size"] = _scaled(marker["size"], MARKER_SCALE)
        if isinstance(marker.get("line"), Mapping) and "width" in marker["line"]:
            marker["line"] = {**marker["line"], "width": _scaled(marker["line"]["width"], MARKER_SCALE)}
        if isinstance(marker.get("colorbar"), Mapping):
            marker["colorbar"] = _fonts(marker["colorbar"])
        out["marker"] = marker
    if isinstance(out.get("colorbar"), Mapping):
        out["colorbar"] = _fonts(out["colorbar"])
    for key in ("textfont", "hoverlabel"):
        if isinstance(out.get(key), Mapping):
            out[key] = _fonts(out[key], key == "textfont")
    return out

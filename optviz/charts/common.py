"""What every figure shares: colours, run styles, the fast figure encoder, paths and frames.

Figures are built as plain Plotly JSON (:class:`AnimatedFigure`) and numpy arrays
go to plotly.js as typed arrays (:func:`typed_arrays`): the validation and
conversion plotly.py does costs more than computing a race.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from PIL import Image

from ..analysis import level_lines

# Okabe & Ito's colour-blind-safe palette, most distinct first; yellow is last
# because it vanishes on a light background and a projector.
# Runs' colours for a projector: each at least 3:1 against white (WCAG's bar for graphics),
# neighbours far apart in hue, nothing pale (Okabe & Ito's blue, vermillion and green; then
# magenta, ochre, purple, black, grey). Once they repeat, the dash changes.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#C51B7D", "#8C6D00", "#7B3294", "#000000", "#6E6E6E")
BACKGROUND = "#ffffff"
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
FONT = dict(size=16)
# Room under an animated figure's plots for its Play row and step slider: a margin Plotly had
# to widen for them would cost a second full draw of the figure on every change.
CONTROLS_BOTTOM = 220
# A light, low-saturation background so saturated paths stand out on a projector.
SURFACE_COLORS = [[0.0, "#1f3a5f"], [0.35, "#6d8fb3"], [0.7, "#c9d9ea"], [1.0, "#f4f7fb"]]


class AnimatedFigure(go.Figure):
    """A Figure kept as plain Plotly JSON, with animation frames.

    Plotly's graph objects validate every property of every trace, and for a
    race of a few runs with a hundred frames that costs more than computing the
    runs. These figures are written from known-good keys instead: ``spec``
    (data and layout), ``_raw_layout`` (animation controls) and the frames: a list
    (``_raw_frames``), or what they are cut from (``_frames``: an object whose ``frames()``
    gives them, only when asked for, and whose ``to_spec()`` the in-place chart cuts them from).
    ``to_dict`` (used by ``to_json``, ``to_html`` and Streamlit) assembles them.
    """

    def __init__(self, *args, spec=None, raw_frames=(), frames_from=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._spec = spec
        self._raw_frames = list(raw_frames)
        self._frames = frames_from
        self._raw_layout: dict = {}
        self._click_trace = None

    @property
    def raw_frames(self) -> list[dict]:
        if not self._raw_frames and self._frames is not None:
            self._raw_frames = self._frames.frames()
        return self._raw_frames

    @property
    def spec(self) -> dict:
        """data and layout as plain dicts (numpy arrays still numpy)."""
        return self._spec if self._spec is not None else super().to_dict()

    def to_dict(self, frames: bool = True):
        if self._spec is None:
            out = super().to_dict()
        else:
            out = {"data": [dict(t) for t in self._spec["data"]], "layout": dict(self._spec["layout"])}
        out["layout"].update(self._raw_layout)
        if frames and self.raw_frames:
            out["frames"] = self.raw_frames
        typed_arrays(out)
        return out


# plotly.js's typed-array codes (what plotly.py's own converter emits).
_TYPED = {"int8": "i1", "uint8": "u1", "int16": "i2", "uint16": "u2", "int32": "i4", "uint32": "u4",
          "float32": "f4", "float64": "f8"}


def _typed_array(v: np.ndarray):
    if v.dtype == np.int64 and v.size and -(2**31) <= v.min() and v.max() < 2**31:
        v = v.astype(np.int32)
    if v.dtype.kind in "USO":  # text (such as each cell's hover words) as a plain list
        return v.tolist()
    code = _TYPED.get(str(v.dtype))
    if code is None or v.size == 0:
        return v
    out = {"dtype": code, "bdata": base64.b64encode(np.ascontiguousarray(v)).decode("ascii")}
    if v.ndim > 1:
        out["shape"] = str(v.shape)[1:-1]
    return out


_SCALARS = {float, int, str, bool, type(None)}


def typed_arrays(obj) -> None:
    """numpy arrays -> plotly.js typed arrays, in place: plotly.py's converter does the
    same, but checks every array through dataframe libraries and costs more than the figure."""
    if isinstance(obj, list) and set(map(type, obj)) <= _SCALARS:
        return  # numbers (a path with gaps): one quick scan, not a call per number
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for key, value in items:
        if isinstance(value, np.ndarray):
            obj[key] = _typed_array(value)
        elif isinstance(value, dict | list):
            typed_arrays(value)


def _plain(value):
    if isinstance(value, np.ndarray) and value.ndim == 0:  # a number, as plotly.io writes it
        return value.item()
    if isinstance(value, np.ndarray):  # one left in the figure: typed, or else a plain list
        out = _typed_array(value)
        return value.tolist() if out is value else out
    if isinstance(value, np.generic):  # a numpy number left in a layout
        return value.item()
    raise TypeError(type(value).__name__)


def to_json(fig, frames: bool = True) -> str:
    """A figure as plotly.js reads it, what ``plotly.io.to_json`` gives, in a third of the time:
    that encodes, parses its own output back and encodes again, to write NaN as null.
    Without ``frames``, an AnimatedFigure's frames are left out."""
    if isinstance(fig, AnimatedFigure):
        spec = fig.to_dict(frames=frames)
    else:
        # plotly's own dicts, read as they are: to_dict deep-copies every array first, which cost
        # more than building a basin map's figure. Their arrays are typed as they are written.
        spec = {"data": fig._data, "layout": fig._layout}
        if fig._frame_objs:
            spec["frames"] = [f._props for f in fig._frame_objs]
    try:
        return dumps(spec)
    except (TypeError, ValueError):  # a NaN or an object of its own: plotly.io knows what to do
        return pio.to_json(fig if frames else spec, validate=False)


def dumps(obj) -> str:
    """Compact JSON of ``obj`` (its numpy arrays made typed arrays already: :func:`typed_arrays`);
    ValueError on a NaN, which JSON cannot carry."""
    return json.dumps(obj, separators=(",", ":"), allow_nan=False, default=_plain)


TEMPLATE = go.layout.Template(pio.templates["plotly_white"]).to_plotly_json()


@dataclass(frozen=True)
class Style:
    label: str
    color: str
    dash: str = "solid"


def escaped(label: str) -> str:
    """A user's text (a run's label) as Plotly shows it: Plotly renders a subset of HTML in
    names, titles and hover, so ``<``, ``>`` and ``&`` are escaped (a label cannot become
    a link or bold)."""
    return html.escape(label, quote=False)


def styles(labels: Sequence[str], colors: Sequence[str | None] | None = None) -> list[Style]:
    """One Style per run: the palette in order, and a new dash once colours repeat. Each
    label as :func:`escaped` writes it."""
    out = []
    for i, label in enumerate(labels):
        color = (colors[i] if colors and i < len(colors) else None) or PALETTE[i % len(PALETTE)]
        out.append(Style(escaped(label), color, DASHES[(i // len(PALETTE)) % len(DASHES)]))
    return out


def contrast(color: str, background: str = BACKGROUND) -> float:
    """WCAG 2 contrast ratio of two ``#rrggbb`` colours (1 to 21)."""

    def luminance(c: str) -> float:
        r, g, b = (int(c.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4))
        lin = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in (r, g, b)]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((luminance(color), luminance(background)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


# -- numeric helpers ------------------------------------------------------------


@dataclass(frozen=True)
class Grid:
    x: np.ndarray  # (n,)
    y: np.ndarray  # (n,)
    z: np.ndarray  # (n, n): z[j, i] = f(x[i], y[j])
    floor: float  # the lowest value known: the global minimum, or the grid's minimum
    log: bool = True  # False for surfaces with no minimum (saddles): plain levels of f

    def level(self, values: np.ndarray) -> np.ndarray:
        """What the contour and the 3-D height show for loss ``values``."""
        return self.log_gap(values) if self.log else np.asarray(values, dtype=float)

    def height(self, values: np.ndarray) -> np.ndarray:
        """The 3-D surface's height for loss ``values``: the level, floored on a log grid at
        the level of its lowest 3% of points. A grid point that falls just on a valley floor
        would otherwise plunge decades below its neighbours: a comb of spikes under the valley."""
        level = self.level(values)
        return np.maximum(level, self.height_floor) if self.log else level

    @cached_property
    def height_floor(self) -> float:
        z = self.level(self.z)
        return float(np.nanpercentile(z, 3)) if np.isfinite(z).any() else 0.0

    @property
    def level_title(self) -> str:
        return "log₁₀(f − f*)" if self.log else "f"

    def log_gap(self, values: np.ndarray) -> np.ndarray:
        """log10(f - floor + eps): contour levels that resolve both the valley and the walls."""
        return np.log10(np.maximum(values - self.floor, 0.0) + self.eps)

    @property
    def eps(self) -> float:
        span = float(np.nanmax(self.z) - self.floor)
        return max(span * 1e-6, 1e-12)

    @cached_property
    def background(self) -> tuple[float, float, dict, np.ndarray]:
        """(lo, hi, layout image, contour lines) of the shaded surface: costly, so computed once."""
        z = self.level(self.z)
        finite = z[np.isfinite(z)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        hi = hi if hi > lo else lo + 1.0
        lines = [level_lines(self.x, self.y, z, v) for v in np.linspace(lo, hi, 24)[1:-1]]
        return lo, hi, shaded_image(self.x, self.y, z, lo, hi), np.concatenate(lines)


def gapped(points: np.ndarray) -> dict:
    """x and y of a broken line as lists with None in the gaps: plotly.js animates those,
    but not NaN inside a typed array."""
    xy = np.round(points.astype(np.float64), 4)
    return {axis: np.where(np.isnan(xy[:, k]), None, xy[:, k]).tolist() for k, axis in enumerate("xy")}


def shaded_image(x: np.ndarray, y: np.ndarray, level: np.ndarray, lo: float, hi: float, width: int = 480,
                 xref: str = "x", yref: str = "y") -> dict:
    """``level`` (ny, nx) in the surfaces' colour scale, as a layout image over the grid.

    Not a contour or heatmap trace: plotly.js drops those from the picture as soon
    as an animation without full redraws starts (plotly.js #4491, plotly.py #2151);
    a layout image and line traces stay put.
    """
    stops = [stop for stop, _ in SURFACE_COLORS]
    rgb = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for _, c in SURFACE_COLORS], dtype=float)
    t = np.clip((np.nan_to_num(level, nan=hi) - lo) / (hi - lo), 0.0, 1.0)[::-1]  # image rows run top down
    pixels = np.stack([np.interp(t, stops, rgb[:, k]) for k in range(3)], -1).round().astype(np.uint8)
    height = max(2, round(width * len(y) / len(x)))
    image = Image.fromarray(pixels).resize((width, height), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    dx, dy = (x[-1] - x[0]) / max(len(x) - 1, 1), (y[-1] - y[0]) / max(len(y) - 1, 1)
    return dict(source="data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode(), xref=xref,
                yref=yref, x=float(x[0] - dx / 2), y=float(y[-1] + dy / 2), sizex=float(x[-1] - x[0] + dx),
                sizey=float(y[-1] - y[0] + dy), sizing="stretch", layer="below")


def colour_scale_trace(lo: float, hi: float, title: str, colorbar: Mapping) -> dict:
    """An invisible trace that only draws the colour bar of a shaded image."""
    return dict(type="scatter", x=[None], y=[None], mode="markers", hoverinfo="skip", showlegend=False,
                name="scale", marker=dict(color=[lo], cmin=lo, cmax=hi, colorscale=SURFACE_COLORS, showscale=True,
                                          colorbar=dict(title=dict(text=title, side="top", font=dict(size=13)),
                                                        **colorbar)))


def decade_dtick(log_range, most: int = 8) -> int:
    """A log axis's tick step in decades: powers of ten only (the minor labels 2 and 5 crowd a
    log axis), at most about ``most`` of them."""
    span = float(log_range[1] - log_range[0])
    return max(1, math.ceil(span / most))


def frame_steps(points: int, max_frames: int = 120) -> np.ndarray:
    """Point indices the animation shows: evenly spread, always ending at the last."""
    if points <= max_frames:
        return np.arange(points)
    return np.unique(np.linspace(0, points - 1, max_frames).round().astype(int))


def last_finite(values: np.ndarray, upto):
    """Index of the last finite entry (a point, a row) at or before ``upto``: a diverged run stops there
    (0 where there is none). ``upto`` an array: one index each, in one pass."""
    finite = np.isfinite(values).reshape(len(values), -1).all(1)
    last = np.maximum.accumulate(np.where(finite, np.arange(len(values)), -1))
    upto = np.asarray(upto)
    out = np.where(upto < 0, 0, np.maximum(last[np.clip(upto, 0, len(values) - 1)], 0))
    return int(out) if out.ndim == 0 else out


def steps_to_reach(loss: np.ndarray, target: float) -> int | None:
    """First step at which the loss is at or below ``target``, or None."""
    hit = np.flatnonzero(loss <= target)
    return int(hit[0]) if hit.size else None


def f32(values) -> np.ndarray:
    """Coordinates as float32: half the bytes, and a screen needs no more."""
    return np.asarray(values, dtype=np.float32)


def to_html(fig: go.Figure) -> str:
    """A standalone page that plays offline (plotly.js inlined), for slides."""
    return fig.to_html(include_plotlyjs=True, full_html=True, auto_play=False, config={"displaylogo": False})

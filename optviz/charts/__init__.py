"""Plotly figures from results: pure functions, no Streamlit.

Data goes in and a ``plotly.graph_objects.Figure`` comes out, so the app, the
HTML export, the CLI and notebooks draw the same pictures:

* :func:`race_figure`: a race on a 2-D surface (contour or 3-D, loss, lr);
* :func:`training_figure` and :func:`progress_figure`: a training (loss landscape,
  the data as the model sees it, train/test loss and accuracy);
* :func:`lr_sweep_figure`, :func:`basin_figure`, :func:`heatmap_figure`: sweeps;
* :func:`compare_race_figure`, :func:`sensitivity_figure`: a fair comparison.
* :func:`classic_figure`: a classic's own figure (:mod:`optviz.classics`).

Figures animate in the browser (Play and a step slider move every view together).
"""

from ..analysis import level_lines, thin
from .classics import classic_figure
from .common import (
    DASHES,
    FONT,
    PALETTE,
    AnimatedFigure,
    Grid,
    Style,
    frame_steps,
    last_finite,
    steps_to_reach,
    styles,
    to_html,
)
from .compare import compare_race_figure, sensitivity_figure
from .race import race_figure, surface_grid
from .sweeps import COLOR_BY, basin_figure, heatmap_figure, lr_sweep_figure
from .training import metric_name, progress_figure, training_figure

__all__ = [
    "COLOR_BY", "DASHES", "FONT", "PALETTE", "AnimatedFigure", "Grid", "Style", "basin_figure",
    "classic_figure", "compare_race_figure", "frame_steps", "sensitivity_figure",
    "heatmap_figure", "last_finite", "level_lines", "lr_sweep_figure", "metric_name", "progress_figure",
    "race_figure", "steps_to_reach", "styles", "surface_grid", "thin", "to_html", "training_figure",
]

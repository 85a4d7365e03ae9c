"""Each kind of problem's part of an experiment page: its sidebar, its info, its figure.

A module here has the same functions for its kind (see :mod:`.surface`):
``load``, ``collect``, ``sidebar``, ``header`` (above the chart), ``about`` (under it), ``extras``,
``figure``, ``progress_figure``, ``summary_columns`` and ``on_click``, and the
constants ``TITLE``, ``REQUIRED`` (widget keys it always draws) and
``RUN_STARTS`` and ``RUN_NOISE`` (whether a run may have a start point, and
gradient noise, of its own), ``INSIDE`` (whether it draws the inside view, see
:mod:`optviz.ui.inside`) and optionally ``INSIDE_RECORD`` (what the engine records for
it; a model's norms instead of every weight). The page in
:mod:`optviz.ui.explore` does the rest, the same for every kind.
"""

from __future__ import annotations

from types import ModuleType

from . import online, surface, training

# A typed formula is a surface the user types: the same page part draws both.
KIND_UI: dict[str, ModuleType] = {"surface": surface, "formula": surface, "train": training, "online": online}

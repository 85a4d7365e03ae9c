"""What the server spends on a page's figure at each rerun.

- The Surfaces page's race: building it and encoding what the page's chart is sent (the
  figure, and each run's path, which the browser cuts the animation's frames from), against
  encoding the figure with its frames made in Python (what ``st.plotly_chart`` and the HTML
  export get, and what the page was sent before); the default comparison, in 2-D and 3-D.
- The Sweeps page's basin map (its default, 2 maps of 80 x 80 starts), in each colouring:
  written as plain Plotly JSON and encoded, against the same figure, its arrays still numpy,
  validated by Plotly's graph objects and encoded by ``plotly.io``: most of what a recolour
  cost before (which also built it through ``make_subplots`` and graph objects' updates).

Prints the median and the maximum over repeats, and the bytes. The repeats alternate the
ways, so a machine whose load changes slows them alike.

    python3 bench/bench_figure.py [repeats]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import plotly.graph_objects as go  # noqa: E402
import plotly.io as pio  # noqa: E402

from optviz import charts, experiment, presets, sweeps  # noqa: E402
from optviz.charts.common import to_json  # noqa: E402
from optviz.codec import BasinSettings  # noqa: E402
from optviz.ui.plot import frames_json  # noqa: E402


def _alternate(ways: dict, repeats: int, what: str) -> None:
    times: dict[str, list[float]] = {name: [] for name in ways}
    size = {name: way() for name, way in ways.items()}  # warm
    for _ in range(repeats):
        for name, way in ways.items():
            start = time.perf_counter()
            way()
            times[name].append(time.perf_counter() - start)
    for name, ts in times.items():
        print(f"  {what:8s} {name:28s} median {statistics.median(ts) * 1e3:6.1f} ms   "
              f"max {max(ts) * 1e3:6.1f} ms   {size[name] / 1e3:6.0f} kB")


def main(repeats: int = 21) -> None:
    exp = presets.SURFACE_DEFAULT
    outcome = experiment.compute(exp)
    styles = charts.styles([r.label or r.optimizer for r in exp.runs])
    grid = charts.surface_grid(exp.problem)
    print(f"default comparison: {len(exp.runs)} runs x {exp.n_steps} steps, {repeats} repeats")
    for view in ("contour", "3d"):
        def race(view=view):
            return charts.race_figure(exp.problem, outcome.result.arrays, styles, grid=grid, view=view,
                                      clickable=view == "contour", click_cells=True)

        def sent(race=race) -> int:
            fig = race()
            return len(to_json(fig, frames=False)) + len(frames_json(fig._frames))

        ways = {"sent to the page (paths)": sent, "with frames, from Python": lambda race=race: len(to_json(race()))}
        _alternate(ways, repeats, view)
    basin = BasinSettings()
    bm = sweeps.basin_map(basin.problem, basin.runs, basin.steps, nx=basin.grid)
    grid = charts.surface_grid(basin.problem)
    print(f"basin map: {len(basin.runs)} maps of {basin.grid} x {basin.grid} starts, {repeats} repeats")
    for color_by in charts.COLOR_BY:
        def basin_fig(color_by=color_by):
            return charts.basin_figure(bm, grid, color_by, clickable=True, click_grid=False)

        def validated(f=basin_fig) -> int:  # its numpy arrays checked by Plotly's validators, as before
            fig = f()
            return len(pio.to_json(go.Figure({"data": fig._data, "layout": fig._layout})))

        ways = {"plain JSON (the page's)": lambda f=basin_fig: len(to_json(f())), "through graph objects": validated}
        _alternate(ways, repeats, color_by)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))

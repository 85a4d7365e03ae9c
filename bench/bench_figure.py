"""What the server spends on the Surfaces page's figure at each rerun: building the race and
encoding what the page's chart is sent (the figure, and each run's path, which the browser
cuts the animation's frames from), against encoding the figure with its frames made in Python
(what ``st.plotly_chart`` and the HTML export get, and what the page was sent before).

Prints the median and the maximum over repeats, and the bytes, for the default comparison in
2-D and 3-D. The repeats alternate the two, so a machine whose load changes slows both alike.

    python3 bench/bench_figure.py [repeats]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from optviz import charts, experiment, presets  # noqa: E402
from optviz.charts.common import to_json  # noqa: E402
from optviz.ui.plot import frames_json  # noqa: E402


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
        times: dict[str, list[float]] = {name: [] for name in ways}
        size = {name: way() for name, way in ways.items()}  # warm
        for _ in range(repeats):
            for name, way in ways.items():
                start = time.perf_counter()
                way()
                times[name].append(time.perf_counter() - start)
        for name, ts in times.items():
            print(f"  {view:7s} {name:26s} median {statistics.median(ts) * 1e3:6.1f} ms   "
                  f"max {max(ts) * 1e3:6.1f} ms   {size[name] / 1e3:6.0f} kB")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))

"""What the inside view costs: the default Surfaces comparison computed with the race's
own record (params, loss, lr) and with the gradient and the optimizer's state as well;
the default Datasets comparison with and without the norms a model's inside view records;
and λ_max along the edge-of-stability preset's path (what its curvature toggle computes).

Prints the median and the maximum over repeats, and their ratio (the issue asks <= 2x),
plus building the race figure with and without the arrows. The repeats alternate the two
records, so a machine whose load changes meanwhile slows both alike.

    python3 bench/bench_state.py [repeats]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared import timings  # noqa: E402

from optviz import charts, curvature, experiment, presets  # noqa: E402
from optviz.charts import state as inside  # noqa: E402
from optviz.engine import DEFAULT_RECORD  # noqa: E402
from optviz.ui.inside import RECORD  # noqa: E402
from optviz.ui.kinds.training import INSIDE_RECORD  # noqa: E402


def main(repeats: int = 7) -> None:
    exp = presets.SURFACE_DEFAULT
    problem = exp.problem.build()
    styles = charts.styles([r.label for r in exp.runs])
    plain = timings(lambda: experiment.compute(exp, record=DEFAULT_RECORD), repeats)
    state = timings(lambda: experiment.compute(exp, record=RECORD), repeats)
    outcome = experiment.compute(exp, record=RECORD)
    arrays = inside.as_torch_keeps(outcome.result.arrays, outcome.result.resolved)
    grid = charts.surface_grid(problem)
    fig = timings(lambda: charts.race_figure(problem, arrays, styles, grid=grid).to_dict(), repeats)
    fig_arrows = timings(lambda: charts.race_figure(problem, arrays, styles, grid=grid, arrows=True).to_dict(), repeats)
    print(f"default comparison: {len(exp.runs)} runs x {exp.n_steps} steps, {repeats} repeats")
    rows = [
        ("compute, race record", plain),
        ("compute, + grad and state", state),
        ("figure", fig),
        ("figure + arrows", fig_arrows),
    ]
    for name, times in rows:
        print(f"  {name:28s} median {statistics.median(times) * 1e3:8.1f} ms   max {max(times) * 1e3:8.1f} ms")
    print(
        f"  compute ratio (state / race): median {statistics.median(state) / statistics.median(plain):.2f}x, "
        f"max {max(state) / max(plain):.2f}x"
    )
    total = (statistics.median(state) + statistics.median(fig_arrows)) / (
        statistics.median(plain) + statistics.median(fig)
    )
    print(f"  compute + figure ratio: median {total:.2f}x")


def alternating(a, b, repeats: int) -> tuple[list[float], list[float]]:
    a(), b()  # warm
    ta, tb = [], []
    for _ in range(repeats):
        for fn, out in ((a, ta), (b, tb)):
            tick = time.perf_counter()
            fn()
            out.append(time.perf_counter() - tick)
    return ta, tb


def models(repeats: int) -> None:
    exp = presets.TRAIN_DEFAULT
    plain, norms = alternating(
        lambda: experiment.compute(exp, record=DEFAULT_RECORD),
        lambda: experiment.compute(exp, record=INSIDE_RECORD),
        repeats,
    )
    print(f"default Datasets comparison: {len(exp.runs)} runs x {exp.n_steps} steps, {repeats} repeats")
    for name, times in (("compute, race record", plain), ("compute, + norms", norms)):
        print(f"  {name:28s} median {statistics.median(times) * 1e3:8.1f} ms   max {max(times) * 1e3:8.1f} ms")
    print(f"  compute ratio (norms / race): median {statistics.median(norms) / statistics.median(plain):.2f}x")
    eos = presets.PRESETS["edge-of-stability"].experiment
    out = experiment.compute(eos, record=INSIDE_RECORD)
    r = out.result
    tick = time.perf_counter()
    mc = curvature.model_curvature(eos.problem.build(), r)
    ratio = mc.sharpness[:, 0] / mc.lines[0][0]
    print(
        f"edge of stability: lambda_max at {len(mc.steps)} points in {time.perf_counter() - tick:.1f} s; "
        f"lambda_max / (2/lr) from {ratio[0]:.2f} to {ratio.max():.2f}, median of the second half "
        f"{float(statistics.median(ratio[len(ratio) // 2 :])):.2f}"
    )


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    main(n)
    models(n)

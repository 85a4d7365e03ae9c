"""Sweep benchmarks through optviz.sweeps, against the naive loop measured in the same process.

    python bench/bench_sweeps.py              # the issue's two targets, CPU
    python bench/bench_sweeps.py --gpu        # add the 10^6-lr sweep on CUDA

Targets (2 CPU cores): a 1000-lr sweep x 500 steps <= 1 s; a 100 x 100 basin map
x 500 steps <= 1 s. Each case runs with torch's CPU threads and with one (what
the app uses; on a busy small machine, splitting small ops costs more than it
saves); the ratio and the target use the faster. The naive loop (bench_engine.naive_run: one torch.optim
optimizer per run, stepping in Python, float32) is timed on a sample of the
same runs and scaled to the full count. Each figure is the median of --repeat
timings after one warm-up; the machine may be shared, so read ratios, not ms.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_engine import median_time  # noqa: E402
from shared import naive_run  # noqa: E402

from optviz import sweeps  # noqa: E402
from optviz.config import Limits  # noqa: E402
from optviz.engine import RunConfig  # noqa: E402
from optviz.problems import SurfaceProblem  # noqa: E402

UNLIMITED = Limits(max_runs=10**8, max_work=10**13, max_grid=10**4, max_seconds=float("inf"), max_memory=float("inf"))


def naive_seconds(problem, runs: list[RunConfig], steps: int, sample: int, repeat: int) -> float:
    """The naive loop's time for all of ``runs``, scaled from an evenly spread sample."""
    picked = runs[:: max(1, len(runs) // sample)][:sample]

    def loop():
        for c in picked:
            naive_run(problem.surface, c.optimizer, c.hp, c.start or problem.start, steps)

    return median_time(loop, max(1, repeat // 2)) / len(picked) * len(runs)


def case(name, fn, runs, steps, repeat, naive=None, target=None):
    """Time ``fn(threads)`` with torch's threads and with one; print both, and the ratio to the naive loop."""
    default = median_time(lambda: fn(None), repeat)
    one = median_time(lambda: fn(1), repeat)
    best = min(default, one)
    line = (
        f"{name:48} runs={runs:>7} steps={steps}  sweeps {default * 1e3:7.0f} ms"
        f" ({torch.get_num_threads()} threads), {one * 1e3:7.0f} ms (1 thread)"
    )
    if naive is not None:
        line += f"  naive {naive:7.1f} s  ratio {naive / best:6.0f}x"
    if target is not None:
        line += f"  target <= {target:g} s: {'met' if best <= target else 'MISSED'}"
    print(line, flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--sample", type=int, default=20, help="naive runs timed per case")
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--gpu", action="store_true", help="also run the 10^6-lr sweep on CUDA")
    args = ap.parse_args(argv)
    steps, repeat = args.steps, args.repeat
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, cuda={torch.cuda.is_available()}")
    opts = dict(device="cpu", limits=UNLIMITED)

    rosen = SurfaceProblem("rosenbrock")
    adam = RunConfig("Adam")
    lrs = sweeps.log_lrs(1e-5, 1.0, 1000)
    runs = [RunConfig("Adam", {"lr": float(lr)}) for lr in lrs]
    case(
        "1. LR sweep: Adam x 1000 lrs (Rosenbrock)",
        lambda th: sweeps.lr_sweep(rosen, [adam], lrs, steps, threads=th, **opts),
        1000,
        steps,
        repeat,
        naive_seconds(rosen, runs, steps, args.sample, repeat),
        1.0,
    )
    two = [RunConfig("SGD", {"momentum": 0.9}), adam]
    case(
        "1b. LR sweep: SGD+momentum and Adam x 1000 lrs",
        lambda th: sweeps.lr_sweep(rosen, two, lrs, steps, threads=th, **opts),
        2000,
        steps,
        repeat,
    )

    himmelblau = SurfaceProblem("himmelblau")
    heavy = RunConfig("SGD", {"lr": 0.01, "momentum": 0.9})
    xs = np.linspace(-5, 5, 100)
    runs = [RunConfig("SGD", heavy.hp, start=(float(x), float(y))) for y in xs for x in xs]
    case(
        "2. basin map: SGD+momentum, 100x100 starts",
        lambda th: sweeps.basin_map(himmelblau, [heavy], steps, nx=100, threads=th, **opts),
        10_000,
        steps,
        repeat,
        naive_seconds(himmelblau, runs, steps, args.sample, repeat),
        1.0,
    )
    case(
        "2b. basin map: two optimizers side by side",
        lambda th: sweeps.basin_map(himmelblau, [heavy, adam], steps, nx=100, threads=th, **opts),
        20_000,
        steps,
        repeat,
    )
    case(
        "2c. basin map: 200x200 starts (the largest grid)",
        lambda th: sweeps.basin_map(himmelblau, [heavy], steps, nx=200, threads=th, **opts),
        40_000,
        steps,
        max(1, repeat // 2),
    )

    quadratic = SurfaceProblem("quadratic")
    x, y = sweeps.Axis("lr", 0.1, 10, 31, log=True), sweeps.Axis("momentum", 0, 0.95, 20)
    case(
        "3. heatmap: lr x momentum 31x20 (quadratic, f64)",
        lambda th: sweeps.heatmap(quadratic, RunConfig("SGD"), x, y, steps, dtype="float64", threads=th, **opts),
        620,
        steps,
        repeat,
    )

    if args.gpu:
        if not torch.cuda.is_available():
            print("4. skipped: CUDA is not available")
        else:
            big = sweeps.log_lrs(1e-5, 1.0, 1_000_000)
            started = time.perf_counter()
            sweeps.lr_sweep(rosen, [adam], big, steps, device="cuda", limits=UNLIMITED)
            print(f"   (warm-up {time.perf_counter() - started:.1f} s)")
            t = median_time(lambda: sweeps.lr_sweep(rosen, [adam], big, steps, device="cuda", limits=UNLIMITED), 3)
            print(
                f"4. LR sweep on CUDA: Adam x 10^6 lrs x {steps} steps: {t:.2f} s,"
                f" {1_000_000 * steps / t:.3g} run-steps per second",
                flush=True,
            )


if __name__ == "__main__":
    main()

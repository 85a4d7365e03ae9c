"""Engine benchmarks: batched runs against the naive loop, measured in the same process.

    python bench/bench_engine.py            # all cases, CPU (or CUDA if present)
    python bench/bench_engine.py --gpu      # add the 10^6-run sweep on CUDA
    python bench/bench_engine.py --grads [SURFACE ...]  # only: hand-written gradients against autograd

The naive loop is what a user writes by hand: one torch.optim optimizer per run,
stepping in Python. It is timed on a sample of runs and scaled to the full count.
Each figure is the median of --repeat timings after one warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared import median_max, naive_run, timings  # noqa: E402

from optviz.config import Limits  # noqa: E402
from optviz.engine import RunConfig, run  # noqa: E402
from optviz.problems import SurfaceProblem  # noqa: E402
from optviz.problems.surfaces import SURFACES  # noqa: E402

UNLIMITED = Limits(max_runs=10**8, max_work=10**12, max_seconds=float("inf"), max_memory=float("inf"))


def median_time(fn, repeat: int) -> float:
    return statistics.median(timings(fn, repeat))


def case(name, problem, configs, steps, record, naive_sample, repeat, device=None):
    batched = median_time(
        lambda: run(problem, configs, steps=steps, record=record, device=device, limits=UNLIMITED), repeat
    )
    line = f"{name:44} runs={len(configs):>8} steps={steps}  batched {batched * 1e3:9.1f} ms"
    if naive_sample:
        sample = configs[:: max(1, len(configs) // naive_sample)][:naive_sample]
        start = problem.start

        def loop():
            for c in sample:
                naive_run(problem.surface, c.optimizer, c.hp, c.start or start, steps)

        per_run = median_time(loop, max(1, repeat // 2)) / len(sample)
        naive = per_run * len(configs)
        line += f"  naive {naive:9.2f} s (scaled from {len(sample)} runs)  ratio {naive / batched:8.0f}x"
    print(line, flush=True)
    return batched


class AutogradSurface(SurfaceProblem):
    """The same surface, its gradient from autograd on ``fn`` (the hand-written one ignored)."""

    def loss_and_grad(self, params, step=0):
        return None


def gradient_cost(repeat: int, only=()) -> None:
    """What autograd costs against each hand-written gradient: the engine on 4 runs
    (a class comparison) and on 1000 (a sweep), 500 steps, everything recorded.
    Median and maximum of ``repeat`` timings after a warm-up."""
    for sid, spec in SURFACES.items():
        if (only and sid not in only) or spec.value_and_grad is None:
            continue
        for runs in (4, 1000):
            configs = [RunConfig("Adam", {"lr": float(lr)}) for lr in np.logspace(-4, -1, runs)]
            figures = []
            for p in (SurfaceProblem(sid), AutogradSurface(sid)):
                figures.append(median_max(timings(
                    lambda p=p, configs=configs: run(p, configs, steps=500, limits=UNLIMITED, device="cpu"), repeat)))
            (hand, hand_max), (auto, auto_max) = figures
            print(
                f"5. gradient {sid:18} runs={runs:>5} steps=500  hand median {hand * 1e3:7.1f} ms "
                f"(max {hand_max * 1e3:7.1f})  autograd median {auto * 1e3:7.1f} ms (max {auto_max * 1e3:7.1f})"
                f"  ratio {auto / hand:5.2f}",
                flush=True,
            )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--gpu", action="store_true", help="also run the 10^6-run sweep on CUDA")
    ap.add_argument(
        "--grads",
        nargs="*",
        metavar="SURFACE",
        help="only: the surfaces' gradients (all, or those named), hand-written against autograd",
    )
    args = ap.parse_args(argv)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, cuda={torch.cuda.is_available()}")
    if args.grads is not None:
        gradient_cost(args.repeat, args.grads)
        return

    rosen = SurfaceProblem("rosenbrock")
    lrs = np.logspace(-5, 0, 1000)
    sweep = [RunConfig("Adam", {"lr": float(lr)}) for lr in lrs]
    case("1. LR sweep: Adam x 1000 lrs, final/best loss", rosen, sweep, 500, (), 20, args.repeat)
    case("1b. same, recording every step's path", rosen, sweep, 500, ("params", "loss", "lr"), 0, args.repeat)

    if "himmelblau" in SURFACES:
        himmelblau = SurfaceProblem("himmelblau")
        xs = np.linspace(-5, 5, 100)
        starts = [(float(x), float(y)) for y in xs for x in xs]
        basin = [RunConfig("SGD", {"lr": 1e-3, "momentum": 0.9}, start=s) for s in starts]
        case("2. basin map: SGD+momentum, 100x100 starts", himmelblau, basin, 500, (), 20, args.repeat)

    default = [
        RunConfig("SGD", {"lr": 1e-3}),
        RunConfig("SGD", {"lr": 1e-3, "momentum": 0.9}),
        RunConfig("RMSprop", {"lr": 1e-2}) if "RMSprop" in _names() else RunConfig("AdamW", {"lr": 1e-2}),
        RunConfig("Adam", {"lr": 1e-2}),
    ]
    case("3. default comparison, full recording", rosen, default, 500, ("params", "loss", "lr"), 4, args.repeat)

    if args.gpu:
        if not torch.cuda.is_available():
            print("4. skipped: CUDA is not available")
        else:
            big = [RunConfig("Adam", {"lr": float(lr)}) for lr in np.logspace(-5, 0, 1_000_000)]
            t = case("4. LR sweep on CUDA, 10^6 runs", rosen, big, 500, (), 0, 3, device="cuda")
            print(f"   {1_000_000 * 500 / t:.3g} run-steps per second")


def _names():
    from optviz.optim import OPTIMIZERS

    return OPTIMIZERS


if __name__ == "__main__":
    main()

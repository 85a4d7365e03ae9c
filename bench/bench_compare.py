"""A fair comparison as one batch, against the naive loop, measured in the same process.

    python bench/bench_compare.py                 # 4 optimizers x 64 trials x 5 seeds x 500 steps
    python bench/bench_compare.py --repeat 3 --naive 40

The comparison is the default one (SGD, SGD + momentum, RMSprop and Adam, each
tuned over 64 Sobol trials, 5 seeds, on the Rosenbrock surface, float64): 1,280
runs through :func:`optviz.compare.compare`, which includes sampling, the one
engine batch and the scoring. The naive loop is what a user writes by hand: one
torch.optim optimizer per run, stepping in Python, over a sample of the same
runs (the comparison's own configurations), scaled to the full count. Figures
are the median and the maximum of --repeat timings after one warm-up.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared import median_max, naive_run, timings  # noqa: E402

from optviz.compare import Comparison, compare  # noqa: E402
from optviz.config import Limits  # noqa: E402

UNLIMITED = Limits(max_runs=10**8, max_work=10**12)




def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--naive", type=int, default=40, help="runs of the naive loop to time (scaled to all)")
    ap.add_argument("--trials", type=int, default=64)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=500)
    args = ap.parse_args(argv)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, cuda={torch.cuda.is_available()}")

    cmp = Comparison(trials=args.trials, seeds=args.seeds, steps=args.steps)
    runs = len(cmp.contenders) * cmp.trials * cmp.seeds
    result = compare(cmp, limits=UNLIMITED, device="cpu")
    batched, batched_max = median_max(timings(lambda: compare(cmp, limits=UNLIMITED, device="cpu"), args.repeat))

    K, B, S = len(cmp.contenders), cmp.trials, cmp.seeds
    every = [(k, b, s) for k in range(K) for b in range(B) for s in range(S)]
    sample = every[:: max(1, len(every) // args.naive)][: args.naive]
    configs = [result.run(k, b, s) for k, b, s in sample]
    start = cmp.problem.build().start

    def loop():
        for c in configs:
            # float64, as the comparison runs
            naive_run(cmp.problem.surface, c.optimizer, c.hp, c.start or start, cmp.n_steps, torch.float64)

    per_run, per_run_max = median_max(timings(loop, max(1, args.repeat // 2)))
    naive, naive_max = per_run / len(configs) * runs, per_run_max / len(configs) * runs
    print(
        f"compare: {K} optimizers x {B} trials x {S} seeds = {runs:,} runs x {cmp.n_steps} steps "
        f"on {cmp.problem.surface} ({result.dtype}, {result.device})"
    )
    print(f"  batched  median {batched * 1e3:8.1f} ms   max {batched_max * 1e3:8.1f} ms")
    print(f"  naive    median {naive:8.2f} s    max {naive_max:8.2f} s   (scaled from {len(configs)} runs)")
    print(f"  ratio    {naive / batched:8.0f}x (medians)")
    print(
        "  ranking: "
        + ", ".join(f"{result.label(k)} ({result.setting_text(k, int(result.tuned[k]))})" for k in result.ranking())
    )


if __name__ == "__main__":
    main()

"""The fractal classic's cost on a CPU: the previous loop against ``classics.train_grid``.

    python bench/bench_fractal.py               # whole view and its 8x zoom, 128^2 x 200 steps, 3 repeats
    python bench/bench_fractal.py --repeat 5 --num 64

Times what the Classics page and ``python -m optviz classics fractal-trainability``
run: two grids (the whole view, then the zoom onto its densest boundary). "before" is
the implementation this replaced (kept below, verbatim but for its name): float64,
every run in the batch to the last step, einsum-free but with the runs in the middle
dimension. "after" is ``train_grid`` as it is (float32, runs last, diverged runs dropped
every 8 steps, tanh through sigmoid). Each figure is the median and the max of
``--repeat`` timings after a small warm-up, on one thread (as the app runs); the
machine may be shared, so read the ratio, not the seconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared import timings  # noqa: E402

from optviz import classics  # noqa: E402
from optviz.classics import FRACTAL_NET, FRACTAL_VIEW, FractalNet, boundary_of, box_dimension  # noqa: E402


def before_train_grid(net: FractalNet, lr1, lr2, steps: int, *, bound: float = 1e6, device: str = "cpu"):
    """The previous ``classics.train_grid`` (float64, runs in the middle, no run ever dropped)."""
    x, y, w1, w2 = net.data(device=device)
    runs, (n, d), h = len(lr1), x.shape, w1.shape[1]
    w1 = w1[:, None, :].expand(d, runs, h).reshape(d, runs * h).clone()
    w2 = w2[:, 0].expand(runs, h).clone()
    lr1, lr2 = lr1.to(device, torch.float64)[:, None], lr2.to(device, torch.float64)[:, None]
    diverged = torch.full((runs,), -1, dtype=torch.long, device=device)
    log_sum = torch.zeros(runs, dtype=torch.float64, device=device)
    first = None
    for t in range(steps):
        act = torch.tanh(x @ w1).view(n, runs, h)
        err = (act * w2).sum(-1) - y
        loss = (err**2).mean(0)
        first = loss if first is None else first
        bad = ~torch.isfinite(loss) | (loss > bound * first)
        diverged = torch.where(bad & (diverged < 0), t, diverged)
        alive = diverged < 0
        log_sum += torch.where(alive, torch.log10(loss.clamp_min(1e-300)), 0.0)
        d_out = (err * (2 / n))[..., None]
        g2 = (act * d_out).sum(0)
        g1 = x.T @ (d_out * w2 * (1 - act * act)).view(n, runs * h)
        step1, step2 = lr1 * alive[:, None], lr2 * alive[:, None]
        w1 -= (step1.view(1, runs, 1) * g1.view(d, runs, h)).view(d, runs * h)
        w2 -= step2 * g2
    ran = torch.where(diverged < 0, steps, diverged.clamp_min(1))
    return diverged.cpu().numpy(), (log_sum / ran).cpu().numpy()


def two_grids(train, num: int, steps: int) -> list[float]:
    """The classic's two grids with ``train``; returns their box-counting dimensions."""
    dims, window = [], FRACTAL_VIEW
    for _ in range(2):
        lx, ly = window.axes(num)
        g1, g2 = np.meshgrid(10.0**lx, 10.0**ly)
        diverged_at, speed = train(FRACTAL_NET, torch.as_tensor(g1.ravel()), torch.as_tensor(g2.ravel()), steps)
        diverged = (diverged_at >= 0).reshape(num, num)
        boundary = boundary_of(diverged)
        dims.append(box_dimension(boundary))
        grid = {"boundary": boundary, "log_lr1": lx, "log_lr2": ly, "window": window}
        window = classics.zoom_on_boundary(grid)
    return dims


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--num", type=int, default=128)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    results = {}
    for name, train in (("before", before_train_grid), ("after", classics.train_grid)):
        two_grids(train, 16, 10)  # warm-up: first kernels
        dims = two_grids(train, args.num, args.steps)
        ts = timings(lambda train=train: two_grids(train, args.num, args.steps), args.repeat, warm=False)
        results[name] = statistics.median(ts)
        print(
            f"{name:>6}: {args.num}^2 x {args.steps} steps, two grids: median {statistics.median(ts):.2f} s, "
            f"max {max(ts):.2f} s over {args.repeat}; dimensions {dims[0]:.2f}, {dims[1]:.2f}",
            flush=True,
        )
    print(f"after is {results['before'] / results['after']:.1f}x faster (medians)")


if __name__ == "__main__":
    main()

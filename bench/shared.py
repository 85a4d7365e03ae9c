"""What the benchmarks share: the timing loop, the naive loop a user writes by hand,
and how a benchmark (or a browser test) starts Chromium."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch

# Headless, and quiet: no phoning home (and no logging of refused connections) at every start.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Chromium's user agent on an Android phone: "Mobile" in it says the browser is a phone's.
PHONE_AGENT = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
               "Chrome/126.0.0.0 Mobile Safari/537.36")

# A width probe (optviz/ui/viewport.py) that has not measured the page yet, or whose page the
# server has not yet drawn for that width.
WIDTH_PENDING = '[data-testid="stElementContainer"][class*="viewport"]:not([data-optviz-layout="drawn"])'


def timings(fn: Callable[[], object], repeat: int, warm: bool = True) -> list[float]:
    """Seconds of ``repeat`` calls of ``fn``, after one warm-up call (first-call costs,
    torch's kernels and caches, are not what a user waits for twice)."""
    if warm:
        fn()
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def median_max(times: list[float]) -> tuple[float, float]:
    return statistics.median(times), max(times)


def naive_run(surface: str, optimizer: str, hparams: dict, start, steps: int,
              dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """One run, the way a user writes it: one torch.optim optimizer stepping in Python."""
    from optviz.optim import get as get_optimizer
    from optviz.problems.surfaces import SURFACES

    f = SURFACES[surface]
    p = torch.tensor(start, dtype=dtype, requires_grad=True)
    opt = get_optimizer(optimizer).torch_cls([p], **hparams)
    for _ in range(steps):
        opt.zero_grad()
        loss = f(p)
        loss.backward()
        opt.step()
    return p.detach()

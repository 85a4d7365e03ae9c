"""torch's CPU threads, set for one computation and restored after."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def intra_op_threads(n: int | None) -> Iterator[None]:
    """torch's CPU threads for this thread's ops while inside, restored after.

    A step on a small problem is many small kernels: splitting each over cores
    costs more in waiting than it saves, more so on a server that other
    sessions share. torch keeps this per thread under OpenMP, so another
    session's thread keeps its own setting. ``None`` leaves it alone.
    """
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)

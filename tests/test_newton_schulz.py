"""Muon's batched Newton–Schulz against torch's own, one matrix at a time, bit for bit."""

from __future__ import annotations

import pytest
import torch
from torch.optim._muon import DEFAULT_A, DEFAULT_B, DEFAULT_C, _zeropower_via_newtonschulz

from optviz.optim import muon

COEFFICIENTS = (DEFAULT_A, DEFAULT_B, DEFAULT_C)


# Plain bmm/baddbmm is off in about 1 matrix in 300-3000 at 8x8, 10x10 and
# 10x6 (and rarely at 3x4, which the truth tests on "two-matrices" catch).
# This pins torch's own CPU loops for small bf16 products (torch 2.13).
# The 3000-matrix cases take seconds each: the full suite runs them, the inner loop the small ones.
SHAPES = [
    ((3, 4), 300),
    ((4, 3), 300),
    ((2, 5), 300),
    *(pytest.param(shape, 3000, marks=pytest.mark.slow) for shape in ((8, 8), (10, 10), (10, 6))),
]


@pytest.mark.parametrize("shape,count", SHAPES)
def test_batched_newton_schulz_is_torchs_per_matrix(shape, count):
    gen = torch.Generator().manual_seed(0)
    grads = torch.randn((count, *shape), generator=gen, dtype=torch.float64)
    grads *= torch.logspace(-3, 3, len(grads), dtype=torch.float64)[:, None, None]
    ours = muon._zeropower_via_newtonschulz(grads, COEFFICIENTS, 5, 1e-7)
    theirs = torch.stack([_zeropower_via_newtonschulz(g, COEFFICIENTS, 5, 1e-7) for g in grads])
    assert ours.dtype == torch.bfloat16
    assert torch.equal(ours, theirs)

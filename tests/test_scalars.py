"""The float-or-tensor helpers round like Python's float arithmetic, which is
what torch's optimizers do with their hyperparameters.

A batch large enough for torch's vectorized CPU loops (the truth tests batch
only a few runs) shows where a plain tensor op would be an ulp off.
"""

from __future__ import annotations

import torch

from optviz.optim.base import sdiv, smax, smin, spow

RUNS = 64


def _values(low, high, seed=0):
    g = torch.Generator().manual_seed(seed)
    return low + (high - low) * torch.rand(RUNS, 1, generator=g, dtype=torch.float64)


def _python(fn, *columns):
    rows = zip(*(c.flatten().tolist() for c in columns))
    return torch.tensor([[fn(*row)] for row in rows], dtype=torch.float64)


def test_spow_is_c_pow():
    beta = _values(0.7, 1.0)
    for step in (2, 3, 5, 7, 150, 299, 0.5):
        assert torch.equal(spow(beta, step), _python(lambda b, step=step: b**step, beta)), step
    psi = _values(0.0, 0.1, seed=1)
    assert torch.equal(spow(0.96, 7 * psi), _python(lambda p: 0.96 ** (7 * p), psi))


def test_sdiv_rounds_once():
    x = _values(0.5, 1.5)
    assert torch.equal(sdiv(0.7123456789, x), _python(lambda v: 0.7123456789 / v, x))
    assert torch.equal(sdiv(x, 3.0), x / 3.0)


def test_smax_smin_keep_the_float_exact():
    x = torch.zeros(RUNS, 1, dtype=torch.float64)
    assert bool((smax(x, 1e-6) == 1e-6).all())  # not 1e-6 rounded to float32
    assert bool((smin(x + 1, 0.1) == 0.1).all())
    assert smax(2.0, 3.0) == 3.0

"""Tiny problems with matrix layouts, for optimizers that treat matrices as matrices."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from optviz.optim.base import Layout, views


@dataclass(frozen=True)
class LeastSquares:
    """Least-squares fits ``mean ||W x + b - y||^2`` on fixed random data.

    Each matrix ``(m, n)`` in ``layout`` is a linear map fitted to its own data;
    a vector right after a matrix is that map's bias. The loss is smooth and
    its parameters' scales differ, so per-tensor norms matter.
    """

    layout: Layout = ((3, 4), (3,))
    samples: int = 8
    seed: int = 0
    divergence_bound: float = 1e3

    def _data(self, dtype, device):
        gen = torch.Generator().manual_seed(self.seed)
        data = []
        for shape in self.layout:
            if len(shape) == 2:
                m, n = shape
                x = torch.randn((self.samples, n), generator=gen, dtype=torch.float64)
                w_true = torch.randn((m, n), generator=gen, dtype=torch.float64)
                y = x @ w_true.T + 0.3 * torch.randn((self.samples, m), generator=gen, dtype=torch.float64)
                data.append((x.to(device, dtype), y.to(device, dtype)))
            else:
                data.append(None)
        return data

    @property
    def start(self) -> tuple[float, ...]:
        gen = torch.Generator().manual_seed(self.seed + 1)
        dims = sum(math.prod(s) for s in self.layout)
        return tuple((0.5 * torch.randn(dims, generator=gen, dtype=torch.float64)).tolist())

    def loss(self, params: Tensor, step: int = 0) -> Tensor:
        tensors = views(params, self.layout)
        total = params.new_zeros(params.shape[0])
        for i, (shape, data) in enumerate(zip(self.layout, self._data(params.dtype, params.device))):
            if data is None:
                continue
            x, y = data
            # Broadcast-multiply and sum, not einsum/matmul: BLAS would round a
            # run differently depending on how many runs share the call.
            pred = (x[None, :, None, :] * tensors[i][:, None, :, :]).sum(-1)
            if i + 1 < len(self.layout) and len(self.layout[i + 1]) == 1:
                pred = pred + tensors[i + 1].unsqueeze(1)
            total = total + ((pred - y) ** 2).mean(dim=(1, 2))
        return total

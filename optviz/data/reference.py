"""The plain training loop: one ``torch.nn`` model, one ``torch.optim`` optimizer.

What a user writes by hand, on the same mini-batches: the oracle the truth
tests hold the batched :class:`~optviz.data.problem.ModelProblem` to, and the
baseline of ``bench/bench_datasets.py``.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch

from .. import schedules as sched
from ..engine import RunConfig, resolve
from ..optim import get as get_optimizer
from ..reference import torch_loop
from .problem import ModelProblem


def reference_train(problem: ModelProblem, config: RunConfig, *, steps: int | None = None,
                    dtype: torch.dtype = torch.float64) -> dict[str, Any]:
    """Train a copy of ``problem.model`` with torch's optimizer and scheduler.

    Returns numpy arrays ``params`` (steps+1, P), flat in ``named_parameters``
    order, ``loss`` (steps+1,): the mini-batch loss at each point, and ``lr`` (steps,).
    """
    steps = problem.steps if steps is None else steps
    resolved = resolve(problem, config, steps)
    spec = get_optimizer(resolved["optimizer"])
    model = copy.deepcopy(problem.model).to(dtype)
    with torch.no_grad():
        start = torch.tensor(resolved["start"], dtype=dtype)
        offset = 0
        for p in model.parameters():
            p.copy_(start[offset : offset + p.numel()].reshape(p.shape))
            offset += p.numel()
    loss_fn = problem.loss_spec.module(problem.n_out, **problem.loss_params)
    X, y = problem.tensors(dtype)[:2]
    optimizer = spec.torch_cls(model.parameters(), **resolved["hparams"])
    schedule = sched.get(resolved["schedule"])
    scheduler = schedule.torch_factory(optimizer, resolved["schedule_args"], steps)
    t = 0

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        rows = torch.as_tensor(problem.batch(t))
        loss = loss_fn(model(X[rows]), problem.loss_spec.target(y[rows], problem.n_out, dtype))
        loss.backward()
        return loss

    def flat() -> torch.Tensor:
        return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).clone()

    params, losses = [], []

    def evaluate(step: int) -> torch.Tensor:
        nonlocal t
        t = step
        return closure()

    def at_point(step: int, loss: torch.Tensor) -> None:
        params.append(flat())
        losses.append(loss.detach().clone())

    lrs = torch_loop(optimizer, scheduler, schedule.stateful, evaluate, steps, at_point)
    return {
        "params": torch.stack(params).numpy(),
        "loss": torch.stack(losses).numpy(),
        "lr": np.array(lrs, dtype=np.float64),
    }

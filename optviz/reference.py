"""The plain loop: one ``torch.optim`` optimizer and one ``lr_scheduler`` per run.

This is what a user would write by hand. It is the oracle the tests hold the
batched engine to, and the naive baseline the benchmarks compare against.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import numpy as np
import torch

from . import schedules as sched
from .engine import Problem, RunConfig, gradient_noise, resolve
from .optim import get as get_optimizer


def _needs_closure(optimizer: torch.optim.Optimizer) -> bool:
    closure = inspect.signature(optimizer.step).parameters.get("closure")
    return closure is not None and closure.default is inspect.Parameter.empty


def torch_loop(optimizer, scheduler, stateful: bool, closure, steps: int, at_point) -> list[float]:
    """Step torch's optimizer and scheduler ``steps`` times, as a user's loop does.

    ``closure(t)`` zeroes the gradients, computes the loss at point ``t`` and its
    gradients; ``at_point(t, loss)`` records point ``t`` (``0..steps``). The
    scheduler steps after each update, ReduceLROnPlateau with the loss before
    it. Returns the LR each update used.
    """
    use_closure = _needs_closure(optimizer)
    lrs = []
    for t in range(steps + 1):
        loss = closure(t)
        at_point(t, loss)
        if t == steps:
            break
        lrs.append(optimizer.param_groups[0]["lr"])
        if use_closure:
            optimizer.step(lambda t=t: closure(t))
        else:
            optimizer.step()
        if stateful:
            scheduler.step(loss.item())
        else:
            scheduler.step()
    return lrs


def reference_run(
    problem: Problem, config: RunConfig, *, steps: int, dtype: torch.dtype = torch.float64
) -> dict[str, Any]:
    """Run ``config`` alone with torch's own optimizer and scheduler.

    Returns numpy arrays ``params`` (steps+1, dims), ``loss`` (steps+1,),
    ``grad`` (steps+1, dims) and ``lr`` (steps,), and ``state``: the final value
    of each of the spec's ``state_keys`` that torch keeps, flat like ``params``
    (a 0-d state such as ASGD's ``eta`` repeated over its tensor).
    """
    resolved = resolve(problem, config, steps)
    spec = get_optimizer(resolved["optimizer"])
    flat0 = torch.tensor(resolved["start"], dtype=dtype)
    tensors, offset = [], 0
    for shape in problem.layout:
        n = math.prod(shape)
        tensors.append(flat0[offset : offset + n].reshape(shape).clone().requires_grad_(True))
        offset += n
    optimizer = spec.torch_cls(tensors, **resolved["hparams"])
    schedule = sched.get(resolved["schedule"])
    scheduler = schedule.torch_factory(optimizer, resolved["schedule_args"], steps)
    noise = None
    if resolved["noise"]:
        noise = resolved["noise"] * gradient_noise(resolved["seed"], steps + 1, offset, dtype)
    t = 0

    def flat() -> torch.Tensor:
        return torch.cat([p.reshape(-1) for p in tensors])

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = problem.loss(flat().unsqueeze(0), t)[0]
        loss.backward()
        if noise is not None:
            start = 0
            for p in tensors:
                n = p.numel()
                p.grad.add_(noise[t, start : start + n].reshape(p.shape))
                start += n
        return loss

    params, losses, grads = [], [], []

    def at_point(step: int, loss: torch.Tensor) -> None:
        nonlocal t
        t = step
        params.append(flat().detach().clone())
        losses.append(loss.detach().clone())
        grads.append(torch.cat([p.grad.reshape(-1) for p in tensors]).clone())

    def evaluate(step: int) -> torch.Tensor:
        nonlocal t
        t = step
        return closure()

    lrs = torch_loop(optimizer, scheduler, schedule.stateful, evaluate, steps, at_point)
    state = {
        key: torch.cat([optimizer.state[p][key].expand(p.shape).flatten() for p in tensors]).double().numpy()
        for key in spec.state_keys
        if all(key in optimizer.state[p] for p in tensors)
    }
    return {
        "state": state,
        "params": torch.stack(params).numpy(),
        "loss": torch.stack(losses).numpy(),
        "grad": torch.stack(grads).numpy(),
        "lr": np.array(lrs, dtype=np.float64),
    }

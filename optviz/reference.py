"""The plain loop: one ``torch.optim`` optimizer and one ``lr_scheduler`` per run.

This is what a user would write by hand, for any problem. It is the oracle the
tests hold the batched engine to, and the naive baseline the benchmarks compare
against. A problem may give its own plain torch form (``reference(start,
dtype)``: a model trains as a real ``torch.nn`` module on its mini-batches);
otherwise its batched loss is evaluated on a batch of one.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .engine import RunConfig, gradient_noise, resolve
from .optim import get as get_optimizer
from .optim import schedules as sched
from .problems.base import Problem


def _needs_closure(optimizer: torch.optim.Optimizer) -> bool:
    closure = inspect.signature(optimizer.step).parameters.get("closure")
    return closure is not None and closure.default is inspect.Parameter.empty


def torch_loop(optimizer, scheduler, plateau: tuple[int, str] | None, closure, steps: int, at_point,
               project=None) -> list[float]:
    """Step torch's optimizer and scheduler ``steps`` times, as a user's loop does.

    ``closure(t)`` zeroes the gradients, computes the loss at point ``t`` and its
    gradients; ``at_point(t, loss)`` records point ``t`` (``0..steps``). The
    scheduler steps after each update; ReduceLROnPlateau (``plateau`` is its
    ``(period, watch)``) every ``period`` updates, with the mean of their losses
    (each taken before its update, as ``running_loss += loss.item()``) or the last.
    ``project()``, if given, runs after each ``optimizer.step()`` (a clamp onto a
    feasible set). Returns the LR each update used.
    """
    use_closure = _needs_closure(optimizer)
    lrs = []
    running, count = 0.0, 0
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
        if project is not None:
            project()
        if plateau is not None:
            period, watch = plateau
            running, count = running + loss.item(), count + 1
            if count == period:
                scheduler.step(running / count if watch == "mean" else loss.item())
                running, count = 0.0, 0
        else:
            scheduler.step()
    return lrs


def plain_form(problem: Problem, start: list[float], dtype: torch.dtype
               ) -> tuple[list[Tensor], Callable[[int], Tensor]]:
    """Leaf tensors of the problem's shapes at ``start``, and the loss at step ``t`` of them."""
    form = getattr(problem, "reference", None)
    if form is not None:
        return form(start, dtype)
    flat0 = torch.tensor(start, dtype=dtype)
    tensors, offset = [], 0
    for shape in problem.layout:
        n = math.prod(shape)
        tensors.append(flat0[offset : offset + n].reshape(shape).clone().requires_grad_(True))
        offset += n

    def loss_at(t: int) -> Tensor:
        return problem.loss(torch.cat([p.reshape(-1) for p in tensors]).unsqueeze(0), t)[0]

    return tensors, loss_at


def reference_run(
    problem: Problem, config: RunConfig, *, steps: int, dtype: torch.dtype = torch.float64
) -> dict[str, Any]:
    """Run ``config`` alone with torch's own optimizer and scheduler.

    Returns numpy arrays ``params`` (steps+1, dims), ``loss`` (steps+1,),
    ``grad`` (steps+1, dims) and ``lr`` (steps,), and ``state``: the final value
    of each of the spec's ``state_keys`` that torch keeps, flat like ``params``
    (a 0-d state such as ASGD's ``eta`` repeated over its tensor); ``states``:
    the same after every update, a list of ``steps`` dicts (what the app draws).
    """
    resolved = resolve(problem, config, steps)
    spec = get_optimizer(resolved["optimizer"])
    tensors, loss_at = plain_form(problem, resolved["start"], dtype)
    dims = sum(p.numel() for p in tensors)
    optimizer = spec.torch_cls(tensors, **resolved["hparams"])
    schedule = sched.get(resolved["schedule"])
    scheduler = schedule.torch_factory(optimizer, resolved["schedule_args"], steps)
    noise = None
    if resolved["noise"]:
        noise = resolved["noise"] * gradient_noise(resolved["seed"], steps + 1, dims, dtype)

    def flat(values) -> torch.Tensor:
        return torch.cat([v.detach().reshape(-1) for v in values]).clone()

    def closure(t: int) -> torch.Tensor:
        optimizer.zero_grad()
        loss = loss_at(t)
        loss.backward()
        if noise is not None:
            offset = 0
            for p in tensors:
                p.grad.add_(noise[t, offset : offset + p.numel()].reshape(p.shape))
                offset += p.numel()
        return loss

    params, losses, grads, states = [], [], [], []

    def torch_state() -> dict[str, np.ndarray]:
        return {
            key: torch.cat([optimizer.state[p][key].expand(p.shape).flatten() for p in tensors]).double().numpy()
            for key in spec.state_keys
            if all(isinstance(optimizer.state[p].get(key), torch.Tensor) for p in tensors)
        }

    def at_point(step: int, loss: torch.Tensor) -> None:
        params.append(flat(tensors))
        losses.append(loss.detach().clone())
        grads.append(flat(p.grad for p in tensors))
        if step > 0:  # the state the update to this point left
            states.append(torch_state())

    @torch.no_grad()
    def project() -> None:  # the problem's projection of the point, written back: p.clamp_() for a box
        point = flat(tensors).unsqueeze(0)
        problem.project(point)  # type: ignore[attr-defined]
        for p, part in zip(tensors, point[0].split([p.numel() for p in tensors])):
            p.copy_(part.reshape(p.shape))

    projects = getattr(problem, "project", None) is not None
    plateau = None
    if schedule.stateful:
        args = resolved["schedule_args"]
        plateau = (sched.plateau_period(args, problem), args["watch"])
    lrs = torch_loop(optimizer, scheduler, plateau, closure, steps, at_point, project if projects else None)
    return {
        "state": torch_state(),
        "states": states,
        "params": torch.stack(params).numpy(),
        "loss": torch.stack(losses).numpy(),
        "grad": torch.stack(grads).numpy(),
        "lr": np.array(lrs, dtype=np.float64),
    }

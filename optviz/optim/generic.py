"""Any ``torch.optim.Optimizer`` subclass, named by dotted path.

This is the slow path: one real optimizer instance per run, stepped in a Python
loop, for classes that have no batched port (``pytorch_optimizer.Lion``, a
user's own). It follows the same schedule and noise as the batched path, so
its runs can sit in the same comparison.
"""

from __future__ import annotations

import importlib
import inspect
import math
from functools import lru_cache
from typing import Any

import torch

from ..params import ConfigError, HParam
from .base import OptimizerSpec, torch_hparams


def _row(value: Any, i: int) -> Any:
    """Run ``i``'s value of a batched hyperparameter."""
    if isinstance(value, torch.Tensor):
        return float(value[i, 0])
    if isinstance(value, tuple):
        return tuple(_row(v, i) for v in value)
    return value


def _split(flat: torch.Tensor, layout) -> list[torch.Tensor]:
    out, offset = [], 0
    for shape in layout:
        n = math.prod(shape)
        out.append(flat[offset : offset + n].reshape(shape))
        offset += n
    return out


def _init(cls):
    def init(params, hp):
        # The layout arrives with the first update; build lazily there.
        return {"optimizers": None}

    return init


def _update(cls):
    needs_closure = None

    def update(params, grads, state, hp, step, ctx):
        nonlocal needs_closure
        runs = params.shape[0]
        if state["optimizers"] is None:
            state["leaves"] = [
                [p.clone().requires_grad_(True) for p in _split(params[i].detach(), ctx.layout)]
                for i in range(runs)
            ]
            state["optimizers"] = [
                cls(leaves, **{k: _row(v, i) for k, v in hp.items()})
                for i, leaves in enumerate(state["leaves"])
            ]
        for i, (leaves, opt) in enumerate(zip(state["leaves"], state["optimizers"])):
            group = opt.param_groups[0]
            for key in ("lr", "momentum", "betas"):
                if key in group and key in hp:
                    group[key] = _row(hp[key], i)
            for leaf, g in zip(leaves, _split(grads[i], ctx.layout)):
                leaf.grad = g.clone()

            def closure(leaves=leaves, opt=opt, i=i):
                opt.zero_grad()
                flat = torch.cat([p.detach().reshape(-1) for p in leaves]).unsqueeze(0)
                loss, grad = ctx.closure(flat, rows=[i])
                for leaf, g in zip(leaves, _split(grad[0], ctx.layout)):
                    leaf.grad = g.clone()
                return loss[0]

            if needs_closure is None:
                p = inspect.signature(opt.step).parameters.get("closure")
                needs_closure = p is not None and p.default is inspect.Parameter.empty
            with torch.no_grad():
                opt.step(closure) if needs_closure else opt.step()
                params[i].copy_(torch.cat([p.reshape(-1) for p in leaves]))

    return update


def _hparams(cls) -> tuple[HParam, ...]:
    try:
        raw = torch_hparams(cls)
    except (TypeError, ValueError, AssertionError):
        raw = ()
    # Arguments with no default of a known type take free text, read as a literal.
    return tuple(
        h if h.kind != "choice" or h.choices else HParam(h.name, h.default, "text", help=h.help) for h in raw
    )


@lru_cache(maxsize=64)
def load(path: str, allowed: tuple[str, ...] = ("",)) -> OptimizerSpec:
    """The OptimizerSpec for ``module.Class``; ``allowed`` lists permitted package prefixes.

    Importing runs a module's code, so a web app must pass its allow-list; only
    the CLI and the Python API (the user's own machine) allow everything ("").
    """
    module_name, _, cls_name = path.rpartition(".")
    if not module_name or not all(part.isidentifier() for part in path.split(".")):
        raise ConfigError(f"{path!r} is not a dotted path like 'pytorch_optimizer.Lion'")
    if not any(p == "" or module_name == p or module_name.startswith(p + ".") for p in allowed):
        raise ConfigError(f"optimizers from {module_name!r} are not allowed here (allowed: {', '.join(allowed)})")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import {module_name!r}: {exc}") from None
    cls = getattr(module, cls_name, None)
    if not (inspect.isclass(cls) and issubclass(cls, torch.optim.Optimizer)):
        raise ConfigError(f"{path!r} is not a torch.optim.Optimizer subclass")
    return OptimizerSpec(
        name=path,
        torch_cls=cls,
        init=_init(cls),
        update=_update(cls),
        hparams=_hparams(cls),
        summary=(inspect.getdoc(cls) or cls.__name__).splitlines()[0],
        rule="",
        elementwise=False,
    )

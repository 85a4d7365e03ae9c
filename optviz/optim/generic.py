"""Any ``torch.optim.Optimizer`` subclass, named by dotted path.

This is the slow path: one real optimizer instance per run, stepped in a Python
loop, for classes that have no batched port (``pytorch_optimizer.Lion``, a
user's own). It follows the same schedule and noise as the batched path, so
its runs can sit in the same comparison.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import inspect
import math
import sys
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


def _find(module_name: str):
    """The spec of ``module_name``, found on disk without running its code or its
    packages' (None if there is no such module). Already imported modules are taken as they are."""
    path = None
    spec = None
    parts = module_name.split(".")
    for i in range(len(parts)):
        name = ".".join(parts[: i + 1])
        module = sys.modules.get(name)
        if module is not None:
            spec, path = getattr(module, "__spec__", None), getattr(module, "__path__", None)
        else:
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            if spec is None:
                return None
            path = spec.submodule_search_locations
        if i < len(parts) - 1 and path is None:
            return None  # a module, not a package: it has no submodules
    return spec if spec is not None else sys.modules.get(module_name)


def _may_define_optimizers(module_name: str) -> bool:
    """Whether a module not yet imported could define an Optimizer: its source names one.
    Importing runs a module's code, so a module that never mentions an Optimizer (``this``,
    a stray script) is not imported merely to find that out."""
    if module_name in sys.modules:
        return True
    spec = _find(module_name)
    origin = getattr(spec, "origin", None)
    if not origin or not str(origin).endswith(".py"):
        return False  # built-in, frozen or compiled: no source to read
    try:
        with open(origin, "rb") as f:
            return b"Optimizer" in f.read(1 << 22)
    except OSError:
        return False


@lru_cache(maxsize=64)
def load(path: str, allowed: tuple[str, ...] = ("",)) -> OptimizerSpec:
    """The OptimizerSpec for ``module.Class``; ``allowed`` lists permitted package prefixes.

    Importing runs a module's code, so the name is checked before anything is imported:
    a web app passes its allow-list; the CLI and the Python API (the user's own machine)
    allow everything (""), and then a module is imported only if it is found on disk and
    its source names an Optimizer. An optimizer that cannot step on dense gradients
    (``torch.optim.SparseAdam``) is refused here, not mid-run.
    """
    module_name, _, cls_name = path.rpartition(".")
    if not module_name or not all(part.isidentifier() for part in path.split(".")):
        raise ConfigError(f"{path!r} is not a dotted path like 'pytorch_optimizer.Lion'")
    if not any(p == "" or module_name == p or module_name.startswith(p + ".") for p in allowed):
        raise ConfigError(f"optimizers from {module_name!r} are not allowed here (allowed: {', '.join(allowed)})")
    if module_name not in sys.modules:
        if _find(module_name) is None:
            raise ConfigError(f"cannot import {module_name!r}: no such module")
        if "" in allowed and not _may_define_optimizers(module_name):
            raise ConfigError(f"{module_name!r} defines no torch.optim.Optimizer (its source never names one); "
                              "not imported")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import {module_name!r}: {exc}") from None
    cls = getattr(module, cls_name, None)
    if not (inspect.isclass(cls) and issubclass(cls, torch.optim.Optimizer)):
        raise ConfigError(f"{path!r} is not a torch.optim.Optimizer subclass")
    hparams = _hparams(cls)
    _check_dense(path, cls, hparams)
    return OptimizerSpec(
        name=path,
        torch_cls=cls,
        init=_init(cls),
        update=_update(cls),
        hparams=hparams,
        summary=(inspect.getdoc(cls) or cls.__name__).splitlines()[0],
        rule="",
        elementwise=False,
        evals_per_step=_evals_per_step,
    )


def _evals_per_step(hp) -> int:
    """torch's LBFGS-style arguments, where a class takes them: at most ``max_eval`` a step."""
    max_eval, max_iter = hp.get("max_eval"), hp.get("max_iter")
    for value in (max_eval, (max_iter * 5 // 4) if isinstance(max_iter, int) and not isinstance(max_iter, bool)
                  else None):
        if isinstance(value, int) and not isinstance(value, bool):
            return max(1, value)
    return 1


def _check_dense(path: str, cls, hparams: tuple[HParam, ...]) -> None:
    """One step of the class, with its defaults, on a dense gradient: an optimizer that needs
    sparse gradients (SparseAdam: embeddings' ``sparse=True``) has no place on our problems."""
    if any(h.default is None and h.kind == "text" for h in hparams):
        return  # an argument without a default: the run's own values are checked by torch later
    p = torch.zeros(2, requires_grad=True)
    try:
        opt = cls([p], **{h.name: h.default for h in hparams})
    except Exception:  # noqa: BLE001 -- torch's constructor names a bad value when the run is checked
        return

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    closure()
    takes_closure = "closure" in inspect.signature(opt.step).parameters
    try:
        opt.step(closure) if takes_closure else opt.step()
    except Exception as exc:  # noqa: BLE001 -- whatever it is, the runs would raise it mid-run
        raise ConfigError(f"{path} cannot step on the dense gradients of these problems: {exc}") from None

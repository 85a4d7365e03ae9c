"""Learning-rate schedules: torch.optim.lr_scheduler as functions of the step.

A schedule maps step indices ``t`` (the ``t``-th optimizer step, from 0) and the
runs' base learning rates to the LR each run uses at that step, exactly as the
torch scheduler would set it (torch's scheduler steps once in its constructor,
so the first update already uses ``lr_at(0)``). Closed forms let the engine
compute any window of steps for a whole batch at once; the truth test holds
them equal to torch's own schedulers.

Schedules that cycle momentum (OneCycleLR, CyclicLR) also return the momentum
(or Adam's beta1) per step. ReduceLROnPlateau depends on the loss, so it is the
one stateful schedule (:class:`Plateau`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .optim.base import ConfigError, HParam

# lr_at(t, lr, args) -> (lr per step, momentum per step or None).
# ``t`` is a (steps, 1) float64 tensor and ``lr`` a (1, runs) one.
LrFn = Callable[[Tensor, Tensor, Mapping[str, Any]], tuple[Tensor, Tensor | None]]
# torch_factory(optimizer, args, steps) -> a torch scheduler, for the oracle.
Factory = Callable[[torch.optim.Optimizer, Mapping[str, Any], int], Any]


@dataclass(frozen=True, eq=False)  # registry entries: identity is equality
class ScheduleSpec:
    name: str
    args: tuple[HParam, ...]
    summary: str
    lr_at: LrFn | None
    torch_factory: Factory
    # A formula for the UI: LaTeX, in terms of the step t and eta_0 (the lr).
    formula: str = ""
    # Argument sets the truth test checks against torch.
    variants: tuple[Mapping[str, Any], ...] = ({},)
    stateful: bool = False

    @property
    def defaults(self) -> dict[str, Any]:
        return {a.name: a.default for a in self.args}

    def arg(self, name: str) -> HParam:
        for a in self.args:
            if a.name == name:
                return a
        known = ", ".join(a.name for a in self.args) or "none"
        raise ConfigError(f"{self.name} has no argument {name!r}; it has: {known}")

    def resolve(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        args = self.defaults
        for name, value in (overrides or {}).items():
            args[name] = self.arg(name).parse(value)
        return args


def _arg(name, default, kind, help="", **kw) -> HParam:
    if kind == "floats" and "length" not in kw:
        kw["length"] = len(default)
    return HParam(name, default, kind, help=help, **kw)


def _const(t, lr, args):
    return lr.expand(t.shape[0], lr.shape[1]), None


def _step_lr(t, lr, args):
    return lr * args["gamma"] ** torch.floor(t / args["step_size"]), None


def _torch(name: str, **fixed) -> Factory:
    cls = getattr(torch.optim.lr_scheduler, name)

    def factory(optimizer, args, steps):
        return cls(optimizer, **{**args, **fixed})

    return factory


def _constant_factory(optimizer, args, steps):
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: 1.0)


SCHEDULES: dict[str, ScheduleSpec] = {
    s.name: s
    for s in [
        ScheduleSpec(
            name="constant",
            args=(),
            summary="The learning rate stays at lr.",
            lr_at=_const,
            torch_factory=_constant_factory,
            formula=r"\eta_t = \eta_0",
        ),
        ScheduleSpec(
            name="StepLR",
            args=(
                _arg("step_size", 100, "int", "steps between decays", low=1, high=10000),
                _arg("gamma", 0.1, "float", "decay factor", low=0.0, high=1.0),
            ),
            summary="Multiply the LR by gamma every step_size steps.",
            lr_at=_step_lr,
            torch_factory=_torch("StepLR"),
            formula=r"\eta_t = \eta_0\,\gamma^{\lfloor t / s \rfloor}",
            variants=({}, {"step_size": 7, "gamma": 0.5}),
        ),
    ]
}


def get(name: str) -> ScheduleSpec:
    try:
        return SCHEDULES[name]
    except KeyError:
        raise ConfigError(
            f"unknown schedule {name!r}; choose one of: {', '.join(SCHEDULES)}"
        ) from None


def lr_table(spec: ScheduleSpec, args: Mapping[str, Any], lr: Tensor, t0: int, t1: int):
    """LR (and momentum) for steps ``t0..t1-1``: tensors of shape ``(t1 - t0, runs)``."""
    t = torch.arange(t0, t1, dtype=torch.float64).unsqueeze(1)
    return spec.lr_at(t, lr.to(torch.float64).unsqueeze(0), args)


class Plateau:
    """ReduceLROnPlateau for a batch of runs, each with its own counters."""

    def __init__(self, lr: Tensor, args: Mapping[str, Any]):
        self.args = args
        self.lr = lr.to(torch.float64).clone()
        worse = math.inf if args["mode"] == "min" else -math.inf
        self.best = torch.full_like(self.lr, worse)
        self.num_bad_epochs = torch.zeros_like(self.lr)
        self.cooldown_counter = torch.zeros_like(self.lr)

    def step(self, metric: Tensor) -> None:
        a = self.args
        current = metric.to(torch.float64)
        if a["mode"] == "min":
            better = current < (
                self.best * (1.0 - a["threshold"])
                if a["threshold_mode"] == "rel"
                else self.best - a["threshold"]
            )
        else:
            better = current > (
                self.best * (a["threshold"] + 1.0)
                if a["threshold_mode"] == "rel"
                else self.best + a["threshold"]
            )
        self.best = torch.where(better, current, self.best)
        self.num_bad_epochs = torch.where(better, 0.0, self.num_bad_epochs + 1)
        in_cooldown = self.cooldown_counter > 0
        self.cooldown_counter = torch.where(in_cooldown, self.cooldown_counter - 1, self.cooldown_counter)
        self.num_bad_epochs = torch.where(in_cooldown, 0.0, self.num_bad_epochs)
        reduce = self.num_bad_epochs > a["patience"]
        new_lr = torch.clamp(self.lr * a["factor"], min=a["min_lr"])
        self.lr = torch.where(reduce & (self.lr - new_lr > a["eps"]), new_lr, self.lr)
        self.cooldown_counter = torch.where(reduce, float(a["cooldown"]), self.cooldown_counter)
        self.num_bad_epochs = torch.where(reduce, 0.0, self.num_bad_epochs)

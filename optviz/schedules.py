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

Arguments torch requires but a user should not have to type default to None and
follow the run: its length (T_max, total_iters, total_steps: :meth:`ScheduleSpec.bind`
fills them in) or its lr (OneCycleLR's max_lr, CyclicLR's base_lr and max_lr:
``lr_at`` and the torch builder read them per run). Resolved configs keep the
None, so a config means the same thing at any number of steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.optim import lr_scheduler as tls

from .optim.base import ConfigError, HParam

# lr_at(t, lr, args) -> (lr per step, momentum per step or None), each
# broadcastable to (steps, runs). ``t`` is a (steps, 1) float64 tensor, ``lr`` a
# (1, runs) one (the runs' own lrs) and ``args`` has its run-length defaults filled in.
LrFn = Callable[[Tensor, Tensor, Mapping[str, Any]], tuple[Tensor, Tensor | None]]
# build(optimizer, args, steps) -> torch's scheduler, from args with run-length defaults filled in.
Build = Callable[[torch.optim.Optimizer, Mapping[str, Any], int], Any]
# fill(args, steps) -> values for the arguments left None that depend on the run's length.
Fill = Callable[[Mapping[str, Any], int], Mapping[str, Any]]


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    args: tuple[HParam, ...]
    summary: str
    lr_at: LrFn | None
    build: Build
    # A formula for the UI: LaTeX, in terms of the step t and eta_0 (the lr).
    formula: str = ""
    # Argument sets the truth test checks against torch.
    variants: tuple[Mapping[str, Any], ...] = ({},)
    stateful: bool = False
    fill: Fill | None = None

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

    def bind(self, args: Mapping[str, Any], steps: int) -> dict[str, Any]:
        """``args`` with the arguments left None that follow the run's length
        (T_max, total_iters, ...) set for a run of ``steps`` updates. Those that
        follow the run's lr (max_lr, ...) stay None: lr_at and build read the lr."""
        out = dict(args)
        for name, value in (self.fill(out, steps) if self.fill else {}).items():
            if out.get(name) is None:
                out[name] = value
        return out

    def torch_factory(self, optimizer: torch.optim.Optimizer, args: Mapping[str, Any], steps: int):
        """torch's own scheduler for a run of ``steps`` updates: the oracle."""
        return self.build(optimizer, self.bind(args, steps), steps)


def _arg(name, default, kind, help="", **kw) -> HParam:
    if kind == "floats" and "length" not in kw:
        kw["length"] = len(default)
    return HParam(name, default, kind, help=help, **kw)


def _refuse(bad: bool, message: str) -> None:
    """Refuse up front what torch accepts at construction but fails on mid-run."""
    if bad:
        raise ValueError(message)


def _torch(cls, check: Callable[[Mapping[str, Any], int], None] | None = None) -> Build:
    def build(optimizer, args, steps):
        if check:
            check(args, steps)
        return cls(optimizer, **args)

    return build


# -- closed forms --------------------------------------------------------------


def _step_lr(t, lr, a):
    # torch decays where t % step_size == 0: a negative step_size acts as its magnitude.
    return lr * a["gamma"] ** torch.floor(t / abs(a["step_size"])), None


# -- torch's schedulers, where they need more than the args ----------------------


def _check_step(a, steps):
    _refuse(a["step_size"] == 0, "step_size=0 makes torch's StepLR divide by zero at its first step")


# -- the registry ----------------------------------------------------------------

SCHEDULES: dict[str, ScheduleSpec] = {
    s.name: s
    for s in [
        ScheduleSpec(
            name="constant",
            args=(),
            summary="The learning rate stays at lr: the baseline to compare schedules against.",
            lr_at=lambda t, lr, a: (lr, None),
            build=lambda optimizer, a, steps: tls.LambdaLR(optimizer, lambda t: 1.0),
            formula=r"\eta_t = \eta_0",
        ),
        ScheduleSpec(
            name="StepLR",
            args=(
                _arg("step_size", 100, "int", "steps between decays", low=1, high=10000),
                _arg("gamma", 0.1, "float", "decay factor", low=0.0, high=1.0),
            ),
            summary="Multiply the LR by gamma every step_size steps: the classic staircase decay.",
            lr_at=_step_lr,
            build=_torch(tls.StepLR, _check_step),
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


def lr_table(spec: ScheduleSpec, args: Mapping[str, Any], lr: Tensor, t0: int, t1: int, steps: int):
    """LR and momentum (or None) for updates ``t0..t1-1`` of a run of ``steps``
    updates: tensors of shape ``(t1 - t0, runs)``, for runs with base lrs ``lr``."""
    t = torch.arange(t0, t1, dtype=torch.float64).unsqueeze(1)
    lr = lr.to(torch.float64).unsqueeze(0)
    values, momentum = spec.lr_at(t, lr, spec.bind(args, steps))
    shape = (t1 - t0, lr.shape[1])
    return values.expand(shape), None if momentum is None else momentum.expand(shape)


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

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

torch's recursive schedulers (MultiplicativeLR, and SequentialLR and
ChainedScheduler, which step other schedulers) are replayed step by step by
:func:`recursion`: each sub-schedule's ``get_lr`` as torch writes it, on every
run's lr at once (a loop over steps, never over runs). A formula a user types
(LambdaLR's ``lr_lambda``, CyclicLR's ``scale_fn``) is read by
:mod:`optviz.expr` and evaluated in Python doubles, as torch calls a lambda.

Arguments torch requires but a user should not have to type default to None and
follow the run: its length (T_max, total_iters, total_steps: :meth:`ScheduleSpec.bind`
fills them in) or its lr (OneCycleLR's max_lr, CyclicLR's base_lr and max_lr:
``lr_at`` and the torch builder read them per run). Resolved configs keep the
None, so a config means the same thing at any number of steps.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import torch
from torch import Tensor
from torch.optim import lr_scheduler as tls

from .. import expr
from ..params import ConfigError, HasParams, HParam, lookup

# get_lr(e, lr, base, args, initial) -> the lr torch's scheduler sets at its epoch ``e``
# from the current lr (``initial``: in its constructor's step), for every run:
# ``lr`` and ``base`` are (runs,) float64. Specs that have one can be parts of a
# SequentialLR or a ChainedScheduler.
GetLr = Callable[[int, Tensor, Tensor, Mapping[str, Any], bool], Tensor]
# closed_form(e, base, args): torch's ``_get_closed_form_lr``, which SequentialLR
# uses at a milestone (None where torch has none).
Closed = Callable[[int, Tensor, Mapping[str, Any]], Tensor]
# lr_at(t, lr, args) -> (lr per step, momentum per step or None), each
# broadcastable to (steps, runs). ``t`` is a (steps, 1) float64 tensor, ``lr`` a
# (1, runs) one (the runs' own lrs) and ``args`` has its run-length defaults filled in.
LrFn = Callable[[Tensor, Tensor, Mapping[str, Any]], tuple[Tensor, Tensor | None]]
# build(optimizer, args, steps) -> torch's scheduler, from args with run-length defaults filled in.
Build = Callable[[torch.optim.Optimizer, Mapping[str, Any], int], Any]
# fill(args, steps) -> values for the arguments left None that depend on the run's length.
Fill = Callable[[Mapping[str, Any], int], Mapping[str, Any]]


@dataclass(frozen=True, eq=False)  # registry entries: identity is equality
class ScheduleSpec(HasParams):
    name: str
    args: tuple[HParam, ...]
    summary: str
    lr_at: LrFn | None
    build: Build
    # A formula for the UI: LaTeX, in terms of the step t and eta_0 (the lr).
    formula: str = ""
    stateful: bool = False
    fill: Fill | None = None
    get_lr: GetLr | None = None
    closed_form: Closed | None = None

    noun = "argument"

    @property
    def params(self) -> tuple[HParam, ...]:  # type: ignore[override]
        return self.args

    def arg(self, name: str) -> HParam:
        return self.param(name)

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


@dataclass(frozen=True)
class FormulaArg(HParam):
    """An argument that is a formula in ``variable`` (LambdaLR's ``lr_lambda`` in
    ``epoch``, CyclicLR's ``scale_fn`` in ``x``), in optviz's safe language.

    Its value is the formula's normalised text: it reads back the same from a
    link or a JSON file, and a page shows it in a text field.
    """

    variable: str = "epoch"

    def parse(self, value: Any) -> Any:
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null")):
            if self.default is None:
                return None
            raise ConfigError(f"{self.name}: needs a formula in {self.variable}, e.g. {self.default}")
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = repr(float(value))
        if not isinstance(value, str):
            raise ConfigError(f"{self.name}: cannot read {value!r} as {self.describe()}")
        try:
            return formula(value, self.variable).text
        except ConfigError as exc:
            raise ConfigError(f"{self.name}: {exc}") from None

    def describe(self) -> str:
        return f"a formula in {self.variable}"


@lru_cache(maxsize=256)
def formula(text: str, variable: str) -> expr.Expr:
    """A schedule's formula, parsed once (FormulaError if it cannot be)."""
    return expr.parse(text, (variable,))


def _values(text: str, variable: str, points: Tensor) -> Tensor:
    """The formula at each point, in Python doubles as torch calls a lambda (with an int)."""
    fn = formula(text, variable)
    unique, inverse = torch.unique(points, return_inverse=True)
    values = [fn.value(**{variable: int(x)}) for x in unique.tolist()]
    return torch.tensor(values, dtype=torch.float64)[inverse]


def _check_factors(name: str, text: str, variable: str, points: range, what: str = "factor") -> None:
    """Refuse a formula that is not a finite number >= 0 somewhere in the run."""
    fn = formula(text, variable)
    for x in points:
        v = fn.value(**{variable: x})
        if not (math.isfinite(v) and v >= 0):
            raise ValueError(f"{name} = {text} is {v:.6g} at {variable} = {x}: the {what} must be a finite number >= 0")


def _arg(name, default, kind, help="", **kw) -> HParam:
    if kind == "floats" and "length" not in kw:
        kw["length"] = len(default)
    return HParam(name, default, kind, help=help, **kw)


def _refuse(bad: bool, message: str) -> None:
    """Refuse up front what torch accepts at construction but fails on mid-run."""
    if bad:
        raise ValueError(message)


def _run_lrs(optimizer) -> list[float]:
    """The run's own lr, per param group (the oracle may stack runs as groups)."""
    return [group["lr"] for group in optimizer.param_groups]


def _torch(cls, check: Callable[[Mapping[str, Any], int], None] | None = None) -> Build:
    def build(optimizer, args, steps):
        if check:
            check(args, steps)
        return cls(optimizer, **args)

    return build


# -- closed forms --------------------------------------------------------------


def _cosine(t, lr, eta_min, T_max):
    # CosineAnnealingLR's recursion keeps to this curve past T_max: back up to lr at 2 T_max.
    return eta_min + (lr - eta_min) * (1 + torch.cos(math.pi * t / T_max)) / 2


def _step_lr(t, lr, a):
    # torch decays where t % step_size == 0: a negative step_size acts as its magnitude.
    return lr * a["gamma"] ** torch.floor(t / abs(a["step_size"])), None


def _multistep(t, lr, a):
    # One decay per milestone reached (repeats count); torch never reaches negative ones.
    hits = sum(((t >= m).double() for m in a["milestones"] if m >= 0), torch.zeros_like(t))
    return lr * a["gamma"] ** hits, None


def _constant_lr(t, lr, a):
    f, n = a["factor"], a["total_iters"]
    # torch restores the lr on reaching total_iters after step 0; at <= 0 it never does.
    restored = (t >= n).double() if n > 0 else torch.zeros_like(t)
    return lr * (f + restored * (1 - f)), None


def _linear(t, lr, a):
    s, e, n = a["start_factor"], a["end_factor"], a["total_iters"]
    if n <= 0:  # torch sets start_factor at step 0 and then never moves
        return lr * s, None
    return lr * (s + (e - s) * t.clamp(max=n) / n), None


def _polynomial(t, lr, a):
    n = a["total_iters"]
    if n <= 0:  # torch never decays then
        return lr, None
    return lr * (1.0 - t.clamp(max=n) / n) ** a["power"], None


def _restarts(t, lr, a):
    T_0, mult = a["T_0"], a["T_mult"]
    if mult == 1:
        T_cur, T_i = torch.remainder(t, T_0), T_0
    else:
        # Cycle k starts at T_0 (mult^k - 1) / (mult - 1): few starts, exact in ints.
        starts, last = [0], float(t.max()) if t.numel() else 0.0
        while starts[-1] <= last:
            starts.append(starts[-1] + T_0 * mult ** (len(starts) - 1))
        starts = torch.tensor(starts, dtype=torch.float64)
        k = torch.searchsorted(starts, t, right=True) - 1
        T_cur, T_i = t - starts[k], T_0 * float(mult) ** k.double()
    return _cosine(T_cur, lr, a["eta_min"], T_i), None


def _scale_fn(a) -> Callable:
    """CyclicLR's amplitude scaling: the user's ``scale_fn`` formula, else the
    mode's own (for floats and tensors alike)."""
    if a["scale_fn"] is not None:
        text = a["scale_fn"]
        return lambda x: _values(text, "x", x) if isinstance(x, Tensor) else formula(text, "x").value(x=x)
    gamma = a["gamma"]
    return {
        "triangular": lambda x: 1.0,
        "triangular2": lambda x: 1 / (2.0 ** (x - 1)),
        "exp_range": lambda x: gamma**x,
    }[a["mode"]]


def _cyclic_period(a) -> tuple[float, float, bool]:
    """Steps up, steps per cycle, and whether the scaling counts steps (else cycles)."""
    up = float(a["step_size_up"])
    total = up + (float(a["step_size_down"]) if a["step_size_down"] is not None else up)
    # As torch: scale_mode applies to a scale_fn; without one, the mode decides
    # (exp_range counts steps, triangular and triangular2 cycles).
    if a["scale_fn"] is not None:
        return up, total, a["scale_mode"] == "iterations"
    return up, total, a["mode"] == "exp_range"


def _cyclic(t, lr, a):
    base = lr if a["base_lr"] is None else torch.full_like(lr, a["base_lr"])
    top = 10 * lr if a["max_lr"] is None else torch.full_like(lr, a["max_lr"])
    up, total, iterations = _cyclic_period(a)
    ratio = up / total
    cycle = torch.floor(1 + t / total)
    x = 1.0 + t / total - cycle
    rise = torch.where(x <= ratio, x / ratio, (x - 1) / (ratio - 1))
    scale = _scale_fn(a)(t if iterations else cycle)
    lr_t = base + (top - base) * rise * scale
    if not a["cycle_momentum"]:
        return lr_t, None
    hi = a["max_momentum"]
    return lr_t, hi - (hi - a["base_momentum"]) * rise * scale


def _one_cycle_phases(a):
    """torch's phases: (end_step, start_lr, end_lr, start_momentum, end_momentum)."""
    n, p = a["total_steps"], a["pct_start"]
    up = (float(p * n) - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum")
    if a["three_phase"]:
        down = (float(2 * p * n) - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum")
        return [up, down, (n - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum")]
    return [up, (n - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")]


def _one_cycle(t, lr, a):
    top = lr if a["max_lr"] is None else torch.full_like(lr, a["max_lr"])
    initial = top / a["div_factor"]
    level = dict(
        max_lr=top,
        initial_lr=initial,
        min_lr=initial / a["final_div_factor"],
        max_momentum=a["max_momentum"],
        base_momentum=a["base_momentum"],
    )
    if a["anneal_strategy"] == "cos":
        def anneal(start, end, pct):
            return end + (start - end) / 2.0 * (torch.cos(math.pi * pct) + 1)
    else:
        def anneal(start, end, pct):
            return (end - start) * pct + start
    phases = _one_cycle_phases(a)
    starts = [0.0] + [p[0] for p in phases[:-1]]
    lr_t = mom = None
    # torch takes the first phase with t <= end_step, else the last: walking back
    # from the last phase, each earlier one takes over where it applies.
    for (end, lr0, lr1, m0, m1), start in reversed(list(zip(phases, starts))):
        pct = (t - start) / (end - start)
        lr_i, mom_i = anneal(level[lr0], level[lr1], pct), anneal(level[m0], level[m1], pct)
        lr_t = lr_i if lr_t is None else torch.where(t <= end, lr_i, lr_t)
        mom = mom_i if mom is None else torch.where(t <= end, mom_i, mom)
    return lr_t, mom if a["cycle_momentum"] else None


def _warmup_cosine(t, lr, a):
    w, s = a["warmup_steps"], a["start_factor"]
    warm = lr * (s + (1.0 - s) * t / w)  # LinearLR(s, 1.0, w); unused when w == 0
    return torch.where(t < w, warm, _cosine(t - w, lr, a["eta_min"], a["T_max"])), None


# -- torch's schedulers, where they need more than the args ----------------------


def _check_step(a, steps):
    _refuse(a["step_size"] == 0, "step_size=0 makes torch's StepLR divide by zero at its first step")


def _check_cosine(a, steps):
    _refuse(a["T_max"] == 0, "T_max=0 makes torch's CosineAnnealingLR divide by zero at its first step")


def _check_constant(a, steps):
    n = a["total_iters"]
    _refuse(
        a["factor"] == 0 and 0 < n <= steps,
        "factor=0: torch's ConstantLR divides by the factor when it restores the lr at total_iters",
    )


def _check_polynomial(a, steps):
    n = a["total_iters"]
    _refuse(
        a["power"] < 0 and 0 < n <= steps,
        "power < 0: torch's PolynomialLR raises 0 to a negative power at total_iters",
    )


def _check_cyclic_scale(a, steps):
    _, total, iterations = _cyclic_period(a)
    last = steps if iterations else math.floor(1 + steps / total)
    if a["scale_fn"] is not None:
        first = 0 if iterations else 1
        _check_factors("scale_fn", a["scale_fn"], "x", range(first, last + 1), "scale")
        return
    # The built-in scalings are monotonic, so the run's last step is the extreme one.
    try:
        _scale_fn(a)(last)
    except OverflowError:
        raise ValueError(
            f"{a['mode']}'s scale overflows a float at {'step' if iterations else 'cycle'} {last}: "
            "torch raises OverflowError there"
        ) from None


def _build_cyclic(optimizer, a, steps):
    _check_cyclic_scale(a, steps)
    run_lrs = _run_lrs(optimizer)
    kw = dict(a)
    kw["base_lr"] = run_lrs if a["base_lr"] is None else a["base_lr"]
    kw["max_lr"] = [10 * lr for lr in run_lrs] if a["max_lr"] is None else a["max_lr"]
    if a["scale_fn"] is not None:
        kw["scale_fn"] = _scale_fn(a)  # a Python lambda over the formula, as a user passes one
    return tls.CyclicLR(optimizer, **kw)


def _build_one_cycle(optimizer, a, steps):
    kw = {**a, "max_lr": _run_lrs(optimizer) if a["max_lr"] is None else a["max_lr"]}
    scheduler = tls.OneCycleLR(optimizer, **kw)
    n = a["total_steps"]
    _refuse(
        n < steps,
        f"total_steps={n} is shorter than the run ({steps} steps): torch raises "
        f"'Tried to step {n + 1} times. The specified number of total steps is {n}'",
    )
    phases = _one_cycle_phases(a)
    last_start = phases[-2][0]
    _refuse(
        phases[-1][0] == last_start and steps > last_start,
        "pct_start leaves the last phase no steps, so torch divides by zero in it",
    )
    return scheduler


def _build_inverse_sqrt(optimizer, a, steps):
    ts = a["timescale"]
    _refuse(ts <= 0, f"timescale must be > 0, got {ts}")
    return tls.LambdaLR(optimizer, lambda t: (1 + t / ts) ** -0.5)


def _build_warmup_cosine(optimizer, a, steps):
    w = a["warmup_steps"]
    _refuse(w < 0, f"warmup_steps must be >= 0, got {w}")
    _check_cosine(a, steps)
    warmup = tls.LinearLR(optimizer, a["start_factor"], 1.0, total_iters=w)
    cosine = tls.CosineAnnealingLR(optimizer, a["T_max"], a["eta_min"])
    return tls.SequentialLR(optimizer, [warmup, cosine], milestones=[w])


def _fill_warmup_cosine(a, steps):
    w = steps // 10 if a["warmup_steps"] is None else a["warmup_steps"]
    return {"warmup_steps": w, "T_max": max(1, steps - w)}


# -- torch's recursive forms: what a scheduler's step does to the current lr --------
#
# Mirrors of each scheduler's ``get_lr`` (and ``_get_closed_form_lr``), in torch's
# order of operations with Python numbers for its scalars, so that replaying them
# rounds as torch does. ``e`` is the scheduler's ``last_epoch``.


def _keep(lr):
    return lr


def _lambda_get_lr(e, lr, base, a, initial):
    return base * formula(a["lr_lambda"], "epoch").value(epoch=e)


def _multiplicative_get_lr(e, lr, base, a, initial):
    return _keep(lr) if initial else lr * formula(a["lr_lambda"], "epoch").value(epoch=e)


def _step_get_lr(e, lr, base, a, initial):
    return lr if e == 0 or e % a["step_size"] != 0 else lr * a["gamma"]


def _multistep_get_lr(e, lr, base, a, initial):
    counts = Counter(a["milestones"])
    return lr if e not in counts else lr * a["gamma"] ** counts[e]


def _exponential_get_lr(e, lr, base, a, initial):
    return lr if initial else lr * a["gamma"]


def _constant_get_lr(e, lr, base, a, initial):
    if e == 0:
        return lr * a["factor"]
    return lr if e != a["total_iters"] else lr * (1.0 / a["factor"])


def _linear_get_lr(e, lr, base, a, initial):
    s, end, n = a["start_factor"], a["end_factor"], a["total_iters"]
    if e == 0:
        return lr * s
    if initial or e > n:
        return lr
    return lr * (1.0 + (end - s) / (n * s + (e - 1) * (end - s)))


def _polynomial_get_lr(e, lr, base, a, initial):
    n = a["total_iters"]
    if initial or e > n:
        return lr
    return lr * ((1.0 - e / n) / (1.0 - (e - 1) / n)) ** a["power"]


def _cosine_get_lr(e, lr, base, a, initial):
    T, eta_min = a["T_max"], a["eta_min"]
    if initial:
        return lr
    if (e - 1 - T) % (2 * T) == 0:
        return lr + (base - eta_min) * (1 - math.cos(math.pi / T)) / 2
    return (1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T)) * (lr - eta_min) + eta_min


def _restarts_get_lr(e, lr, base, a, initial):
    T_cur, T_i = e, a["T_0"]
    while T_cur >= T_i:  # torch's T_cur and T_i after e steps
        T_cur, T_i = T_cur - T_i, T_i * a["T_mult"]
    return a["eta_min"] + (base - a["eta_min"]) * (1 + math.cos(math.pi * T_cur / T_i)) / 2


def _constant_closed(e, base, a):
    return base * (a["factor"] + (e >= a["total_iters"]) * (1 - a["factor"]))


def _linear_closed(e, base, a):
    s, n = a["start_factor"], a["total_iters"]
    return base * (s + (a["end_factor"] - s) * min(n, e) / n)


class _Part:
    """One scheduler inside a replay: its spec, bound arguments and ``last_epoch``."""

    def __init__(self, spec: ScheduleSpec, args: Mapping[str, Any]):
        self.spec, self.args, self.e = spec, args, -1
        assert spec.get_lr is not None, spec.name

    def initial(self, lr, base):
        """The constructor's step."""
        self.e = 0
        return self.spec.get_lr(0, lr, base, self.args, True)

    def step(self, lr, base):
        self.e += 1
        return self.spec.get_lr(self.e, lr, base, self.args, False)

    def restart(self, lr, base):
        """SequentialLR at a milestone: ``_update_lr(0)``, the closed form where torch has one."""
        self.e = 0
        if self.spec.closed_form is not None:
            return self.spec.closed_form(0, base, self.args)
        return self.spec.get_lr(0, lr, base, self.args, False)


@lru_cache(maxsize=32)
def recursion(kind: str, parts: tuple[tuple[str, tuple], ...], milestones: tuple[int, ...],
              lrs: tuple[float, ...], n: int) -> Tensor:
    """The lr of updates ``0 .. n-1`` for runs with base lrs ``lrs``: ``(n, runs)`` float64.

    ``kind`` is ``"chain"`` (torch's ChainedScheduler: every part steps, in
    order; one part alone is that scheduler) or ``"sequential"`` (SequentialLR:
    the part whose milestones the step has reached, restarted at its milestone).
    ``parts`` are ``(name, bound args)``.
    """
    base = torch.tensor(lrs, dtype=torch.float64)
    steppers = [_Part(SCHEDULES[name], dict(args)) for name, args in parts]
    out = torch.empty((n, len(lrs)), dtype=torch.float64)
    lr = base.clone()
    if kind == "chain":
        for p in steppers:
            lr = p.initial(lr, base)
    else:
        lr = steppers[bisect.bisect_right(milestones, 0)].initial(lr, base)
    if n:
        out[0] = lr
    for t in range(1, n):
        if kind == "chain":
            for p in steppers:
                lr = p.step(lr, base)
        else:
            i = bisect.bisect_right(milestones, t)
            lr = steppers[i].restart(lr, base) if i > 0 and milestones[i - 1] == t else steppers[i].step(lr, base)
        out[t] = lr
    return out


def _replay(t, lr, kind, parts, milestones, n):
    """lr_at for a replayed schedule: rows ``t`` of its :func:`recursion` table."""
    n = max(n, int(t.max()) + 1 if t.numel() else 0)
    table = recursion(kind, parts, tuple(milestones), tuple(lr.reshape(-1).tolist()), n)
    return table[t.reshape(-1).long()], None


# -- formulas and composites: LambdaLR, MultiplicativeLR, SequentialLR, ChainedScheduler --


def _lambda_lr(t, lr, a):
    return lr * _values(a["lr_lambda"], "epoch", t), None


def _check_lambda(a, steps):
    _check_factors("lr_lambda", a["lr_lambda"], "epoch", range(steps))


def _build_lambda(optimizer, a, steps):
    _check_lambda(a, steps)
    fn = formula(a["lr_lambda"], "epoch")
    return tls.LambdaLR(optimizer, lambda epoch: fn.value(epoch=epoch))


def _multiplicative(t, lr, a):
    return _replay(t, lr, "chain", (("MultiplicativeLR", _frozen(a)),), (), a["_steps"])


def _build_multiplicative(optimizer, a, steps):
    _check_lambda(a, steps)
    # Each factor is finite and >= 0; their product may still leave the float range.
    product = 1.0
    for epoch in range(1, steps):
        product *= formula(a["lr_lambda"], "epoch").value(epoch=epoch)
        if not math.isfinite(product):
            raise ValueError(f"lr_lambda's product passes the float range at epoch {epoch}: the lr becomes inf")
    fn = formula(a["lr_lambda"], "epoch")
    return tls.MultiplicativeLR(optimizer, lambda epoch: fn.value(epoch=epoch))


def _frozen(a: Mapping[str, Any]) -> tuple:
    return tuple(sorted((k, v) for k, v in a.items() if not k.startswith("_")))


def _fill_steps(a, steps):
    return {"_steps": steps}


MAX_PARTS = 8
MAX_PARTS_TEXT = 1000
_NO_PART = {
    "CyclicLR": "it sets the momentum and the optimizer's initial lr itself, which torch then shares "
    "with the other schedules",
    "OneCycleLR": "it sets the momentum and the optimizer's initial lr itself, which torch then shares "
    "with the other schedules",
    "ReduceLROnPlateau": "torch's SequentialLR and ChainedScheduler refuse it: it needs the loss at each step",
    "WarmupCosineLR": "it is a SequentialLR already: list LinearLR and CosineAnnealingLR instead",
    "SequentialLR": "a composite inside a composite: list its parts instead",
    "ChainedScheduler": "a composite inside a composite: list its parts instead",
}
_ARG_START = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)")


def _split_top(text: str, sep: str = ",") -> list[str]:
    """``text`` split at ``sep`` outside parentheses (ValueError if they do not balance)."""
    out, depth, start = [], 0, 0
    for i, c in enumerate(text):
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                raise ValueError("a ')' without its '('")
        elif c == sep and depth == 0:
            out.append(text[start:i])
            start = i + 1
    if depth:
        raise ValueError("a '(' without its ')'")
    return [*out, text[start:]]


def parse_parts(text: str) -> list[tuple[str, dict[str, Any]]]:
    """``"LinearLR(start_factor=0.1, total_iters=10), CosineAnnealingLR"`` as
    ``[(name, args), ...]``, each part's arguments checked by its spec (ConfigError)."""
    if len(text) > MAX_PARTS_TEXT:
        raise ConfigError(f"the list of schedules is longer than {MAX_PARTS_TEXT} characters")
    try:
        items = [item.strip() for item in _split_top(text)]
    except ValueError as exc:
        raise ConfigError(f"cannot read {text!r}: {exc}") from None
    if not all(items):
        raise ConfigError(f"cannot read {text!r}: an empty schedule between commas; write e.g. "
                          "LinearLR(start_factor=0.1, total_iters=10), CosineAnnealingLR")
    if len(items) > MAX_PARTS:
        raise ConfigError(f"at most {MAX_PARTS} schedules, got {len(items)}")
    parts = []
    for item in items:
        name, paren, rest = item.partition("(")
        name = name.strip()
        if paren and not rest.rstrip().endswith(")"):
            raise ConfigError(f"cannot read {item!r}: write Name(arg=value, ...)")
        spec = get(name)
        if spec.get_lr is None:
            raise ConfigError(
                f"{spec.name} cannot be part of a SequentialLR or ChainedScheduler: {_NO_PART[spec.name]}"
            )
        raw: dict[str, str] = {}
        body = rest.rstrip()[:-1] if paren else ""
        last = None
        for piece in _split_top(body) if body.strip() else []:
            match = _ARG_START.match(piece)
            if match:
                last = match.group(1)
                if last in raw:
                    raise ConfigError(f"{spec.name}: {last} is given twice")
                raw[last] = piece[match.end():].strip()
            elif last is not None:
                raw[last] += "," + piece  # a list such as milestones=30,60
            else:
                raise ConfigError(f"cannot read {piece.strip()!r} in {item!r}: write arg=value")
        parts.append((spec.name, spec.resolve(raw)))
    return parts


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, tuple | list):
        return ",".join(_text(x) for x in v)
    return "none" if v is None else str(v)


def parts_text(parts: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    """The canonical text of ``parts``: arguments that differ from their defaults, in order."""
    out = []
    for name, args in parts:
        spec = get(name)
        given = [f"{h.name}={_text(args[h.name])}" for h in spec.args if args.get(h.name, h.default) != h.default]
        out.append(f"{name}({', '.join(given)})" if given else name)
    return ", ".join(out)


@dataclass(frozen=True)
class PartsArg(HParam):
    """The schedules a SequentialLR or ChainedScheduler steps, as text:
    ``LinearLR(start_factor=0.1, total_iters=10), CosineAnnealingLR(eta_min=1e-4)``."""

    def parse(self, value: Any) -> Any:
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            value = ", ".join(value)
        if not isinstance(value, str):
            raise ConfigError(f"{self.name}: cannot read {value!r} as {self.describe()}")
        try:
            return parts_text(parse_parts(value))
        except ConfigError as exc:
            raise ConfigError(f"{self.name}: {exc}") from None

    def describe(self) -> str:
        return "schedules like LinearLR(start_factor=0.1), CosineAnnealingLR"


def _segments(a, steps) -> list[int]:
    """Each part's share of the run: from its milestone to the next (at least 1)."""
    bounds = [0, *a["milestones"], steps]
    return [max(1, bounds[i + 1] - bounds[i]) for i in range(len(bounds) - 1)]


def _bound_parts(a, steps, kind) -> tuple[tuple[str, tuple], ...]:
    parts = parse_parts(a["schedulers"])
    if kind == "sequential" and len(parts) == len(a["milestones"]) + 1:
        lengths = _segments(a, steps)
    else:
        lengths = [steps] * len(parts)
    return tuple((name, _frozen(SCHEDULES[name].bind(args, n))) for (name, args), n in zip(parts, lengths))


def _fill_sequential(a, steps):
    k = len(parse_parts(a["schedulers"]))
    return {"milestones": tuple(i * steps // k for i in range(1, k)), "_steps": steps}


def _sequential(t, lr, a):
    return _replay(t, lr, "sequential", _bound_parts(a, a["_steps"], "sequential"), a["milestones"], a["_steps"])


def _chained(t, lr, a):
    return _replay(t, lr, "chain", _bound_parts(a, a["_steps"], "chain"), (), a["_steps"])


def _build_parts(optimizer, a, steps, kind):
    parts = _bound_parts(a, steps, kind)
    lengths = _segments(a, steps) if kind == "sequential" and len(parts) == len(a["milestones"]) + 1 \
        else [steps] * len(parts)
    return [SCHEDULES[name].build(optimizer, dict(args), n) for (name, args), n in zip(parts, lengths)]


def _build_sequential(optimizer, a, steps):
    return tls.SequentialLR(optimizer, _build_parts(optimizer, a, steps, "sequential"), list(a["milestones"]))


def _build_chained(optimizer, a, steps):
    return tls.ChainedScheduler(_build_parts(optimizer, a, steps, "chain"), optimizer)


# -- the registry ----------------------------------------------------------------

# ReduceLROnPlateau's arguments that are optviz's, not torch's: how it is fed.
PLATEAU_OWN = ("step_every", "watch")

_LAMBDA = formula("(1+epoch)^-0.5", "epoch").text
_MULTIPLICATIVE = formula("0.99", "epoch").text
_SEQUENCE = "LinearLR(start_factor=0.1), CosineAnnealingLR"
_CHAIN = "ConstantLR(factor=0.1, total_iters=20), ExponentialLR(gamma=0.99)"

_RUN = "None: the run's number of steps"


def _cosine_tex(t: str, T: str) -> str:
    return r"\eta_{min} + \tfrac12(\eta_0 - \eta_{min})\left(1 + \cos\frac{\pi\," + f"{t}}}{{{T}" + r"}\right)"

_ETA_MIN = _arg("eta_min", 0.0, "float", "the lowest lr of the cosine", low=0.0, high=1.0)
_MOMENTUM = (
    _arg("cycle_momentum", True, "bool", "cycle momentum (Adam: beta1) inversely to the lr"),
)

SCHEDULES: dict[str, ScheduleSpec] = {
    s.name: s
    for s in [
        ScheduleSpec(
            name="constant",
            args=(),
            summary="The learning rate stays at lr: the baseline to compare schedules against.",
            lr_at=lambda t, lr, a: (lr, None),
            build=lambda optimizer, a, steps: tls.LambdaLR(optimizer, lambda t: 1.0),
            get_lr=lambda e, lr, base, a, initial: base * 1.0,
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
            get_lr=_step_get_lr,
            closed_form=lambda e, base, a: base * a["gamma"] ** (e // a["step_size"]),
            formula=r"\eta_t = \eta_0\,\gamma^{\lfloor t / s \rfloor}",
        ),
        ScheduleSpec(
            name="MultiStepLR",
            args=(
                _arg(
                    "milestones",
                    None,
                    "ints",
                    "steps at which to decay, e.g. 30,60 (None: half and three quarters of the run)",
                ),
                _arg("gamma", 0.1, "float", "decay factor per milestone", low=0.0, high=1.0),
            ),
            summary="Multiply the LR by gamma at each milestone step (by default half and three "
            "quarters of the run): the staircase of ResNet-style training.",
            lr_at=_multistep,
            build=_torch(tls.MultiStepLR),
            get_lr=_multistep_get_lr,
            closed_form=lambda e, base, a: base * a["gamma"] ** bisect.bisect_right(sorted(a["milestones"]), e),
            fill=lambda a, steps: {"milestones": (steps // 2, 3 * steps // 4)},
            formula=r"\eta_t = \eta_0\,\gamma^{\#\{m \in \text{milestones}\,:\, m \le t\}}",
        ),
        ScheduleSpec(
            name="ExponentialLR",
            args=(_arg("gamma", 0.99, "float", "decay factor per step", low=0.9, high=1.0),),
            summary="Multiply the LR by gamma every step: smooth exponential decay.",
            lr_at=lambda t, lr, a: (lr * a["gamma"] ** t, None),
            build=_torch(tls.ExponentialLR),
            get_lr=_exponential_get_lr,
            closed_form=lambda e, base, a: base * a["gamma"] ** e,
            formula=r"\eta_t = \eta_0\,\gamma^{t}",
        ),
        ScheduleSpec(
            name="ConstantLR",
            args=(
                _arg("factor", 1.0 / 3, "float", "lr multiplier until total_iters", low=0.0, high=1.0),
                _arg(
                    "total_iters",
                    None,
                    "int",
                    "steps at the reduced lr (None: a quarter of the run)",
                    low=0,
                    high=10000,
                ),
            ),
            summary="Hold the LR at factor x lr for total_iters steps (by default a quarter of the "
            "run), then at lr: a crude warmup.",
            lr_at=_constant_lr,
            build=_torch(tls.ConstantLR, _check_constant),
            get_lr=_constant_get_lr,
            closed_form=_constant_closed,
            fill=lambda a, steps: {"total_iters": max(1, steps // 4)},
            formula=r"\eta_t = \eta_0 \cdot \begin{cases} f & t < T \\ 1 & t \ge T \end{cases}",
        ),
        ScheduleSpec(
            name="LinearLR",
            args=(
                _arg("start_factor", 1.0 / 3, "float", "lr multiplier at step 0", low=0.0, high=1.0),
                _arg("end_factor", 1.0, "float", "lr multiplier from total_iters on", low=0.0, high=1.0),
                _arg("total_iters", None, "int", f"steps of the ramp ({_RUN})", low=0, high=10000),
            ),
            summary="Ramp the LR multiplier linearly from start_factor to end_factor over "
            "total_iters steps (by default the whole run): linear warmup, or linear decay to zero.",
            lr_at=_linear,
            build=_torch(tls.LinearLR),
            get_lr=_linear_get_lr,
            closed_form=_linear_closed,
            fill=lambda a, steps: {"total_iters": steps},
            formula=r"\eta_t = \eta_0\left(s + (e - s)\,\frac{\min(t, T)}{T}\right)",
        ),
        ScheduleSpec(
            name="PolynomialLR",
            args=(
                _arg("total_iters", None, "int", f"steps until the lr reaches 0 ({_RUN})", low=0, high=10000),
                _arg("power", 1.0, "float", "power of the polynomial (1: linear)", low=0.0, high=5.0),
            ),
            summary="Decay the LR to zero over total_iters steps (by default the whole run) as "
            "(1 - t/T)^power: the 'poly' schedule of segmentation and BERT-style training.",
            lr_at=_polynomial,
            build=_torch(tls.PolynomialLR, _check_polynomial),
            get_lr=_polynomial_get_lr,
            closed_form=lambda e, base, a: base * (1.0 - min(a["total_iters"], e) / a["total_iters"]) ** a["power"],
            fill=lambda a, steps: {"total_iters": steps},
            formula=r"\eta_t = \eta_0\left(1 - \frac{\min(t, T)}{T}\right)^{p}",
        ),
        ScheduleSpec(
            name="CosineAnnealingLR",
            args=(
                _arg("T_max", None, "int", f"steps from lr down to eta_min ({_RUN})", low=1, high=10000),
                _ETA_MIN,
            ),
            summary="Follow a half cosine from lr down to eta_min over T_max steps (by default the "
            "whole run); torch keeps going past T_max, back up to lr at 2 T_max. The common "
            "default for training from scratch.",
            lr_at=lambda t, lr, a: (_cosine(t, lr, a["eta_min"], a["T_max"]), None),
            build=_torch(tls.CosineAnnealingLR, _check_cosine),
            get_lr=_cosine_get_lr,
            closed_form=lambda e, base, a: a["eta_min"]
            + (base - a["eta_min"]) * (1 + math.cos(math.pi * e / a["T_max"])) / 2,
            fill=lambda a, steps: {"T_max": steps},
            formula=r"\eta_t = " + _cosine_tex("t", "T_{max}"),
        ),
        ScheduleSpec(
            name="CosineAnnealingWarmRestarts",
            args=(
                _arg("T_0", None, "int", "first cycle (None: a quarter of the run)", low=1, high=10000),
                _arg("T_mult", 1, "int", "each cycle is T_mult times longer than the last", low=1, high=4),
                _ETA_MIN,
            ),
            summary="Cosine from lr down to eta_min, then jump back to lr and repeat, each cycle "
            "T_mult times longer (SGDR); the first cycle is by default a quarter of the run.",
            lr_at=_restarts,
            build=_torch(tls.CosineAnnealingWarmRestarts),
            get_lr=_restarts_get_lr,
            fill=lambda a, steps: {"T_0": max(1, steps // 4)},
            formula=r"\eta_t = " + _cosine_tex("T_{cur}", "T_i") + r",\ T_i = T_0\,T_{mult}^{\,i}",
        ),
        ScheduleSpec(
            name="OneCycleLR",
            args=(
                _arg("max_lr", None, "float", "peak lr (None: the run's lr)", low=1e-5, high=10.0, log=True),
                _arg("total_steps", None, "int", f"cycle length, >= the run's ({_RUN})", low=1, high=10000),
                _arg("pct_start", 0.3, "float", "part of the cycle spent raising the lr", low=0.0, high=1.0),
                _arg("anneal_strategy", "cos", "choice", "shape of each phase", choices=("cos", "linear")),
                *_MOMENTUM,
                _arg("base_momentum", 0.85, "float", "momentum at the lr's peak", low=0.0, high=1.0),
                _arg("max_momentum", 0.95, "float", "momentum at the start and end", low=0.0, high=1.0),
                _arg("div_factor", 25.0, "float", "initial lr = max_lr / div_factor", low=1.0, high=1e4),
                _arg("final_div_factor", 1e4, "float", "final lr = initial lr / this", low=1.0, high=1e6),
                _arg("three_phase", False, "bool", "go back to the initial lr before the final anneal"),
            ),
            summary="Warm up from max_lr/div_factor to max_lr (by default the run's lr), then anneal "
            "far below the start, over total_steps (by default the run; torch refuses a longer run), "
            "cycling momentum the other way: the 1cycle policy for fast training.",
            lr_at=_one_cycle,
            build=_build_one_cycle,
            fill=lambda a, steps: {"total_steps": steps},
            formula=r"\eta_t = \begin{cases} a\!\left(\frac{\eta_{max}}{d},\ \eta_{max},\ "
            r"\frac{t}{pN - 1}\right) & t \le pN - 1 \\ a\!\left(\eta_{max},\ \frac{\eta_{max}}{d\,d_f},\ "
            r"\frac{t - pN + 1}{N - pN}\right) & \text{else} \end{cases},\quad "
            r"a(x, y, u) = y + \tfrac{x - y}{2}\,(1 + \cos \pi u)",
        ),
        ScheduleSpec(
            name="CyclicLR",
            args=(
                _arg("base_lr", None, "float", "lower lr (None: the run's lr)", low=1e-6, high=10.0),
                _arg("max_lr", None, "float", "upper lr (None: 10 x the run's lr)", low=1e-5, high=10.0),
                _arg("step_size_up", 2000, "int", "steps from base_lr up to max_lr", low=1, high=10000),
                _arg("step_size_down", None, "int", "steps down (None: step_size_up)", low=1, high=10000),
                _arg(
                    "mode", "triangular", "choice",
                    "triangular; triangular2 halves the amplitude each cycle; exp_range scales it by gamma^t",
                    choices=("triangular", "triangular2", "exp_range"),
                ),
                _arg("gamma", 1.0, "float", "exp_range's decay per step", low=0.9, high=1.0),
                FormulaArg(
                    "scale_fn", None, "text",
                    "your own amplitude scaling, a formula in x, e.g. 0.5^(x - 1) or 1/(1 + x/1000) "
                    "(None: the mode's; with one, the mode is ignored, as in torch)",
                    variable="x",
                ),
                _arg(
                    "scale_mode", "cycle", "choice",
                    "what scale_fn's x counts: the cycle (from 1) or the iterations (from 0); as in "
                    "torch, used only with a scale_fn (the modes pick their own)",
                    choices=("cycle", "iterations"),
                ),
                *_MOMENTUM,
                _arg("base_momentum", 0.8, "float", "momentum at the lr's peak", low=0.0, high=1.0),
                _arg("max_momentum", 0.9, "float", "momentum at base_lr", low=0.0, high=1.0),
            ),
            summary="Bounce the LR in a triangle wave between base_lr (by default the run's lr) and "
            "max_lr (by default 10 x the run's lr), cycling momentum the other way: Smith's cyclical "
            "learning rates, to spend less time tuning the lr. A scale_fn formula replaces the mode's "
            "amplitude scaling.",
            lr_at=_cyclic,
            build=_build_cyclic,
            formula=r"c = \left\lfloor 1 + \tfrac{t}{u + d} \right\rfloor,\ x = 1 + \tfrac{t}{u + d} - c,\ "
            r"h = \begin{cases} \frac{x (u + d)}{u} & x \le \frac{u}{u + d} \\ \frac{(1 - x)(u + d)}{d}"
            r" & \text{else} \end{cases},\ \eta_t = \eta_{base} + (\eta_{max} - \eta_{base})\,h\,s,\ "
            r"s = 1,\ 2^{1 - c},\ \gamma^t \text{ or scale\_fn}(c \text{ or } t)",
        ),
        ScheduleSpec(
            name="ReduceLROnPlateau",
            args=(
                _arg("mode", "min", "choice", "min: the loss should fall; max: rise", choices=("min", "max")),
                _arg("factor", 0.1, "float", "lr multiplier at each reduction", low=0.0, high=0.99),
                _arg("patience", 10, "int", "steps without improvement tolerated", low=0, high=1000),
                _arg("threshold", 1e-4, "float", "the least change that counts as better", low=0.0, high=1.0),
                _arg("threshold_mode", "rel", "choice", "rel or abs threshold", choices=("rel", "abs")),
                _arg("cooldown", 0, "int", "steps to wait after a reduction", low=0, high=1000),
                _arg("min_lr", 0.0, "float", "the lr never goes below this", low=0.0, high=1.0),
                _arg("eps", 1e-8, "float", "smaller reductions are skipped", low=0.0, high=1e-3),
                _arg(
                    "step_every", None, "int",
                    "updates between two scheduler.step(loss) calls (None: once per epoch on a dataset, "
                    "as a training loop does; every update on a surface)",
                    low=1, high=100000,
                ),
                _arg(
                    "watch", "mean", "choice",
                    "the loss it is given: mean, the mean of the losses of the updates since it last "
                    "stepped (an epoch's training loss, as a loop summing loss.item() has it); last, the "
                    "loss of the last update alone",
                    choices=("mean", "last"),
                ),
            ),
            summary="Cut the LR by factor when the loss has not improved for patience steps of the "
            "scheduler: the adaptive decay for when you do not know the run's length. On a dataset "
            "it steps once per epoch on the epoch's training loss (scheduler.step(loss) after each "
            "epoch); on a surface, after every update on the loss before it.",
            lr_at=None,
            build=lambda optimizer, a, steps: tls.ReduceLROnPlateau(
                optimizer, **{k: v for k, v in a.items() if k not in PLATEAU_OWN}
            ),
            formula=r"\eta \leftarrow \max(f\,\eta,\ \eta_{min})\ \text{after more than } p"
            r"\text{ steps without improvement}",
            stateful=True,
        ),
        ScheduleSpec(
            name="InverseSqrtLR",
            args=(
                _arg("timescale", 1.0, "float", "the step at which lr/sqrt(2)", low=1.0, high=1e4, log=True),
            ),
            summary="Decay the LR as 1/sqrt(1 + t/timescale) (torch's LambdaLR): the Transformer "
            "schedule after warmup, for runs with no fixed end.",
            lr_at=lambda t, lr, a: (lr * (1 + t / a["timescale"]) ** -0.5, None),
            build=_build_inverse_sqrt,
            get_lr=lambda e, lr, base, a, initial: base * (1 + e / a["timescale"]) ** -0.5,
            formula=r"\eta_t = \frac{\eta_0}{\sqrt{1 + t/\tau}}",
        ),
        ScheduleSpec(
            name="WarmupCosineLR",
            args=(
                _arg("warmup_steps", None, "int", "warmup steps (None: a tenth of the run)", low=0, high=1e4),
                _arg("start_factor", 0.01, "float", "lr multiplier at step 0", low=0.0, high=1.0),
                _arg("T_max", None, "int", "cosine steps (None: the rest of the run)", low=1, high=10000),
                _ETA_MIN,
            ),
            summary="Linear warmup from start_factor x lr to lr over warmup_steps (by default a tenth "
            "of the run), then cosine down to eta_min over T_max steps (by default the rest): torch's "
            "SequentialLR of LinearLR and CosineAnnealingLR, the usual recipe for Transformers.",
            lr_at=_warmup_cosine,
            build=_build_warmup_cosine,
            fill=_fill_warmup_cosine,
            formula=r"\eta_t = \begin{cases} \eta_0\left(s + (1 - s)\,t / w\right) & t < w \\ "
            + _cosine_tex("(t - w)", "T_{max}")
            + r" & t \ge w \end{cases}",
        ),
        ScheduleSpec(
            name="LambdaLR",
            args=(
                FormulaArg(
                    "lr_lambda", _LAMBDA, "text",
                    "the lr multiplier, a formula in epoch (the step), e.g. (1+epoch)^-0.5, 0.95^epoch "
                    "or min(1, (epoch+1)/10)",
                ),
            ),
            summary="The LR is lr times your formula in epoch (the step number): torch's LambdaLR with "
            "a lambda you type, such as (1+epoch)^-0.5, 0.95^epoch, or a warmup min(1, (epoch+1)/10).",
            lr_at=_lambda_lr,
            build=_build_lambda,
            get_lr=_lambda_get_lr,
            formula=r"\eta_t = \eta_0\,\lambda(t)",
        ),
        ScheduleSpec(
            name="MultiplicativeLR",
            args=(
                FormulaArg(
                    "lr_lambda", _MULTIPLICATIVE, "text",
                    "the factor the lr is multiplied by at each step, a formula in epoch, e.g. 0.99 or "
                    "where(epoch < 100, 1, 0.98)",
                ),
            ),
            summary="Multiply the LR by your formula in epoch at every step after the first: torch's "
            "MultiplicativeLR (0.99 is ExponentialLR with gamma 0.99).",
            lr_at=_multiplicative,
            build=_build_multiplicative,
            fill=_fill_steps,
            get_lr=_multiplicative_get_lr,
            formula=r"\eta_t = \eta_{t-1}\,\lambda(t),\ \eta_0 = \eta",
        ),
        ScheduleSpec(
            name="SequentialLR",
            args=(
                PartsArg(
                    "schedulers", _SEQUENCE, "text",
                    "the schedules in turn, with their arguments, e.g. LinearLR(start_factor=0.1), "
                    "CosineAnnealingLR(eta_min=1e-4); a length left None is that part's share of the run",
                ),
                _arg(
                    "milestones", None, "ints",
                    "the steps at which the next schedule takes over, one fewer than the schedules "
                    "(None: equal shares of the run)",
                ),
            ),
            summary="Run several schedules one after the other, the next taking over at each milestone "
            "(restarted from the base lr, as torch's SequentialLR does): warmup, then cosine, then a "
            "constant tail.",
            lr_at=_sequential,
            build=_build_sequential,
            fill=_fill_sequential,
            formula=r"\eta_t = \text{schedule}_k(t - m_k)\ \text{for } m_k \le t < m_{k+1}",
        ),
        ScheduleSpec(
            name="ChainedScheduler",
            args=(
                PartsArg(
                    "schedulers", _CHAIN, "text",
                    "the schedules that all step together, in order, with their arguments, e.g. "
                    "ConstantLR(factor=0.1, total_iters=20), ExponentialLR(gamma=0.99)",
                ),
            ),
            summary="Step several schedules together, each acting on the lr the one before it set "
            "(torch's ChainedScheduler): multiplicative ones compose, e.g. a ConstantLR warmup times an "
            "exponential decay. A LambdaLR or a cosine in the chain resets the lr from the base lr, as in torch.",
            lr_at=_chained,
            build=_build_chained,
            fill=_fill_steps,
            formula=r"\eta_t = s_K(\cdots s_2(s_1(\eta_{t-1})))",
        ),
    ]
}


def get(name: str) -> ScheduleSpec:
    return lookup(SCHEDULES, name, "schedule")


def lr_table(spec: ScheduleSpec, args: Mapping[str, Any], lr: Tensor, t0: int, t1: int, steps: int):
    """LR and momentum (or None) for updates ``t0..t1-1`` of a run of ``steps``
    updates: tensors of shape ``(t1 - t0, runs)``, for runs with base lrs ``lr``."""
    t = torch.arange(t0, t1, dtype=torch.float64).unsqueeze(1)
    lr = lr.to(torch.float64).unsqueeze(0)
    values, momentum = spec.lr_at(t, lr, spec.bind(args, steps))
    shape = (t1 - t0, lr.shape[1])
    return values.expand(shape), None if momentum is None else momentum.expand(shape)


def plateau_period(args: Mapping[str, Any], problem: Any) -> int:
    """Updates between ReduceLROnPlateau's steps: ``step_every``, else an epoch
    (a problem's ``steps_per_epoch``; 1 on a surface)."""
    every = args.get("step_every")
    return int(every) if every is not None else int(getattr(problem, "steps_per_epoch", 1))


class Plateau:
    """ReduceLROnPlateau for a batch of runs, each with its own counters.

    :meth:`observe` takes each update's loss and calls :meth:`step` every
    ``period`` updates with what a training loop hands ``scheduler.step``: the
    mean of the period's losses (summed in Python doubles, in order, then
    divided) or the last one.
    """

    def __init__(self, lr: Tensor, args: Mapping[str, Any], period: int = 1):
        self.args, self.period = args, period
        self.lr = lr.to(torch.float64).clone()
        worse = math.inf if args["mode"] == "min" else -math.inf
        self.best = torch.full_like(self.lr, worse)
        self.num_bad_epochs = torch.zeros_like(self.lr)
        self.cooldown_counter = torch.zeros_like(self.lr)
        self._sum = torch.zeros_like(self.lr)
        self._count = 0

    def observe(self, loss: Tensor) -> None:
        """The loss before one update (the update itself done)."""
        loss = loss.to(torch.float64)
        self._sum = self._sum + loss
        self._count += 1
        if self._count == self.period:
            mean = self.args.get("watch", "mean") == "mean"
            self.step(self._sum / self._count if mean else loss)
            self._sum, self._count = torch.zeros_like(self.lr), 0

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

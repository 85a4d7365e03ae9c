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

from ..params import HasParams, HParam, lookup

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


def _scale_fn(mode: str, gamma: float) -> Callable:
    """CyclicLR's built-in amplitude scalings (for floats and tensors alike)."""
    return {
        "triangular": lambda x: 1.0,
        "triangular2": lambda x: 1 / (2.0 ** (x - 1)),
        "exp_range": lambda x: gamma**x,
    }[mode]


def _cyclic_period(a) -> tuple[float, float, bool]:
    """Steps up, steps per cycle, and whether the scaling counts steps (else cycles)."""
    up = float(a["step_size_up"])
    total = up + (float(a["step_size_down"]) if a["step_size_down"] is not None else up)
    # Without a scale_fn torch ignores scale_mode: exp_range counts steps, the others cycles.
    scale_mode = a["scale_mode"] or ("iterations" if a["mode"] == "exp_range" else "cycle")
    return up, total, scale_mode == "iterations"


def _cyclic(t, lr, a):
    base = lr if a["base_lr"] is None else torch.full_like(lr, a["base_lr"])
    top = 10 * lr if a["max_lr"] is None else torch.full_like(lr, a["max_lr"])
    up, total, iterations = _cyclic_period(a)
    ratio = up / total
    cycle = torch.floor(1 + t / total)
    x = 1.0 + t / total - cycle
    rise = torch.where(x <= ratio, x / ratio, (x - 1) / (ratio - 1))
    scale = _scale_fn(a["mode"], a["gamma"])(t if iterations else cycle)
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
        anneal = lambda start, end, pct: end + (start - end) / 2.0 * (torch.cos(math.pi * pct) + 1)
    else:
        anneal = lambda start, end, pct: (end - start) * pct + start
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
    # The scale functions are monotonic, so the run's last step is the extreme one.
    _, total, iterations = _cyclic_period(a)
    x = steps if iterations else math.floor(1 + steps / total)
    try:
        _scale_fn(a["mode"], a["gamma"])(x)
    except OverflowError:
        raise ValueError(
            f"{a['mode']}'s scale overflows a float at {'step' if iterations else 'cycle'} {x}: "
            "torch raises OverflowError there"
        ) from None


def _build_cyclic(optimizer, a, steps):
    _check_cyclic_scale(a, steps)
    run_lrs = _run_lrs(optimizer)
    kw = dict(a)
    kw["base_lr"] = run_lrs if a["base_lr"] is None else a["base_lr"]
    kw["max_lr"] = [10 * lr for lr in run_lrs] if a["max_lr"] is None else a["max_lr"]
    if a["scale_mode"] is None:
        del kw["scale_mode"]  # torch's default: the mode picks it
    else:
        # torch honours scale_mode only with a scale_fn: pass the mode's own.
        kw["scale_fn"] = _scale_fn(a["mode"], a["gamma"])
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


# -- the registry ----------------------------------------------------------------

_RUN = "None: the run's number of steps"


def _cosine_tex(t: str, T: str) -> str:
    return r"\eta_{min} + \tfrac12(\eta_0 - \eta_{min})\left(1 + \cos\frac{\pi\,%s}{%s}\right)" % (t, T)

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
            fill=lambda a, steps: {"milestones": (steps // 2, 3 * steps // 4)},
            formula=r"\eta_t = \eta_0\,\gamma^{\#\{m \in \text{milestones}\,:\, m \le t\}}",
        ),
        ScheduleSpec(
            name="ExponentialLR",
            args=(_arg("gamma", 0.99, "float", "decay factor per step", low=0.9, high=1.0),),
            summary="Multiply the LR by gamma every step: smooth exponential decay.",
            lr_at=lambda t, lr, a: (lr * a["gamma"] ** t, None),
            build=_torch(tls.ExponentialLR),
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
                _arg(
                    "scale_mode", None, "choice",
                    "what the mode's scaling counts: cycle or iterations (None: torch's choice for the "
                    "mode, cycle for triangular/triangular2, iterations for exp_range)",
                    choices=(None, "cycle", "iterations"),
                ),
                *_MOMENTUM,
                _arg("base_momentum", 0.8, "float", "momentum at the lr's peak", low=0.0, high=1.0),
                _arg("max_momentum", 0.9, "float", "momentum at base_lr", low=0.0, high=1.0),
            ),
            summary="Bounce the LR in a triangle wave between base_lr (by default the run's lr) and "
            "max_lr (by default 10 x the run's lr), cycling momentum the other way: Smith's cyclical "
            "learning rates, to spend less time tuning the lr.",
            lr_at=_cyclic,
            build=_build_cyclic,
            formula=r"c = \left\lfloor 1 + \tfrac{t}{u + d} \right\rfloor,\ x = 1 + \tfrac{t}{u + d} - c,\ "
            r"h = \begin{cases} \frac{x (u + d)}{u} & x \le \frac{u}{u + d} \\ \frac{(1 - x)(u + d)}{d}"
            r" & \text{else} \end{cases},\ \eta_t = \eta_{base} + (\eta_{max} - \eta_{base})\,h\,s,\ "
            r"s = 1,\ 2^{1 - c},\ \gamma^t",
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
            ),
            summary="Cut the LR by factor when the loss has not improved for patience steps: the "
            "adaptive decay for when you do not know the run's length. Here it watches each "
            "run's loss before the step.",
            lr_at=None,
            build=_torch(tls.ReduceLROnPlateau),
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

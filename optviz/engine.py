"""Run many optimizer configurations as one batched computation.

A *run* is an optimizer with its hyperparameters, an LR schedule, a start point,
an optional gradient-noise level and a seed, on a *problem* (any
:class:`~optviz.problems.base.Problem`: a surface, a model on a dataset, ...).
A :class:`Stepper` steps every run together: parameters are one ``(runs, dims)``
tensor, one autograd call gives every run's gradient, and each optimizer
updates all of its runs in one batched call.

This module's public API is all that the app, the CLI, training and sweeps
call: :func:`run` (with an ``on_chunk`` callback to draw or cancel while it
computes), :func:`stream` (a generator of :class:`Chunk`), :class:`Stepper`,
:func:`resolve` and :func:`gradient_noise`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from torch import Tensor

from . import config, cost
from .config import Limits
from .optim import base
from .optim import get as get_optimizer
from .optim import schedules as sched
from .optim.base import Context, OptimizerSpec
from .params import ConfigError, freeze
from .problems.base import Layout, Problem
from .threads import intra_op_threads

# ``evals``: each run's loss-and-gradient evaluations by each point (LBFGS makes several a step).
# ``norms``: per update, a few numbers per run instead of every weight (see Stepper._record_norms):
# a model's state in memory that does not grow with its size.
RECORDABLE = ("params", "loss", "lr", "grad", "state", "evals", "norms")
# Per-coordinate quantiles of step ÷ gradient that ``norms`` records, and the most elements
# torch.nanquantile takes at once (a larger batch is summarized on a strided subset).
NORM_QUANTILES = (0.1, 0.5, 0.9)
QUANTILE_ELEMENTS = 1 << 24
# Progress reports per computation when the caller names no chunk: a smooth bar,
# and negligible bookkeeping.
PROGRESS_CHUNKS = 20
DEFAULT_RECORD = ("params", "loss", "lr")


@dataclass(frozen=True)
class RunConfig:
    """One run. ``hparams`` and ``schedule_args`` use torch's names.

    Mappings are stored as sorted tuples so that a config is hashable (it keys
    caches) and compares by value.
    """

    optimizer: str = "SGD"
    hparams: Any = ()
    schedule: str = "constant"
    schedule_args: Any = ()
    start: tuple[float, ...] | None = None
    noise: float = 0.0
    seed: int = 0
    label: str = ""
    color: str = ""  # a CSS colour for charts; empty picks from the palette

    def __post_init__(self):
        object.__setattr__(self, "hparams", freeze(self.hparams))
        object.__setattr__(self, "schedule_args", freeze(self.schedule_args))
        if self.start is not None:
            object.__setattr__(self, "start", tuple(self.start))

    @property
    def hp(self) -> dict[str, Any]:
        return dict(self.hparams)

    @property
    def sargs(self) -> dict[str, Any]:
        return dict(self.schedule_args)

    def to_dict(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer,
            "hparams": self.hp,
            "schedule": self.schedule,
            "schedule_args": self.sargs,
            "start": list(self.start) if self.start is not None else None,
            "noise": self.noise,
            "seed": self.seed,
            "label": self.label,
            "color": self.color,
        }


@dataclass
class Chunk:
    """Results for the points ``start .. start + len(loss) - 1``.

    Points are indexed like torch's loop: point 0 is the start, point ``t + 1``
    follows the ``t``-th update. ``lr`` and ``state/*`` belong to updates
    ``start ..``; the last chunk carries one point more than updates.
    Arrays are ``(steps, runs, ...)``; a diverged run reads NaN from its
    divergence on.
    """

    start: int
    arrays: dict[str, np.ndarray]
    done: bool
    steps: int  # the total number of updates the stream will make
    params_steps: np.ndarray  # the points whose ``params`` are kept (every ``keep_every``-th and the last)


@dataclass
class Result:
    """A finished batch: per-step arrays plus per-run summaries."""

    configs: list[RunConfig]
    resolved: list[dict[str, Any]]
    arrays: dict[str, np.ndarray]
    final_loss: np.ndarray
    final_params: np.ndarray  # (runs, dims); NaN where the run diverged
    best_loss: np.ndarray
    best_step: np.ndarray
    diverged_at: np.ndarray  # -1 where the run never diverged
    wall_time: float
    run_time: np.ndarray  # seconds of the batch attributed to each run (its share of the work)
    device: str
    dtype: str
    steps: int
    params_steps: np.ndarray  # the points ``arrays["params"]`` holds, in order

    def __len__(self) -> int:
        return len(self.configs)

    def run(self, i: int) -> dict[str, Any]:
        """Run ``i`` as plain values: what the CLI writes as JSON."""
        out = {
            "label": self.configs[i].label,
            **self.resolved[i],
            "final_loss": finite_or_none(self.final_loss[i]),
            "best_loss": finite_or_none(self.best_loss[i]),
            "best_step": int(self.best_step[i]),
            "diverged_at": None if self.diverged_at[i] < 0 else int(self.diverged_at[i]),
        }
        for key, arr in self.arrays.items():
            out[key] = _nan_to_none(arr[:, i].tolist())
        return out


def finite_or_none(x: float) -> float | None:
    """A number for JSON and tables: None where it is NaN or infinite (a diverged run)."""
    return float(x) if math.isfinite(x) else None


def _nan_to_none(values):
    if isinstance(values, list):
        return [_nan_to_none(v) for v in values]
    return values if math.isfinite(values) else None


# -- planning -----------------------------------------------------------------


@dataclass
class _Group:
    """Runs that share an optimizer and its structural hyperparameters."""

    spec: OptimizerSpec
    rows: slice
    hp: dict[str, Any]
    state: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Plan:
    order: np.ndarray  # batch row -> config index
    resolved: list[dict[str, Any]]  # per config, in config order
    groups: list[_Group]
    starts: Tensor
    base_lr: Tensor  # (runs,) in batch order
    schedule_cols: list[tuple[sched.ScheduleSpec, dict[str, Any], Tensor]]  # rows per config
    noise_std: Tensor | None
    noise_seeds: list[int]  # the distinct seeds of the noisy runs
    noise_index: Tensor | None  # (runs,): each run's row in noise_seeds


def resolve(
    problem: Problem, config: RunConfig, steps: int, allowed: tuple[str, ...] = ("",)
) -> dict[str, Any]:
    """Validate one config against torch and fill in every default.

    ``allowed`` lists the packages whose optimizers may be named by dotted
    path. Raises ConfigError with a message fit to show a user.
    """
    spec = get_optimizer(config.optimizer, allowed)
    hp = spec.resolve(config.hp)
    if "lr" not in hp:
        raise ConfigError(f"{spec.name} takes no 'lr' argument, so no schedule can drive it")
    schedule = sched.get(config.schedule)
    args = schedule.resolve(config.sargs)
    _check_lr(spec, hp, problem.layout)
    # A sweep has one config per lr: validate the rest once, at a stand-in lr.
    _validate(spec, freeze({**hp, "lr": 1e-3}), schedule, freeze(args), problem.layout, steps)
    start = _checked_start(problem, config.start)
    if not (math.isfinite(config.noise) and config.noise >= 0):
        raise ConfigError(f"noise must be a finite number >= 0, got {config.noise}")
    return {
        "optimizer": spec.name,
        "hparams": hp,
        "schedule": schedule.name,
        "schedule_args": args,
        "start": start,
        "noise": float(config.noise),
        "seed": int(config.seed),
    }


def _check_lr(spec: OptimizerSpec, hp: dict[str, Any], layout: Layout) -> None:
    lr = hp["lr"]
    if not (isinstance(lr, float) and lr >= 0):
        spec.validate(hp, layout)  # torch's own message for a bad lr


def _checked_start(problem: Problem, start) -> list[float]:
    dims = sum(math.prod(s) for s in problem.layout)
    start = start if start is not None else problem.start
    if len(start) != dims:
        raise ConfigError(f"start point needs {dims} coordinates, got {len(start)}")
    if not all(math.isfinite(float(v)) for v in start):
        raise ConfigError("start point must be finite numbers")
    return [float(v) for v in start]


def _resolve_all(problem: Problem, configs: Sequence[RunConfig], steps: int, allowed) -> list[dict[str, Any]]:
    """:func:`resolve` for every config. A sweep's thousands of runs differ only
    in lr or start: they share one resolution (torch's checks run once), and
    each run's own lr and start are still checked."""
    shared: dict[Any, tuple[dict[str, Any], OptimizerSpec]] = {}
    out = []
    for c in configs:
        hp = dict(c.hparams)
        lr = hp.pop("lr", None)
        key = (c.optimizer, tuple(hp.items()), c.schedule, c.schedule_args, c.noise, c.seed)
        try:
            first = shared.get(key)
        except TypeError:  # an unhashable value: no sharing
            out.append(resolve(problem, c, steps, allowed))
            continue
        if first is None:
            r = resolve(problem, c, steps, allowed)
            shared[key] = (r, get_optimizer(r["optimizer"], allowed))
        else:
            r, spec = first
            lr = spec.defaults["lr"] if lr is None else spec.hparam("lr").parse(lr)
            r = {**r, "hparams": {**r["hparams"], "lr": lr}, "start": _checked_start(problem, c.start)}
            _check_lr(spec, r["hparams"], problem.layout)
        out.append(r)
    return out


@lru_cache(maxsize=4096)
def _validate(spec, hp, schedule, args, layout, steps):
    """Build torch's optimizer and scheduler on placeholders: torch's checks, torch's words."""
    hp, args = dict(hp), dict(args)
    spec.validate(hp, layout)
    placeholders = [torch.zeros(shape, requires_grad=True) for shape in layout]
    optimizer = spec.torch_cls(placeholders, **hp)
    try:
        schedule.torch_factory(optimizer, args, steps)
    except (ValueError, TypeError, ZeroDivisionError, RuntimeError) as exc:
        raise ConfigError(f"{schedule.name}: {exc}") from None


def _plan(problem, configs, steps, device, dtype, allowed) -> _Plan:
    resolved = _resolve_all(problem, configs, steps, allowed)
    specs = [get_optimizer(r["optimizer"], allowed) for r in resolved]

    def group_key(i):
        spec, hp = specs[i], resolved[i]["hparams"]
        structural = tuple((h.name, hp[h.name]) for h in spec.hparams if not h.batchable)
        return (spec.name, structural)

    keys = [group_key(i) for i in range(len(configs))]
    distinct = list(dict.fromkeys(keys))
    order = np.array(sorted(range(len(configs)), key=lambda i: distinct.index(keys[i])), dtype=np.int64)
    like = torch.empty((), dtype=dtype, device=device)
    groups, row = [], 0
    for key in distinct:
        members = [i for i in order if keys[i] == key]
        spec = specs[members[0]]
        hp = base.batch_hparams(spec.hparams, [resolved[i]["hparams"] for i in members], like)
        groups.append(_Group(spec, slice(row, row + len(members)), hp))
        row += len(members)

    starts = torch.tensor([resolved[i]["start"] for i in order], dtype=dtype, device=device)
    base_lr = torch.tensor([resolved[i]["hparams"]["lr"] for i in order], dtype=torch.float64)
    position = {int(i): r for r, i in enumerate(order)}
    by_schedule: dict[Any, list[int]] = {}
    for i, r in enumerate(resolved):
        by_schedule.setdefault((r["schedule"], freeze(r["schedule_args"])), []).append(position[i])
    schedule_cols = [
        (sched.get(name), dict(args), torch.tensor(rows, dtype=torch.int64))
        for (name, args), rows in by_schedule.items()
    ]

    noise_std, seeds, noise_index = None, [], None
    noisy = [r["noise"] for r in (resolved[i] for i in order)]
    if any(noisy):
        seeds = sorted({resolved[i]["seed"] for i in order})
        noise_index = torch.tensor([seeds.index(resolved[i]["seed"]) for i in order], device=device)
        noise_std = torch.tensor(noisy, dtype=dtype, device=device).unsqueeze(1)
    return _Plan(order, resolved, groups, starts, base_lr, schedule_cols, noise_std, seeds, noise_index)


def gradient_noise(seed: int, steps: int, dims: int, dtype=torch.float64, start: int = 0) -> Tensor:
    """The standard-normal noise added to the gradient at points ``start ..
    start + steps - 1``, for a seed: ``(steps, dims)``.

    Counter-based: the noise at point ``t`` is
    ``numpy.random.default_rng([seed % 2**64, t]).standard_normal(dims)``, drawn in
    float64 and rounded to ``dtype``. It depends on the seed and the point alone,
    so step 100 is the same in a run of 100 steps or 300, a chunk of a stream
    draws only its own points, and runs that share a seed see the same noise
    (a fair comparison) whatever else is in the batch.
    """
    key = int(seed) % 2**64
    rows = [np.random.default_rng([key, t]).standard_normal(dims) for t in range(start, start + steps)]
    return torch.as_tensor(np.array(rows, dtype=np.float64).reshape(steps, dims)).to(dtype)


def choose_device(device: str, work: int) -> torch.device:
    """``auto`` picks CUDA when it is there and the batch is big enough to pay."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() and work >= 1 << 16 else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for, but CUDA is not available here")
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(f"unknown device {device!r}: {exc}") from None
    if chosen.type not in ("cpu", "cuda"):  # meta, mps, xla, ...: no data to read back, or not here
        raise ConfigError(f"device {device!r} is not one optviz computes on: auto, cpu or cuda")
    return chosen


def _dtype(dtype: str | torch.dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    table = {"float32": torch.float32, "float64": torch.float64}
    if dtype not in table:
        raise ConfigError(f"dtype must be float32 or float64, got {dtype!r}")
    return table[dtype]


# -- stepping -----------------------------------------------------------------


def _loss_and_grad(problem: Problem, params: Tensor, step: int) -> tuple[Tensor, Tensor]:
    # A hand-written gradient, where a problem has one, skips the autograd
    # engine, whose fixed cost per call dominates small batched problems.
    analytic = getattr(problem, "loss_and_grad", None)
    if analytic is not None:
        out = analytic(params, step)
        if out is not None:
            return out
    with torch.enable_grad():
        p = params.detach().requires_grad_(True)
        loss = problem.loss(p, step)
        (grad,) = torch.autograd.grad(loss.sum(), p)
    return loss.detach(), grad


class Cancelled(Exception):
    """A computation stopped because its ``on_chunk`` callback returned False."""


@dataclass
class Progress:
    """What a computation has done so far: ``done`` of ``total`` updates for every run."""

    done: int
    total: int
    runs: int
    parts: dict[str, list[np.ndarray]]
    params_steps: list[np.ndarray]

    @property
    def fraction(self) -> float:
        return self.done / self.total

    def arrays(self) -> dict[str, np.ndarray]:
        """Every recorded array up to now, as in a Result."""
        return {k: np.concatenate(v) for k, v in self.parts.items()}


class Stepper:
    """Steps every run of a batch together; :meth:`chunks` streams, :meth:`run` collects.

    Raises ConfigError before any work when a config is invalid or the batch is
    over the operator's limits. ``keep_every`` keeps ``params`` at every k-th
    point (and the last): a long training of a big model fits in memory.
    """

    def __init__(
        self,
        problem: Problem,
        configs: Sequence[RunConfig],
        *,
        steps: int,
        chunk: int | None = None,
        record: Sequence[str] = DEFAULT_RECORD,
        device: str | None = None,
        dtype: str | torch.dtype = "float32",
        limits: Limits | None = None,
        keep_every: int = 1,
    ):
        limits = limits or config.limits()
        if not configs:
            raise ConfigError("no runs to compute")
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ConfigError(f"steps must be a whole number >= 1, got {steps!r}")
        limits.check(len(configs), steps)  # before anything is built
        unknown = set(record) - set(RECORDABLE)
        if unknown:
            raise ConfigError(f"cannot record {sorted(unknown)}; choose from {RECORDABLE}")
        self.problem, self.steps, self.record = problem, steps, set(record)
        self.chunk = max(1, int(chunk or steps))
        self.keep_every = max(1, int(keep_every))
        self.dtype = _dtype(dtype)
        limits.check(len(configs), steps, cost.estimate(problem, configs, steps, dtype=str(self.dtype), record=record,
                                                        keep_every=self.keep_every, allowed=limits.optimizer_modules))
        dims = sum(math.prod(s) for s in problem.layout)
        self.device = choose_device(device or limits.device, len(configs) * dims)
        self.plan = _plan(problem, list(configs), steps, self.device, self.dtype, limits.optimizer_modules)
        self.configs = list(configs)
        self.inverse = np.argsort(self.plan.order)
        for_rows = getattr(problem, "for_rows", None)
        if for_rows is not None:  # a problem with a part per run (OnlineBatch), given in the batch's row order
            self.problem = for_rows(self.plan.order.tolist())

    def run(self, on_chunk: Callable[[Progress], Any] | None = None, threads: int | None = None) -> Result:
        """Every chunk, collected into a Result. ``on_chunk(progress)`` runs after each
        chunk but the last; returning False stops the work and raises :class:`Cancelled`."""
        started = time.perf_counter()
        parts: dict[str, list[np.ndarray]] = {}
        kept: list[np.ndarray] = []
        chunks = self.chunks()
        with intra_op_threads(threads if self.device.type == "cpu" else None):
            try:
                for c in chunks:
                    for key, arr in c.arrays.items():
                        parts.setdefault(key, []).append(arr)
                    kept.append(c.params_steps)
                    if on_chunk is not None and not c.done:
                        done = c.start + self.chunk
                        # Copies of the lists (not of the arrays): a kept Progress stays what it was.
                        progress = Progress(done, self.steps, len(self.configs),
                                            {k: list(v) for k, v in parts.items()}, list(kept))
                        if on_chunk(progress) is False:
                            raise Cancelled(f"stopped after {done} of {self.steps} steps")
            finally:
                chunks.close()  # stops the engine between chunks, even on an exception
        return self.result(parts, np.concatenate(kept), time.perf_counter() - started)

    def chunks(self) -> Iterator[Chunk]:
        plan, problem, dtype, device = self.plan, self.problem, self.dtype, self.device
        runs = len(self.configs)
        params = plan.starts.clone()
        for g in plan.groups:
            g.state = g.spec.init(params[g.rows], g.hp)
        alive = torch.ones(runs, dtype=torch.bool, device=device)
        # Points a run has survived; once dead it stays dead, so for a diverged
        # run this is the index of the point where it diverged.
        alive_steps = torch.zeros(runs, dtype=torch.int64, device=device)
        best = torch.full((runs,), math.inf, dtype=dtype, device=device)
        best_step = torch.zeros(runs, dtype=torch.int64, device=device)
        bound = problem.divergence_bound
        # A problem may also bound the loss, relative to each run's first (a model's: its
        # weights may stay finite while the loss explodes, and swamp every chart).
        loss_factor = getattr(problem, "divergence_loss_factor", None)
        loss_cap = torch.full((runs,), math.inf, dtype=dtype, device=device)
        plateaus = [
            (cols, sched.Plateau(plan.base_lr[cols], args, sched.plateau_period(args, problem)))
            for spec, args, cols in plan.schedule_cols
            if spec.stateful
        ]
        nan = torch.tensor(math.nan, dtype=dtype, device=device)
        contexts = [Context(problem.layout, self._closure(g.rows)) for g in plan.groups]
        # Loss-and-gradient evaluations per run by each point: what an x-axis of work counts.
        self._evals = torch.zeros(runs, dtype=torch.int64, device=device)
        project = getattr(problem, "project", None)  # onto a feasible set, after every update
        # Time spent on all runs together (gradients, bookkeeping) and per group (updates).
        shared_time, group_time = 0.0, [0.0] * len(plan.groups)

        for t0 in range(0, self.steps, self.chunk):
            t1 = min(t0 + self.chunk, self.steps)
            last = t1 == self.steps
            n_points = t1 - t0 + (1 if last else 0)
            lr_tab, mom_tab = self._schedule_tables(t0, t1)
            self._noise_at(t0, n_points)
            lr_dev = lr_tab.to(device, dtype)
            group_lr = [None if plateaus else self._compact(lr_tab[:, g.rows]) for g in plan.groups]
            group_mom = [self._momentum(mom_tab, g) for g in plan.groups]
            # Each step appends its raw numbers; which runs were alive, their best loss and the
            # masking are worked out once per chunk, in a few vector operations over its steps
            # (per step they cost more than a small batch's update).
            rec: dict[str, list[Tensor]] = {k: [] for k in self.record if k in ("params", "grad", "evals")}
            kept: list[int] = []
            losses: list[Tensor] = []
            peaks: list[Tensor] = []  # each run's largest |param|, against the divergence bound
            lr_rows: list[Tensor] = []  # a plateau's per-step lr
            rec_state: dict[str, list[Tensor]] = {}
            rec_norms: list[Tensor] = []
            for t in range(t0, t0 + n_points):
                i, self._t = t - t0, t
                step_started = time.perf_counter()
                loss, grad = _loss_and_grad(problem, params, t)
                if plan.noise_std is not None:
                    grad = grad + plan.noise_std * self._noise[plan.noise_index, t - t0]
                losses.append(loss)
                peaks.append(params.abs().amax(1))
                if "params" in rec and (t % self.keep_every == 0 or t == self.steps):
                    rec["params"].append(params.clone())
                    kept.append(i)
                if "grad" in rec:
                    rec["grad"].append(grad.clone())
                if "evals" in rec:
                    rec["evals"].append(self._evals.clone())
                if t == self.steps:
                    break
                lr_row = lr_dev[i]
                if plateaus:
                    lr_cpu = lr_tab[i].clone()
                    for cols, plateau in plateaus:
                        lr_cpu[cols] = plateau.lr
                    lr_row = lr_cpu.to(device, dtype)
                    lr_rows.append(lr_row)
                before = params.clone() if "norms" in self.record else None
                tick = time.perf_counter()
                shared_time += tick - step_started
                for k, g in enumerate(plan.groups):
                    lr = group_lr[k][i] if group_lr[k] is not None else self._compact(lr_cpu[None, g.rows])[0]
                    hp = {**g.hp, "lr": lr}
                    if group_mom[k] is not None:
                        if g.spec.momentum_key == "momentum":
                            hp["momentum"] = group_mom[k][i]
                        else:
                            hp["betas"] = (group_mom[k][i], *hp["betas"][1:])
                    ctx = Context(problem.layout, contexts[k].closure, loss[g.rows])
                    g.spec.update(params[g.rows], grad[g.rows], g.state, hp, t + 1, ctx)
                    tock = time.perf_counter()
                    group_time[k] += tock - tick
                    tick = tock
                if project is not None:
                    project(params)
                for cols, plateau in plateaus:
                    plateau.observe(loss[cols.to(device)].cpu())
                if "evals" in self.record:
                    self._count_evals()
                if "state" in self.record:
                    self._record_state(rec_state)
                if before is not None:
                    rec_norms.append(self._record_norms(before, grad, params))
            tick = time.perf_counter()
            loss_t = torch.stack(losses)  # (points, runs)
            if t0 == 0 and loss_factor is not None:
                first = loss_t[0]
                loss_cap = loss_factor * torch.where(torch.isfinite(first), first.abs(), 0.0).clamp(min=1.0)
            # NaN fails every comparison, so one test catches NaN, inf and escape; once dead, a run stays dead.
            ok = torch.isfinite(loss_t) & (torch.stack(peaks) <= bound) & (loss_t <= loss_cap) & alive
            alive_t = torch.cumprod(ok.to(torch.int32), 0).bool()  # (points, runs)
            alive_steps += alive_t.sum(0)
            alive = alive_t[-1]
            masked_loss = torch.where(alive_t, loss_t, nan)
            # The first point of the lowest loss so far (a later tie does not move it).
            low, at = torch.where(alive_t, loss_t, math.inf).min(0)
            best_step = torch.where(low < best, at + t0, best_step)
            best = torch.fmin(best, low)
            updates = t1 - t0
            arrays = {}
            if "params" in rec:
                mask = alive_t[kept].unsqueeze(2)
                arrays["params"] = self._to_numpy(torch.where(mask, torch.stack(rec["params"]), nan))
            if "loss" in self.record:
                arrays["loss"] = self._to_numpy(masked_loss)
            if "grad" in rec:
                arrays["grad"] = self._to_numpy(torch.where(alive_t.unsqueeze(2), torch.stack(rec["grad"]), nan))
            if "evals" in rec:
                arrays["evals"] = self._to_numpy(torch.stack(rec["evals"]))
            if "lr" in self.record:
                lr_t = torch.stack(lr_rows) if plateaus else lr_dev[:updates]
                arrays["lr"] = self._to_numpy(torch.where(alive_t[:updates], lr_t, nan))
            for key, values in rec_state.items():
                state = torch.where(alive_t[:updates].unsqueeze(2), torch.stack(values), nan)
                arrays[f"state/{key}"] = self._to_numpy(state)
            if rec_norms:
                stacked = torch.where(alive_t[:updates].unsqueeze(1), torch.stack(rec_norms), nan)
                arrays.update({f"norms/{name}": self._to_numpy(stacked[:, i])
                               for i, name in enumerate(self._norm_names)})
            if last:
                final_loss = masked_loss[-1]
                final_params = torch.where(alive.unsqueeze(1), params, nan)
            shared_time += time.perf_counter() - tick
            if last:
                self.summary = {
                    "final_loss": final_loss,
                    "final_params": final_params,
                    "best_loss": best,
                    "best_step": best_step,
                    "diverged_at": torch.where(alive, -1, alive_steps),
                    "run_time": self._run_time(shared_time, group_time),
                }
            yield Chunk(t0, arrays, last, self.steps, np.array(kept, dtype=np.int64) + t0)

    def result(self, parts: Mapping[str, Sequence[np.ndarray]], params_steps: np.ndarray, wall_time: float
               ) -> Result:
        """The Result of a finished stream, from its chunks' arrays."""
        summary = {k: self._to_numpy(v.unsqueeze(0))[0] for k, v in self.summary.items()}
        return Result(
            configs=self.configs,
            resolved=self.plan.resolved,
            arrays={k: np.concatenate(v) for k, v in parts.items()},
            final_loss=summary["final_loss"],
            final_params=summary["final_params"],
            best_loss=summary["best_loss"],
            best_step=summary["best_step"],
            diverged_at=summary["diverged_at"],
            wall_time=wall_time,
            run_time=summary["run_time"],
            device=str(self.device),
            dtype=str(self.dtype).removeprefix("torch."),
            steps=self.steps,
            params_steps=params_steps,
        )

    def _to_numpy(self, x: Tensor) -> np.ndarray:
        # Rows back to the order the configs were given in.
        return x.cpu().numpy()[:, self.inverse]

    def _schedule_tables(self, t0, t1):
        plan, runs = self.plan, len(self.configs)
        lr = torch.empty((t1 - t0, runs), dtype=torch.float64)
        mom = None
        # index_copy_, not ``lr[:, cols] = ...``: advanced-index assignment of an
        # expanded table costs milliseconds per chunk, more than a sweep's steps.
        for spec, args, cols in plan.schedule_cols:
            if spec.stateful:
                lr.index_copy_(1, cols, plan.base_lr[cols].expand(t1 - t0, -1).contiguous())
                continue
            values, momentum = sched.lr_table(spec, args, plan.base_lr[cols], t0, t1, self.steps)
            lr.index_copy_(1, cols, values.contiguous())
            if momentum is not None:
                if mom is None:
                    mom = torch.full((t1 - t0, runs), math.nan, dtype=torch.float64)
                mom.index_copy_(1, cols, momentum.contiguous())
        return lr, mom

    def _noise_at(self, t0: int, n_points: int) -> None:
        """Each seed's noise for points ``t0 ..`` of this chunk: ``(seeds, n_points, dims)``."""
        plan = self.plan
        if plan.noise_std is None:
            return
        dims = plan.starts.shape[1]
        self._noise_start = t0
        self._noise = torch.stack(
            [gradient_noise(s, n_points, dims, self.dtype, start=t0) for s in plan.noise_seeds]
        ).to(self.device)

    def _run_time(self, shared: float, per_group: list[float]) -> Tensor:
        """Each run's share: the common work split evenly, plus its group's updates split evenly."""
        runs = len(self.configs)
        out = torch.full((runs,), shared / runs, dtype=torch.float64)
        for g, seconds in zip(self.plan.groups, per_group):
            out[g.rows] += seconds / (g.rows.stop - g.rows.start)
        return out

    def _compact(self, cols: Tensor):
        """Per-step values for a group's runs: floats when they agree (torch's own
        double-precision arithmetic), else an ``(n, runs, 1)`` float64 tensor (the
        optimizers round it to the runs' dtype where torch rounds a Python number)."""
        if bool((cols == cols[:, :1]).all()):
            return cols[:, 0].tolist()
        return cols.to(self.device, torch.float64).unsqueeze(2)

    def _momentum(self, mom_tab, g: _Group):
        """Cycled momentum (or beta1) for a group, or None if no run of it cycles."""
        if mom_tab is None:
            return None
        cols = mom_tab[:, g.rows]
        cycling = ~torch.isnan(cols)
        if not bool(cycling.any()):
            return None
        base_value = g.hp["momentum"] if g.spec.momentum_key == "momentum" else g.hp["betas"][0]
        if isinstance(base_value, Tensor):
            base_value = base_value.squeeze(1).cpu().to(torch.float64)
        return self._compact(torch.where(cycling, cols, torch.as_tensor(base_value, dtype=torch.float64)))

    def _count_evals(self) -> None:
        """After an update: torch's own count where the optimizer keeps one (LBFGS's
        ``func_evals``, its first call being the point's own evaluation), else one."""
        self._evals += 1
        for g in self.plan.groups:
            own = g.state.get("func_evals")
            if isinstance(own, Tensor):
                self._evals[g.rows] = own.reshape(-1)

    def _closure(self, group_rows: slice):
        problem, plan = self.problem, self.plan

        def closure(params: Tensor, rows: Sequence[int] | None = None) -> tuple[Tensor, Tensor]:
            """Loss and gradient at ``params``: the group's runs, or its ``rows`` alone."""
            t = self._t
            loss, grad = _loss_and_grad(problem, params, t)
            # An optimizer stepped run by run (a dotted path): each of its calls counts.
            if rows is not None and "evals" in self.record:
                self._evals[torch.as_tensor(rows) + group_rows.start] += 1
            if plan.noise_std is not None and plan.noise_index is not None:
                sel = group_rows if rows is None else torch.as_tensor(rows) + group_rows.start
                grad = grad + plan.noise_std[sel] * self._noise[plan.noise_index[sel], t - self._noise_start]
            return loss, grad

        return closure

    def _record_norms(self, before, grad, params) -> Tensor:
        """Per run, for the update just made: ‖g‖, ‖update‖, cos(−g, update), quantiles of
        step ÷ g over the coordinates, and each state buffer's norm (a per-run scalar
        buffer, ASGD's eta, as itself): ``(names, runs)``, in the order of ``self._norm_names``
        (the arrays' names after ``norms/``). One tensor per step: a step of a small model
        costs little more than its kernels' launches, so they are kept few."""
        step = before - params
        gn, sn = grad.norm(dim=1), step.norm(dim=1)
        cos = (grad * step).sum(1) / (gn * sn)
        ratio = torch.where(grad != 0, step / grad, math.nan)
        stride = max(1, math.ceil(ratio.numel() / QUANTILE_ELEMENTS))
        q = torch.tensor(NORM_QUANTILES, dtype=ratio.dtype, device=ratio.device)
        rows = [gn, sn, torch.where((gn > 0) & (sn > 0), cos, math.nan),
                *torch.nanquantile(ratio[:, ::stride], q, dim=1)]
        names = ["grad", "update", "cos", *(f"eff_p{round(100 * p)}" for p in NORM_QUANTILES)]
        # Which rows a key fills depends on the groups' shapes, never on values: every step
        # records the same names.
        extra: dict[str, Tensor] = {}
        for key in sorted({k for g in self.plan.groups for k in g.spec.state_keys}):
            for g in self.plan.groups:
                value = g.state.get(key)
                if key not in g.spec.state_keys or not isinstance(value, Tensor) or value.ndim != 2:
                    continue
                scalar = value.shape[1] == 1
                name = f"{'scalar' if scalar else 'state'}/{key}"
                if name not in extra:
                    extra[name] = torch.full((len(self.configs),), math.nan, dtype=self.dtype, device=self.device)
                extra[name][g.rows] = value[:, 0] if scalar else value.norm(dim=1)
        self._norm_names = [*names, *extra]
        return torch.stack([*rows, *extra.values()])

    def _record_state(self, rec_state):
        runs = len(self.configs)
        keys = {k for g in self.plan.groups for k in g.spec.state_keys}
        for key in sorted(keys):
            full = torch.full((runs, self.plan.starts.shape[1]), math.nan, dtype=self.dtype, device=self.device)
            for g in self.plan.groups:
                value, rows = g.state.get(key), full[g.rows]
                # A per-run scalar, (runs, 1) like ASGD's eta, fills every coordinate.
                shapes = (rows.shape, (len(rows), 1))
                if key in g.spec.state_keys and isinstance(value, Tensor) and value.shape in shapes:
                    rows.copy_(value)
            rec_state.setdefault(key, []).append(full)


def stream(problem: Problem, configs: Sequence[RunConfig], *, steps: int, chunk: int = 100, **options
           ) -> Iterator[Chunk]:
    """Step every config together and yield a :class:`Chunk` every ``chunk`` steps;
    closing the generator stops the work. Options as :class:`Stepper`'s."""
    yield from Stepper(problem, configs, steps=steps, chunk=chunk, **options).chunks()


def run(
    problem: Problem,
    configs: Sequence[RunConfig],
    *,
    steps: int,
    record: Sequence[str] = DEFAULT_RECORD,
    device: str | None = None,
    dtype: str | torch.dtype = "float32",
    chunk: int | None = None,
    limits: Limits | None = None,
    keep_every: int = 1,
    threads: int | None = None,
    on_chunk: Callable[[Progress], Any] | None = None,
) -> Result:
    """Compute every config and return a :class:`Result`.

    ``on_chunk(progress)`` is called every ``chunk`` steps (by default about 20
    times); returning False cancels (:class:`Cancelled`). ``threads`` sets
    torch's CPU threads for the computation.
    """
    if chunk is None and on_chunk is not None and isinstance(steps, int) and steps > 0:
        chunk = math.ceil(steps / PROGRESS_CHUNKS)
    stepper = Stepper(problem, configs, steps=steps, chunk=chunk, record=record, device=device, dtype=dtype,
                      limits=limits, keep_every=keep_every)
    return stepper.run(on_chunk, threads)

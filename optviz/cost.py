"""What a request costs, estimated before any of it runs.

:func:`estimate` turns a batch (a problem, its run configs, the steps) into one
:class:`~optviz.config.Cost`: the most loss-and-gradient evaluations a step makes
(LBFGS's ``max_eval``), a model's multiply-adds, CPU seconds on one core (every
kind of problem in this one currency) and peak bytes. :meth:`Limits.check
<optviz.config.Limits.check>` then decides, for the engine, the app and the CLI
alike. On the way it refuses numbers no computation in the batch's dtype can
take (an lr of 1e308 in float32, a schedule whose lr outgrows it, a seed beyond
what numpy, scikit-learn and torch all accept): torch raises on them mid-run.

The figures are rough upper bounds for one core of a laptop; they decide what a
request may cost, not how long it takes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from .config import Cost
from .optim import get as get_optimizer
from .optim import schedules
from .params import ConfigError
from .problems.datasets import MAX_SEED

# Python and kernel overhead of one evaluation of a batch, and per run and coordinate of it
# (a surface's loss and an elementwise update); planning each run (resolving, placing);
# multiply-adds per second where a problem counts them (a model's).
SECONDS_PER_STEP, SECONDS_PER_RUN_STEP, SECONDS_PER_COORDINATE = 1e-4, 1e-7, 5e-9
SECONDS_PER_RUN = 2e-5
FLOPS = 2e9
# A kept history (torch's ``history_size``: LBFGS's) is walked twice per inner iteration
# (the two-loop recursion): per entry, a few small kernels, and a pass over each run's coordinates.
SECONDS_PER_HISTORY_ENTRY, SECONDS_PER_HISTORY_COORDINATE = 2e-5, 2e-8
# Memory: Python objects per run (its config, its resolved settings); copies of each recorded
# array at the peak (the chunks, their stack, the concatenation, the reordered copy); working
# copies of the parameters besides the state (the gradient, an update's temporaries).
BYTES_PER_RUN, RECORD_COPIES, WORKING_COPIES = 2_000, 4, 4
# ``norms`` keeps a few numbers per run and update (‖g‖, ‖update‖, a cosine, three quantiles)
# besides one per state buffer; a copy of the parameters before each update gives the step.
NORMS_PER_POINT = 6
DTYPE_MAX = {"float32": float(torch.finfo(torch.float32).max), "float64": float(torch.finfo(torch.float64).max)}
ITEMSIZE = {"float32": 4, "float64": 8}
INT_MAX = 2**63 - 1  # torch's int64


def estimate(
    problem: Any,
    configs: Sequence[Any],
    steps: int,
    *,
    dtype: str = "float32",
    record: Sequence[str] = ("params", "loss", "lr"),
    keep_every: int = 1,
    allowed: tuple[str, ...] = ("",),
) -> Cost:
    """The cost of stepping ``configs`` on ``problem`` (a built Problem) for ``steps``.

    Raises ConfigError for an optimizer or value that cannot run at all (an unknown
    name, a number beyond ``dtype``'s range, a seed out of range); the engine's own
    resolution names everything else.
    """
    dtype = str(dtype).removeprefix("torch.")
    if dtype not in DTYPE_MAX:
        raise ConfigError(f"dtype must be float32 or float64, got {dtype!r}")
    runs = len(configs)
    dims = sum(math.prod(s) for s in problem.layout)
    groups: dict[Any, list[Any]] = {}  # runs that differ only in lr share their checks
    seeds = set()
    for c in configs:
        hp = dict(c.hparams)
        lr = hp.pop("lr", None)
        groups.setdefault((c.optimizer, tuple(hp.items()), c.schedule, c.schedule_args), []).append(lr)
        seeds.add((c.seed, c.noise))
    noisy = set()
    for seed, noise in seeds:
        _check_seed(seed, "the noise seed")
        if noise:
            noisy.add(seed)
    evals, history, iterations, state_slots = 1, 0, 1, 0
    by_schedule: dict[Any, list[float]] = {}
    for (name, others, schedule, args), raw in groups.items():
        spec = get_optimizer(name, allowed)
        hp = spec.resolve(dict(others))
        _check_numbers(spec.name, hp, dtype)
        if "lr" in hp:
            parse = spec.hparam("lr").parse
            lrs = [hp["lr"] if v is None else parse(v) for v in dict.fromkeys(raw)]
            lrs = [v for v in lrs if isinstance(v, int | float) and not isinstance(v, bool)]
            if lrs:
                _check_numbers(spec.name, {"lr": min(lrs)}, dtype)
                _check_numbers(spec.name, {"lr": max(lrs)}, dtype)
                by_schedule.setdefault((schedule, args), []).extend((min(lrs), max(lrs)))
        n = max(1, int(spec.evals_per_step(hp)))
        evals = max(evals, n)
        h = hp.get("history_size")
        if isinstance(h, int) and not isinstance(h, bool) and h > 0:
            history = max(history, h)
            iterations = max(iterations, min(n, hp.get("max_iter") or n))
        state_slots = max(state_slots, len(spec.state_keys))
    for (name, args), lrs in by_schedule.items():
        _check_schedule(name, dict(args), lrs, steps, dtype)

    # Time: every evaluation pays the step overhead and each run's share; a kept history
    # is walked once per inner iteration; a model adds its multiply-adds.
    per_eval = getattr(problem, "seconds_per_step", SECONDS_PER_STEP) + runs * (
        getattr(problem, "seconds_per_run_step", SECONDS_PER_RUN_STEP) + dims * SECONDS_PER_COORDINATE
    )
    per_iteration = history * (SECONDS_PER_HISTORY_ENTRY + runs * dims * SECONDS_PER_HISTORY_COORDINATE)
    work = getattr(problem, "work", None)
    flops = float(work(runs, steps)) * evals if work is not None else 0.0
    seconds = runs * SECONDS_PER_RUN + steps * (evals * per_eval + iterations * per_iteration) + flops / FLOPS

    # Memory: the batch's tensors and optimizer state, a history, what is recorded, the noise.
    size = ITEMSIZE[dtype]
    tensors = runs * dims * size * (WORKING_COPIES + state_slots + 2 * history + ("norms" in record))
    per_point = (
        sum(1 for k in ("loss", "lr") if k in record)
        + dims * ("grad" in record)
        + dims * state_slots * ("state" in record)
        + (dims / max(1, keep_every)) * ("params" in record)
        + (NORMS_PER_POINT + state_slots) * ("norms" in record)
    )
    recorded = (steps + 1) * runs * per_point * size * RECORD_COPIES
    noise = len(noisy) * (steps + 1) * dims * size
    activations = 0.0
    batch = getattr(problem, "batch_size", 0)
    if batch:  # a model: every layer's outputs for the batch, kept for the backward pass
        widths = sum(s[0] for s in problem.layout if len(s) == 2) + getattr(problem.split, "n_features", 0)
        activations = runs * batch * widths * size * WORKING_COPIES
    memory = runs * BYTES_PER_RUN + tensors + recorded + noise + activations
    return Cost(evals_per_step=evals, flops=flops, seconds=seconds, memory=memory)


def _check_seed(seed: Any, what: str) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"{what} must be a whole number from 0 to {MAX_SEED:,}, got {seed!r}")


def _numbers(value: Any):
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int | float):
        yield value
    elif isinstance(value, tuple | list):
        for v in value:
            yield from _numbers(v)


def _check_numbers(owner: str, values: dict[str, Any], dtype: str) -> None:
    """Every number fits ``dtype``: torch refuses a larger one mid-run (``value cannot be
    converted to type float without overflow``)."""
    largest = DTYPE_MAX[dtype]
    for name, value in values.items():
        for v in _numbers(value):
            if isinstance(v, float) and not math.isfinite(v):
                raise ConfigError(f"{owner}: {name} must be a finite number, got {v!r}")
            if isinstance(v, int) and abs(v) > INT_MAX:
                raise ConfigError(
                    f"{owner}: {name}={v:.3g} is beyond the whole numbers torch counts with (at most {INT_MAX:,})"
                )
            if abs(v) > largest:
                raise ConfigError(
                    f"{owner}: {name}={v:.3g} is beyond {dtype}'s range (at most {largest:.3g})"
                    + ("; use float64 or a smaller value" if dtype == "float32" else "")
                )


def _check_schedule(name: str, args: dict[str, Any], lrs: list[float], steps: int, dtype: str) -> None:
    """The schedule's arguments, and its lr at every step, fit ``dtype``."""
    spec = schedules.get(name)
    args = spec.resolve(args)
    _check_numbers(spec.name, args, dtype)
    if spec.stateful or spec.lr_at is None or not lrs:
        return  # ReduceLROnPlateau only lowers the lr
    base = torch.tensor([min(lrs), max(lrs)], dtype=torch.float64)
    try:
        values, momentum = schedules.lr_table(spec, args, base, 0, steps, steps)
        largest = float(values.abs().max())
    except (OverflowError, RuntimeError, ValueError, ZeroDivisionError) as exc:
        raise ConfigError(f"{spec.name}: cannot compute its lr with {_args_text(args)}: {exc}") from None
    if not largest <= DTYPE_MAX[dtype]:  # NaN too
        step = int(torch.nonzero(~(values.abs() <= DTYPE_MAX[dtype]))[0, 0])
        raise ConfigError(
            f"{spec.name}: its lr grows beyond {dtype}'s range ({DTYPE_MAX[dtype]:.3g}) at step "
            f"{step:,}"
            + (
                "; use float64, fewer steps or a gentler schedule"
                if dtype == "float32"
                else "; use fewer steps or a gentler schedule"
            )
        )


def _args_text(args: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in args.items() if v is not None) or "its defaults"

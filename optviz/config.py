"""Operator settings, read from the environment.

A deployment for a class sets these so that no request can tie up the server:

``OPTVIZ_MAX_STEPS``   most steps in one run (default 20000)
``OPTVIZ_MAX_RUNS``    most runs in one batch (default 1000000)
``OPTVIZ_MAX_WORK``    most gradient evaluations in one request: runs x steps x evaluations
                       per step (LBFGS makes up to ``max_eval`` a step; default 200000000)
``OPTVIZ_MAX_EVALS``   most evaluations one step may make: LBFGS's ``max_eval`` (default 100)
``OPTVIZ_MAX_GRID``    largest basin-map side and heatmap axis (default 200)
``OPTVIZ_MAX_TRAIN_WORK``  most multiply-adds of one training (default 5e11)
``OPTVIZ_MAX_SECONDS`` most estimated CPU seconds of one request, every kind of problem in one
                       currency (default 60)
``OPTVIZ_MAX_MEMORY``  most estimated memory of one request, in MB (default 2000)
``OPTVIZ_DEVICE``      auto, cpu or cuda (default auto)
``OPTVIZ_OPTIMIZER_MODULES``  comma-separated packages whose Optimizer classes a
                       web user may name by dotted path (default torch.optim,pytorch_optimizer)

A whole number may be written ``1000``, ``1e3`` or ``1_000``. A malformed value keeps its
default and an unusable device falls back to one that works; both say so once in the
server log. :meth:`Limits.check` is the one place that refuses a request, naming the
variable that bounds it.
"""

from __future__ import annotations

import logging
import math
import os
import sys
from dataclasses import dataclass, fields
from functools import lru_cache

from .params import ConfigError

log = logging.getLogger("optviz")
if not log.handlers:  # Streamlit configures only its own loggers: make ours reach the server log too
    _handler = logging.StreamHandler(sys.stderr)
    _handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s optviz: %(message)s"))
    log.addHandler(_handler)
    log.propagate = False

DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class Cost:
    """What one request costs, estimated before it runs (:func:`optviz.cost.estimate`).

    ``evals_per_step``: the most loss-and-gradient evaluations one step makes (LBFGS's
    ``max_eval``); ``flops``: a model's multiply-adds (0 for a surface); ``seconds``:
    CPU time on one core, every kind in one currency; ``memory``: bytes at the peak.
    """

    evals_per_step: int = 1
    flops: float = 0.0
    seconds: float = 0.0
    memory: float = 0.0


@dataclass(frozen=True)
class Limits:
    max_steps: int = 20_000
    max_runs: int = 1_000_000
    max_work: int = 200_000_000
    max_grid: int = 200
    max_evals: int = 100
    max_train_work: float = 5e11
    max_seconds: float = 60.0
    max_memory: float = 2e9  # bytes; the variable is in MB
    device: str = "auto"
    optimizer_modules: tuple[str, ...] = ("torch.optim", "pytorch_optimizer")

    def check(self, runs: int, steps: int, cost: Cost | None = None) -> None:
        """Refuse a request over the limits, naming the limit and what to change.

        ``runs`` and ``steps`` alone are checked before anything is built; with the
        ``cost`` estimate, the evaluations, multiply-adds, seconds and memory too.
        """
        if steps > self.max_steps:
            raise ConfigError(
                f"{_count(steps)} steps is more than this server allows ({self.max_steps:,}; OPTVIZ_MAX_STEPS)"
            )
        if runs > self.max_runs:
            raise ConfigError(
                f"{_count(runs)} runs is more than this server allows ({self.max_runs:,}; OPTVIZ_MAX_RUNS)"
            )
        evals = cost.evals_per_step if cost is not None else 1
        if evals > self.max_evals:
            raise ConfigError(
                f"{evals:,} evaluations of the loss per step is more than this server allows "
                f"({self.max_evals:,}; OPTVIZ_MAX_EVALS). Lower LBFGS's max_eval (or max_iter: its "
                "default max_eval is max_iter x 5/4)."
            )
        work = runs * steps * evals
        if work > self.max_work:
            per = f" x {evals} evaluations" if evals > 1 else ""
            raise ConfigError(
                f"{runs:,} runs x {steps:,} steps{per} = {work:,} gradient evaluations is more than this server "
                f"allows ({self.max_work:,}; OPTVIZ_MAX_WORK). Use fewer runs or steps."
            )
        if cost is None:
            return
        if cost.flops > self.max_train_work:
            raise ConfigError(
                f"{runs:,} runs x {steps:,} steps is about {cost.flops / 1e9:,.0f} GFLOP; this server allows "
                f"{self.max_train_work / 1e9:,.0f} (OPTVIZ_MAX_TRAIN_WORK). Use fewer runs or steps, or a smaller "
                "model."
            )
        if cost.seconds > self.max_seconds:
            raise ConfigError(
                f"{runs:,} runs x {steps:,} steps would take about {_duration(cost.seconds)} of CPU; this server "
                f"allows {_duration(self.max_seconds)} (OPTVIZ_MAX_SECONDS). Use fewer runs or steps"
                + (", or fewer evaluations per step (max_eval)." if evals > 1 else ".")
            )
        if cost.memory > self.max_memory:
            raise ConfigError(
                f"{runs:,} runs x {steps:,} steps would need about {cost.memory / 1e6:,.0f} MB of memory; this "
                f"server allows {self.max_memory / 1e6:,.0f} MB (OPTVIZ_MAX_MEMORY). Use fewer runs or steps."
            )


def _count(n: int) -> str:
    """A count for a message; a huge one (10**5000) cannot be written out, and need not be."""
    return f"{n:,}" if n.bit_length() <= 128 else f"a number of {n.bit_length():,} bits"


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.2g} s"
    if seconds < 120:
        return f"{seconds:,.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:,.0f} min"
    return f"{seconds / 3600:,.1f} h"


NO_LIMITS = Limits(max_steps=10**12, max_runs=10**12, max_work=10**18, max_grid=10**6, max_evals=10**9,
                   max_train_work=math.inf, max_seconds=math.inf, max_memory=math.inf, optimizer_modules=("",))

# Variable, field, whether it is whole, the unit the variable is written in (bytes per unit).
SETTINGS = (
    ("OPTVIZ_MAX_STEPS", "max_steps", True, 1),
    ("OPTVIZ_MAX_RUNS", "max_runs", True, 1),
    ("OPTVIZ_MAX_WORK", "max_work", True, 1),
    ("OPTVIZ_MAX_GRID", "max_grid", True, 1),
    ("OPTVIZ_MAX_EVALS", "max_evals", True, 1),
    ("OPTVIZ_MAX_TRAIN_WORK", "max_train_work", False, 1),
    ("OPTVIZ_MAX_SECONDS", "max_seconds", False, 1),
    ("OPTVIZ_MAX_MEMORY", "max_memory", False, 1e6),
)
_SMALLEST = {"max_grid": 2}  # a basin map needs two starts per side


def read_number(text: str, whole: bool, smallest: float = 1) -> float:
    """An operator's number: ``1000``, ``1e3``, ``1_000``; ValueError if it is not one, is
    not whole where it must be, or is below ``smallest``."""
    value = float(text.strip().replace("_", ""))
    if not math.isfinite(value) or value < smallest or (whole and not value.is_integer()):
        raise ValueError(text)
    return int(value) if whole else value


def limits() -> Limits:
    """The limits set in the environment. A malformed value keeps its default and an
    unusable device falls back; each says so once in the server log (:func:`notices`)."""
    return _parse(_environment())[0]


def notices() -> tuple[str, ...]:
    """What was wrong with the settings, and what is used instead (empty when all is well)."""
    return _parse(_environment())[1]


def _environment() -> tuple[tuple[str, str | None], ...]:
    names = [name for name, *_ in SETTINGS] + ["OPTVIZ_DEVICE", "OPTVIZ_OPTIMIZER_MODULES"]
    return tuple((name, os.environ.get(name)) for name in names)


@lru_cache(maxsize=8)
def _parse(env: tuple[tuple[str, str | None], ...]) -> tuple[Limits, tuple[str, ...]]:
    # Cached on the environment's text: the log says each problem once per setting, not per click.
    text = dict(env)
    default = Limits()
    values: dict = {}
    problems: list[str] = []
    for name, field, whole, unit in SETTINGS:
        raw = text.get(name)
        if raw is None or not raw.strip():
            continue
        fallback = getattr(default, field)
        try:
            values[field] = read_number(raw, whole, _SMALLEST.get(field, 1 if whole else 1e-9)) * unit
        except ValueError:
            shown = f"{fallback / unit:g}" if not whole else f"{fallback}"
            kind = "a whole number" if whole else "a number"
            problems.append(f"{name}={raw!r} is not {kind} >= {_SMALLEST.get(field, 1 if whole else 0)}; "
                            f"using the default, {shown}")
    device = (text.get("OPTVIZ_DEVICE") or "").strip().lower()
    if device:
        values["device"], problem = _usable_device(device)
        if problem:
            problems.append(problem)
    modules = text.get("OPTVIZ_OPTIMIZER_MODULES")
    if modules is not None:
        values["optimizer_modules"] = tuple(m.strip() for m in modules.split(",") if m.strip())
    for problem in problems:
        log.warning(problem)
    return Limits(**{f.name: values.get(f.name, getattr(default, f.name)) for f in fields(Limits)}), tuple(problems)


def _usable_device(device: str) -> tuple[str, str | None]:
    """``device`` if it can compute here, else what to use and why."""
    base = device.split(":")[0]
    if base not in DEVICES or (base != "cuda" and ":" in device):
        return "auto", f"OPTVIZ_DEVICE={device!r} is not one of {', '.join(DEVICES)} (or cuda:N); using auto"
    if base == "cuda":
        import torch

        if not torch.cuda.is_available():
            return "cpu", f"OPTVIZ_DEVICE={device!r}, but CUDA is not available on this machine; using the CPU"
        index = device.partition(":")[2]
        if index and not (index.isdigit() and int(index) < torch.cuda.device_count()):
            return "cuda", f"OPTVIZ_DEVICE={device!r} names no GPU of this machine; using cuda"
    return device, None


def startup_report(needs: dict[str, tuple[int, int | None]]) -> list[str]:
    """What the operator should know at start-up, also written to the server log: each
    malformed setting, and each limit below what the app's own default pages and presets
    need (they will be refused, with a message naming the variable). ``needs`` maps a
    page's or preset's title to its runs and steps (None: the epochs decide)."""
    lim = limits()
    out = []
    for what, index, bound, name in (("runs", 0, lim.max_runs, "OPTVIZ_MAX_RUNS"),
                                     ("steps", 1, lim.max_steps, "OPTVIZ_MAX_STEPS")):
        over = [title for title, need in needs.items() if (need[index] or 0) > bound]
        if over:
            most = max(needs[title][index] or 0 for title in over)
            shown = ", ".join(over[:3]) + (", ..." if len(over) > 3 else "")
            out.append(f"{name}={bound} is below the {most} {what} that {len(over)} of the app's presets and "
                       f"default pages need ({shown}); they will be refused with a message naming {name}")
    for line in out:
        log.warning(line)
    return [*notices(), *out]

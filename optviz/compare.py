"""A fair comparison: "Adam or SGD here, and at what learning rate?" answered honestly.

Galleries compare optimizers at one hand-picked setting each, or tune only the
lr of some. Here every optimizer (a *contender*: an optimizer and its search
space) gets the same protocol, after Schmidt et al. 2021 and AlgoPerf:

* the same tuning budget: ``trials`` configurations drawn from a scrambled
  Sobol sequence (:class:`torch.quasirandom.SobolEngine`, seeded) over its
  search space: a log-uniform lr by default, plus any hyperparameter ticked
  (``momentum``, ``betas[1]``, ``weight_decay``), each with a range;
* the same ``seeds`` for every trial: on a surface, start points spread around
  its start (seed 0 is the start itself) and, with gradient noise, the noise
  seed; on a dataset, the model's initial weights drawn with init seed
  ``init_seed + s`` (the same mini-batches for every run), so all seeds still
  run as one batch;
* the same step budget, and one stated metric: final loss, best loss, steps
  or gradient evaluations to reach a target, or a model's test loss or
  accuracy. A trial's score is its median over the seeds; an optimizer's
  tuned configuration is its best trial, and optimizers rank by it.

All contenders x trials x seeds go through ONE :func:`optviz.engine.run`
batch (they differ only in float hyperparameters and start points), so every
trial is torch.optim's own run (the tests replay samples through torch).
:func:`compare` takes a :class:`Comparison` and returns a :class:`CompareResult`.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from . import engine
from .config import Limits
from .config import limits as server_limits
from .engine import Progress, RunConfig, finite_or_none
from .experiment import DTYPES
from .optim import get as get_optimizer
from .params import ConfigError, finite, freeze, whole
from .problems import ProblemConfig, SurfaceProblem, Task
from .problems import from_dict as problem_from_dict
from .problems.base import value_text

MAX_CONTENDERS = 6
MAX_TRIALS = 1024
MAX_SEEDS = 32
LR_DECADES = 4  # the default lr range: four decades around the optimizer's default lr


@dataclass(frozen=True)
class Metric:
    name: str  # what a table and an axis call it
    higher: bool = False  # whether a larger value is better (accuracy)
    models_only: bool = False
    target: bool = False  # whether it counts until a target loss


METRICS: dict[str, Metric] = {
    "final_loss": Metric("final loss"),
    "best_loss": Metric("best loss"),
    "steps_to_target": Metric("steps to the target", target=True),
    "evals_to_target": Metric("gradient evaluations to the target", target=True),
    "test_loss": Metric("test loss", models_only=True),
    "test_accuracy": Metric("test accuracy", higher=True, models_only=True),
}
AXES = {"steps": "steps", "evals": "gradient evaluations", "time": "seconds"}

# -- search spaces ---------------------------------------------------------------------

_NAME = re.compile(r"^([A-Za-z_]\w*)(?:\[(\d+)\])?$")
# Ranges for hyperparameters a user ticks, where torch's default alone says little
# (momentum's default is 0): wide enough to hold the usual good values.
KNOWN_RANGES: dict[str, tuple[float, float, bool]] = {
    "momentum": (0.0, 0.99, False),
    "dampening": (0.0, 0.9, False),
    "betas[0]": (0.5, 0.99, False),
    "betas[1]": (0.9, 0.9999, False),
    "weight_decay": (0.0, 0.1, False),
    "alpha": (0.9, 0.999, False),
    "rho": (0.5, 0.99, False),
}


@dataclass(frozen=True)
class Range:
    """A hyperparameter's search range: torch's name (``betas[1]`` for one element),
    low and high, uniform or (``log``) log-uniform."""

    name: str
    lo: float
    hi: float
    log: bool = False

    def check(self) -> None:
        if not _NAME.match(self.name):
            raise ConfigError(f"{self.name!r} is not a hyperparameter name like lr or betas[1]")
        for v in (self.lo, self.hi):
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ConfigError(f"the {self.name} range needs finite numbers, got {self.lo!r} .. {self.hi!r}")
        if not self.lo <= self.hi:
            raise ConfigError(f"the {self.name} range needs low <= high, got {self.lo:g} .. {self.hi:g}")
        if self.log and self.lo <= 0:
            raise ConfigError(f"a log-uniform {self.name} needs low > 0, got {self.lo:g}")

    def at(self, u: np.ndarray) -> np.ndarray:
        """The values at quantiles ``u`` in [0, 1)."""
        if self.log:
            return np.exp(math.log(self.lo) + u * (math.log(self.hi) - math.log(self.lo)))
        return self.lo + u * (self.hi - self.lo)

    def text(self) -> str:
        """``1e-05:0.1:log``: the link's and the CLI's form."""
        return f"{self.lo:.6g}:{self.hi:.6g}" + (":log" if self.log else "")

    def describe(self) -> str:
        return f"{self.name} ∈ [{self.lo:.3g}, {self.hi:.3g}]" + (" log-uniform" if self.log else "")


def searchable(optimizer: str, allowed: tuple[str, ...] = ("",)) -> list[str]:
    """The hyperparameters a search can vary: numbers, and each element of a tuple (``betas[1]``)."""
    spec = get_optimizer(optimizer, allowed)
    out = []
    for h in spec.hparams:
        if h.kind == "float" and h.batchable:
            out.append(h.name)
        elif h.kind == "floats" and h.batchable:
            out += [f"{h.name}[{i}]" for i in range(h.length)]
    return out


def default_lr(optimizer: str, allowed: tuple[str, ...] = ("",)) -> float:
    """The lr a search centres on: the app's default where torch's is unhelpful, else torch's."""
    spec = get_optimizer(optimizer, allowed)
    return float(spec.ui_defaults.get("lr", spec.defaults["lr"]))


def default_range(optimizer: str, name: str, allowed: tuple[str, ...] = ("",)) -> Range:
    """A search range centred on the default: lr log-uniform over four decades around it,
    other numbers from :data:`KNOWN_RANGES` or the registry's widget hints."""
    if name == "lr":
        centre, half = default_lr(optimizer, allowed), 10 ** (LR_DECADES / 2)
        return Range("lr", float(f"{centre / half:.6g}"), float(f"{centre * half:.6g}"), log=True)
    if name in KNOWN_RANGES:
        return Range(name, *KNOWN_RANGES[name])
    spec = get_optimizer(optimizer, allowed)
    match = _NAME.match(name)
    if not match or name not in searchable(optimizer, allowed):
        raise ConfigError(
            f"{spec.name} has no number hyperparameter {name!r} to search; it has: "
            f"{', '.join(searchable(optimizer, allowed))}"
        )
    h = spec.hparam(match.group(1))
    default = spec.defaults[h.name]
    default = default[int(match.group(2))] if match.group(2) is not None else default
    if h.log and default and default > 0:
        return Range(name, default / 100, default * 100, log=True)
    if h.low is not None and h.high is not None:
        return Range(name, float(h.low), float(h.high), log=h.log and h.low > 0)
    return Range(name, 0.0, 2 * default if default else 1.0)


@dataclass(frozen=True)
class Contender:
    """An optimizer in a comparison: its search space (lr first), the hyperparameters
    held at a value (``nesterov=True``), and a label."""

    optimizer: str
    space: tuple[Range, ...] = ()
    fixed: Any = ()
    label: str = ""

    def __post_init__(self):
        object.__setattr__(self, "space", tuple(self.space))
        object.__setattr__(self, "fixed", freeze(self.fixed))

    @property
    def name(self) -> str:
        """The label, else the optimizer with what it searches besides lr and what it fixes."""
        if self.label:
            return self.label
        usual = app_defaults(self.optimizer, [r.name for r in self.space]) if "." not in self.optimizer else {}
        parts = [self.optimizer, *(f"{k}={value_text(v)}" for k, v in self.fixed if usual.get(k, None) != v)]
        ticked = [r.name for r in self.space if r.name != "lr"]
        return " ".join(parts) + "".join(f" + {n}" for n in ticked)

    def text(self) -> str:
        """``SGD;lr=1e-05:0.1:log;momentum=0:0.99;nesterov=true;label=...``: the link's and the CLI's form."""
        parts = [self.optimizer, *(f"{r.name}={r.text()}" for r in self.space)]
        parts += [f"{k}={value_text(v)}" for k, v in self.fixed]
        if self.label:
            parts.append("label=" + self.label.replace(";", ","))
        return ";".join(parts)


def contender(
    optimizer: str,
    tune: Sequence[str] = (),
    fixed: Mapping[str, Any] | None = None,
    label: str = "",
    allowed: tuple[str, ...] = ("",),
) -> Contender:
    """A contender with the default search space: the lr, plus each hyperparameter in ``tune``."""
    spec = get_optimizer(optimizer, allowed)
    names = ["lr", *(n for n in tune if n != "lr")]
    return Contender(
        spec.name,
        tuple(default_range(optimizer, n, allowed) for n in names),
        {**app_defaults(spec.name, names, allowed), **(fixed or {})},
        label,
    )


def app_defaults(optimizer: str, searched: Sequence[str], allowed: tuple[str, ...] = ("",)) -> dict[str, Any]:
    """What the app holds besides torch's defaults (LBFGS: one quasi-Newton move per step,
    with a line search), for the hyperparameters not searched."""
    spec = get_optimizer(optimizer, allowed)
    bases = {n.split("[")[0] for n in searched}
    return {k: v for k, v in spec.ui_defaults.items() if k not in bases}


def parse_contender(text: str, allowed: tuple[str, ...] = ("",)) -> Contender:
    """A contender from :meth:`Contender.text`'s form. A bare name (``SGD;momentum``) is
    searched over its default range; ``name=lo:hi[:log]`` over the range given;
    ``name=value`` is held there. ConfigError says what is wrong."""
    name, *items = [part.strip() for part in str(text).split(";")]
    spec = get_optimizer(name, allowed)
    space: dict[str, Range] = {"lr": default_range(spec.name, "lr", allowed)}
    given: dict[str, Any] = {}
    label = ""
    for item in filter(None, items):
        key, sep, value = (s.strip() for s in item.partition("="))
        if key == "label":
            label = value[:80]
        elif not sep or ":" in value:
            if key not in searchable(spec.name, allowed):
                raise ConfigError(
                    f"{spec.name} has no number hyperparameter {key!r} to search; it has: "
                    f"{', '.join(searchable(spec.name, allowed))}"
                )
            space[key] = _range(key, value) if sep else default_range(spec.name, key, allowed)
        else:
            given[key] = spec.hparam(key).parse(value)
    both = {n.split("[")[0] for n in space} & set(given)
    if both:
        raise ConfigError(f"{', '.join(sorted(both))} is both searched and held fixed")
    fixed = {**app_defaults(spec.name, list(space), allowed), **given}
    return Contender(spec.name, tuple(space.values()), fixed, label)


def _range(name: str, text: str) -> Range:
    parts = text.split(":")
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != "log"):
        raise ConfigError(f"{name}={text!r} is not a range like 1e-4:1:log or 0:0.99")
    try:
        r = Range(name, finite(parts[0]), finite(parts[1]), len(parts) == 3)
    except ValueError:
        raise ConfigError(f"{name}={text!r}: the range's ends must be finite numbers") from None
    r.check()
    return r


def _default_contenders() -> tuple[Contender, ...]:
    return (contender("SGD"), contender("SGD", tune=("momentum",)), contender("RMSprop"), contender("Adam"))


@dataclass(frozen=True)
class Comparison:
    """What a fair comparison runs: one frozen value that keys the cache, the link and the exports.

    ``steps`` None is the problem's own length (a training's epochs). ``target``
    is what "reaching the target" means: ``f − f* <= target`` where the problem
    knows its minimum ``f*``, else ``loss <= target``. ``spread`` places a
    surface's seeds: start points drawn uniformly within ``spread`` of the
    domain's width around its start (seed 0 is the start itself); ``noise``
    adds gradient noise of that std, seed ``s`` drawing noise seed ``s``.
    """

    problem: ProblemConfig = field(default_factory=lambda: SurfaceProblem("rosenbrock"))
    contenders: tuple[Contender, ...] = field(default_factory=_default_contenders)
    trials: int = 64
    seeds: int = 5
    steps: int | None = 500
    metric: str = "final_loss"
    target: float = 1e-3
    trial_seed: int = 0
    spread: float = 0.05
    noise: float = 0.0
    dtype: str = "float64"

    def __post_init__(self):
        object.__setattr__(self, "contenders", tuple(self.contenders))

    @property
    def n_steps(self) -> int:
        return self.steps if self.steps is not None else self.problem.default_steps

    def check(self, limits: Limits | None = None) -> None:
        """Refuse what cannot be run, before any work, with a message fit for a user."""
        limits = limits or server_limits()
        allowed = limits.optimizer_modules
        if not self.contenders:
            raise ConfigError("choose at least one optimizer to compare")
        if len(self.contenders) > MAX_CONTENDERS:
            raise ConfigError(f"compare at most {MAX_CONTENDERS} optimizers at once, not {len(self.contenders)}")
        for c in self.contenders:
            spec = get_optimizer(c.optimizer, allowed)
            names = [r.name for r in c.space]
            if "lr" not in names:
                raise ConfigError(f"{c.name}: the lr must be searched (every optimizer's budget includes it)")
            if len(set(names)) != len(names):
                raise ConfigError(f"{c.name}: a hyperparameter is searched twice")
            for r in c.space:
                r.check()
                if r.name not in searchable(spec.name, allowed):
                    raise ConfigError(f"{spec.name} has no number hyperparameter {r.name!r} to search")
        _whole(self.trials, "trials", 1, MAX_TRIALS)
        _whole(self.seeds, "seeds", 1, MAX_SEEDS)
        _whole(self.trial_seed, "the trial seed", 0, 2**31 - 1)
        if self.steps is not None:
            _whole(self.steps, "steps", 1, limits.max_steps)
        metric = METRICS.get(self.metric)
        if metric is None:
            raise ConfigError(f"unknown metric {self.metric!r}; choose one of: {', '.join(METRICS)}")
        is_model = isinstance(self.problem, Task)
        if metric.models_only and not is_model:
            raise ConfigError(
                f"{metric.name} is measured on a model's test set; on a {self.problem.title} "
                "choose final_loss, best_loss, steps_to_target or evals_to_target"
            )
        if self.metric == "test_accuracy" and getattr(self.problem.build(), "kind", "") == "regression":
            raise ConfigError("test accuracy needs classes; this dataset has a numeric target (use test_loss)")
        for value, name in ((self.target, "the target"), (self.spread, "the spread"), (self.noise, "the noise")):
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ConfigError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.target <= 0:
            raise ConfigError(f"the target must be > 0, got {self.target:g}")
        if self.spread > 1:
            raise ConfigError(f"the spread is a share of the domain's width, at most 1, got {self.spread:g}")
        if self.dtype not in DTYPES:
            raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        runs = len(self.contenders) * self.trials * self.seeds
        limits.check(runs, self.n_steps)
        check_work = getattr(self.problem.build(), "check_work", None)
        if check_work is not None:
            check_work(runs, self.n_steps, limits.max_steps)

    # -- plain values ------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "problem": self.problem.to_dict(),
            "contenders": [
                {
                    "optimizer": c.optimizer,
                    "label": c.label,
                    "fixed": dict(c.fixed),
                    "space": [{"name": r.name, "lo": r.lo, "hi": r.hi, "log": r.log} for r in c.space],
                }
                for c in self.contenders
            ],
            "trials": self.trials,
            "seeds": self.seeds,
            "steps": self.steps,
            "metric": self.metric,
            "target": self.target,
            "trial_seed": self.trial_seed,
            "spread": self.spread,
            "noise": self.noise,
            "dtype": self.dtype,
        }

    @classmethod
    def from_dict(cls, data: Any, allowed: tuple[str, ...] = ("",)) -> Comparison:
        """A comparison from parsed JSON (``to_dict``'s form); ConfigError names the bad field."""
        if not isinstance(data, Mapping):
            raise ConfigError("a comparison must be a JSON object")
        default = cls()
        contenders = []
        for i, c in enumerate(data.get("contenders", [])):
            where = f"contenders[{i}]"
            if not isinstance(c, Mapping) or not isinstance(c.get("optimizer"), str):
                raise ConfigError(f"{where} must be an object with an 'optimizer'")
            spec = get_optimizer(c["optimizer"], allowed)
            space: list[Range] = []
            for r in c.get("space", []):
                if not isinstance(r, Mapping):
                    raise ConfigError(f'{where}.space holds objects like {{"name": "lr", "lo": 1e-4, ...}}')
                space.append(
                    Range(
                        str(r.get("name")),
                        r.get("lo"),
                        r.get("hi"),  # type: ignore[arg-type]
                        bool(r.get("log", False)),
                    )
                )  # Range.check refuses what is not a number
            fixed = c.get("fixed", {})
            if not isinstance(fixed, Mapping):
                raise ConfigError(f"{where}.fixed must be an object")
            contenders.append(
                Contender(
                    spec.name,
                    tuple(space),
                    {k: spec.hparam(k).parse(v) for k, v in fixed.items()},
                    str(c.get("label", "")),
                )
            )
        out = cls(
            problem_from_dict(data.get("problem", {})),
            tuple(contenders) or default.contenders,
            **{
                k: data[k]
                for k in ("trials", "seeds", "steps", "metric", "target", "trial_seed", "spread", "noise", "dtype")
                if k in data
            },
        )
        out.check(replace(server_limits(), optimizer_modules=allowed))
        return out


def _whole(value: Any, name: str, low: int, high: int) -> int:
    try:
        return whole(value, low, high)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a whole number from {low} to {high:,}, got {value!r}") from None


# -- the trials and the seeds ------------------------------------------------------------------


def sample(c: Contender, trials: int, seed: int) -> np.ndarray:
    """``(trials, len(space))`` values: a scrambled Sobol sequence over the contender's
    space, the same points for every contender of the same dimension (a paired draw)."""
    sobol = torch.quasirandom.SobolEngine(len(c.space), scramble=True, seed=int(seed))
    u = sobol.draw(trials, dtype=torch.float64).numpy()
    return np.stack([r.at(u[:, j]) for j, r in enumerate(c.space)], axis=1)


def with_values(
    optimizer: str,
    base: Mapping[str, Any],
    names: Sequence[str],
    values: Sequence[float],
    allowed: tuple[str, ...] = ("",),
) -> dict[str, Any]:
    """Hyperparameters ``base`` with each ``names[j]`` (``betas[1]`` sets one element) at ``values[j]``."""
    spec = get_optimizer(optimizer, allowed)
    hp = dict(base)
    for name, value in zip(names, values):
        match = _NAME.match(name)
        if match is None:
            raise ConfigError(f"{name!r} is not a hyperparameter name like lr or betas[1]")
        key, index = match.group(1), match.group(2)
        if index is None:
            hp[key] = float(value)
        else:
            current = list(hp.get(key, spec.defaults[key]))
            current[int(index)] = float(value)
            hp[key] = tuple(current)
    return hp


def seed_starts(problem: ProblemConfig, seeds: int, spread: float) -> list[tuple[float, ...] | None]:
    """Each seed's start point. A surface: seed 0 its start, others uniform within
    ``spread`` x the domain's width around it (inside the domain). A model: the
    weights its own initialization draws with init seed ``init_seed + s``. None
    is the problem's own start."""
    built = problem.build()
    if isinstance(problem, Task):
        from .problems import models

        out: list[tuple[float, ...] | None] = [None]  # the task's own initialization
        for s in range(1, seeds):
            model = models.build(
                problem.model, dict(problem.model_params), built.split.n_features, built.n_out, problem.init_seed + s
            )
            out.append(tuple(torch.cat([p.detach().reshape(-1) for p in model.parameters()]).double().tolist()))
        return out
    domain = getattr(built, "domain", None)
    if domain is None or problem.start_size != 2:
        return [None] * seeds
    start = np.array(built.start, dtype=np.float64)
    lo = np.array([d[0] for d in domain], dtype=np.float64)
    hi = np.array([d[1] for d in domain], dtype=np.float64)
    out = [tuple(float(v) for v in start)]
    for s in range(1, seeds):
        u = np.random.default_rng(s).uniform(-1.0, 1.0, 2)
        out.append(tuple(float(v) for v in np.clip(start + spread * (hi - lo) * u, lo, hi)))
    return out


# -- the result ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CompareResult:
    """Per contender ``k``, trial ``b`` and seed ``s``: arrays ``[k, b, s]``.

    ``metric`` is the chosen metric (NaN where a run has none: it diverged, or
    never reached the target); ``score[k, b]`` the trial's median over seeds as a
    cost (lower is better; a run without a value counts as the worst);
    ``tuned[k]`` the best trial. ``curves`` hold the tuned trials' runs per point:
    ``loss`` (as ``f − f*`` where the minimum is known), ``evals`` and ``time``,
    each ``(K, S, points)``.
    """

    comparison: Comparison
    values: tuple[np.ndarray, ...]  # per contender, (B, len(space)): each trial's sampled values
    starts: tuple[tuple[float, ...] | None, ...]
    final_loss: np.ndarray
    best_loss: np.ndarray
    diverged_at: np.ndarray
    steps_to_target: np.ndarray  # NaN: never reached
    evals_to_target: np.ndarray
    metric: np.ndarray
    score: np.ndarray  # (K, B)
    tuned: np.ndarray  # (K,)
    curves: dict[str, np.ndarray]
    run_time: np.ndarray  # (K, B, S) seconds of the batch attributed to each run
    fmin: float | None
    wall_time: float
    device: str
    dtype: str
    steps: int

    @property
    def spec(self) -> Metric:
        return METRICS[self.comparison.metric]

    def label(self, k: int) -> str:
        return self.comparison.contenders[k].name

    def hparams(self, k: int, b: int) -> dict[str, Any]:
        c = self.comparison.contenders[k]
        return with_values(c.optimizer, c.fixed, [r.name for r in c.space], self.values[k][b])

    def run(self, k: int, b: int, s: int = 0) -> RunConfig:
        """The single run behind trial ``b`` of contender ``k`` at seed ``s``: replay it, or watch it."""
        c, cmp = self.comparison.contenders[k], self.comparison
        return RunConfig(
            c.optimizer, self.hparams(k, b), start=self.starts[s], noise=float(cmp.noise), seed=s if cmp.noise else 0
        )

    def tuned_run(self, k: int, s: int = 0) -> RunConfig:
        return self.run(k, int(self.tuned[k]), s)

    def setting_text(self, k: int, b: int) -> str:
        """``lr=0.0123 momentum=0.91``: a trial's searched values."""
        c = self.comparison.contenders[k]
        return " ".join(f"{r.name}={v:.3g}" for r, v in zip(c.space, self.values[k][b]))

    def at_edge(self, k: int) -> list[str]:
        """The searched hyperparameters whose tuned value lies in the outer 5% of its range
        (in log units for a log range): the best setting may lie outside the search space."""
        out = []
        for r, v in zip(self.comparison.contenders[k].space, self.values[k][int(self.tuned[k])]):
            lo, hi, v = (math.log(r.lo), math.log(r.hi), math.log(v)) if r.log else (r.lo, r.hi, v)
            if hi > lo and min(v - lo, hi - v) < 0.05 * (hi - lo):
                out.append(r.name)
        return out

    def ranking(self) -> list[int]:
        """Contenders best first: by the tuned trial's score, then by its median final loss."""
        K = len(self.tuned)
        best = [self.score[k, self.tuned[k]] for k in range(K)]
        tie = [_median_cost(self.final_loss[k, self.tuned[k]]) for k in range(K)]
        return sorted(range(K), key=lambda k: (best[k], tie[k], k))

    def summary(self, k: int) -> dict[str, Any]:
        """The tuned trial's metric over the seeds: median, quartiles, extremes; and how the budget went."""
        b = int(self.tuned[k])
        m = self.metric[k, b]
        worst = -math.inf if self.spec.higher else math.inf
        filled = np.where(np.isnan(m), worst, m)
        with np.errstate(invalid="ignore"):
            q = np.percentile(filled, [25, 50, 75])
        # NaN only from inf - inf, between two seeds that both have no value: the worst.
        q25, med, q75 = np.where(np.isnan(q), worst, q)
        diverged = self.diverged_at[k] >= 0
        return {
            "contender": self.label(k),
            "optimizer": self.comparison.contenders[k].optimizer,
            "tuned": {r.name: float(v) for r, v in zip(self.comparison.contenders[k].space, self.values[k][b])},
            "trial": b,
            "median": _json_number(med),
            "q25": _json_number(q25),
            "q75": _json_number(q75),
            "min": _json_number(filled.min()),
            "max": _json_number(filled.max()),
            "seeds_without_value": int(np.isnan(m).sum()),
            "diverged_runs": int(diverged.sum()),
            "runs": int(diverged.size),
            "trials_diverged": int(diverged.any(axis=1).sum()),
            "at_edge": self.at_edge(k),
        }

    def protocol(self) -> str:
        """The sentence that states how the comparison was run."""
        cmp = self.comparison
        spaces = "; ".join(f"{c.name}: " + ", ".join(r.describe() for r in c.space) for c in cmp.contenders)
        seeds = seeds_text(cmp)
        metric = self.spec.name
        if self.spec.target:
            metric += f" (f − f* ≤ {cmp.target:g})" if self.fmin is not None else f" (loss ≤ {cmp.target:g})"
        return (
            f"Each optimizer got the same budget: {cmp.trials} trials drawn from a scrambled Sobol sequence "
            f"(trial seed {cmp.trial_seed}) over its search space ({spaces}); each trial ran from {seeds}, "
            f"{self.steps:,} steps each, all {len(self.tuned) * cmp.trials * cmp.seeds:,} runs as one batch "
            f"({self.dtype}). A trial's score is its median {metric} over the seeds; each optimizer is "
            "ranked by its best trial."
        )

    def band(
        self, k: int, axis: str = "steps", kind: str = "minmax", points: int = 200
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The tuned trial's race over the seeds: ``(x, low, median, high)`` of its loss.

        ``axis`` is ``steps``, ``evals`` (gradient evaluations) or ``time``
        (seconds); the seeds' curves are read at common x values (a seed that
        needs more evaluations per step reaches a given x at an earlier step). A
        run that diverged counts as infinitely bad from there on; ``kind`` is
        ``minmax`` or ``iqr`` (the quartiles).
        """
        loss = np.where(np.isnan(self.curves["loss"][k]), np.inf, self.curves["loss"][k])  # (S, P)
        if axis == "steps":
            x = np.arange(loss.shape[1], dtype=np.float64)
            at = loss
        else:
            xs = self.curves["evals" if axis == "evals" else "time"][k].astype(np.float64)  # (S, P), non-decreasing
            top = float(np.nanmax(xs[:, -1]))
            x = np.linspace(0.0, top, points) if top > 0 else np.zeros(1)
            # Each seed at each x: its last point reached by then (a step function, as the work is spent).
            idx = np.stack([np.searchsorted(xs[s], x, side="right") - 1 for s in range(len(xs))])
            reached = idx < xs.shape[1] - 1
            idx = np.clip(idx, 0, xs.shape[1] - 1)
            at = np.take_along_axis(loss, idx, 1)
            # Past a seed's last point there is nothing to say: it ran out of steps, not of work.
            at = np.where(reached | (x[None, :] <= xs[:, -1:]), at, np.nan)
        with np.errstate(invalid="ignore"):
            q = (0, 50, 100) if kind == "minmax" else (25, 50, 75)
            lo, med, hi = (np.nanpercentile(np.where(np.isnan(at), np.nan, at), p, axis=0) for p in q)
        return x, lo, med, hi

    # -- plain values: the CLI's JSON and CSV, the app's downloads -----------------------------

    def to_dict(self) -> dict[str, Any]:
        cmp = self.comparison
        trials = []
        for k, c in enumerate(cmp.contenders):
            for b in range(cmp.trials):
                trials.append(
                    {
                        "contender": c.name,
                        "k": k,
                        "trial": b,
                        "values": {r.name: float(v) for r, v in zip(c.space, self.values[k][b])},
                        "score": _json_number(self.score[k, b], self.spec.higher),
                        "tuned": bool(b == self.tuned[k]),
                        "seeds": [self._seed_dict(k, b, s) for s in range(cmp.seeds)],
                    }
                )
        return {
            "kind": "compare",
            "comparison": cmp.to_dict(),
            "protocol": self.protocol(),
            "metric": cmp.metric,
            "f_min": self.fmin,
            "ranking": [{"rank": i + 1, **self.summary(k)} for i, k in enumerate(self.ranking())],
            "trials": trials,
            "starts": [None if s is None or len(s) > 16 else list(s) for s in self.starts],
            "steps": self.steps,
            "dtype": self.dtype,
            "device": self.device,
            "wall_time": self.wall_time,
        }

    def _seed_dict(self, k: int, b: int, s: int) -> dict[str, Any]:
        at = self.diverged_at[k, b, s]
        return {
            "seed": s,
            "metric": finite_or_none(self.metric[k, b, s]),
            "final_loss": finite_or_none(self.final_loss[k, b, s]),
            "best_loss": finite_or_none(self.best_loss[k, b, s]),
            "diverged_at": None if at < 0 else int(at),
            "steps_to_target": finite_or_none(self.steps_to_target[k, b, s]),
            "evals_to_target": finite_or_none(self.evals_to_target[k, b, s]),
        }

    def rows(self) -> list[list[Any]]:
        """One row per trial and seed: the CSV."""
        cmp = self.comparison
        names = list(dict.fromkeys(r.name for c in cmp.contenders for r in c.space))
        header = [
            "contender",
            "optimizer",
            "trial",
            "seed",
            *names,
            "tuned",
            "metric",
            "final_loss",
            "best_loss",
            "diverged_at",
            "steps_to_target",
            "evals_to_target",
        ]
        rows: list[list[Any]] = [header]
        for k, c in enumerate(cmp.contenders):
            own = {r.name: j for j, r in enumerate(c.space)}
            for b in range(cmp.trials):
                values = [float(self.values[k][b][own[n]]) if n in own else None for n in names]
                for s in range(cmp.seeds):
                    d = self._seed_dict(k, b, s)
                    rows.append(
                        [
                            _safe(c.name),
                            c.optimizer,
                            b,
                            s,
                            *values,
                            str(b == self.tuned[k]).lower(),
                            d["metric"],
                            d["final_loss"],
                            d["best_loss"],
                            d["diverged_at"],
                            d["steps_to_target"],
                            d["evals_to_target"],
                        ]
                    )
        return rows

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=False)

    def to_csv(self) -> str:
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([["" if v is None else v for v in row] for row in self.rows()])
        return out.getvalue()


def seeds_text(cmp: Comparison) -> str:
    """How the seeds differ, in words."""
    n = cmp.seeds
    what = []
    if isinstance(cmp.problem, Task):
        what.append(
            f"initial weights drawn with init seeds {cmp.problem.init_seed}–{cmp.problem.init_seed + n - 1}"
            if n > 1
            else f"the initial weights of init seed {cmp.problem.init_seed}"
        )
    elif cmp.problem.start_size == 2 and n > 1 and cmp.spread > 0:
        what.append(f"start points within {cmp.spread:.3g} of the domain's width around the start")
    if cmp.noise:
        what.append(
            f"gradient noise σ = {cmp.noise:g} with noise seeds 0–{n - 1}"
            if n > 1
            else f"gradient noise σ = {cmp.noise:g}"
        )
    if not what:
        what.append("the same start" + (" (no spread and no noise: the seeds are identical runs)" if n > 1 else ""))
    return f"{n} seed{'s' if n > 1 else ''} ({'; '.join(what)})"


def _median_cost(values: np.ndarray) -> float:
    return float(np.median(np.where(np.isnan(values), np.inf, values)))


def _json_number(value: float, negate: bool = False) -> float | None:
    value = -value if negate else value
    return float(value) if math.isfinite(value) else None


def _safe(text: str) -> str:
    """A label a spreadsheet shows as text (no formula)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# -- computing it --------------------------------------------------------------------------------


def compare(
    comparison: Comparison,
    *,
    on_progress: Callable[[Progress], Any] | None = None,
    limits: Limits | None = None,
    device: str | None = None,
    threads: int | None = None,
) -> CompareResult:
    """Every contender x trial x seed as one engine batch; the metric, scores, tuned trials and races.

    ConfigError comes before any work if the comparison cannot be run or is over the
    operator's limits; ``on_progress`` returning False cancels (:class:`~optviz.engine.Cancelled`).
    """
    limits = limits or server_limits()
    comparison.check(limits)
    cmp, problem = comparison, comparison.problem.build()
    K, B, S, steps = len(cmp.contenders), cmp.trials, cmp.seeds, cmp.n_steps
    allowed = limits.optimizer_modules
    values = tuple(sample(c, B, cmp.trial_seed) for c in cmp.contenders)
    starts = seed_starts(cmp.problem, S, cmp.spread)
    configs = []
    for k, c in enumerate(cmp.contenders):
        names = [r.name for r in c.space]
        for b in range(B):
            hp = with_values(c.optimizer, c.fixed, names, values[k][b], allowed)
            configs += [
                RunConfig(c.optimizer, hp, start=starts[s], noise=float(cmp.noise), seed=s if cmp.noise else 0)
                for s in range(S)
            ]
    # One intra-op thread for small steps (every surface): splitting tiny elementwise ops
    # across busy cores costs more than it saves (as experiment.compute does).
    small = getattr(problem, "small_step", None)
    if threads is None and (small is None or small(len(configs))):
        threads = 1
    result = engine.run(
        problem,
        configs,
        steps=steps,
        record=("loss", "evals"),
        dtype=cmp.dtype,
        device=device,
        limits=limits,
        threads=threads,
        on_chunk=on_progress,
    )
    shape = (K, B, S)
    known = getattr(cmp.problem, "known_minimum", None)
    fmin = known() if known is not None else None
    loss = result.arrays["loss"]  # (points, runs)
    gap = loss - fmin if fmin is not None else loss
    with np.errstate(invalid="ignore"):
        hit = gap <= cmp.target
    reached = hit.any(axis=0)
    first = np.argmax(hit, axis=0)
    evals = result.arrays["evals"]
    steps_to = np.where(reached, first, np.nan)
    evals_to = np.where(reached, evals[first, np.arange(len(configs))], np.nan)
    metric = {
        "final_loss": result.final_loss,
        "best_loss": result.best_loss,
        "steps_to_target": steps_to,
        "evals_to_target": evals_to,
    }.get(cmp.metric)
    if metric is None:  # a model's test metrics, at the final weights
        evaluate = problem.evaluate_path  # type: ignore[attr-defined]
        _, measured, _ = evaluate(np.array([steps]), result.final_params[None], cmp.dtype)
        metric = measured[cmp.metric][0]
    metric = np.asarray(metric, dtype=np.float64).reshape(shape)
    cost = -metric if METRICS[cmp.metric].higher else metric
    cost = np.where(np.isnan(cost), np.inf, cost)
    score = np.median(cost, axis=2)
    final = result.final_loss.reshape(shape)
    tie = np.median(np.where(np.isnan(final), np.inf, final), axis=2)
    tuned = np.array([np.lexsort((np.arange(B), tie[k], score[k]))[0] for k in range(K)], dtype=np.int64)
    # The tuned trials' runs, per point: the race.
    rows = np.array([[(k * B + tuned[k]) * S + s for s in range(S)] for k in range(K)])  # (K, S)
    run_time = result.run_time
    work = evals[:, rows].astype(np.float64)  # (points, K, S)
    total = np.maximum(work[-1], 1.0)
    curves = {
        "loss": np.moveaxis(gap[:, rows], 0, -1),
        "evals": np.moveaxis(evals[:, rows], 0, -1),
        # Each run's measured share of the batch's time, spent as its evaluations are.
        "time": np.moveaxis(work / total * run_time[rows], 0, -1),
    }
    return CompareResult(
        cmp,
        values,
        tuple(starts),
        final_loss=final,
        best_loss=result.best_loss.reshape(shape),
        diverged_at=result.diverged_at.reshape(shape),
        steps_to_target=steps_to.reshape(shape),
        evals_to_target=evals_to.reshape(shape),
        metric=metric,
        score=score,
        tuned=tuned,
        curves=curves,
        run_time=run_time.reshape(shape),
        fmin=fmin,
        wall_time=result.wall_time,
        device=result.device,
        dtype=result.dtype,
        steps=steps,
    )


# -- the command line: python -m optviz compare ----------------------------------------------------

EPILOG = """examples:
  python -m optviz compare --surface rosenbrock --optimizer SGD "SGD;momentum" RMSprop Adam
  python -m optviz compare --surface quadratic --surface-set kappa=100 --steps 200 \\
      --optimizer "SGD;lr=1e-3:10:log" "SGD;lr=1e-3:10:log;momentum=0:0.99" --format csv
  python -m optviz compare --dataset moons --epochs 10 --optimizer SGD Adam --trials 16 --seeds 3 \\
      --metric test_accuracy

Each --optimizer is a contender: a torch.optim name, then ;-separated hyperparameters:
'momentum' searches it over its default range, 'momentum=0:0.99' over that range
(':log' for log-uniform), 'nesterov=true' holds it; the lr is always searched (by default
log-uniform over four decades around the optimizer's default lr). JSON has the protocol,
the ranking (each optimizer's tuned trial: median, quartiles and extremes of the metric
over the seeds) and every trial with every seed; CSV has one row per trial and seed.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The comparison's own arguments (the problem's are the CLI's shared ones)."""
    g = p.add_argument_group("the comparison")
    g.add_argument(
        "--optimizer",
        nargs="+",
        default=None,
        metavar="CONTENDER",
        help="contenders, e.g. SGD 'SGD;momentum' Adam (default: SGD, SGD + momentum, RMSprop, Adam)",
    )
    g.add_argument("--trials", type=int, default=64, help="tuning budget: trials per optimizer (default 64)")
    g.add_argument("--seeds", type=int, default=5, help="seeds per trial (default 5)")
    g.add_argument("--steps", type=int, help="steps per run (default: 500 on a surface, the epochs on a dataset)")
    g.add_argument("--metric", default="final_loss", choices=list(METRICS), help="what ranks them (default final_loss)")
    g.add_argument(
        "--target-loss",
        type=float,
        default=1e-3,
        help="the target of steps_to_target and evals_to_target: f - f* (where f* is known) or f; default 1e-3",
    )
    g.add_argument("--trial-seed", type=int, default=0, help="seed of the Sobol sequence of trials")
    g.add_argument(
        "--spread",
        type=float,
        default=0.05,
        help="on a surface: seeds start within this share of the domain's width around its start",
    )
    g.add_argument("--noise", type=float, default=0.0, help="std of Gaussian noise added to each gradient")
    g.add_argument("--dtype", default="float64", choices=list(DTYPES))
    g.add_argument("--device", default=None, help="auto, cpu or cuda (default: OPTVIZ_DEVICE or auto)")
    g.add_argument("--format", default="json", choices=["json", "csv"])
    g.add_argument("--out", help="write here instead of stdout")


def command(args: argparse.Namespace, problem: ProblemConfig) -> int:
    """Run the comparison the arguments describe and write it as JSON or CSV."""
    from pathlib import Path

    from .export import write_output

    limits = replace(server_limits(), optimizer_modules=("",))  # the user's own machine
    contenders = tuple(parse_contender(t) for t in args.optimizer) if args.optimizer else _default_contenders()
    steps = args.steps if args.steps is not None else (None if problem.own_length else problem.default_steps)
    cmp = Comparison(
        problem,
        contenders,
        args.trials,
        args.seeds,
        steps,
        args.metric,
        args.target_loss,
        args.trial_seed,
        args.spread,
        args.noise,
        args.dtype,
    )
    result = compare(cmp, limits=limits, device=args.device)
    text = result.to_json() + "\n" if args.format == "json" else result.to_csv()
    write_output(text, Path(args.out) if args.out else None)
    return 0


__all__ = [
    "AXES",
    "METRICS",
    "CompareResult",
    "Comparison",
    "Contender",
    "Metric",
    "Range",
    "compare",
    "contender",
    "default_lr",
    "default_range",
    "parse_contender",
    "sample",
    "searchable",
    "seed_starts",
    "seeds_text",
    "with_values",
]

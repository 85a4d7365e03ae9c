"""Sweeps and maps: thousands of runs through the batched engine at once.

Three questions, each answered by ONE engine batch of runs that differ only in a
float hyperparameter or a start point (which the engine batches per run):

* :func:`lr_sweep`: N log-spaced learning rates for each optimizer config, on
  any problem (a surface, a model on a dataset): final loss, best loss and
  divergence against the LR, and each config's best LR.
* :func:`basin_map`: a run from every point of a grid of starts on a 2-D
  surface: where each ends, which known minimum it reached, whether it diverged.
* :func:`heatmap`: two hyperparameters on a grid (``lr`` x ``momentum``,
  ``lr`` x ``betas[1]``), coloured by final loss. :func:`polyak_point` gives the
  optimal heavy-ball setting where a surface's curvatures are known.

Each takes a problem config (:mod:`optviz.problems`) and ``steps`` (None: the
problem's own length), and ``on_progress``: the engine's ``on_chunk`` callback
(returning False cancels with :class:`~optviz.engine.Cancelled`). Only summaries
are kept (``record=()``), and the operator's work bound refuses an oversized
request before anything is built. ``threads`` sets torch's CPU threads.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from . import engine
from .config import Limits
from .config import limits as server_limits
from .engine import Cancelled, Progress, Result, RunConfig, finite_or_none, resolve
from .optim import get as get_optimizer
from .params import ConfigError
from .problems import ProblemConfig, SurfaceProblem


def _execute(problem: ProblemConfig, configs: list[RunConfig], steps: int | None, *, dtype: str = "float32",
             device: str | None = None, limits: Limits | None = None, chunk: int | None = None,
             threads: int | None = None, on_progress: Callable[[Progress], Any] | None = None) -> Result:
    """One engine batch with ``record=()``, reporting after every chunk of steps."""
    return engine.run(problem.build(), configs, steps=steps, record=(), chunk=chunk, dtype=dtype, device=device,
                      limits=limits, threads=threads, on_chunk=on_progress)


def _steps(problem: ProblemConfig, steps: int | None) -> int:
    return problem.default_steps if steps is None else steps


def _variant(config: RunConfig, **fields: Any) -> RunConfig:
    """``config`` with ``fields`` replaced, given already in RunConfig's frozen
    form: ``dataclasses.replace`` re-freezes every field, which for a million
    runs costs seconds."""
    new = copy.copy(config)
    for name, value in fields.items():
        object.__setattr__(new, name, value)
    return new


def _with_lr(config: RunConfig, lr: float) -> RunConfig:
    others = tuple(kv for kv in config.hparams if kv[0] != "lr")
    return _variant(config, hparams=tuple(sorted((*others, ("lr", float(lr))))))


def _check_work(limits: Limits, runs: int, steps: int, problem: ProblemConfig) -> None:
    # Before building the configs: a refused request must cost nothing.
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"steps must be a whole number >= 1, got {steps!r}")
    limits.check(runs, steps)
    # A problem that counts its work (a model's multiply-adds) refuses a sweep as it does a training.
    check_work = getattr(problem.build(), "check_work", None)
    if check_work is not None:
        check_work(runs, steps, limits.max_steps)


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ConfigError(f"{name} must be a whole number >= 1, got {value!r}")
    return int(value)


def _finite(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    return number


# -- LR sweep -------------------------------------------------------------------


def log_lrs(lo: float, hi: float, num: int) -> np.ndarray:
    """``num`` learning rates spaced evenly in log from ``lo`` to ``hi``, both included."""
    lo, hi, num = _finite(lo, "lowest lr"), _finite(hi, "highest lr"), _count(num, "the number of lrs")
    if not 0 < lo <= hi:
        raise ConfigError(f"the lr range needs 0 < low <= high, got {lo:g} .. {hi:g}")
    return np.logspace(math.log10(lo), math.log10(hi), num) if num > 1 else np.array([lo])


@dataclass(frozen=True, eq=False)
class LRSweep:
    """Per optimizer config ``k`` and lr ``i``: summaries of the run ``run(k, i)``.

    ``final_loss`` is NaN where the run diverged; ``diverged_at`` is the point
    (step) where it did, -1 where it never did.
    """

    problem: ProblemConfig
    configs: tuple[RunConfig, ...]  # one per curve; each run takes its lr from ``lrs``
    steps: int
    lrs: np.ndarray  # (N,), ascending
    final_loss: np.ndarray  # (K, N)
    best_loss: np.ndarray  # (K, N)
    diverged_at: np.ndarray  # (K, N)
    wall_time: float
    device: str
    dtype: str

    def label(self, k: int) -> str:
        return self.configs[k].label or self.configs[k].optimizer

    def run(self, k: int, i: int) -> RunConfig:
        """The single run behind point ``i`` of curve ``k``: replay it, or show its path."""
        return _with_lr(self.configs[k], self.lrs[i])

    def best_index(self, k: int) -> int | None:
        """The lr index with the lowest final loss among runs that did not diverge;
        ties go to the smaller lr. None if every run diverged."""
        loss = np.where(self.diverged_at[k] < 0, self.final_loss[k], np.nan)
        if not np.isfinite(loss).any():
            return None
        return int(np.nanargmin(loss))  # the first of equal minima: lrs ascend

    def best_lr(self, k: int) -> float | None:
        i = self.best_index(k)
        return None if i is None else float(self.lrs[i])


def lr_sweep(
    problem: ProblemConfig,
    configs: Sequence[RunConfig],
    lrs: Sequence[float] | np.ndarray,
    steps: int | None = None,
    *,
    limits: Limits | None = None,
    **options: Any,
) -> LRSweep:
    """Every config of ``configs`` at every lr of ``lrs``, as one batch."""
    limits = limits or server_limits()
    configs = tuple(configs)
    steps = _steps(problem, steps)
    lrs = np.sort(np.asarray(lrs, dtype=np.float64).ravel())
    if not configs:
        raise ConfigError("choose at least one optimizer to sweep")
    if not lrs.size or not (np.isfinite(lrs).all() and (lrs > 0).all()):
        raise ConfigError("learning rates must be finite numbers > 0")
    _check_work(limits, len(configs) * lrs.size, steps, problem)
    for c in configs:
        if "lr" not in get_optimizer(c.optimizer, limits.optimizer_modules).defaults:
            raise ConfigError(f"{c.optimizer} takes no 'lr' argument to sweep")
    runs = [_with_lr(c, lr) for c in configs for lr in lrs]
    result = _execute(problem, runs, steps, limits=limits, **options)
    shape = (len(configs), lrs.size)
    return LRSweep(
        problem, configs, steps, lrs,
        final_loss=result.final_loss.reshape(shape),
        best_loss=result.best_loss.reshape(shape),
        diverged_at=result.diverged_at.reshape(shape),
        wall_time=result.wall_time, device=result.device, dtype=result.dtype,
    )


# -- basin map --------------------------------------------------------------------


def reached_minimum(final_params: np.ndarray, minima: Sequence[Sequence[float]], tol: float) -> np.ndarray:
    """Index of the known minimum nearest each final point, if within ``tol``
    (Euclidean, in the parameters); -1 for none (stuck elsewhere, still on its
    way, or diverged: NaN is near nothing)."""
    final_params = np.asarray(final_params, dtype=np.float64)
    out = np.full(final_params.shape[:-1], -1, dtype=np.int64)
    if not len(minima):
        return out
    points = np.array([m[:2] for m in minima], dtype=np.float64)  # (M, 2)
    dist = np.linalg.norm(final_params[..., None, :] - points, axis=-1)  # (..., M)
    nearest = np.argmin(np.where(np.isnan(dist), np.inf, dist), axis=-1)
    close = np.take_along_axis(dist, nearest[..., None], -1)[..., 0] <= tol
    out[close] = nearest[close]
    return out


def default_tol(problem: SurfaceProblem) -> float:
    """1% of the surface's wider side: a run this close has found the minimum's basin floor."""
    (x0, x1), (y0, y1) = problem.domain
    return 0.01 * max(x1 - x0, y1 - y0)


@dataclass(frozen=True, eq=False)
class BasinMap:
    """Per config ``k`` and start ``(xs[i], ys[j])``: arrays indexed ``[k, j, i]``
    (rows are y, like an image and Plotly's heatmap ``z``)."""

    problem: ProblemConfig
    configs: tuple[RunConfig, ...]
    steps: int
    xs: np.ndarray  # (nx,)
    ys: np.ndarray  # (ny,)
    final_loss: np.ndarray  # (K, ny, nx), NaN where diverged
    final_params: np.ndarray  # (K, ny, nx, 2)
    minimum: np.ndarray  # (K, ny, nx): index into ``minima``, -1 for none
    diverged_at: np.ndarray  # (K, ny, nx), -1 never
    minima: tuple[tuple[float, float, float], ...]
    tol: float
    wall_time: float
    device: str
    dtype: str

    @property
    def diverged(self) -> np.ndarray:
        return self.diverged_at >= 0

    def label(self, k: int) -> str:
        return self.configs[k].label or self.configs[k].optimizer

    def start(self, j: int, i: int) -> tuple[float, float]:
        return (float(self.xs[i]), float(self.ys[j]))

    def run(self, k: int, j: int, i: int) -> RunConfig:
        return replace(self.configs[k], start=self.start(j, i))

    def shares(self, k: int) -> dict[int, float]:
        """Fraction of starts per outcome: minimum index, -1 none, -2 diverged."""
        outcome = np.where(self.diverged[k], -2, self.minimum[k])
        values, counts = np.unique(outcome, return_counts=True)
        return {int(v): c / outcome.size for v, c in zip(values, counts)}


def grid_axis(lo: float, hi: float, num: int, name: str) -> np.ndarray:
    lo, hi, num = _finite(lo, f"{name} low"), _finite(hi, f"{name} high"), _count(num, f"{name} points")
    if not lo < hi:
        raise ConfigError(f"the {name} range needs low < high, got {lo:g} .. {hi:g}")
    return np.linspace(lo, hi, num)


def basin_map(
    problem: SurfaceProblem,
    configs: Sequence[RunConfig],
    steps: int | None = None,
    *,
    nx: int = 100,
    ny: int | None = None,
    x_range: tuple[float, float] | None = None,
    y_range: tuple[float, float] | None = None,
    tol: float | None = None,
    limits: Limits | None = None,
    **options: Any,
) -> BasinMap:
    """Each config from every start of an ``nx`` x ``ny`` grid over the surface's
    domain (or the given ranges), as one batch: configs side by side on one grid."""
    limits = limits or server_limits()
    configs = tuple(configs)
    steps = _steps(problem, steps)
    if getattr(problem, "domain", None) is None or problem.start_size != 2:
        raise ConfigError("a basin map needs a 2-D surface: its domain is the grid of starts")
    if not configs:
        raise ConfigError("choose at least one optimizer to map")
    ny = nx if ny is None else ny
    for n, name in ((nx, "x"), (ny, "y")):
        if _count(n, f"grid points along {name}") > limits.max_grid:
            raise ConfigError(
                f"a {n}-point grid side is more than this server allows ({limits.max_grid}; OPTVIZ_MAX_GRID)"
            )
    _check_work(limits, len(configs) * nx * ny, steps, problem)
    (dx0, dx1), (dy0, dy1) = problem.domain
    xs = grid_axis(*(x_range or (dx0, dx1)), nx, "x")
    ys = grid_axis(*(y_range or (dy0, dy1)), ny, "y")
    tol = default_tol(problem) if tol is None else _finite(tol, "tolerance")
    if tol <= 0:
        raise ConfigError(f"the tolerance must be > 0, got {tol:g}")
    starts = [(float(x), float(y)) for y in ys for x in xs]  # row-major: y outer, like the arrays
    runs = [_variant(c, start=s) for c in configs for s in starts]
    result = _execute(problem, runs, steps, limits=limits, **options)
    shape = (len(configs), ny, nx)
    minima = tuple(tuple(float(v) for v in m) for m in problem.minima())
    final_params = result.final_params.reshape(*shape, -1)
    return BasinMap(
        problem, configs, steps, xs, ys,
        final_loss=result.final_loss.reshape(shape),
        final_params=final_params,
        minimum=reached_minimum(final_params, minima, tol),
        diverged_at=result.diverged_at.reshape(shape),
        minima=minima, tol=tol,
        wall_time=result.wall_time, device=result.device, dtype=result.dtype,
    )


# -- hyperparameter heatmap ----------------------------------------------------------

_AXIS_NAME = re.compile(r"^([A-Za-z_]\w*)(?:\[(\d+)\])?$")


@dataclass(frozen=True)
class Axis:
    """A hyperparameter on a grid: torch's name, with ``[i]`` for one element of
    a tuple (``betas[1]`` is Adam's beta2)."""

    name: str
    lo: float
    hi: float
    num: int
    log: bool = False

    @property
    def values(self) -> np.ndarray:
        lo, hi, num = _finite(self.lo, f"{self.name} low"), _finite(self.hi, f"{self.name} high"), _count(
            self.num, f"{self.name} points")
        if not lo <= hi:
            raise ConfigError(f"the {self.name} range needs low <= high, got {lo:g} .. {hi:g}")
        if self.log:
            if lo <= 0:
                raise ConfigError(f"a log-spaced {self.name} needs low > 0, got {lo:g}")
            return np.logspace(math.log10(lo), math.log10(hi), num) if num > 1 else np.array([lo])
        return np.linspace(lo, hi, num)

    def step(self) -> float:
        """One grid step: in log10 for a log axis."""
        v = np.log10(self.values) if self.log else self.values
        return float(v[1] - v[0]) if v.size > 1 else 0.0


def with_hparam(config: RunConfig, name: str, value: float, allowed: tuple[str, ...] = ("",)) -> RunConfig:
    """``config`` with hyperparameter ``name`` (``lr``, ``betas[1]``) set to ``value``."""
    match = _AXIS_NAME.match(name.strip())
    spec = get_optimizer(config.optimizer, allowed)
    if not match:
        raise ConfigError(f"{name!r} is not a hyperparameter name like lr or betas[1]")
    base, index = match.group(1), match.group(2)
    h = spec.hparam(base)
    hp = config.hp
    if h.kind == "float" and index is None:
        hp[base] = float(value)
    elif h.kind == "floats" and index is not None and int(index) < h.length:
        current = list(spec.resolve(hp)[base])
        current[int(index)] = float(value)
        hp[base] = tuple(current)
    elif h.kind == "floats":
        raise ConfigError(f"{base} has {h.length} numbers; vary one of them, e.g. {base}[1]")
    else:
        raise ConfigError(f"{spec.name}'s {name} is not a number that can vary from run to run")
    return replace(config, hparams=hp)


@dataclass(frozen=True, eq=False)
class Heatmap:
    """Arrays indexed ``[j, i]``: ``y.values[j]``, ``x.values[i]``."""

    problem: ProblemConfig
    config: RunConfig
    steps: int
    x: Axis
    y: Axis
    final_loss: np.ndarray  # (ny, nx), NaN where diverged
    best_loss: np.ndarray
    diverged_at: np.ndarray
    wall_time: float
    device: str
    dtype: str

    def run(self, j: int, i: int) -> RunConfig:
        c = with_hparam(self.config, self.x.name, float(self.x.values[i]))
        return with_hparam(c, self.y.name, float(self.y.values[j]))

    def best_cell(self) -> tuple[int, int] | None:
        """``(j, i)`` of the lowest final loss among runs that did not diverge."""
        loss = np.where(self.diverged_at < 0, self.final_loss, np.nan)
        if not np.isfinite(loss).any():
            return None
        j, i = np.unravel_index(int(np.nanargmin(loss)), loss.shape)
        return int(j), int(i)


def heatmap(
    problem: ProblemConfig,
    config: RunConfig,
    x: Axis,
    y: Axis,
    steps: int | None = None,
    *,
    limits: Limits | None = None,
    **options: Any,
) -> Heatmap:
    """``config`` at every pair of values of ``x`` and ``y``, as one batch."""
    limits = limits or server_limits()
    steps = _steps(problem, steps)
    if x.name == y.name:
        raise ConfigError(f"choose two different hyperparameters, not {x.name} twice")
    for axis in (x, y):
        if _count(axis.num, f"{axis.name} points") > limits.max_grid:
            raise ConfigError(
                f"{axis.num} values of {axis.name} is more than this server allows "
                f"({limits.max_grid}; OPTVIZ_MAX_GRID)"
            )
    _check_work(limits, x.num * y.num, steps, problem)
    xv, yv = x.values, y.values
    allowed = limits.optimizer_modules
    # Validate the names once; then each run is a cheap copy.
    with_hparam(with_hparam(config, x.name, float(xv[0]), allowed), y.name, float(yv[0]), allowed)
    runs = [with_hparam(with_hparam(config, x.name, float(a), allowed), y.name, float(b), allowed)
            for b in yv for a in xv]
    result = _execute(problem, runs, steps, limits=limits, **options)
    shape = (yv.size, xv.size)
    return Heatmap(
        problem, config, steps, x, y,
        final_loss=result.final_loss.reshape(shape),
        best_loss=result.best_loss.reshape(shape),
        diverged_at=result.diverged_at.reshape(shape),
        wall_time=result.wall_time, device=result.device, dtype=result.dtype,
    )


def polyak_heavy_ball(L: float, mu: float) -> tuple[float, float]:
    """Polyak's (1964) optimal heavy-ball step and momentum for a quadratic whose
    curvatures lie in [mu, L]: alpha = (2 / (sqrt L + sqrt mu))^2,
    beta = ((sqrt kappa - 1) / (sqrt kappa + 1))^2 with kappa = L / mu.

    torch's SGD with momentum (dampening 0) is the heavy ball with lr = alpha
    and momentum = beta: theta_t - theta_{t-1} = beta (theta_{t-1} - theta_{t-2}) - alpha g_t.
    """
    if not 0 < mu <= L:
        raise ConfigError(f"curvatures need 0 < mu <= L, got mu={mu:g}, L={L:g}")
    root = math.sqrt(L / mu)
    return (2 / (math.sqrt(L) + math.sqrt(mu))) ** 2, ((root - 1) / (root + 1)) ** 2


def polyak_point(problem: ProblemConfig) -> tuple[float, float] | None:
    """(lr, momentum) of Polyak's heavy ball where the problem's curvatures are known, else None."""
    curvatures = getattr(problem, "curvatures", None)
    curv = curvatures() if curvatures is not None else None
    return None if curv is None else polyak_heavy_ball(*curv)


# -- plain values: the CLI's JSON and CSV ---------------------------------------------


def _header(problem: ProblemConfig, config: RunConfig, steps: int, result, allowed=("",)) -> dict[str, Any]:
    r = resolve(problem.build(), config, steps, allowed)  # the run as torch sees it, defaults filled in
    out: dict[str, Any] = {"problem": problem.to_dict()}
    out.update({k: r[k] for k in ("optimizer", "hparams", "schedule", "schedule_args", "noise", "seed")})
    if problem.start_size:  # a model's start is its whole initial weights: too long to repeat
        out["start"] = r["start"]
    out.update(steps=steps, dtype=result.dtype, device=result.device, wall_time=result.wall_time)
    return out


def lr_sweep_dict(sweep: LRSweep, k: int = 0) -> dict[str, Any]:
    """Curve ``k`` as JSON-ready values: one entry per lr; None for NaN and for never diverged."""
    out = {"kind": "lr_sweep", **_header(sweep.problem, sweep.run(k, 0), sweep.steps, sweep)}
    out["hparams"] = {h: v for h, v in out["hparams"].items() if h != "lr"}
    out.update(
        lrs=sweep.lrs.tolist(),
        final_loss=[finite_or_none(v) for v in sweep.final_loss[k]],
        best_loss=[finite_or_none(v) for v in sweep.best_loss[k]],
        diverged_at=[None if d < 0 else int(d) for d in sweep.diverged_at[k]],
        best_lr=sweep.best_lr(k),
    )
    return out


def lr_sweep_rows(sweep: LRSweep, k: int = 0) -> list[list[Any]]:
    d = lr_sweep_dict(sweep, k)
    rows: list[list[Any]] = [["lr", "final_loss", "best_loss", "diverged_at"]]
    rows += [list(r) for r in zip(d["lrs"], d["final_loss"], d["best_loss"], d["diverged_at"])]
    return rows


def basin_map_dict(bm: BasinMap, k: int = 0) -> dict[str, Any]:
    """Map ``k`` as JSON-ready values: one entry per start, x fastest (row-major in y)."""
    out = {"kind": "basin_map", **_header(bm.problem, bm.configs[k], bm.steps, bm)}
    out.pop("start", None)
    final = bm.final_params[k].reshape(-1, 2)
    out.update(
        x=bm.xs.tolist(),
        y=bm.ys.tolist(),
        minima=[list(m) for m in bm.minima],
        tol=bm.tol,
        starts=[[float(x), float(y)] for y in bm.ys for x in bm.xs],
        final_loss=[finite_or_none(v) for v in bm.final_loss[k].ravel()],
        minimum=[None if m < 0 else int(m) for m in bm.minimum[k].ravel()],
        diverged=[bool(d) for d in bm.diverged[k].ravel()],
        diverged_at=[None if d < 0 else int(d) for d in bm.diverged_at[k].ravel()],
        final_params=[None if not np.isfinite(p).all() else p.tolist() for p in final],
    )
    return out


def basin_map_rows(bm: BasinMap, k: int = 0) -> list[list[Any]]:
    d = basin_map_dict(bm, k)
    rows: list[list[Any]] = [
        ["x", "y", "final_loss", "minimum", "diverged", "diverged_at", "final_x", "final_y"]]
    for (x, y), loss, m, div, at, p in zip(d["starts"], d["final_loss"], d["minimum"], d["diverged"],
                                           d["diverged_at"], d["final_params"]):
        rows.append([x, y, loss, m, str(div).lower(), at, *(p or (None, None))])
    return rows


__all__ = [
    "Axis",
    "BasinMap",
    "Cancelled",
    "Heatmap",
    "LRSweep",
    "Progress",
    "basin_map",
    "basin_map_dict",
    "basin_map_rows",
    "default_tol",
    "heatmap",
    "log_lrs",
    "lr_sweep",
    "lr_sweep_dict",
    "lr_sweep_rows",
    "polyak_heavy_ball",
    "polyak_point",
    "reached_minimum",
    "with_hparam",
]

r"""An online problem: the loss changes every step, and the point must stay in a feasible set.

Reddi, Kale and Kumar (ICLR 2018, "On the Convergence of Adam and Beyond")
built a one-dimensional online problem on which Adam provably fails:

.. math:: f_t(x) = \begin{cases} C\,x & \text{rarely} \\ -c\,x & \text{otherwise} \end{cases},
   \qquad x \in [-r, r]

With ``C = 1010``, ``c = 10`` and the big gradient once every 101 rounds, the
sum of the losses grows with ``x`` (1010 - 100 * 10 = 10 per period), so the
best fixed point is ``x = -r``. Adam with beta2 = 0.99 forgets the rare large
gradient within a period and drifts to ``+r``; AMSGrad keeps the largest second
moment and goes to ``-r``.

* ``cyclic``: round ``t = step + 1`` has the big gradient when ``t mod period == 1``
  (steps 0, period, 2 period, ...).
* ``stochastic``: each step has it with probability ``p``, drawn from a seeded
  stream, so every run, and torch's own loop, sees the same draws.

The engine passes ``step`` to :meth:`OnlineProblem.loss` and calls
:meth:`OnlineProblem.project` after every update: the projection of projected
online gradient descent, as a user's loop would ``p.clamp_(-r, r)`` after
``optimizer.step()``.

In a link: ``online=cyclic&op=big:1010;period:101`` (parameters that differ
from the defaults). In JSON: ``{"kind": "online", "variant": "cyclic", "params": {...}}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from ..params import ConfigError, HasParams, HParam, freeze, lookup
from .base import Layout, Query, pairs_text, typed

VARIANTS = ("cyclic", "stochastic")
BLOCK = 1 << 16  # draws per seeded block: step t's draw does not depend on how many steps run


def _p(name, default, kind, help, low=None, high=None, log=False) -> HParam:
    return HParam(name, default, kind, help=help, low=low, high=high, log=log)


@dataclass(frozen=True)
class _Params(HasParams):
    """The online problem's parameters, validated by the shared schema."""

    name: str = "online problem"
    params: tuple[HParam, ...] = (
        _p("big", 1010.0, "float", "C: the rare gradient, pushing x down", 1.0, 1e5, True),
        _p("small", 10.0, "float", "c: the common gradient is -c, pushing x up", 0.01, 1e3, True),
        _p("period", 101, "int", "cyclic: C once every period rounds", 2, 10_000),
        _p("p", 0.01, "float", "stochastic: the probability of C at each step", 1e-4, 0.5, True),
        _p("seed", 0, "int", "stochastic: the seed of the draws", 0, 2**32 - 1),
        _p("radius", 1.0, "float", "the feasible set is [-radius, radius]", 0.01, 100.0, True),
    )

    def check(self, values: Mapping[str, Any]) -> str | None:
        for name in ("big", "small", "radius"):
            if not values[name] > 0:
                return f"{name} must be > 0, got {values[name]!r}"
        if values["period"] < 2:
            return f"period must be at least 2, got {values['period']}"
        if not 0 < values["p"] < 1:
            return f"p must be between 0 and 1, got {values['p']!r}"
        if not 0 <= values["seed"] <= 2**32 - 1:
            return f"seed must be between 0 and {2**32 - 1}, got {values['seed']}"
        return None


PARAMS = _Params()


@lru_cache(maxsize=64)
def _block(seed: int, block: int) -> np.ndarray:
    return np.random.default_rng([seed, block]).random(BLOCK)


def uniform_draws(seed: int, start: int, stop: int) -> np.ndarray:
    """The uniform draws of steps ``start .. stop - 1``, the same however many steps a run takes."""
    if stop <= start:
        return np.zeros(0)
    blocks = range(start // BLOCK, (stop - 1) // BLOCK + 1)
    draws = np.concatenate([_block(seed, b) for b in blocks])
    offset = blocks[0] * BLOCK
    return draws[start - offset : stop - offset]


@lru_cache(maxsize=16)
def _gradient_block(problem: OnlineProblem, block: int) -> list[float]:
    # Python floats: the engine multiplies by a number, not a 0-d array, each step.
    return problem.gradients(block * BLOCK, (block + 1) * BLOCK).tolist()


@dataclass(frozen=True)
class OnlineProblem:
    """A linear loss ``f_t(x) = g_t x`` that changes with the step, on ``[-radius, radius]``."""

    variant: str = "cyclic"
    params: Any = ()

    kind: ClassVar[str] = "online"
    query_key: ClassVar[str] = "online"  # the link parameter that names this kind
    start_size: ClassVar[int | None] = 1
    own_length: ClassVar[bool] = False
    title: ClassVar[str] = "online problem"
    default_steps: ClassVar[int] = 20_000
    layout: ClassVar[Layout] = ((1,),)
    coordinates: ClassVar[tuple[str, ...]] = ("x",)
    start: ClassVar[tuple[float, ...]] = (0.0,)

    def __post_init__(self):
        lookup({v: v for v in VARIANTS}, self.variant, "online variant")
        object.__setattr__(self, "params", freeze(PARAMS.resolve(dict(freeze(self.params)))))

    @property
    def values(self) -> dict[str, Any]:
        return dict(self.params)

    @property
    def name(self) -> str:
        return f"Reddi et al.'s online problem ({self.variant})"

    @property
    def divergence_bound(self) -> float:
        return 1e3 * self.values["radius"]

    def gradients(self, start: int, stop: int) -> np.ndarray:
        """``g_t`` for steps ``start .. stop - 1`` (float64): ``big`` or ``-small``."""
        v, t = self.values, np.arange(start, stop)
        rare = t % v["period"] == 0 if self.variant == "cyclic" else uniform_draws(v["seed"], start, stop) < v["p"]
        return np.where(rare, v["big"], -v["small"])

    def gradient(self, step: int) -> float:
        return _gradient_block(self, step // BLOCK)[step % BLOCK]

    # -- the engine's Problem ----------------------------------------------------------

    def build(self) -> OnlineProblem:
        return self

    def loss(self, params: Tensor, step: int = 0) -> Tensor:
        return self.gradient(step) * params[:, 0]

    def loss_and_grad(self, params: Tensor, step: int = 0) -> tuple[Tensor, Tensor]:
        g = self.gradient(step)
        return g * params[:, 0], torch.full_like(params, g)

    def project(self, params: Tensor) -> None:
        """Onto the feasible set, in place: what ``p.clamp_(-r, r)`` does after ``optimizer.step()``."""
        r = self.values["radius"]
        params.clamp_(-r, r)

    # -- what a run achieved -------------------------------------------------------------

    def best_fixed(self, steps: int) -> float:
        """The best fixed point in hindsight over ``steps`` rounds: ``-radius * sign(sum g_t)``."""
        total = self.gradients(0, steps).sum()
        return float(-np.sign(total) * self.values["radius"])

    def regret(self, xs: np.ndarray, start: int = 0) -> np.ndarray:
        r"""The average regret :math:`R_t / t` after each round ``t = 1 .. T``, for each run:

        .. math:: \frac{R_t}{t} = \frac1t\Big(\sum_{s<t} f_s(x_s) - \min_{|x| \le r} \sum_{s<t} f_s(x)\Big)

        ``xs`` is ``(T, runs)`` or ``(T, runs, 1)``: the points rounds ``start ..
        start + T - 1`` were played at (a path's first ``T`` points). Returns ``(T, runs)``.
        """
        xs = np.asarray(xs, dtype=np.float64).reshape(len(xs), -1)
        g = self.gradients(start, start + len(xs))
        played = np.cumsum(g[:, None] * xs, 0)
        best = -self.values["radius"] * np.abs(np.cumsum(g))
        return (played - best[:, None]) / np.arange(1, len(xs) + 1)[:, None]

    def average_regret(self, xs: np.ndarray, start: int = 0) -> np.ndarray:
        """``R_T / T`` for each run: the last row of :meth:`regret`."""
        return self.regret(xs, start)[-1]

    # -- JSON and links ------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "variant": self.variant, "params": self.values}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OnlineProblem:
        unknown = set(data) - {"kind", "variant", "params"}
        if unknown:
            raise ConfigError(f"'problem' has unknown fields: {', '.join(sorted(unknown))}")
        params = typed(data, "params", Mapping, {}, "problem")
        return cls(typed(data, "variant", str, "cyclic", "problem"), dict(params))

    def to_query(self) -> dict[str, str]:
        out = {"online": self.variant}
        if op := pairs_text(self.values, PARAMS.defaults):
            out["op"] = op
        return out

    @classmethod
    def from_query(cls, query: Query, default: OnlineProblem | None = None) -> OnlineProblem:
        default = default if isinstance(default, OnlineProblem) else cls()
        variant = query.choice("online", default.variant, list(VARIANTS), "online variant")
        params = {**default.values, **query.pairs("op", PARAMS.params, PARAMS.resolve, "online problem")}
        try:
            return cls(variant, params)
        except ConfigError as exc:
            query.warn(f"online problem parameters ignored: {exc}")
            return cls(variant)


@dataclass(frozen=True)
class OnlineBatch:
    """Several online problems stepped as one batch: run ``i`` plays ``problems[which[i]]``.

    Each run sees exactly its own problem's losses and projection, so it equals the same run
    on that problem alone, bit for bit; the batch costs one computation instead of one per
    problem (a classic compares the cyclic problem and two stochastic seeds in one).
    """

    problems: tuple[OnlineProblem, ...]
    which: tuple[int, ...]
    # (BLOCK, runs) per block, dtype and device: each run's g_t for the block's steps, in the
    # params' dtype (where torch rounds a Python number). A step reads one row.
    _blocks: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    layout: ClassVar[Layout] = OnlineProblem.layout
    start: ClassVar[tuple[float, ...]] = OnlineProblem.start

    def __post_init__(self):
        if not self.problems or any(not 0 <= k < len(self.problems) for k in self.which):
            raise ConfigError("each run must name one of the batch's problems")

    def for_rows(self, order: Sequence[int]) -> OnlineBatch:
        """The same batch with its runs in the engine's row order."""
        return replace(self, which=tuple(self.which[i] for i in order))

    @property
    def divergence_bound(self) -> float:
        return max(p.divergence_bound for p in self.problems)

    def loss(self, params: Tensor, step: int = 0) -> Tensor:
        return self.loss_and_grad(params, step)[0]

    def _cached(self, key: tuple, make) -> Any:
        value = self._blocks.get(key)
        if value is None:
            value = self._blocks[key] = make()
        return value

    def loss_and_grad(self, params: Tensor, step: int = 0) -> tuple[Tensor, Tensor]:
        block, like = step // BLOCK, dict(dtype=params.dtype, device=params.device)

        def make() -> Tensor:
            start = block * BLOCK
            grads = np.stack([p.gradients(start, start + BLOCK) for p in self.problems], 1)
            return torch.as_tensor(grads[:, list(self.which)], **like)

        g = self._cached(("g", block, params.dtype, params.device), make)[step % BLOCK]
        return g * params[:, 0], g.unsqueeze(1).clone()

    def project(self, params: Tensor) -> None:
        """Each run onto its own problem's [-radius, radius], in place."""
        def make() -> Tensor:
            radii = [self.problems[k].values["radius"] for k in self.which]
            return torch.tensor(radii, dtype=params.dtype, device=params.device).unsqueeze(1)

        r = self._cached(("radius", params.dtype, params.device), make)
        torch.clamp(params, -r, r, out=params)

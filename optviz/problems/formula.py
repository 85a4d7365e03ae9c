"""A surface the user types: a formula in ``x`` and ``y``, with named parameters.

Parsed by the safe expression language (:mod:`optviz.expr`: an explicit
whitelist over Python's ``ast``, never ``eval``), compiled to torch so autograd
gives the gradient and every run of a batch goes through one evaluation. Its
view, minima and start are found numerically (:mod:`optviz.formula`) and said
to be numeric.

In a link: ``formula=(1-x)^2+b*(y-x^2)^2&fp=b:100`` (and ``fd=-2,2,-1,3`` for a
view of the user's own). In JSON: ``{"kind": "formula", "formula": ..., "params": {...}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, ClassVar

import torch
from torch import Tensor

from ..params import ConfigError, finite, freeze
from .base import Layout, Query, typed, value_text

MAX_PARAMS = 8
EXAMPLE = "(1-x)^2 + b*(y-x^2)^2"


@lru_cache(maxsize=256)
def _parsed(text: str, names: tuple[str, ...]):
    from ..expr import parse

    return parse(text, ("x", "y"), names)


@lru_cache(maxsize=64)
def _analysis(text: str, params: tuple[tuple[str, float], ...], domain):
    from ..formula import analyze

    return analyze(_parsed(text, tuple(k for k, _ in params)), dict(params), domain)


def _view(value: Any) -> tuple[tuple[float, float], tuple[float, float]] | None:
    if value is None:
        return None
    try:
        (x0, x1), (y0, y1) = value
        x0, x1, y0, y1 = (finite(v) for v in (x0, x1, y0, y1))
    except (TypeError, ValueError):
        raise ConfigError(f"a view must be ((x_lo, x_hi), (y_lo, y_hi)), got {value!r}") from None
    if not (x0 < x1 and y0 < y1):
        raise ConfigError(f"a view needs low < high on both axes, got x {x0:g}..{x1:g}, y {y0:g}..{y1:g}")
    return (x0, x1), (y0, y1)


@dataclass(frozen=True)
class FormulaProblem:
    """A typed formula in ``x`` and ``y``; ``params`` names and values its parameters."""

    formula: str = EXAMPLE
    params: Any = (("b", 100.0),)
    view: Any = None  # the user's ((x_lo, x_hi), (y_lo, y_hi)); None: found from the formula

    kind: ClassVar[str] = "formula"
    query_key: ClassVar[str] = "formula"
    start_size: ClassVar[int | None] = 2
    own_length: ClassVar[bool] = False
    title: ClassVar[str] = "typed formula"
    default_steps: ClassVar[int] = 500
    layout: ClassVar[Layout] = ((2,),)
    coordinates: ClassVar[tuple[str, ...]] = ("x", "y")
    latex_prefix: ClassVar[str] = "f(x, y) = "
    teaches: ClassVar[str] = "Your own surface: its minima and view are found numerically."
    critical_points: ClassVar[tuple] = ()

    def __post_init__(self):
        params = freeze(self.params)
        if len(params) > MAX_PARAMS:
            raise ConfigError(f"a formula takes at most {MAX_PARAMS} parameters, got {len(params)}")
        values = []
        for name, value in params:
            try:
                values.append((name, finite(value)))
            except (TypeError, ValueError):
                raise ConfigError(f"parameter {name} must be a finite number, got {value!r}") from None
        object.__setattr__(self, "params", tuple(values))
        object.__setattr__(self, "view", _view(self.view))
        if not isinstance(self.formula, str):
            raise ConfigError(f"a formula must be text, not {type(self.formula).__name__}")
        expr = _parsed(self.formula, tuple(k for k, _ in values))  # FormulaError (a ConfigError) says what is wrong
        object.__setattr__(self, "formula", expr.text)

    @property
    def values(self) -> dict[str, float]:
        return dict(self.params)

    @property
    def expr(self):
        return _parsed(self.formula, tuple(self.values))

    @cached_property
    def analysis(self):
        """The view, numeric minima and a start (cached per formula, parameters and view)."""
        return _analysis(self.formula, self.params, self.view)

    @property
    def name(self) -> str:
        return "Your formula"

    @property
    def latex(self) -> str:
        return self.latex_prefix + self.expr.latex()

    @property
    def spec(self) -> FormulaProblem:
        """What a chart asks a surface's registry entry (domain, levels, minima): itself."""
        return self

    @property
    def domain(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """The plotting domain: the user's view, or the one the analysis found."""
        return self.analysis.domain

    @property
    def levels(self) -> str:
        """Log-spaced contours where a minimum bounds the view from below, else plain ones."""
        a = self.analysis
        return "log" if a.minima and not a.unbounded else "linear"

    @property
    def start(self) -> tuple[float, ...]:
        a = self.analysis
        if a.start is not None:
            return a.start
        (x0, x1), (y0, y1) = a.domain
        return ((x0 + x1) / 2, (y0 + y1) / 2)

    @property
    def divergence_bound(self) -> float:
        return 1e3 * max(abs(v) for lim in self.analysis.domain for v in lim)

    def minima(self, **_: Any) -> list[tuple[float, float, float]]:
        return list(self.analysis.minima)

    def known_minimum(self) -> float | None:
        minima = self.analysis.minima
        return min(m[2] for m in minima) if minima else None

    def curvatures(self) -> tuple[float, float] | None:
        return None

    def check(self) -> None:
        """Refuse a formula that cannot be drawn or run (NaN or infinite over the whole view)."""
        if self.analysis.problem:
            raise ConfigError(f"your formula: {self.analysis.problem}")

    # -- the engine's Problem --------------------------------------------------------

    def build(self) -> FormulaProblem:
        self.check()
        return self

    def loss(self, params: Tensor, step: int = 0) -> Tensor:
        x, y = params[..., 0], params[..., 1]
        f = self.expr.torch(x=x, y=y, **self.values)
        if not isinstance(f, Tensor) or f.shape != x.shape or not f.requires_grad and x.requires_grad:
            # A formula without x or y (or a constant) still needs a value per run and a graph.
            f = torch.as_tensor(f, dtype=x.dtype, device=x.device) + 0.0 * (x + y)
        return f

    # -- JSON and links ----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "formula": self.formula, "params": self.values}
        if self.view is not None:
            out["view"] = [list(d) for d in self.view]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FormulaProblem:
        return cls(typed(data, "formula", str, EXAMPLE, "problem"),
                   dict(typed(data, "params", Mapping, {}, "problem")), data.get("view"))

    def to_query(self) -> dict[str, str]:
        out = {"formula": self.formula}
        if self.params:
            out["fp"] = ";".join(f"{k}:{value_text(v)}" for k, v in self.params)
        if self.view is not None:
            out["fd"] = ",".join(value_text(v) for d in self.view for v in d)
        return out

    @classmethod
    def from_query(cls, query: Query, default: FormulaProblem | None = None) -> FormulaProblem:
        default = default if isinstance(default, FormulaProblem) else cls()
        text = query.one("formula") or default.formula
        params: dict[str, float] = {}
        for item in filter(None, (query.one("fp") or "").split(";")):
            name, colon, value = item.partition(":")
            try:
                params[name.strip()] = finite(value)
            except (TypeError, ValueError):
                query.warn(f"formula parameter {item!r} is not name:number; left out")
        domain = None
        if query.one("fd") is not None:
            try:
                parts = [finite(v) for v in query.one("fd").split(",")]
                if len(parts) != 4:
                    raise ValueError
                domain = _view(((parts[0], parts[1]), (parts[2], parts[3])))
            except (ValueError, ConfigError):
                query.warn(f"fd={query.one('fd')!r} is not a view like -2,2,-1,3; the view is found from the formula")
        try:
            problem = cls(text, params, domain)
            problem.check()
            return problem
        except ConfigError as exc:
            query.warn(f"the link's formula was not used: {exc}")
            return default


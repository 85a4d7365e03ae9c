"""Analytic 2-D loss surfaces, written in torch so autograd gives the gradients.

One registry, ``SURFACES``, feeds the engine, the app, the CLI and the tests.
Each surface knows its formula, a plotting domain, a default start, its known
global minima (from the standard tables: Jamil & Yang 2013, "A literature survey
of benchmark functions for global optimization problems", and Surjanovic &
Bingham's Virtual Library of Simulation Experiments) and what it teaches.

Saddle surfaces have no minimum; ``critical_points`` marks their saddle point.
``levels`` tells the chart how to shade: ``"log"`` means f >= min(minima) on the
domain, so log(f - f_min + eps) is defined; ``"linear"`` means no lower bound.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .optim.base import ConfigError, HParam

Point = tuple[float, float, float]  # x, y, f(x, y)
Minimum = Point


@dataclass(frozen=True)
class Surface:
    id: str
    name: str
    latex: str
    fn: Callable[..., Tensor]  # fn(x, y, **params), elementwise
    domain: tuple[tuple[float, float], tuple[float, float]]
    start: tuple[float, float]
    minima: Callable[..., list[Minimum]]  # minima(**params): every global minimum
    teaches: str
    params: tuple[HParam, ...] = ()
    # requires(**params) -> why the values are unusable (the minima would be
    # wrong or missing), or None.
    requires: Callable[..., str | None] | None = None
    critical_points: tuple[Point, ...] = ()  # saddles worth marking
    levels: str = "log"

    @property
    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def resolve(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        values = self.defaults
        for name, value in (overrides or {}).items():
            spec = next((p for p in self.params if p.name == name), None)
            if spec is None:
                known = ", ".join(p.name for p in self.params) or "none"
                raise ConfigError(f"{self.name} has no parameter {name!r}; it has: {known}")
            try:
                values[name] = spec.parse(value)
            except ConfigError as exc:
                raise ConfigError(f"{self.name}: {exc}") from None
        problem = self.requires and self.requires(**values)
        if problem:
            raise ConfigError(f"{self.name}: {problem}")
        return values

    def __call__(self, xy: Tensor, **params: Any) -> Tensor:
        """The loss of each row of ``xy`` (shape ``(..., 2)``)."""
        return self.fn(xy[..., 0], xy[..., 1], **{**self.defaults, **params})


def _p(name, default, help, low=None, high=None, log=False) -> HParam:
    return HParam(name, default, "float", help=help, low=low, high=high, log=log)


def _positive(*names: str) -> Callable[..., str | None]:
    def check(**values):
        bad = [n for n in names if not values[n] > 0]
        return f"{' and '.join(bad)} must be > 0" if bad else None

    return check


def rosenbrock(x, y, a, b):
    return (a - x) ** 2 + b * (y - x**2) ** 2


def quadratic(x, y, kappa, angle):
    # Eigenvalues 1 and 1/kappa along axes rotated by ``angle`` degrees.
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    u, v = c * x + s * y, -s * x + c * y
    return 0.5 * (u**2 + v**2 / kappa)


SURFACES: dict[str, Surface] = {
    s.id: s
    for s in [
        Surface(
            id="rosenbrock",
            name="Rosenbrock",
            latex=r"f(x,y) = (a-x)^2 + b\,(y-x^2)^2",
            fn=rosenbrock,
            domain=((-2.0, 2.0), (-1.0, 3.0)),
            start=(-1.2, 1.0),  # Rosenbrock's own (1960)
            minima=lambda a, b: [(a, a * a, 0.0)],
            teaches="A long, curved, flat-bottomed valley: easy to find, slow to follow.",
            params=(
                # |a| <= 1.7 keeps the minimum (a, a²) in the picture.
                _p("a", 1.0, "position of the minimum (a, a²)", -1.7, 1.7),
                _p("b", 100.0, "steepness of the valley walls", 1.0, 1000.0, log=True),
            ),
            requires=_positive("b"),
        ),
        Surface(
            id="quadratic",
            name="Ill-conditioned quadratic",
            latex=r"f = \tfrac12\,(u^2 + v^2/\kappa),\ (u,v) = R_\phi\,(x,y)",
            fn=quadratic,
            domain=((-3.0, 3.0), (-3.0, 3.0)),
            start=(-2.5, 2.0),
            minima=lambda kappa, angle: [(0.0, 0.0, 0.0)],
            teaches="Condition number kappa: plain GD zig-zags; momentum and Adam cope.",
            params=(
                _p("kappa", 25.0, "condition number (ratio of curvatures)", 1.0, 1000.0, log=True),
                _p("angle", 30.0, "rotation of the axes, in degrees", -90.0, 90.0),
            ),
            requires=_positive("kappa"),
        ),
    ]
}


def get(surface_id: str) -> Surface:
    try:
        return SURFACES[surface_id]
    except KeyError:
        raise ConfigError(
            f"unknown surface {surface_id!r}; choose one of: {', '.join(SURFACES)}"
        ) from None

"""Analytic 2-D loss surfaces, written in torch so autograd gives the gradients.

One registry, ``SURFACES``, feeds the engine, the app, the CLI and the tests.
Each surface knows its formula, a plotting domain, a default start, its known
global minima and what it teaches.

Minima come from the standard tables: Jamil & Yang 2013, "A literature survey of
benchmark functions for global optimization problems" (IJMMNO 4(2):150-194);
Surjanovic & Bingham, Virtual Library of Simulation Experiments
(sfu.ca/~ssurjano/optimization.html); Wikipedia, "Test functions for
optimization". Where those round too coarsely for a gradient check we give the
digits of the exact stationary point (closed form, or Newton in 30 digits):

* McCormick: x = 1/2 - pi/3, y = x - 1, f = -sqrt(3)/2 - pi/3 = -1.9132229550
  (the tables' -1.9133 is mis-rounded). The minimum is the domain's only: along
  x - y = 1, f = sin(t) + t/2 with t = x + y, so f is unbounded below outside it.
* Styblinski-Tang: x = y = -2.9035340278, the root of 4x^3 - 32x + 5, and
  f = -39.1661657038 per dimension (VLSE's -39.16599 is 1.8e-4 high, 3.5e-4 in 2-D).
* Himmelblau: the tables' six digits (right), carried to twelve.

Every function has finite autograd gradients on its domain in float32 and
float64. The one kink, Ackley's cone tip at its minimum, gives the subgradient 0.

Saddle surfaces have no minimum; ``critical_points`` marks their saddle point.
``levels`` tells the chart how to shade: ``"log"`` means f >= min(minima) on the
domain, so log(f - f_min + eps) is defined (clip it: a run that leaves McCormick's
domain goes lower); ``"linear"`` means no lower bound.
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
PI = math.pi


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
    # value_and_grad(x, y, **params) -> (f, df/dx, df/dy), written by hand: the
    # engine's fast path. Tests hold it equal to autograd on ``fn``.
    value_and_grad: Callable[..., tuple[Tensor, Tensor, Tensor]] | None = None

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


def _fixed(*points: Minimum) -> Callable[..., list[Minimum]]:
    return lambda: list(points)


def _positive(*names: str) -> Callable[..., str | None]:
    def check(**values):
        bad = [n for n in names if not values[n] > 0]
        return f"{' and '.join(bad)} must be > 0" if bad else None

    return check


# -- the functions: elementwise on x, y; Python-number constants keep the dtype --


def rosenbrock(x, y, a, b):
    return (a - x) ** 2 + b * (y - x**2) ** 2


def quadratic(x, y, kappa, angle):
    # Eigenvalues 1 and 1/kappa along axes rotated by ``angle`` degrees.
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    u, v = c * x + s * y, -s * x + c * y
    return 0.5 * (u**2 + v**2 / kappa)


def beale(x, y):
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


def himmelblau(x, y):
    return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2


def rastrigin(x, y, A):
    return 2 * A + x**2 - A * torch.cos(2 * PI * x) + y**2 - A * torch.cos(2 * PI * y)


def ackley(x, y, a, b, c):
    s = 0.5 * (x**2 + y**2)
    # The cone tip at the minimum has no gradient (sqrt' = inf there, and
    # autograd would give NaN); take the subgradient 0, which is where it points.
    inside = s > 0
    r = torch.where(inside, torch.where(inside, s, 1.0).sqrt(), 0.0)
    return -a * torch.exp(-b * r) - torch.exp(0.5 * (torch.cos(c * x) + torch.cos(c * y))) + a + math.e


def booth(x, y):
    return (x + 2 * y - 7) ** 2 + (2 * x + y - 5) ** 2


def matyas(x, y):
    return 0.26 * (x**2 + y**2) - 0.48 * x * y


def goldstein_price(x, y):
    a = 1 + (x + y + 1) ** 2 * (19 - 14 * x + 3 * x**2 - 14 * y + 6 * x * y + 3 * y**2)
    b = 30 + (2 * x - 3 * y) ** 2 * (18 - 32 * x + 12 * x**2 + 48 * y - 36 * x * y + 27 * y**2)
    return a * b


def three_hump_camel(x, y):
    return 2 * x**2 - 1.05 * x**4 + x**6 / 6 + x * y + y**2


def mccormick(x, y):
    return torch.sin(x + y) + (x - y) ** 2 - 1.5 * x + 2.5 * y + 1


def levi13(x, y):
    return (
        torch.sin(3 * PI * x) ** 2
        + (x - 1) ** 2 * (1 + torch.sin(3 * PI * y) ** 2)
        + (y - 1) ** 2 * (1 + torch.sin(2 * PI * y) ** 2)
    )


def styblinski_tang(x, y):
    return 0.5 * (x**4 - 16 * x**2 + 5 * x + y**4 - 16 * y**2 + 5 * y)


def easom(x, y):
    return -torch.cos(x) * torch.cos(y) * torch.exp(-((x - PI) ** 2 + (y - PI) ** 2))


def saddle(x, y):
    return x**2 - y**2


def monkey_saddle(x, y):
    return x**3 - 3 * x * y**2


def plateau(x, y, w):
    # A Lorentzian well: the slope outside decays like 2w²/r³, small but never
    # zero, so the gradient always points home (unlike Easom's, which vanishes).
    r2 = x**2 + y**2
    return r2 / (r2 + w**2)


_ST = -2.903534027771177  # root of 4x³ - 32x + 5
_HIMMELBLAU = (
    (3.0, 2.0, 0.0),
    (-2.805118086952745, 3.131312518250573, 0.0),
    (-3.779310253377747, -3.283185991286170, 0.0),
    (3.584428340330492, -1.848126526964404, 0.0),
)

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
            id="beale",
            name="Beale",
            latex=r"f = (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2",
            fn=beale,
            domain=((-4.5, 4.5), (-4.5, 4.5)),
            start=(3.0, 4.0),
            minima=_fixed((3.0, 0.5, 0.0)),
            teaches="Steep walls, flat arms (f is constant on y = 1): an lr safe on walls crawls on arms.",
        ),
        Surface(
            id="himmelblau",
            name="Himmelblau",
            latex=r"f = (x^2 + y - 11)^2 + (x + y^2 - 7)^2",
            fn=himmelblau,
            domain=((-5.0, 5.0), (-5.0, 5.0)),
            start=(-0.3, -0.9),
            minima=_fixed(*_HIMMELBLAU),
            teaches="Four equal minima: which one you reach depends on the optimizer and the lr.",
        ),
        Surface(
            id="rastrigin",
            name="Rastrigin",
            latex=r"f = 2A + \sum_{u \in \{x,y\}} \left(u^2 - A\cos 2\pi u\right)",
            fn=rastrigin,
            domain=((-5.12, 5.12), (-5.12, 5.12)),
            start=(-4.5, 4.5),
            minima=lambda A: [(0.0, 0.0, 0.0)],
            teaches="A bowl covered in local minima: gradient descent stops in the nearest one.",
            params=(_p("A", 10.0, "height of the ripples (0: a plain bowl)", 0.0, 20.0),),
            requires=lambda A: None if A >= 0 else "A must be >= 0",
        ),
        Surface(
            id="ackley",
            name="Ackley",
            latex=(
                r"f = -a\,e^{-b\sqrt{(x^2+y^2)/2}} - e^{(\cos cx + \cos cy)/2} + a + e"
            ),
            fn=ackley,
            domain=((-5.0, 5.0), (-5.0, 5.0)),
            start=(-3.3, 2.7),
            minima=lambda a, b, c: [(0.0, 0.0, 0.0)],
            teaches="A bumpy plain with one funnel: local minima everywhere, a kink at the bottom.",
            params=(
                _p("a", 20.0, "depth of the funnel", 1.0, 40.0),
                _p("b", 0.2, "steepness of the funnel", 0.02, 2.0, log=True),
                _p("c", 2 * PI, "frequency of the bumps", 0.0, 4 * PI),
            ),
            requires=_positive("a", "b"),
        ),
        Surface(
            id="booth",
            name="Booth",
            latex=r"f = (x + 2y - 7)^2 + (2x + y - 5)^2",
            fn=booth,
            domain=((-4.0, 6.0), (-2.0, 8.0)),
            start=(-3.0, 0.0),
            minima=_fixed((1.0, 3.0, 0.0)),
            teaches="A tilted bowl (curvatures 2 and 18): the gradient does not point at the minimum.",
        ),
        Surface(
            id="matyas",
            name="Matyas",
            latex=r"f = 0.26\,(x^2 + y^2) - 0.48\,xy",
            fn=matyas,
            domain=((-10.0, 10.0), (-10.0, 10.0)),
            start=(-9.0, -5.0),
            minima=_fixed((0.0, 0.0, 0.0)),
            teaches="A flat diagonal valley (curvatures 1 and 0.04): fast down the walls, then a crawl.",
        ),
        Surface(
            id="goldstein_price",
            name="Goldstein-Price",
            latex=(
                r"f = [1 + (x+y+1)^2 (19 - 14x + 3x^2 - 14y + 6xy + 3y^2)]"
                r"\,[30 + (2x-3y)^2 (18 - 32x + 12x^2 + 48y - 36xy + 27y^2)]"
            ),
            fn=goldstein_price,
            domain=((-2.0, 2.0), (-2.0, 2.0)),
            start=(1.5, 1.5),
            minima=_fixed((0.0, -1.0, 3.0)),
            teaches="Values from 3 to a million and local minima at 30, 84 and 840: scale and traps at once.",
        ),
        Surface(
            id="three_hump_camel",
            name="Three-hump camel",
            latex=r"f = 2x^2 - 1.05x^4 + x^6/6 + xy + y^2",
            fn=three_hump_camel,
            domain=((-3.0, 3.0), (-3.0, 3.0)),
            start=(2.5, -2.0),
            minima=_fixed((0.0, 0.0, 0.0)),
            teaches="Two shallow local minima (f = 0.30) flank the global one: descent stops short.",
        ),
        Surface(
            id="mccormick",
            name="McCormick",
            latex=r"f = \sin(x+y) + (x-y)^2 - 1.5x + 2.5y + 1",
            fn=mccormick,
            domain=((-1.5, 4.0), (-3.0, 4.0)),
            start=(3.5, 3.0),
            minima=_fixed((0.5 - PI / 3, -0.5 - PI / 3, -math.sqrt(3) / 2 - PI / 3)),
            teaches="A wavy trough with a local minimum upstream; outside the domain it descends forever.",
        ),
        Surface(
            id="levi13",
            name="Lévi N.13",
            latex=(
                r"f = \sin^2 3\pi x + (x-1)^2 (1 + \sin^2 3\pi y) + (y-1)^2 (1 + \sin^2 2\pi y)"
            ),
            fn=levi13,
            domain=((-2.0, 4.0), (-2.0, 4.0)),
            start=(-1.5, 3.5),
            minima=_fixed((1.0, 1.0, 0.0)),
            teaches="Ripples on a bowl, denser along x than y: local minima on a grid.",
        ),
        Surface(
            id="styblinski_tang",
            name="Styblinski-Tang",
            latex=r"f = \tfrac12 \sum_{u \in \{x,y\}} \left(u^4 - 16u^2 + 5u\right)",
            fn=styblinski_tang,
            domain=((-5.0, 5.0), (-5.0, 5.0)),
            start=(0.3, 0.6),
            minima=_fixed((_ST, _ST, 2 * 0.5 * (_ST**4 - 16 * _ST**2 + 5 * _ST))),
            teaches="Four basins of different depths: the start picks the basin, not the depth.",
        ),
        Surface(
            id="easom",
            name="Easom",
            latex=r"f = -\cos x \cos y\, e^{-(x-\pi)^2 - (y-\pi)^2}",
            fn=easom,
            domain=((0.0, 2 * PI), (0.0, 2 * PI)),  # the table's ±100 hides the well
            start=(1.0, 1.5),
            minima=_fixed((PI, PI, -1.0)),
            teaches="A needle in a haystack: away from the well the gradient is ~0 and points nowhere.",
        ),
        Surface(
            id="saddle",
            name="Saddle",
            latex=r"f = x^2 - y^2",
            fn=saddle,
            domain=((-2.0, 2.0), (-2.0, 2.0)),
            start=(-1.8, 1e-3),
            minima=_fixed(),
            teaches="A saddle: gradient descent crawls past it; noise, momentum and Adam escape sooner.",
            critical_points=((0.0, 0.0, 0.0),),
            levels="linear",
        ),
        Surface(
            id="monkey_saddle",
            name="Monkey saddle",
            latex=r"f = x^3 - 3xy^2",
            fn=monkey_saddle,
            domain=((-1.5, 1.5), (-1.5, 1.5)),
            start=(1.2, 0.05),
            minima=_fixed(),
            teaches="A flat saddle (zero curvature): the gradient fades like r², so escape is slow.",
            critical_points=((0.0, 0.0, 0.0),),
            levels="linear",
        ),
        Surface(
            id="plateau",
            name="Plateau with a well",
            latex=r"f = \frac{r^2}{r^2 + w^2},\ r^2 = x^2 + y^2",
            fn=plateau,
            domain=((-5.0, 5.0), (-5.0, 5.0)),
            start=(-4.0, 3.0),
            minima=lambda w: [(0.0, 0.0, 0.0)],
            teaches="A gentle plateau round a steep well: an lr safe in the well makes SGD crawl.",
            params=(_p("w", 0.5, "radius of the well", 0.1, 2.0, log=True),),
            requires=_positive("w"),
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

"""Analytic 2-D loss surfaces, written in torch so autograd gives the gradients.

Each also has a hand-written ``value_and_grad``, the engine's fast path; the
tests hold it to ``fn`` and autograd.

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

from ..params import HasParams, HParam, lookup

Point = tuple[float, float, float]  # x, y, f(x, y)
Minimum = Point
PI = math.pi


@dataclass(frozen=True)
class Surface(HasParams):
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
    # curvatures(**params) -> (L, mu): the Hessian's largest and smallest
    # eigenvalues where they are the same everywhere (a quadratic), else None.
    curvatures: Callable[..., tuple[float, float]] | None = None

    def check(self, values: Mapping[str, Any]) -> str | None:
        return self.requires(**values) if self.requires else None

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
#
# Each ``<name>_vg`` gives (f, df/dx, df/dy) in a few shared tensor ops. Where it
# costs little, products and sums run in autograd's order so that the engine's
# path rounds like torch's own loop (most are bitwise equal to autograd).


def rosenbrock(x, y, a, b):
    return (a - x) ** 2 + b * (y - x**2) ** 2


def rosenbrock_vg(x, y, a, b):
    d, e = a - x, y - x * x
    gy = (2 * b) * e
    return d * d + b * (e * e), (d + x * gy) * -2, gy


def quadratic(x, y, kappa, angle):
    # Eigenvalues 1 and 1/kappa along axes rotated by ``angle`` degrees.
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    u, v = c * x + s * y, -s * x + c * y
    return 0.5 * (u**2 + v**2 / kappa)


def quadratic_vg(x, y, kappa, angle):
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    u, v = c * x + s * y, -s * x + c * y
    gv = v * (1 / kappa)
    return 0.5 * (u * u + v * v / kappa), c * u - s * gv, s * u + c * gv


def beale(x, y):
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


def beale_vg(x, y):
    y2 = y * y
    y3 = y2 * y
    p, q, r = 1.5 - x + x * y, 2.25 - x + x * y2, 2.625 - x + x * y3
    dp, dq, dr = 2 * p, 2 * q, 2 * r
    # Autograd's terms, summed in the order its backward pass delivers them (last term first).
    gx = dr * y3 - dr + dq * y2 - dq + dp * y - dp
    gy = (dr * x) * (3 * y2) + (dq * x) * (2 * y) + dp * x
    return p * p + q * q + r * r, gx, gy


def himmelblau(x, y):
    return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2


def himmelblau_vg(x, y):
    p, q = x * x + y - 11, x + y * y - 7
    return p * p + q * q, 2 * ((2 * x) * p + q), 2 * (p + (2 * y) * q)


def rastrigin(x, y, A):
    return 2 * A + x**2 - A * torch.cos(2 * PI * x) + y**2 - A * torch.cos(2 * PI * y)


def rastrigin_vg(x, y, A):
    u, v = 2 * PI * x, 2 * PI * y
    f = 2 * A + x * x - A * torch.cos(u) + y * y - A * torch.cos(v)
    return f, 2 * x + (A * torch.sin(u)) * (2 * PI), 2 * y + (A * torch.sin(v)) * (2 * PI)


def ackley(x, y, a, b, c):
    s = 0.5 * (x**2 + y**2)
    # The cone tip at the minimum has no gradient (sqrt' = inf there, and
    # autograd would give NaN); take the subgradient 0, which is where it points.
    inside = s > 0
    r = torch.where(inside, torch.where(inside, s, 1.0).sqrt(), 0.0)
    return -a * torch.exp(-b * r) - torch.exp(0.5 * (torch.cos(c * x) + torch.cos(c * y))) + a + math.e


def ackley_vg(x, y, a, b, c):
    r = (0.5 * (x * x + y * y)).sqrt()
    ae = a * torch.exp(-b * r)
    # The cone's slope is a*b*e^(-br) * x/(2r); at the tip, fn's subgradient 0.
    k = torch.where(r > 0, ae * (0.5 * b) / r, 0.0)
    cx, cy, hc = c * x, c * y, 0.5 * c
    ec = torch.exp(0.5 * (torch.cos(cx) + torch.cos(cy)))
    return a - (ae + ec) + math.e, k * x + (ec * torch.sin(cx)) * hc, k * y + (ec * torch.sin(cy)) * hc


def booth(x, y):
    return (x + 2 * y - 7) ** 2 + (2 * x + y - 5) ** 2


def booth_vg(x, y):
    p, q = x + 2 * y - 7, 2 * x + y - 5
    return p * p + q * q, 2 * (p + 2 * q), 2 * (2 * p + q)


def matyas(x, y):
    return 0.26 * (x**2 + y**2) - 0.48 * x * y


def matyas_vg(x, y):
    bx = 0.48 * x
    return 0.26 * (x * x + y * y) - bx * y, 0.52 * x - 0.48 * y, 0.52 * y - bx


def goldstein_price(x, y):
    a = 1 + (x + y + 1) ** 2 * (19 - 14 * x + 3 * x**2 - 14 * y + 6 * x * y + 3 * y**2)
    b = 30 + (2 * x - 3 * y) ** 2 * (18 - 32 * x + 12 * x**2 + 48 * y - 36 * x * y + 27 * y**2)
    return a * b


def goldstein_price_vg(x, y):
    # The function's own ops; then autograd's chain-rule products, summed in the order
    # its backward pass delivers them (the second factor's terms first, each factor's last
    # term first), so the gradient is autograd's to the last bit.
    s2 = x + y + 1
    P = s2**2
    m4 = 6 * x
    Q = 19 - 14 * x + 3 * x**2 - 14 * y + m4 * y + 3 * y**2
    a = 1 + P * Q
    t = 2 * x - 3 * y
    T = t**2
    k4 = 36 * x
    R = 18 - 32 * x + 12 * x**2 + 48 * y - k4 * y + 27 * y**2
    b = 30 + T * R
    aT, aR, bP, bQ = a * T, a * R, b * P, b * Q
    g_t, g_s2 = aR * (2 * t), bQ * (2 * s2)
    gx = (
        ((-aT) * y) * 36 + (aT * 12) * (2 * x) + (-aT) * 32 + g_t * 2
        + (bP * y) * 6 + (bP * 3) * (2 * x) + (-bP) * 14 + g_s2
    )
    gy = (
        (aT * 27) * (2 * y) + (-aT) * k4 + aT * 48 + (-g_t) * 3
        + (bP * 3) * (2 * y) + bP * m4 + (-bP) * 14 + g_s2
    )
    return a * b, gx, gy


def three_hump_camel(x, y):
    return 2 * x**2 - 1.05 * x**4 + x**6 / 6 + x * y + y**2


def three_hump_camel_vg(x, y):
    # The function's own ops, and autograd's terms in the order its backward pass sums them.
    f = three_hump_camel(x, y)
    sixth = torch.ones_like(x) / 6
    gx = y + sixth * (6 * x**5) + -1.05 * (4 * (x * x * x)) + 2 * (2 * x)
    return f, gx, 2 * y + x


def mccormick(x, y):
    return torch.sin(x + y) + (x - y) ** 2 - 1.5 * x + 2.5 * y + 1


def mccormick_vg(x, y):
    s, d = x + y, x - y
    c, d2 = torch.cos(s), 2 * d
    # Autograd's terms in the order its backward pass sums them.
    return torch.sin(s) + d * d - 1.5 * x + 2.5 * y + 1, (d2 - 1.5) + c, (2.5 - d2) + c


def levi13(x, y):
    return (
        torch.sin(3 * PI * x) ** 2
        + (x - 1) ** 2 * (1 + torch.sin(3 * PI * y) ** 2)
        + (y - 1) ** 2 * (1 + torch.sin(2 * PI * y) ** 2)
    )


def levi13_vg(x, y):
    u, v, w = 3 * PI * x, 3 * PI * y, 2 * PI * y
    su, sv, sw = torch.sin(u), torch.sin(v), torch.sin(w)
    dx, dy = x - 1, y - 1
    dx2, dy2 = dx * dx, dy * dy
    mv, mw = 1 + sv * sv, 1 + sw * sw
    f = su * su + dx2 * mv + dy2 * mw
    # Autograd's chain-rule products, summed in the order its backward pass delivers them.
    gx = mv * (2 * dx) + (2 * su) * torch.cos(u) * (3 * PI)
    gy = (dy2 * (2 * sw)) * torch.cos(w) * (2 * PI) + mw * (2 * dy) + (dx2 * (2 * sv)) * torch.cos(v) * (3 * PI)
    return f, gx, gy


def styblinski_tang(x, y):
    return 0.5 * (x**4 - 16 * x**2 + 5 * x + y**4 - 16 * y**2 + 5 * y)


def styblinski_tang_vg(x, y):
    # The function's own ops, and autograd's terms in the order its backward pass sums them.
    f = styblinski_tang(x, y)
    gx = -8 * (2 * x) + 2.5 + 0.5 * (4 * (x * x * x))
    gy = -8 * (2 * y) + 2.5 + 0.5 * (4 * (y * y * y))
    return f, gx, gy


def easom(x, y):
    return -torch.cos(x) * torch.cos(y) * torch.exp(-((x - PI) ** 2 + (y - PI) ** 2))


def easom_vg(x, y):
    cx, cy = torch.cos(x), torch.cos(y)
    dx, dy = x - PI, y - PI
    e = torch.exp(-(dx * dx + dy * dy))
    p = cx * cy * e  # f = -p
    return -p, (e * cy) * torch.sin(x) + 2 * (dx * p), (e * cx) * torch.sin(y) + 2 * (dy * p)


def saddle(x, y):
    return x**2 - y**2


def saddle_vg(x, y):
    return x * x - y * y, 2 * x, -2 * y


def monkey_saddle(x, y):
    return x**3 - 3 * x * y**2


def monkey_saddle_vg(x, y):
    x2, y2, x3 = x * x, y * y, 3 * x
    return x2 * x - x3 * y2, 3 * x2 - 3 * y2, (x3 * y) * -2


def plateau(x, y, w):
    # A Lorentzian well: the slope outside decays like 2w²/r³, small but never
    # zero, so the gradient always points home (unlike Easom's, which vanishes).
    r2 = x**2 + y**2
    return r2 / (r2 + w**2)


def plateau_vg(x, y, w):
    r2 = x * x + y * y
    d = r2 + w**2
    f = r2 / d
    # 1/d - f/d, as autograd rounds it (not w²/d²); 1 / d would be two ops.
    k = (d.reciprocal() - f / d) * 2
    return f, k * x, k * y


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
            value_and_grad=rosenbrock_vg,
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
            value_and_grad=beale_vg,
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
            value_and_grad=himmelblau_vg,
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
            value_and_grad=rastrigin_vg,
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
            value_and_grad=ackley_vg,
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
            value_and_grad=booth_vg,
            curvatures=lambda: (18.0, 2.0),  # Hessian [[10, 8], [8, 10]]
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
            value_and_grad=matyas_vg,
            curvatures=lambda: (1.0, 0.04),  # Hessian [[0.52, -0.48], [-0.48, 0.52]]
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
            value_and_grad=goldstein_price_vg,
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
            value_and_grad=three_hump_camel_vg,
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
            value_and_grad=mccormick_vg,
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
            value_and_grad=levi13_vg,
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
            value_and_grad=styblinski_tang_vg,
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
            value_and_grad=easom_vg,
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
            value_and_grad=saddle_vg,
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
            value_and_grad=monkey_saddle_vg,
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
            value_and_grad=plateau_vg,
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
            value_and_grad=quadratic_vg,
            curvatures=lambda kappa, angle: (1.0, 1.0 / kappa),
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
    return lookup(SURFACES, surface_id, "surface")

"""What a typed surface looks like, found numerically: a view, its minima, a start.

A user's formula in ``x`` and ``y`` comes with no table of minima and no
domain, unlike the built-in surfaces. :func:`analyze` finds them the way a
careful person would: evaluate on a grid in float64, take the lowest grid
minima as seeds, polish each with damped Newton steps (Levenberg-Marquardt on
autograd's gradient, all seeds as one batch), and keep the lowest.

The minima are numeric, not exact, and only those inside the view: a formula
that keeps falling towards the view's edge is reported as unbounded there, and
one that is NaN or infinite everywhere is reported with a message rather than
drawn as an empty picture.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .expr import Expr
from .threads import intra_op_threads

Domain = tuple[tuple[float, float], tuple[float, float]]  # ((x_lo, x_hi), (y_lo, y_hi))
Point = tuple[float, float, float]  # x, y, f(x, y)

DEFAULT_DOMAIN: Domain = ((-5.0, 5.0), (-5.0, 5.0))
GROW = (2.0, 4.0, 8.0)  # how far the default view may widen to take in a minimum
POLISH_STEPS = 60


@dataclass(frozen=True)
class SurfaceAnalysis:
    """A typed surface, surveyed.

    Attributes:
        domain: the view, ``((x_lo, x_hi), (y_lo, y_hi))``: the caller's, or
            the default widened to take in a minimum on its edge, or narrowed
            to where the formula is finite.
        minima: the global minima found in the view, ``(x, y, f)``, lowest
            first; empty when the formula is unbounded in the view, flat or
            nowhere finite.
        start: a suggested start ``(x, y)``: finite value and gradient, well
            away from every minimum; None when nothing is finite.
        value_range: the lowest and highest finite values on the grid, or None.
        unbounded: the lowest value in the view is on its edge (or is -inf):
            the formula keeps falling beyond the view, maybe without bound.
        problem: why the formula cannot be drawn or run here (NaN or infinite
            over the whole view), or None.
        notes: other things worth telling the user.
        numeric: always True: the minima are found numerically, to about the
            precision of float64, not derived exactly.
    """

    domain: Domain
    minima: tuple[Point, ...]
    start: tuple[float, float] | None
    value_range: tuple[float, float] | None
    unbounded: bool
    problem: str | None = None
    notes: tuple[str, ...] = ()
    numeric: bool = True


def _grid(expr: Expr, params: Mapping[str, float], domain: Domain, n: int) -> tuple[Tensor, Tensor, Tensor]:
    # lo + span*i/(n-1) rather than linspace, whose middle point of [-5, 5] is
    # -2.8e-16: minima at round numbers (kinks especially) should be grid points.
    steps = torch.arange(n, dtype=torch.float64) / (n - 1)
    (x0, x1), (y0, y1) = domain
    Y, X = torch.meshgrid(y0 + (y1 - y0) * steps, x0 + (x1 - x0) * steps, indexing="ij")  # rows are y
    with torch.no_grad():
        return X, Y, expr.torch(x=X, y=Y, **params)


def _digits(span: float) -> int:
    """Decimals that give a number about three significant digits across ``span``."""
    return max(0, 3 - math.ceil(math.log10(span)))


def _round_out(lo: float, hi: float) -> tuple[float, float]:
    # Numbers a user reads in the view's widgets: -1.2, not -1.1999999999999997.
    k = 10.0 ** _digits(hi - lo)
    return math.floor(lo * k) / k, math.ceil(hi * k) / k


def _round_near(v: float, span: float) -> float:
    return round(v, _digits(span))


def _lows(f: Tensor) -> tuple[float, float]:
    """The lowest value on the grid's edge and inside it (NaN counts as +inf)."""
    high = torch.where(torch.isnan(f), torch.inf, f)
    edge = high.clone()
    edge[1:-1, 1:-1] = torch.inf
    return float(edge.min()), float(high[1:-1, 1:-1].min())


def _fit_domain(expr: Expr, params: Mapping[str, float], n: int) -> tuple[Domain, tuple[str, ...]]:
    """The default view, narrowed to where the formula is finite or widened to a minimum past its edge."""
    X, Y, f = _grid(expr, params, DEFAULT_DOMAIN, n)
    finite = torch.isfinite(f)
    share = float(finite.double().mean())
    if 0 < share < 0.25:
        xs, ys = X[finite], Y[finite]
        cell = (DEFAULT_DOMAIN[0][1] - DEFAULT_DOMAIN[0][0]) / (n - 1)
        pad_x = max(0.1 * float(xs.max() - xs.min()), 2 * cell)
        pad_y = max(0.1 * float(ys.max() - ys.min()), 2 * cell)
        domain = (
            _round_out(float(xs.min()) - pad_x, float(xs.max()) + pad_x),
            _round_out(float(ys.min()) - pad_y, float(ys.max()) + pad_y),
        )
        return domain, ("the view is narrowed to where the formula is finite",)
    edge, inside = _lows(f)
    if not -torch.inf < edge < inside:
        return DEFAULT_DOMAIN, ()
    for scale in GROW:
        domain = tuple((lo * scale, hi * scale) for lo, hi in DEFAULT_DOMAIN)
        edge, inside = _lows(_grid(expr, params, domain, n)[2])
        if inside <= edge:
            return domain, (f"the view is widened {scale:g} times to take in the lowest point",)
    return DEFAULT_DOMAIN, ()


def _value_grad_hessian(
    expr: Expr, params: Mapping[str, float], x: Tensor, y: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """f, its gradient and Hessian at each of a batch of points.

    The gradient is autograd's; the Hessian is central differences of it, all
    five points per seed in one batch and one backward pass: a third of the
    cost of double backward, and Newton needs the Hessian only roughly (each
    step is tested before it is taken). Where a difference is not finite (the
    edge of a formula's domain) the Hessian entry is 0, and damping takes over.

    Returns:
        f ``(k,)``, gradient ``(k, 2)``, Hessian ``(k, 2, 2)``.
    """
    k = len(x)
    hx, hy = 1e-5 * (1 + x.abs()), 1e-5 * (1 + y.abs())
    xs = torch.cat([x, x + hx, x - hx, x, x]).requires_grad_()
    ys = torch.cat([y, y, y, y + hy, y - hy]).requires_grad_()
    f = expr.torch(x=xs, y=ys, **params)
    if f.requires_grad:  # else the formula is constant: no gradient to follow
        gx, gy = torch.autograd.grad(f.sum(), (xs, ys), materialize_grads=True)
    else:
        gx, gy = torch.zeros_like(xs), torch.zeros_like(ys)
    g = torch.stack([gx, gy], -1).view(5, k, 2)
    d_dx = (g[1] - g[2]) / (2 * hx[:, None])
    d_dy = (g[3] - g[4]) / (2 * hy[:, None])
    cross = (d_dx[:, 1] + d_dy[:, 0]) / 2
    h = torch.stack([torch.stack([d_dx[:, 0], cross], -1), torch.stack([cross, d_dy[:, 1]], -1)], -2)
    return f[:k].detach(), g[0], torch.nan_to_num(h, nan=0.0, posinf=0.0, neginf=0.0)


def _polish(expr: Expr, params: Mapping[str, float], xy: Tensor, domain: Domain) -> tuple[Tensor, Tensor]:
    """Damped Newton (Levenberg-Marquardt) from each seed, as one batch.

    A step is taken only where it lowers f, so a seed never ends higher than
    it started; the damping grows where steps fail (kinks, saddles, flat
    parts), which turns Newton into short gradient steps there. A seed stops
    when its step is below float64's resolution or it has left the view far
    behind (the formula falls that way).

    Returns:
        The polished points ``(k, 2)`` and their values ``(k,)``.
    """
    (x0, x1), (y0, y1) = domain
    lo = torch.tensor([2 * x0 - x1, 2 * y0 - y1], dtype=xy.dtype)
    hi = torch.tensor([2 * x1 - x0, 2 * y1 - y0], dtype=xy.dtype)
    xy = xy.clone()
    lam = torch.full((len(xy),), 1e-3, dtype=xy.dtype)
    eye = torch.eye(2, dtype=xy.dtype)
    f, g, h = _value_grad_hessian(expr, params, xy[:, 0], xy[:, 1])
    live = torch.isfinite(f)
    for _ in range(POLISH_STEPS):
        if not bool(live.any()):
            break
        step = -torch.linalg.solve_ex(h + lam[:, None, None] * eye, g[..., None])[0][..., 0]
        trial = xy + step
        with torch.no_grad():
            f_trial = expr.torch(x=trial[:, 0], y=trial[:, 1], **params)
        better = live & (f_trial < f) & torch.isfinite(step).all(-1)
        lam = torch.where(better, (lam / 4).clamp(min=1e-12), lam * 8)
        xy = torch.where(better[:, None], trial, xy)
        resolved = step.norm(dim=-1) <= 1e-13 * (1 + xy.norm(dim=-1))
        gone = ((xy < lo) | (xy > hi)).any(-1)
        live = live & ~resolved & ~gone & (lam < 1e16)
        if bool(better.any()):
            f, g, h = _value_grad_hessian(expr, params, xy[:, 0], xy[:, 1])
    return xy, f


def _start(
    expr: Expr, params: Mapping[str, float], domain: Domain, minima: tuple[Point, ...]
) -> tuple[float, float] | None:
    """A start well inside the view: far from the minima, but not on a cliff.

    Candidates sit a fifth of the way in from each corner and edge (upper left
    first, the convention of Rosenbrock's (-1.2, 1)). With minima, take the
    lowest candidate at least 40% of the half-diagonal from every minimum, or
    else the farthest; without minima (unbounded, flat) the highest, so the
    run has somewhere to go.
    """
    (x0, x1), (y0, y1) = domain
    fractions = [
        (0.2, 0.8),
        (0.8, 0.8),
        (0.2, 0.2),
        (0.8, 0.2),
        (0.5, 0.8),
        (0.5, 0.2),
        (0.2, 0.5),
        (0.8, 0.5),
    ]
    xy = torch.tensor([(x0 + a * (x1 - x0), y0 + b * (y1 - y0)) for a, b in fractions], dtype=torch.float64)
    f, g, _ = _value_grad_hessian(expr, params, xy[:, 0], xy[:, 1])
    ok = torch.isfinite(f) & torch.isfinite(g).all(-1)
    if not bool(ok.any()):
        return None
    cands = [(float(xy[i, 0]), float(xy[i, 1]), float(f[i])) for i in range(len(xy)) if ok[i]]
    if not minima:
        best = max(cands, key=lambda c: c[2])  # max keeps the first of equals
        return _round_near(best[0], x1 - x0), _round_near(best[1], y1 - y0)
    half_diagonal = 0.5 * ((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5

    def distance(c: tuple[float, float, float]) -> float:
        return min(((c[0] - m[0]) ** 2 + (c[1] - m[1]) ** 2) ** 0.5 for m in minima)

    far = [c for c in cands if distance(c) >= 0.4 * half_diagonal]
    best = min(far, key=lambda c: c[2]) if far else max(cands, key=distance)
    return _round_near(best[0], x1 - x0), _round_near(best[1], y1 - y0)


def analyze(
    expr: Expr,
    params: Mapping[str, float] | None = None,
    domain: Domain | None = None,
    *,
    grid: int = 201,
    seeds: int = 24,
    max_minima: int = 8,
) -> SurfaceAnalysis:
    """Survey a typed surface: its view, global minima, and a start.

    Deterministic: the same formula, parameters and view give the same answer.

    Args:
        expr: a formula in the variables ``x`` and ``y``.
        params: values of the formula's parameters, as floats.
        domain: the view ``((x_lo, x_hi), (y_lo, y_hi))``; None: ``[-5, 5]^2``,
            narrowed to where the formula is finite if that is under a
            quarter of it, or widened (up to 8 times) if it is lowest on its edge.
        grid: points per side of the survey grid.
        seeds: how many of the lowest grid minima to polish.
        max_minima: report at most this many global minima (a curve of minima
            would give one per seed).

    Returns:
        A :class:`SurfaceAnalysis`.
    """
    if tuple(expr.variables) != ("x", "y"):
        raise ValueError(f"analyze needs a formula in x and y, not in {', '.join(expr.variables)}")
    params = {k: float(v) for k, v in (params or {}).items()}
    with intra_op_threads(1), torch.enable_grad():  # the polish needs autograd, even inside no_grad
        return _analyze(expr, params, domain, grid, seeds, max_minima)


def _analyze(
    expr: Expr, params: dict[str, float], domain: Domain | None, grid: int, seeds: int, max_minima: int
) -> SurfaceAnalysis:
    notes: list[str] = []
    if domain is None:
        domain, why = _fit_domain(expr, params, grid)
        notes += why
    domain = tuple((float(lo), float(hi)) for lo, hi in domain)
    (x0, x1), (y0, y1) = domain
    X, Y, f = _grid(expr, params, domain, grid)
    finite = torch.isfinite(f)
    falls = f == -torch.inf
    if not bool(finite.any()) and not bool(falls.any()):
        mid = grid // 2
        at = f"({float(X[mid, mid]):.4g}, {float(Y[mid, mid]):.4g})"
        problem = (
            "the formula is not a finite number anywhere in the view (NaN or infinite); "
            f"at {at} it is {float(f[mid, mid])}"
        )
        return SurfaceAnalysis(domain, (), None, None, False, problem=problem)
    share = float(finite.double().mean())
    if share < 1:
        notes.append(f"the formula is NaN or infinite on {100 * (1 - share):.3g}% of the view")
    values = f[finite]
    value_range = (float(values.min()), float(values.max())) if len(values) else None

    def result(minima: tuple[Point, ...], unbounded: bool) -> SurfaceAnalysis:
        start = _start(expr, params, domain, minima)
        return SurfaceAnalysis(domain, minima, start, value_range, unbounded, notes=tuple(notes))

    if bool(falls.any()):
        i = int(torch.nonzero(falls.flatten())[0])
        notes.append(f"the formula is -inf at ({float(X.flatten()[i]):.4g}, {float(Y.flatten()[i]):.4g})")
        return result((), True)
    if value_range[0] == value_range[1]:
        notes.append("the formula is constant over the view")
        return result((), False)

    # Seeds: the lowest cells that are no higher than their eight neighbours.
    high = torch.where(finite, f, torch.inf)
    local = high <= -F.max_pool2d(-high[None, None], 3, stride=1, padding=1)[0, 0]
    candidates = torch.nonzero((local & finite).flatten())[:, 0]
    cells = candidates[torch.argsort(high.flatten()[candidates], stable=True)[:seeds]]
    xy, fp = _polish(expr, params, torch.stack([X.flatten()[cells], Y.flatten()[cells]], -1), domain)

    margin = 1e-9 * max(x1 - x0, y1 - y0)
    inside = (
        torch.isfinite(fp)
        & (xy[:, 0] >= x0 - margin) & (xy[:, 0] <= x1 + margin)
        & (xy[:, 1] >= y0 - margin) & (xy[:, 1] <= y1 + margin)
    )  # fmt: skip
    best = float(fp[inside].min()) if bool(inside.any()) else torch.inf
    tol = 1e-9 * (value_range[1] - value_range[0] + (abs(best) if best < torch.inf else 0.0))
    edge, _ = _lows(f)
    if edge < best - tol:
        notes.append("the lowest value in the view is on its edge: the formula keeps falling beyond it")
        return result((), True)

    found = sorted(
        (float(fp[i]), float(xy[i, 0]), float(xy[i, 1]))
        for i in range(len(fp))
        if inside[i] and fp[i] <= best + tol
    )
    radius = 1e-3 * ((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5
    minima: list[Point] = []
    for fv, xv, yv in found:
        if all((xv - m[0]) ** 2 + (yv - m[1]) ** 2 > radius**2 for m in minima):
            minima.append((xv, yv, fv))
    if len(minima) > max_minima:
        notes.append(
            f"at least {len(minima)} points share the lowest value (a curve or region of minima?); "
            f"the first {max_minima} are listed"
        )
    return result(tuple(minima[:max_minima]), False)

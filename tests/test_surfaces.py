"""The surface registry against its own tables.

Every check runs over every registered surface, at its default parameters and
with each parameter at either end of its widget range, so a new entry (or a
wrong minimum in a table) is caught without writing a test for it.
"""

from __future__ import annotations

import pytest
import torch

from optviz.engine import RunConfig, run
from optviz.params import ConfigError
from optviz.problems import SurfaceProblem
from optviz.problems.surfaces import SURFACES, get
from tests.helpers import check_against_torch

REQUIRED = (
    "rosenbrock beale himmelblau rastrigin ackley booth matyas goldstein_price three_hump_camel"
    " mccormick levi13 styblinski_tang easom saddle quadratic monkey_saddle plateau"
).split()
GRID = 200


def _cases():
    for s in SURFACES.values():
        yield pytest.param(s, {}, id=s.id)
        for p in s.params:
            for v in (p.low, p.high):
                yield pytest.param(s, {p.name: v}, id=f"{s.id}-{p.name}={v:g}")


CASES = list(_cases())
SURFS = [pytest.param(s, id=s.id) for s in SURFACES.values()]
DTYPES = [torch.float32, torch.float64]


def _grid(s, dtype):
    (x0, x1), (y0, y1) = s.domain
    xs, ys = torch.linspace(x0, x1, GRID, dtype=dtype), torch.linspace(y0, y1, GRID, dtype=dtype)
    return torch.meshgrid(xs, ys, indexing="xy")


def _value_and_grad(s, points, params, dtype=torch.float64):
    xy = torch.tensor(points, dtype=dtype).reshape(-1, 2).requires_grad_(True)
    f = s(xy, **params)
    (g,) = torch.autograd.grad(f.sum(), xy)
    return f.detach(), g


def _inside(s, x, y):
    (x0, x1), (y0, y1) = s.domain
    return x0 <= x <= x1 and y0 <= y <= y1


def test_every_required_surface_is_registered():
    assert set(REQUIRED) <= set(SURFACES), sorted(set(REQUIRED) - set(SURFACES))
    assert all(key == s.id for key, s in SURFACES.items())


@pytest.mark.parametrize("s", SURFS)
def test_metadata(s):
    assert s.name and s.latex and s.teaches and "\n" not in s.teaches
    assert s.levels in ("log", "linear")
    # log shading needs a lowest value; a surface without one has a saddle to mark.
    assert (s.levels == "log") == bool(s.minima(**s.defaults))
    assert bool(s.critical_points) != bool(s.minima(**s.defaults))
    for p in s.params:
        assert p.help and p.low <= p.default <= p.high
        assert s.resolve({p.name: p.default}) == s.defaults


@pytest.mark.parametrize("s, over", CASES)
def test_minima_and_start_lie_in_the_domain(s, over):
    params = s.resolve(over)
    assert _inside(s, *s.start), s.start
    for x, y, _ in [*s.minima(**params), *s.critical_points]:
        assert _inside(s, x, y), (x, y)


@pytest.mark.parametrize("s, over", CASES)
def test_listed_minima_are_stationary_with_the_listed_value(s, over):
    params = s.resolve(over)
    points = [*s.minima(**params), *s.critical_points]
    if not points:
        pytest.skip("nothing listed")
    f, g = _value_and_grad(s, [(x, y) for x, y, _ in points], params)
    torch.testing.assert_close(f, torch.tensor([v for *_, v in points], dtype=f.dtype), rtol=0, atol=1e-4)
    assert g.abs().max() < 1e-3, g


@pytest.mark.parametrize("s, over", CASES)
def test_no_grid_point_beats_the_listed_minimum(s, over):
    params = s.resolve(over)
    minima = s.minima(**params)
    if not minima:
        pytest.skip("no minimum")
    assert len({v for *_, v in minima}) == 1, "global minima share one value"
    low = s.fn(*_grid(s, torch.float64), **params).min().item()
    assert low >= minima[0][2] - 1e-6, (low, minima[0])


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("s", SURFS)
def test_finite_values_and_gradients(s, dtype):
    x, y = (g.clone().requires_grad_(True) for g in _grid(s, dtype))
    f = s.fn(x, y, **s.defaults)
    assert f.shape == x.shape and f.dtype == dtype
    assert torch.isfinite(f).all()
    gx, gy = torch.autograd.grad(f.sum(), (x, y))
    assert torch.isfinite(gx).all() and torch.isfinite(gy).all()
    # At the start, through the (..., 2) interface the engine uses.
    f0, g0 = _value_and_grad(s, [s.start], {}, dtype)
    assert torch.isfinite(f0).all() and torch.isfinite(g0).all()
    # Scalars (0-d tensors) work too.
    assert s.fn(torch.tensor(0.5, dtype=dtype), torch.tensor(0.25, dtype=dtype), **s.defaults).shape == ()


@pytest.mark.parametrize("s", SURFS)
def test_start_is_not_a_critical_point(s):
    _, g = _value_and_grad(s, [s.start], {})
    assert g.norm() > 1e-4, g


def test_rosenbrock_a_moves_the_minimum():
    s = get("rosenbrock")
    for a in (-1.5, 0.5, 1.0):
        params = s.resolve({"a": str(a)})  # as text, the way a URL gives it
        assert s.minima(**params) == [(a, a * a, 0.0)]
        problem = SurfaceProblem("rosenbrock", {"a": a})
        assert problem.loss(torch.tensor([[a, a * a]], dtype=torch.float64)).item() == 0.0
    # b shapes the valley but leaves the minimum where it is.
    assert s.minima(**s.resolve({"b": 10})) == [(1.0, 1.0, 0.0)]


def test_parameters_reach_the_function():
    s = get("rastrigin")
    xy = torch.tensor([0.5, 0.5], dtype=torch.float64)
    assert s(xy, **s.resolve({"A": 0})).item() == pytest.approx(0.5)
    assert s(xy).item() == pytest.approx(40.5)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: get("rosenbrok"), "unknown surface 'rosenbrok'; choose one of: rosenbrock, "),
        (lambda: SurfaceProblem("nope"), "unknown surface 'nope'"),
        (lambda: get("rosenbrock").resolve({"c": 1}), "Rosenbrock has no parameter 'c'; it has: a, b"),
        (lambda: get("booth").resolve({"a": 1}), "Booth has no parameter 'a'; it has: none"),
        (lambda: get("rosenbrock").resolve({"a": "one"}), "Rosenbrock: a: cannot read 'one' as a number"),
        (lambda: get("ackley").resolve({"b": "nan"}), "Ackley: b: cannot read 'nan' as a number"),
        (lambda: SurfaceProblem("rastrigin", {"A": True}), "Rastrigin: A: cannot read True"),
        (lambda: get("rosenbrock").resolve({"b": -1}), "Rosenbrock: b must be > 0"),
        (lambda: get("ackley").resolve({"a": 0, "b": "0"}), "Ackley: a and b must be > 0"),
        (lambda: get("rastrigin").resolve({"A": -1}), "Rastrigin: A must be >= 0"),
        (lambda: SurfaceProblem("quadratic", {"kappa": 0}), "Ill-conditioned quadratic: kappa must be > 0"),
    ],
)
def test_bad_configuration_raises_config_error(make, message):
    with pytest.raises(ConfigError) as info:
        make()
    assert str(info.value).startswith(message), str(info.value)


def test_literature_values_we_corrected():
    """The tables round these too coarsely; the registry carries the exact digits."""
    x, y, f = get("mccormick").minima()[0]
    assert (x, y, f) == pytest.approx((-0.5471975512, -1.5471975512, -1.9132229550))
    assert abs(f - -1.9133) > 5e-5  # the tables' value is mis-rounded
    x, y, f = get("styblinski_tang").minima()[0]
    assert x == y == pytest.approx(-2.9035340278) and f / 2 == pytest.approx(-39.1661657038)
    assert abs(f - 2 * -39.16599) > 3e-4  # VLSE's per-dimension value would fail the 1e-4 check


@pytest.mark.parametrize("s", SURFS)
def test_every_surface_runs_in_the_engine(s):
    configs = [RunConfig("SGD", {"lr": 1e-4}), RunConfig("Adam", {"lr": 1e-2})]
    result = run(SurfaceProblem(s.id), configs, steps=20, device="cpu")
    start_loss = s(torch.tensor(s.start)).item()
    assert result.arrays["loss"][0] == pytest.approx([start_loss] * 2, rel=1e-6)
    assert result.diverged_at[1] == -1  # Adam's steps are bounded by lr; SGD may fly off (Goldstein-Price)


# -- the hand-written value_and_grad, held to fn and autograd --


def _check_points(s, params, n=300):
    """Start, minima, saddles, the axes, the corners, and n random points in the
    domain widened by a quarter on each side."""
    (x0, x1), (y0, y1) = s.domain
    listed = [(x, y) for x, y, _ in [*s.minima(**params), *s.critical_points]]
    fixed = [s.start, *listed, (0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (x0, y0), (x1, y1)]
    u = torch.rand(n, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 1.5 - 0.25
    rand = torch.stack([x0 + (x1 - x0) * u[:, 0], y0 + (y1 - y0) * u[:, 1]], 1)
    return torch.cat([torch.tensor(fixed, dtype=torch.float64), rand])


def _assert_equal(what, ours, ref, xy):
    bad = torch.nonzero(ours != ref).flatten()
    if len(bad):
        i = int(bad[0])
        raise AssertionError(
            f"{what} at {xy[i].tolist()}: {ours[i].item()!r} vs autograd {ref[i].item()!r} "
            f"({len(bad)} of {len(xy)} points differ)"
        )


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("s, over", CASES)
def test_value_and_grad_matches_autograd(s, over, dtype):
    """Bit for bit: a gradient that differs in the last bit parts a chaotic run from torch's
    own loop (Adamax on Beale did by step 150). Each hand-written gradient multiplies
    autograd's chain-rule factors and sums its terms in the order its backward pass does."""
    assert s.value_and_grad is not None, f"{s.id} has no value_and_grad: the engine falls back to autograd"
    params = s.resolve(over)
    xy = _check_points(s, params).to(dtype)
    # Column views of a (points, 2) tensor, as the engine and torch's loop evaluate them
    # (torch's pow takes another code path on contiguous tensors, which rounds otherwise).
    leaf = xy.clone().requires_grad_(True)
    f = s.fn(leaf[:, 0], leaf[:, 1], **params)
    gx, gy = torch.autograd.grad(f.sum(), leaf)[0].unbind(1)
    vf, vx, vy = s.value_and_grad(xy[:, 0], xy[:, 1], **params)
    assert all(v.dtype == dtype and v.shape == f.shape for v in (vf, vx, vy))
    _assert_equal("f", vf, f.detach(), xy)
    _assert_equal("df/dx", vx, gx, xy)
    _assert_equal("df/dy", vy, gy, xy)


@pytest.mark.parametrize("s", SURFS)
def test_value_and_grad_keeps_shape_and_dtype(s):
    for shape in [(), (3, 4)]:
        for dtype in DTYPES:
            x, y = torch.rand(shape, dtype=dtype), torch.rand(shape, dtype=dtype)
            for out in s.value_and_grad(x, y, **s.defaults):
                assert out.shape == shape and out.dtype == dtype


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("s", SURFS)
def test_engine_path_matches_torch_on_every_surface(s, dtype):
    """The engine (hand-written gradients) against torch.optim on autograd, as in
    test_truth: bit for bit, in both dtypes."""
    problem = SurfaceProblem(s.id)
    # SGD's first step is at most 1e-3 long: it stays finite on Beale's and Goldstein-Price's walls.
    _, gx, gy = s.value_and_grad(*torch.tensor(s.start, dtype=torch.float64), **s.defaults)
    sgd_lr = 1e-3 / max(1.0, torch.hypot(gx, gy).item())
    configs = [
        RunConfig("Adam", {"lr": 1e-2}),
        RunConfig("SGD", {"lr": sgd_lr, "momentum": 0.9}),
        RunConfig("Adamax", {"lr": 2e-3, "betas": (0.9, 0.0)}),
    ]
    check_against_torch(problem, configs, steps=300, rtol=0.0, atol=0.0, what=s.id, dtype=dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_chaotic_beale_run_is_torchs(dtype):
    """The issue's case: Adamax, lr 0.02, betas (0.9, 0.0) from (2, -1) on Beale parted from
    torch's autograd loop by step 150 and was reported diverged; now it is torch's, bit for bit."""
    config = RunConfig("Adamax", {"lr": 0.02, "betas": (0.9, 0.0)}, start=(2.0, -1.0))
    check_against_torch(SurfaceProblem("beale"), [config], steps=400, rtol=0.0, atol=0.0, what="beale", dtype=dtype)


@pytest.mark.parametrize("s, over", [c for c in CASES if c.values[0].curvatures is not None])
def test_curvatures_are_the_hessians_eigenvalues_everywhere(s, over):
    """``curvatures`` (L, mu) feed Polyak's heavy ball: they must be the Hessian's extreme
    eigenvalues, the same at every point (a quadratic)."""
    params = s.resolve(over)
    L, mu = s.curvatures(**params)
    for xy in _check_points(s, params, n=5):
        hessian = torch.autograd.functional.hessian(lambda p: s(p, **params), xy)
        lo, hi = torch.linalg.eigvalsh(hessian).tolist()
        assert (hi, lo) == pytest.approx((L, mu), rel=1e-9, abs=1e-12), xy.tolist()


@pytest.mark.parametrize("s", SURFS)
def test_a_convex_quadratic_states_its_curvatures(s):
    """Where the Hessian is positive definite and the same everywhere, the entry says so
    (the heatmap marks Polyak's point from it)."""
    if s.curvatures is not None:
        return
    hessians = [torch.autograd.functional.hessian(lambda p: s(p), xy) for xy in _check_points(s, s.defaults, n=5)]
    constant = all(torch.allclose(h, hessians[0], rtol=1e-9, atol=1e-12) for h in hessians)
    assert not (constant and torch.linalg.eigvalsh(hessians[0]).min() > 0), f"{s.id} is a convex quadratic"


def test_problem_curvatures_take_the_parameters():
    assert SurfaceProblem("quadratic", {"kappa": 4.0}).curvatures() == (1.0, 0.25)
    assert SurfaceProblem("rosenbrock").curvatures() is None

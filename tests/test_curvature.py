"""Curvature: Hessian-vector products and lambda_max against dense Hessians,
stability thresholds against torch.optim, and the edge of stability on digits
(the recipe in bench/edge_of_stability.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bench import edge_of_stability as eos
from optviz.curvature import (
    adam_threshold,
    eig_2x2,
    gd_threshold,
    heavy_ball_threshold,
    hessian_2d,
    hvp,
    sharpness_along_path,
    surface_stability,
    top_eigenvalue,
)
from optviz.optim.base import ConfigError

F64 = torch.float64


@pytest.fixture(autouse=True)
def one_thread():
    """These tensors are small: a second thread only adds synchronization, and on
    a busy machine its spin-waits multiply the time many-fold."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# -- test data: one seeded factory -----------------------------------------------

MLP = (4, 6, 3)  # 4*6 + 6 + 6*3 + 3 = 51 weights


def mlp_loss(seed: int = 0, n: int = 10):
    """A batched tanh MLP with MSE: ``loss(params (rows, 51), step) -> (rows,)``."""
    g = torch.Generator().manual_seed(seed)
    X, Y = torch.randn(n, MLP[0], generator=g, dtype=F64), torch.randn(n, MLP[2], generator=g, dtype=F64)
    shapes = [(MLP[1], MLP[0]), (MLP[1],), (MLP[2], MLP[1]), (MLP[2],)]
    sizes = [math.prod(s) for s in shapes]

    def loss(params, step=0):
        rows = params.shape[0]
        w1, b1, w2, b2 = (t.reshape(rows, *s) for t, s in zip(params.split(sizes, 1), shapes))
        h = torch.tanh(torch.baddbmm(b1.unsqueeze(1), X.expand(rows, *X.shape), w1.transpose(1, 2)))
        out = torch.baddbmm(b2.unsqueeze(1), h, w2.transpose(1, 2))
        return F.mse_loss(out, Y.expand_as(out), reduction="none").mean((1, 2))

    return loss, sum(sizes)


def points(rows: int, dims: int, seed: int = 1, scale: float = 1.0) -> torch.Tensor:
    return scale * torch.randn(rows, dims, generator=torch.Generator().manual_seed(seed), dtype=F64)


def dense_hessians(loss, params):
    def one(p):
        return torch.autograd.functional.hessian(lambda w: loss(w[None])[0], p, vectorize=True)

    return torch.stack([one(p) for p in params])


def rosenbrock(p, step=0, a=1.0, b=100.0):
    return (a - p[:, 0]) ** 2 + b * (p[:, 1] - p[:, 0] ** 2) ** 2


def quadratic(eigenvalues, seed=0):
    """``f(x) = x^T A x / 2`` with ``A``'s spectrum given, in a seeded rotation."""
    d = len(eigenvalues)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=torch.Generator().manual_seed(seed), dtype=F64))
    A = q @ torch.diag(torch.tensor(eigenvalues, dtype=F64)) @ q.T
    return lambda p, step=0: 0.5 * torch.einsum("ri,ij,rj->r", p, A, p)


# -- Hessian-vector products and lambda_max against a dense Hessian ----------------


def test_hvp_equals_dense_hessian_times_v_on_an_mlp():
    loss, dims = mlp_loss()
    params, v = points(5, dims), points(5, dims, seed=2)
    H = dense_hessians(loss, params)
    torch.testing.assert_close(hvp(loss, params, v), torch.einsum("rij,rj->ri", H, v), rtol=1e-10, atol=1e-12)


def test_top_eigenvalue_equals_dense_eigenvalues_on_an_mlp():
    loss, dims = mlp_loss()
    params = points(6, dims, scale=0.8)
    dense = torch.linalg.eigh(dense_hessians(loss, params))
    out = top_eigenvalue(loss, params, tol=1e-10, return_vectors=True)
    assert out.converged.all()
    torch.testing.assert_close(out.values, dense.eigenvalues[:, -1], rtol=1e-9, atol=1e-12)
    # The eigenvector too (up to sign), where the top eigenvalue is separated.
    gap = dense.eigenvalues[:, -1] - dense.eigenvalues[:, -2]
    cos = (out.vectors * dense.eigenvectors[:, :, -1]).sum(1).abs()
    assert torch.all((cos > 1 - 1e-6) | (gap < 1e-6 * dense.eigenvalues[:, -1].abs()))


def test_rows_are_independent_and_a_diverged_row_gives_nan():
    loss, dims = mlp_loss()
    params = points(4, dims)
    params[2, 7] = math.nan
    out = top_eigenvalue(loss, params, tol=1e-8)
    assert math.isnan(out.values[2]) and not out.converged[2]
    alone = top_eigenvalue(loss, params[[0, 1, 3]], tol=1e-8)
    torch.testing.assert_close(out.values[[0, 1, 3]], alone.values)


def test_a_loss_that_is_nan_at_finite_params_gives_nan_for_that_row_only():
    def f(p, step=0):
        return torch.sqrt(p[:, 0]) * (p[:, 1:] ** 2).sum(1)

    params = torch.tensor([[4.0, 1.0, 2.0], [-1.0, 1.0, 2.0], [1.0, 0.5, 0.5]], dtype=F64)
    out = top_eigenvalue(f, params, tol=1e-12)
    assert out.values[1].isnan() and not out.converged[1] and out.converged[[0, 2]].all()
    dense = torch.linalg.eigvalsh(dense_hessians(f, params[[0, 2]]))[:, -1]
    torch.testing.assert_close(out.values[[0, 2]], dense)


def test_rows_that_converge_early_leave_the_batch_without_changing_the_others():
    # f = sum_i x_i^4 / 12 has H = diag(x_i^2): isotropic at rows 0-3 (one Lanczos step), spread at rows 4-5.
    def f(p, step=0):
        return (p**4).sum(1) / 12

    params = torch.cat(
        [torch.tensor([[1.0], [-2.0], [0.5], [3.0]], dtype=F64) * torch.ones(4, 8, dtype=F64), points(2, 8)]
    )
    out = top_eigenvalue(f, params, tol=1e-12)
    assert out.converged.all()
    torch.testing.assert_close(out.values, (params**2).amax(1))
    torch.testing.assert_close(out.values[4:], top_eigenvalue(f, params[4:], tol=1e-12).values)


def test_top_eigenvalue_is_deterministic():
    loss, dims = mlp_loss()
    params = points(3, dims)
    a, b = top_eigenvalue(loss, params, iters=8, seed=3), top_eigenvalue(loss, params, iters=8, seed=3)
    assert torch.equal(a.values, b.values) and a.iters == b.iters == 8


# -- the largest algebraic eigenvalue, near a saddle -------------------------------


@pytest.mark.parametrize(
    "spectrum",
    [
        [-10.0, -3.0, 0.5, 1.0, 0.2, -0.1],  # a saddle: power iteration would report -10
        [-5.0, -4.0, -2.0, -1.5, -1.0, -0.5],  # a maximum: lambda_max is negative
        [3.0, 2.999, 1.0, 0.0, -1.0, -2.0],  # a near tie at the top
    ],
)
def test_top_eigenvalue_is_the_largest_algebraic_one(spectrum):
    f = quadratic(spectrum)
    params = points(3, len(spectrum))
    out = top_eigenvalue(f, params, tol=1e-12)
    torch.testing.assert_close(out.values, torch.full((3,), max(spectrum), dtype=F64), rtol=1e-9, atol=1e-12)


def test_top_eigenvalue_at_a_saddle_of_the_mlp():
    # Away from a minimum an MLP's Hessian has negative eigenvalues; at these points
    # the most negative one is the largest in magnitude.
    loss, dims = mlp_loss(seed=4)
    params = points(8, dims, seed=5, scale=2.0)
    dense = torch.linalg.eigvalsh(dense_hessians(loss, params))
    saddle = dense[:, 0].abs() > dense[:, -1]
    assert saddle.sum() >= 2
    out = top_eigenvalue(loss, params[saddle], tol=1e-10)
    torch.testing.assert_close(out.values, dense[saddle, -1], rtol=1e-9, atol=1e-12)


# -- exact 2-D Hessians ------------------------------------------------------------


def test_hessian_2d_is_rosenbrocks_exact_hessian():
    p = torch.tensor([[1.0, 1.0], [0.0, 0.0], [-1.2, 1.0], [0.5, -0.3], [2.0, 4.0]], dtype=F64)
    x, y, b = p[:, 0], p[:, 1], 100.0
    exact = torch.stack(
        [
            torch.stack([2 - 4 * b * (y - x**2) + 8 * b * x**2, -4 * b * x], 1),
            torch.stack([-4 * b * x, torch.full_like(x, 2 * b)], 1),
        ],
        1,
    )
    h = hessian_2d(rosenbrock, p)
    torch.testing.assert_close(h.hessian, exact, rtol=1e-12, atol=1e-9)
    torch.testing.assert_close(h.eigenvalues, torch.linalg.eigvalsh(exact), rtol=1e-12, atol=1e-9)
    # H v = lambda v for both directions: the arms of the cross.
    hv = torch.einsum("rij,rjk->rik", h.hessian, h.eigenvectors)
    torch.testing.assert_close(hv, h.eigenvectors * h.eigenvalues.unsqueeze(1), rtol=1e-10, atol=1e-9)
    torch.testing.assert_close(h.eigenvectors.norm(dim=1), torch.ones(5, 2, dtype=F64))
    # Lanczos on the same rows is exact in two steps.
    lanczos = top_eigenvalue(rosenbrock, p).values
    torch.testing.assert_close(lanczos, h.eigenvalues[:, 1], rtol=1e-12, atol=1e-9)


def test_eig_2x2_keeps_nan_rows_and_handles_diagonal_and_degenerate_matrices():
    H = torch.tensor(
        [[[2.0, 0.0], [0.0, 5.0]], [[3.0, 0.0], [0.0, 3.0]], [[math.nan, 0.0], [0.0, 1.0]], [[0.0, -2.0], [-2.0, 0.0]]],
        dtype=F64,
    )
    values, vectors = eig_2x2(H)
    expected = torch.tensor([[2.0, 5.0], [3.0, 3.0], [-2.0, 2.0]], dtype=F64)
    torch.testing.assert_close(values[[0, 1, 3]], expected)
    assert values[2].isnan().all()
    torch.testing.assert_close(vectors[0].abs(), torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=F64))
    rows = [0, 1, 3]
    torch.testing.assert_close(
        torch.einsum("rij,rjk->rik", H[rows], vectors[rows]), vectors[rows] * values[rows].unsqueeze(1)
    )


def test_hessian_2d_of_a_linear_surface_is_zero():
    h = hessian_2d(lambda p: 3 * p[:, 0] - p[:, 1], points(2, 2))
    assert torch.equal(h.hessian, torch.zeros(2, 2, 2, dtype=F64))


# -- along a path -------------------------------------------------------------------


class _Problem:
    layout = ((51,),)

    def __init__(self, loss, full_batch=True):
        self.loss, self.full_batch = loss, full_batch


def test_sharpness_along_path_is_top_eigenvalue_of_every_point_in_chunks():
    loss, dims = mlp_loss()
    path = points(4 * 3, dims, scale=0.7).reshape(4, 3, dims)
    path[2:, 1] = math.nan  # run 1 diverged at point 2
    dense = torch.linalg.eigvalsh(dense_hessians(loss, path.reshape(-1, dims).nan_to_num())).reshape(4, 3, -1)
    for chunk in (None, 5):
        out = sharpness_along_path(_Problem(loss), path.numpy(), [0, 10, 20, 30], tol=1e-10, chunk=chunk)
        assert out.values.shape == (4, 3)
        assert out.values[2:, 1].isnan().all() and not out.converged[2:, 1].any()
        ok = ~out.values.isnan()
        assert out.converged[ok].all()
        torch.testing.assert_close(out.values[ok], dense[..., -1][ok], rtol=1e-9, atol=1e-12)


def test_sharpness_along_path_uses_each_points_batch_when_the_loss_depends_on_the_step():
    # Mini-batch k has curvature k + 1 along every axis.
    problem = _Problem(lambda p, step: 0.5 * (step + 1) * (p**2).sum(1), full_batch=False)
    path = torch.zeros(3, 2, 51, dtype=F64)
    own = sharpness_along_path(problem, path, [0, 4, 9])
    torch.testing.assert_close(own.values, torch.tensor([[1.0] * 2, [5.0] * 2, [10.0] * 2], dtype=F64))
    fixed = sharpness_along_path(problem, path, [0, 4, 9], batch_step=2)
    torch.testing.assert_close(fixed.values, torch.full((3, 2), 3.0, dtype=F64))


def test_bad_shapes_raise_config_errors():
    loss, dims = mlp_loss()
    with pytest.raises(ConfigError, match="points, runs, dims"):
        sharpness_along_path(_Problem(loss), torch.zeros(3, dims), [0, 1, 2])
    with pytest.raises(ConfigError, match="one entry per kept point"):
        sharpness_along_path(_Problem(loss), torch.zeros(3, 1, dims), [0, 1])
    with pytest.raises(ConfigError, match="shape of params"):
        hvp(loss, torch.zeros(2, dims), torch.zeros(3, dims))
    with pytest.raises(ConfigError, match="runs, 2"):
        hessian_2d(rosenbrock, torch.zeros(2, 3))


# -- stability thresholds, against torch.optim ------------------------------------------


def test_thresholds_formulas():
    assert gd_threshold(0.1) == pytest.approx(20.0)
    assert heavy_ball_threshold(0.1, 0.9) == pytest.approx(38.0)
    assert heavy_ball_threshold(0.1, 0.5, dampening=0.5) == pytest.approx(60.0)
    assert heavy_ball_threshold(0.1, 0.9, nesterov=True) == pytest.approx(38.0 / 2.8)
    assert adam_threshold(0.1, 0.9) == pytest.approx(380.0)  # Cohen et al. 2022: 38 / lr
    lr = torch.tensor([0.1, 0.2])
    torch.testing.assert_close(gd_threshold(lr), torch.tensor([20.0, 10.0]))


@pytest.mark.parametrize(
    "momentum, dampening, nesterov", [(0.0, 0.0, False), (0.9, 0.0, False), (0.5, 0.3, False), (0.9, 0.0, True)]
)
def test_thresholds_separate_torch_sgd_converging_from_diverging(momentum, dampening, nesterov):
    """torch.optim.SGD on f = sum_i lambda_i x_i^2 / 2, with lambda 2% either side of the threshold."""
    lr = 0.1
    limit = heavy_ball_threshold(lr, momentum, dampening=dampening, nesterov=nesterov)
    curvature = torch.tensor([0.98, 1.02], dtype=F64) * limit
    x = torch.ones(2, dtype=F64, requires_grad=True)
    opt = torch.optim.SGD([x], lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov)
    for _ in range(200):
        opt.zero_grad()
        (0.5 * curvature * x**2).sum().backward()
        opt.step()
    below, above = x.detach().abs().tolist()
    assert below < 1e-2 and above > 1e2, (below, above)


def test_surface_stability_per_run():
    # f = (x^2 + 10 y^2) / 2: lambda_max = 10 everywhere, so GD is stable iff lr < 0.2.
    def f(p, step=0):
        return 0.5 * (p[:, 0] ** 2 + 10 * p[:, 1] ** 2)

    p = points(4, 2)
    lr = torch.tensor([0.1, 0.19, 0.21, 0.21], dtype=F64)
    gd = surface_stability(f, p, lr)
    torch.testing.assert_close(gd.sharpness, torch.full((4,), 10.0, dtype=F64))
    assert gd.stable.tolist() == [True, True, False, False]
    hb = surface_stability(f, p, lr, momentum=torch.tensor([0.0, 0.0, 0.0, 0.5], dtype=F64))
    assert hb.stable.tolist() == [True, True, False, True]  # 0.21 * 10 < 2 * 1.5
    p[1] = math.nan
    assert surface_stability(f, p, 0.1).stable.tolist() == [True, False, True, True]
    with pytest.raises(ConfigError, match="> 0"):
        surface_stability(f, p, 0.0)


def test_module_example():
    import doctest

    import optviz.curvature

    assert doctest.testmod(optviz.curvature).failed == 0


# -- the edge of stability ---------------------------------------------------------------


@pytest.mark.slow
def test_gd_trains_a_tanh_mlp_on_digits_at_the_edge_of_stability():
    """Cohen et al. 2021 on a CPU: lambda_max climbs to 2/lr and hovers there while
    the loss falls, non-monotonically."""
    recipe = eos.Recipe(tol=1e-2)  # digits, 1078 rows, 64-32-32-10 tanh, MSE on one-hot, lr 2.5, 500 steps
    out = eos.train(recipe)
    sharp = eos.measure(recipe, out)
    ratio, steps, loss = sharp / gd_threshold(recipe.lr), out["steps"], out["loss"]

    assert ratio[0] < 0.7  # it starts well below 2/lr: progressive sharpening ...
    assert ratio.max() > 0.8  # ... up to the threshold
    second = steps >= recipe.steps // 2
    assert np.mean(np.abs(ratio[second] - 1) <= 0.2) >= 0.8  # and hovers there
    # The loss keeps falling over the second half (medians: a catapult spike may land
    # on any step), but not monotonically.
    half, quarter = recipe.steps // 2, recipe.steps // 4
    early, late = np.median(loss[half : half + quarter // 2]), np.median(loss[-(quarter // 2) :])
    assert np.isfinite(loss).all() and early < 0.5 * loss[0] and late < 0.85 * early
    assert (np.diff(loss[half:]) > 0).sum() >= 10

r"""Curvature along optimizer paths: Hessian-vector products, the top Hessian
eigenvalue (the *sharpness*) of every run, and the step sizes it allows.

Everything is batched like the engine: parameters are a ``(runs, dims)`` tensor
and a loss maps it to ``(runs,)``. Runs are independent, so the Hessian of the
summed loss is block diagonal and one double backward gives every run's
Hessian-vector product at once.

Why the sharpness matters: on a quadratic with curvature :math:`\lambda`, gradient
descent multiplies the error along that eigenvector by :math:`1 - \eta\lambda`
each step, so it oscillates and diverges once :math:`\eta\lambda > 2`. Cohen et
al. (ICLR 2021, "Gradient Descent on Neural Networks Typically Occurs at the Edge
of Stability") observed that full-batch GD on neural networks drives
:math:`\lambda_{\max}` up to :math:`2/\eta` (progressive sharpening) and then
hovers there while the loss keeps falling, non-monotonically.

>>> import torch
>>> from optviz.curvature import hessian_2d, top_eigenvalue
>>> f = lambda p, step=0: (1 - p[:, 0]) ** 2 + 100 * (p[:, 1] - p[:, 0] ** 2) ** 2
>>> p = torch.tensor([[1.0, 1.0], [0.0, 0.0]], dtype=torch.float64)
>>> hessian_2d(f, p).eigenvalues[:, 1]              # exact, per run
tensor([1001.6006,  200.0000], dtype=torch.float64)
>>> top_eigenvalue(f, p).values                     # Lanczos on the same rows
tensor([1001.6006,  200.0000], dtype=torch.float64)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from . import config
from .params import ConfigError

LossFn = Callable[..., Tensor]  # loss_fn(params (rows, dims), step) -> (rows,)

# Floats a chunk of sharpness_along_path may hold: Lanczos bases plus the graph
# of the loss that every Hessian-vector product goes back through.
CHUNK_ELEMENTS = 1 << 23


# -- Hessian-vector products ----------------------------------------------------


def _hvp_operator(loss_fn: LossFn, params: Tensor, step: int) -> Callable[[Tensor], Tensor]:
    """``v -> H v`` for every row, with the gradient's graph built once.

    Each product is then one backward pass through that graph (``retain_graph``):
    a Lanczos run pays for the forward pass once, where ``torch.func.jvp`` over
    ``grad`` would redo it for every product.
    """
    p = params.detach().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(loss_fn(p, step).sum(), p, create_graph=True)
    if not grad.requires_grad:  # a loss linear in the parameters: H = 0
        return lambda v: torch.zeros_like(p)

    def apply(v: Tensor) -> Tensor:
        (hv,) = torch.autograd.grad(grad, p, v, retain_graph=True, materialize_grads=True)
        return hv

    return apply


def hvp(loss_fn: LossFn, params: Tensor, v: Tensor, step: int = 0) -> Tensor:
    r"""Hessian-vector products of every run: :math:`H_i v_i` for each row ``i``.

    .. math:: H_i v_i = \nabla_\theta \big( \nabla_\theta f_i(\theta_i) \cdot v_i \big)

    computed by double backward on :math:`\sum_i f_i`. The rows must be
    independent runs (row ``i``'s loss depends on row ``i`` only), so that the
    Hessian of the sum is block diagonal.

    Args:
        loss_fn: ``loss_fn(params, step) -> (rows,)``, e.g. a problem's ``loss``.
        params: ``(rows, dims)``, the points.
        v: ``(rows, dims)``, one vector per row.
        step: passed to ``loss_fn``; it picks a problem's mini-batch.

    Returns:
        ``(rows, dims)``: :math:`H_i v_i`, in ``params``' dtype.
    """
    if v.shape != params.shape:
        raise ConfigError(f"v must have the shape of params {tuple(params.shape)}, got {tuple(v.shape)}")
    return _hvp_operator(loss_fn, params, step)(v.to(params)).detach()


# -- the top eigenvalue ----------------------------------------------------------


class TopEigen(NamedTuple):
    """The largest Hessian eigenvalue of each row, from :func:`top_eigenvalue`."""

    values: Tensor  # (rows,): NaN where the row's params are not finite
    vectors: Tensor | None  # (rows, dims) unit eigenvectors, when asked for
    converged: Tensor  # (rows,) bool: the residual test passed within ``iters``
    iters: int  # Lanczos steps taken by the slowest row


def start_vector(dims: int, seed: int = 0, dtype: torch.dtype = torch.float64) -> Tensor:
    """The seeded random unit vector every row starts from, ``(dims,)``.

    One vector serves all rows: each row has its own Hessian, so sharing costs
    nothing, and a row's result then does not depend on the batch it is in.
    """
    g = torch.Generator().manual_seed(int(seed))
    v = torch.randn(dims, generator=g, dtype=torch.float64)
    return (v / v.norm()).to(dtype)


def top_eigenvalue(
    loss_fn: LossFn,
    params: Tensor,
    *,
    step: int = 0,
    iters: int = 64,
    tol: float = 1e-5,
    seed: int = 0,
    v0: Tensor | None = None,
    return_vectors: bool = False,
) -> TopEigen:
    r"""The largest algebraic Hessian eigenvalue :math:`\lambda_{\max}` of every row.

    Lanczos with full reorthogonalization, batched over rows. Each step adds one
    Hessian-vector product to a row's Krylov basis :math:`q_1 \dots q_k`:

    .. math::
        w = H q_j,\quad \alpha_j = q_j^\top w,\quad
        w \leftarrow w - Q Q^\top w,\quad \beta_j = \|w\|,\quad q_{j+1} = w / \beta_j

    and the top eigenvalue :math:`\theta` of the tridiagonal
    :math:`T_k = \mathrm{tridiag}(\beta, \alpha, \beta)` estimates
    :math:`\lambda_{\max}` from below. With :math:`s` its eigenvector, the residual
    :math:`\|H y - \theta y\| = \beta_k |s_k|` of the Ritz vector :math:`y = Q s`
    bounds the error; a row stops when it is at most ``tol`` times
    :math:`\max_i |\theta_i|` (an estimate of :math:`\|H\|`).

    Why not power iteration: it finds the eigenvalue largest in *magnitude*,
    which near a saddle, or early in training, is often the most negative one;
    and it slows down when the top eigenvalues are close (a network trained on
    ``C`` classes has about ``C`` outliers). Lanczos gives the largest *algebraic*
    eigenvalue directly, converges in far fewer products, and its residual is a
    per-row stopping test.

    Rows that converge leave the batch; once at most half of the rows are left,
    the gradient's graph is rebuilt on those alone, so finished rows cost nothing.
    The bases take ``rows * min(iters, dims) * dims`` floats: chunk big batches
    (:func:`sharpness_along_path` does).

    Args:
        loss_fn: ``loss_fn(params, step) -> (rows,)``; rows must be independent.
        params: ``(rows, dims)``. Rows with a non-finite entry (diverged runs) give NaN.
        step: passed to ``loss_fn`` (a problem's mini-batch).
        iters: the most Lanczos steps (Hessian-vector products) per row; at most ``dims``.
        tol: the relative residual at which a row stops.
        seed: seeds :func:`start_vector`, so results are deterministic.
        v0: ``(dims,)`` or ``(rows, dims)``, a start vector to use instead, e.g.
            the previous point's eigenvector (a warm start).
        return_vectors: also return the unit eigenvectors (Ritz vectors).

    Returns:
        :class:`TopEigen` ``(values, vectors, converged, iters)``.
    """
    if params.ndim != 2:
        raise ConfigError(f"params must be (rows, dims), got shape {tuple(params.shape)}")
    if not (isinstance(iters, int) and iters >= 1):
        raise ConfigError(f"iters must be a whole number >= 1, got {iters!r}")
    if not tol >= 0:
        raise ConfigError(f"tol must be >= 0, got {tol!r}")
    params = params.detach()
    rows, dims = params.shape
    dtype, device = params.dtype, params.device
    values = torch.full((rows,), math.nan, dtype=dtype, device=device)
    vectors = torch.full((rows, dims), math.nan, dtype=dtype, device=device) if return_vectors else None
    converged = torch.zeros(rows, dtype=torch.bool, device=device)

    q = (start_vector(dims, seed, dtype) if v0 is None else v0.detach()).to(params)
    q = (q.expand(rows, dims) / q.norm(dim=-1, keepdim=True).expand(rows, 1)).clone()
    live = torch.isfinite(params).all(1) & torch.isfinite(q).all(1)
    idx = live.nonzero().squeeze(1)  # global rows still iterating
    if not len(idx):
        return TopEigen(values, vectors, converged, 0)
    q = q[idx]

    steps = min(iters, dims)
    basis = torch.zeros(len(idx), steps, dims, dtype=dtype, device=device)
    alpha = torch.zeros(len(idx), steps, dtype=dtype, device=device)
    beta = torch.zeros(len(idx), steps, dtype=dtype, device=device)
    op_rows = idx  # the rows the operator's graph was built on
    op = _hvp_operator(loss_fn, params[op_rows], step)
    at = torch.arange(len(idx), device=device)  # each live row's place in op_rows
    eps = torch.finfo(dtype).eps
    taken = 0
    for j in range(steps):
        taken = j + 1
        basis[:, j] = q
        if len(at) == len(op_rows):
            w = op(q)
        else:
            full = torch.zeros(len(op_rows), dims, dtype=dtype, device=device)
            full[at] = q
            w = op(full)[at]
        w = w.detach()
        alpha[:, j] = (w * q).sum(1)
        Q = basis[:, : j + 1]
        for _ in range(2):  # "twice is enough" (Parlett): keeps Q orthonormal in float32 too
            w = w - (Q.transpose(1, 2) @ (Q @ w.unsqueeze(2))).squeeze(2)
        b = w.norm(dim=1)
        beta[:, j] = b

        # A loss that is NaN at finite params (a log of a negative): out of the batch, as NaN.
        bad = ~(torch.isfinite(alpha[:, : j + 1]).all(1) & torch.isfinite(beta[:, : j + 1]).all(1))
        a_, b_ = alpha[:, : j + 1].masked_fill(bad[:, None], 0), beta[:, :j].masked_fill(bad[:, None], 0)
        T = torch.diag_embed(a_) + torch.diag_embed(b_, 1) + torch.diag_embed(b_, -1)
        theta, S = torch.linalg.eigh(T)
        top, s = theta[:, -1].masked_fill(bad, math.nan), S[:, :, -1]
        scale = theta.abs().amax(1).clamp_min(torch.finfo(dtype).tiny)
        ok = b * s[:, -1].abs() <= tol * scale
        # beta ~ 0: the Krylov space is invariant (all of it, on a 2-D surface); T is exact.
        ok |= b <= 10 * eps * scale
        ok |= bad
        done = ok if j + 1 < steps else torch.ones_like(ok)
        if done.any():
            rows_done = idx[done]
            values[rows_done] = top[done]
            converged[rows_done] = ok[done] & torch.isfinite(top[done])
            if return_vectors:
                y = (Q[done].transpose(1, 2) @ s[done].unsqueeze(2)).squeeze(2)
                vectors[rows_done] = y / y.norm(dim=1, keepdim=True)
        keep = ~done
        if not keep.any():
            break
        q = w[keep] / b[keep].unsqueeze(1)
        idx, at = idx[keep], at[keep]
        basis, alpha, beta = basis[keep], alpha[keep], beta[keep]
        if 2 * len(idx) <= len(op_rows):
            op_rows, at = idx, torch.arange(len(idx), device=device)
            op = _hvp_operator(loss_fn, params[op_rows], step)
    return TopEigen(values, vectors, converged, taken)


# -- exact 2-D Hessians ------------------------------------------------------------


class Hessian2D(NamedTuple):
    """Exact Hessians of 2-D points and their eigen-decomposition."""

    hessian: Tensor  # (runs, 2, 2), symmetric
    eigenvalues: Tensor  # (runs, 2), ascending: [lambda_min, lambda_max]
    eigenvectors: Tensor  # (runs, 2, 2): column k belongs to eigenvalues[:, k]


def eig_2x2(hessian: Tensor) -> tuple[Tensor, Tensor]:
    r"""Eigenvalues (ascending) and unit eigenvectors (columns) of symmetric 2×2 matrices.

    In closed form, so a NaN row stays a NaN row (``torch.linalg.eigh`` would fail):

    .. math::
        \lambda_\pm = \tfrac{a+c}2 \pm \sqrt{\big(\tfrac{a-c}2\big)^2 + b^2},\qquad
        v_+ = (\cos\phi, \sin\phi),\ \phi = \tfrac12 \operatorname{atan2}(2b,\ a-c)

    for :math:`H = \begin{pmatrix} a & b \\ b & c \end{pmatrix}`; :math:`v_-` is
    :math:`v_+` turned by 90°.

    Args:
        hessian: ``(runs, 2, 2)``.

    Returns:
        ``(eigenvalues (runs, 2), eigenvectors (runs, 2, 2))``.
    """
    a, b, c = hessian[:, 0, 0], 0.5 * (hessian[:, 0, 1] + hessian[:, 1, 0]), hessian[:, 1, 1]
    mean, radius = 0.5 * (a + c), torch.hypot(0.5 * (a - c), b)
    phi = 0.5 * torch.atan2(2 * b, a - c)
    cos, sin = torch.cos(phi), torch.sin(phi)
    values = torch.stack((mean - radius, mean + radius), 1)
    vectors = torch.stack((torch.stack((-sin, cos), 1), torch.stack((cos, sin), 1)), 2)
    return values, vectors


def hessian_2d(fn: Callable[[Tensor], Tensor], params: Tensor) -> Hessian2D:
    r"""The exact Hessian of a 2-D surface at every run's point, and its eigen-directions.

    Two backward passes through the gradient give both rows of every run's
    :math:`H = \nabla^2 f`. The eigenvectors, scaled by the eigenvalues, are the
    cross to draw at a scrubbed point: the long arm is the sharpest direction.

    Args:
        fn: ``(runs, 2) -> (runs,)``, e.g. a surface problem's ``loss`` (its
            ``step`` defaults to 0).
        params: ``(runs, 2)``.

    Returns:
        :class:`Hessian2D` ``(hessian, eigenvalues, eigenvectors)``; NaN for rows
        whose params are not finite (diverged runs).
    """
    if params.ndim != 2 or params.shape[1] != 2:
        raise ConfigError(f"hessian_2d needs (runs, 2) points, got shape {tuple(params.shape)}")
    p = params.detach().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(fn(p).sum(), p, create_graph=True)
        if grad.requires_grad:
            rows = [torch.autograd.grad(grad[:, k].sum(), p, retain_graph=True, materialize_grads=True)[0]
                    for k in range(2)]
            hessian = torch.stack(rows, 1).detach()
        else:
            hessian = torch.zeros(len(p), 2, 2, dtype=p.dtype, device=p.device)
    hessian = 0.5 * (hessian + hessian.transpose(1, 2))
    # A diverged run has no point to measure; a quadratic's constant Hessian would hide that.
    hessian = hessian.masked_fill(~torch.isfinite(params).all(1)[:, None, None], math.nan)
    return Hessian2D(hessian, *eig_2x2(hessian))


# -- stability thresholds --------------------------------------------------------


def gd_threshold(lr: Any) -> Any:
    r"""The largest sharpness at which gradient descent is stable: :math:`2/\eta`.

    On a quadratic, :math:`\theta_{t+1} - \theta^* = (1 - \eta\lambda)(\theta_t - \theta^*)`
    along each eigenvector, which shrinks iff :math:`0 < \eta\lambda < 2`
    (Cohen et al. 2021, section 2).

    Args:
        lr: :math:`\eta`: a float, or a tensor or array of per-run values.

    Returns:
        :math:`2/\eta`, shaped like ``lr``.
    """
    return 2 / lr


def heavy_ball_threshold(lr: Any, momentum: Any, *, dampening: Any = 0.0, nesterov: bool = False) -> Any:
    r"""The largest stable sharpness for torch's SGD with momentum :math:`\beta`.

    torch's ``b_t = \beta b_{t-1} + (1-\tau) g_t,\ \theta_t = \theta_{t-1} - \eta b_t``
    is Polyak's heavy ball with step :math:`\eta(1-\tau)`. On a quadratic its
    characteristic polynomial :math:`z^2 - (1 + \beta - \eta'\lambda) z + \beta`
    has both roots inside the unit circle iff :math:`0 < \eta'\lambda < 2(1+\beta)`
    (Polyak 1964; Goh 2017, "Why Momentum Really Works", Distill). For Nesterov
    (``\theta_t = \theta_{t-1} - \eta(g_t + \beta b_t)``; torch requires
    :math:`\tau = 0`) the same test, the Jury criterion, on
    :math:`z^2 - (1 + \beta - \eta\lambda(1+\beta)) z + \beta(1 - \eta\lambda)` gives
    :math:`\eta\lambda < 2(1+\beta)/(1+2\beta)`.

    Args:
        lr: :math:`\eta`; momentum: :math:`\beta`; dampening: :math:`\tau`. Floats
            or per-run tensors or arrays.
        nesterov: torch's ``nesterov`` flag.

    Returns:
        The threshold on :math:`\lambda_{\max}`, :math:`2(1+\beta)/(\eta(1-\tau))`
        (heavy ball) or :math:`2(1+\beta)/((1+2\beta)\eta)` (Nesterov).
    """
    if nesterov:
        return 2 * (1 + momentum) / ((1 + 2 * momentum) * lr)
    return 2 * (1 + momentum) / (lr * (1 - dampening))


def adam_threshold(lr: Any, beta1: Any = 0.9) -> Any:
    r"""The largest stable *preconditioned* sharpness for Adam: :math:`\frac{2 + 2\beta_1}{(1-\beta_1)\eta}`.

    Adam is stable on a quadratic when :math:`\lambda_{\max}(P^{-1} H) <
    (2 + 2\beta_1)/((1-\beta_1)\eta)`, with :math:`P = \operatorname{diag}(\sqrt{\hat v_t}) + \epsilon`
    its preconditioner: :math:`38/\eta` for :math:`\beta_1 = 0.9`. Cohen et al.
    2022, "Adaptive Gradient Methods at the Edge of Stability" (arXiv:2207.14484),
    find this preconditioned sharpness rises to the threshold and hovers there.
    It is *not* a threshold on :math:`\lambda_{\max}(H)`.

    Args:
        lr: :math:`\eta`; beta1: :math:`\beta_1`. Floats or per-run tensors or arrays.

    Returns:
        The threshold, shaped like ``lr``.
    """
    return (2 + 2 * beta1) / ((1 - beta1) * lr)


class Stability(NamedTuple):
    """Per-run local stability at a point of a surface."""

    sharpness: Tensor  # (runs,) lambda_max of the exact Hessian
    threshold: Tensor  # (runs,) the largest stable lambda_max for that run's step size
    stable: Tensor  # (runs,) bool: sharpness < threshold (False where NaN)


def surface_stability(
    fn: Callable[[Tensor], Tensor],
    params: Tensor,
    lr: Any,
    *,
    momentum: Any = 0.0,
    dampening: Any = 0.0,
    nesterov: bool = False,
) -> Stability:
    r"""Pass or fail per run: is SGD (with momentum) locally stable at this point?

    The test is :math:`\eta\lambda_{\max} < 2` for GD and
    :math:`\eta\lambda_{\max} < 2(1+\beta)` for heavy ball (see
    :func:`heavy_ball_threshold`), with :math:`\lambda_{\max}` from the exact
    Hessian. It is about the oscillating instability along the sharpest
    direction; a negative eigenvalue (a saddle) is escaped by any step size and
    does not fail the test.

    Args:
        fn: ``(runs, 2) -> (runs,)``, the surface.
        params: ``(runs, 2)``, each run's point (e.g. at the scrubbed step).
        lr: each run's learning rate at that step: a float or ``(runs,)``.
        momentum, dampening, nesterov: torch's SGD hyperparameters, floats or ``(runs,)``.

    Returns:
        :class:`Stability` ``(sharpness, threshold, stable)``.
    """
    sharpness = hessian_2d(fn, params).eigenvalues[:, 1]
    def as_tensor(x):
        return torch.as_tensor(x, dtype=sharpness.dtype, device=sharpness.device).reshape(-1)
    lr, momentum, dampening = as_tensor(lr), as_tensor(momentum), as_tensor(dampening)
    if (lr <= 0).any():
        raise ConfigError("learning rates must be > 0 for a stability threshold")
    threshold = heavy_ball_threshold(lr, momentum, dampening=dampening, nesterov=nesterov)
    threshold = threshold.expand_as(sharpness)
    return Stability(sharpness, threshold, sharpness < threshold)


# -- along a path ------------------------------------------------------------------


class SharpnessPath(NamedTuple):
    """:math:`\\lambda_{\\max}` at kept points of every run."""

    values: Tensor  # (K, runs): NaN where the run had diverged
    converged: Tensor  # (K, runs) bool


def _rows_per_chunk(problem: Any, dims: int, iters: int) -> int:
    # A model's graph holds activations for every training sample (ModelProblem's
    # n_train and width); a surface's is a handful of scalars.
    graph = getattr(problem, "n_train", 1) * getattr(problem, "width", 1) * 4 * max(1, len(problem.layout))
    return max(1, CHUNK_ELEMENTS // (dims * (min(iters, dims) + 4) + graph))


def sharpness_along_path(
    problem: Any,
    path_params: Tensor | np.ndarray,
    steps: Tensor | np.ndarray | list[int],
    *,
    loss: LossFn | None = None,
    batch_step: int | None = None,
    iters: int = 64,
    tol: float = 1e-4,
    seed: int = 0,
    chunk: int | None = None,
    device: str | torch.device = "cpu",
) -> SharpnessPath:
    r""":math:`\lambda_{\max}` of every run at ``K`` kept points of its path.

    The ``K * runs`` points are one batch of independent rows (split into chunks
    of at most ``chunk`` rows to bound memory), where the loss does not depend on
    the step: a full-batch problem (``problem.full_batch`` true), or when
    ``batch_step`` is given. Otherwise each kept point is measured on the
    mini-batch of its own step (``loss(params, steps[k])``), one batch of
    ``runs`` rows per point. For mini-batch training the usual sharpness is that
    of the full training loss: pass it as ``loss``.

    Args:
        problem: has ``loss(params, step) -> (rows,)`` and ``layout`` (the engine's
            ``Problem``).
        path_params: ``(K, runs, dims)``, e.g. ``result.arrays["params"][kept]``.
        steps: ``(K,)``, the step of each kept point.
        loss: the loss to take the Hessian of, instead of ``problem.loss``.
        batch_step: measure every point on this step's batch.
        iters, tol, seed: see :func:`top_eigenvalue`.
        chunk: rows per batch; by default sized from ``CHUNK_ELEMENTS``.
        device: where to compute.

    Returns:
        :class:`SharpnessPath` ``(values (K, runs), converged (K, runs))``.
    """
    path = torch.as_tensor(np.asarray(path_params) if not isinstance(path_params, Tensor) else path_params,
                           device=device)
    if path.ndim != 3:
        raise ConfigError(f"path_params must be (points, runs, dims), got shape {tuple(path.shape)}")
    K, runs, dims = path.shape
    steps = [int(s) for s in np.asarray(steps).reshape(-1)]
    if len(steps) != K:
        raise ConfigError(f"steps must have one entry per kept point ({K}), got {len(steps)}")
    loss_fn = loss if loss is not None else problem.loss
    chunk = chunk or _rows_per_chunk(problem, dims, iters)
    v0 = start_vector(dims, seed, path.dtype).to(device)
    values = torch.full((K, runs), math.nan, dtype=path.dtype, device=device)
    converged = torch.zeros(K, runs, dtype=torch.bool, device=device)

    shared = batch_step
    if shared is None and getattr(problem, "full_batch", False):
        shared = steps[0]  # every step sees the whole training set
    if shared is not None:
        groups = [(shared, torch.arange(K * runs, device=device))]
    else:
        groups = [(s, torch.arange(k * runs, (k + 1) * runs, device=device)) for k, s in enumerate(steps)]
    flat_values, flat_converged, flat = values.view(-1), converged.view(-1), path.reshape(K * runs, dims)
    for step, rows in groups:
        for i in range(0, len(rows), chunk):
            r = rows[i : i + chunk]
            out = top_eigenvalue(loss_fn, flat[r], step=step, iters=iters, tol=tol, v0=v0)
            flat_values[r], flat_converged[r] = out.values, out.converged
    return SharpnessPath(values, converged)


# -- on a surface, along every path -------------------------------------------------


def surface_hessians(fn: Callable[..., Tensor], path_params: np.ndarray) -> Hessian2D:
    """The exact Hessian at every point of every run: ``hessian (points, runs, 2, 2)``,
    ``eigenvalues (points, runs, 2)``, ...; all ``points * runs`` points are one batch of
    :func:`hessian_2d`, NaN where a run had diverged."""
    points, runs, dims = path_params.shape
    flat = torch.as_tensor(np.asarray(path_params, dtype=np.float64)).reshape(points * runs, dims)
    out = hessian_2d(fn, flat)
    return Hessian2D(*(x.reshape(points, runs, *x.shape[1:]) for x in out))


def adam_sharpness(hessian: Tensor, exp_avg_sq: np.ndarray, beta2: float, eps: float) -> np.ndarray:
    r"""Adam's preconditioned sharpness :math:`\lambda_{\max}(P_t^{-1} H_t)` of one run at each update,
    with :math:`P_t = \operatorname{diag}(\sqrt{\hat v_t}) + \epsilon` from the recorded ``exp_avg_sq``
    (Cohen et al. 2022): what :func:`adam_threshold`'s ``38/η`` bounds.

    Args:
        hessian: ``(points, 2, 2)``, the run's exact Hessians; exp_avg_sq: ``(steps, 2)``.

    Returns:
        ``(steps,)``.
    """
    steps = len(exp_avg_sq)
    t = np.arange(1, steps + 1)[:, None]
    p = np.sqrt(exp_avg_sq / (1 - beta2**t)) + eps
    scale = torch.as_tensor(1 / np.sqrt(p), dtype=hessian.dtype)
    h = hessian[:steps] * scale[:, :, None] * scale[:, None, :]  # P^{-1/2} H P^{-1/2}: same eigenvalues
    return eig_2x2(h)[0][:, 1].numpy()


def stability_line(optimizer: str, hp: dict[str, Any], lr: np.ndarray) -> tuple[np.ndarray, str] | None:
    """The largest stable :math:`\\lambda_{\\max}` at each step's ``lr`` for a run, and its name,
    where a classical result gives one: ``2/η`` (SGD), ``2(1+β)/η`` (heavy ball), the Nesterov
    bound; None otherwise. Adam's ``38/η`` bounds the *preconditioned* sharpness, so it is not
    drawn against :math:`\\lambda_{\\max}(H)` but against :func:`adam_sharpness` (see :func:`adam_threshold`)."""
    if optimizer in ("Adam", "AdamW") and not hp.get("amsgrad"):
        return adam_threshold(lr, hp["betas"][0]), "(2+2β₁)/((1−β₁)η)"
    if optimizer != "SGD" or hp.get("weight_decay"):
        return None
    with np.errstate(divide="ignore"):
        momentum = float(hp.get("momentum", 0.0))
        if not momentum:
            return gd_threshold(lr), "2/η"
        line = heavy_ball_threshold(lr, momentum, dampening=float(hp.get("dampening", 0.0)),
                                    nesterov=bool(hp.get("nesterov")))
    return line, "2(1+β)/((1+2β)η)" if hp.get("nesterov") else "2(1+β)/η"


class PathCurvature(NamedTuple):
    """What the curvature panel shows for runs on a surface."""

    sharpness: np.ndarray  # (points, runs): lambda_max(H), or Adam's lambda_max(P^-1 H) (NaN at the last point)
    measure: list[str]  # per run: which sharpness
    lines: list[tuple[np.ndarray, str] | None]  # per run: the stable limit at each step, and its formula


def path_curvature(fn: Callable[..., Tensor], arrays: dict[str, np.ndarray],
                   resolved: list[dict[str, Any]]) -> PathCurvature:
    """Sharpness along every run's recorded path and each run's stability line.

    ``arrays`` as the engine records them (``params``, ``lr``; ``state/exp_avg_sq`` for
    Adam's preconditioner); ``resolved`` is each run's resolved config.
    """
    hess = surface_hessians(fn, arrays["params"])
    sharp = hess.eigenvalues[..., 1].numpy().copy()
    measure, lines = [], []
    for r, res in enumerate(resolved):
        name, hp = res["optimizer"], res["hparams"]
        line = stability_line(name, hp, arrays["lr"][:, r])
        if line is not None and name in ("Adam", "AdamW") and "state/exp_avg_sq" in arrays:
            sharp[:, r] = np.nan
            steps = len(arrays["lr"])
            sharp[:steps, r] = adam_sharpness(hess.hessian[:, r], arrays["state/exp_avg_sq"][:, r], hp["betas"][1],
                                              hp["eps"])
            measure.append("λ_max(P⁻¹H)")
        else:
            measure.append("λ_max(H)")
            if name in ("Adam", "AdamW"):
                line = None
        lines.append(line)
    return PathCurvature(sharp, measure, lines)


def stability_rows(pc: PathCurvature, labels: list[str], step: int) -> list[dict[str, Any]]:
    """Per run at point ``step``: its sharpness, the stable limit, and pass or fail
    (sharpness below the limit); "—" where a run has no classical limit or no value."""
    rows = []
    for r, label in enumerate(labels):
        s = float(pc.sharpness[min(step, len(pc.sharpness) - 1), r])
        line = pc.lines[r]
        limit = float(line[0][min(step, len(line[0]) - 1)]) if line is not None and len(line[0]) else math.nan
        ok = "—" if not (math.isfinite(s) and math.isfinite(limit)) else ("pass" if s < limit else "fail")
        rows.append({"run": label, "stable": ok, "sharpness": pc.measure[r], "value": s, "stable below": limit,
                     "rule": line[1] if line is not None else "—"})
    return rows


# -- along a model's path -------------------------------------------------------------

# Points of each run at which the Datasets page measures lambda_max: enough to see it rise
# to 2/lr and hover, few enough to take a few seconds (each is a Lanczos run of <= 64 products).
MODEL_POINTS = 32


def training_loss(problem: Any) -> LossFn:
    """A model problem's loss on its whole training set, whatever its batches: the sharpness
    of mini-batch training is usually that of the full training loss (Cohen et al. 2021)."""
    if getattr(problem, "full_batch", True):
        return problem.loss

    def loss(params: Tensor, step: int = 0) -> Tensor:
        x, y = problem.tensors(params.dtype, params.device)[:2]
        return problem.loss_spec.batched(problem.forward(params, x), y, problem.loss_params)

    return loss


# Floats of optimizer state one chunk of a replay may hold (see second_moments).
REPLAY_ELEMENTS = 1 << 22


def second_moments(problem: Any, configs: Sequence[Any], steps: int, updates: Sequence[int], *,
                   dtype: str = "float32") -> np.ndarray:
    """Each run's Adam second moment ``exp_avg_sq`` after the given updates (0-based),
    ``(len(updates), runs, dims)``, NaN for a run without one.

    A model's inside view keeps norms, not every weight's state; the preconditioner at a few
    points is got by replaying the batch (the same runs, so the same path, bit for bit) in
    chunks whose state is dropped once the wanted updates are copied out: memory of a few
    points, not of every step. The server's other limits apply as to the first computation.
    """
    from .engine import Stepper  # the engine does not import this module; the other way round it would

    dims = sum(math.prod(s) for s in problem.layout)
    runs = len(configs)
    chunk = max(1, REPLAY_ELEMENTS // (runs * dims * 3))
    where = {int(u): i for i, u in enumerate(updates)}
    out = np.full((len(updates), runs, dims), np.nan)
    limits = dataclasses.replace(config.limits(), max_memory=math.inf)  # bounded by the chunks instead
    stepper = Stepper(problem, list(configs), steps=steps, chunk=chunk, record=("state",), dtype=dtype, limits=limits)
    for c in stepper.chunks():
        v = c.arrays.get("state/exp_avg_sq")
        if v is None:
            return out
        for t in range(c.start, c.start + len(v)):
            if t in where:
                out[where[t]] = v[t - c.start]
    return out


def preconditioned_sharpness(loss: LossFn, params: Tensor, second: Tensor, t: Sequence[int], beta2: float,
                             eps: float, *, tol: float = 1e-3) -> Tensor:
    r"""Adam's :math:`\lambda_{\max}(P^{-1} H)` at each row, :math:`P = \operatorname{diag}(\sqrt{\hat v}) + \epsilon`
    with :math:`\hat v = v / (1 - \beta_2^t)` (Cohen et al. 2022): what :func:`adam_threshold`'s 38/η bounds.

    :math:`P^{-1}H` has the eigenvalues of :math:`S H S`, :math:`S = P^{-1/2}`, which is the Hessian
    of :math:`u \mapsto f(S u)`: Lanczos runs on that, one row at a time (each row its own S).

    Args:
        loss: ``(rows, dims) -> (rows,)``; params: ``(rows, dims)``; second: ``(rows, dims)``, v
        after update ``t[i] - 1`` (torch's step count ``t``); beta2, eps: the run's.
    """
    out = torch.full((len(params),), math.nan, dtype=params.dtype)
    for i, (theta, v, step) in enumerate(zip(params, second, t)):
        p = (v / (1 - beta2 ** int(step))).sqrt() + eps
        scale = p.rsqrt()
        if not (torch.isfinite(theta).all() and torch.isfinite(scale).all()):
            continue
        scaled = top_eigenvalue(lambda u, step=0, s=scale: loss(u * s, step), (theta / scale)[None], tol=tol)
        out[i] = scaled.values[0]
    return out


class ModelCurvature(NamedTuple):
    """What the curvature panel shows for runs on a model."""

    steps: np.ndarray  # (K,): the points measured
    sharpness: np.ndarray  # (K, runs): lambda_max(H) of the training loss, or Adam's lambda_max(P^-1 H); NaN where
    # a run had diverged (and Adam's at the last point: no update is made from it)
    measure: list[str]  # per run: which sharpness
    lines: list[tuple[np.ndarray, str] | None]  # per run: its stable limit at each measured step, and its formula


def model_curvature(problem: Any, result: Any, *, points: int = MODEL_POINTS, tol: float = 1e-3) -> ModelCurvature:
    """λ_max of the training loss's Hessian at up to ``points`` of each run's kept points, by
    Lanczos on batched Hessian-vector products (:func:`sharpness_along_path`), and each run's
    stability line at those steps (:func:`stability_line`: 2/η, 2(1+β)/η, ...).

    For Adam and AdamW (without AMSGrad) the sharpness drawn is the preconditioned one,
    :math:`\\lambda_{\\max}(P^{-1}H)` (:func:`preconditioned_sharpness`), which their 38/η
    bounds; its v̂ comes from a replay of the batch (:func:`second_moments`).

    Args:
        problem: the built model problem; result: the engine's :class:`~optviz.engine.Result`
            of its runs (``params`` and ``lr`` recorded).
    """
    arrays, resolved = result.arrays, result.resolved
    kept = np.asarray(result.params_steps)
    pick = np.unique(np.linspace(0, len(kept) - 1, min(points, len(kept))).round().astype(int))
    steps = kept[pick]
    params = np.asarray(arrays["params"])[pick]
    path = torch.as_tensor(params)  # the run's dtype: float32 takes half the time of float64
    loss = training_loss(problem)
    sharp = sharpness_along_path(problem, path, steps, loss=loss, batch_step=0, tol=tol).values.numpy().copy()
    lr = arrays["lr"]
    at = np.minimum(steps, len(lr) - 1)
    lines = [stability_line(res["optimizer"], res["hparams"], lr[at, r]) for r, res in enumerate(resolved)]
    adam = [r for r, res in enumerate(resolved) if res["optimizer"] in ("Adam", "AdamW") and lines[r] is not None]
    measure = ["λ_max(P⁻¹H)" if r in adam else "λ_max(H)" for r in range(len(resolved))]
    if adam:
        inner = steps < result.steps  # the last point makes no update: it has no preconditioner
        v = second_moments(problem, result.configs, result.steps, steps[inner], dtype=result.dtype)
        for r in adam:
            hp = resolved[r]["hparams"]
            sharp[:, r] = np.nan
            sharp[inner, r] = preconditioned_sharpness(loss, path[inner, r], torch.as_tensor(v[:, r]).to(path),
                                                       steps[inner] + 1, hp["betas"][1], hp["eps"], tol=tol).numpy()
    return ModelCurvature(steps, sharp, measure, lines)

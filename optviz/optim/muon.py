"""Muon, as ``torch.optim.Muon``: momentum, then each matrix orthogonalized.

Only defined for 2-D parameters (torch's constructor refuses anything else, and
``OptimizerSpec.validate`` passes its message on). The Newton–Schulz iteration
runs for all runs at once with batched matmuls, in bfloat16 like torch.

Batched ``bmm``/``baddbmm`` do not round like torch's per-matrix ``mm``/``addmm``
on CPU. For small bf16 matrices (``m*n*k <= 4096``; above that, on a CPU with
oneDNN bf16 support, both go to oneDNN and agree) torch's products are plain
loops: fp32 sums of exact bf16 products (in order, or in 4 interleaved partial
sums, depending on the operands' layout) and an epilogue
``fma(beta, C, alpha*dot)`` rounded once. ``baddbmm``'s batched kernel rounds
``beta*C`` on its own, and for large batches hands ``bmm`` to oneDNN, so now
and then a bf16 ulp flips (in the 3x4 truth test first at step 171) and the
paths part (1e-2 in the parameters by step 300). ``_gram``/``_addmm`` replay
torch's loops with batched elementwise ops. Measured against torch's
per-matrix Newton–Schulz (1000-3000 random matrices per shape): bit-exact on
3x4, 2x5, 6x6, 8x8, 10x10, 10x6, 12x5, 32x8, 16x32 and 32x64 (plain
``bmm``/``baddbmm``: up to 1% of matrices off, 2e-2 relative Frobenius error);
at 16x16 and 8x32, 0.1-0.4% still differ (4e-3 to 1e-2 relative), from Gram
products whose 16+ long dot torch vectorizes. Off CPU this is plain
``bmm``/``baddbmm`` (unverified against torch there).
"""

from __future__ import annotations

import math

import torch

from .base import OptimizerSpec, add_, torch_hparams, views


def init(params, hp):
    return {"momentum_buffer": torch.zeros_like(params)}


# torch's CPU addmm hands bf16 products up to this size to its own loops, not oneDNN.
_NATIVE_GEMM_MAX = 16 * 16 * 16
# Its vectorized fp32 dot (16 lanes on AVX512) sums shorter vectors in order.
_SEQUENTIAL_DOT_MAX = 15


def _fp32(x: float) -> float:
    return torch.tensor(x, dtype=torch.float32).item()


def _native(a, b) -> bool:
    """Whether torch's per-matrix CPU product ``a @ b`` runs its own loops."""
    m, k = a.shape[-2:]
    return a.device.type == "cpu" and m * k * b.shape[-1] <= _NATIVE_GEMM_MAX


def _dot(a, b, interleaved):
    """fp32 ``a @ b`` of bf16 batches, summed as torch's loops sum: in order, or
    (cpublas's ``sum()``) in 4 interleaved partial sums with the tail in the first."""
    a, b = a.float(), b.float()
    k = a.shape[-1]
    lanes, whole = [0.0] * 4, k - k % 4
    for i in range(k):
        lane = i % 4 if interleaved and i < whole else 0
        lanes[lane] = lanes[lane] + a[..., :, i, None] * b[..., None, i, :]  # bf16 products are exact in fp32
    return lanes[0] + lanes[1] + lanes[2] + lanes[3]


def _gram(x):
    """``x @ x.mT`` in bf16, rounded as torch's per-matrix ``mm`` rounds it."""
    if not _native(x, x.mT) or x.shape[-1] > _SEQUENTIAL_DOT_MAX:
        return torch.bmm(x, x.mT)
    return _dot(x, x.mT, interleaved=False).bfloat16()


def _addmm(c, a, b, beta, alpha, transposed_b=False):
    """``torch.baddbmm(c, a, b, beta=beta, alpha=alpha)`` in bf16, rounded as
    torch's per-matrix ``addmm`` rounds each matrix: plain rows of ``b`` take
    the interleaved sum, a transposed view of ``b`` the vectorized dot."""
    if not _native(a, b) or (transposed_b and a.shape[-1] > _SEQUENTIAL_DOT_MAX):
        return torch.baddbmm(c, a, b, beta=beta, alpha=alpha)
    dot = _dot(a, b, interleaved=not transposed_b)
    if beta == 0:  # torch then ignores c, NaNs included
        return (dot * _fp32(alpha)).bfloat16()
    # fma(beta, c, alpha * dot): beta * c is exact in float64, the sum rounds once to fp32 there.
    return (c.double() * _fp32(beta) + (dot * _fp32(alpha)).double()).float().bfloat16()


def _zeropower_via_newtonschulz(grad, ns_coefficients, ns_steps, eps):
    """torch's ``_zeropower_via_newtonschulz`` on a ``(runs, m, n)`` batch."""
    if ns_steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    a, b, c = ns_coefficients
    ortho = grad.bfloat16()
    tall = grad.size(-2) > grad.size(-1)
    if tall:
        ortho = ortho.mT
    ortho.div_(ortho.norm(dim=(-2, -1), keepdim=True).clamp(min=eps))
    for i in range(ns_steps):
        gram = _gram(ortho)
        gram_update = _addmm(gram, gram, gram, b, c)
        # A tall matrix starts as a transposed view, which torch multiplies by another loop.
        ortho = _addmm(ortho, gram_update, ortho, a, 1.0, transposed_b=tall and i == 0)
    return ortho.mT if tall else ortho


def _adjust_ratio(adjust_lr_fn, shape):
    rows, cols = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return math.sqrt(max(1, rows / cols))
    if adjust_lr_fn == "match_rms_adamw":
        return 0.2 * math.sqrt(max(rows, cols))
    return 1.0


def update(params, grads, state, hp, step, ctx):
    lr, momentum = hp["lr"], hp["momentum"]
    buf = state["momentum_buffer"]
    buf.lerp_(grads, 1 - momentum)
    upd = grads.lerp(buf, momentum) if hp["nesterov"] else buf
    flat = tuple((math.prod(s),) for s in ctx.layout)
    for shape, param, u in zip(ctx.layout, views(params, flat), views(upd, ctx.layout)):
        ortho = _zeropower_via_newtonschulz(u, hp["ns_coefficients"], hp["ns_steps"], hp["eps"])
        param.mul_(1 - lr * hp["weight_decay"])
        add_(param, ortho.flatten(1).to(param.dtype), -(lr * _adjust_ratio(hp["adjust_lr_fn"], shape)))


SPEC = OptimizerSpec(
    name="Muon",
    torch_cls=torch.optim.Muon,
    init=init,
    update=update,
    hparams=torch_hparams(
        torch.optim.Muon,
        lr=dict(low=1e-4, high=1.0, log=True, help="learning rate"),
        weight_decay=dict(low=0.0, high=1.0, help="decoupled weight decay"),
        momentum=dict(low=0.0, high=0.999, help="momentum factor"),
        nesterov=dict(help="Nesterov momentum"),
        # Fused into bf16 addmm as Python numbers; a per-run tensor cannot be.
        ns_coefficients=dict(per_run=False, help="(a, b, c) of the quintic Newton–Schulz polynomial"),
        eps=dict(low=1e-12, high=1e-3, log=True, per_run=False, help="floor on the norm before Newton–Schulz"),
        ns_steps=dict(low=1, high=10, help="Newton–Schulz iterations"),
        adjust_lr_fn=dict(
            choices=(None, "original", "match_rms_adamw"),
            help="per-shape LR scale: sqrt(max(1, A/B)) (original) or 0.2 sqrt(max(A, B))",
        ),
    ),
    summary="Momentum orthogonalized by Newton–Schulz: every matrix steps along its nearest semi-orthogonal direction.",
    rule=r"""
\begin{aligned}
B_t &\leftarrow \mu B_{t-1} + (1-\mu)\, g_t,\qquad \tilde B_t = \text{nesterov}\ ?\ (1-\mu)\, g_t + \mu B_t : B_t \\
O_t &\leftarrow \mathrm{NS}^{(a,b,c)}_k\big(\tilde B_t / \lVert \tilde B_t\rVert_F\big) \approx U V^\top \\
\theta_t &\leftarrow (1-\gamma\lambda)\,\theta_{t-1} - \gamma\,s(A, B)\, O_t
\end{aligned}""",
    state_keys=("momentum_buffer",),
    elementwise=False,
    ui_defaults={"lr": 2e-2},
)

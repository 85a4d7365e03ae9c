"""Adafactor, as ``torch.optim.Adafactor``.

Not elementwise: the step size scales with each parameter tensor's RMS, the
update is clipped by its own RMS, and a matrix keeps only row and column
second moments. So the flat ``(runs, dims)`` batch is split by ``ctx.layout``
and every norm is taken per run and per tensor.
"""

from __future__ import annotations

import math

import torch

from .base import OptimizerSpec, add_, mul_, smax, smin, torch_hparams, views


def init(params, hp):
    # The per-coordinate second-moment estimate, for every tensor: the state of
    # a vector, and rebuilt from the row/column factors for a matrix each step.
    return {"variance": torch.zeros_like(params)}


def _rms(x, n):
    """Per-run ``x.norm(2) / sqrt(numel)`` of a flat ``(runs, n)`` slice, as torch
    divides ``.item()`` (a Python float) by ``numel ** 0.5``."""
    return torch.linalg.vector_norm(x, dim=1, keepdim=True).double() / (n**0.5)


def update(params, grads, state, hp, step, ctx):
    lr, d, weight_decay = hp["lr"], hp["d"], hp["weight_decay"]
    eps1, eps2 = hp["eps"]
    if eps1 is None:
        eps1 = torch.finfo(params.dtype).eps
    layout = ctx.layout
    if "row_var" not in state:
        # Factors need the layout, which init does not see.
        shapes = [s if len(s) > 1 else None for s in layout]
        zeros = params.new_zeros
        state["row_var"] = [None if s is None else zeros((len(params), *s[:-1], 1)) for s in shapes]
        state["col_var"] = [None if s is None else zeros((len(params), *s[:-2], 1, s[-1])) for s in shapes]

    one_minus_beta2_t = float(step) ** hp["beta2_decay"]
    rho_t = smin(lr, 1 / (float(step) ** 0.5))
    if hp["maximize"]:
        grads = -grads
    flat = tuple((math.prod(s),) for s in layout)
    pieces = zip(layout, views(params, flat), views(grads, flat), views(grads, layout), views(state["variance"], flat))
    for i, (shape, param, grad, g, variance) in enumerate(pieces):
        n = param.shape[1]
        alpha = smax(eps2, _rms(param, n)) * rho_t
        if isinstance(weight_decay, torch.Tensor) or weight_decay != 0:
            mul_(param, 1 - lr * weight_decay)
        if len(shape) > 1:
            row_var, col_var = state["row_var"][i], state["col_var"][i]
            row_var.lerp_(torch.norm(g, dim=-1, keepdim=True).square_().div_(g.size(-1)), one_minus_beta2_t)
            col_var.lerp_(torch.norm(g, dim=-2, keepdim=True).square_().div_(g.size(-2)), one_minus_beta2_t)
            var_estimate = row_var * col_var  # torch's row_var @ col_var: one product per entry
            var_estimate.div_(row_var.mean(dim=-2, keepdim=True).clamp_(min=eps1))
            variance.copy_(var_estimate.flatten(1))
            var_estimate = var_estimate.flatten(1)
        else:
            variance.lerp_(grad * grad, one_minus_beta2_t)
            var_estimate = variance.clone()
        upd = var_estimate.clamp_(min=eps1 * eps1).rsqrt_()
        upd.mul_(grad)
        denom = smax(1.0, torch.linalg.vector_norm(upd, dim=1, keepdim=True).double() / ((n**0.5) * d))
        add_(param, upd, -alpha / denom)


SPEC = OptimizerSpec(
    name="Adafactor",
    torch_cls=torch.optim.Adafactor,
    init=init,
    update=update,
    hparams=torch_hparams(
        torch.optim.Adafactor,
        lr=dict(low=1e-4, high=1.0, log=True, help="cap on the relative step size rho_t = min(lr, 1/sqrt(t))"),
        # torch computes t ** beta2_decay in Python; a per-run tensor pow can differ in the last bit.
        beta2_decay=dict(low=-1.0, high=0.0, per_run=False, help="second-moment decay: beta2_t = 1 - t^beta2_decay"),
        # eps1 may be None (dtype epsilon), which a per-run tensor cannot hold.
        eps=dict(per_run=False,
                 help="(eps1 floor on the second moment or None for the dtype's, eps2 floor on param RMS)"),
        d=dict(low=1.0, high=10.0, help="clipping threshold on the update's RMS"),
        weight_decay=dict(low=0.0, high=1.0, help="decoupled weight decay"),
        maximize=dict(help="ascend instead of descend"),
    ),
    summary="Memory-light Adam relative: factored second moments, steps relative to the parameter's RMS.",
    rule=r"""
\begin{aligned}
\hat\beta_{2,t} &= 1 - t^{\tau},\quad \rho_t = \min(\gamma, 1/\sqrt t),\quad
\alpha_t = \max(\epsilon_2, \mathrm{RMS}(\theta_{t-1}))\,\rho_t \\
V_t &\leftarrow \hat\beta_{2,t} V_{t-1} + (1-\hat\beta_{2,t})\, g_t^2
 \quad(\text{matrices: row and column means only}) \\
U_t &= g_t / \sqrt{\max(V_t, \epsilon_1^2)},\qquad
\theta_t \leftarrow \theta_{t-1} - \frac{\alpha_t}{\max(1, \mathrm{RMS}(U_t)/d)}\, U_t
\end{aligned}""",
    state_keys=("variance",),
    elementwise=False,
    ui_defaults={"lr": 1e-2},
)

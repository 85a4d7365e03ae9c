"""SGD with momentum, dampening and Nesterov, as ``torch.optim.SGD``."""

from __future__ import annotations

import torch

from .base import OptimizerSpec, add_, decayed_grad, torch_hparams, where_


def init(params, hp):
    return {"momentum_buffer": torch.zeros_like(params)}


def update(params, grads, state, hp, step, ctx):
    grad = decayed_grad(grads, params, hp)
    momentum, lr = hp["momentum"], hp["lr"]
    direction = grad
    if isinstance(momentum, torch.Tensor) or momentum != 0:
        buf = state["momentum_buffer"]
        if step == 1:
            # torch starts the buffer at the first gradient, not at zero.
            buf.copy_(grad)
        else:
            add_(buf.mul_(momentum), grad, 1 - hp["dampening"])
        direction = add_(grad.clone(), buf, momentum) if hp["nesterov"] else buf
    # torch skips the buffer, dampening and all, for a run whose momentum is 0.
    where_(params, momentum != 0, lambda p: add_(p, direction, -lr), lambda p: add_(p, grad, -lr))


SPEC = OptimizerSpec(
    name="SGD",
    torch_cls=torch.optim.SGD,
    init=init,
    update=update,
    hparams=torch_hparams(
        torch.optim.SGD,
        momentum=dict(low=0.0, high=0.999, help="momentum factor (0 = plain SGD)"),
        dampening=dict(low=0.0, high=1.0, help="dampening for momentum"),
        nesterov=dict(help="Nesterov momentum (needs momentum > 0, dampening 0)"),
    ),
    summary="Stochastic gradient descent, optionally with (Nesterov) momentum.",
    rule=r"""
\begin{aligned}
g_t &\leftarrow \nabla f(\theta_{t-1}) + \lambda\,\theta_{t-1} \\
b_t &\leftarrow \mu\, b_{t-1} + (1-\tau)\, g_t \\
\theta_t &\leftarrow \theta_{t-1} - \gamma\,(\text{nesterov}\ ?\ g_t + \mu b_t : b_t)
\end{aligned}""",
    state_keys=("momentum_buffer",),
    variants=(
        {},
        {"momentum": 0.9},
        {"momentum": 0.9, "dampening": 0.5},
        {"momentum": 0.9, "nesterov": True},
        {"momentum": 0.8, "weight_decay": 0.1},
        {"maximize": True, "momentum": 0.5, "lr": 1e-6},
    ),
    test_lr=1e-3,
    ui_defaults={"lr": 1e-3},
)

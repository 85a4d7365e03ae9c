"""SGD with momentum, dampening and Nesterov, and averaged SGD, as
``torch.optim.SGD`` / ``torch.optim.ASGD``."""

from __future__ import annotations

import torch

from .base import (
    OptimizerSpec,
    add_,
    decayed_grad,
    fill_,
    mul_,
    scalar_state,
    sdiv,
    smax,
    spow,
    torch_hparams,
    where_,
)


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
            add_(mul_(buf, momentum), grad, 1 - hp["dampening"])
        direction = add_(grad.clone(), buf, momentum) if hp["nesterov"] else buf
    # torch skips the buffer, dampening and all, for a run whose momentum is 0.
    where_(params, momentum != 0, lambda p: add_(p, direction, -lr), lambda p: add_(p, grad, -lr))


def asgd_init(params, hp):
    eta, mu = scalar_state(params, hp["lr"]), scalar_state(params, 1.0)
    return {"ax": torch.zeros_like(params), "eta": eta, "mu": mu}


def asgd_update(params, grads, state, hp, step, ctx):
    lr, lambd = hp["lr"], hp["lambd"]
    grad = decayed_grad(grads, params, hp)
    ax, eta, mu = state["ax"], state["eta"], state["mu"]
    if step == 1:
        fill_(eta, lr)  # torch makes its state at the first step, with that step's lr
    eta_value = eta.double()  # a float32 tensor in torch, read as a Python float
    mul_(params, 1 - lambd * eta_value)
    add_(params, grad, -eta_value)
    # torch copies rather than averages while mu is 1 (before step t0).
    where_(ax, mu != 1, lambda a: a.add_(params.sub(a).mul_(mu)), lambda a: a.copy_(params))
    fill_(eta, sdiv(lr, spow(1 + lambd * lr * step, hp["alpha"])))
    fill_(mu, sdiv(1, smax(1, step - hp["t0"])))


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
    ui_defaults={"lr": 1e-3},
)

ASGD = OptimizerSpec(
    name="ASGD",
    torch_cls=torch.optim.ASGD,
    init=asgd_init,
    update=asgd_update,
    hparams=torch_hparams(
        torch.optim.ASGD,
        lambd=dict(low=0.0, high=1.0, help="decay term: shrinks the weights and the step size"),
        alpha=dict(low=0.0, high=1.0, help="power of the step-size decay"),
        t0=dict(low=0.0, high=1e6, help="step at which averaging starts"),
    ),
    summary="SGD with a decaying step size that also keeps a running average of the iterates (ax).",
    rule=r"""
\begin{aligned}
\theta_t &\leftarrow (1 - \lambda\eta_{t-1})\,\theta_{t-1} - \eta_{t-1}\, g_t \\
\bar\theta_t &\leftarrow \bar\theta_{t-1} + \mu_{t-1}\,(\theta_t - \bar\theta_{t-1}) \\
\eta_t &\leftarrow \gamma / (1 + \lambda\gamma t)^\alpha, \quad \mu_t \leftarrow 1/\max(1,\ t - t_0)
\end{aligned}""",
    state_keys=("ax", "eta", "mu"),
    ui_defaults={"lr": 1e-3},
)

"""Adagrad, RMSprop and Adadelta: steps scaled per coordinate by a running
average of squared gradients, as ``torch.optim.Adagrad`` / ``RMSprop`` / ``Adadelta``."""

from __future__ import annotations

import torch

from .base import (
    OptimizerSpec,
    add_,
    addcdiv_,
    addcmul_,
    cast,
    decayed_grad,
    fill_,
    lerp_,
    mul_,
    sdiv,
    torch_hparams,
    where_,
)


def adagrad_init(params, hp):
    return {"sum": fill_(torch.empty_like(params), hp["initial_accumulator_value"])}


def adagrad_update(params, grads, state, hp, step, ctx):
    grad = decayed_grad(grads, params, hp)
    clr = sdiv(hp["lr"], 1 + (step - 1) * hp["lr_decay"])
    state_sum = state["sum"]
    state_sum.addcmul_(grad, grad, value=1)
    std = state_sum.sqrt().add_(cast(hp["eps"], state_sum))
    addcdiv_(params, grad, std, -clr)


def rmsprop_init(params, hp):
    state = {"square_avg": torch.zeros_like(params)}
    if hp["centered"]:
        state["grad_avg"] = torch.zeros_like(params)
    return state


def rmsprop_update(params, grads, state, hp, step, ctx):
    grad = decayed_grad(grads, params, hp)
    lr, alpha, momentum = hp["lr"], hp["alpha"], hp["momentum"]
    square_avg = state["square_avg"]
    addcmul_(mul_(square_avg, alpha), grad, grad, 1 - alpha)
    if hp["centered"]:
        grad_avg = state["grad_avg"]
        lerp_(grad_avg, grad, 1 - alpha)
        avg = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
    else:
        avg = square_avg.sqrt()
    avg.add_(cast(hp["eps"], avg))
    if isinstance(momentum, torch.Tensor) or momentum > 0:
        # Made on first use: a cycling schedule may raise momentum from 0.
        buf = state.setdefault("momentum_buffer", torch.zeros_like(params))
        mul_(buf, momentum).addcdiv_(grad, avg)
    # Without momentum torch divides in the update itself, which rounds differently.
    where_(params, momentum > 0, lambda p: add_(p, buf, -lr), lambda p: addcdiv_(p, grad, avg, -lr))


def adadelta_init(params, hp):
    return {"square_avg": torch.zeros_like(params), "acc_delta": torch.zeros_like(params)}


def adadelta_update(params, grads, state, hp, step, ctx):
    grad = decayed_grad(grads, params, hp)
    rho, eps = hp["rho"], hp["eps"]
    square_avg, acc_delta = state["square_avg"], state["acc_delta"]
    addcmul_(mul_(square_avg, rho), grad, grad, 1 - rho)
    eps = cast(eps, square_avg)
    std = square_avg.add(eps).sqrt_()
    delta = acc_delta.add(eps).sqrt_().div_(std).mul_(grad)
    addcmul_(mul_(acc_delta, rho), delta, delta, 1 - rho)
    add_(params, delta, -hp["lr"])


ADAGRAD = OptimizerSpec(
    name="Adagrad",
    torch_cls=torch.optim.Adagrad,
    init=adagrad_init,
    update=adagrad_update,
    hparams=torch_hparams(
        torch.optim.Adagrad,
        lr_decay=dict(low=0.0, high=1.0, help="the lr is divided by 1 + (t-1) lr_decay"),
        initial_accumulator_value=dict(low=0.0, high=10.0, help="starting value of the sum of squares"),
    ),
    summary="Divides each coordinate's step by the root of its summed squared gradients.",
    rule=r"""
\begin{aligned}
\tilde\gamma &\leftarrow \gamma / (1 + (t-1)\,\eta) \\
s_t &\leftarrow s_{t-1} + g_t^2 \\
\theta_t &\leftarrow \theta_{t-1} - \tilde\gamma\, \frac{g_t}{\sqrt{s_t} + \epsilon}
\end{aligned}""",
    state_keys=("sum",),
    ui_defaults={"lr": 0.1},
)

RMSPROP = OptimizerSpec(
    name="RMSprop",
    torch_cls=torch.optim.RMSprop,
    init=rmsprop_init,
    update=rmsprop_update,
    hparams=torch_hparams(
        torch.optim.RMSprop,
        alpha=dict(low=0.0, high=0.999, help="smoothing constant of the squared-gradient average"),
        momentum=dict(low=0.0, high=0.999, help="momentum factor (0 = none)"),
        centered=dict(help="divide by the estimated variance instead of the second moment"),
    ),
    summary="Divides each coordinate's step by the root of a moving average of squared gradients.",
    rule=r"""
\begin{aligned}
v_t &\leftarrow \alpha v_{t-1} + (1-\alpha)\, g_t^2, \quad
  \tilde v_t \leftarrow v_t - (\text{centered}\ ?\ (g^{ave}_t)^2 : 0) \\
b_t &\leftarrow \mu b_{t-1} + g_t / (\sqrt{\tilde v_t} + \epsilon) \\
\theta_t &\leftarrow \theta_{t-1} - \gamma\, b_t
\end{aligned}""",
    state_keys=("square_avg", "grad_avg", "momentum_buffer"),
    ui_defaults={"lr": 1e-2},
)

ADADELTA = OptimizerSpec(
    name="Adadelta",
    torch_cls=torch.optim.Adadelta,
    init=adadelta_init,
    update=adadelta_update,
    hparams=torch_hparams(
        torch.optim.Adadelta,
        lr=dict(low=1e-3, high=100.0, log=True, help="scales the computed step"),
        rho=dict(low=0.0, high=0.999, help="smoothing constant of both running averages"),
    ),
    summary="RMSprop whose step size comes from a running average of its own past steps.",
    rule=r"""
\begin{aligned}
v_t &\leftarrow \rho v_{t-1} + (1-\rho)\, g_t^2 \\
\Delta x_t &\leftarrow \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}}\, g_t, \quad
  u_t \leftarrow \rho u_{t-1} + (1-\rho)\, \Delta x_t^2 \\
\theta_t &\leftarrow \theta_{t-1} - \gamma\, \Delta x_t
\end{aligned}""",
    state_keys=("square_avg", "acc_delta"),
    ui_defaults={"lr": 3.0},
)

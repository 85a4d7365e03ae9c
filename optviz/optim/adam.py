"""Adam and AdamW, as ``torch.optim.Adam`` / ``torch.optim.AdamW``."""

from __future__ import annotations

import torch

from .base import OptimizerSpec, addcdiv_, addcmul_, decayed_grad, sdiv, spow, torch_hparams


def init(params, hp):
    state = {"exp_avg": torch.zeros_like(params), "exp_avg_sq": torch.zeros_like(params)}
    if hp["amsgrad"]:
        state["max_exp_avg_sq"] = torch.zeros_like(params)
    return state


def _update(params, grads, state, hp, step, decoupled):
    lr = hp["lr"]
    beta1, beta2 = hp["betas"]
    grad = decayed_grad(grads, params, hp, decoupled)
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    exp_avg.lerp_(grad, 1 - beta1)
    addcmul_(exp_avg_sq.mul_(beta2), grad, grad, 1 - beta2)
    bias_correction1 = 1 - spow(beta1, step)
    bias_correction2 = 1 - spow(beta2, step)
    step_size = sdiv(lr, bias_correction1)
    bias_correction2_sqrt = spow(bias_correction2, 0.5)
    if hp["amsgrad"]:
        second = state["max_exp_avg_sq"]
        torch.maximum(second, exp_avg_sq, out=second)
    else:
        second = exp_avg_sq
    denom = (second.sqrt() / bias_correction2_sqrt).add_(hp["eps"])
    addcdiv_(params, exp_avg, denom, -step_size)


def update(params, grads, state, hp, step, ctx):
    _update(params, grads, state, hp, step, hp["decoupled_weight_decay"])


def update_w(params, grads, state, hp, step, ctx):
    _update(params, grads, state, hp, step, True)


_META = dict(
    betas=dict(help="decay rates of the first and second moment estimates"),
    weight_decay=dict(low=0.0, high=1.0, help="weight decay"),
    amsgrad=dict(help="use the running maximum of the second moment (AMSGrad)"),
)
_RULE = r"""
\begin{aligned}
m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1)\, g_t \\
v_t &\leftarrow \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2 \\
\theta_t &\leftarrow \theta_{t-1} - \gamma\,\frac{m_t/(1-\beta_1^t)}{\sqrt{v_t/(1-\beta_2^t)}+\epsilon}
\end{aligned}"""
_STATE = ("exp_avg", "exp_avg_sq")

SPEC = OptimizerSpec(
    name="Adam",
    torch_cls=torch.optim.Adam,
    init=init,
    update=update,
    hparams=torch_hparams(
        torch.optim.Adam,
        decoupled_weight_decay=dict(help="decay the weights directly (AdamW) instead of via the gradient"),
        **_META,
    ),
    summary="Adaptive moment estimation: momentum on the gradient, scaled per coordinate.",
    rule=_RULE,
    state_keys=_STATE,
    variants=(
        {},
        {"amsgrad": True},
        {"betas": (0.8, 0.99), "eps": 1e-6},
        {"weight_decay": 0.1},
        {"weight_decay": 0.1, "decoupled_weight_decay": True},
        {"maximize": True, "lr": 1e-3},
    ),
    test_lr=1e-2,
    ui_defaults={"lr": 1e-2},
)

SPEC_W = OptimizerSpec(
    name="AdamW",
    torch_cls=torch.optim.AdamW,
    init=init,
    update=update_w,
    hparams=torch_hparams(torch.optim.AdamW, **_META),
    summary="Adam with decoupled weight decay (Loshchilov & Hutter).",
    rule=r"\theta_{t-1} \leftarrow (1-\gamma\lambda)\,\theta_{t-1};\quad" + _RULE,
    state_keys=_STATE,
    variants=({}, {"amsgrad": True}, {"weight_decay": 0.5}, {"maximize": True, "lr": 1e-3}),
    test_lr=1e-2,
    ui_defaults={"lr": 1e-2},
)

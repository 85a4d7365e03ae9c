"""The Adam family: Adam, AdamW, NAdam, RAdam and Adamax, as in ``torch.optim``."""

from __future__ import annotations

import torch

from .base import (
    OptimizerSpec,
    addcdiv_,
    addcmul_,
    cast,
    decayed_grad,
    div,
    lerp_,
    mul_,
    scalar_state,
    sdiv,
    spow,
    torch_hparams,
    where_,
)


def _moments(params, second="exp_avg_sq"):
    return {"exp_avg": torch.zeros_like(params), second: torch.zeros_like(params)}


def init(params, hp):
    state = _moments(params)
    if hp["amsgrad"]:
        state["max_exp_avg_sq"] = torch.zeros_like(params)
    return state


def _update(params, grads, state, hp, step, decoupled):
    lr = hp["lr"]
    beta1, beta2 = hp["betas"]
    grad = decayed_grad(grads, params, hp, decoupled)
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    lerp_(exp_avg, grad, 1 - beta1)
    addcmul_(mul_(exp_avg_sq, beta2), grad, grad, 1 - beta2)
    bias_correction1 = 1 - spow(beta1, step)
    bias_correction2 = 1 - spow(beta2, step)
    step_size = sdiv(lr, bias_correction1)
    bias_correction2_sqrt = spow(bias_correction2, 0.5)
    if hp["amsgrad"]:
        second = state["max_exp_avg_sq"]
        torch.maximum(second, exp_avg_sq, out=second)
    else:
        second = exp_avg_sq
    denom = div(second.sqrt(), bias_correction2_sqrt).add_(cast(hp["eps"], second))
    addcdiv_(params, exp_avg, denom, -step_size)


def update(params, grads, state, hp, step, ctx):
    _update(params, grads, state, hp, step, hp["decoupled_weight_decay"])


def update_w(params, grads, state, hp, step, ctx):
    _update(params, grads, state, hp, step, True)


def nadam_init(params, hp):
    return {**_moments(params), "mu_product": scalar_state(params, 1.0)}


def nadam_update(params, grads, state, hp, step, ctx):
    lr, (beta1, beta2), psi = hp["lr"], hp["betas"], hp["momentum_decay"]
    grad = decayed_grad(grads, params, hp, hp["decoupled_weight_decay"])
    exp_avg, exp_avg_sq, mu_product = state["exp_avg"], state["exp_avg_sq"], state["mu_product"]
    bias_correction2 = 1 - spow(beta2, step)
    mu = beta1 * (1.0 - 0.5 * spow(0.96, step * psi))
    mu_next = beta1 * (1.0 - 0.5 * spow(0.96, (step + 1) * psi))
    # torch's float32 mu_product times a Python float: the float is rounded first.
    mul_(mu_product, mu)
    lerp_(exp_avg, grad, 1 - beta1)
    addcmul_(mul_(exp_avg_sq, beta2), grad, grad, 1 - beta2)
    denom = div(exp_avg_sq, bias_correction2).sqrt().add_(cast(hp["eps"], exp_avg_sq))
    product = mu_product.double()  # torch reads it as a Python float
    addcdiv_(params, grad, denom, sdiv(-lr * (1.0 - mu), 1.0 - product))
    addcdiv_(params, exp_avg, denom, sdiv(-lr * mu_next, 1.0 - product * mu_next))


def radam_init(params, hp):
    return _moments(params)


def radam_update(params, grads, state, hp, step, ctx):
    lr, (beta1, beta2) = hp["lr"], hp["betas"]
    grad = decayed_grad(grads, params, hp, hp["decoupled_weight_decay"])
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    lerp_(exp_avg, grad, 1 - beta1)
    addcmul_(mul_(exp_avg_sq, beta2), grad, grad, 1 - beta2)
    bias_correction1 = 1 - spow(beta1, step)
    bias_correction2 = 1 - spow(beta2, step)
    bias_corrected_exp_avg = div(exp_avg, bias_correction1)
    # Length of the approximated simple moving average, and its limit.
    rho_inf = sdiv(2, 1 - beta2) - 1
    rho_t = rho_inf - 2 * step * spow(beta2, step) / bias_correction2

    def rectified(p):
        # torch's ``number / tensor`` is ``tensor.reciprocal() * number``.
        eps = cast(hp["eps"], p)
        adaptive_lr = exp_avg_sq.sqrt().add_(eps).reciprocal_() * cast(spow(bias_correction2, 0.5), p)
        rect = spow((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t), 0.5)
        return p.add_(bias_corrected_exp_avg * cast(lr, p) * adaptive_lr * cast(rect, p), alpha=-1.0)

    # Until the variance estimate is trustworthy (rho_t > 5), plain momentum.
    where_(params, rho_t > 5.0, rectified, lambda p: p.add_(bias_corrected_exp_avg * cast(lr, p), alpha=-1.0))


def adamax_init(params, hp):
    return _moments(params, "exp_inf")


def adamax_update(params, grads, state, hp, step, ctx):
    beta1, beta2 = hp["betas"]
    grad = decayed_grad(grads, params, hp)
    exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
    lerp_(exp_avg, grad, 1 - beta1)
    torch.maximum(mul_(exp_inf, beta2), grad.abs().add_(cast(hp["eps"], grad)), out=exp_inf)
    clr = sdiv(hp["lr"], 1 - spow(beta1, step))
    addcdiv_(params, exp_avg, exp_inf, -clr)


_BETAS = dict(help="decay rates of the first and second moment estimates")
_DECOUPLED = dict(help="decay the weights directly (AdamW) instead of via the gradient")
# Shared by the optimizers whose weight decay may be decoupled.
_MOMENTS = dict(betas=_BETAS, weight_decay=dict(low=0.0, high=1.0, help="weight decay"))
_META = dict(**_MOMENTS, amsgrad=dict(help="use the running maximum of the second moment (AMSGrad)"))
_ROWS = r"""
m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1)\, g_t \\
v_t &\leftarrow \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2 \\
\theta_t &\leftarrow \theta_{t-1} - \gamma\,\frac{m_t/(1-\beta_1^t)}{\sqrt{v_t/(1-\beta_2^t)}+\epsilon}
"""
_RULE = r"\begin{aligned}" + _ROWS + r"\end{aligned}"
_STATE = ("exp_avg", "exp_avg_sq")

SPEC = OptimizerSpec(
    name="Adam",
    torch_cls=torch.optim.Adam,
    init=init,
    update=update,
    hparams=torch_hparams(
        torch.optim.Adam,
        decoupled_weight_decay=_DECOUPLED,
        **_META,
    ),
    summary="Adaptive moment estimation: momentum on the gradient, scaled per coordinate.",
    rule=_RULE,
    state_keys=_STATE,
    bias_corrected=(0, 1),
    ui_defaults={"lr": 1e-2},
)

SPEC_W = OptimizerSpec(
    name="AdamW",
    torch_cls=torch.optim.AdamW,
    init=init,
    update=update_w,
    hparams=torch_hparams(torch.optim.AdamW, **_META),
    summary="Adam with decoupled weight decay (Loshchilov & Hutter).",
    rule=r"\begin{aligned}\theta_{t-1} &\leftarrow (1-\gamma\lambda)\,\theta_{t-1} \\" + _ROWS + r"\end{aligned}",
    state_keys=_STATE,
    bias_corrected=(0, 1),
    ui_defaults={"lr": 1e-2},
)

NADAM = OptimizerSpec(
    name="NAdam",
    torch_cls=torch.optim.NAdam,
    init=nadam_init,
    update=nadam_update,
    hparams=torch_hparams(
        torch.optim.NAdam,
        **_MOMENTS,
        momentum_decay=dict(low=0.0, high=0.1, help="psi: how fast the momentum schedule mu_t warms up"),
        decoupled_weight_decay=_DECOUPLED,
    ),
    summary="Adam with Nesterov momentum: the step looks ahead along the next momentum.",
    rule=r"""
\begin{aligned}
\mu_t &\leftarrow \beta_1 \big(1 - \tfrac12\, 0.96^{t\psi}\big), \quad
  m_t \leftarrow \beta_1 m_{t-1} + (1-\beta_1)\, g_t, \quad
  v_t \leftarrow \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2 \\
\widehat{m_t} &\leftarrow \frac{\mu_{t+1}\, m_t}{1 - \prod_{i=1}^{t+1} \mu_i}
  + \frac{(1-\mu_t)\, g_t}{1 - \prod_{i=1}^{t} \mu_i} \\
\theta_t &\leftarrow \theta_{t-1} - \gamma\, \widehat{m_t} \big/ \big(\sqrt{v_t/(1-\beta_2^t)} + \epsilon\big)
\end{aligned}""",
    state_keys=("exp_avg", "exp_avg_sq", "mu_product"),
    bias_corrected=(1,),
    ui_defaults={"lr": 1e-2},
)

RADAM = OptimizerSpec(
    name="RAdam",
    torch_cls=torch.optim.RAdam,
    init=radam_init,
    update=radam_update,
    hparams=torch_hparams(
        torch.optim.RAdam,
        **_MOMENTS,
        decoupled_weight_decay=_DECOUPLED,
    ),
    summary="Adam that starts as plain momentum and adapts, rectified, once its variance estimate holds.",
    rule=r"""
\begin{aligned}
m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1)\, g_t, \quad v_t \leftarrow \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2 \\
\rho_t &\leftarrow \rho_\infty - \frac{2t\beta_2^t}{1-\beta_2^t}, \quad \rho_\infty = \frac{2}{1-\beta_2} - 1 \\
r_t &\leftarrow \sqrt{\frac{(\rho_t-4)(\rho_t-2)\rho_\infty}{(\rho_\infty-4)(\rho_\infty-2)\rho_t}}, \quad
  l_t \leftarrow \frac{\sqrt{1-\beta_2^t}}{\sqrt{v_t}+\epsilon} \\
\theta_t &\leftarrow \theta_{t-1} - \gamma\, \frac{m_t}{1-\beta_1^t} \cdot (\rho_t > 5\ ?\ r_t l_t : 1)
\end{aligned}""",
    state_keys=_STATE,
    bias_corrected=(0, 1),
    ui_defaults={"lr": 3e-3},
)

ADAMAX = OptimizerSpec(
    name="Adamax",
    torch_cls=torch.optim.Adamax,
    init=adamax_init,
    update=adamax_update,
    hparams=torch_hparams(torch.optim.Adamax, betas=_BETAS),
    summary="Adam with the infinity norm: divides by a decaying maximum of |g| instead of an RMS.",
    rule=r"""
\begin{aligned}
m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1)\, g_t \\
u_t &\leftarrow \max(\beta_2 u_{t-1},\ |g_t| + \epsilon) \\
\theta_t &\leftarrow \theta_{t-1} - \frac{\gamma\, m_t}{(1-\beta_1^t)\, u_t}
\end{aligned}""",
    state_keys=("exp_avg", "exp_inf"),
    bias_corrected=(0,),
    ui_defaults={"lr": 5e-2},
)

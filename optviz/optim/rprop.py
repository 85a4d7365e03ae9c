"""Resilient backpropagation, as ``torch.optim.Rprop``: each coordinate steps by
its own step size in the direction of the gradient's sign."""

from __future__ import annotations

import torch

from .base import OptimizerSpec, cast, decayed_grad, fill_, smax, smin, torch_hparams


def init(params, hp):
    return {"prev": torch.zeros_like(params), "step_size": fill_(torch.empty_like(params), hp["lr"])}


def update(params, grads, state, hp, step, ctx):
    grad = decayed_grad(grads, params, hp)
    # torch writes the etas into a tensor of the params' dtype and clamps with the
    # bounds rounded to it: per-run columns round the same way first.
    etaminus, etaplus = (cast(v, params) for v in hp["etas"])
    step_size_min, step_size_max = (cast(v, params) for v in hp["step_sizes"])
    prev, step_size = state["prev"], state["step_size"]
    if step == 1:
        fill_(step_size, hp["lr"])  # torch makes its state at the first step, with that step's lr
    sign = grad.mul(prev).sign()
    # torch assigns through three masks; as 0 < etaminus < 1 < etaplus they never overlap.
    sign = torch.where(sign > 0, etaplus, torch.where(sign < 0, etaminus, torch.where(sign == 0, 1.0, sign)))
    step_size.copy_(smin(smax(step_size.mul_(sign), step_size_min), step_size_max))
    # After a sign change: no step, and no sign to compare with next time.
    grad = torch.where(sign == etaminus, 0.0, grad)
    params.addcmul_(grad.sign(), step_size, value=-1)
    prev.copy_(grad)


SPEC = OptimizerSpec(
    name="Rprop",
    torch_cls=torch.optim.Rprop,
    init=init,
    update=update,
    hparams=torch_hparams(
        torch.optim.Rprop,
        lr=dict(low=1e-5, high=10.0, log=True, help="initial step size"),
        etas=dict(help="(etaminus, etaplus): step-size factors when the sign flips / holds"),
        step_sizes=dict(help="(min, max) step size"),
    ),
    summary="Ignores the gradient's size: a coordinate's step grows while its sign holds, shrinks on a flip.",
    rule=r"""
\begin{aligned}
\eta_t &\leftarrow \begin{cases}
  \min(\eta_{t-1}\eta_+,\ \Gamma_{max}) & g_{t-1} g_t > 0 \\
  \max(\eta_{t-1}\eta_-,\ \Gamma_{min}),\ g_t \leftarrow 0 & g_{t-1} g_t < 0 \\
  \eta_{t-1} & \text{otherwise}
\end{cases} \\
\theta_t &\leftarrow \theta_{t-1} - \eta_t\, \mathrm{sign}(g_t)
\end{aligned}""",
    state_keys=("prev", "step_size"),
    ui_defaults={"lr": 1e-2},
)

"""The update rule of an optimizer, with the values a run uses."""

from __future__ import annotations

import re
from typing import Any

# torch's hyperparameter names -> the symbols torch's docs use in their update rules.
SYMBOLS = {
    "lr": r"\gamma",
    "momentum": r"\mu",
    "dampening": r"\tau",
    "weight_decay": r"\lambda",
    "betas": (r"\beta_1", r"\beta_2"),
    "eps": r"\epsilon",
    "alpha": r"\alpha",
    "rho": r"\rho",
    "lr_decay": r"\eta",
    "lambd": r"\lambda",
    "t0": r"t_0",
    "etas": (r"\eta^-", r"\eta^+"),
    "step_sizes": (r"\Gamma_{\min}", r"\Gamma_{\max}"),
    "momentum_decay": r"\psi",
    "initial_accumulator_value": r"\tau",
    "beta2_decay": r"\hat\beta_2",
    "d": "d",
}


def _number(v: Any) -> str:
    if isinstance(v, bool):
        return r"\text{true}" if v else r"\text{false}"
    if isinstance(v, float | int):
        text = f"{v:.4g}"
        if "e" in text:
            mantissa, exp = text.split("e")
            return rf"{mantissa}\times 10^{{{int(exp)}}}"
        return text
    # A word (line_search_fn's "strong_wolfe"): only what \text shows as it is, in display and inline maths.
    return r"\text{" + re.sub(r"[^\w .+-]", "", str(v)).replace("_", r"\_") + "}"


def values_parts(spec, hp: dict[str, Any]) -> list[str]:
    """``\\gamma = 0.01``, ``\\beta_1 = 0.9``, ...: each symbol the rule uses, with the run's value."""
    resolved = spec.resolve(hp)
    parts = []
    for name, value in resolved.items():
        symbol = SYMBOLS.get(name)
        if symbol is None:
            continue
        if isinstance(symbol, tuple):
            parts += [f"{s} = {_number(v)}" for s, v in zip(symbol, value) if v is not None]
        else:
            parts.append(f"{symbol} = {_number(value)}")
    flags = [name for name, value in resolved.items() if value is True]
    if flags:
        parts.append(r"\text{" + ", ".join(flags).replace("_", r"\_") + "}")
    return parts


def values_markdown(spec, hp: dict[str, Any]) -> str:
    """Those values as Markdown, each its own inline formula: the line wraps at any width."""
    return ", ".join(f"${part}$" for part in values_parts(spec, hp))


# Where a rule's line joins two parts side by side.
_SIDE_BY_SIDE = re.compile(r"[,;]?\s*\\q?quad\s*")


def rule_latex(spec, narrow: bool = False) -> str:
    """An optimizer's update rule as drawn. On a phone (``narrow``), in smaller type, and in an
    aligned block (every rule here), the parts a line joins side by side each on a row of its
    own, indented: they ran off the screen."""
    rule = spec.rule.strip()
    if not narrow:
        return rule
    if rule.startswith(r"\begin{aligned}") and rule.endswith(r"\end{aligned}"):  # rows to put them on
        rule = _SIDE_BY_SIDE.sub(lambda _: r" \\ &\qquad ", rule)
    return r"\footnotesize " + rule


# -- one step, with its numbers --------------------------------------------------------

STATE_SYMBOLS = {"momentum_buffer": "b", "exp_avg": "m", "exp_avg_sq": "v", "square_avg": "v", "sum": "G",
                 "grad_avg": r"\bar g", "acc_delta": "u", "exp_inf": "u"}


def _state_symbol(key: str) -> str:
    return STATE_SYMBOLS.get(key, r"\text{" + key.replace("_", r"\_") + "}")


def _vec(values) -> str:
    return r"\begin{pmatrix}" + r" \\ ".join(_number(float(v)) for v in values) + r"\end{pmatrix}"


def _substituted(optimizer: str, hp: dict[str, Any], values: dict[str, Any], t: int) -> list[str]:
    """Per coordinate, the update with this step's numbers in it, where the rule is a
    short closed form of the recorded buffers (SGD with heavy-ball momentum, Adam, AdamW)."""
    theta, lr = values["theta"], values.get("lr")
    if lr is None:
        return []
    names = "xy" if len(theta) == 2 else [f"\\theta^{{({i})}}" for i in range(len(theta))]
    lines = []
    if optimizer == "SGD" and not hp.get("nesterov") and not hp.get("weight_decay"):
        buf = values.get("momentum_buffer", values["grad"])
        symbol = "b" if "momentum_buffer" in values else "g"
        for i, name in enumerate(names):
            lines.append(rf"{name}_{{{t}}} = {_number(float(theta[i]))} - {_number(lr)} \cdot "
                         rf"\underbrace{{{_number(float(buf[i]))}}}_{{{symbol}}} = {_number(float(values['next'][i]))}")
    elif optimizer in ("Adam", "AdamW") and not hp.get("amsgrad") and "exp_avg" in values:
        beta1, beta2 = hp["betas"]
        eps = hp["eps"]
        c1, c2 = 1 - beta1**t, 1 - beta2**t
        decoupled = optimizer == "AdamW" or hp.get("decoupled_weight_decay")
        wd = hp.get("weight_decay", 0.0)
        if wd and not decoupled:
            return []  # the decay enters m and v through g: the card would need g + λθ as well
        for i, name in enumerate(names):
            start = _number(float(theta[i]))
            if wd:
                start = rf"{start}\,(1 - {_number(lr)}\cdot{_number(wd)})"
            m, v = float(values["exp_avg"][i]), float(values["exp_avg_sq"][i])
            lines.append(rf"{name}_{{{t}}} = {start} - {_number(lr)} \cdot "
                         rf"\frac{{{_number(m)} / {_number(c1)}}}{{\sqrt{{{_number(v)} / {_number(c2)}}} + "
                         rf"{_number(eps)}}} = {_number(float(values['next'][i]))}")
    return lines


def _row(parts: list[str], narrow: bool) -> str:
    """Terms side by side on one LaTeX line, or stacked on a phone, where side by side runs off."""
    if narrow and len(parts) > 1:
        return r"\begin{gathered}" + r" \\ ".join(parts) + r"\end{gathered}"
    return r",\quad ".join(parts)


def _stacked_equation(line: str) -> str:
    """``a = b = c`` as two smaller aligned rows (``a = b``, ``= c``): one row runs off a phone."""
    name, _, rest = line.partition(" = ")
    middle, _, result = rest.rpartition(" = ")
    if not middle:
        return line
    return rf"\footnotesize\begin{{aligned}} {name} &= {middle} \\ &= {result} \end{{aligned}}"


def step_latex(optimizer: str, hp: dict[str, Any], values: dict[str, Any], t: int, narrow: bool = False
               ) -> list[str]:
    """The update that made point ``t`` (torch's step ``t``, from ``θ_{t-1}``), as LaTeX lines:
    the recorded values (θ, g, lr, every state buffer after the step, the new θ), then, where
    the rule is a short closed form, each coordinate's update with those numbers substituted.

    ``values`` is :func:`optviz.charts.state.step_values` of update ``t - 1``: nothing is recomputed
    but the bias corrections ``1 - β^t``. ``narrow`` (a phone) stacks the terms of a line.
    """
    parts = [rf"\theta_{{{t - 1}}} = {_vec(values['theta'])}", rf"g_{{{t - 1}}} = \nabla f = {_vec(values['grad'])}"]
    if "lr" in values:
        parts.append(rf"\gamma_{{{t}}} = {_number(values['lr'])}")
    recorded = [_row(parts, narrow)]
    buffers = [rf"{_state_symbol(key)}_{{{t}}} = {_vec(value)}" for key, value in values.items()
               if key not in ("theta", "grad", "next", "lr") and len(value) == len(values["theta"])]
    if buffers:
        recorded.append(_row(buffers, narrow))
    recorded.append(rf"\theta_{{{t}}} = {_vec(values['next'])}")
    substituted = _substituted(optimizer, hp, values, t)
    return recorded + ([_stacked_equation(line) for line in substituted] if narrow else substituted)

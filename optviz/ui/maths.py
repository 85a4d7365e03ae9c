"""The update rule of an optimizer, with the values a run uses."""

from __future__ import annotations

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
    return rf"\text{{{v}}}"


def values_latex(spec, hp: dict[str, Any]) -> str:
    """``\\gamma = 0.01,\\ \\beta_1 = 0.9, ...`` for the symbols the rule uses."""
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
    return r",\ ".join(parts)


def rule_latex(spec, hp: dict[str, Any]) -> str:
    return spec.rule.strip() + r"\\[4pt] \text{with } " + values_latex(spec, hp)

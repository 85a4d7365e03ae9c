"""Models: linear, logistic and softmax regression, and a multilayer perceptron.

Every model is a ``torch.nn.Sequential`` of ``Linear`` layers and elementwise
activations, built with a seeded ``torch.nn`` initialization, so the start
point of every run is one model's own weights and the plain training loop in
``optviz.data.reference`` trains that very module.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..params import ConfigError, HasParams, HParam, lookup

# Elementwise activations only: the batched forward applies them to every run at once.
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
}
MAX_LAYERS = 6
MAX_WIDTH = 1024
MAX_PARAMS = 250_000

ONE, CLASSES, EITHER = "one", "classes", "either"


@dataclass(frozen=True)
class ModelSpec(HasParams):
    id: str
    name: str
    summary: str
    kinds: tuple[str, ...]  # the data kinds it suits: regression, binary, multiclass
    output: str  # one output, one per class, or either (the loss decides)
    params: tuple[HParam, ...] = ()

    def check(self, values: Mapping[str, Any]) -> str | None:
        hidden = values.get("hidden", ())
        if len(hidden) > MAX_LAYERS:
            return f"at most {MAX_LAYERS} hidden layers, got {len(hidden)}"
        if any(not 1 <= h <= MAX_WIDTH for h in hidden):
            return f"hidden layer sizes must be between 1 and {MAX_WIDTH}, got {list(hidden)}"
        return None

    def why_not(self, kind: str, n_classes: int = 0) -> str | None:
        """Why this model cannot be trained on data of ``kind``, or None if it can."""
        if kind in self.kinds:
            return None
        if kind == "regression":
            return f"{self.name} needs a classification dataset; this one has a numeric target"
        if self.output == ONE and "regression" in self.kinds:
            return f"{self.name} predicts a number; this dataset has classes (use logistic or softmax regression)"
        return f"{self.name} separates two classes; this dataset has {n_classes} (use softmax regression or an MLP)"


_BIAS = HParam("bias", True, "bool", help="learn an intercept (bias) too")

MODELS: dict[str, ModelSpec] = {
    m.id: m
    for m in [
        ModelSpec("linear", "Linear regression", "ŷ = w·x + b: one weight per feature and a bias.",
                  ("regression",), ONE, (_BIAS,)),
        ModelSpec("logistic", "Logistic regression",
                  "One logit w·x + b; p(class 1) = sigmoid(logit). Without a bias on 2 features: two weights.",
                  ("binary",), ONE, (_BIAS,)),
        ModelSpec("softmax", "Softmax regression", "One logit per class, W·x + b; p = softmax(logits).",
                  ("binary", "multiclass"), CLASSES, (_BIAS,)),
        ModelSpec("mlp", "MLP (neural network)", "Fully connected layers with a nonlinearity between them.",
                  ("regression", "binary", "multiclass"), EITHER,
                  (HParam("hidden", (16, 16), "ints", help="hidden layer sizes, e.g. 64,64 (empty: none)"),
                   HParam("activation", "tanh", "choice", help="nonlinearity after each hidden layer",
                          choices=tuple(ACTIVATIONS)))),
    ]
}


def get(model_id: str) -> ModelSpec:
    return lookup(MODELS, model_id, "model")


def build(model_id: str, params: Mapping[str, Any], n_in: int, n_out: int, seed: int,
          dtype: torch.dtype = torch.float64) -> nn.Sequential:
    """The model with torch's default initialization, drawn from ``seed``.

    The global RNG is left as it was: a seed picks the weights and nothing else.
    """
    spec = get(model_id)
    values = spec.resolve(params)
    if model_id == "mlp":
        widths = [n_in, *values["hidden"], n_out]
        act: Callable[[], nn.Module] = ACTIVATIONS[values["activation"]]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            if i:
                layers.append(act())
            layers.append(_Layer(a, b, True, dtype))
    else:
        layers = [_Layer(n_in, n_out, values["bias"], dtype)]
    count = sum(math.prod(s) for s in _shapes(layers))
    if count > MAX_PARAMS:
        raise ConfigError(f"that model has {count:,} parameters; the limit is {MAX_PARAMS:,}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return nn.Sequential(*[layer() if isinstance(layer, _Layer) else layer for layer in layers])


@dataclass(frozen=True)
class _Layer:
    """A Linear layer to build later, inside the seeded RNG context, in order."""

    n_in: int
    n_out: int
    bias: bool
    dtype: torch.dtype

    def __call__(self) -> nn.Linear:
        return nn.Linear(self.n_in, self.n_out, bias=self.bias, dtype=self.dtype)


def _shapes(layers) -> list[tuple[int, ...]]:
    out = []
    for layer in layers:
        if isinstance(layer, _Layer):
            out.append((layer.n_out, layer.n_in))
            if layer.bias:
                out.append((layer.n_out,))
    return out


def param_labels(model: nn.Module) -> list[str]:
    """Short names of a model's parameters for axes: ``w``/``b`` for one weight and a
    bias, ``w₁``/``w₂`` for two weights, else torch's names."""
    named = [(n, p) for n, p in model.named_parameters()]
    sizes = [p.numel() for _, p in named]
    if len(named) == 2 and sizes == [1, 1]:
        return ["w", "b"]
    if len(named) == 1 and sizes == [2]:
        return ["w₁", "w₂"]
    return [n for n, _ in named]

"""Loss functions: torch's own, in two forms.

``module`` is the ``torch.nn`` loss a plain training loop uses; ``batched``
computes the same loss for every run of a batch at once, from outputs of shape
``(runs, batch, outputs)``, with the ``torch.nn.functional`` form of that very
loss (``reduction="none"``, then a mean per run).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..params import HasParams, HParam, lookup
from .models import CLASSES, EITHER, ONE, ModelSpec


class BinaryHinge(nn.Module):
    """The SVM's hinge loss on one score: mean(max(0, margin - s·f)) with s = ±1.

    torch has it only for one score per class (``MultiMarginLoss``); this is the
    same loss for a single logit with 0/1 labels.
    """

    def __init__(self, margin: float = 1.0):
        super().__init__()
        self.margin = margin

    def forward(self, output: Tensor, target: Tensor) -> Tensor:
        return torch.clamp(self.margin - (2 * target - 1) * output, min=0).mean()


@dataclass(frozen=True)
class LossSpec(HasParams):
    id: str
    name: str
    summary: str
    latex: str
    task: str  # regression or classification
    output: str  # what it scores: one output, one per class, or either
    module: Callable[..., nn.Module]  # module(n_out, **params)
    elementwise: Callable[..., Tensor] | None  # f(out, target, **params) -> per element, for one-output losses
    params: tuple[HParam, ...] = ()
    binary_only: bool = False
    one_hot: bool = False  # classes as one-hot float rows: MSE on a classification dataset

    def check(self, values: Mapping[str, Any]) -> str | None:
        bad = [name for name, v in values.items() if not v > 0]  # every loss parameter is a positive scale
        return f"{bad[0]} must be > 0, got {values[bad[0]]!r}" if bad else None

    def why_not(self, kind: str, model: ModelSpec, n_classes: int = 0) -> str | None:
        """Why this loss cannot train ``model`` on data of ``kind``, or None if it can."""
        if self.task == "regression" and kind != "regression":
            return f"{self.name} needs a regression dataset (a numeric target); this one has classes"
        if self.task == "classification" and kind == "regression":
            return f"{self.name} needs a classification dataset; this one has a numeric target"
        if self.binary_only and kind != "binary":
            return f"{self.name} needs exactly two classes; this dataset has {n_classes} (use cross-entropy)"
        if self.output == ONE and model.output == CLASSES and kind != "regression":
            return f"{model.name} gives one score per class; {self.name} takes one logit (use cross-entropy)"
        if self.output == CLASSES and model.output == ONE:
            return f"{model.name} gives one logit; {self.name} needs one score per class (use binary cross-entropy)"
        return None

    def target(self, y: Tensor, n_out: int, dtype: torch.dtype) -> Tensor:
        """Labels as the torch loss takes them: class indices, one-hot rows, or a float column."""
        if self.one_hot:
            return F.one_hot(y.long(), n_out).to(dtype)
        if n_out > 1:
            return y.long()
        return y.to(dtype).unsqueeze(-1)

    def batched(self, out: Tensor, y: Tensor, params: Mapping[str, Any]) -> Tensor:
        """Each run's mean loss: ``out`` (runs, batch, n_out), ``y`` (batch,) -> (runs,)."""
        runs, batch, n_out = out.shape
        if n_out == 1:
            t = self.target(y, 1, out.dtype).expand_as(out)
            return self.elementwise(out, t, **params).mean((1, 2))
        if self.one_hot:
            t = self.target(y, n_out, out.dtype).expand_as(out)
            return self.elementwise(out, t, **params).mean((1, 2))
        if self.id == "cross_entropy":
            return F.cross_entropy(out.transpose(1, 2), y.long().expand(runs, batch), reduction="none").mean(1)
        if self.id == "hinge":
            flat = F.multi_margin_loss(out.reshape(-1, n_out), y.long().repeat(runs), reduction="none", **params)
            return flat.reshape(runs, batch).mean(1)
        raise AssertionError(f"{self.id} scores one output")


def _binary_hinge(out, t, margin):
    return torch.clamp(margin - (2 * t - 1) * out, min=0)


def _hinge_module(n_out, margin=1.0):
    return BinaryHinge(margin) if n_out == 1 else nn.MultiMarginLoss(margin=margin)


def _positive(name, default, help):
    return HParam(name, default, "float", help=help, low=1e-3, high=100.0, log=True)


LOSSES: dict[str, LossSpec] = {
    s.id: s
    for s in [
        LossSpec("mse", "MSE (squared error)", "Mean squared error: big errors cost quadratically.",
                 r"\tfrac1n\sum_i (\hat y_i - y_i)^2", "regression", ONE,
                 lambda n_out: nn.MSELoss(), lambda o, t: F.mse_loss(o, t, reduction="none")),
        LossSpec("mae", "MAE (L1)", "Mean absolute error: robust to outliers, a kink at zero error.",
                 r"\tfrac1n\sum_i |\hat y_i - y_i|", "regression", ONE,
                 lambda n_out: nn.L1Loss(), lambda o, t: F.l1_loss(o, t, reduction="none")),
        LossSpec("huber", "Huber", "Squared for errors below delta, linear above: MSE's smoothness, MAE's robustness.",
                 r"\tfrac1n\sum_i \begin{cases}\tfrac12 e_i^2 & |e_i|\le\delta\\ \delta(|e_i|-\tfrac12\delta)"
                 r"&\text{else}\end{cases}", "regression", ONE,
                 lambda n_out, delta: nn.HuberLoss(delta=delta),
                 lambda o, t, delta: F.huber_loss(o, t, reduction="none", delta=delta),
                 (_positive("delta", 1.0, "where the loss turns from squared to linear"),)),
        LossSpec("smooth_l1", "Smooth L1", "Huber divided by its threshold beta (torch's SmoothL1Loss).",
                 r"\tfrac1n\sum_i \begin{cases}\tfrac{e_i^2}{2\beta} & |e_i|<\beta\\ |e_i|-\tfrac12\beta"
                 r"&\text{else}\end{cases}", "regression", ONE,
                 lambda n_out, beta: nn.SmoothL1Loss(beta=beta),
                 lambda o, t, beta: F.smooth_l1_loss(o, t, reduction="none", beta=beta),
                 (_positive("beta", 1.0, "where the loss turns from squared to linear"),)),
        LossSpec("bce", "Binary cross-entropy (log loss)",
                 "−log p of the right class, p = sigmoid(logit): logistic regression's own loss.",
                 r"-\tfrac1n\sum_i y_i\log\sigma(z_i) + (1-y_i)\log(1-\sigma(z_i))", "classification", ONE,
                 lambda n_out: nn.BCEWithLogitsLoss(),
                 lambda o, t: F.binary_cross_entropy_with_logits(o, t, reduction="none"), binary_only=True),
        LossSpec("cross_entropy", "Cross-entropy", "−log softmax of the right class's logit.",
                 r"-\tfrac1n\sum_i \log \frac{e^{z_{i,y_i}}}{\sum_k e^{z_{i,k}}}", "classification", CLASSES,
                 lambda n_out: nn.CrossEntropyLoss(), None),
        LossSpec("onehot_mse", "MSE on one-hot targets",
                 "Squared error between the class scores and the one-hot class: how Cohen et al. (2021) train "
                 "classifiers at the edge of stability.",
                 r"\tfrac1{nC}\sum_i \lVert z_i - e_{y_i} \rVert^2", "classification", CLASSES,
                 lambda n_out: nn.MSELoss(), lambda o, t: F.mse_loss(o, t, reduction="none"), one_hot=True),
        LossSpec("hinge", "Hinge (SVM)",
                 "Zero once the right class wins by the margin: a support-vector machine's loss "
                 "(one logit: max(0, m − s·z); one per class: torch's MultiMarginLoss).",
                 r"\tfrac1n\sum_i \max(0,\, m - s_i z_i)", "classification", EITHER,
                 _hinge_module, _binary_hinge, (_positive("margin", 1.0, "the margin m"),)),
    ]
}


def get(loss_id: str) -> LossSpec:
    return lookup(LOSSES, loss_id, "loss")

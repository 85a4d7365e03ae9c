"""A training task as an engine problem: the runs' weights as one ``(runs, P)`` batch.

:class:`Task` is the frozen description (data, model, loss, batch size, epochs,
seeds); :class:`ModelProblem` implements the engine's ``Problem`` protocol for
it. Each run's weights are a row of the flat batch; ``layout`` is the model's
own parameter shapes (``named_parameters`` order), so an optimizer that treats
matrices as matrices sees them. The forward pass runs every row at once (one
batched matmul per layer), and ``step`` picks the mini-batch: every run of a
comparison sees the same batches in the same order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap

from ..optim.base import ConfigError
from . import datasets, losses, models
from .datasets import CLASSIFICATION, REGRESSION, DataConfig, Split

# Work per evaluation chunk: rows x samples x widest layer, in floats.
EVAL_CHUNK = 1 << 22


def _freeze(mapping: Mapping[str, Any] | Any) -> tuple[tuple[str, Any], ...]:
    items = mapping.items() if isinstance(mapping, Mapping) else (mapping or ())
    return tuple(sorted((str(k), tuple(v) if isinstance(v, list) else v) for k, v in items))


def _whole(value: Any, name: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not float(value).is_integer():
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    value = int(value)
    if value < low or (high is not None and value > high):
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}" if high is not None
                          else f"{name} must be >= {low}, got {value}")
    return value


@dataclass(frozen=True)
class Task:
    """What to train and how: the dataset, the model, the loss, the batches, the seeds.

    ``batch_size`` 0 is the whole training set (full-batch gradient descent);
    1 is single-sample SGD. ``shuffle_seed`` orders the mini-batches of every
    epoch; ``init_seed`` draws the model's starting weights.
    """

    data: DataConfig = field(default_factory=DataConfig)
    model: str = "mlp"
    model_params: Any = ()
    loss: str = "cross_entropy"
    loss_params: Any = ()
    batch_size: int = 32
    epochs: int = 30
    shuffle_seed: int = 0
    init_seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "model_params", _freeze(models.get(self.model).resolve(dict(_freeze(self.model_params)))))
        object.__setattr__(self, "loss_params", _freeze(losses.get(self.loss).resolve(dict(_freeze(self.loss_params)))))
        object.__setattr__(self, "batch_size", _whole(self.batch_size, "batch size", 0))
        object.__setattr__(self, "epochs", _whole(self.epochs, "epochs", 1, 10_000))
        object.__setattr__(self, "shuffle_seed", _whole(self.shuffle_seed, "shuffle seed", 0))
        object.__setattr__(self, "init_seed", _whole(self.init_seed, "init seed", 0))

    def replace(self, **changes) -> Task:
        from dataclasses import replace

        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "data": self.data.to_dict(),
            "model": self.model,
            "model_params": {k: list(v) if isinstance(v, tuple) else v for k, v in self.model_params},
            "loss": self.loss,
            "loss_params": dict(self.loss_params),
            "batch_size": self.batch_size,
            "epochs": self.epochs,
            "shuffle_seed": self.shuffle_seed,
            "init_seed": self.init_seed,
        }


# -- which models and losses suit which data -------------------------------------

KIND_WORDS = {"regression": "a numeric target (regression)", "binary": "two classes",
              "multiclass": "three or more classes"}


def why_not_model(kind: str, model_id: str, n_classes: int = 0) -> str | None:
    """Why a model cannot be trained on data of ``kind``, or None if it can."""
    spec = models.get(model_id)
    if kind in spec.kinds:
        return None
    if kind == REGRESSION:
        return f"{spec.name} needs a classification dataset; this one has a numeric target"
    if model_id == "linear":
        return f"{spec.name} predicts a number; this dataset has classes (use logistic or softmax regression)"
    return f"{spec.name} separates two classes; this dataset has {n_classes} (use softmax regression or an MLP)"


def why_not_loss(kind: str, model_id: str, loss_id: str, n_classes: int = 0) -> str | None:
    """Why a loss cannot train this model on data of ``kind``, or None if it can."""
    spec, model = losses.get(loss_id), models.get(model_id)
    if spec.task == REGRESSION and kind != REGRESSION:
        return f"{spec.name} needs a regression dataset (a numeric target); this one has classes"
    if spec.task == CLASSIFICATION and kind == REGRESSION:
        return f"{spec.name} needs a classification dataset; this one has a numeric target"
    if spec.binary_only and kind != "binary":
        return f"{spec.name} needs exactly two classes; this dataset has {n_classes} (use cross-entropy)"
    if spec.output == models.ONE and model.output == models.CLASSES and kind != REGRESSION:
        return f"{model.name} gives one score per class; {spec.name} takes one logit (use cross-entropy)"
    if spec.output == models.CLASSES and model.output == models.ONE:
        return f"{model.name} gives one logit; {spec.name} needs one score per class (use binary cross-entropy)"
    return None


def n_outputs(kind: str, n_classes: int, model_id: str, loss_id: str) -> int:
    """One output for regression and single-logit losses, else one per class."""
    if kind == REGRESSION:
        return 1
    model, loss = models.get(model_id), losses.get(loss_id)
    if model.output == models.ONE or loss.output == models.ONE:
        return 1
    if model.output == models.CLASSES or loss.output == models.CLASSES:
        return n_classes
    return 1 if kind == "binary" else n_classes  # an MLP with the hinge loss


# -- the problem ----------------------------------------------------------------


class ModelProblem:
    """The engine's view of a task: ``loss(params (runs, P), step) -> (runs,)``."""

    divergence_bound = 1e8  # |weight| beyond this counts as diverged

    def __init__(self, task: Task):
        self.task = task
        self.split: Split = datasets.prepare(task.data)
        data = self.split.data
        self.kind = data.kind
        for reason in (why_not_model(self.kind, task.model, data.n_classes),
                       why_not_loss(self.kind, task.model, task.loss, data.n_classes)):
            if reason:
                raise ConfigError(reason)
        self.n_out = n_outputs(self.kind, data.n_classes, task.model, task.loss)
        self.model = models.build(task.model, dict(task.model_params), self.split.n_features, self.n_out,
                                  task.init_seed)
        self.loss_spec = losses.get(task.loss)
        self.loss_params = dict(task.loss_params)
        named = list(self.model.named_parameters())
        self.names = [n for n, _ in named]
        self.layout: tuple[tuple[int, ...], ...] = tuple(tuple(p.shape) for _, p in named)
        self.sizes = [p.numel() for _, p in named]
        self.dims = sum(self.sizes)
        self.labels = models.param_labels(self.model)
        self.n_train = len(self.split.y_train)
        self.batch_size = self.n_train if task.batch_size in (0, None) else min(task.batch_size, self.n_train)
        self.steps_per_epoch = math.ceil(self.n_train / self.batch_size)
        self.steps = task.epochs * self.steps_per_epoch
        self._ops = _sequential_ops(self.model)
        self._tensors: dict[Any, tuple[Tensor, ...]] = {}
        self._epoch: dict[Any, tuple[Tensor, Tensor]] = {}

    @cached_property
    def start(self) -> tuple[float, ...]:
        """The model's seeded initial weights, flat: every run's default start."""
        return tuple(torch.cat([p.detach().reshape(-1) for p in self.model.parameters()]).double().tolist())

    @property
    def full_batch(self) -> bool:
        return self.batch_size >= self.n_train

    @property
    def flops_per_sample(self) -> int:
        """Multiply-adds of one forward pass, x2: the unit of the work estimate."""
        return 2 * sum(math.prod(s) for s in self.layout if len(s) == 2)

    @property
    def width(self) -> int:
        return max([self.split.n_features, *(s[0] for s in self.layout)])

    # -- batches ---------------------------------------------------------------

    def order(self, epoch: int) -> np.ndarray:
        """The training rows of ``epoch`` in the order its mini-batches take them."""
        if self.full_batch:
            return np.arange(self.n_train)
        # One seeded stream per (seed, epoch): no epoch depends on how many came before.
        return np.random.default_rng([self.task.shuffle_seed, epoch]).permutation(self.n_train)

    def batch(self, step: int) -> np.ndarray:
        """Row indices of the mini-batch at ``step`` (the last batch of an epoch may be smaller)."""
        epoch, b = divmod(step, self.steps_per_epoch)
        return self.order(epoch)[b * self.batch_size : (b + 1) * self.batch_size]

    def tensors(self, dtype: torch.dtype, device: torch.device | str = "cpu") -> tuple[Tensor, ...]:
        """X_train, y_train, X_test, y_test as tensors, cached per dtype and device."""
        key = (dtype, str(device))
        if key not in self._tensors:
            s = self.split
            ydtype = dtype if self.kind == REGRESSION else torch.int64
            self._tensors[key] = (
                torch.as_tensor(np.array(s.X_train), dtype=dtype, device=device),
                torch.as_tensor(np.array(s.y_train), dtype=ydtype, device=device),
                torch.as_tensor(np.array(s.X_test), dtype=dtype, device=device),
                torch.as_tensor(np.array(s.y_test), dtype=ydtype, device=device),
            )
        return self._tensors[key]

    def _batch_tensors(self, step: int, dtype, device) -> tuple[Tensor, Tensor]:
        X, y = self.tensors(dtype, device)[:2]
        if self.full_batch:
            return X, y
        epoch, b = divmod(step, self.steps_per_epoch)
        key = (dtype, str(device))
        cached = self._epoch.get(key)
        if cached is None or cached[0] != epoch:
            # One gather per epoch; each batch is then a contiguous slice of it.
            order = torch.as_tensor(self.order(epoch), device=device)
            cached = (epoch, X[order], y[order])
            self._epoch[key] = cached
        rows = slice(b * self.batch_size, (b + 1) * self.batch_size)
        return cached[1][rows], cached[2][rows]

    # -- the model, batched over runs -------------------------------------------------

    def unflatten(self, params: Tensor) -> list[Tensor]:
        """``(runs, P)`` -> each parameter as ``(runs, *shape)`` (views, so gradients flow back)."""
        runs = params.shape[0]
        return [t.reshape(runs, *shape) for t, shape in zip(params.split(self.sizes, 1), self.layout)]

    def forward(self, params: Tensor, x: Tensor) -> Tensor:
        """Every run's outputs on the same inputs: ``(runs, P), (n, d) -> (runs, n, n_out)``."""
        tensors = self.unflatten(params)
        if self._ops is None:
            return self.forward_vmap(tensors, x)
        runs, h, k = params.shape[0], x.expand(params.shape[0], *x.shape), 0
        for op in self._ops:
            if isinstance(op, nn.Linear):
                weight = tensors[k].transpose(1, 2)
                if op.bias is not None:
                    h = torch.baddbmm(tensors[k + 1].unsqueeze(1), h, weight)
                    k += 2
                else:
                    h = torch.bmm(h, weight)
                    k += 1
            else:
                h = op(h)  # elementwise: the same for one run or many
        assert k == len(tensors) and h.shape[0] == runs
        return h

    def forward_vmap(self, tensors: list[Tensor], x: Tensor) -> Tensor:
        """The general form: ``torch.func.functional_call`` on the module, vmapped over runs."""

        def one(*weights):
            return functional_call(self.model, dict(zip(self.names, weights)), (x,))

        return vmap(one)(*tensors)

    def loss(self, params: Tensor, step: int = 0) -> Tensor:
        x, y = self._batch_tensors(step, params.dtype, params.device)
        return self.loss_spec.batched(self.forward(params, x), y, self.loss_params)

    # -- evaluation ------------------------------------------------------------------

    def predict_scores(self, out: Tensor) -> Tensor:
        """Predicted class indices from outputs ``(..., n_out)``."""
        if self.n_out == 1:
            return (out[..., 0] > 0).long()
        return out.argmax(-1)

    @torch.no_grad()
    def evaluate(self, params: Tensor, X: Tensor, y: Tensor) -> dict[str, np.ndarray]:
        """Loss (and accuracy for classes) of each row of ``params`` on ``X, y``, in chunks."""
        n = max(len(X), 1)
        rows = max(1, EVAL_CHUNK // (n * self.width))
        loss, score = [], []
        for i in range(0, params.shape[0], rows):
            out = self.forward(params[i : i + rows], X)
            loss.append(self.loss_spec.batched(out, y, self.loss_params))
            if self.kind != REGRESSION:
                score.append((self.predict_scores(out) == y).double().mean(1))
            elif len(y) > 1:
                # R² = 1 - MSE / Var(y): the share of the target's variance explained.
                mse = (out[..., 0] - y).double().pow(2).mean(1)
                score.append(1 - mse / y.double().var(unbiased=False).clamp_min(1e-300))
        result = {"loss": torch.cat(loss).double().cpu().numpy()}
        if score:
            result["accuracy" if self.kind != REGRESSION else "r2"] = torch.cat(score).cpu().numpy()
        return result

    @torch.no_grad()
    def outputs(self, params: Tensor, X: Tensor) -> Tensor:
        """Outputs of each row of ``params`` on ``X``: ``(rows, n, n_out)``, in chunks."""
        n = max(len(X), 1)
        rows = max(1, EVAL_CHUNK // (n * self.width))
        return torch.cat([self.forward(params[i : i + rows], X) for i in range(0, params.shape[0], rows)])


def _sequential_ops(model: nn.Module) -> list[nn.Module] | None:
    """The layers of a Sequential of Linear layers and elementwise activations, or
    None for any other module (which then runs through ``vmap``)."""
    if not isinstance(model, nn.Sequential):
        return None
    ops = list(model)
    ok = all(isinstance(op, nn.Linear) or type(op) in models.ACTIVATIONS.values() for op in ops)
    return ops if ok else None

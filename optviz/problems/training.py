"""A training task as a problem: the runs' weights as one ``(runs, P)`` batch.

:class:`Task` is the frozen description (data, model, loss, batch size, epochs,
seeds) and the ``train`` kind of problem; :class:`ModelProblem` is what the
engine steps. Each run's weights are a row of the flat batch; ``layout`` is the
model's own parameter shapes (``named_parameters`` order), so an optimizer that
treats matrices as matrices sees them. The forward pass runs every row at once
(one batched matmul per layer), and ``step`` picks the mini-batch: every run of
a comparison sees the same batches in the same order.

In a link::

    ?dataset=moons&dp=noise:0.3&model=mlp&mp=hidden:16,16;activation:relu
     &loss=cross_entropy&batch=32&epochs=40
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap

from ..params import ConfigError, freeze, whole
from . import datasets, losses, models
from .base import Query, boolean, known_fields, pairs_text, typed, value_text
from .datasets import REGRESSION, DataConfig, Split

# Work per evaluation chunk: rows x samples x widest layer, in floats.
EVAL_CHUNK = 1 << 22
MAX_EPOCHS = 10_000
MAX_BATCH = 4096  # a link and the widget alike; 0 is the whole training set
MAX_SEED = datasets.MAX_SEED  # numpy's and sklearn's seeds are 32-bit


def _whole(value: Any, name: str, low: int, high: int | None = None) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 63:
        raise ConfigError(f"{name} must be a whole number below 2**63, got one of {value.bit_length():,} bits")
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

    kind: ClassVar[str] = "train"
    query_key: ClassVar[str] = "dataset"  # the link parameter that names this kind
    start_size: ClassVar[int | None] = None  # coordinates of a start point (None: the model decides)
    own_length: ClassVar[bool] = True
    title: ClassVar[str] = "training task"

    def __post_init__(self):
        object.__setattr__(self, "model_params",
                           freeze(models.get(self.model).resolve(dict(freeze(self.model_params)))))
        object.__setattr__(self, "loss_params", freeze(losses.get(self.loss).resolve(dict(freeze(self.loss_params)))))
        object.__setattr__(self, "batch_size", _whole(self.batch_size, "batch size", 0))
        object.__setattr__(self, "epochs", _whole(self.epochs, "epochs", 1, MAX_EPOCHS))
        object.__setattr__(self, "shuffle_seed", _whole(self.shuffle_seed, "shuffle seed", 0, MAX_SEED))
        object.__setattr__(self, "init_seed", _whole(self.init_seed, "init seed", 0, MAX_SEED))

    def replace(self, **changes) -> Task:
        return replace(self, **changes)

    @property
    def name(self) -> str:
        return self.data.spec.name

    def build(self) -> ModelProblem:
        """The engine's problem: data loaded, model initialized (one per task, cached)."""
        return _build(self)

    @property
    def default_steps(self) -> int:
        return self.build().steps

    # -- JSON ----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
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

    @classmethod
    def from_dict(cls, task: Mapping[str, Any], where: str = "problem") -> Task:
        """A task from parsed JSON; errors name the field as ``where.field`` (the first
        release's files called it ``task``)."""
        known_fields(task, ("kind", "data", "model", "model_params", "loss", "loss_params", "batch_size", "epochs",
                            "shuffle_seed", "init_seed"), where)
        data = typed(task, "data", Mapping, {}, where)
        known_fields(data, ("dataset", "params", "test_fraction", "standardize", "seed", "csv", "target", "task",
                            "drop"), f"{where}.data")
        w = f"{where}.data"
        config = DataConfig(
            dataset=typed(data, "dataset", str, "moons", w),
            params=dict(typed(data, "params", Mapping, {}, w)),
            test_fraction=float(typed(data, "test_fraction", (int, float), 0.25, w)),
            standardize=typed(data, "standardize", bool, True, w),
            seed=typed(data, "seed", int, 0, w),
            csv=typed(data, "csv", str, "", w),
            target=typed(data, "target", str, "", w),
            task=typed(data, "task", str, "auto", w),
            drop=_names(typed(data, "drop", (list, tuple), [], w), f"{w}.drop"),
        )
        if config.task not in datasets.TASKS:
            raise ConfigError(f"'{w}.task' must be one of {', '.join(datasets.TASKS)}")
        w = where
        return cls(
            data=config,
            model=typed(task, "model", str, "mlp", w),
            model_params=dict(typed(task, "model_params", Mapping, {}, w)),
            loss=typed(task, "loss", str, "cross_entropy", w),
            loss_params=dict(typed(task, "loss_params", Mapping, {}, w)),
            batch_size=typed(task, "batch_size", int, 32, w),
            epochs=typed(task, "epochs", int, 30, w),
            shuffle_seed=typed(task, "shuffle_seed", int, 0, w),
            init_seed=typed(task, "init_seed", int, 0, w),
        )

    # -- links ----------------------------------------------------------------------

    def to_query(self) -> dict[str, str]:
        data = self.data
        out = {"dataset": data.dataset}
        if dp := pairs_text(dict(data.params), data.spec.defaults):
            out["dp"] = dp
        if data.test_fraction != DataConfig.test_fraction:
            out["test"] = value_text(float(data.test_fraction))
        if not data.standardize:
            out["std"] = "false"
        if data.seed:
            out["dseed"] = str(data.seed)
        out["model"] = self.model
        if mp := pairs_text(dict(self.model_params), models.get(self.model).defaults):
            out["mp"] = mp
        out["loss"] = self.loss
        if lp := pairs_text(dict(self.loss_params), losses.get(self.loss).defaults):
            out["lp"] = lp
        out["batch"] = str(self.batch_size)
        out["epochs"] = str(self.epochs)
        if self.shuffle_seed:
            out["shuffle"] = str(self.shuffle_seed)
        if self.init_seed:
            out["init"] = str(self.init_seed)
        return out

    @classmethod
    def from_query(cls, query: Query, default: Task | None = None) -> Task:
        base = default if isinstance(default, Task) else cls()
        dataset = query.one("dataset") or base.data.dataset
        if dataset == "csv":
            dataset = base.data.dataset
            query.warn(f"this link was made on an uploaded CSV, which a link cannot carry: its model, loss and runs "
                       f"are shown on {datasets.get(dataset).name}; pick '{datasets.get('csv').name}' under Data and "
                       "upload the file again to train on it")
        elif dataset not in datasets.DATASETS:
            query.warn(f"unknown dataset {dataset!r}; showing {base.data.dataset}")
            dataset = base.data.dataset
        spec = datasets.get(dataset)
        dparams = dict(base.data.params) if dataset == base.data.dataset else {}
        dparams.update(query.pairs("dp", spec.params, spec.resolve, "dataset"))
        data = DataConfig(dataset, dparams)
        try:
            data = DataConfig(dataset, dparams,
                              query.read("test", base.data.test_fraction, _fraction, "a fraction from 0 to 0.5"),
                              query.read("std", True, boolean, "true or false"),
                              query.read("dseed", 0, _seed, f"a seed from 0 to {MAX_SEED}"))
        except ConfigError as exc:
            query.warn(f"data settings ignored: {exc}")
        model = query.choice("model", base.model, list(models.MODELS), "model")
        mparams = query.pairs("mp", models.get(model).params, models.get(model).resolve, "model")
        loss = query.choice("loss", base.loss, list(losses.LOSSES), "loss")
        lparams = query.pairs("lp", losses.get(loss).params, losses.get(loss).resolve, "loss")
        try:
            split = datasets.prepare(data)
            kind, n_classes = split.data.kind, split.data.n_classes
            reason = why_not(kind, model, loss, n_classes)
            if reason:
                fixed_model, fixed_loss = suggest(kind, model, loss, n_classes)
                query.warn(f"{reason}; showing {models.get(fixed_model).name} with {losses.get(fixed_loss).name}")
                if fixed_model != model:
                    mparams = {}
                if fixed_loss != loss:
                    lparams = {}
                model, loss = fixed_model, fixed_loss
        except ConfigError as exc:
            query.warn(f"dataset ignored: {exc}")
            data = base.data
        return cls(data, model, mparams, loss, lparams,
                   batch_size=query.read("batch", base.batch_size, lambda t: whole(t, 0, MAX_BATCH),
                                         f"a batch size from 0 (the whole set) to {MAX_BATCH:,}"),
                   epochs=query.read("epochs", base.epochs, lambda t: whole(t, 1, MAX_EPOCHS),
                                     f"a whole number of epochs from 1 to {MAX_EPOCHS:,}"),
                   shuffle_seed=query.read("shuffle", 0, _seed, f"a seed from 0 to {MAX_SEED}"),
                   init_seed=query.read("init", 0, _seed, f"a seed from 0 to {MAX_SEED}"))


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 0.5:
        raise ValueError(text)
    return value


def _seed(text: str) -> int:
    return whole(text, 0, MAX_SEED)


def _names(values, where: str) -> tuple[str, ...]:
    if not all(isinstance(v, str) for v in values):
        raise ConfigError(f"'{where}' must be a list of column names")
    return tuple(values)


@lru_cache(maxsize=8)
def _build(task: Task) -> ModelProblem:
    return ModelProblem(task)


# -- which models and losses suit which data -------------------------------------


def why_not(kind: str, model_id: str, loss_id: str, n_classes: int = 0) -> str | None:
    """Why this model and loss cannot be trained on data of ``kind``, or None if they can."""
    model = models.get(model_id)
    return model.why_not(kind, n_classes) or losses.get(loss_id).why_not(kind, model, n_classes)


def suggest(kind: str, model: str, loss: str, n_classes: int = 0) -> tuple[str, str]:
    """The nearest sensible (model, loss) for data of ``kind``: keep what fits, swap what does not.

    The swap is the textbook pair: linear regression with MSE, logistic regression
    with binary cross-entropy, softmax regression (or an MLP) with cross-entropy.
    """
    if models.get(model).why_not(kind, n_classes):
        model = {"regression": "linear", "binary": "logistic", "multiclass": "softmax"}[kind]
    if why_not(kind, model, loss, n_classes):
        order = ("mse", "mae", "huber", "smooth_l1") if kind == REGRESSION else ("cross_entropy", "bce", "hinge")
        loss = next(name for name in order if not why_not(kind, model, name, n_classes))
    return model, loss


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


# -- cost and evaluation: what a training adds to the engine's run ---------------------

# Multiply-adds spent evaluating train/test metrics after training.
EVAL_BUDGET = 3e9
MAX_EVAL_POINTS = 200
TRAIN_SUBSET = 1000  # train metrics on at most this many training rows (a seeded sample)
# Per-step tensors below this many elements run on one intra-op thread.
SMALL_STEP = 1 << 20


def max_train_work() -> float:
    """Most multiply-adds one training may take (OPTVIZ_MAX_TRAIN_WORK), about a minute of CPU."""
    import os
    import warnings

    text = os.environ.get("OPTVIZ_MAX_TRAIN_WORK")
    if text:
        try:
            value = float(text)
            if value > 0:
                return value
        except ValueError:
            pass
        warnings.warn(f"OPTVIZ_MAX_TRAIN_WORK={text!r} is not a positive number; using the default", stacklevel=2)
    return 5e11


class ModelProblem:
    """The engine's view of a task: ``loss(params (runs, P), step) -> (runs,)``."""

    divergence_bound = 1e8  # |weight| beyond this counts as diverged
    # A loss above this many times max(1, the run's first loss) counts as diverged too: an
    # lr of 1e6 can keep the weights finite while the loss reaches millions.
    divergence_loss_factor = 1e3
    # Python and kernel overhead of a step, and of each run in it (a rough CPU figure).
    seconds_per_step, seconds_per_run_step = 3e-4, 1e-4

    def __init__(self, task: Task):
        self.task = task
        self.split: Split = datasets.prepare(task.data)
        data = self.split.data
        self.kind = data.kind
        reason = why_not(self.kind, task.model, task.loss, data.n_classes)
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


    def reference(self, start: list[float], dtype: torch.dtype) -> tuple[list[Tensor], Callable[[int], Tensor]]:
        """The plain torch form the oracle loop trains: a copy of the ``torch.nn`` model at
        ``start``, and the ``torch.nn`` loss of step ``t``'s mini-batch."""
        model = copy.deepcopy(self.model).to(dtype)
        with torch.no_grad():
            flat = torch.tensor(start, dtype=dtype)
            offset = 0
            for p in model.parameters():
                p.copy_(flat[offset : offset + p.numel()].reshape(p.shape))
                offset += p.numel()
        loss_fn = self.loss_spec.module(self.n_out, **self.loss_params)
        X, y = self.tensors(dtype)[:2]

        def loss_at(t: int) -> Tensor:
            rows = torch.as_tensor(self.batch(t))
            return loss_fn(model(X[rows]), self.loss_spec.target(y[rows], self.n_out, dtype))

        return list(model.parameters()), loss_at

    # -- cost and evaluation: what a training adds to the engine's run ------------------

    def work(self, runs: int, steps: int | None = None) -> float:
        """Multiply-adds of a training: forward and backward (about 3x the forward) per sample."""
        steps = self.steps if steps is None else steps
        epochs, rest = divmod(steps, self.steps_per_epoch)
        # Whole epochs see every row once (an epoch's last batch may be short); then the
        # rest's full batches, and the last point's batch too.
        samples = epochs * self.n_train + rest * self.batch_size + self.batch_size
        return 3.0 * runs * samples * self.flops_per_sample


    def small_step(self, runs: int) -> bool:
        """Whether a step is small enough that one intra-op thread does it fastest."""
        return runs * self.batch_size * self.width <= SMALL_STEP

    def check_work(self, runs: int, steps: int, max_steps: int) -> None:
        """Refuse a training the server would take too long over, with what to change."""
        if steps > max_steps:
            raise ConfigError(
                f"{self.task.epochs} epochs x {self.steps_per_epoch} batches = {steps:,} steps is more "
                f"than this server allows ({max_steps:,}; OPTVIZ_MAX_STEPS). Use fewer epochs or larger batches."
            )
        limit = max_train_work()
        needed = self.work(runs, steps)
        if needed > limit:
            raise ConfigError(
                f"{runs} runs x {self.task.epochs} epochs on a {self.dims:,}-weight model is about "
                f"{needed / 1e9:,.0f} GFLOP; this server allows {limit / 1e9:,.0f} (OPTVIZ_MAX_TRAIN_WORK). "
                "Use fewer runs or epochs, or a smaller model."
            )


    def eval_points(self, runs: int, n_eval: int, available: int) -> int:
        per_point = runs * max(1, n_eval) * self.flops_per_sample / 2
        return int(min(available, MAX_EVAL_POINTS, max(12, EVAL_BUDGET // max(per_point, 1))))


    def evaluate_path(self, path_steps: np.ndarray, path_params: np.ndarray, dtype: str
                          ) -> tuple[np.ndarray, dict[str, np.ndarray], int]:
        """Train/test loss and accuracy (or R²) at up to a few hundred kept points, in one batched pass.

        Returns the evaluated steps, each metric as (points, runs) (NaN once a run
        diverged) and how many training rows the train metrics were measured on.
        """
        runs = path_params.shape[1]
        tdtype = torch.float64 if dtype == "float64" else torch.float32
        X_train, y_train, X_test, y_test = self.tensors(tdtype)
        subset = len(y_train)
        if subset > TRAIN_SUBSET:
            rows = np.sort(np.random.default_rng(0).choice(len(y_train), TRAIN_SUBSET, replace=False))
            X_train, y_train, subset = X_train[rows], y_train[rows], TRAIN_SUBSET
        count = self.eval_points(runs, subset + len(y_test), len(path_steps))
        pick = np.unique(np.linspace(0, len(path_steps) - 1, count).round().astype(int))
        params = torch.as_tensor(path_params[pick], dtype=tdtype).reshape(-1, path_params.shape[2])
        alive = torch.isfinite(params).all(1).numpy()
        # A diverged run's NaN weights score NaN, not a chance accuracy.
        params = torch.nan_to_num(params, nan=0.0, posinf=0.0, neginf=0.0)
        metrics: dict[str, np.ndarray] = {}
        for split, X, y in (("train", X_train, y_train), ("test", X_test, y_test)):
            if not len(y):
                continue
            for name, values in self.evaluate(params, X, y).items():
                values = np.where(alive, values, np.nan)
                metrics[f"{split}_{name}"] = values.reshape(len(pick), runs)
        return path_steps[pick], metrics, subset


def _sequential_ops(model: nn.Module) -> list[nn.Module] | None:
    """The layers of a Sequential of Linear layers and elementwise activations, or
    None for any other module (which then runs through ``vmap``)."""
    if not isinstance(model, nn.Sequential):
        return None
    ops = list(model)
    ok = all(isinstance(op, nn.Linear) or type(op) in models.ACTIVATIONS.values() for op in ops)
    return ops if ok else None

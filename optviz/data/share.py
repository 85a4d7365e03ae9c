"""The Datasets page's share link: a TrainExperiment as readable query parameters, and back.

A link looks like::

    ?dataset=moons&dp=noise:0.3&model=mlp&mp=hidden:16,16;activation:relu
     &loss=cross_entropy&batch=32&epochs=40
     &run=SGD;lr=0.1;momentum=0.9&run=Adam;lr=0.01

Runs are written as on the Surfaces page (``optviz.share``). Only values that
differ from the defaults are written. Reading never raises: a field that does
not parse keeps the default's value and is named in the returned warnings. An
uploaded CSV cannot travel in a link; a link to one says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..engine import RunConfig
from ..optim.base import ConfigError
from ..share import _encode_run, _value, decode_runs
from . import datasets, losses, models
from .datasets import DataConfig
from .experiment import TrainExperiment
from .problem import Task, why_not_loss, why_not_model


def _pairs(values: Mapping[str, Any], defaults: Mapping[str, Any]) -> str:
    return ";".join(f"{k}:{_value(v)}" for k, v in sorted(values.items()) if v != defaults.get(k))


def encode(exp: TrainExperiment) -> dict[str, str | list[str]]:
    task, data = exp.task, exp.task.data
    out: dict[str, str | list[str]] = {"dataset": data.dataset}
    if dp := _pairs(dict(data.params), data.spec.defaults):
        out["dp"] = dp
    if data.test_fraction != DataConfig.test_fraction:
        out["test"] = _value(float(data.test_fraction))
    if not data.standardize:
        out["std"] = "false"
    if data.seed:
        out["dseed"] = str(data.seed)
    out["model"] = task.model
    if mp := _pairs(dict(task.model_params), models.get(task.model).defaults):
        out["mp"] = mp
    out["loss"] = task.loss
    if lp := _pairs(dict(task.loss_params), losses.get(task.loss).defaults):
        out["lp"] = lp
    out["batch"] = str(task.batch_size)
    out["epochs"] = str(task.epochs)
    if task.shuffle_seed:
        out["shuffle"] = str(task.shuffle_seed)
    if task.init_seed:
        out["init"] = str(task.init_seed)
    if exp.dtype != "float32":
        out["dtype"] = exp.dtype
    starts = [r.start for r in exp.runs if r.start is not None]
    start = max(starts, key=starts.count) if starts else None
    if start is not None:
        out["start"] = _value(start)
    out["run"] = [_encode_run(r, start) for r in exp.runs]
    return out


def _read_pairs(text: str | None, resolve, what: str, warnings: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in filter(None, (text or "").split(";")):
        key, sep, value = item.partition(":")
        try:
            if not sep:
                raise ConfigError(f"{item!r} is not key:value")
            out[key] = resolve({key: value})[key]
        except ConfigError as exc:
            warnings.append(f"{what} parameter ignored: {exc}")
    return out


def decode(params: Mapping[str, Any], default: TrainExperiment, allowed: tuple[str, ...] = ("torch.optim",)
           ) -> tuple[TrainExperiment, list[str]]:
    """Read query parameters; bad fields keep ``default``'s value and add a warning."""
    warnings: list[str] = []

    def one(key: str) -> str | None:
        value = params.get(key)
        if isinstance(value, list | tuple):
            value = value[-1] if value else None
        return None if value is None else str(value)

    def number(key, default_value, cast, check=lambda v: True):
        text = one(key)
        if text is None:
            return default_value
        try:
            value = cast(text)
            if not check(value):
                raise ValueError(text)
            return value
        except (TypeError, ValueError):
            warnings.append(f"{key}={text!r} is not valid; using {default_value!r}")
            return default_value

    base = default.task
    dataset = one("dataset") or base.data.dataset
    if dataset == "csv":
        warnings.append("an uploaded CSV cannot travel in a link: upload the file again")
        dataset = base.data.dataset
    elif dataset not in datasets.DATASETS:
        warnings.append(f"unknown dataset {dataset!r}; showing {base.data.dataset}")
        dataset = base.data.dataset
    spec = datasets.get(dataset)
    dparams = dict(base.data.params) if dataset == base.data.dataset else {}
    dparams.update(_read_pairs(one("dp"), spec.resolve, "dataset", warnings))
    data = DataConfig(dataset, dparams)
    try:
        data = DataConfig(dataset, dparams, number("test", base.data.test_fraction, float, lambda v: 0 <= v <= 0.5),
                          number("std", True, _bool), number("dseed", 0, int, lambda v: v >= 0))
    except ConfigError as exc:
        warnings.append(f"data settings ignored: {exc}")

    model = one("model") or base.model
    if model not in models.MODELS:
        warnings.append(f"unknown model {model!r}; showing {base.model}")
        model = base.model
    mparams = _read_pairs(one("mp"), models.get(model).resolve, "model", warnings)
    loss = one("loss") or base.loss
    if loss not in losses.LOSSES:
        warnings.append(f"unknown loss {loss!r}; showing {base.loss}")
        loss = base.loss
    lparams = _read_pairs(one("lp"), losses.get(loss).resolve, "loss", warnings)
    try:
        split = datasets.prepare(data)
        kind, n_classes = split.data.kind, split.data.n_classes
        reason = why_not_model(kind, model, n_classes) or why_not_loss(kind, model, loss, n_classes)
        if reason:
            fixed_model, fixed_loss = suggest(kind, model, loss, n_classes)
            warnings.append(f"{reason}; showing {models.get(fixed_model).name} with {losses.get(fixed_loss).name}")
            if fixed_model != model:
                mparams = {}
            if fixed_loss != loss:
                lparams = {}
            model, loss = fixed_model, fixed_loss
    except ConfigError as exc:
        warnings.append(f"dataset ignored: {exc}")
        data = base.data
    task = Task(data, model, mparams, loss, lparams,
                batch_size=number("batch", base.batch_size, int, lambda v: v >= 0),
                epochs=number("epochs", base.epochs, int, lambda v: 1 <= v <= 10_000),
                shuffle_seed=number("shuffle", 0, int, lambda v: v >= 0),
                init_seed=number("init", 0, int, lambda v: v >= 0))
    dtype = number("dtype", default.dtype, str, lambda v: v in ("float32", "float64"))
    start = number("start", None, _point)

    raw = params.get("run")
    runs = decode_runs(raw, default.runs, allowed, warnings)
    runs = [RunConfig(r.optimizer, r.hparams, r.schedule, r.schedule_args, r.start or start, label=r.label,
                      color=r.color) for r in runs]
    return TrainExperiment(task, tuple(runs), dtype), warnings


def suggest(kind: str, model: str, loss: str, n_classes: int = 0) -> tuple[str, str]:
    """The nearest sensible (model, loss) for data of ``kind``: keep what fits, swap what does not."""
    if why_not_model(kind, model, n_classes):
        model = {"regression": "linear", "binary": "logistic", "multiclass": "softmax"}[kind]
        if kind != "regression" and model == "logistic" and n_classes > 2:
            model = "softmax"
    if why_not_loss(kind, model, loss, n_classes):
        order = ("mse", "mae", "huber", "smooth_l1") if kind == "regression" else ("cross_entropy", "bce", "hinge")
        loss = next(name for name in order if not why_not_loss(kind, model, name, n_classes))
    return model, loss


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


def _point(text: str) -> tuple[float, ...]:
    from ..share import finite

    parts = text.split(",")
    if not 1 <= len(parts) <= 16:
        raise ValueError(text)
    return tuple(finite(p) for p in parts)

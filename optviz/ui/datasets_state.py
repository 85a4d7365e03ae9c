"""Session state for the Datasets page: widget keys <-> TrainExperiment.

Every key of this page starts with ``d.`` (its run list too), so the Surfaces
page's state in the same session is left alone. ``load`` writes an experiment
into the widgets (a preset, a share link); ``collect`` reads them back into a
frozen TrainExperiment that keys the compute cache and the URL.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from ..data import datasets, losses, models
from ..data import share as dshare
from ..data.datasets import DataConfig
from ..data.experiment import TrainExperiment
from ..data.presets import DEFAULT
from ..data.problem import Task, why_not_loss, why_not_model
from ..engine import RunConfig
from ..optim.base import ConfigError, HParam
from .runs import RunEditor, allowed_modules

P = "d."
EDITOR = RunEditor(P)
BATCH_MODES = {"full": "Full batch (GD)", "mini": "Mini-batch", "single": "Single sample"}


def k(name: str) -> str:
    return P + name


def init() -> list[str]:
    """On a session's first visit, load the experiment from the URL. Returns warnings."""
    if EDITOR.ids_key in st.session_state:
        return []
    params = {key: st.query_params.get_all(key) for key in st.query_params.keys()}
    if "dataset" not in params:  # no link, or one of the Surfaces page's
        load(DEFAULT)
        return []
    exp, warnings = dshare.decode(params, DEFAULT, allowed_modules())
    load(exp)
    return warnings


def _set_params(prefix: str, spec_params: tuple[HParam, ...], values: dict[str, Any]) -> None:
    s = st.session_state
    for p in spec_params:
        value = values.get(p.name, p.default)
        if p.kind == "ints":
            s[k(f"{prefix}.{p.name}")] = ",".join(str(v) for v in value)
        elif p.kind == "float":
            s[k(f"{prefix}.{p.name}")] = float(value)
        else:
            s[k(f"{prefix}.{p.name}")] = value


def load(exp: TrainExperiment) -> None:
    """Put an experiment into the widgets' state (before widgets exist, or from a callback)."""
    s = st.session_state
    task, data = exp.task, exp.task.data
    s[k("dataset")] = data.dataset
    _set_params("dp", data.spec.params, dict(data.params))
    s[k("test")], s[k("std")], s[k("dseed")] = float(data.test_fraction), bool(data.standardize), int(data.seed)
    if data.dataset == "csv":
        s[k("csv")], s[k("csv_target")], s[k("csv_task")] = data.csv, data.target, data.task
    s[k("model")] = task.model
    _set_params("mp", models.get(task.model).params, dict(task.model_params))
    s[k("loss")] = task.loss
    _set_params("lp", losses.get(task.loss).params, dict(task.loss_params))
    mode = "full" if task.batch_size == 0 else "single" if task.batch_size == 1 else "mini"
    s[k("batch_mode")], s[k("batch")] = mode, task.batch_size if mode == "mini" else 32
    s[k("epochs")], s[k("shuffle")], s[k("init")] = task.epochs, task.shuffle_seed, task.init_seed
    s[k("dtype")] = exp.dtype
    starts = [r.start for r in exp.runs if r.start is not None]
    s[k("own_start")] = bool(starts)
    if starts:
        s[k("start0")], s[k("start1")] = float(starts[0][0]), float(starts[0][-1])
    else:
        s.pop(k("start0"), None)
        s.pop(k("start1"), None)
    EDITOR.load([RunConfig(r.optimizer, r.hparams, r.schedule, r.schedule_args, label=r.label, color=r.color)
                 for r in exp.runs])


def _read_params(prefix: str, spec) -> dict[str, Any]:
    s = st.session_state
    values = {}
    for p in spec.params:
        value = s.get(k(f"{prefix}.{p.name}"), p.default)
        values[p.name] = p.parse(value) if p.kind == "ints" else value
    return values


def data_config() -> DataConfig:
    s = st.session_state
    spec = datasets.get(s[k("dataset")])
    extra = {}
    if spec.source == "upload":
        extra = dict(csv=s.get(k("csv"), ""), target=s.get(k("csv_target")) or "", task=s.get(k("csv_task"), "auto"))
    return DataConfig(spec.id, _read_params("dp", spec), float(s[k("test")]), bool(s[k("std")]), int(s[k("dseed")]),
                      **extra)


def batch_size() -> int:
    s = st.session_state
    mode = s.get(k("batch_mode"), "mini")
    return 0 if mode == "full" else 1 if mode == "single" else int(s.get(k("batch"), 32))


def collect() -> tuple[TrainExperiment | None, dict[Any, str]]:
    """The experiment the widgets describe (None if the task itself is invalid) and errors:
    ``"data"``/``"task"`` for the task, a run id for a run that can't be built."""
    s = st.session_state
    errors: dict[Any, str] = {}
    try:
        data = data_config()
    except ConfigError as exc:
        errors["data"] = str(exc)
        return None, errors
    try:
        task = Task(data, s[k("model")], _read_params("mp", models.get(s[k("model")])), s[k("loss")],
                    _read_params("lp", losses.get(s[k("loss")])), batch_size(), int(s[k("epochs")]),
                    int(s[k("shuffle")]), int(s[k("init")]))
    except ConfigError as exc:
        errors["task"] = str(exc)
        return None, errors
    start = None
    if s.get(k("own_start")) and k("start0") in s:
        start = (float(s[k("start0")]), float(s[k("start1")]))
    runs = []
    for rid in EDITOR.ids:
        try:
            run = EDITOR.collect_run(rid)
            runs.append(RunConfig(run.optimizer, run.hparams, run.schedule, run.schedule_args, start,
                                  label=run.label, color=run.color))
        except ConfigError as exc:
            errors[rid] = str(exc)
    return TrainExperiment(task, tuple(runs), s.get(k("dtype"), "float32")), errors


def data_kind() -> tuple[str, int] | None:
    """The kind of the chosen data (regression, binary, multiclass) and its class count, or None."""
    try:
        split = datasets.prepare(data_config())
    except ConfigError:
        return None
    return split.data.kind, split.data.n_classes


def fit_model_and_loss() -> None:
    """After the data changed: keep the model and loss if they suit it, else the nearest that do."""
    s = st.session_state
    kind = data_kind()
    if kind is None:
        return
    model, loss = dshare.suggest(kind[0], s[k("model")], s[k("loss")], kind[1])
    if model != s[k("model")]:
        s[k("model")] = model
        _set_params("mp", models.get(model).params, {})
    if loss != s[k("loss")]:
        s[k("loss")] = loss
        _set_params("lp", losses.get(loss).params, {})


def on_dataset_change() -> None:
    s = st.session_state
    spec = datasets.get(s[k("dataset")])
    _set_params("dp", spec.params, {})
    s[k("own_start")] = False
    fit_model_and_loss()


def on_model_change() -> None:
    s = st.session_state
    _set_params("mp", models.get(s[k("model")]).params, {})
    s[k("own_start")] = False
    fit_model_and_loss()


def on_loss_change() -> None:
    _set_params("lp", losses.get(st.session_state[k("loss")]).params, {})


def options(kind: tuple[str, int] | None) -> tuple[list[str], dict[str, str], list[str], dict[str, str]]:
    """Models and losses that can be picked for this data, and why the others cannot."""
    s = st.session_state
    if kind is None:
        return list(models.MODELS), {}, list(losses.LOSSES), {}
    name, n_classes = kind
    model_why = {m: why_not_model(name, m, n_classes) for m in models.MODELS}
    model = s[k("model")]
    loss_why = {lo: why_not_loss(name, model, lo, n_classes) for lo in losses.LOSSES}
    return ([m for m, why in model_why.items() if not why], {m: w for m, w in model_why.items() if w},
            [lo for lo, why in loss_why.items() if not why], {lo: w for lo, w in loss_why.items() if w})


def sync_url(exp: TrainExperiment) -> None:
    """Keep the address bar equal to the page, so copying it shares the picture."""
    if exp.task.data.dataset == "csv":
        wanted = {"dataset": "csv"}
    else:
        wanted = dshare.encode(exp)
    current = {key: st.query_params.get_all(key) for key in st.query_params.keys()}
    normal = {key: v if isinstance(v, list) else [v] for key, v in wanted.items()}
    if current != normal:
        st.query_params.from_dict(wanted)

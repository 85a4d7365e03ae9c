"""The Datasets page's own part: data (or an uploaded CSV), model, loss, batches, epochs and seeds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import streamlit as st

from ... import charts
from ...analysis import DataView, Landscape, data_view, landscape
from ...codec import View, common_start
from ...engine import DEFAULT_RECORD
from ...experiment import Experiment, Outcome
from ...params import ConfigError, HParam
from ...problems import ModelProblem, Task, datasets, losses, models
from ...problems.datasets import DATASETS, DataConfig
from ...problems.training import MAX_BATCH, MAX_EPOCHS, suggest, why_not
from ..widgets import param_widget, plain, set_value

Key = Callable[[str], str]
TITLE = "Datasets"
BATCH_MODES = {"full": "Full batch (GD)", "mini": "Mini-batch", "single": "Single sample"}
# Widget keys the page always draws: if any is missing, Streamlit dropped them (see explore.init).
REQUIRED = ("dataset", "test", "std", "dseed", "model", "loss", "batch_mode", "epochs", "shuffle", "init", "inside")
INSIDE = True  # draws the optimizer's state over steps and the curvature: see optviz.ui.inside
# A model's state is every weight at every step: the inside view records norms and percentiles
# per update instead (a few numbers per run), so its memory does not grow with the model.
INSIDE_RECORD = (*DEFAULT_RECORD, "norms")


def _set_params(k: Key, prefix: str, params: tuple[HParam, ...], values: dict[str, Any]) -> None:
    for p in params:
        set_value(k(f"{prefix}.{p.name}"), p, values.get(p.name, p.default))


def _read_params(k: Key, prefix: str, spec) -> dict[str, Any]:
    s = st.session_state
    values = {}
    for p in spec.params:
        value = s.get(k(f"{prefix}.{p.name}"), p.default)
        values[p.name] = p.parse(value) if p.kind == "ints" else value
    return values


def load(k: Key, exp: Experiment, view: View) -> None:
    """Put the experiment's task into the widgets (before they exist, or from a callback)."""
    s = st.session_state
    task, data = exp.problem, exp.problem.data
    s[k("dataset")] = data.dataset
    _set_params(k, "dp", data.spec.params, dict(data.params))
    s[k("test")], s[k("std")], s[k("dseed")] = float(data.test_fraction), bool(data.standardize), int(data.seed)
    if data.dataset == "csv":
        s[k("csv")], s[k("csv_target")], s[k("csv_task")] = data.csv, data.target, data.task
        s[k("csv_drop")] = list(data.drop)
    s[k("model")] = task.model
    _set_params(k, "mp", models.get(task.model).params, dict(task.model_params))
    s[k("loss")] = task.loss
    _set_params(k, "lp", losses.get(task.loss).params, dict(task.loss_params))
    mode = "full" if task.batch_size == 0 else "single" if task.batch_size == 1 else "mini"
    s[k("batch_mode")], s[k("batch")] = mode, task.batch_size if mode == "mini" else 32
    s[k("epochs")], s[k("shuffle")], s[k("init")] = task.epochs, task.shuffle_seed, task.init_seed
    s[k("inside")] = view.inside
    start = common_start(exp.runs)
    s[k("own_start")] = start is not None
    if start is not None:
        s[k("start0")], s[k("start1")] = float(start[0]), float(start[-1])
    else:
        s.pop(k("start0"), None)
        s.pop(k("start1"), None)


def data_config(k: Key) -> DataConfig:
    s = st.session_state
    spec = datasets.get(s[k("dataset")])
    extra = {}
    if spec.source == "upload":
        extra = dict(csv=s.get(k("csv"), ""), target=s.get(k("csv_target")) or "", task=s.get(k("csv_task"), "auto"),
                     drop=tuple(c for c in s.get(k("csv_drop"), ()) if c != s.get(k("csv_target"))))
    return DataConfig(spec.id, _read_params(k, "dp", spec), float(s[k("test")]), bool(s[k("std")]),
                      int(s[k("dseed")]), **extra)


def batch_size(k: Key) -> int:
    s = st.session_state
    mode = s.get(k("batch_mode"), "mini")
    return 0 if mode == "full" else 1 if mode == "single" else int(s.get(k("batch"), 32))


def collect(k: Key) -> tuple[Task | None, int | None, dict[str, Any], View, list[str]]:
    """The task (None if it cannot be built: the errors say why), no fixed steps (the
    epochs decide), what every run shares (a chosen start), the view and errors."""
    s = st.session_state
    errors: list[str] = []
    task = None
    try:
        task = Task(data_config(k), s[k("model")], _read_params(k, "mp", models.get(s[k("model")])), s[k("loss")],
                    _read_params(k, "lp", losses.get(s[k("loss")])), batch_size(k), int(s[k("epochs")]),
                    int(s[k("shuffle")]), int(s[k("init")]))
    except ConfigError as exc:
        errors.append(str(exc))
    start = None
    if s.get(k("own_start")) and k("start0") in s:
        start = (float(s[k("start0")]), float(s[k("start1")]))
    return task, None, {"start": start}, View(inside=bool(s.get(k("inside"), False))), errors


def data_kind(k: Key) -> tuple[str, int] | None:
    """The kind of the chosen data (regression, binary, multiclass) and its class count, or None."""
    try:
        split = datasets.prepare(data_config(k))
    except ConfigError:
        return None
    return split.data.kind, split.data.n_classes


def fit_model_and_loss(k: Key) -> None:
    """After the data changed: keep the model and loss if they suit it, else the nearest that do."""
    s = st.session_state
    kind = data_kind(k)
    if kind is None:
        return
    model, loss = suggest(kind[0], s[k("model")], s[k("loss")], kind[1])
    if model != s[k("model")]:
        s[k("model")] = model
        _set_params(k, "mp", models.get(model).params, {})
    if loss != s[k("loss")]:
        s[k("loss")] = loss
        _set_params(k, "lp", losses.get(loss).params, {})


def _on_dataset_change(k: Key) -> None:
    s = st.session_state
    _set_params(k, "dp", datasets.get(s[k("dataset")]).params, {})
    s[k("own_start")] = False
    fit_model_and_loss(k)


def _on_model_change(k: Key) -> None:
    s = st.session_state
    _set_params(k, "mp", models.get(s[k("model")]).params, {})
    s[k("own_start")] = False
    fit_model_and_loss(k)


def _on_loss_change(k: Key) -> None:
    _set_params(k, "lp", losses.get(st.session_state[k("loss")]).params, {})


def _options(k: Key, kind: tuple[str, int] | None):
    """Models and losses that can be picked for this data, and why the others cannot."""
    if kind is None:
        return list(models.MODELS), {}, list(losses.LOSSES), {}
    name, n_classes = kind
    model_why = {m: spec.why_not(name, n_classes) for m, spec in models.MODELS.items()}
    model = st.session_state[k("model")]
    loss_why = {lo: why_not(name, model, lo, n_classes) for lo in losses.LOSSES}
    return ([m for m, why in model_why.items() if not why], {m: w for m, w in model_why.items() if w},
            [lo for lo, why in loss_why.items() if not why], {lo: w for lo, w in loss_why.items() if w})


def _on_upload(k: Key) -> None:
    s = st.session_state
    upload = s.get(k("upload"))
    s[k("csv_error")] = ""
    if upload is None:
        s[k("csv")], s[k("csv_name")] = "", ""
        return
    raw = upload.getvalue()
    if len(raw) > datasets.MAX_CSV_BYTES:
        s[k("csv")] = ""
        s[k("csv_error")] = (f"{upload.name} is {len(raw) / 1e6:.1f} MB; "
                             f"the limit is {datasets.MAX_CSV_BYTES / 1e6:g} MB")
        return
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        s[k("csv")] = ""
        s[k("csv_error")] = f"{upload.name} is not UTF-8 text (byte {exc.start}); save it as CSV UTF-8"
        return
    if not text.strip():
        s[k("csv")] = ""
        s[k("csv_error")] = f"{upload.name} is empty: a CSV needs a header row and data rows"
        return
    s[k("csv")], s[k("csv_name")], s[k("csv_target")], s[k("csv_task")] = text, upload.name, "", "auto"
    # Text columns (names, dates) cannot be features: leave them out to start with, and say so.
    try:
        text_cols = datasets.text_columns(text)
        last = datasets.csv_columns(text)[-1]
    except ConfigError:
        text_cols, last = [], ""
    s[k("csv_drop")] = [c for c in text_cols if c != last]
    fit_model_and_loss(k)


def _csv_ui(k: Key) -> None:
    s = st.session_state
    st.file_uploader("CSV file", type=["csv", "txt"], key=k("upload"), on_change=_on_upload, args=(k,),
                     max_upload_size=max(1, datasets.MAX_CSV_BYTES // 1_000_000),
                     help=f"A header row, then one row per example; numeric feature columns. At most "
                          f"{datasets.MAX_CSV_ROWS:,} rows and {datasets.MAX_CSV_COLUMNS} columns. "
                          "The file stays in this session; a share link cannot carry it.")
    if s.get(k("csv_error")):
        st.error(s[k("csv_error")])
    text = s.get(k("csv"), "")
    if not text:
        return
    if s.get(k("upload")) is None:  # the uploader forgets its file when the page is left; the text stays
        st.caption(f"Using {s.get(k('csv_name')) or 'the uploaded file'}.")
    try:
        columns = datasets.csv_columns(text)
    except ConfigError as exc:
        st.error(f"{s.get(k('csv_name'), 'the file')}: {exc}")
        return
    if s.get(k("csv_target")) not in columns:
        s[k("csv_target")] = columns[-1]
    st.selectbox("Target column", columns, key=k("csv_target"), on_change=fit_model_and_loss, args=(k,))
    st.selectbox("Target is", datasets.TASKS, key=k("csv_task"), on_change=fit_model_and_loss, args=(k,),
                 format_func={"auto": "auto (whole numbers: classes)", "regression": "a number (regression)",
                              "classification": "a class (classification)"}.get)
    features = [c for c in columns if c != s[k("csv_target")]]
    s[k("csv_drop")] = [c for c in s.get(k("csv_drop"), []) if c in features]
    st.multiselect("Leave out columns", features, key=k("csv_drop"), on_change=fit_model_and_loss, args=(k,),
                   help="Columns that are not features: names, dates, identifiers. A feature must be numeric; "
                        "columns with text in them start left out.")


def _unavailable(why: dict[str, str], names) -> None:
    """Why the options that are not offered are not: one line per reason, naming them."""
    groups: dict[str, list[str]] = {}
    for item, message in why.items():
        name = names(item)
        reason = message.split(";")[0].removeprefix(name).strip()
        groups.setdefault(reason, []).append(f"*{name}*")
    if groups:
        st.caption("Not offered for this data:  \n" + "  \n".join(
            f"{', '.join(items)}: {reason}" for reason, items in groups.items()))


def _labelled_widget(k: Key, prefix: str, p: HParam) -> None:
    # The help text reads better than the id; the id (used in links and the CLI) goes in the tooltip.
    label = p.help[:1].upper() + p.help[1:] if p.help else p.name
    param_widget(k(f"{prefix}.{p.name}"), replace(p, help=f"`{p.name}`"), label=label, bounded=True)


def sidebar(k: Key) -> None:
    s = st.session_state
    st.markdown("### Data")
    st.selectbox("Dataset", list(DATASETS), key=k("dataset"), on_change=_on_dataset_change, args=(k,),
                 format_func=lambda d: DATASETS[d].name, label_visibility="collapsed")
    spec = datasets.get(s[k("dataset")])
    st.caption(spec.summary)
    if spec.source == "upload":
        _csv_ui(k)
    for p in spec.params:
        _labelled_widget(k, "dp", p)
    st.slider("Test fraction", 0.0, 0.5, step=0.05, key=k("test"),
              help="Rows held out to measure generalization; 0 trains on everything.")
    st.toggle("Standardize features", key=k("std"),
              help="Shift and scale each feature (and a regression target) to mean 0, std 1, using training "
                   "rows only. Off, unequal feature scales make the loss an elongated valley.")
    st.number_input("Data seed", min_value=0, max_value=datasets.MAX_SEED, step=1, key=k("dseed"),
                    help="Seeds the synthetic data and the train/test split.")

    st.markdown("### Model and loss")
    kind = data_kind(k)
    model_ok, model_why, loss_ok, loss_why = _options(k, kind)
    if s[k("model")] not in model_ok:
        model_ok = [*model_ok, s[k("model")]]
    st.selectbox("Model", model_ok, key=k("model"), on_change=_on_model_change, args=(k,),
                 format_func=lambda m: models.get(m).name)
    mspec = models.get(s[k("model")])
    st.caption(mspec.summary)
    for p in mspec.params:
        _labelled_widget(k, "mp", p)
    _unavailable(model_why, lambda m: models.get(m).name)
    if s[k("loss")] not in loss_ok:
        loss_ok = [*loss_ok, s[k("loss")]]
    st.selectbox("Loss", loss_ok, key=k("loss"), on_change=_on_loss_change, args=(k,),
                 format_func=lambda lo: losses.get(lo).name)
    lspec = losses.get(s[k("loss")])
    st.caption(lspec.summary)
    for p in lspec.params:
        _labelled_widget(k, "lp", p)
    _unavailable(loss_why, lambda lo: losses.get(lo).name)

    st.markdown("### Training")
    st.segmented_control("Batches", list(BATCH_MODES), key=k("batch_mode"), format_func=BATCH_MODES.get,
                         required=True,
                         help="Full batch: gradient descent on all training rows each step. Mini-batch: a "
                              "shuffled slice each step. Single sample: one row per step (classic SGD).")
    if s.get(k("batch_mode")) == "mini":
        st.number_input("Batch size", min_value=2, max_value=MAX_BATCH, step=8, key=k("batch"))
    st.number_input("Epochs", min_value=1, max_value=MAX_EPOCHS, step=5, key=k("epochs"),
                    help="Passes over the training rows.")
    st.caption("Weight decay (L2) is each optimizer's own `weight_decay`, in its run below.")
    st.toggle("Show the optimizer's state", key=k("inside"),
              help="A panel of each run's state over steps (‖g‖, each buffer's norm, the effective learning "
                   "rate, cos(g, update)) and, on request, the sharpness λ_max along the paths. A model's state "
                   "is summarized per step by norms and percentiles over its weights, not kept weight by weight.")
    with st.expander("Seeds"):
        st.number_input("Shuffle seed", min_value=0, max_value=datasets.MAX_SEED, step=1, key=k("shuffle"),
                        help="Orders the mini-batches. Every run sees the same batches: a fair race.")
        st.number_input("Init seed", min_value=0, max_value=datasets.MAX_SEED, step=1, key=k("init"),
                        help="Draws the model's initial weights (torch's default init). Every run starts there.")


def start_ui(k: Key, problem: ModelProblem) -> None:
    """For a model with two weights: start every run at a chosen point instead of the seeded init."""
    s = st.session_state
    if problem.dims != 2:
        return
    labels = problem.labels

    def on_toggle():
        if s.get(k("own_start")):
            s[k("start0")], s[k("start1")] = (round(v, 4) for v in problem.start)

    own = st.toggle(f"Choose the start ({labels[0]}, {labels[1]})", key=k("own_start"), on_change=on_toggle,
                    help="Off: the seeded initialization. On: every run starts at this point.")
    if own:
        if k("start0") not in s:
            on_toggle()
        c1, c2 = st.columns(2)
        c1.number_input(f"{labels[0]}₀", key=k("start0"), format="%g")
        c2.number_input(f"{labels[1]}₀", key=k("start1"), format="%g")


def data_name(k: Key, task: Task) -> str:
    if task.data.dataset == "csv":
        return st.session_state.get(k("csv_name")) or "your CSV"
    return task.data.spec.name


def header(exp: Experiment, k: Key) -> None:
    """One line above the chart: the data, the model, the loss and the length."""
    task = exp.problem
    problem = task.build()
    batch = ("full batch" if problem.full_batch else "single samples" if problem.batch_size == 1
             else f"batches of {problem.batch_size}")
    st.markdown(
        f"**{plain(data_name(k, task))}** · **{models.get(task.model).name}** ({problem.dims:,} weights) · "
        f"**{losses.get(task.loss).name}** · {task.epochs} epochs × {problem.steps_per_epoch} "
        f"({batch}) = {problem.steps:,} steps"
    )


def about(exp: Experiment, k: Key) -> None:
    """Under the chart: the data's shape, the model's layers and the loss's formula."""
    task = exp.problem
    problem = task.build()
    split, data = problem.split, problem.split.data
    what = f"{data.n_classes} classes" if data.task == datasets.CLASSIFICATION else "a numeric target"
    left, right = st.columns([3, 2])
    left.markdown(
        f"{len(split.y_train):,} training and {len(split.y_test):,} test rows, "
        f"{split.n_features} feature{'s' if split.n_features != 1 else ''}, {what}. Weights: "
        f"{' · '.join('×'.join(map(str, s)) for s in problem.layout)}."
    )
    # Its own line, full width: a long formula (binary cross-entropy) must not be clipped.
    right.latex(r"\mathcal{L} = " + losses.get(task.loss).latex)


@dataclass
class Views:
    landscape: Landscape | None
    data: DataView | None


def extras(outcome: Outcome) -> Views:
    """The loss landscape and the data as the model sees it (computed once, cached with the outcome)."""
    problem = outcome.experiment.problem.build()
    return Views(landscape(outcome, problem), data_view(outcome, problem))


def progress_figure(exp: Experiment, arrays: dict, styles, total: int, view: View, layout: str = "wide"):
    return charts.progress_figure(arrays, exp.problem.build().steps_per_epoch, styles, total)


def figure(outcome: Outcome, extra: Views, styles, view: View, layout: str = "wide"):
    return charts.training_figure(outcome, extra.landscape, extra.data, styles, layout=layout)


def caption(outcome: Outcome, extra: Views) -> str:
    problem = outcome.experiment.problem.build()
    text = f"Train/test metrics at {len(outcome.eval_steps)} points"
    if outcome.train_subset is not None and outcome.train_subset < problem.n_train:
        text += f" (train metrics on {outcome.train_subset:,} rows)"
    text += ". The landscape is darker where the loss is lower (log scale)"
    if extra.data is not None and extra.data.kind in ("boundary", "curve"):
        text += "; data points are filled for training rows, hollow for test rows"
    text += "."
    if extra.landscape is not None:
        text += " " + extra.landscape.named([plain(r.label or r.optimizer) for r in outcome.experiment.runs]).note
    return text


def summary_columns(outcome: Outcome, i: int, view: View) -> dict[str, Any]:
    """Train/test loss and accuracy (or R²), and the epoch of the best."""
    m, spe = outcome.metrics, outcome.steps_per_epoch
    metric = charts.metric_name(outcome)
    label = {"accuracy": "accuracy", "r2": "R²"}.get(metric or "", "")
    row: dict[str, Any] = {"train loss": _finite(m["train_loss"][-1, i]) if "train_loss" in m else None}
    if "test_loss" in m:
        row["test loss"] = _finite(m["test_loss"][-1, i])
    split = "test" if f"test_{metric}" in m else "train"
    if metric:
        values = m[f"{split}_{metric}"][:, i]
        row[f"{split} {label}"] = _finite(values[-1])
        if np.isfinite(values).any():
            best = int(np.nanargmax(values))
            row[f"best {split} {label}"] = _finite(values[best])
            row["at epoch"] = round(float(outcome.eval_steps[best]) / spe)  # whole epochs
    return row


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def on_click(k: Key, event, fig) -> None:
    """Nothing to click yet."""

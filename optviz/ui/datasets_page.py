"""The Datasets page: pick data, a model, a loss and a batch size; watch optimizers train it.

The same shape as the Surfaces page: widgets in ``*_ui`` functions, values
through ``datasets_state.collect()`` as one frozen TrainExperiment, compute
cached on it, pictures from the pure builders in ``optviz.data.views``.
"""

from __future__ import annotations


import numpy as np
import pandas as pd
import streamlit as st

from .. import charts
from ..data import datasets, losses, models
from ..data.datasets import DATASETS
from ..data.experiment import TrainExperiment
from ..data.export import to_csv, to_json
from ..data.presets import PRESETS
from ..data.problem import ModelProblem
from ..data.training import Training, check, problem_for
from ..data.views import metric_name, progress_figure, training_figure
from ..engine import finite_or_none
from ..optim import get as get_optimizer
from ..optim.base import ConfigError
from . import datasets_compute as compute
from . import datasets_state as state
from .datasets_state import k
from .runs import runnable
from .maths import rule_latex
from .runs import allowed_modules


def _apply_preset(preset_id: str) -> None:
    state.load(PRESETS[preset_id].experiment)
    st.session_state[k("preset")] = preset_id


def _param_widget(key: str, p, disabled: bool = False) -> None:
    # The help text reads better than the id; the id (used in links and the CLI) goes in the tooltip.
    label = p.help[:1].upper() + p.help[1:] if p.help else p.name
    tip = f"`{p.name}`"
    if p.kind == "int":
        st.number_input(label, key=key, step=1, min_value=int(p.low) if p.low is not None else None,
                        max_value=int(p.high) if p.high is not None else None, disabled=disabled, help=tip)
    elif p.kind == "float":
        st.number_input(label, key=key, format="%g", min_value=p.low, max_value=p.high, disabled=disabled, help=tip,
                        step=(p.high - p.low) / 100 if p.low is not None and p.high is not None and not p.log else None)
    elif p.kind == "bool":
        st.checkbox(label, key=key, disabled=disabled, help=tip)
    elif p.kind == "choice":
        st.selectbox(label, list(p.choices), key=key, disabled=disabled, help=tip)
    else:
        st.text_input(label, key=key, disabled=disabled, help=tip)


def _on_upload() -> None:
    s = st.session_state
    upload = s.get(k("upload"))
    s[k("csv_error")] = ""
    if upload is None:
        s[k("csv")], s[k("csv_name")] = "", ""
        return
    raw = upload.getvalue()
    if len(raw) > datasets.MAX_CSV_BYTES:
        s[k("csv")] = ""
        s[k("csv_error")] = f"{upload.name} is {len(raw) / 1e6:.1f} MB; the limit is {datasets.MAX_CSV_BYTES / 1e6:g} MB"
        return
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        s[k("csv")] = ""
        s[k("csv_error")] = f"{upload.name} is not UTF-8 text (byte {exc.start}); save it as CSV UTF-8"
        return
    s[k("csv")], s[k("csv_name")], s[k("csv_target")], s[k("csv_task")] = text, upload.name, "", "auto"
    state.fit_model_and_loss()


def csv_ui() -> None:
    s = st.session_state
    st.file_uploader("CSV file", type=["csv", "txt"], key=k("upload"), on_change=_on_upload,
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
    st.selectbox("Target column", columns, key=k("csv_target"), on_change=state.fit_model_and_loss)
    st.selectbox("Target is", datasets.TASKS, key=k("csv_task"), on_change=state.fit_model_and_loss,
                 format_func={"auto": "auto (whole numbers: classes)", "regression": "a number (regression)",
                              "classification": "a class (classification)"}.get)


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


def sidebar_ui() -> None:
    s = st.session_state
    with st.sidebar:
        st.markdown("### Classroom presets")
        for pid, preset in PRESETS.items():
            st.button(preset.title, key=k(f"preset.{pid}"), on_click=_apply_preset, args=(pid,), width="stretch",
                      help=preset.look_for)
        st.divider()
        st.markdown("### Data")
        st.selectbox("Dataset", list(DATASETS), key=k("dataset"), on_change=state.on_dataset_change,
                     format_func=lambda d: DATASETS[d].name, label_visibility="collapsed")
        spec = datasets.get(s[k("dataset")])
        st.caption(spec.summary)
        if spec.source == "upload":
            csv_ui()
        for p in spec.params:
            _param_widget(k(f"dp.{p.name}"), p)
        st.slider("Test fraction", 0.0, 0.5, step=0.05, key=k("test"),
                  help="Rows held out to measure generalization; 0 trains on everything.")
        st.toggle("Standardize features", key=k("std"),
                  help="Shift and scale each feature (and a regression target) to mean 0, std 1, using training "
                       "rows only. Off, unequal feature scales make the loss an elongated valley.")
        st.number_input("Data seed", min_value=0, step=1, key=k("dseed"),
                        help="Seeds the synthetic data and the train/test split.")

        st.markdown("### Model and loss")
        kind = state.data_kind()
        model_ok, model_why, loss_ok, loss_why = state.options(kind)
        if s[k("model")] not in model_ok:
            model_ok = [*model_ok, s[k("model")]]
        st.selectbox("Model", model_ok, key=k("model"), on_change=state.on_model_change,
                     format_func=lambda m: models.get(m).name)
        mspec = models.get(s[k("model")])
        st.caption(mspec.summary)
        for p in mspec.params:
            _param_widget(k(f"mp.{p.name}"), p)
        _unavailable(model_why, lambda m: models.get(m).name)
        if s[k("loss")] not in loss_ok:
            loss_ok = [*loss_ok, s[k("loss")]]
        st.selectbox("Loss", loss_ok, key=k("loss"), on_change=state.on_loss_change,
                     format_func=lambda lo: losses.get(lo).name)
        lspec = losses.get(s[k("loss")])
        st.caption(lspec.summary)
        for p in lspec.params:
            _param_widget(k(f"lp.{p.name}"), p)
        _unavailable(loss_why, lambda lo: losses.get(lo).name)

        st.markdown("### Training")
        st.segmented_control("Batches", list(state.BATCH_MODES), key=k("batch_mode"),
                             format_func=state.BATCH_MODES.get, required=True,
                             help="Full batch: gradient descent on all training rows each step. Mini-batch: a "
                                  "shuffled slice each step. Single sample: one row per step (classic SGD).")
        if s.get(k("batch_mode")) == "mini":
            st.number_input("Batch size", min_value=2, max_value=4096, step=8, key=k("batch"))
        st.number_input("Epochs", min_value=1, max_value=10_000, step=5, key=k("epochs"),
                        help="Passes over the training rows.")
        st.caption("Weight decay (L2) is each optimizer's own `weight_decay`, in its run below.")
        with st.expander("Seeds and precision"):
            st.number_input("Shuffle seed", min_value=0, step=1, key=k("shuffle"),
                            help="Orders the mini-batches. Every run sees the same batches: a fair race.")
            st.number_input("Init seed", min_value=0, step=1, key=k("init"),
                            help="Draws the model's initial weights (torch's default init). Every run starts there.")
            st.selectbox("Precision", ["float32", "float64"], key=k("dtype"))


def start_ui(problem: ModelProblem) -> None:
    """For a model with two weights: start every run at a chosen point instead of the seeded init."""
    s = st.session_state
    if problem.dims != 2:
        return
    labels = problem.labels

    def on_toggle():
        if s.get(k("own_start")):
            s[k("start0")], s[k("start1")] = (round(v, 4) for v in problem.start)

    with st.sidebar:
        own = st.toggle(f"Choose the start ({labels[0]}, {labels[1]})", key=k("own_start"), on_change=on_toggle,
                        help="Off: the seeded initialization. On: every run starts at this point.")
        if own:
            if k("start0") not in s:
                on_toggle()
            c1, c2 = st.columns(2)
            c1.number_input(f"{labels[0]}₀", key=k("start0"), format="%g")
            c2.number_input(f"{labels[1]}₀", key=k("start1"), format="%g")


def info_ui(exp: TrainExperiment, problem: ModelProblem) -> None:
    split, data = problem.split, problem.split.data
    what = (f"{data.n_classes} classes" if data.task == datasets.CLASSIFICATION else "a numeric target")
    batch = ("full batch" if problem.full_batch else "single samples" if problem.batch_size == 1
             else f"batches of {problem.batch_size}")
    left, right = st.columns([3, 2])
    left.markdown(
        f"**{data_name(exp)}**: {len(split.y_train):,} training and {len(split.y_test):,} test rows, "
        f"{split.n_features} feature{'s' if split.n_features != 1 else ''}, {what}.  \n"
        f"**{models.get(exp.task.model).name}**, {problem.dims:,} weights "
        f"({' · '.join('×'.join(map(str, s)) for s in problem.layout)}), **{losses.get(exp.task.loss).name}** loss.  \n"
        f"{exp.task.epochs} epochs of {problem.steps_per_epoch} step{'s' if problem.steps_per_epoch > 1 else ''} "
        f"({batch}) = **{problem.steps:,} steps**."
    )
    with right:
        st.latex(r"\mathcal{L} = " + losses.get(exp.task.loss).latex)


def data_name(exp: TrainExperiment) -> str:
    data = exp.task.data
    if data.dataset == "csv":
        return st.session_state.get(k("csv_name")) or "your CSV"
    return data.spec.name


def summary_frame(training: Training) -> pd.DataFrame:
    m, spe = training.metrics, training.steps_per_epoch
    metric = metric_name(training)
    label = {"accuracy": "accuracy", "r2": "R²"}.get(metric or "", "")
    rows = []
    for i, run in enumerate(training.experiment.runs):
        lr = training.result.resolved[i]["hparams"].get("lr")
        others = [f"{key}={v}" for key, v in run.hparams if key != "lr"]
        row = {
            "run": run.label or run.optimizer,
            "optimizer": run.optimizer,
            "settings": ", ".join(([f"lr={lr:g}"] if isinstance(lr, float) else []) + others)
            + (f"; {run.schedule}" if run.schedule != "constant" else ""),
            "train loss": finite_or_none(m["train_loss"][-1, i]),
        }
        if "test_loss" in m:
            row["test loss"] = finite_or_none(m["test_loss"][-1, i])
        split = "test" if f"test_{metric}" in m else "train"
        if metric:
            values = m[f"{split}_{metric}"][:, i]
            row[f"{split} {label}"] = finite_or_none(values[-1])
            if np.isfinite(values).any():
                best = int(np.nanargmax(values))
                row[f"best {split} {label}"] = finite_or_none(values[best])
                row["at epoch"] = round(float(training.eval_steps[best]) / spe, 2)
        div = training.result.diverged_at[i]
        row["diverged at epoch"] = None if div < 0 else round(float(div) / spe, 2)
        row["time (ms)"] = round(float(training.result.run_time[i]) * 1e3, 1)
        rows.append(row)
    return pd.DataFrame(rows)


def results_ui(exp: TrainExperiment, problem: ModelProblem, colors: list[str]) -> None:
    errors = compute.run_errors(exp, problem)
    runs = runnable(exp.runs, errors)
    if not runs:
        return
    run_exp = exp.replace(runs=runs)
    try:
        check(problem, len(runs))
    except ConfigError as exc:
        st.error(str(exc))
        return
    run_colors = [c for i, c in enumerate(colors) if i not in errors]
    styles = charts.styles([r.label or r.optimizer for r in runs], run_colors)
    chart, progress = st.empty(), st.empty()

    def on_progress(arrays, done, total):
        progress.progress(done / total, text=f"training… step {done:,} of {total:,}")
        chart.plotly_chart(progress_figure(arrays, problem.steps_per_epoch, styles, total), theme=None)

    bundle = compute.results(run_exp, on_progress)
    progress.empty()
    training = bundle.training
    fig = training_figure(training, bundle.landscape, bundle.view, styles)
    chart.plotly_chart(fig, key=k("figure"), theme=None, config={"displaylogo": False})
    n_div = int((training.result.diverged_at >= 0).sum())
    st.caption(
        f"{len(runs)} runs × {training.steps:,} steps trained in {training.result.wall_time * 1e3:,.0f} ms on "
        f"{training.result.device} ({training.result.dtype}), all runs as one batch; torch.optim's own paths, "
        f"step for step. Train/test metrics at {len(training.eval_steps)} points"
        + (f" (train metrics on {training.train_subset:,} rows)" if training.train_subset < problem.n_train else "")
        + "." + (f" {n_div} run(s) diverged." if n_div else "")
    )
    if bundle.landscape is not None:
        st.caption(bundle.landscape.named([style.label for style in styles]).note)
    st.dataframe(summary_frame(training), hide_index=True)
    with st.expander("The update rules, with these settings"):
        seen = set()
        for run in runs:
            if run.optimizer in seen:
                continue
            seen.add(run.optimizer)
            spec = get_optimizer(run.optimizer, allowed_modules())
            st.markdown(f"**{spec.name}** — {spec.summary}")
            if spec.rule:
                st.latex(rule_latex(spec, dict(run.hparams)))
    downloads_ui(training, fig)


def downloads_ui(training: Training, fig) -> None:
    st.markdown("##### Download")
    c1, c2, c3, c4 = st.columns(4)
    c1.download_button("Training (CSV)", lambda: to_csv(training), "optviz-training.csv", "text/csv",
                       on_click="ignore", icon=":material/table:", key=k("dl.csv"),
                       help="One row per run and step: mini-batch loss, lr, and train/test metrics where evaluated.")
    c2.download_button("Training (JSON)", lambda: to_json(training), "optviz-training.json", "application/json",
                       on_click="ignore", icon=":material/data_object:", key=k("dl.json"))
    c3.download_button("Animation (HTML)", lambda: charts.to_html(fig), "optviz-training.html", "text/html",
                       on_click="ignore", icon=":material/movie:", key=k("dl.html"),
                       help="A standalone page that plays offline: drop it into slides.")
    c4.download_button("Config (JSON)", training.experiment.to_json, "optviz-train-config.json", "application/json",
                       on_click="ignore", icon=":material/settings:", key=k("dl.config"),
                       help="Replay it with: python -m optviz train --config optviz-train-config.json")


@st.fragment
def comparison_fragment() -> None:
    """The run editor and the results: editing a run retrains without rerunning the sidebar."""
    exp, errors = state.collect()
    if exp is None:
        return
    colors = [r.color or charts.PALETTE[i % len(charts.PALETTE)] for i, r in enumerate(exp.runs)]
    state.sync_url(exp)
    try:
        problem = problem_for(exp.task)
    except ConfigError:
        problem = None  # the page above says why
    if problem is not None:
        results_ui(exp, problem, colors)
    state.EDITOR.ui(exp.runs, {rid: e for rid, e in errors.items() if isinstance(rid, int)}, colors)


def datasets_page() -> None:
    """Train models on datasets and watch the optimizers."""
    warnings = state.init()
    for w in warnings:
        st.warning(f"Share link: {w}", icon=":material/link_off:")
    sidebar_ui()
    st.title("optviz")
    exp, errors = state.collect()
    problem = None
    if exp is None:
        message = errors.get("data") or errors.get("task", "")
        (st.info if message == "no file uploaded yet" else st.error)(
            "Upload a CSV file in the sidebar to train on your own data." if message == "no file uploaded yet"
            else message)
    else:
        try:
            problem = problem_for(exp.task)
        except ConfigError as exc:
            where = f"{data_name(exp)}: " if exp.task.data.dataset == "csv" else ""
            st.error(f"{where}{exc}")
    if problem is not None:
        start_ui(problem)
        info_ui(exp, problem)
    preset = PRESETS.get(st.session_state.get(k("preset"), ""))
    if preset:
        st.info(f"**{preset.title}.** {preset.look_for}", icon=":material/school:")
    comparison_fragment()


"""A training as files: JSON (the CLI's and the app's download) and long-form CSV.

The same conventions as :mod:`optviz.export` for surfaces: JSON has the
experiment and one object per run with its per-step arrays; CSV has one row
per run and step. Per-step values are the mini-batch ``loss`` and the ``lr``;
train/test loss and accuracy (or R²) are filled in at the evaluated steps.
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

from ..engine import finite_or_none
from .training import Training

RECORDS = ("loss", "lr", "metrics", "params")
DEFAULT_RECORDS = ("loss", "lr", "metrics")
CSV_MAX_WEIGHTS = 16  # weights as CSV columns only for small models


def _clean(values):
    if isinstance(values, list):
        return [_clean(v) for v in values]
    if isinstance(values, float):
        return values if math.isfinite(values) else None
    return values



def result_dict(training: Training, record=DEFAULT_RECORDS) -> dict[str, Any]:
    result = training.result
    runs = []
    for i, config in enumerate(training.experiment.runs):
        resolved = dict(result.resolved[i])
        for key in ("start", "noise", "seed"):
            resolved.pop(key, None)  # the model's init (long), and surface-only fields
        run: dict[str, Any] = {
            "label": config.label,
            **resolved,
            "final_batch_loss": finite_or_none(result.final_loss[i]),
            "diverged_at": None if result.diverged_at[i] < 0 else int(result.diverged_at[i]),
        }
        for key in training.metrics:
            run[f"final_{key}"] = finite_or_none(training.metrics[key][-1, i])
        if "loss" in record:
            run["loss"] = _clean(result.arrays["loss"][:, i].tolist())
        if "lr" in record:
            run["lr"] = _clean(result.arrays["lr"][:, i].tolist())
        if "metrics" in record:
            run["eval"] = {"step": training.eval_steps.tolist(),
                           **{k: _clean(v[:, i].tolist()) for k, v in training.metrics.items()}}
        if "params" in record:
            run["params"] = {"step": training.path_steps.tolist(),
                             "values": _clean(training.path_params[:, i].tolist())}
        runs.append(run)
    return {
        "experiment": training.experiment.to_dict(),
        "device": result.device,
        "dtype": result.dtype,
        "steps": result.steps,
        "steps_per_epoch": training.steps_per_epoch,
        "wall_time": result.wall_time,
        "runs": runs,
    }


def to_json(training: Training, record=DEFAULT_RECORDS) -> str:
    return json.dumps(result_dict(training, record), allow_nan=False)


def to_csv(training: Training, record=DEFAULT_RECORDS) -> str:
    """One row per run and step: run, label, optimizer, step, epoch, loss, lr, then the
    metrics where they were evaluated and, for small models, the weights where kept."""
    result = training.result
    metrics = list(training.metrics) if "metrics" in record else []
    dims = training.path_params.shape[2]
    weights = "params" in record and dims <= CSV_MAX_WEIGHTS
    header = ["run", "label", "optimizer", "step", "epoch", "loss", "lr", *metrics]
    if weights:
        header += [f"w{j}" for j in range(dims)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    eval_row = {int(s): k for k, s in enumerate(training.eval_steps)}
    path_row = {int(s): k for k, s in enumerate(training.path_steps)}
    loss, lr = result.arrays["loss"], result.arrays["lr"]
    for i, config in enumerate(training.experiment.runs):
        name = result.resolved[i]["optimizer"]
        for t in range(result.steps + 1):
            row: list[Any] = [i, config.label, name, t, f"{t / training.steps_per_epoch:.6g}",
                              _cell(loss[t, i]), _cell(lr[t, i]) if t < result.steps else ""]
            k = eval_row.get(t)
            row += [_cell(training.metrics[m][k, i]) if k is not None else "" for m in metrics]
            if weights:
                k = path_row.get(t)
                row += [_cell(v) for v in training.path_params[k, i]] if k is not None else [""] * dims
            writer.writerow(row)
    return out.getvalue()


def _cell(v) -> str:
    # numpy prints the shortest text that reads back to the same float32/float64.
    return str(v) if math.isfinite(v) else ""

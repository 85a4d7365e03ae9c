"""A computed experiment as files: JSON (the CLI's and the app's download) and long-form CSV.

One writer for every kind of problem. JSON has the experiment and one object per
run: its resolved settings, summaries, and per-step arrays (``loss``, ``lr``,
``params``, ...); where a problem measures more (a model's train/test loss and
accuracy), ``eval`` holds those values at the evaluated steps. CSV has one row
per run and point.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .engine import finite_or_none
from .experiment import Outcome
from .params import ConfigError

RECORDS = ("params", "loss", "lr", "grad", "state", "metrics")
CSV_MAX_COORDS = 16  # parameters as CSV columns only for small problems
MAX_CONFIG_BYTES = 1_000_000


def write_output(text: str, path: Path | None) -> None:
    """Write ``text`` to ``path``, or to stdout; an unwritable path is a ConfigError."""
    text = text if text.endswith("\n") else text + "\n"
    if path:
        try:
            Path(path).write_text(text)
        except OSError as exc:
            raise ConfigError(f"cannot write {path}: {exc.strerror}") from None
    else:
        sys.stdout.write(text)


def read_config(path: Path) -> str:
    """The text of a ``--config`` file: UTF-8, at most 1 MB; anything else is a ConfigError."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path} is larger than {MAX_CONFIG_BYTES // 1_000_000} MB; a config is a few kB")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte {exc.start}); is it a config JSON?") from None


def default_record(outcome: Outcome) -> tuple[str, ...]:
    """What an export holds unless told: every recorded array (the weights only of a
    small model), and the metrics."""
    arrays = outcome.result.arrays
    small = "params" in arrays and arrays["params"].shape[2] <= CSV_MAX_COORDS
    return tuple(k for k in RECORDS if k in arrays and (k != "params" or small)) + ("metrics",)


def _clean(values):
    if isinstance(values, list):
        return [_clean(v) for v in values]
    if isinstance(values, float):
        return values if math.isfinite(values) else None
    return values


def result_dict(outcome: Outcome, record: tuple[str, ...] | None = None) -> dict[str, Any]:
    record = default_record(outcome) if record is None else record
    exp, result = outcome.experiment, outcome.result
    every_point = len(outcome.path_steps) == result.steps + 1
    runs = []
    for i, config in enumerate(result.configs):
        resolved = dict(result.resolved[i])
        if not exp.problem.start_size:
            resolved.pop("start")  # a model's initial weights: long, and the init seed gives them
        run: dict[str, Any] = {
            "label": config.label,
            **resolved,
            "final_loss": finite_or_none(result.final_loss[i]),
            "best_loss": finite_or_none(result.best_loss[i]),
            "best_step": int(result.best_step[i]),
            "diverged_at": None if result.diverged_at[i] < 0 else int(result.diverged_at[i]),
            "run_time": float(result.run_time[i]),  # seconds, when it was computed (a reused run too)
        }
        for key, values in outcome.metrics.items():
            run[f"final_{key}"] = finite_or_none(values[-1, i])
        for key, arr in result.arrays.items():
            name = key.split("/")[0]
            if name not in record:
                continue
            values = _clean(arr[:, i].tolist())
            if key == "params" and not every_point:
                values = {"step": outcome.path_steps.tolist(), "values": values}
            run[key] = values
        if "metrics" in record and outcome.metrics:
            run["eval"] = {"step": outcome.eval_steps.tolist(),
                           **{k: _clean(v[:, i].tolist()) for k, v in outcome.metrics.items()}}
        runs.append(run)
    out = {
        "experiment": exp.to_dict(),
        "device": result.device,
        "dtype": result.dtype,
        "steps": result.steps,
        "wall_time": result.wall_time,  # this computation's: runs reused from an earlier one cost none
        "reused": outcome.reused,
    }
    if _has_epochs(exp.problem):
        out["steps_per_epoch"] = outcome.steps_per_epoch
    return out | {"runs": runs}


def to_json(outcome: Outcome, record: tuple[str, ...] | None = None) -> str:
    # allow_nan=False: diverged values are already None, and a stray NaN must not
    # produce a file other JSON readers reject.
    return json.dumps(result_dict(outcome, record), allow_nan=False)


def to_csv(outcome: Outcome, record: tuple[str, ...] | None = None) -> str:
    """One row per run and point: run, label, optimizer, step (and epoch), the
    parameters where kept, loss, lr, the gradient, and metrics where evaluated."""
    record = default_record(outcome) if record is None else record
    result, problem = outcome.result, outcome.experiment.problem.build()
    arrays = result.arrays
    dims = arrays["params"].shape[2] if "params" in arrays else 0
    coords = coordinate_names(problem, dims)
    params = "params" in record and "params" in arrays and dims <= CSV_MAX_COORDS
    grad = "grad" in record and "grad" in arrays and dims <= CSV_MAX_COORDS
    metrics = list(outcome.metrics) if "metrics" in record else []
    epochs = _has_epochs(outcome.experiment.problem)
    header = ["run", "label", "optimizer", "step", *(["epoch"] if epochs else []), *(coords if params else []),
              "loss", "lr", *([f"grad_{n}" for n in coords] if grad else []), *metrics]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    path_row = {int(s): k for k, s in enumerate(outcome.path_steps)}
    eval_row = {int(s): k for k, s in enumerate(outcome.eval_steps)}
    for i, config in enumerate(result.configs):
        name = result.resolved[i]["optimizer"]
        label = safe_cell(config.label)
        for t in range(result.steps + 1):
            row: list[Any] = [i, label, name, t]
            if epochs:
                row.append(f"{t / outcome.steps_per_epoch:.6g}")
            if params:
                k = path_row.get(t)
                row += [_cell(v) for v in arrays["params"][k, i]] if k is not None else [""] * dims
            row.append(_cell(arrays["loss"][t, i]) if "loss" in arrays else "")
            row.append(_cell(arrays["lr"][t, i]) if "lr" in arrays and t < result.steps else "")
            if grad:
                row += [_cell(v) for v in arrays["grad"][t, i]]
            k = eval_row.get(t)
            row += [_cell(outcome.metrics[m][k, i]) if k is not None else "" for m in metrics]
            writer.writerow(row)
    return out.getvalue()


def _has_epochs(problem_config: Any) -> bool:
    """Whether the problem counts its steps in epochs (a training; a full-batch one too)."""
    return hasattr(problem_config.build(), "steps_per_epoch")


def coordinate_names(problem: Any, dims: int) -> list[str]:
    """Column names of the parameters: the problem's own (``x``, ``y``), else ``w0, w1, ...``."""
    names = getattr(problem, "coordinates", None)
    return list(names) if names is not None and len(names) == dims else [f"w{j}" for j in range(dims)]


def safe_cell(text: str) -> str:
    """Text a spreadsheet shows as text: a leading ``= + - @``, tab or CR would start a
    formula, so it gets a ``'`` in front (OWASP's advice against CSV injection). A line
    break would start a new row whose first cell is the rest of the label: a label is one
    line, so CR and LF become spaces, and blanks before a formula do not hide it."""
    text = text.replace("\r", " ").replace("\n", " ")
    return "'" + text if text.lstrip(" ")[:1] in ("=", "+", "-", "@", "\t") else text


def _cell(v) -> str:
    # numpy prints the shortest text that reads back to the same float32/float64.
    return str(v) if np.isfinite(v) else ""

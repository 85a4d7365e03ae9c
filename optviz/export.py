"""Results as files: JSON (the CLI's and the app's download) and long-form CSV."""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from pathlib import Path
from typing import Any

from .engine import Result
from .experiment import Experiment
from .optim.base import ConfigError


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
    """The text of a ``--config`` file; an unreadable path is a ConfigError."""
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None


def result_dict(experiment: Experiment, result: Result) -> dict[str, Any]:
    return {
        "experiment": experiment.to_dict(),
        "device": result.device,
        "dtype": result.dtype,
        "steps": result.steps,
        "wall_time": result.wall_time,
        "runs": [result.run(i) for i in range(len(result))],
    }


def to_json(experiment: Experiment, result: Result) -> str:
    # allow_nan=False: diverged values are already None, and a stray NaN must not
    # produce a file other JSON readers reject.
    return json.dumps(result_dict(experiment, result), allow_nan=False)


def _coord_names(dims: int) -> list[str]:
    return ["x", "y"] if dims == 2 else [f"p{i}" for i in range(dims)]


def to_csv(experiment: Experiment, result: Result) -> str:
    """One row per run and point: run, label, optimizer, step, coordinates, loss, lr."""
    arrays = result.arrays
    dims = arrays["params"].shape[2] if "params" in arrays else 0
    names = _coord_names(dims)
    header = ["run", "label", "optimizer", "step", *names, "loss", "lr"]
    if "grad" in arrays:
        header += [f"grad_{n}" for n in names]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    points = result.steps + 1
    for i, config in enumerate(result.configs):
        for t in range(points):
            row: list[Any] = [i, config.label, result.resolved[i]["optimizer"], t]
            if "params" in arrays:
                row += [_cell(v) for v in arrays["params"][t, i]]
            row.append(_cell(arrays["loss"][t, i]) if "loss" in arrays else "")
            row.append(_cell(arrays["lr"][t, i]) if "lr" in arrays and t < result.steps else "")
            if "grad" in arrays:
                row += [_cell(v) for v in arrays["grad"][t, i]]
            writer.writerow(row)
    return out.getvalue()


def _cell(v) -> str:
    # numpy prints the shortest text that reads back to the same float32/float64.
    return str(v) if math.isfinite(v) else ""

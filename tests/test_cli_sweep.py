"""``python -m optviz sweep``: the LR sweep (on a surface or a dataset) and the basin-map grid,
by the same conventions as ``run``."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest

from optviz import sweeps
from optviz.engine import RunConfig
from optviz.problems import SurfaceProblem, Task
from optviz.problems.datasets import DataConfig
from tests.helpers import run_cli as _run_cli


def test_sweep_writes_one_entry_per_lr(capsys):
    code, out, err = _run_cli(
        capsys,
        "sweep",
        "--optimizer",
        "SGD",
        "--set",
        "momentum=0.9",
        "--lr-range",
        "1e-5",
        "0.1",
        "--num",
        "12",
        "--steps",
        "60",
    )
    assert code == 0 and err == ""
    data = json.loads(out)
    assert data["kind"] == "lr_sweep" and data["optimizer"] == "SGD" and data["hparams"]["momentum"] == 0.9
    assert "lr" not in data["hparams"] and data["steps"] == 60 and data["problem"]["surface"] == "rosenbrock"
    for key in ("lrs", "final_loss", "best_loss", "diverged_at"):
        assert len(data[key]) == 12, key
    np.testing.assert_allclose(data["lrs"], np.logspace(-5, -1, 12))
    # The largest lrs diverge: null loss, the step where it happened.
    assert data["diverged_at"][-1] is not None and data["final_loss"][-1] is None
    assert data["diverged_at"][0] is None and data["final_loss"][0] is not None
    direct = sweeps.lr_sweep(SurfaceProblem("rosenbrock"), [RunConfig("SGD", {"momentum": 0.9})], data["lrs"], 60)
    ok = direct.diverged_at[0] < 0
    np.testing.assert_array_equal(np.array(data["final_loss"], dtype=float)[ok], direct.final_loss[0][ok])
    assert data["best_lr"] == direct.best_lr(0)


def test_sweep_csv_to_a_file(capsys, tmp_path):
    target = tmp_path / "lrs.csv"
    code, out, _ = _run_cli(
        capsys,
        "sweep",
        "--optimizer",
        "Adam",
        "--lr-range",
        "0.001",
        "1",
        "--num",
        "4",
        "--steps",
        "10",
        "--schedule",
        "StepLR",
        "--schedule-set",
        "step_size=5",
        "--format",
        "csv",
        "--out",
        str(target),
    )
    assert code == 0 and out == ""
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert len(rows) == 4 and list(rows[0]) == ["lr", "final_loss", "best_loss", "diverged_at"]
    assert float(rows[0]["lr"]) == pytest.approx(0.001) and rows[0]["diverged_at"] == ""


def test_grid_writes_one_entry_per_start(capsys):
    code, out, _ = _run_cli(
        capsys,
        "sweep",
        "--surface",
        "himmelblau",
        "--optimizer",
        "SGD",
        "--lr",
        "0.01",
        "--grid",
        "6",
        "5",
        "--steps",
        "200",
    )
    assert code == 0
    data = json.loads(out)
    assert data["kind"] == "basin_map" and data["hparams"]["lr"] == 0.01
    assert data["x"] == np.linspace(-5, 5, 6).tolist() and len(data["y"]) == 5 and len(data["minima"]) == 4
    for key in ("starts", "final_loss", "minimum", "diverged", "final_params"):
        assert len(data[key]) == 30, key
    assert data["starts"][:2] == [[-5.0, -5.0], [-3.0, -5.0]]  # x fastest
    assert set(data["minimum"]) <= {0, 1, 2, 3, None} and not any(data["diverged"])
    for m, p in zip(data["minimum"], data["final_params"]):
        if m is not None:
            assert np.hypot(*np.subtract(p, data["minima"][m][:2])) <= data["tol"]


def test_grid_csv_with_ranges(capsys):
    code, out, _ = _run_cli(
        capsys,
        "sweep",
        "--surface",
        "himmelblau",
        "--optimizer",
        "Adam",
        "--lr",
        "0.1",
        "--grid",
        "3",
        "2",
        "--x-range",
        "0",
        "1",
        "--y-range",
        "2",
        "3",
        "--steps",
        "5",
        "--format",
        "csv",
    )
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 6
    assert [(r["x"], r["y"]) for r in rows[:3]] == [("0.0", "2.0"), ("0.5", "2.0"), ("1.0", "2.0")]
    assert set(rows[0]) == {"x", "y", "final_loss", "minimum", "diverged", "diverged_at", "final_x", "final_y"}


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--lr-range", "1", "0.1"], "0 < low <= high"),
        (["--lr-range", "0", "1"], "0 < low <= high"),
        (["--num", "0"], "whole number"),
        (["--optimizer", "Nope"], "unknown optimizer"),
        (["--set", "momentum=x"], "momentum"),
        (["--set", "momentum=-1"], "Invalid momentum"),
        (["--surface", "nope"], "unknown surface"),
        (["--steps", "0"], "steps"),
        (["--num", "100000", "--steps", "20000"], "OPTVIZ_MAX_WORK"),
        (["--grid", "300", "10"], "OPTVIZ_MAX_GRID"),
        (["--grid", "10", "10", "--lr-range", "0.1", "1"], "not --lr-range"),
        (["--lr", "0.1"], "go with --grid"),
        (["--grid", "5", "5", "--x-range", "1", "-1"], "low < high"),
        (["--grid", "5", "5", "--tol", "0"], "tolerance"),
        (["--out", "/nonexistent/dir/x.json", "--num", "2", "--steps", "2"], "cannot write"),
    ],
)
def test_bad_sweeps_give_one_line_and_status_2(capsys, argv, message):
    code, out, err = _run_cli(capsys, "sweep", *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_sweep_on_a_dataset_takes_its_epochs_of_batches(capsys):
    code, out, err = _run_cli(
        capsys,
        "sweep",
        "--dataset",
        "moons",
        "--data-set",
        "n_samples=60",
        "--model",
        "logistic",
        "--loss",
        "bce",
        "--batch-size",
        "15",
        "--epochs",
        "2",
        "--optimizer",
        "Adam",
        "--lr-range",
        "0.001",
        "1",
        "--num",
        "4",
    )
    assert code == 0 and err == ""
    data = json.loads(out)
    assert data["kind"] == "lr_sweep" and data["steps"] == 6 and data["problem"]["kind"] == "train"
    assert "start" not in data and len(data["final_loss"]) == 4
    task = Task(DataConfig("moons", {"n_samples": 60}), "logistic", {}, "bce", batch_size=15, epochs=2)
    direct = sweeps.lr_sweep(task, [RunConfig("Adam")], data["lrs"])
    np.testing.assert_array_equal(np.array(data["final_loss"], dtype=float), direct.final_loss[0])


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--dataset", "moons", "--grid", "5", "5"], "2-D surface"),
        (["--dataset", "moons", "--model-set", "hidden=256,256", "--num", "200"], "OPTVIZ_MAX_TRAIN_WORK"),
        (["--dataset", "moons", "--start", "1", "2"], "--start is a point on a surface"),
    ],
)
def test_bad_dataset_sweeps_give_one_line_and_status_2(capsys, argv, message):
    code, out, err = _run_cli(capsys, "sweep", *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_work_bound_comes_from_the_environment(capsys, monkeypatch):
    monkeypatch.setenv("OPTVIZ_MAX_WORK", "1000")
    code, _, err = _run_cli(capsys, "sweep", "--num", "20", "--steps", "100")
    assert code == 2 and "20 runs x 100 steps" in err


def test_sweep_help_has_examples():
    out = subprocess.run(
        [sys.executable, "-m", "optviz", "sweep", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "examples:" in out and "--lr-range" in out and "--grid" in out
    bad = subprocess.run([sys.executable, "-m", "optviz", "sweep", "--grid", "x", "1"], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and bad.stderr.count("\n") == 1

"""The command line: JSON/CSV output conventions, listings, and one-line errors."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest

import optviz
from optviz.cli import main
from optviz.surfaces import SURFACES


def _run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_run_writes_the_documented_json(capsys):
    code, out, _ = _run_cli(capsys, "run", "--optimizer", "SGD", "Adam", "--lr", "0.001", "0.01", "--steps", "20")
    assert code == 0
    data = json.loads(out)
    assert len(data["runs"]) == 4
    run = data["runs"][0]
    assert len(run["params"]) == 21 and len(run["loss"]) == 21 and len(run["lr"]) == 20
    start = SURFACES["rosenbrock"].start
    assert run["params"][0] == pytest.approx(list(start))
    assert run["loss"][0] == pytest.approx(SURFACES["rosenbrock"](__import__("torch").tensor(start)).item())
    assert run["diverged_at"] is None and run["hparams"]["lr"] == 0.001
    assert run["hparams"]["momentum"] == 0  # resolved with torch's defaults


def test_run_csv_and_out_file(capsys, tmp_path):
    target = tmp_path / "runs.csv"
    code, out, _ = _run_cli(capsys, "run", "--optimizer", "Adam", "--steps", "5", "--format", "csv", "--out", str(target))
    assert code == 0 and out == ""
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert len(rows) == 6 and rows[0]["step"] == "0" and rows[-1]["lr"] == ""
    assert set(rows[0]) >= {"run", "label", "optimizer", "x", "y", "loss", "lr"}


def test_config_replays_an_experiment(capsys, tmp_path):
    exp = optviz.Experiment(
        optviz.SurfaceProblem("quadratic", {"kappa": 5}),
        (optviz.RunConfig("Adam", {"lr": 0.1}, schedule="StepLR", schedule_args={"step_size": 5}, label="A"),),
        steps=12,
    )
    path = tmp_path / "exp.json"
    path.write_text(exp.to_json())
    code, out, _ = _run_cli(capsys, "run", "--config", str(path))
    data = json.loads(out)
    assert code == 0 and data["experiment"] == exp.to_dict()
    direct = optviz.run("quadratic", exp.runs, steps=12, surface_params={"kappa": 5})
    assert data["runs"][0]["params"] == direct.arrays["params"][:, 0].tolist()


def test_list_json_has_parameters_and_minima(capsys):
    code, out, _ = _run_cli(capsys, "list", "surfaces", "--format", "json")
    surfaces = {s["id"]: s for s in json.loads(out)}
    assert code == 0 and surfaces["rosenbrock"]["minima"] == [[1.0, 1.0, 0.0]]
    code, out, _ = _run_cli(capsys, "list", "optimizers", "--format", "json")
    adam = next(o for o in json.loads(out) if o["name"] == "Adam")
    assert {"name": "betas", "kind": "floats", "default": [0.9, 0.999]}.items() <= next(
        h for h in adam["hparams"] if h["name"] == "betas"
    ).items()
    code, out, _ = _run_cli(capsys, "list", "schedules", "--format", "json")
    assert "StepLR" in {s["name"] for s in json.loads(out)}


@pytest.mark.parametrize(
    "argv,message",
    [
        (["run", "--optimizer", "Nope"], "unknown optimizer"),
        (["run", "--set", "momentum"], "key=value"),
        (["run", "--lr", "-1"], "Invalid learning rate"),
        (["run", "--steps", "0"], "steps"),
        (["run", "--steps", "100000000"], "OPTVIZ_MAX_STEPS"),
        (["run", "--surface", "nope"], "unknown surface"),
        (["run", "--record", "params,nope"], "cannot record"),
        (["run", "--config", "/nonexistent.json"], "cannot read"),
    ],
)
def test_bad_arguments_give_one_line_and_status_2(capsys, argv, message):
    code, out, err = _run_cli(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_malformed_config_file(capsys, tmp_path):
    path = tmp_path / "bad.json"
    for text, message in [("{", "not valid JSON"), ('{"runs": [{"start": "x"}]}', "runs[0].start"), ("[]", "object")]:
        path.write_text(text)
        code, _, err = _run_cli(capsys, "run", "--config", str(path))
        assert code == 2 and message in err


def test_module_entry_point_help_has_examples():
    out = subprocess.run(
        [sys.executable, "-m", "optviz", "run", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "examples:" in out and "--schedule-set" in out
    bad = subprocess.run([sys.executable, "-m", "optviz", "run", "--steps", "x"], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and bad.stderr.count("\n") == 1

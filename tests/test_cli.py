"""The command line: one ``run`` for surfaces and datasets (``train`` is the same command),
JSON/CSV output conventions, ``--config`` replays, listings, and one-line errors."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest

import optviz
from optviz.engine import RunConfig
from optviz.experiment import Experiment, compute
from optviz.problems import Task
from optviz.problems.datasets import DataConfig
from optviz.problems.surfaces import SURFACES
from tests.helpers import SMALL_TRAIN
from tests.helpers import run_cli as _run_cli


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
    code, out, _ = _run_cli(
        capsys, "run", "--optimizer", "Adam", "--steps", "5", "--format", "csv", "--out", str(target)
    )
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


# -- datasets: the same command ------------------------------------------------------------


@pytest.mark.parametrize("command", ["train", "run"])
def test_train_writes_json_with_per_step_arrays_and_metrics(capsys, command):
    code, out, _ = _run_cli(capsys, command, *SMALL_TRAIN, "--optimizer", "SGD", "Adam", "--lr", "0.1", "0.01")
    assert code == 0
    data = json.loads(out)
    assert data["steps"] == 6 and data["steps_per_epoch"] == 3 and len(data["runs"]) == 4
    run = data["runs"][0]
    assert run["label"] == "SGD lr=0.1" and run["hparams"]["lr"] == 0.1 and run["hparams"]["momentum"] == 0
    assert len(run["loss"]) == 7 and len(run["lr"]) == 6
    assert run["eval"]["step"][0] == 0 and run["eval"]["step"][-1] == 6
    assert 0 <= run["final_test_accuracy"] <= 1 and "params" not in run and "start" not in run
    assert run["final_loss"] == run["loss"][-1]  # the last mini-batch's loss
    assert data["experiment"]["problem"]["model_params"]["hidden"] == [4]


def test_train_csv_with_weights_of_a_small_model(capsys, tmp_path):
    target = tmp_path / "runs.csv"
    code, out, _ = _run_cli(
        capsys,
        "train",
        "--dataset",
        "linear",
        "--model",
        "linear",
        "--loss",
        "mse",
        "--batch-size",
        "0",
        "--epochs",
        "4",
        "--optimizer",
        "SGD",
        "--lr",
        "0.1",
        "--record",
        "loss,lr,metrics,params",
        "--format",
        "csv",
        "--out",
        str(target),
    )
    assert code == 0 and out == ""
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert len(rows) == 5 and rows[-1]["lr"] == "" and rows[0]["w0"] and rows[0]["w1"]
    assert {"run", "label", "optimizer", "step", "epoch", "loss", "lr", "train_loss", "test_r2"} <= set(rows[0])
    assert [r["epoch"] for r in rows] == ["0", "1", "2", "3", "4"]  # full batch: one step an epoch


def test_train_config_replays_an_experiment(capsys, tmp_path):
    exp = Experiment(
        Task(DataConfig("xor", {"n_samples": 60}), "mlp", {"hidden": (4,)}, "bce", batch_size=15, epochs=2),
        (RunConfig("Adam", {"lr": 0.05}, label="A"),),
    )
    path = tmp_path / "exp.json"
    path.write_text(exp.to_json())
    code, out, _ = _run_cli(capsys, "run", "--config", str(path))
    data = json.loads(out)
    assert code == 0 and data["experiment"] == exp.to_dict()
    direct = compute(exp)
    assert data["runs"][0]["loss"] == direct.result.arrays["loss"][:, 0].tolist()


# Configs as the first release wrote them (its TrainExperiment and Experiment .to_json()).
FIRST_RELEASE_TRAIN = {
    "version": 1,
    "kind": "train",
    "task": {
        "data": {
            "dataset": "xor",
            "params": {"n_samples": 60, "noise": 0.1},
            "test_fraction": 0.25,
            "standardize": True,
            "seed": 0,
        },
        "model": "mlp",
        "model_params": {"activation": "tanh", "hidden": [4]},
        "loss": "bce",
        "loss_params": {},
        "batch_size": 15,
        "epochs": 2,
        "shuffle_seed": 0,
        "init_seed": 0,
    },
    "dtype": "float32",
    "runs": [
        {
            "optimizer": "Adam",
            "hparams": {"lr": 0.05},
            "schedule": "constant",
            "schedule_args": {},
            "start": None,
            "label": "A",
            "color": "",
        }
    ],
}
FIRST_RELEASE_SURFACE = {
    "version": 1,
    "problem": {"surface": "quadratic", "params": {"angle": 30.0, "kappa": 5.0}},
    "steps": 12,
    "dtype": "float32",
    "runs": [
        {
            "optimizer": "Adam",
            "hparams": {"lr": 0.1},
            "schedule": "StepLR",
            "schedule_args": {"step_size": 5},
            "start": None,
            "noise": 0.0,
            "seed": 0,
            "label": "A",
            "color": "",
        }
    ],
}


@pytest.mark.parametrize("old", [FIRST_RELEASE_TRAIN, FIRST_RELEASE_SURFACE], ids=["train", "surface"])
def test_configs_of_the_first_release_still_replay(capsys, tmp_path, old):
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    code, out, _ = _run_cli(capsys, "run", "--config", str(path))
    assert code == 0
    exp = (
        Experiment(
            Task(DataConfig("xor", {"n_samples": 60}), "mlp", {"hidden": (4,)}, "bce", batch_size=15, epochs=2),
            (RunConfig("Adam", {"lr": 0.05}, label="A"),),
        )
        if "task" in old
        else Experiment(
            optviz.SurfaceProblem("quadratic", {"kappa": 5}),
            (RunConfig("Adam", {"lr": 0.1}, schedule="StepLR", schedule_args={"step_size": 5}, label="A"),),
            steps=12,
        )
    )
    assert json.loads(out)["experiment"] == exp.to_dict()


def test_train_on_a_csv_file(capsys, tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,b,y\n" + "\n".join(f"{i % 7},{i % 3},{(i % 7 + i % 3) % 2}" for i in range(40)))
    code, out, _ = _run_cli(
        capsys,
        "train",
        "--csv",
        str(path),
        "--target",
        "y",
        "--model",
        "logistic",
        "--loss",
        "bce",
        "--epochs",
        "2",
        "--optimizer",
        "Adam",
    )
    assert code == 0 and json.loads(out)["experiment"]["problem"]["data"]["target"] == "y"


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--dataset", "nope"], "unknown dataset"),
        (["--loss", "mse"], "needs a regression dataset"),
        (["--model", "linear"], "Linear regression predicts a number"),
        (["--model-set", "hidden=0"], "hidden layer sizes"),
        (["--data-set", "noise"], "key=value"),
        (["--epochs", "0"], "epochs"),
        (["--optimizer", "Nope"], "unknown optimizer"),
        (["--lr", "-1"], "Invalid learning rate"),
        (["--record", "loss,nope"], "cannot record"),
        (["--csv", "/nonexistent.csv"], "cannot read"),
        (["--config", "/nonexistent.json"], "cannot read"),
        (["--dataset", "digits", "--model-set", "hidden=1024,1024,1024", "--epochs", "10000"], "parameters; the limit"),
        (["--dataset", "digits", "--batch-size", "1", "--epochs", "100"], "OPTVIZ_MAX_STEPS"),
        (["--start", "1", "2"], "--start is a point on a surface"),
        (["--surface", "rosenbrock"], "train runs on a dataset"),
    ],
)
def test_bad_train_arguments_give_one_line_and_status_2(capsys, argv, message):
    code, out, err = _run_cli(capsys, "train", *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_bad_csv_file_names_the_cell(capsys, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b,y\n1,2,0\n3,oops,1\n4,5,0\n6,7,1\n")
    code, _, err = _run_cli(capsys, "train", "--csv", str(path))
    assert code == 2 and "column 'b', row 3: 'oops' is not a number" in err


def test_list_datasets_models_losses(capsys):
    for what, key in (("datasets", "digits"), ("models", "mlp"), ("losses", "hinge")):
        code, out, _ = _run_cli(capsys, "list", what, "--format", "json")
        assert code == 0 and key in {item["id"] for item in json.loads(out)}

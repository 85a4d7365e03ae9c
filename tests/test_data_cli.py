"""``python -m optviz train``: the same JSON/CSV conventions as ``run``, and one-line errors."""

from __future__ import annotations

import csv
import io
import json

import pytest

from optviz.cli import main
from optviz.data.datasets import DataConfig
from optviz.data.experiment import TrainExperiment
from optviz.data.problem import Task
from optviz.data.training import train
from optviz.engine import RunConfig

SMALL = ["--dataset", "moons", "--data-set", "n_samples=80", "--model-set", "hidden=4", "--epochs", "2",
         "--batch-size", "20"]


def _run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_train_writes_json_with_per_step_arrays_and_metrics(capsys):
    code, out, _ = _run_cli(capsys, "train", *SMALL, "--optimizer", "SGD", "Adam", "--lr", "0.1", "0.01")
    assert code == 0
    data = json.loads(out)
    assert data["steps"] == 6 and data["steps_per_epoch"] == 3 and len(data["runs"]) == 4
    run = data["runs"][0]
    assert run["label"] == "SGD lr=0.1" and run["hparams"]["lr"] == 0.1 and run["hparams"]["momentum"] == 0
    assert len(run["loss"]) == 7 and len(run["lr"]) == 6
    assert run["eval"]["step"][0] == 0 and run["eval"]["step"][-1] == 6
    assert 0 <= run["final_test_accuracy"] <= 1 and "params" not in run
    assert data["experiment"]["task"]["model_params"]["hidden"] == [4]


def test_train_csv_with_weights_of_a_small_model(capsys, tmp_path):
    target = tmp_path / "runs.csv"
    code, out, _ = _run_cli(capsys, "train", "--dataset", "linear", "--model", "linear", "--loss", "mse",
                            "--batch-size", "0", "--epochs", "4", "--optimizer", "SGD", "--lr", "0.1",
                            "--record", "loss,lr,metrics,params", "--format", "csv", "--out", str(target))
    assert code == 0 and out == ""
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert len(rows) == 5 and rows[-1]["lr"] == "" and rows[0]["w0"] and rows[0]["w1"]
    assert {"run", "label", "optimizer", "step", "epoch", "loss", "lr", "train_loss", "test_r2"} <= set(rows[0])


def test_train_config_replays_an_experiment(capsys, tmp_path):
    exp = TrainExperiment(Task(DataConfig("xor", {"n_samples": 60}), "mlp", {"hidden": (4,)}, "bce", batch_size=15,
                               epochs=2), (RunConfig("Adam", {"lr": 0.05}, label="A"),))
    path = tmp_path / "exp.json"
    path.write_text(exp.to_json())
    code, out, _ = _run_cli(capsys, "train", "--config", str(path))
    data = json.loads(out)
    assert code == 0 and data["experiment"] == exp.to_dict()
    direct = train(exp)
    assert data["runs"][0]["loss"] == direct.result.arrays["loss"][:, 0].tolist()


def test_train_on_a_csv_file(capsys, tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,b,y\n" + "\n".join(f"{i % 7},{i % 3},{(i % 7 + i % 3) % 2}" for i in range(40)))
    code, out, _ = _run_cli(capsys, "train", "--csv", str(path), "--target", "y", "--model", "logistic",
                            "--loss", "bce", "--epochs", "2", "--optimizer", "Adam")
    assert code == 0 and json.loads(out)["experiment"]["task"]["data"]["target"] == "y"


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

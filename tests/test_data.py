"""Datasets, models, losses and the training problem: registries, batches, CSV, sanity results."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from optviz.engine import RunConfig, run
from optviz.experiment import Experiment, compute, from_dict, from_json
from optviz.params import ConfigError
from optviz.problems import Task, datasets, losses, models, training
from optviz.problems.datasets import DATASETS, DataConfig, csv_data, prepare
from optviz.problems.training import ModelProblem


def why_not_model(kind, model, n_classes):
    return models.get(model).why_not(kind, n_classes)


def why_not_loss(kind, model, loss, n_classes):
    return losses.get(loss).why_not(kind, models.get(model), n_classes)


LOADABLE = [d for d, spec in DATASETS.items() if spec.source != "upload"]


@pytest.mark.parametrize("dataset", LOADABLE)
def test_every_dataset_loads_splits_and_standardizes_on_train_only(dataset):
    config = DataConfig(dataset)
    split = prepare(config)
    data = split.data
    assert data.X.shape[0] == data.y.shape[0] and np.isfinite(data.X).all()
    assert len(split.y_train) + len(split.y_test) == len(data.y)
    assert len(split.y_test) == pytest.approx(0.25 * len(data.y), abs=1)
    np.testing.assert_allclose(split.X_train.mean(0), 0, atol=1e-9)
    if data.task == datasets.CLASSIFICATION:
        assert data.n_classes >= 2 and set(np.unique(split.y_train)) == set(range(data.n_classes))
    else:
        np.testing.assert_allclose(split.y_train.mean(), 0, atol=1e-9)
    # The scaler saw the training rows only.
    raw_train = data.X[np.isin(np.arange(len(data.y)), _train_rows(config))]
    np.testing.assert_allclose(split.x_scaler.mean_, raw_train.mean(0))


def _train_rows(config):
    raw = prepare(DataConfig(config.dataset, config.params, config.test_fraction, False, config.seed))
    rows = [np.flatnonzero((raw.data.X == x).all(1))[0] for x in raw.X_train]
    return np.array(rows)


@pytest.mark.parametrize("dataset", [d for d, s in DATASETS.items() if s.source == "synthetic"])
def test_synthetic_data_is_seeded_and_sized(dataset):
    spec = DATASETS[dataset]
    a = spec.make(3, **spec.resolve({"n_samples": 123}))
    b = spec.make(3, **spec.resolve({"n_samples": 123}))
    c = spec.make(4, **spec.resolve({"n_samples": 123}))
    assert a.X.shape[0] == 123
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(a.X, c.X)
    quiet = spec.make(3, **spec.resolve({"n_samples": 123, "noise": 0.0}))
    assert not np.array_equal(
        quiet.X if spec.task == "classification" else quiet.y, a.X if spec.task == "classification" else a.y
    )


def test_dataset_parameters_are_checked():
    with pytest.raises(ConfigError, match="n_samples must be between"):
        DataConfig("moons", {"n_samples": 10**9})
    with pytest.raises(ConfigError, match="no parameter 'bogus'"):
        DataConfig("moons", {"bogus": 1})
    with pytest.raises(ConfigError, match="test fraction"):
        DataConfig("moons", test_fraction=0.9)
    with pytest.raises(ConfigError, match="unknown dataset"):
        DataConfig("mnist")


# -- CSV upload -----------------------------------------------------------------

GOOD = "a,b,label\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n9,10,1\n"


def test_csv_classification_and_regression():
    data = csv_data(GOOD)
    assert data.task == "classification" and data.classes == ("0", "1") and data.X.shape == (5, 2)
    reg = csv_data("x,y\n1,0.5\n2,1.7\n3,2.2\n4,3.9\n")
    assert reg.task == "regression" and reg.feature_names == ("x",)
    named = csv_data("x1,x2,species\n1,2,setosa\n2,1,virginica\n3,3,setosa\n0,1,virginica\n")
    assert named.classes == ("setosa", "virginica") and named.y.tolist() == [0, 1, 0, 1]
    chosen = csv_data(GOOD, target="a", task="regression")
    assert chosen.target_name == "a" and chosen.feature_names == ("b", "label")


PEOPLE = "name,born,height,label\nAda,1815,1.65,0\nAlan,1912,1.78,1\nGrace,1906,1.70,0\nKurt,1906,1.69,1\n"


def test_text_columns_can_be_left_out():
    assert datasets.text_columns(PEOPLE) == ["name"]
    data = csv_data(PEOPLE, drop=("name",))
    assert data.feature_names == ("born", "height") and data.X.shape == (4, 2)
    with pytest.raises(ConfigError, match="'Ada' is not a number; a feature must be numeric: leave the column out"):
        csv_data(PEOPLE)
    with pytest.raises(ConfigError, match="no column 'nope' to leave out"):
        csv_data(PEOPLE, drop=("nope",))
    with pytest.raises(ConfigError, match="no feature column left"):
        csv_data(PEOPLE, drop=("name", "born", "height"))
    # The choice travels with the experiment's JSON.
    config = DataConfig("csv", csv=PEOPLE, drop=("name",))
    assert Task.from_dict({"data": config.to_dict()}).data == config


@pytest.mark.parametrize(
    "text,kwargs,message",
    [
        ("a,b,label\n1,2,0\n3,x,1\n5,6,0\n7,8,1\n", {}, "column 'b', row 3: 'x' is not a number"),
        ("a,b,label\n1,2,0\n3,,1\n5,6,0\n7,8,1\n", {}, "column 'b', row 3: missing value"),
        ("a,b,label\n1,2,0\n3,4,1\n5,6,\n7,8,1\n", {}, "column 'label', row 4: missing target"),
        ("a,b,label\n1,2,0\n3,4,0\n5,6,0\n7,8,0\n", {}, "only one class"),
        ("a,b,label\n1,2,0\n3,inf,1\n5,6,0\n7,8,1\n", {}, "not a finite number"),
        ("a,b,label\n1,2,0\n3,4,1,9\n5,6,0\n7,8,1\n", {}, "cannot read the CSV"),
        ("a\n1\n2\n3\n4\n", {}, "at least two"),
        ("a,b\n1,2\n", {}, "data row"),
        ("", {}, "empty"),
        (GOOD, {"target": "nope"}, "no column 'nope'"),
        ("a,b,label\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n", {"task": "regression"}, "must be numeric"),
        ("a,b\n1,5\n2,5\n3,5\n4,5.5\n", {"task": "regression", "target": "b"}, None),
        ("a,b\n1,5\n2,5\n3,5\n4,5\n", {"task": "regression", "target": "b"}, "constant"),
        ("a,,c\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n", {}, "column 2 has no name"),
    ],
)
def test_bad_csv_names_the_row_or_column(text, kwargs, message):
    if message is None:
        csv_data(text, **kwargs)
        return
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        csv_data(text, **kwargs)


def test_csv_size_limits(monkeypatch):
    with pytest.raises(ConfigError, match="classes; the limit"):
        csv_data("x,y\n" + "\n".join(f"{i},{i}" for i in range(datasets.MAX_CLASSES + 1)), task="classification")
    monkeypatch.setattr(datasets, "MAX_CSV_ROWS", 10)
    rows = "\n".join(f"{i},{i % 2}" for i in range(11))
    with pytest.raises(ConfigError, match="more than 10 rows"):
        csv_data("x,y\n" + rows)
    monkeypatch.setattr(datasets, "MAX_CSV_COLUMNS", 3)
    with pytest.raises(ConfigError, match="4 columns; the limit is 3"):
        csv_data("a,b,c,d\n" + "\n".join("1,2,3,0" for _ in range(5)))
    monkeypatch.setattr(datasets, "MAX_CSV_BYTES", 100)
    with pytest.raises(ConfigError, match=r"the file is 0.4 kB; the limit is 0.1 kB"):
        csv_data("a,b\n" + "1,0\n" * 100)


def test_uploaded_csv_trains_end_to_end():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    text = "f1,f2,f3,target\n" + "\n".join(",".join(f"{v:.5f}" for v in row) + f",{t}" for row, t in zip(X, y))
    task = Task(DataConfig("csv", csv=text, target="target"), "logistic", {}, "bce", batch_size=0, epochs=50)
    result = compute(Experiment(task, (RunConfig("Adam", {"lr": 0.1}),)))
    assert result.metrics["train_accuracy"][-1, 0] >= 0.9


# -- models, losses, compatibility -------------------------------------------------------

KINDS = {"regression": "diabetes", "binary": "moons", "multiclass": "iris"}


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("model", list(models.MODELS))
@pytest.mark.parametrize("loss", list(losses.LOSSES))
def test_only_sensible_combinations_build_and_others_say_why(kind, model, loss):
    n_classes = {"regression": 0, "binary": 2, "multiclass": 3}[kind]
    reason = why_not_model(kind, model, n_classes) or why_not_loss(kind, model, loss, n_classes)
    assert training.why_not(kind, model, loss, n_classes) == reason
    task = Task(DataConfig(KINDS[kind]), model, {}, loss, batch_size=0, epochs=1)
    if reason:
        with pytest.raises(ConfigError) as info:
            ModelProblem(task)
        assert str(info.value) == reason and len(reason) < 140
    else:
        problem = ModelProblem(task)
        loss_value = problem.loss(torch.tensor([problem.start]), 0)
        assert loss_value.shape == (1,) and torch.isfinite(loss_value).all()


def test_every_model_and_loss_has_a_sensible_dataset():
    for model in models.MODELS:
        assert any(why_not_model(k, model, 3) is None for k in KINDS)
    for loss in losses.LOSSES:
        assert any(why_not_loss(k, m, loss, 2) is None for k in KINDS for m in models.MODELS)


def test_model_limits_and_names():
    with pytest.raises(ConfigError, match="hidden layer sizes"):
        Task(model="mlp", model_params={"hidden": (0,)})
    with pytest.raises(ConfigError, match="parameters; the limit"):
        ModelProblem(Task(DataConfig("digits"), "mlp", {"hidden": (1024, 1024)}))
    two = ModelProblem(Task(DataConfig("linear"), "linear", {}, "mse"))
    assert two.labels == ["w", "b"] and two.layout == ((1, 1), (1,))
    no_bias = ModelProblem(Task(DataConfig("blobs"), "logistic", {"bias": False}, "bce"))
    assert no_bias.labels == ["w₁", "w₂"] and no_bias.dims == 2


def test_layout_is_the_modules_own_shapes():
    """Matrices stay matrices in the layout, so optimizers like Muon could treat them as such."""
    problem = ModelProblem(Task(DataConfig("digits"), "mlp", {"hidden": (32, 16)}, "cross_entropy"))
    assert problem.layout == ((32, 64), (32,), (16, 32), (16,), (10, 16), (10,))
    assert problem.dims == sum(int(np.prod(s)) for s in problem.layout) == len(problem.start)


def test_seeded_init_gives_every_run_the_same_start():
    a = ModelProblem(Task(init_seed=1))
    b = ModelProblem(Task(init_seed=1))
    c = ModelProblem(Task(init_seed=2))
    assert a.start == b.start and a.start != c.start
    before = torch.rand(1)
    torch.manual_seed(0)
    x = torch.rand(1)
    ModelProblem(Task(init_seed=5))
    torch.manual_seed(0)
    assert torch.rand(1) == x and before is not None  # building a model leaves the global RNG alone


# -- batches ----------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [0, 1, 7, 32, 10**6])
def test_each_epoch_takes_every_row_once_in_seeded_batches(batch_size):
    problem = ModelProblem(Task(DataConfig("moons", {"n_samples": 100}), batch_size=batch_size, epochs=3))
    n = problem.n_train
    expected = n if batch_size in (0, 10**6) else batch_size
    assert problem.batch_size == expected and problem.steps_per_epoch == -(-n // expected)
    for epoch in range(3):
        rows = np.concatenate(
            [problem.batch(epoch * problem.steps_per_epoch + b) for b in range(problem.steps_per_epoch)]
        )
        assert sorted(rows.tolist()) == list(range(n))
    if 1 < expected < n:
        assert not np.array_equal(problem.order(0), problem.order(1))  # reshuffled each epoch
        again = ModelProblem(Task(DataConfig("moons", {"n_samples": 100}), batch_size=batch_size, epochs=3))
        np.testing.assert_array_equal(problem.batch(5), again.batch(5))
        other = ModelProblem(Task(DataConfig("moons", {"n_samples": 100}), batch_size=batch_size, shuffle_seed=1))
        assert not np.array_equal(problem.order(0), other.order(0))


def test_runs_in_a_batch_see_the_same_batches():
    """A run's path in a comparison is the path it takes alone: same batches, same order."""
    problem = ModelProblem(Task(DataConfig("moons"), "mlp", {"hidden": (8,)}, batch_size=16, epochs=2))
    configs = [RunConfig("SGD", {"lr": 0.1}), RunConfig("Adam", {"lr": 0.01}), RunConfig("SGD", {"lr": 0.3})]
    together = run(problem, configs, steps=problem.steps, dtype="float64", device="cpu")
    for i, config in enumerate(configs):
        alone = run(problem, [config], steps=problem.steps, dtype="float64", device="cpu")
        np.testing.assert_allclose(
            together.arrays["params"][:, i], alone.arrays["params"][:, 0], rtol=1e-12, atol=1e-14
        )


# -- sanity results ---------------------------------------------------------------------


def test_full_batch_gd_on_linear_regression_reaches_least_squares():
    # Raw x in [0, 5] makes a valley with condition number ~40: a smaller lr and more steps.
    for standardize, lr, epochs in ((True, 0.1, 400), (False, 0.09, 1000)):
        task = Task(
            DataConfig("linear", {"noise": 1.5}, standardize=standardize),
            "linear",
            {},
            "mse",
            batch_size=0,
            epochs=epochs,
        )
        problem = ModelProblem(task)
        X, y = problem.split.X_train, problem.split.y_train
        solution, *_ = np.linalg.lstsq(np.column_stack([X, np.ones(len(X))]), y, rcond=None)
        result = run(problem, [RunConfig("SGD", {"lr": lr})], steps=problem.steps, dtype="float64", device="cpu")
        np.testing.assert_allclose(result.final_params[0], solution, rtol=1e-7, atol=1e-9)


def test_logistic_regression_separates_separable_blobs():
    task = Task(DataConfig("blobs", {"noise": 0.5}), "logistic", {"bias": False}, "bce", batch_size=0, epochs=100)
    outcome = compute(Experiment(task, (RunConfig("SGD", {"lr": 0.5}), RunConfig("Adam", {"lr": 0.1}))))
    np.testing.assert_array_equal(outcome.metrics["train_accuracy"][-1], [1.0, 1.0])


def test_mlp_with_adam_learns_digits():
    task = Task(
        DataConfig("digits"),
        "mlp",
        {"hidden": (64, 64), "activation": "relu"},
        "cross_entropy",
        batch_size=32,
        epochs=30,
    )
    outcome = compute(Experiment(task, (RunConfig("Adam", {"lr": 1e-3}),)))
    assert outcome.metrics["test_accuracy"][-1, 0] >= 0.95
    assert outcome.eval_steps[-1] == outcome.steps


# -- experiments as JSON ------------------------------------------------------------------


def test_train_experiment_round_trips_through_json():
    exp = Experiment(
        Task(
            DataConfig("spiral", {"classes": 2}, 0.3, False, 4),
            "mlp",
            {"hidden": (8, 4), "activation": "relu"},
            "hinge",
            {"margin": 0.5},
            8,
            3,
            1,
            2,
        ),
        (RunConfig("SGD", {"lr": 0.1, "momentum": 0.9}, "StepLR", {"step_size": 10}, label="heavy"),),
        dtype="float64",
    )
    assert from_json(exp.to_json()) == exp
    assert from_json(exp.replace(steps=7).to_json()) == exp.replace(steps=7)
    # The first release wrote a training as {"kind": "train", "task": {...}}: it reads the same.
    old = {
        "version": 1,
        "kind": "train",
        "task": {k: v for k, v in exp.problem.to_dict().items() if k != "kind"},
        "dtype": "float64",
        "runs": [r.to_dict() for r in exp.runs],
    }
    assert from_dict(old) == exp


@pytest.mark.parametrize(
    "data,message",
    [
        ([], "JSON object"),
        ({"task": {"data": {"dataset": "nope"}}}, "unknown dataset"),
        ({"task": {"epochs": "many"}}, "'task.epochs'"),
        ({"task": {"bogus": 1}}, "unknown fields"),
        ({"task": {"data": {"test_fraction": "x"}}}, "'task.data.test_fraction'"),
        ({"task": {"model": "logistic", "loss": "mse", "batch_size": -1}}, "batch size"),
        ({"runs": [{"optimizer": 3}]}, "runs[0].optimizer"),
        ({"problem": {"kind": "train", "epochs": "many"}}, "'problem.epochs'"),
        ({"problem": {"kind": "train", "data": {"seed": 1.5}}}, "'problem.data.seed'"),
        ({"problem": {"kind": "nope"}}, "unknown problem kind 'nope'"),
        ({"problem": {"surface": "nope"}}, "unknown surface 'nope'"),
        ({"problem": {"surface": "rosenbrock", "params": {"c": 1}}}, "no parameter 'c'"),
        ({"problem": [], "runs": []}, "'problem' must be an object"),
    ],
)
def test_bad_experiment_json_names_the_field(data, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        from_dict(data)


def test_work_counts_each_training_row_once_an_epoch():
    """The work bound counts the rows a training sees: an epoch's short last batch is short."""
    problem = ModelProblem(Task(DataConfig("moons", {"n_samples": 100}), batch_size=32, epochs=3))
    assert problem.n_train == 75 and problem.steps_per_epoch == 3  # batches of 32, 32 and 11
    per_sample = 3.0 * 2 * problem.flops_per_sample
    assert problem.work(2) == per_sample * (3 * 75 + 32)
    assert problem.work(2, steps=4) == per_sample * (75 + 32 + 32)
    with pytest.raises(ConfigError, match="OPTVIZ_MAX_STEPS"):
        problem.check_work(2, problem.steps, max_steps=8)

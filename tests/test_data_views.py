"""What a training's views compute and draw: landscapes, data views, the animated figure, exports."""

from __future__ import annotations

import csv
import dataclasses
import io
import json

import numpy as np
import pytest

from optviz.analysis import data_view, landscape, least_squares
from optviz.charts import level_lines, progress_figure, styles, training_figure
from optviz.engine import RunConfig
from optviz.experiment import Experiment, compute, keep_interval
from optviz.export import to_csv, to_json
from optviz.problems import Task
from optviz.problems.datasets import DataConfig

RUNS = (RunConfig("SGD", {"lr": 0.1}, label="SGD"), RunConfig("Adam", {"lr": 0.02}, label="Adam"))
TASKS = {
    "linear": Task(DataConfig("linear", {"n_samples": 60}), "linear", {}, "mse", batch_size=8, epochs=5),
    "blobs": Task(DataConfig("blobs", {"n_samples": 80}), "logistic", {"bias": False}, "bce", batch_size=0, epochs=20),
    "moons": Task(
        DataConfig("moons", {"n_samples": 120}), "mlp", {"hidden": (8,)}, "cross_entropy", batch_size=16, epochs=4
    ),
    "spiral": Task(DataConfig("spiral", {"n_samples": 90}), "mlp", {"hidden": (8,)}, "hinge", batch_size=16, epochs=3),
    "diabetes": Task(DataConfig("diabetes"), "mlp", {"hidden": (8,)}, "huber", batch_size=64, epochs=3),
    "iris": Task(DataConfig("iris"), "softmax", {}, "cross_entropy", batch_size=16, epochs=3),
}
KIND = {
    "linear": ("weights", "curve"),
    "blobs": ("weights", "boundary"),
    "moons": ("pca", "boundary"),
    "spiral": ("pca", "boundary"),
    "diabetes": ("pca", "parity"),
    "iris": ("pca", None),
}


def _trained(name):
    task = TASKS[name]
    return compute(Experiment(task, RUNS)), task.build()


@pytest.mark.parametrize("name", list(TASKS))
def test_each_kind_of_task_gets_its_pictures_and_an_animated_figure(name):
    training, problem = _trained(name)
    land, view = landscape(training, problem), data_view(training, problem)
    assert land.kind == KIND[name][0] and (view.kind if view else None) == KIND[name][1]
    assert land.z.shape == (len(land.y), len(land.x)) and np.isfinite(land.z).all()
    assert land.paths.shape == (len(training.path_steps), len(RUNS), 2)
    fig = training_figure(training, land, view, styles([r.label for r in RUNS]))
    frames = fig.to_dict()["frames"]
    slider = fig.layout.sliders[0]
    assert len(frames) == len(slider.steps) > 1
    assert all(len(f["data"]) == len(f["traces"]) for f in frames)
    # Every frame names every trace (plotly.js hides the ones a frame leaves out), and nothing
    # is a heatmap or contour trace (plotly.js drops those when an animation starts).
    assert all(sorted(f["traces"]) == list(range(len(fig.data))) for f in frames)
    assert {t.type for t in fig.data} == {"scatter"} and all(d["type"] == "scatter" for d in frames[0]["data"])
    assert slider.steps[-1].label.startswith(f"epoch {TASKS[name].epochs}")
    if view is not None and view.kind == "boundary":
        first, last = frames[0]["data"], frames[-1]["data"]
        moving = [i for i, d in enumerate(first) if "x" in d]
        assert any(first[i]["x"] != last[i]["x"] for i in moving)  # the boundaries move
    json.loads(fig.to_json())  # serializable, NaN and all


def test_level_lines_trace_the_level_set():
    x, y = np.linspace(-2, 2, 81), np.linspace(-1.5, 1.5, 61)
    xx, yy = np.meshgrid(x, y)
    pts = level_lines(x, y, xx - 0.3)
    finite = pts[np.isfinite(pts).all(1)]
    np.testing.assert_allclose(finite[:, 0], 0.3, atol=1e-12)
    assert finite[:, 1].min() == pytest.approx(-1.5) and finite[:, 1].max() == pytest.approx(1.5)
    circle = level_lines(x, y, xx**2 + yy**2, 1.0)
    radius = np.hypot(*circle[np.isfinite(circle).all(1)].T)
    np.testing.assert_allclose(radius, 1.0, atol=2e-3)
    saddle = level_lines(np.array([0.0, 1.0]), np.array([0.0, 1.0]), np.array([[1.0, -1.0], [-1.0, 1.0]]))
    assert np.isnan(saddle).all(1).sum() == 2  # two lines through the saddle cell, each ended by NaN
    assert level_lines(x, y, xx**2 + 5.0).shape == (0, 2)


def test_two_weight_plane_marks_least_squares_and_keeps_scales_equal():
    training, problem = _trained("linear")
    land = landscape(training, problem)
    best = least_squares(problem)
    assert land.marker[:2] == pytest.approx(tuple(best))
    assert land.x[0] < best[0] < land.x[-1] and land.y[0] < best[1] < land.y[-1]
    # The surface is the full-batch loss: at the least-squares point it is the lowest on the grid.
    i, j = np.abs(land.x - best[0]).argmin(), np.abs(land.y - best[1]).argmin()
    assert land.z[j, i] <= land.z.min() + 1e-3 * np.ptp(land.z)
    fig = training_figure(training, land, data_view(training, problem), styles(["a", "b"]))
    assert fig.layout.yaxis.scaleanchor == "x"


def test_pca_plane_is_centred_on_the_best_run_and_uses_orthonormal_directions():
    training, problem = _trained("moons")
    land = landscape(training, problem)
    best = int(np.nanargmin(training.metrics["train_loss"][-1]))
    assert land.center_run == best
    np.testing.assert_allclose(land.paths[-1, best], 0.0, atol=1e-5)  # its final weights are the origin
    named = land.named(["first run", "second run"])
    assert "{center}" not in named.note and ["first run", "second run"][best] in named.note


def test_kept_weights_are_bounded_for_big_models():
    assert keep_interval(100, 3, 2) == 1
    k = keep_interval(10_000, 12, 100_000)
    assert (10_000 / k + 1) * 12 * 100_000 <= 2 * (1 << 22)


def test_a_diverged_run_is_drawn_up_to_its_divergence_and_exports_stay_valid_json():
    task = TASKS["moons"]
    training = compute(Experiment(task, (RunConfig("SGD", {"lr": 1e9}, label="boom"), RUNS[1])))
    problem = task.build()
    assert training.result.diverged_at[0] >= 0 and np.isnan(training.metrics["train_loss"][-1, 0])
    land, view = landscape(training, problem), data_view(training, problem)
    fig = training_figure(training, land, view, styles(["boom", "Adam"]))
    assert "diverged at epoch" in fig.data[[t.name for t in fig.data].index(fig.data[-1].name)].name or any(
        "diverged" in (t.name or "") for t in fig.data
    )
    data = json.loads(to_json(training))
    assert data["runs"][0]["diverged_at"] is not None and data["runs"][0]["final_train_loss"] is None
    rows = list(csv.DictReader(io.StringIO(to_csv(training))))
    assert len(rows) == 2 * (training.steps + 1)


def test_progress_figure_draws_partial_losses():
    training, _ = _trained("moons")
    partial = {"loss": training.result.arrays["loss"][:10]}
    fig = progress_figure(partial, training.steps_per_epoch, styles(["a", "b"]), training.steps)
    assert len(fig.data) == 2 and fig.layout.xaxis.range[1] == training.steps / training.steps_per_epoch


def test_a_thinned_path_exports_its_steps_and_a_small_model_its_weights():
    """A big model keeps every k-th point's weights: JSON names the steps; CSV fills their rows."""
    training, _ = _trained("linear")
    data = json.loads(to_json(training))
    run = data["runs"][0]
    assert data["steps_per_epoch"] == training.steps_per_epoch and "final_batch_loss" not in run
    assert run["final_loss"] == run["loss"][-1] and len(run["params"]) == training.steps + 1  # every point kept
    thinned = dataclasses.replace(
        training,
        result=dataclasses.replace(
            training.result,
            params_steps=training.path_steps[::4],
            arrays={**training.result.arrays, "params": training.path_params[::4]},
        ),
    )
    run = json.loads(to_json(thinned))["runs"][0]
    assert run["params"]["step"] == training.path_steps[::4].tolist() and len(run["params"]["values"]) == len(
        run["params"]["step"]
    )
    rows = list(csv.DictReader(io.StringIO(to_csv(thinned))))
    assert rows[4]["w0"] and not rows[1]["w0"] and rows[1]["loss"]

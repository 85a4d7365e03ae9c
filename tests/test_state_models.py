"""Inside the optimizer for models: the engine's ``norms`` record against the full per-weight
record, and λ_max along a model's path against torch's dense Hessian."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from optviz import charts, curvature, experiment
from optviz.charts import state as inside
from optviz.cost import estimate
from optviz.engine import DEFAULT_RECORD, RunConfig, run
from optviz.experiment import Experiment
from optviz.problems import Task
from optviz.problems.datasets import DataConfig
from optviz.ui.kinds.training import INSIDE_RECORD

RUNS = (
    RunConfig("SGD", {"lr": 0.5}, label="GD"),
    RunConfig("SGD", {"lr": 0.2, "momentum": 0.9}, label="momentum"),
    RunConfig("Adam", {"lr": 0.02}, label="Adam"),
    RunConfig("ASGD", {"lr": 0.1}, label="ASGD"),
)


def task(batch_size: int = 0, epochs: int = 12) -> Task:
    # 22 weights: a dense Hessian is instant.
    return Task(
        DataConfig("moons", {"n_samples": 60}),
        "mlp",
        {"hidden": (4,), "activation": "tanh"},
        "cross_entropy",
        batch_size=batch_size,
        epochs=epochs,
    )


@pytest.fixture(scope="module")
def full():
    """Both records of the same runs: every weight, and the norms."""
    problem = task(batch_size=16).build()
    record = (*DEFAULT_RECORD, "grad", "state", "norms")
    return run(problem, list(RUNS), steps=problem.steps, record=record, dtype="float64", chunk=7)


def test_norms_are_the_full_records_norms(full):
    a = full.arrays
    steps = full.steps
    grad, step = a["grad"][:steps], a["params"][:-1] - a["params"][1:]
    np.testing.assert_allclose(a["norms/grad"], np.linalg.norm(grad, axis=-1), rtol=1e-12)
    np.testing.assert_allclose(a["norms/update"], np.linalg.norm(step, axis=-1), rtol=1e-12)
    np.testing.assert_allclose(a["norms/cos"], inside.cosine(-grad, -step), rtol=1e-10)
    ratio = np.where(grad != 0, step / grad, np.nan)
    for q in (10, 50, 90):
        np.testing.assert_allclose(a[f"norms/eff_p{q}"], np.nanquantile(ratio, q / 100, axis=-1), rtol=1e-10)
    np.testing.assert_allclose(a["norms/eff_p50"][:, 0], 0.5, rtol=1e-12)  # GD's step ÷ g is its lr
    for key in ("exp_avg", "exp_avg_sq", "momentum_buffer", "ax"):
        full_norm = np.linalg.norm(a[f"state/{key}"], axis=-1)
        np.testing.assert_allclose(a[f"norms/state/{key}"], full_norm, rtol=1e-12)
    np.testing.assert_allclose(a["norms/scalar/eta"], a["state/eta"][..., 0], rtol=1e-12)


def test_the_model_state_panel_shows_norms_percentiles_and_bias_corrections(full):
    a = {k: v for k, v in full.arrays.items() if k.startswith("norms/") or k in DEFAULT_RECORD}
    a = inside.as_torch_keeps(a, full.resolved)
    series = inside.norm_series(a, 2, full.resolved[2])
    assert set(series["norms"]) == {"‖g‖", "‖update‖", "‖exp_avg‖", "‖exp_avg_sq‖"}
    assert set(series["effective"]) == {"median", "10th %", "90th %", "‖update‖÷‖g‖", "lr"}
    t = np.arange(1, full.steps + 1)
    np.testing.assert_allclose(series["bias"]["1−β₁ᵗ"], 1 - 0.9**t)
    np.testing.assert_allclose(series["bias"]["1−β₂ᵗ"], 1 - 0.999**t)
    # Plain GD keeps no momentum buffer (torch would not), and has no bias corrections.
    series = inside.norm_series(a, 0, full.resolved[0])
    assert "‖momentum_buffer‖" not in series["norms"] and "bias" not in series
    fig = inside.state_figure(a, 2, charts.styles(["Adam"])[0], step=4, resolved=full.resolved[2]).to_dict()
    assert fig["layout"]["yaxis4"]["domain"] and fig["layout"]["xaxis"]["anchor"] == "y4"
    names = {t["name"] for t in fig["data"]}
    assert {"median", "1−β₁ᵗ", "cos(−g, update)"} <= names


def test_recording_norms_is_bounded_by_runs_and_steps_not_weights():
    small, big = (
        task().build(),
        Task(DataConfig("digits"), "mlp", {"hidden": (64, 64)}, "cross_entropy", batch_size=0, epochs=5).build(),
    )
    runs, steps = list(RUNS[:3]), 100

    def recorded(problem, record):
        return estimate(problem, runs, steps, record=record).memory - estimate(problem, runs, steps).memory

    # The norms add a few numbers per run and step and one copy of the weights; the per-weight
    # record grows with the model.
    assert recorded(big, INSIDE_RECORD) < 0.05 * recorded(big, (*DEFAULT_RECORD, "grad", "state"))
    assert recorded(big, INSIDE_RECORD) - recorded(small, INSIDE_RECORD) < 8 * 4 * len(runs) * 12_000


@pytest.mark.parametrize("batch_size", [0, 16])
def test_lambda_max_along_a_model_path_is_the_dense_hessians(batch_size):
    exp = Experiment(task(batch_size), RUNS[:3], dtype="float64")
    out = experiment.compute(exp, record=INSIDE_RECORD)
    problem = exp.problem.build()
    mc = curvature.model_curvature(problem, out.result, points=5, tol=1e-8)
    assert len(mc.steps) == 5 and mc.steps[0] == 0 and mc.steps[-1] == out.result.steps
    X, y = problem.tensors(torch.float64)[:2]

    def training_loss(w):  # the whole training set, whatever the batches
        return problem.loss_spec.batched(problem.forward(w[None], X), y, problem.loss_params)[0]

    # Adam's preconditioner at each measured point: v after the update made from it, from a full record.
    state = experiment.compute(exp, record=(*DEFAULT_RECORD, "state")).result.arrays["state/exp_avg_sq"]
    for k, s in enumerate(mc.steps):
        w = torch.as_tensor(out.result.arrays["params"][list(out.result.params_steps).index(s)])
        hessians = [torch.autograd.functional.hessian(training_loss, w[r]) for r in range(3)]
        for r in (0, 1):
            dense = torch.linalg.eigvalsh(hessians[r])[-1]
            assert mc.sharpness[k, r] == pytest.approx(float(dense), rel=1e-6)
        if s == out.result.steps:  # no update from the last point: no preconditioner
            assert np.isnan(mc.sharpness[k, 2])
            continue
        p = np.sqrt(state[s, 2] / (1 - 0.999 ** (s + 1))) + 1e-8
        dense = max(np.linalg.eigvals(np.diag(1 / p) @ hessians[2].numpy()).real)
        assert mc.sharpness[k, 2] == pytest.approx(dense, rel=1e-6)
    # 2/η for GD, 2(1+β)/η for heavy ball, (2+2β₁)/((1−β₁)η) = 38/η for Adam against λ_max(P⁻¹H).
    np.testing.assert_allclose(mc.lines[0][0], 2 / 0.5)
    np.testing.assert_allclose(mc.lines[1][0], 2 * 1.9 / 0.2)
    np.testing.assert_allclose(mc.lines[2][0], 38 / 0.02)
    assert mc.measure == ["λ_max(H)", "λ_max(H)", "λ_max(P⁻¹H)"]
    # What is drawn: each run's λ_max at its measured steps, and the lines there.
    fig = inside.sharpness_figure(mc.sharpness, mc.lines, charts.styles(["a", "b", "c"]), steps=mc.steps).spec
    curves = [t for t in fig["data"] if t["hovertemplate"].startswith(("a<", "b<", "c<"))]
    assert len(curves) == 3
    for r, trace in enumerate(curves):
        np.testing.assert_array_equal(trace["x"], mc.steps)
        np.testing.assert_allclose(np.array(trace["y"], dtype=float), mc.sharpness[:, r])
    line = next(t for t in fig["data"] if t["name"] == "2/η (a)")
    np.testing.assert_array_equal(line["x"], mc.steps)

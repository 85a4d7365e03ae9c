"""Sweeps and maps: every run of a sweep is torch.optim's run, and the maps mean what they say.

Runs are sampled from each sweep and replayed one at a time through
``reference_run`` (torch's own optimizer and scheduler, float64).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from optviz import engine, sweeps
from optviz.config import Limits
from optviz.engine import RunConfig, resolve, run
from optviz.optim import OPTIMIZERS
from optviz.params import ConfigError
from optviz.problems import SurfaceProblem, Task
from optviz.problems.datasets import DataConfig
from optviz.reference import reference_run
from tests.helpers import truth_steps

RTOL, ATOL = 1e-5, 1e-8
ROSENBROCK = SurfaceProblem("rosenbrock")
HIMMELBLAU = SurfaceProblem("himmelblau")
QUADRATIC = SurfaceProblem("quadratic")


def _reference_summary(problem, config, steps):
    """final loss, best loss, diverged_at and final params of one run through torch,
    with the engine's definition of divergence (non-finite loss, or |param| past the bound)."""
    with np.errstate(all="ignore"):
        ref = reference_run(problem, config, steps=steps)
        loss, params = ref["loss"], ref["params"]
        bad = ~np.isfinite(loss) | ~(np.abs(params).max(axis=1) <= problem.divergence_bound)
    if bad.any():
        k = int(np.argmax(bad))
        return math.nan, float(np.min(loss[:k])) if k else math.nan, k, np.full(2, np.nan)
    return float(loss[-1]), float(loss.min()), -1, params[-1]


def _usable(name, problem):
    """Registered optimizers that can run on a 2-D surface (Muon, say, wants matrices)."""
    try:
        resolve(problem, RunConfig(name), 10)
    except ConfigError:
        return False
    return True


# A step that evaluates the loss many times (LBFGS) makes its sweep, and torch's replays of
# its diverged runs, the long part of this file: the inner loop leaves it out.
@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.slow if spec.evals_per_step(spec.defaults) > 1 else ())
        for name, spec in OPTIMIZERS.items()
    ],
)
def test_lr_sweep_runs_equal_torch_runs(name):
    if not _usable(name, ROSENBROCK):
        pytest.skip(f"{name} does not run on a 2-D surface")
    steps = truth_steps(name, 150)
    configs = [RunConfig(name, start=(-1.2, 1.0)), RunConfig(name, start=(0.5, -0.5), label="other start")]
    lrs = sweeps.log_lrs(1e-4, 3.0, 25)
    sweep = sweeps.lr_sweep(ROSENBROCK, configs, lrs, steps, dtype="float64", device="cpu")
    assert sweep.final_loss.shape == (2, 25) and np.array_equal(sweep.lrs, lrs)
    assert sweep.run(1, 3) == replace(configs[1], hparams={"lr": lrs[3]})  # a plain RunConfig
    for k in range(2):
        for i in (0, 8, 16, 24):
            final, best, diverged_at, _ = _reference_summary(ROSENBROCK, sweep.run(k, i), steps)
            what = f"{name} {configs[k].label} lr={lrs[i]:g}"
            assert sweep.diverged_at[k, i] == diverged_at, what
            np.testing.assert_allclose(sweep.final_loss[k, i], final, rtol=RTOL, atol=ATOL, err_msg=what)
            np.testing.assert_allclose(sweep.best_loss[k, i], best, rtol=RTOL, atol=ATOL, err_msg=what)


def test_lr_sweep_marks_divergence_as_torch_sees_it():
    steps = 100
    sweep = sweeps.lr_sweep(
        ROSENBROCK,
        [RunConfig("SGD", {"momentum": 0.9})],
        sweeps.log_lrs(1e-5, 0.1, 30),
        steps,
        dtype="float64",
        device="cpu",
    )
    diverged = sweep.diverged_at[0] >= 0
    assert diverged.any() and not diverged.all(), "the range must straddle the edge of stability"
    # Small lrs converge, large ones diverge: one edge, no islands.
    assert not diverged[: np.argmax(diverged)].any() and diverged[np.argmax(diverged) :].all()
    assert np.isnan(sweep.final_loss[0, diverged]).all()
    edge = int(np.argmax(diverged))
    for i in (edge - 1, edge, edge + 3, 29):
        final, best, diverged_at, _ = _reference_summary(ROSENBROCK, sweep.run(0, i), steps)
        assert sweep.diverged_at[0, i] == diverged_at
        np.testing.assert_allclose(sweep.best_loss[0, i], best, rtol=RTOL, atol=ATOL)
    best = sweep.best_index(0)
    assert best is not None and not diverged[best]
    assert sweep.final_loss[0, best] == np.nanmin(sweep.final_loss[0])


def test_best_lr_skips_diverged_runs_and_prefers_the_smaller_of_ties():
    lrs = np.array([1e-3, 1e-2, 1e-1, 1.0])
    sweep = sweeps.LRSweep(
        QUADRATIC,
        (RunConfig("SGD"), RunConfig("Adam")),
        10,
        lrs,
        final_loss=np.array([[3.0, 1.0, 1.0, np.nan], [np.nan] * 4]),
        best_loss=np.array([[1.0, 1.0, 1.0, 0.5], [1.0] * 4]),
        diverged_at=np.array([[-1, -1, -1, 4], [2, 2, 2, 2]]),
        wall_time=0.0,
        device="cpu",
        dtype="float64",
    )
    assert sweep.best_index(0) == 1 and sweep.best_lr(0) == 1e-2
    assert sweep.best_index(1) is None and sweep.best_lr(1) is None
    assert dict(sweep.run(0, 2).hparams)["lr"] == 0.1


@pytest.mark.parametrize(
    "config",
    [
        RunConfig("SGD", {"lr": 0.01, "momentum": 0.5}),
        RunConfig("Adam", {"lr": 0.05}, schedule="StepLR", schedule_args={"step_size": 40}),
    ],
    ids=["SGD-momentum", "Adam-StepLR"],
)
def test_basin_map_runs_equal_torch_runs(config):
    steps = 120
    bm = sweeps.basin_map(HIMMELBLAU, [config], steps, nx=13, ny=11, dtype="float64", device="cpu")
    assert bm.final_loss.shape == (1, 11, 13) and bm.final_params.shape == (1, 11, 13, 2)
    assert bm.xs[0] == -5 and bm.xs[-1] == 5 and bm.ys.size == 11
    for j, i in [(0, 0), (3, 7), (5, 6), (10, 12), (7, 2)]:
        run = bm.run(0, j, i)
        assert run.start == (bm.xs[i], bm.ys[j])
        final, best, diverged_at, params = _reference_summary(HIMMELBLAU, run, steps)
        assert bm.diverged_at[0, j, i] == diverged_at
        np.testing.assert_allclose(bm.final_loss[0, j, i], final, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(bm.final_params[0, j, i], params, rtol=RTOL, atol=ATOL)
        assert bm.minimum[0, j, i] == sweeps.reached_minimum(params, bm.minima, bm.tol)


def test_basin_map_finds_himmelblaus_four_basins_side_by_side():
    configs = [RunConfig("SGD", {"lr": 0.01}), RunConfig("SGD", {"lr": 0.01, "momentum": 0.9}, label="heavy")]
    bm = sweeps.basin_map(HIMMELBLAU, configs, 300, nx=30, dtype="float64", device="cpu")
    assert bm.minimum.shape == (2, 30, 30)
    plain = bm.shares(0)
    assert set(plain) == {0, 1, 2, 3}, "plain GD with a safe lr reaches one of the four minima from every start"
    assert sum(plain.values()) == pytest.approx(1.0)
    # Near each minimum, the start's own basin wins.
    for m, (x, y, _) in enumerate(bm.minima):
        i, j = np.argmin(abs(bm.xs - x)), np.argmin(abs(bm.ys - y))
        assert bm.minimum[0, j, i] == m
    assert bm.label(1) == "heavy" and bm.label(0) == "SGD"


def test_reached_minimum():
    minima = [(0.0, 0.0, 0.0), (3.0, 2.0, 0.0)]
    points = np.array([[0.01, 0.0], [2.95, 2.0], [1.5, 1.0], [np.nan, np.nan]])
    assert sweeps.reached_minimum(points, minima, 0.1).tolist() == [0, 1, -1, -1]
    assert sweeps.reached_minimum(points, [], 0.1).tolist() == [-1, -1, -1, -1]


def test_heatmap_runs_equal_torch_runs():
    steps = 80
    x = sweeps.Axis("lr", 1e-3, 1.0, 7, log=True)
    y = sweeps.Axis("betas[1]", 0.5, 0.999, 5)
    hm = sweeps.heatmap(
        ROSENBROCK, RunConfig("Adam", {"betas": (0.8, 0.9)}), x, y, steps, dtype="float64", device="cpu"
    )
    assert hm.final_loss.shape == (5, 7)
    for j, i in [(0, 0), (2, 3), (4, 6), (1, 5)]:
        run = hm.run(j, i)
        assert dict(run.hparams)["betas"] == (0.8, y.values[j]) and dict(run.hparams)["lr"] == x.values[i]
        final, best, diverged_at, _ = _reference_summary(ROSENBROCK, run, steps)
        assert hm.diverged_at[j, i] == diverged_at
        np.testing.assert_allclose(hm.final_loss[j, i], final, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(hm.best_loss[j, i], best, rtol=RTOL, atol=ATOL)


def test_polyak_heavy_ball_formula():
    alpha, beta = sweeps.polyak_heavy_ball(1.0, 1 / 25)
    assert alpha == pytest.approx(25 / 9) and beta == pytest.approx(4 / 9)
    assert sweeps.polyak_point(QUADRATIC) == (alpha, beta)  # the surface's default kappa is 25
    assert sweeps.polyak_point(ROSENBROCK) is None
    with pytest.raises(ConfigError):
        sweeps.polyak_heavy_ball(1.0, 0.0)


def _nearest(values, v, log):
    f = np.log10 if log else np.asarray
    return int(np.argmin(abs(f(values) - f(v))))


@pytest.mark.parametrize("kappa,steps,nx,ny", [(25, 100, 31, 20), (25, 200, 41, 40), (100, 300, 31, 20)])
def test_heatmap_best_cell_is_next_to_polyaks_heavy_ball(kappa, steps, nx, ny):
    """On the quadratic, SGD with momentum is the heavy ball: the lowest final loss on an
    lr x momentum grid lies in the cell of Polyak's optimal (alpha, beta) or one next to it."""
    problem = SurfaceProblem("quadratic", {"kappa": kappa})
    alpha, beta = sweeps.polyak_point(problem)
    x = sweeps.Axis("lr", 0.1, 10.0, nx, log=True)
    y = sweeps.Axis("momentum", 0.0, 0.95 if ny == 20 else 0.975, ny)
    # float64: near the optimum the loss falls below float32's smallest number.
    hm = sweeps.heatmap(problem, RunConfig("SGD"), x, y, steps, dtype="float64", device="cpu")
    j, i = hm.best_cell()
    di, dj = i - _nearest(x.values, alpha, log=True), j - _nearest(y.values, beta, log=False)
    assert abs(di) <= 1 and abs(dj) <= 1, (
        f"best cell lr={x.values[i]:.3g}, momentum={y.values[j]:.3g}; Polyak: {alpha:.3g}, {beta:.3g}"
    )
    # ... and in grid steps from the point itself (log10 for the lr):
    assert abs(math.log10(x.values[i] / alpha)) <= 1.5 * x.step() and abs(y.values[j] - beta) <= 1.5 * y.step()
    # The map is not flat: its best is far better than plain GD's best (momentum 0).
    assert hm.final_loss[j, i] < 1e-6 * np.nanmin(hm.final_loss[0])


@pytest.mark.parametrize(
    "name,message",
    [
        ("betas", "vary one of them"),
        ("betas[2]", "vary one of them"),
        ("amsgrad", "not a number"),
        ("nope", "no hyperparameter"),
        ("lr[", "not a hyperparameter name"),
    ],
)
def test_heatmap_axis_names(name, message):
    with pytest.raises(ConfigError, match=message):
        sweeps.with_hparam(RunConfig("Adam"), name, 0.5)


def test_bad_requests_are_refused_with_a_message():
    with pytest.raises(ConfigError, match="0 < low <= high"):
        sweeps.log_lrs(1.0, 0.1, 10)
    with pytest.raises(ConfigError, match="finite"):
        sweeps.log_lrs(float("nan"), 0.1, 10)
    with pytest.raises(ConfigError, match="whole number"):
        sweeps.log_lrs(0.1, 1, 0)
    with pytest.raises(ConfigError, match="two different"):
        sweeps.heatmap(QUADRATIC, RunConfig("SGD"), sweeps.Axis("lr", 0.1, 1, 3), sweeps.Axis("lr", 0.1, 1, 3), 5)
    with pytest.raises(ConfigError, match="Invalid momentum"):  # torch's own words
        sweeps.heatmap(QUADRATIC, RunConfig("SGD"), sweeps.Axis("lr", 0.1, 1, 3), sweeps.Axis("momentum", -1, 0, 3), 5)
    with pytest.raises(ConfigError, match="low < high"):
        sweeps.basin_map(HIMMELBLAU, [RunConfig("SGD")], 5, nx=3, x_range=(1, 1))


class Counting:
    """The quadratic surface, counting how often the engine evaluates it (its own config and problem)."""

    default_steps = 100

    def __init__(self):
        self.inner, self.calls = QUADRATIC, 0
        self.layout, self.start, self.divergence_bound = self.inner.layout, self.inner.start, 1e6

    def build(self):
        return self

    def loss(self, params, step=0):
        self.calls += 1
        return self.inner.loss(params, step)


def test_work_bound_refuses_before_any_work():
    problem = Counting()
    small = Limits(max_work=10_000, max_grid=20)
    with pytest.raises(ConfigError, match="OPTVIZ_MAX_WORK"):
        sweeps.lr_sweep(problem, [RunConfig("SGD")], sweeps.log_lrs(1e-3, 1, 101), 100, limits=small)
    assert problem.calls == 0
    with pytest.raises(ConfigError, match="OPTVIZ_MAX_GRID"):
        sweeps.basin_map(HIMMELBLAU, [RunConfig("SGD")], 1, nx=21, limits=small)
    with pytest.raises(ConfigError, match="OPTVIZ_MAX_WORK"):
        sweeps.basin_map(HIMMELBLAU, [RunConfig("SGD"), RunConfig("Adam")], 20, nx=20, limits=small)
    with pytest.raises(ConfigError, match="OPTVIZ_MAX_GRID"):
        sweeps.heatmap(
            QUADRATIC,
            RunConfig("SGD"),
            sweeps.Axis("lr", 0.1, 1, 21),
            sweeps.Axis("momentum", 0, 1, 2),
            1,
            limits=small,
        )
    with pytest.raises(ConfigError, match="OPTVIZ_MAX_STEPS"):
        sweeps.lr_sweep(problem, [RunConfig("SGD")], [0.1], 30_000)
    # Just inside the bound runs.
    sweeps.lr_sweep(problem, [RunConfig("SGD")], sweeps.log_lrs(1e-3, 1, 100), 100, limits=small)
    assert problem.calls == 101


def _same(a, b, fields):
    for f in fields:
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)


def test_streaming_in_chunks_equals_all_at_once():
    configs = [RunConfig("SGD", {"momentum": 0.9}), RunConfig("Adam", schedule="CosineAnnealingLR")]
    lrs = sweeps.log_lrs(1e-4, 1.0, 40)
    whole = sweeps.lr_sweep(ROSENBROCK, configs, lrs, 97, chunk=97)
    seen = []
    parts = sweeps.lr_sweep(ROSENBROCK, configs, lrs, 97, chunk=10, on_progress=seen.append)
    _same(whole, parts, ["final_loss", "best_loss", "diverged_at"])
    # A report after each chunk but the last (the result is the last word); summaries only.
    assert [p.done for p in seen] == [*range(10, 97, 10)] and all(p.total == 97 for p in seen)
    assert seen[0].runs == 80 and all(p.arrays() == {} for p in seen)

    a = sweeps.basin_map(HIMMELBLAU, configs, 50, nx=9, chunk=50)
    b = sweeps.basin_map(HIMMELBLAU, configs, 50, nx=9, chunk=3)
    _same(a, b, ["final_loss", "final_params", "minimum", "diverged_at"])
    x, y = sweeps.Axis("lr", 0.1, 3, 6, log=True), sweeps.Axis("momentum", 0, 0.9, 4)
    a = sweeps.heatmap(QUADRATIC, RunConfig("SGD"), x, y, 40, chunk=40)
    b = sweeps.heatmap(QUADRATIC, RunConfig("SGD"), x, y, 40, chunk=7)
    _same(a, b, ["final_loss", "best_loss", "diverged_at"])


def test_cancelling_stops_the_work():
    problem = Counting()
    lrs = sweeps.log_lrs(1e-3, 1, 50)
    with pytest.raises(sweeps.Cancelled):
        sweeps.lr_sweep(problem, [RunConfig("SGD")], lrs, 1000, chunk=10, on_progress=lambda p: p.done < 30)
    assert 30 <= problem.calls <= 41  # three chunks of ten steps, not a thousand
    problem.calls = 0
    runs = [RunConfig("SGD", {"lr": lr}) for lr in lrs]
    stream = engine.stream(problem, runs, steps=1000, chunk=10, record=())
    first = next(stream)
    stream.close()  # the generator form: closing it is cancelling
    assert first.start == 0 and not first.done and problem.calls <= 11


def test_float32_by_default_like_the_engine():
    sweep = sweeps.lr_sweep(QUADRATIC, [RunConfig("SGD")], [1.0, 0.1], 10, device="cpu")
    assert sweep.dtype == "float32" and sweep.final_loss.dtype == np.float32
    assert sweep.lrs.tolist() == [0.1, 1.0]  # sorted: ties go to the smaller lr


def test_one_thread_gives_the_same_numbers_and_restores_torchs_setting():
    before = torch.get_num_threads()
    lrs = sweeps.log_lrs(1e-4, 1.0, 30)
    a = sweeps.lr_sweep(ROSENBROCK, [RunConfig("Adam")], lrs, 50, device="cpu")
    b = sweeps.lr_sweep(ROSENBROCK, [RunConfig("Adam")], lrs, 50, device="cpu", threads=1)
    _same(a, b, ["final_loss", "best_loss", "diverged_at"])
    assert torch.get_num_threads() == before
    seen = []
    with pytest.raises(sweeps.Cancelled):  # cancelled mid-way: still restored
        sweeps.lr_sweep(
            ROSENBROCK,
            [RunConfig("Adam")],
            lrs,
            50,
            chunk=5,
            device="cpu",
            threads=1,
            on_progress=lambda p: seen.append(torch.get_num_threads()) or p.done < 20,
        )
    assert seen == [1] * 4 and torch.get_num_threads() == before


def test_runs_that_share_a_resolution_still_check_their_own_lr_and_start():
    """The engine resolves a sweep's runs once; each run's lr and start are still its own and checked."""
    configs = [
        RunConfig("SGD", {"lr": 0.1, "momentum": 0.5}, start=(0.0, 1.0)),
        RunConfig("SGD", {"momentum": 0.5}, start=(1.0, 0.0)),
        RunConfig("SGD", {"lr": "0.002", "momentum": 0.5}),
    ]
    res = run(ROSENBROCK, configs, steps=2, record=())
    assert [r["hparams"]["lr"] for r in res.resolved] == [0.1, 1e-3, 0.002]
    assert [r["start"] for r in res.resolved] == [[0.0, 1.0], [1.0, 0.0], [-1.2, 1.0]]
    assert res.resolved[0]["hparams"] is not res.resolved[1]["hparams"]
    with pytest.raises(ConfigError, match="Invalid learning rate"):
        run(ROSENBROCK, [configs[0], replace(configs[0], hparams={"lr": -1.0, "momentum": 0.5})], steps=2)
    with pytest.raises(ConfigError, match="finite"):
        run(ROSENBROCK, [configs[0], replace(configs[0], start=(0.0, math.nan))], steps=2)
    with pytest.raises(ConfigError, match="lr: cannot read"):
        run(ROSENBROCK, [configs[0], replace(configs[0], hparams={"lr": "fast", "momentum": 0.5})], steps=2)


def test_sweeps_run_on_a_training_too():
    """An LR sweep and a heatmap take any problem config: on a task, its epochs of mini-batches."""
    task = Task(DataConfig("moons", {"n_samples": 60}), "logistic", {}, "bce", batch_size=15, epochs=2)
    sweep = sweeps.lr_sweep(task, [RunConfig("Adam")], sweeps.log_lrs(1e-3, 1.0, 4), dtype="float64", device="cpu")
    assert sweep.steps == task.build().steps == 6 and sweep.final_loss.shape == (1, 4)
    final, best, diverged_at, _ = _reference_summary(task.build(), sweep.run(0, 2), sweep.steps)
    assert sweep.diverged_at[0, 2] == diverged_at
    np.testing.assert_allclose(sweep.final_loss[0, 2], final, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(sweep.best_loss[0, 2], best, rtol=RTOL, atol=ATOL)
    data = sweeps.lr_sweep_dict(sweep)
    assert data["problem"] == task.to_dict() and "start" not in data
    x, y = sweeps.Axis("lr", 0.01, 1, 3, log=True), sweeps.Axis("betas[0]", 0.5, 0.9, 2)
    hm = sweeps.heatmap(task, RunConfig("Adam"), x, y, steps=4)
    assert hm.final_loss.shape == (2, 3) and hm.steps == 4
    with pytest.raises(ConfigError, match="2-D surface"):
        sweeps.basin_map(task, [RunConfig("SGD")], 5, nx=3)


def test_a_sweep_on_a_training_is_held_to_the_training_work_bound(monkeypatch):
    """N lrs on a model cost what N runs of a training cost: refused as such, before any work."""
    task = Task(DataConfig("moons", {"n_samples": 60}), "mlp", {"hidden": (8,)}, batch_size=15, epochs=2)
    monkeypatch.setenv("OPTVIZ_MAX_TRAIN_WORK", "1e6")
    with pytest.raises(ConfigError, match="OPTVIZ_MAX_TRAIN_WORK"):
        sweeps.lr_sweep(task, [RunConfig("Adam")], sweeps.log_lrs(1e-3, 1.0, 50))
    with pytest.raises(ConfigError, match="OPTVIZ_MAX_TRAIN_WORK"):
        sweeps.heatmap(task, RunConfig("Adam"), sweeps.Axis("lr", 0.01, 1, 10), sweeps.Axis("betas[0]", 0, 0.9, 10))
    sweeps.lr_sweep(task, [RunConfig("Adam")], [0.1], steps=1)  # a small one still runs


def test_polyak_point_uses_the_entrys_curvatures():
    booth = SurfaceProblem("booth")  # Hessian [[10, 8], [8, 10]]: curvatures 18 and 2
    assert sweeps.polyak_point(booth) == sweeps.polyak_heavy_ball(18.0, 2.0)
    assert sweeps.polyak_point(Task()) is None

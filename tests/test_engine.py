"""Engine behaviour beyond the optimizer maths: streaming, progress and cancelling, divergence,
limits, thinned paths, the slow path."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from optviz import engine
from optviz.config import Limits
from optviz.engine import Cancelled, RunConfig, Stepper, run, stream
from optviz.params import ConfigError
from optviz.problems import SurfaceProblem
from optviz.reference import reference_run

ROSENBROCK = SurfaceProblem("rosenbrock")


class HalfStep(torch.optim.Optimizer):
    """A user's own optimizer: SGD that halves its step, with a closure it calls."""

    def __init__(self, params, lr=0.01, shrink=0.5):
        super().__init__(params, {"lr": lr, "shrink": shrink})

    @torch.no_grad()
    def step(self, closure):
        with torch.enable_grad():
            loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                p.add_(p.grad, alpha=-group["lr"] * group["shrink"])
        return loss


def test_dotted_path_runs_torch_itself():
    configs = [
        RunConfig("torch.optim.SGD", {"lr": 1e-3, "momentum": 0.9}, noise=0.5, seed=3),
        RunConfig("SGD", {"lr": 1e-3, "momentum": 0.9}, noise=0.5, seed=3),
        RunConfig("tests.test_engine.HalfStep", {"lr": 2e-3}, schedule="StepLR", schedule_args={"step_size": 20}),
    ]
    anything = Limits(optimizer_modules=("",))
    res = run(ROSENBROCK, configs, steps=200, dtype="float64", device="cpu", limits=anything)
    np.testing.assert_allclose(res.arrays["params"][:, 0], res.arrays["params"][:, 1], rtol=1e-12)
    ref = reference_run(ROSENBROCK, configs[2], steps=200)
    np.testing.assert_allclose(res.arrays["params"][:, 2], ref["params"], rtol=1e-10)


def test_dotted_path_respects_allow_list():
    limits = Limits(optimizer_modules=("torch.optim",))
    with pytest.raises(ConfigError, match="not allowed"):
        run(ROSENBROCK, [RunConfig("os.path.join")], steps=1, limits=limits)
    with pytest.raises(ConfigError, match="not a torch.optim.Optimizer"):
        run(ROSENBROCK, [RunConfig("torch.optim.lr_scheduler.StepLR")], steps=1)


def test_diverging_run_is_frozen_and_others_go_on():
    configs = [RunConfig("SGD", {"lr": 0.1}), RunConfig("SGD", {"lr": 1e-3})]
    res = run(ROSENBROCK, configs, steps=100)
    k = res.diverged_at[0]
    assert 0 < k < 100 and res.diverged_at[1] == -1
    params, loss = res.arrays["params"][:, 0], res.arrays["loss"][:, 0]
    assert np.isfinite(params[:k]).all() and np.isnan(params[k:]).all()
    assert np.isnan(loss[k:]).all() and np.isfinite(res.best_loss[0])
    assert np.isfinite(res.arrays["params"][:, 1]).all()
    assert res.run(0)["diverged_at"] == k and res.run(0)["final_loss"] is None


def test_nan_start_diverges_at_zero():
    res = run(ROSENBROCK, [RunConfig("Adam", start=(1e300, 1e300))], steps=5, dtype="float64")
    assert res.diverged_at[0] == 0


@pytest.mark.parametrize("chunk", [1, 7, 50])
def test_streaming_equals_all_at_once(chunk):
    configs = [
        RunConfig("Adam", {"lr": 0.05}, schedule="StepLR", schedule_args={"step_size": 9}, noise=1.0),
        RunConfig("SGD", {"lr": 1e-3, "momentum": 0.9}),
    ]
    whole = run(ROSENBROCK, configs, steps=50, record=("params", "loss", "lr", "grad", "state"))
    chunks = list(stream(ROSENBROCK, configs, steps=50, chunk=chunk, record=("params", "loss", "lr", "grad", "state")))
    assert chunks[-1].done and not any(c.done for c in chunks[:-1])
    for key, arr in whole.arrays.items():
        np.testing.assert_array_equal(np.concatenate([c.arrays[key] for c in chunks]), arr, err_msg=key)
    assert whole.arrays["params"].shape == (51, 2, 2) and whole.arrays["lr"].shape == (50, 2)
    assert whole.arrays["state/exp_avg"].shape == (50, 2, 2)


def test_cancel_by_closing_the_stream():
    gen = stream(ROSENBROCK, [RunConfig("Adam")], steps=10_000, chunk=10)
    first = next(gen)
    gen.close()
    assert first.start == 0 and not first.done


def test_summary_only_records_nothing_per_step():
    res = run(ROSENBROCK, [RunConfig("Adam", {"lr": 0.01})] * 3, steps=100, record=())
    assert res.arrays == {} and res.final_loss.shape == (3,)
    assert np.all(res.best_loss <= res.final_loss)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(configs=[RunConfig("Nope")]), "unknown optimizer"),
        (dict(configs=[RunConfig("Adam", {"lr": -1})]), "Invalid learning rate"),
        (dict(configs=[RunConfig("Adam", {"betas": "0.9"})]), "betas"),
        (dict(configs=[RunConfig("Adam", {"foo": 1})]), "no hyperparameter 'foo'"),
        (dict(configs=[RunConfig("SGD", {"nesterov": True})]), "Nesterov"),
        (dict(configs=[RunConfig("SGD", start=(1.0,))]), "2 coordinates"),
        (dict(configs=[RunConfig("SGD", noise=-1)]), "noise"),
        (dict(configs=[RunConfig("SGD", schedule="nope")]), "unknown schedule"),
        (dict(configs=[RunConfig("SGD")], steps=0), "steps"),
        (dict(configs=[RunConfig("SGD")], steps=10**9), "OPTVIZ_MAX_STEPS"),
        (dict(configs=[RunConfig("SGD")] * 3, limits=Limits(max_work=10)), "OPTVIZ_MAX_WORK"),
        (dict(configs=[]), "no runs"),
        (dict(configs=[RunConfig("SGD")], dtype="float16"), "dtype"),
    ],
)
def test_bad_input_gives_a_clear_config_error(kwargs, message):
    kwargs = {"steps": 10, **kwargs}
    with pytest.raises(ConfigError, match=message):
        run(ROSENBROCK, **kwargs)


def test_float32_is_default_and_close_to_float64():
    configs = [RunConfig("Adam", {"lr": 0.01})]
    f32 = run(ROSENBROCK, configs, steps=100)
    f64 = run(ROSENBROCK, configs, steps=100, dtype="float64")
    assert f32.arrays["params"].dtype == np.float32 and f32.dtype == "float32"
    np.testing.assert_allclose(f32.arrays["params"], f64.arrays["params"], rtol=1e-3, atol=1e-4)


def test_surface_parameters_reach_the_loss():
    res = run(SurfaceProblem("rosenbrock", {"a": 2.0}), [RunConfig("Adam", start=(2.0, 4.0))], steps=1)
    assert math.isclose(res.arrays["loss"][0, 0], 0.0, abs_tol=1e-6)


def test_on_chunk_reports_progress_and_false_cancels():
    configs = [RunConfig("Adam", {"lr": 0.05}), RunConfig("SGD", {"lr": 1e-3})]
    seen = []
    whole = run(ROSENBROCK, configs, steps=95, on_chunk=seen.append)
    # About 20 reports, none after the last chunk; each carries what is done so far.
    assert [p.done for p in seen] == list(range(5, 95, 5)) and all(p.total == 95 and p.runs == 2 for p in seen)
    np.testing.assert_array_equal(seen[3].arrays()["loss"], whole.arrays["loss"][:20])
    assert seen[3].fraction == 20 / 95
    with pytest.raises(Cancelled, match="stopped after 30 of 1000 steps"):
        run(ROSENBROCK, configs, steps=1000, chunk=10, on_chunk=lambda p: p.done < 30)


def test_keep_every_thins_the_kept_points_and_keeps_the_last():
    configs = [RunConfig("Adam", {"lr": 0.05})]
    every = run(ROSENBROCK, configs, steps=23, dtype="float64")
    thinned = run(ROSENBROCK, configs, steps=23, dtype="float64", keep_every=5, chunk=7)
    assert every.params_steps.tolist() == list(range(24))
    assert thinned.params_steps.tolist() == [0, 5, 10, 15, 20, 23]
    np.testing.assert_array_equal(thinned.arrays["params"], every.arrays["params"][thinned.params_steps])
    np.testing.assert_array_equal(thinned.arrays["loss"], every.arrays["loss"])  # the rest stays per step
    chunks = list(Stepper(ROSENBROCK, configs, steps=23, chunk=7, keep_every=5).chunks())
    assert [c.params_steps.tolist() for c in chunks] == [[0, 5], [10], [15, 20], [23]]


def test_threads_are_set_for_the_run_and_restored():
    before = torch.get_num_threads()
    seen = []
    run(
        ROSENBROCK,
        [RunConfig("Adam")],
        steps=10,
        chunk=2,
        threads=1,
        on_chunk=lambda p: seen.append(torch.get_num_threads()),
    )
    assert seen and set(seen) == {1} and torch.get_num_threads() == before
    with pytest.raises(Cancelled):
        run(ROSENBROCK, [RunConfig("Adam")], steps=10, chunk=2, threads=1, on_chunk=lambda p: False)
    assert torch.get_num_threads() == before


def test_intra_op_threads_stays_in_its_thread():
    import threading

    before = torch.get_num_threads()
    with engine.intra_op_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    seen = []

    def session():  # a Streamlit script thread
        with engine.intra_op_threads(1):
            seen.append(torch.get_num_threads())

    t = threading.Thread(target=session)
    t.start()
    t.join()
    assert seen[0] == 1 and torch.get_num_threads() == before


# -- gradient noise: counter-based, per (seed, step) ------------------------------------------


def test_gradient_noise_is_the_same_in_any_prefix():
    """Step 100 of a 100-step run is step 100 of a 300-step run; runs under 8 steps get the
    same draws as the first steps of longer ones; a chunk draws only its own points."""
    long = engine.gradient_noise(7, 301, 2)
    for steps in (1, 3, 7, 8, 101):
        np.testing.assert_array_equal(engine.gradient_noise(7, steps, 2).numpy(), long[:steps].numpy())
    np.testing.assert_array_equal(engine.gradient_noise(7, 50, 2, start=120).numpy(), long[120:170].numpy())
    assert not torch.equal(engine.gradient_noise(8, 5, 2), long[:5])
    # In a run: the path of 100 noisy steps is the start of the path of 300.
    configs = [RunConfig("SGD", {"lr": 1e-3, "momentum": 0.9}, noise=2.0, seed=s) for s in (0, 5)]
    short = run(ROSENBROCK, configs, steps=100, dtype="float64", device="cpu")
    longer = run(ROSENBROCK, configs, steps=300, dtype="float64", device="cpu")
    np.testing.assert_array_equal(short.arrays["params"], longer.arrays["params"][:101])
    streamed = run(ROSENBROCK, configs, steps=300, dtype="float64", device="cpu", chunk=37)
    np.testing.assert_array_equal(streamed.arrays["params"], longer.arrays["params"])

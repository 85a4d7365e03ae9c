"""Batched training against the plain torch.nn + torch.optim loop, step by step.

Every optimizer variant of the registry trains one of the model/loss/data
combinations below (in turn, so every optimizer, model and loss appears), as a
batch of runs with different learning rates; each run must follow the loop that
trains its own ``torch.nn`` model on the same mini-batches.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from optviz.data import losses, models
from optviz.data.datasets import DataConfig
from optviz.data.problem import ModelProblem, Task
from optviz.data.reference import reference_train
from optviz.engine import RunConfig, run
from optviz.optim import OPTIMIZERS, ConfigError

RTOL, ATOL = 1e-5, 1e-9
MAX_STEPS = 40


def _task(dataset, model, loss, batch_size, params=None, model_params=None, loss_params=None, epochs=2):
    return Task(DataConfig(dataset, params or {}), model, model_params or {}, loss, loss_params or {},
                batch_size=batch_size, epochs=epochs)


# (id, task): every model and every loss at least once, on regression, binary and
# multiclass data, with full-batch, mini-batch and single-sample steps.
COMBOS = [
    ("linear-mse", _task("linear", "linear", "mse", 16)),
    ("mlp-mae", _task("linear", "mlp", "mae", 10, model_params={"hidden": (6,), "activation": "tanh"})),
    ("linear-huber", _task("diabetes", "linear", "huber", 32, loss_params={"delta": 0.5})),
    ("mlp-smoothl1-full", _task("diabetes", "mlp", "smooth_l1", 0, model_params={"hidden": (8,), "activation": "relu"})),
    ("logistic-bce", _task("moons", "logistic", "bce", 32)),
    ("logistic-hinge-single", _task("blobs", "logistic", "hinge", 1, model_params={"bias": False}, epochs=1)),
    ("softmax-ce", _task("iris", "softmax", "cross_entropy", 16)),
    ("mlp-hinge-multi", _task("spiral", "mlp", "hinge", 32, model_params={"hidden": (8, 8), "activation": "gelu"})),
    ("mlp-bce", _task("xor", "mlp", "bce", 25, model_params={"hidden": (8,), "activation": "sigmoid"})),
    ("mlp-ce-digits", _task("digits", "mlp", "cross_entropy", 64, model_params={"hidden": (16,), "activation": "silu"})),
    ("softmax-hinge-binary", _task("breast_cancer", "softmax", "hinge", 32, model_params={"bias": False})),
    ("mlp-huber", _task("linear", "mlp", "huber", 20, model_params={"hidden": (4, 4), "activation": "elu"})),
    ("mlp-ce-leaky", _task("circles", "mlp", "cross_entropy", 50, model_params={"hidden": (8,), "activation": "leaky_relu"})),
]
PROBLEMS: dict[str, ModelProblem] = {}


def _problem(combo_id: str) -> ModelProblem:
    if combo_id not in PROBLEMS:
        PROBLEMS[combo_id] = ModelProblem(dict(COMBOS)[combo_id])
    return PROBLEMS[combo_id]


# LBFGS takes per-run dot products over a whole weight vector; torch's torch.dot goes
# through BLAS, which sums in its own order, so the two agree to ~1e-16 a step and
# LBFGS's tolerance tests and line search amplify that. test_lbfgs_on_models holds it
# to torch more loosely, and exactly to itself run alone (tests/test_truth.py explains).
NOT_BITWISE_ON_MODELS = {"LBFGS"}


def _accepts(name: str, variant: int, combo_id: str) -> bool:
    """Whether torch's own constructor takes this variant on the model's layout (Muon: matrices only)."""
    spec = OPTIMIZERS[name]
    try:
        spec.validate(spec.resolve({k: v for k, v in spec.variants[variant].items()}), _problem(combo_id).layout)
    except ConfigError:
        return False
    return True


def _cases():
    """Each optimizer variant on the next combination in turn that its optimizer accepts."""
    out, n = [], 0
    for name, spec in OPTIMIZERS.items():
        if name in NOT_BITWISE_ON_MODELS:
            continue
        for i in range(len(spec.variants)):
            for k in range(len(COMBOS)):
                combo = COMBOS[(n + k) % len(COMBOS)][0]
                if _accepts(name, i, combo):
                    out.append((name, i, combo))
                    n += k + 1
                    break
            else:
                raise AssertionError(f"no model here takes {name} variant {i}")
    return out


CASES = _cases()


def test_the_cases_cover_every_optimizer_model_and_loss():
    combos = {c for _, _, c in CASES}
    tasks = [dict(COMBOS)[c] for c in combos]
    assert {name for name, _, _ in CASES} == set(OPTIMIZERS) - NOT_BITWISE_ON_MODELS
    assert {t.model for t in tasks} == set(models.MODELS)
    assert {t.loss for t in tasks} == set(losses.LOSSES)
    assert {t.batch_size for t in tasks} >= {0, 1}


def _check(problem: ModelProblem, configs, what: str, steps: int):
    ours = run(problem, configs, steps=steps, dtype="float64", device="cpu")
    for i, config in enumerate(configs):
        ref = reference_train(problem, config, steps=steps)
        assert ours.diverged_at[i] == -1, f"{what}: run {i} diverged"
        for key in ("params", "loss", "lr"):
            np.testing.assert_allclose(ours.arrays[key][:, i], ref[key], rtol=RTOL, atol=ATOL,
                                       err_msg=f"{what} run {i}: {key}")
        moved = np.abs(ref["params"][-1] - ref["params"][0]).max()
        assert moved > 0 or config.hp.get("lr", 1) < 1e-5, f"{what} run {i} never moved"
    return ours


@pytest.mark.parametrize("name,variant,combo", [pytest.param(*c, id=f"{c[0]}-{c[1]}-{c[2]}") for c in CASES])
def test_training_matches_torch(name, variant, combo):
    spec = OPTIMIZERS[name]
    hp = dict(spec.variants[variant])
    lr = hp.pop("lr", spec.ui_defaults.get("lr", spec.test_lr))
    problem = _problem(combo)
    configs = [RunConfig(name, {**hp, "lr": lr * f}) for f in (1.0, 0.3)]
    _check(problem, configs, f"{name}{hp} on {combo}", min(problem.steps, MAX_STEPS))


@pytest.mark.parametrize("schedule,args", [("OneCycleLR", {}), ("StepLR", {"step_size": 5, "gamma": 0.5}),
                                           ("ReduceLROnPlateau", {"patience": 2})])
def test_schedules_drive_training_as_in_torch(schedule, args):
    problem = _problem("mlp-ce-leaky")
    configs = [RunConfig("SGD", {"lr": 0.05, "momentum": 0.9}, schedule, args),
               RunConfig("Adam", {"lr": 0.01}, schedule, args)]
    _check(problem, configs, schedule, problem.steps)


def test_start_point_and_weight_decay_per_run():
    """Runs that start elsewhere or decay differently share one batch and stay exact."""
    problem = _problem("linear-mse")
    configs = [RunConfig("SGD", {"lr": 0.05, "weight_decay": wd}, start=start)
               for wd, start in [(0.0, None), (0.5, (-2.0, 3.0)), (0.1, (1.0, -1.0))]]
    ours = _check(problem, configs, "starts", problem.steps)
    assert ours.arrays["params"][0, 1].tolist() == [-2.0, 3.0]


@pytest.mark.parametrize("combo", [c for c, _ in COMBOS])
def test_batched_forward_equals_vmap_and_the_module(combo):
    """The fast batched form, torch.func's vmap over functional_call, and the module itself agree."""
    problem = _problem(combo)
    X = problem.tensors(torch.float64)[0][:7]
    start = torch.tensor(problem.start, dtype=torch.float64)
    params = torch.stack([start, start * 0.5 + 0.1])
    fast = problem.forward(params, X)
    slow = problem.forward_vmap(problem.unflatten(params), X)
    torch.testing.assert_close(fast, slow, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(fast[0], problem.model(X).detach(), rtol=1e-12, atol=1e-12)


def test_lbfgs_on_models():
    """LBFGS trains a model as torch's does (within BLAS's summation order), and a
    run in a batch exactly as the same run alone."""
    problem = _problem("softmax-ce")
    configs = [RunConfig("LBFGS", {"lr": 0.5, "max_iter": 4, "line_search_fn": "strong_wolfe"}),
               RunConfig("LBFGS", {"lr": 0.2, "max_iter": 4, "history_size": 3})]
    steps = 10
    ours = run(problem, configs, steps=steps, dtype="float64", device="cpu")
    for i, config in enumerate(configs):
        ref = reference_train(problem, config, steps=steps)
        assert ours.diverged_at[i] == -1
        np.testing.assert_allclose(ours.arrays["loss"][:, i], ref["loss"], rtol=1e-4)
        np.testing.assert_allclose(ours.arrays["params"][:, i], ref["params"], rtol=1e-3, atol=1e-6)
        alone = run(problem, [config], steps=steps, dtype="float64", device="cpu")
        np.testing.assert_array_equal(ours.arrays["params"][:, i], alone.arrays["params"][:, 0])

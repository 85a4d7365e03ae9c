"""Our batched paths against torch.optim + lr_scheduler, step by step.

Every registered optimizer variant and every schedule variant is a test case,
read from the registries: a new entry is tested by adding it there. An
optimizer variant runs on every problem whose layout torch's own constructor
accepts (``OptimizerSpec.validate``), so Muon meets only matrix layouts.
"""

from __future__ import annotations

import numpy as np
import pytest

from optviz import schedules
from optviz.engine import DEFAULT_RECORD, RunConfig, SurfaceProblem, run
from optviz.optim import OPTIMIZERS, ConfigError
from optviz.reference import reference_run

from problems import LeastSquares

STEPS = 300
RTOL, ATOL = 1e-5, 1e-8
# Problems on which every optimizer stays finite for STEPS steps at its test LR.
SURFACES = {
    "rosenbrock": SurfaceProblem("rosenbrock"),
    "quadratic": SurfaceProblem("quadratic", {"kappa": 10.0}),
}
# Matrix layouts: per-tensor norms (Adafactor), factored moments, Muon's matrices.
MATRICES = {
    "weight+bias": LeastSquares(((3, 4), (3,))),
    "two-matrices": LeastSquares(((3, 4), (2, 5))),
}
PROBLEMS = {**SURFACES, **MATRICES}
START = {"rosenbrock": (-1.2, 1.0), "quadratic": (-2.0, 1.5)}
# LBFGS's torch.dot goes through BLAS (MKL's ddot sums in its own order, with
# FMAs); a batched per-run sum agrees to the last bit only for 2 coordinates.
# On matrix layouts the paths differ by ~1e-16 a step, which the tolerance
# breaks can amplify; batched-vs-alone below still holds LBFGS there exactly.
NOT_BITWISE_ON_MATRICES = {"LBFGS"}


def _accepts(spec, hp, layout) -> bool:
    """Whether torch's constructor takes ``hp`` on this layout (Muon: matrices only)."""
    try:
        spec.validate(spec.resolve(hp), layout)
    except ConfigError:
        return False
    return True


OPTIMIZER_CASES = [
    pytest.param(name, i, problem_id, id=f"{name}-{i}-{problem_id}")
    for name, spec in OPTIMIZERS.items()
    for i in range(len(spec.variants))
    for problem_id, problem in PROBLEMS.items()
    if _accepts(spec, spec.variants[i], problem.layout)
    and not (problem_id in MATRICES and name in NOT_BITWISE_ON_MATRICES)
]


def _starts(problem_id, offsets):
    """Start points around the problem's, one per offset (alternating signs)."""
    base = np.array(START.get(problem_id, PROBLEMS[problem_id].start))
    signs = (-1.0) ** np.arange(len(base))
    return [tuple(base + d * signs) for d in offsets]


def _assert_same_path(ours, ref, i, what):
    for key in ("params", "loss", "lr"):
        np.testing.assert_allclose(
            ours.arrays[key][:, i], ref[key], rtol=RTOL, atol=ATOL, err_msg=f"{what}: {key}"
        )


def _check_batch(problem_id, configs, what):
    """Run ``configs`` as one batch and each alone through torch; compare each,
    the optimizer's final state included."""
    problem = PROBLEMS[problem_id]
    record = (*DEFAULT_RECORD, "state")
    ours = run(problem, configs, steps=STEPS, dtype="float64", device="cpu", record=record)
    for i, config in enumerate(configs):
        ref = reference_run(problem, config, steps=STEPS)
        assert ours.diverged_at[i] == -1, f"{what}: run {i} diverged"
        _assert_same_path(ours, ref, i, f"{what} run {i}")
        for key, value in ref["state"].items():
            final = ours.arrays[f"state/{key}"][-1, i]
            np.testing.assert_allclose(final, value, rtol=RTOL, atol=ATOL, err_msg=f"{what} run {i}: {key}")
    return ours


@pytest.mark.parametrize("name,variant,problem_id", OPTIMIZER_CASES)
def test_optimizer_matches_torch(name, variant, problem_id):
    spec = OPTIMIZERS[name]
    hp = dict(spec.variants[variant])
    lr = hp.pop("lr", spec.test_lr)
    # Several LRs and starts in one batch: per-run hyperparameters must not mix.
    factors = (1.0, 0.5, 0.75)
    starts = _starts(problem_id, (0.0, 0.1, -0.2))
    configs = [RunConfig(name, {**hp, "lr": lr * f}, start=x) for f, x in zip(factors, starts)]
    _check_batch(problem_id, configs, f"{name}{hp}")


def _scaled(name, hp, factor=0.9):
    """``hp`` with every float hyperparameter but lr scaled: a run unlike its neighbour in all.

    A value torch would refuse scaled down (Adafactor's d >= 1) is scaled up instead.
    """
    spec, out = OPTIMIZERS[name], dict(hp)
    for h in spec.hparams:
        value = hp.get(h.name, h.default)
        if not h.batchable or h.name == "lr":
            continue
        for f in (factor, 1 / factor):
            if h.kind == "float" and value is not None:
                trial = value * f
            elif h.kind == "floats":
                trial = tuple(v if v is None else v * f for v in value)
            else:
                break
            if _accepts(spec, {**out, h.name: trial}, SURFACES["rosenbrock"].layout):
                out[h.name] = trial
                break
    return out


# Per-run values on both sides of a branch torch takes on a float hyperparameter.
MIXED = {
    "SGD-momentum": ("SGD", [{"momentum": 0.0, "dampening": 0.5}, {"momentum": 0.9, "dampening": 0.5}]),
    "RMSprop-momentum": ("RMSprop", [{"momentum": 0.0}, {"momentum": 0.5}]),
    "RAdam-rho": ("RAdam", [{"betas": (0.9, 0.6), "lr": 1e-4}, {"betas": (0.9, 0.999), "lr": 1e-4}]),
    "ASGD-t0": ("ASGD", [{"t0": 1e6}, {"t0": 50.0}]),
}
SWEEP_CASES = [
    pytest.param(name, [spec.variants[i], _scaled(name, spec.variants[i])], id=f"{name}-{i}")
    for name, spec in OPTIMIZERS.items()
    for i in range(len(spec.variants))
    if _accepts(spec, spec.variants[i], SURFACES["rosenbrock"].layout)
] + [pytest.param(name, runs, id=key) for key, (name, runs) in MIXED.items()]


@pytest.mark.parametrize("name,runs", SWEEP_CASES)
def test_per_run_hyperparameters(name, runs):
    """Runs that differ in every float hyperparameter: as torch, and bit for bit as each run alone."""
    lr = OPTIMIZERS[name].test_lr
    configs = [RunConfig(name, {"lr": lr, **hp}, start=START["rosenbrock"]) for hp in runs]
    together = _check_batch("rosenbrock", configs, f"{name} sweep {runs}")
    for i, config in enumerate(configs):
        alone = run(PROBLEMS["rosenbrock"], [config], steps=STEPS, dtype="float64", device="cpu")
        np.testing.assert_array_equal(together.arrays["params"][:, i], alone.arrays["params"][:, 0])


def test_every_optimizer_has_truth_cases():
    covered = {case.values[0] for case in OPTIMIZER_CASES}
    assert covered == set(OPTIMIZERS)


def test_muon_refuses_a_surface_with_torchs_message():
    with pytest.raises(ConfigError, match="Muon only supports 2D parameters"):
        run(SURFACES["rosenbrock"], [RunConfig("Muon", {"lr": 0.02})], steps=3)


SCHEDULE_CASES = [
    pytest.param(name, i, id=f"{name}-{i}")
    for name, spec in schedules.SCHEDULES.items()
    for i in range(len(spec.variants))
]


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
@pytest.mark.parametrize("name,variant", SCHEDULE_CASES)
def test_schedule_matches_torch(name, variant, optimizer):
    args = schedules.SCHEDULES[name].variants[variant]
    hp = {"momentum": 0.5} if optimizer == "SGD" else {}
    lr = OPTIMIZERS[optimizer].test_lr
    configs = [
        RunConfig(optimizer, {**hp, "lr": lr * f}, schedule=name, schedule_args=args, start=START["quadratic"])
        for f in (1.0, 3.0)
    ]
    _check_batch("quadratic", configs, f"{name}{args} with {optimizer}")


@pytest.mark.parametrize("problem_id", ["rosenbrock", "two-matrices", "weight+bias"])
def test_batched_equals_one_at_a_time(problem_id):
    problem = PROBLEMS[problem_id]
    names = [name for name, spec in OPTIMIZERS.items() if _accepts(spec, {}, problem.layout)]
    configs = [
        RunConfig(name, {"lr": OPTIMIZERS[name].test_lr * f}, start=x)
        for name in names
        for f, x in zip((1.0, 2.0, 0.5), _starts(problem_id, (0.1, 0.2, -0.3)))
    ]
    together = run(problem, configs, steps=100, dtype="float64", device="cpu")
    for i, config in enumerate(configs):
        alone = run(problem, [config], steps=100, dtype="float64", device="cpu")
        np.testing.assert_allclose(
            together.arrays["params"][:, i], alone.arrays["params"][:, 0], rtol=1e-10, atol=1e-12
        )


def test_gradient_noise_matches_torch():
    configs = [
        RunConfig("SGD", {"lr": 1e-3, "momentum": 0.9}, noise=2.0, seed=s, start=(-1.2, 1.0))
        for s in (0, 1)
    ]
    ours = _check_batch("rosenbrock", configs, "noisy SGD")
    assert not np.allclose(ours.arrays["params"][:, 0], ours.arrays["params"][:, 1])

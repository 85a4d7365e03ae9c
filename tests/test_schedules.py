"""Schedules on their own: our closed-form tables against torch's schedulers.

The truth test (test_truth.py) checks whole paths for 300 steps; here the LR
and momentum tables are compared directly over a long horizon, for several
base lrs at once (one torch param group per run), so that drift in a recursive
form, a late restart or a second cycle would show.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from optviz.engine import RunConfig, resolve
from optviz.optim import OPTIMIZERS, OptimizerSpec, schedules
from optviz.optim.base import torch_hparams
from optviz.optim.schedules import SCHEDULES, lr_table
from optviz.params import ConfigError
from optviz.problems import SurfaceProblem
from tests.cases import SCHEDULE_CASES
from tests.helpers import check_against_torch

HORIZON = 2000
LRS = (1e-3, 0.05, 0.7)
RTOL = 1e-9
OPTIMIZERS_UNDER_TEST = {"SGD": (torch.optim.SGD, {"momentum": 0.9}), "Adam": (torch.optim.Adam, {})}

TABLE_CASES = [
    pytest.param(name, i, id=f"{name}-{i}")
    for name, spec in SCHEDULES.items()
    if not spec.stateful
    for i in range(len(SCHEDULE_CASES[name]))
]


def _torch_tables(spec, args, optimizer, horizon):
    """torch's lr and momentum (or beta1) per step, one column per param group."""
    cls, hp = OPTIMIZERS_UNDER_TEST[optimizer]
    groups = [{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in LRS]
    opt = cls(groups, **hp)
    scheduler = spec.torch_factory(opt, args, horizon)
    lr, mom = [], []
    for _ in range(horizon):
        lr.append([g["lr"] for g in opt.param_groups])
        mom.append([g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups])
        opt.step()  # no gradients: a no-op that keeps torch from warning about the order
        scheduler.step()
    return np.array(lr), np.array(mom)


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS_UNDER_TEST))
@pytest.mark.parametrize("name,variant", TABLE_CASES)
def test_lr_table_matches_torch(name, variant, optimizer):
    spec = SCHEDULES[name]
    args = spec.resolve(SCHEDULE_CASES[name][variant])
    horizon = args.get("total_steps") or HORIZON  # torch's OneCycleLR refuses to step past its cycle
    if name == "CyclicLR" and args["mode"] == "triangular2" and args["scale_mode"] == "iterations":
        horizon = 1000  # torch's 2.0 ** (t - 1) overflows at t = 1025
    want_lr, want_mom = _torch_tables(spec, args, optimizer, horizon)
    lr, mom = lr_table(spec, args, torch.tensor(LRS, dtype=torch.float64), 0, horizon, horizon)
    assert lr.shape == (horizon, len(LRS))
    np.testing.assert_allclose(lr.numpy(), want_lr, rtol=RTOL, err_msg=f"{name} lr")
    if mom is None:
        assert (want_mom == want_mom[0]).all(), f"{name}: torch cycles momentum but lr_at returns none"
    else:
        np.testing.assert_allclose(mom.numpy(), want_mom, rtol=RTOL, err_msg=f"{name} momentum")
    # The engine asks in chunks: any window must agree with the whole table.
    a, b = horizon // 3, 2 * horizon // 3
    lr_part, _ = lr_table(spec, args, torch.tensor(LRS, dtype=torch.float64), a, b, horizon)
    np.testing.assert_array_equal(lr_part.numpy(), lr[a:b].numpy())


@pytest.mark.parametrize("variant", range(len(SCHEDULE_CASES["ReduceLROnPlateau"])))
def test_plateau_matches_torch(variant):
    spec = SCHEDULES["ReduceLROnPlateau"]
    args = spec.resolve(SCHEDULE_CASES["ReduceLROnPlateau"][variant])
    gen = torch.Generator().manual_seed(variant)
    steps = 600
    # Per run: a falling curve with noise, a flat one, a rising one, a random walk.
    t = torch.arange(steps, dtype=torch.float64)
    noise = torch.randn((steps, 4), generator=gen, dtype=torch.float64)
    falling, flat = torch.exp(-t / 100) + 0.01 * noise[:, 0], 1 + 1e-6 * noise[:, 1]
    rising, walk = t / 50 + noise[:, 2], noise[:, 3].cumsum(0)
    metrics = torch.stack([falling, flat, rising, walk], dim=1)
    lr0 = torch.tensor([0.1, 1e-3, 0.5, 2e-2], dtype=torch.float64)
    plateau = schedules.Plateau(lr0, args)
    ours = []
    for m in metrics:
        ours.append(plateau.lr.clone())
        plateau.step(m)
    for run_i in range(len(lr0)):
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=float(lr0[run_i]))
        scheduler = spec.torch_factory(opt, args, steps)
        want = []
        for m in metrics[:, run_i]:
            want.append(opt.param_groups[0]["lr"])
            scheduler.step(float(m))
        got = torch.stack(ours)[:, run_i].numpy()
        np.testing.assert_array_equal(got, np.array(want), err_msg=f"run {run_i}")
    assert len(set(torch.stack(ours).flatten().tolist())) > len(lr0), "no run was ever reduced"


def _iris(epochs=30):
    from optviz.problems import Task
    from optviz.problems.datasets import DataConfig
    from optviz.problems.training import ModelProblem

    return ModelProblem(Task(DataConfig("iris", {}), "softmax", {}, "cross_entropy", {}, batch_size=16, epochs=epochs))


@pytest.mark.parametrize(
    "args", [{}, {"patience": 1, "factor": 0.5}, {"watch": "last", "step_every": 5}, {"step_every": 1, "patience": 3}]
)
def test_plateau_on_a_dataset_steps_as_a_training_loop(args):
    """Once per epoch on the epoch's mean training loss (or as asked): as torch's
    ReduceLROnPlateau stepped by a user's loop."""
    problem = _iris(epochs=12)
    configs = [RunConfig("SGD", {"lr": lr}, "ReduceLROnPlateau", args) for lr in (0.5, 0.1)]
    check_against_torch(problem, configs, steps=problem.steps, atol=1e-9, what=f"plateau {args}")


def test_plateau_on_iris_does_not_collapse_the_lr():
    """The issue's case: 30 epochs of iris at lr 0.5 once cut the lr 25 times on noisy
    mini-batch losses; on the epoch's training loss it is hardly cut."""
    problem = _iris()
    from optviz.engine import run

    result = run(
        problem,
        [RunConfig("SGD", {"lr": 0.5}, "ReduceLROnPlateau")],
        steps=problem.steps,
        dtype="float64",
        device="cpu",
    )
    lrs = result.arrays["lr"][:, 0]
    assert lrs.min() >= 0.5 * 0.1**1, lrs.min()
    # The lr changes only at epoch boundaries.
    changes = np.flatnonzero(np.diff(lrs)) + 1
    assert all(c % problem.steps_per_epoch == 0 for c in changes)


def test_mixed_momentum_batch_matches_torch():
    """Runs that cycle momentum share optimizer groups with runs that do not, and
    with runs whose own momentum or betas differ: each must match torch alone."""
    problem = SurfaceProblem("quadratic", {"kappa": 10.0})
    one_cycle = {"pct_start": 0.2}
    cyclic = {"step_size_up": 30, "base_momentum": 0.5, "max_momentum": 0.95}
    runs = [
        ("SGD", {"lr": 1e-3, "momentum": 0.5}, "OneCycleLR", one_cycle),
        ("SGD", {"lr": 2e-3, "momentum": 0.7}, "constant", {}),
        ("SGD", {"lr": 1e-3, "momentum": 0.3}, "CyclicLR", cyclic),
        ("SGD", {"lr": 1e-3, "momentum": 0.3}, "CyclicLR", {**cyclic, "cycle_momentum": False}),
        ("Adam", {"lr": 1e-2}, "OneCycleLR", one_cycle),
        ("Adam", {"lr": 1e-2, "betas": (0.8, 0.99)}, "constant", {}),
        ("Adam", {"lr": 3e-2, "betas": (0.7, 0.9)}, "CyclicLR", cyclic),
    ]
    configs = [RunConfig(o, hp, schedule=s, schedule_args=a, start=(-2.0, 1.5)) for o, hp, s, a in runs]
    check_against_torch(problem, configs, steps=200, rtol=1e-5, atol=1e-8, what="mixed momentum")


def test_run_length_defaults():
    spec = SCHEDULES["WarmupCosineLR"]
    assert spec.bind(spec.defaults, 300) == {**spec.defaults, "warmup_steps": 30, "T_max": 270}
    assert spec.bind({**spec.defaults, "T_max": 50}, 300)["T_max"] == 50
    assert SCHEDULES["CosineAnnealingLR"].bind({"T_max": None, "eta_min": 0.0}, 123)["T_max"] == 123
    assert SCHEDULES["MultiStepLR"].bind(SCHEDULES["MultiStepLR"].defaults, 100)["milestones"] == (50, 75)
    # The lr-tied defaults are per run: max_lr None is each run's own lr.
    run_lrs = torch.tensor([0.1, 1.0])
    one_cycle, cyclic = SCHEDULES["OneCycleLR"], SCHEDULES["CyclicLR"]
    lr, _ = lr_table(one_cycle, one_cycle.defaults, run_lrs, 0, 100, 100)
    np.testing.assert_allclose(lr.max(0).values.numpy(), [0.1, 1.0], rtol=1e-3)
    lr, _ = lr_table(cyclic, {**cyclic.defaults, "step_size_up": 10}, run_lrs, 0, 21, 21)
    np.testing.assert_allclose(lr[[0, 10, 20]].numpy(), [[0.1, 1.0], [1.0, 10.0], [0.1, 1.0]])


def test_int_list_argument():
    milestones = SCHEDULES["MultiStepLR"].arg("milestones")
    assert milestones.parse("30, 60") == (30, 60)
    assert milestones.parse([30, 60.0]) == (30, 60)
    assert milestones.parse("none") is None
    with pytest.raises(ConfigError, match="comma-separated whole numbers"):
        milestones.parse("30,6.5")


PROBLEM = SurfaceProblem("quadratic")


@pytest.fixture
def adagrad(monkeypatch):
    """An optimizer with neither momentum nor betas, as torch.optim.Adagrad."""
    spec = OptimizerSpec(
        name="Adagrad",
        torch_cls=torch.optim.Adagrad,
        init=lambda params, hp: {},
        update=lambda *a: None,
        hparams=torch_hparams(torch.optim.Adagrad),
        summary="",
        rule="",
    )
    monkeypatch.setitem(OPTIMIZERS, "Adagrad", spec)
    return spec


@pytest.mark.parametrize("name", ["OneCycleLR", "CyclicLR"])
def test_cycle_momentum_needs_momentum(adagrad, name):
    with pytest.raises(ConfigError) as err:
        resolve(PROBLEM, RunConfig("Adagrad", {"lr": 0.1}, schedule=name), steps=100)
    assert str(err.value) == (f"{name}: optimizer must support momentum or beta1 with `cycle_momentum` option enabled")
    # Without cycling the combination is fine.
    config = RunConfig("Adagrad", {"lr": 0.1}, schedule=name, schedule_args={"cycle_momentum": False})
    resolve(PROBLEM, config, steps=100)


@pytest.mark.parametrize(
    "name,args,message",
    [
        ("ConstantLR", {"factor": 1.5}, "Constant multiplicative factor expected to be between 0 and 1"),
        ("LinearLR", {"start_factor": 0.0}, "Starting multiplicative factor expected to be greater than 0"),
        ("CosineAnnealingWarmRestarts", {"T_mult": 0}, "Expected integer T_mult >= 1, but got 0"),
        ("ReduceLROnPlateau", {"factor": 1.0}, "Factor should be < 1.0."),
        ("OneCycleLR", {"pct_start": 1.5}, "Expected float between 0 and 1 pct_start, but got 1.5"),
        # Accepted by torch's constructor, but torch fails once the run gets there:
        ("OneCycleLR", {"total_steps": 50}, "torch raises 'Tried to step 51 times"),
        ("OneCycleLR", {"pct_start": 1.0}, "last phase no steps"),
        ("ConstantLR", {"factor": 0.0, "total_iters": 10}, "divides by the factor"),
        ("StepLR", {"step_size": 0}, "divide by zero"),
        ("CosineAnnealingLR", {"T_max": 0}, "divide by zero"),
        ("CyclicLR", {"mode": "exp_range", "gamma": 1.5}, "torch raises OverflowError"),
        # Formulas: a factor that leaves the numbers >= 0 is refused before the run.
        ("CyclicLR", {"scale_fn": "2^x", "scale_mode": "iterations"}, "scale_fn = 2^x is inf at x = 1024"),
        ("LambdaLR", {"lr_lambda": "1 - epoch/50"}, "lr_lambda = 1 - epoch/50 is -0.02 at epoch = 51"),
        ("LambdaLR", {"lr_lambda": "log(epoch)"}, "is -inf at epoch = 0"),
        ("MultiplicativeLR", {"lr_lambda": "2"}, "passes the float range at epoch 1024"),
        # Composites: torch's own checks, and ours on the parts.
        (
            "SequentialLR",
            {"schedulers": "ExponentialLR, StepLR", "milestones": "10,20"},
            "expects number of schedulers provided to be one more than the number of milestone points",
        ),
        (
            "SequentialLR",
            {"schedulers": "ExponentialLR, LambdaLR(lr_lambda=1 - epoch/10)", "milestones": "50"},
            "is -0.1 at epoch = 11",
        ),
        (
            "SequentialLR",
            {"schedulers": "ExponentialLR, ConstantLR(factor=0, total_iters=5)", "milestones": "50"},
            "divides by the factor",
        ),
    ],
)
def test_torch_refusals_become_config_errors(name, args, message):
    config = RunConfig("SGD", {"lr": 0.1, "momentum": 0.9}, schedule=name, schedule_args=args)
    with pytest.raises(ConfigError, match=f"^{name}: ") as err:
        resolve(PROBLEM, config, steps=2000 if name in ("CyclicLR", "MultiplicativeLR") else 100)
    assert message in str(err.value)


@pytest.mark.parametrize(
    "name,args,message",
    [
        ("LambdaLR", {"lr_lambda": "0.9^epoc"}, "lr_lambda: unknown name 'epoc' at column 5; did you mean epoch?"),
        ("LambdaLR", {"lr_lambda": "__import__('os')"}, "lr_lambda: "),
        ("LambdaLR", {"lr_lambda": ""}, "lr_lambda: needs a formula in epoch"),
        ("CyclicLR", {"scale_fn": "x;1"}, "scale_fn: ';' at column 2 is not allowed"),
        ("SequentialLR", {"schedulers": "LinearLR, CyclicLR"}, "CyclicLR cannot be part of a SequentialLR"),
        ("SequentialLR", {"schedulers": "LinearLR(start_factor=0.1"}, "a '(' without its ')'"),
        (
            "ChainedScheduler",
            {"schedulers": "ReduceLROnPlateau"},
            "torch's SequentialLR and ChainedScheduler refuse it",
        ),
        ("ChainedScheduler", {"schedulers": "SequentialLR"}, "a composite inside a composite"),
        ("ChainedScheduler", {"schedulers": "StepLR(gama=0.5)"}, "StepLR has no argument 'gama'"),
        ("ChainedScheduler", {"schedulers": "StepLR(0.5)"}, "write arg=value"),
    ],
)
def test_bad_formulas_and_parts_are_named(name, args, message):
    config = RunConfig("SGD", {"lr": 0.1}, schedule=name, schedule_args=args)
    with pytest.raises(ConfigError, match=f"^{name}: ") as err:
        resolve(PROBLEM, config, steps=100)
    assert message in str(err.value)


def test_registry_metadata():
    for spec in SCHEDULES.values():
        assert spec.summary and spec.formula, spec.name
        for a in spec.args:
            assert a.help, f"{spec.name}.{a.name} has no help"
            if a.kind in ("int", "float"):
                assert a.low is not None and a.high is not None, f"{spec.name}.{a.name} has no widget range"
        for variant in SCHEDULE_CASES[spec.name]:
            spec.resolve(variant)


@pytest.mark.parametrize(
    "name,args",
    [
        ("LambdaLR", {"lr_lambda": "where(epoch % 10 == 0 and epoch > 5, 0.5, 1) * (1+epoch)^-0.5"}),
        ("MultiplicativeLR", {"lr_lambda": "where(epoch <= 100, 1, 0.98)"}),
        ("CyclicLR", {"scale_fn": "where(x % 2 == 0, 0.5, 1)", "scale_mode": "iterations"}),
        (
            "SequentialLR",
            {
                "schedulers": "LambdaLR(lr_lambda=min(1, (epoch+1)/10)), CosineAnnealingLR(eta_min=1e-4)",
                "milestones": "10",
            },
        ),
        (
            "ChainedScheduler",
            {
                "schedulers": "MultiplicativeLR(lr_lambda=where(epoch % 3 == 0, 0.9, 1)), "
                "StepLR(step_size=30, gamma=0.5)"
            },
        ),
    ],
)
def test_formulas_and_parts_survive_the_link(name, args):
    """A schedule argument that is a formula or a list of schedules (with %, =, commas and
    parentheses) comes back from a link as it went in."""
    from urllib.parse import parse_qs

    from optviz.codec import decode_run, encode_run, query_string

    spec = SCHEDULES[name]
    given = {k: v for k, v in spec.resolve(args).items() if v != spec.defaults.get(k)}
    config = RunConfig("SGD", {"lr": 0.1}, name, given)
    link = query_string({"run": encode_run(config)})
    assert decode_run(parse_qs(link[1:])["run"][0], ("",)) == config


@pytest.mark.parametrize(
    "text,message",
    [
        ("epoch > 5 & epoch < 9", "'&' at column 11 is not allowed: write 'and'"),
        ("0.9; 1", "';' at column 4 is not allowed"),
    ],
)
def test_link_breakers_in_a_formula_are_named(text, message):
    with pytest.raises(ConfigError, match="^LambdaLR: lr_lambda: ") as err:
        resolve(PROBLEM, RunConfig("SGD", {"lr": 0.1}, "LambdaLR", {"lr_lambda": text}), steps=10)
    assert message in str(err.value)

"""The truth tests' table: hyperparameter variants per optimizer and schedule.

Like torch's ``OptimizerInfo`` database, test inputs live with the tests, not in
the shipped registry. ``test_every_entry_has_cases`` holds the two in step: a
new optimizer or schedule without cases here fails, so none goes untested.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class Case(NamedTuple):
    lr: float  # the learning rate the truth tests run at, unless a variant sets its own
    variants: tuple[dict[str, Any], ...]


OPTIMIZER_CASES = {
    "SGD": Case(
        0.001,
        (
            {},
            {"momentum": 0.9},
            {"momentum": 0.9, "dampening": 0.5},
            {"momentum": 0.9, "nesterov": True},
            {"momentum": 0.8, "weight_decay": 0.1},
            {"maximize": True, "momentum": 0.5, "lr": 1e-06},
        ),
    ),
    "Adam": Case(
        0.01,
        (
            {},
            {"amsgrad": True},
            {"betas": (0.8, 0.99), "eps": 1e-06},
            {"weight_decay": 0.1},
            {"weight_decay": 0.1, "decoupled_weight_decay": True},
            {"maximize": True, "lr": 0.001},
        ),
    ),
    "AdamW": Case(
        0.01,
        (
            {},
            {"amsgrad": True},
            {"weight_decay": 0.5},
            {"maximize": True, "lr": 0.001},
        ),
    ),
    "NAdam": Case(
        0.01,
        (
            {},
            {"momentum_decay": 0.05},
            {"betas": (0.8, 0.99), "eps": 1e-06},
            {"weight_decay": 0.1},
            {"weight_decay": 0.1, "decoupled_weight_decay": True},
            {"maximize": True, "lr": 0.001},
        ),
    ),
    "RAdam": Case(
        0.001,
        (
            {},
            {"betas": (0.8, 0.99), "eps": 1e-06},
            {"betas": (0.9, 0.6), "lr": 0.0001},
            {"weight_decay": 0.1},
            {"weight_decay": 0.1, "decoupled_weight_decay": True},
            {"maximize": True, "lr": 1e-05},
        ),
    ),
    "Adamax": Case(
        0.01,
        (
            {},
            {"betas": (0.8, 0.99)},
            {"eps": 0.01},
            {"weight_decay": 0.1},
            {"maximize": True, "lr": 0.001},
        ),
    ),
    "Adagrad": Case(
        0.1,
        (
            {},
            {"lr_decay": 0.01},
            {"initial_accumulator_value": 0.5, "eps": 0.001},
            {"weight_decay": 0.1},
            {"maximize": True, "lr": 0.001},
        ),
    ),
    "RMSprop": Case(
        0.001,
        (
            {},
            {"alpha": 0.9, "eps": 0.0001},
            {"centered": True},
            {"momentum": 0.5},
            {"centered": True, "momentum": 0.5, "weight_decay": 0.1},
            {"maximize": True, "lr": 0.0001},
        ),
    ),
    "Adadelta": Case(
        1.0,
        (
            {},
            {"rho": 0.5},
            {"eps": 0.0001},
            {"weight_decay": 0.1},
            {"maximize": True, "lr": 0.1},
        ),
    ),
    "ASGD": Case(
        0.001,
        (
            {},
            {"t0": 50.0},
            {"lambd": 0.05, "alpha": 0.5},
            {"weight_decay": 0.1},
            {"maximize": True, "lr": 1e-06},
        ),
    ),
    "Rprop": Case(
        0.01,
        (
            {},
            {"etas": (0.3, 1.5)},
            {"step_sizes": (0.001, 0.1)},
            {"maximize": True, "step_sizes": (1e-06, 0.001)},
        ),
    ),
    "LBFGS": Case(
        0.1,
        (
            {},
            {"max_iter": 1},
            {"history_size": 2, "max_iter": 10},
            {"line_search_fn": "strong_wolfe", "lr": 1.0},
            {"line_search_fn": "strong_wolfe", "lr": 1.0, "history_size": 3, "max_iter": 5},
            {"line_search_fn": "strong_wolfe", "lr": 1.0, "max_eval": 6},
            {"tolerance_grad": 0.001, "tolerance_change": 0.0001},
            {"max_iter": 7, "max_eval": 5},
        ),
    ),
    "Adafactor": Case(
        0.01,
        (
            {},
            {"beta2_decay": -0.5, "d": 2.0},
            {"eps": (1e-06, 0.01)},
            {"weight_decay": 0.1},
            {"maximize": True, "lr": 0.001},
        ),
    ),
    "Muon": Case(
        0.01,
        (
            {},
            {"nesterov": False, "weight_decay": 0.0},
            {"momentum": 0.8, "adjust_lr_fn": "match_rms_adamw"},
            {"ns_steps": 3, "ns_coefficients": (2.0, -1.5, 0.5)},
        ),
    ),
}
SCHEDULE_CASES = {
    "constant": ({},),
    "StepLR": (
        {},
        {"step_size": 7, "gamma": 0.5},
    ),
    "MultiStepLR": (
        {},
        {"milestones": "20,50,50,120", "gamma": 0.5},
        {"milestones": (0, 30), "gamma": 0.3},
    ),
    "ExponentialLR": (
        {},
        {"gamma": 0.97},
    ),
    "ConstantLR": (
        {},
        {"factor": 0.5, "total_iters": 40},
        {"factor": 0.25, "total_iters": 0},
    ),
    "LinearLR": (
        {},
        {"start_factor": 1.0, "end_factor": 0.0, "total_iters": 100},
        {"start_factor": 0.1, "total_iters": 30},
    ),
    "PolynomialLR": (
        {},
        {"total_iters": 120, "power": 2.0},
        {"total_iters": 200, "power": 0.5},
    ),
    "CosineAnnealingLR": (
        {},
        {"T_max": 50, "eta_min": 0.0001},
    ),
    "CosineAnnealingWarmRestarts": (
        {},
        {"T_0": 20, "T_mult": 2, "eta_min": 0.0001},
        {"T_0": 10, "T_mult": 3},
    ),
    "OneCycleLR": (
        {},
        {"anneal_strategy": "linear", "three_phase": True, "pct_start": 0.25},
        {"three_phase": True, "base_momentum": 0.6, "max_momentum": 0.9},
        {"max_lr": 0.01, "total_steps": 400, "cycle_momentum": False, "div_factor": 10.0},
    ),
    "CyclicLR": (
        {"step_size_up": 25},
        {"mode": "triangular2", "step_size_up": 20, "step_size_down": 40},
        {"mode": "exp_range", "gamma": 0.99, "step_size_up": 30},
        {"mode": "exp_range", "gamma": 0.7, "scale_mode": "cycle", "step_size_up": 15},
        {"mode": "triangular2", "scale_mode": "iterations", "step_size_up": 10},  # torch ignores scale_mode here
        {"cycle_momentum": False, "step_size_up": 10, "step_size_down": 5},
        {"base_lr": 0.0001, "max_lr": 0.005, "step_size_up": 50, "base_momentum": 0.5},
        {"scale_fn": "1/2^(x-1)", "scale_mode": "iterations", "step_size_up": 10},
        {"scale_fn": "1/(1 + x/3)", "step_size_up": 15, "step_size_down": 5, "mode": "exp_range"},
        {"scale_fn": "where(x % 2 == 0, 0.5, 1)", "scale_mode": "cycle", "step_size_up": 8},
    ),
    "ReduceLROnPlateau": (
        {},
        {"patience": 5, "threshold": 0.05},
        {"mode": "max", "patience": 10, "factor": 0.5, "cooldown": 5},
        {"threshold_mode": "abs", "threshold": 0.005, "patience": 2, "factor": 0.3, "min_lr": 0.0002},
    ),
    "InverseSqrtLR": (
        {},
        {"timescale": 50.0},
    ),
    "WarmupCosineLR": (
        {},
        {"warmup_steps": 50, "start_factor": 0.1, "T_max": 100, "eta_min": 0.0001},
        {"warmup_steps": 0, "T_max": 80},
    ),
    "LambdaLR": (
        {},
        {"lr_lambda": "0.95^epoch"},
        {"lr_lambda": "min(1, (epoch+1)/10)"},
        {"lr_lambda": "where(epoch % 50 < 25, 1, 0.3) * exp(-epoch/500)"},
    ),
    "MultiplicativeLR": (
        {},
        {"lr_lambda": "where(epoch < 100, 1, 0.98)"},
        {"lr_lambda": "1 - 0.5/(epoch + 10)"},
    ),
    "SequentialLR": (
        {},
        {
            "schedulers": "LinearLR(start_factor=0.01, total_iters=20), ExponentialLR(gamma=0.99), "
            "ConstantLR(factor=0.5, total_iters=1000)",
            "milestones": "20,150",
        },
        {"schedulers": "LambdaLR(lr_lambda=min(1, (epoch+1)/10)), CosineAnnealingLR(eta_min=1e-4)", "milestones": "10"},
        {
            "schedulers": "ConstantLR(factor=0.5, total_iters=5), MultiplicativeLR(lr_lambda=0.97), "
            "StepLR(step_size=30, gamma=0.5), MultiStepLR(milestones=0,10, gamma=0.5)",
            "milestones": "40,100,200",
        },
        {
            "schedulers": "CosineAnnealingWarmRestarts(T_0=20, T_mult=2), PolynomialLR(power=2), constant, "
            "InverseSqrtLR(timescale=10)",
            "milestones": "60,120,120",
        },
    ),
    "ChainedScheduler": (
        {},
        {
            "schedulers": "LinearLR(start_factor=0.1, total_iters=30), CosineAnnealingLR(T_max=100), "
            "StepLR(step_size=40, gamma=0.5)"
        },
        {"schedulers": "LambdaLR(lr_lambda=0.99^epoch), ExponentialLR(gamma=0.99)"},
        {
            "schedulers": "MultiplicativeLR(lr_lambda=0.995), PolynomialLR(total_iters=250, power=1.5), "
            "CosineAnnealingLR(T_max=50, eta_min=1e-4)"
        },
        {"schedulers": "CosineAnnealingWarmRestarts(T_0=30), MultiStepLR(milestones=50,100,100, gamma=0.7)"},
    ),
}

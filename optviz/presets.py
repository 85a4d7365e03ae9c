"""Classroom presets: one click sets up a comparison that teaches one thing.

Each preset says what to look for, so a teacher can project it and talk.
"""

from __future__ import annotations

from dataclasses import dataclass

from .engine import RunConfig as R
from .engine import SurfaceProblem
from .experiment import Experiment


@dataclass(frozen=True)
class Preset:
    id: str
    title: str
    look_for: str
    experiment: Experiment


def _exp(surface, runs, steps=500, params=None, start=None, noise=0.0, seed=0) -> Experiment:
    problem = SurfaceProblem(surface, params or {})
    start = tuple(float(v) for v in (start or problem.start))
    runs = tuple(R(r.optimizer, r.hparams, r.schedule, r.schedule_args, r.start or start, noise, seed, r.label)
                 for r in runs)
    return Experiment(problem, runs, steps)


PRESETS: dict[str, Preset] = {
    p.id: p
    for p in [
        Preset(
            "sgd-momentum-adam",
            "SGD vs momentum vs Adam on Rosenbrock",
            "All three find the valley fast; then plain SGD crawls along its flat floor, heavy-ball momentum "
            "builds speed along it, and Adam's per-coordinate steps keep a steady pace.",
            _exp("rosenbrock", [
                R("SGD", {"lr": 1e-3}, label="SGD"),
                R("SGD", {"lr": 1e-3, "momentum": 0.9}, label="SGD + momentum 0.9"),
                R("Adam", {"lr": 0.02}, label="Adam"),
            ], steps=1000),
        ),
        Preset(
            "learning-rate",
            "Learning rate: too large, just right, too small",
            "On this bowl the steepest curvature is L = 1, so gradient descent is stable only for lr < 2/L = 2. "
            "lr = 2.05 overshoots further each step and diverges; lr = 1 converges; lr = 0.05 barely moves.",
            _exp("quadratic", [
                R("SGD", {"lr": 2.05}, label="lr = 2.05 (too large)"),
                R("SGD", {"lr": 1.0}, label="lr = 1 (just right)"),
                R("SGD", {"lr": 0.05}, label="lr = 0.05 (too small)"),
            ], steps=100, params={"kappa": 10.0, "angle": 30.0}),
        ),
        Preset(
            "momentum-overshoot",
            "Momentum overshooting in a narrow valley",
            "With high momentum the ball rolls past the valley floor and swings from wall to wall; a "
            "little momentum damps the zig-zag of plain GD; too much turns it into a long oscillation.",
            _exp("quadratic", [
                R("SGD", {"lr": 0.9}, label="GD"),
                R("SGD", {"lr": 0.9, "momentum": 0.5}, label="momentum 0.5"),
                R("SGD", {"lr": 0.9, "momentum": 0.95}, label="momentum 0.95"),
            ], steps=150, params={"kappa": 50.0, "angle": 20.0}, start=(-2.5, 2.0)),
        ),
        Preset(
            "ill-conditioned",
            "Adam vs SGD on an ill-conditioned quadratic",
            "Curvature differs 100x between directions. SGD's safe step is set by the steep direction, so it "
            "inches along the shallow one; Adam rescales each coordinate and heads more directly to the "
            "minimum (best when the valley is aligned with the axes: try angle = 0 and 45).",
            _exp("quadratic", [
                R("SGD", {"lr": 1.5}, label="SGD"),
                R("SGD", {"lr": 1.5, "momentum": 0.8}, label="SGD + momentum"),
                R("Adam", {"lr": 0.1}, label="Adam"),
            ], steps=300, params={"kappa": 100.0, "angle": 0.0}),
        ),
        Preset(
            "saddle",
            "Escaping a saddle",
            "Starting almost exactly on the ridge, the gradient along y is tiny. GD leaves only as fast as "
            "that tiny component grows; momentum accelerates the escape; Adam normalizes the small gradient "
            "and leaves at once; a little gradient noise kicks plain SGD off the ridge.",
            _exp("saddle", [
                R("SGD", {"lr": 0.05}, label="GD"),
                R("SGD", {"lr": 0.05, "momentum": 0.9}, label="GD + momentum"),
                R("Adam", {"lr": 0.05}, label="Adam"),
            ], steps=120),
        ),
        Preset(
            "local-minima",
            "Local minima: Himmelblau from several starts",
            "Himmelblau has four minima of equal depth. The same optimizer ends in a different one "
            "depending only on where it starts.",
            _exp("himmelblau", [
                R("SGD", {"lr": 0.01, "momentum": 0.5}, start=s, label=f"start ({s[0]:g}, {s[1]:g})")
                for s in [(-0.3, -0.9), (0.5, 0.5), (-1.0, 0.6), (0.2, -1.5), (-4.5, 4.5)]
            ], steps=200),
        ),
        Preset(
            "schedules",
            "Learning-rate schedules compared",
            "The gradients are noisy (σ = 1). With a constant LR, SGD keeps bouncing around the minimum at "
            "a noise floor; step decay, cosine and warmup + cosine shrink the LR and settle about 20x lower. "
            "Set σ = 0 and the constant LR wins: decay pays off when gradients are noisy.",
            _exp("quadratic", [
                R("SGD", {"lr": 0.3}, label="constant"),
                R("SGD", {"lr": 0.3}, "StepLR", {"step_size": 80, "gamma": 0.3}, label="StepLR"),
                R("SGD", {"lr": 0.3}, "CosineAnnealingLR", label="cosine"),
                R("SGD", {"lr": 0.3}, "WarmupCosineLR", {"warmup_steps": 30}, label="warmup + cosine"),
            ], steps=300, params={"kappa": 10.0, "angle": 30.0}, noise=1.0, seed=1),
        ),
    ]
}

# What a first visit shows: the classic comparison, as the benchmarks time it.
DEFAULT = _exp("rosenbrock", [
    R("SGD", {"lr": 1e-3}, label="SGD"),
    R("SGD", {"lr": 1e-3, "momentum": 0.9}, label="SGD + momentum"),
    R("RMSprop", {"lr": 1e-2}, label="RMSprop"),
    R("Adam", {"lr": 0.02}, label="Adam"),
], steps=500)

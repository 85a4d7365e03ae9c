"""Classroom presets: one click sets up a comparison that teaches one thing.

One table for every kind of problem; each preset says what to look for, so a
teacher can project it and talk. A page shows the presets of its kind.
"""

from __future__ import annotations

from dataclasses import dataclass

from .engine import RunConfig as R
from .experiment import Experiment
from .optim import get as get_optimizer
from .problems import OnlineProblem, SurfaceProblem, Task
from .problems.datasets import DataConfig


@dataclass(frozen=True)
class Preset:
    id: str
    title: str
    look_for: str
    experiment: Experiment
    inside: bool = False  # opens with the optimizer's state shown (View.inside)

    @property
    def kind(self) -> str:
        return self.experiment.problem.kind


def _runs(runs, start=None, noise=0.0, seed=0) -> tuple[R, ...]:
    """Runs as a page collects them: torch's defaults left out, a common start and noise
    (a run's own win)."""
    out = []
    for r in runs:
        defaults = get_optimizer(r.optimizer).defaults
        hp = {key: v for key, v in r.hparams if v != defaults.get(key)}
        out.append(R(r.optimizer, hp, r.schedule, r.schedule_args, r.start or start, r.noise or noise,
                     r.seed or seed, r.label))
    return tuple(out)


def _exp(surface, runs, steps=500, params=None, start=None, noise=0.0, seed=0) -> Experiment:
    """A surface experiment: every run from one start, with the same noise."""
    problem = SurfaceProblem(surface, params or {})
    start = tuple(float(v) for v in (start or problem.start))
    return Experiment(problem, _runs(runs, start, noise, seed), steps)


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
            "lr = 2.5 overshoots further each step and diverges (the table says when it left the picture); "
            "lr = 1 converges; lr = 0.05 barely moves.",
            _exp("quadratic", [
                R("SGD", {"lr": 2.5}, label="lr = 2.5 (too large)"),
                R("SGD", {"lr": 1.0}, label="lr = 1 (just right)"),
                R("SGD", {"lr": 0.05}, label="lr = 0.05 (too small)"),
            ], steps=100, params={"kappa": 10.0, "angle": 30.0}),
        ),
        Preset(
            "momentum-overshoot",
            "Momentum overshooting in a narrow valley",
            "At lr = 1.8 plain GD overshoots the steep direction: it zig-zags from wall to wall at every step "
            "while it crawls along the valley. Momentum 0.5 damps the zig-zag and gets down the valley far "
            "sooner; momentum 0.95 rolls past the minimum along the valley and swings back and forth for a "
            "long time.",
            _exp("quadratic", [
                R("SGD", {"lr": 1.8}, label="GD"),
                R("SGD", {"lr": 1.8, "momentum": 0.5}, label="momentum 0.5"),
                R("SGD", {"lr": 1.8, "momentum": 0.95}, label="momentum 0.95"),
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
            "that tiny component grows; momentum accelerates the escape (and then races off the picture: "
            "a saddle has no floor); Adam normalizes the small gradient and leaves first; a little gradient "
            "noise (σ = 0.5) kicks plain SGD off the ridge well before noiseless GD.",
            _exp("saddle", [
                R("SGD", {"lr": 0.05}, label="GD"),
                R("SGD", {"lr": 0.05, "momentum": 0.9}, label="GD + momentum"),
                R("Adam", {"lr": 0.05}, label="Adam"),
                R("SGD", {"lr": 0.05}, noise=0.5, seed=1, label="SGD + noise σ = 0.5"),
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
            "a noise floor; step decay, cosine and warmup + cosine shrink the LR, stop bouncing and settle "
            "over 100x lower here (how much lower depends on where the noise left them: try another seed). "
            "Set σ = 0 and the constant LR wins: decay pays off when gradients are noisy.",
            _exp("quadratic", [
                R("SGD", {"lr": 0.3}, label="constant"),
                R("SGD", {"lr": 0.3}, "StepLR", {"step_size": 80, "gamma": 0.3}, label="StepLR"),
                R("SGD", {"lr": 0.3}, "CosineAnnealingLR", label="cosine"),
                R("SGD", {"lr": 0.3}, "WarmupCosineLR", {"warmup_steps": 30}, label="warmup + cosine"),
            ], steps=300, params={"kappa": 10.0, "angle": 30.0}, noise=1.0, seed=2),
        ),
        Preset(
            "moons-mlp",
            "An MLP learns two moons",
            "A 16-16 tanh network, mini-batches of 32. Plain SGD's boundary stays nearly straight: after 40 "
            "epochs it is still at about the 89% test accuracy a line gets. Momentum and Adam bend it around "
            "the moons and pass 95% within 30 epochs. On the right, test accuracy; on the left, the paths on "
            "the plane of their own main directions.",
            Experiment(
                Task(DataConfig("moons", {"n_samples": 300, "noise": 0.2}), "mlp",
                     {"hidden": (16, 16), "activation": "tanh"}, "cross_entropy", batch_size=32, epochs=40),
                _runs([R("SGD", {"lr": 0.1}, label="SGD"),
                       R("SGD", {"lr": 0.05, "momentum": 0.9}, label="SGD + momentum"),
                       R("Adam", {"lr": 0.01}, label="Adam")]),
            ),
        ),
        Preset(
            "linear-bowl",
            "Linear regression: the valley of a weight and a bias",
            "Full-batch gradient descent on y = 2x + 1 + noise, x between 0 and 5, not standardized: w and b "
            "pull against each other, and the loss over (w, b) is a long, tilted valley whose bottom is the "
            "least-squares solution (star). GD zig-zags across it and then creeps along it; momentum and Adam "
            "get there. Now switch on 'Standardize features': the valley becomes a round bowl.",
            Experiment(
                Task(DataConfig("linear", {"n_samples": 100, "noise": 1.0}, standardize=False), "linear", {},
                     "mse", batch_size=0, epochs=100),
                _runs([R("SGD", {"lr": 0.09}, label="GD"),
                       R("SGD", {"lr": 0.02, "momentum": 0.9}, label="GD + momentum"),
                       R("Adam", {"lr": 0.3}, label="Adam")], start=(-1.0, 6.0)),
            ),
        ),
        Preset(
            "minibatch-noise",
            "Single-sample SGD, and how LR decay tames its noise",
            "One training row per step: every gradient is a noisy estimate, so with a constant learning rate "
            "SGD keeps jittering around the least-squares point (star) and its training loss stays above the "
            "others'. Step decay and cosine annealing shrink the steps and settle on it.",
            Experiment(
                Task(DataConfig("linear", {"n_samples": 100, "noise": 2.0}), "linear", {}, "mse", batch_size=1,
                     epochs=10),
                _runs([R("SGD", {"lr": 0.1}, label="constant lr"),
                       R("SGD", {"lr": 0.1}, "StepLR", {"step_size": 150, "gamma": 0.3}, label="StepLR"),
                       R("SGD", {"lr": 0.1}, "CosineAnnealingLR", label="cosine")], start=(-1.5, 1.5)),
            ),
        ),
        Preset(
            "logistic-two-weights",
            "Logistic regression with two weights: a valley with no floor",
            "On separable blobs the log loss keeps falling as the weights grow: there is no minimum, only a "
            "direction. Every run reaches 100% training accuracy, then keeps walking out along the valley.",
            Experiment(
                Task(DataConfig("blobs", {"n_samples": 200, "noise": 0.8, "centers": 2}), "logistic",
                     {"bias": False}, "bce", batch_size=0, epochs=150),
                _runs([R("SGD", {"lr": 0.5}, label="GD"),
                       R("SGD", {"lr": 0.5, "momentum": 0.9}, label="GD + momentum"),
                       R("Adam", {"lr": 0.1}, label="Adam")], start=(-1.0, 2.0)),
            ),
        ),
        Preset(
            "digits",
            "Handwritten digits with a 64-64 MLP",
            "1,797 8×8 images, ten classes. Adam passes 95% test accuracy in a few epochs; SGD with the "
            "same learning rate is far slower, and needs a much larger one to keep up.",
            Experiment(
                Task(DataConfig("digits"), "mlp", {"hidden": (64, 64), "activation": "relu"}, "cross_entropy",
                     batch_size=32, epochs=10),
                _runs([R("SGD", {"lr": 1e-3}, label="SGD lr=0.001"),
                       R("SGD", {"lr": 0.1}, label="SGD lr=0.1"),
                       R("Adam", {"lr": 1e-3}, label="Adam lr=0.001")]),
            ),
        ),
        Preset(
            "spiral-depth",
            "Three spiral arms",
            "The arms wind around each other: the boundary has to curl. Watch the boundaries during Play: "
            "Adam's bends early, plain SGD's stays simple for a long time.",
            Experiment(
                Task(DataConfig("spiral", {"n_samples": 300, "noise": 0.2, "classes": 3}), "mlp",
                     {"hidden": (32, 32), "activation": "relu"}, "cross_entropy", batch_size=32, epochs=80),
                _runs([R("SGD", {"lr": 0.1}, label="SGD"),
                       R("RMSprop", {"lr": 0.01}, label="RMSprop"),
                       R("Adam", {"lr": 0.01}, label="Adam")]),
            ),
        ),
        Preset(
            "edge-of-stability",
            "The edge of stability",
            "Full-batch GD with MSE on one-hot targets (Cohen et al. 2021): the loss falls, but not "
            "monotonically; it spikes and recovers while the sharpness hovers at 2/lr (the Classics page measures it). "
            "Switch on the curvature under the chart: λ_max climbs from about half of 2/lr to the dotted 2/lr "
            "line within about 100 steps, and stays there.",
            Experiment(
                Task(DataConfig("digits", test_fraction=0.4), "mlp", {"hidden": (32, 32), "activation": "tanh"},
                     "onehot_mse", batch_size=0, epochs=500),
                _runs([R("SGD", {"lr": 2.5}, label="full-batch GD lr=2.5")]),
            ),
            inside=True,
        ),
        Preset(
            "adam-amsgrad",
            "Adam vs AMSGrad on Reddi et al.'s online problem",
            "Once every 101 steps the gradient is +1010, otherwise −10: over a period the sum says x should go "
            "down to −1. Adam (β₂ = 0.99) forgets the big gradient within a period and drifts up towards +1, "
            "the worst point (past 0.9 by step 10,000); AMSGrad keeps its largest second moment and heads for "
            "−1, with the smaller regret.",
            Experiment(OnlineProblem("cyclic"), _runs([
                R("Adam", {"lr": 0.5, "betas": (0.9, 0.99)}, "InverseSqrtLR", label="Adam"),
                R("Adam", {"lr": 0.5, "betas": (0.9, 0.99), "amsgrad": True}, "InverseSqrtLR", label="AMSGrad"),
            ], start=OnlineProblem.start), 10_000, "float64"),
        ),
    ]
}

# What a first visit shows: the classic comparison, as the benchmarks time it.
SURFACE_DEFAULT = _exp("rosenbrock", [
    R("SGD", {"lr": 1e-3}, label="SGD"),
    R("SGD", {"lr": 1e-3, "momentum": 0.9}, label="SGD + momentum"),
    R("RMSprop", {"lr": 1e-2}, label="RMSprop"),
    R("Adam", {"lr": 0.02}, label="Adam"),
], steps=500)
TRAIN_DEFAULT = PRESETS["moons-mlp"].experiment
# What each kind of page shows on a first visit.
DEFAULTS: dict[str, Experiment] = {"surface": SURFACE_DEFAULT, "train": TRAIN_DEFAULT,
                                   "online": PRESETS["adam-amsgrad"].experiment}


def of_kinds(kinds: tuple[str, ...]) -> dict[str, Preset]:
    """The presets of these kinds of problem, in table order."""
    return {pid: p for pid, p in PRESETS.items() if p.kind in kinds}

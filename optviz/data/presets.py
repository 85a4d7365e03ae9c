"""Classroom presets for the Datasets page: one click sets up a training that teaches one thing."""

from __future__ import annotations

from dataclasses import dataclass

from ..engine import RunConfig as R
from ..optim import get as get_optimizer
from .datasets import DataConfig
from .experiment import TrainExperiment
from .problem import Task


@dataclass(frozen=True)
class Preset:
    id: str
    title: str
    look_for: str
    experiment: TrainExperiment


def _runs(runs, start=None):
    """The runs as the page collects them: torch's defaults left out, one common start."""
    out = []
    for r in runs:
        defaults = get_optimizer(r.optimizer).defaults
        hp = {key: v for key, v in r.hparams if v != defaults.get(key)}
        out.append(R(r.optimizer, hp, r.schedule, r.schedule_args, start, label=r.label))
    return tuple(out)


PRESETS: dict[str, Preset] = {
    p.id: p
    for p in [
        Preset(
            "moons-mlp",
            "An MLP learns two moons",
            "A 16-16 tanh network, mini-batches of 32. Plain SGD's boundary stays nearly straight for a long "
            "time; momentum and Adam bend it around the moons within a few epochs. On the right, test "
            "accuracy; on the left, the paths on the plane of their own main directions.",
            TrainExperiment(
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
            TrainExperiment(
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
            TrainExperiment(
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
            TrainExperiment(
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
            TrainExperiment(
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
            TrainExperiment(
                Task(DataConfig("spiral", {"n_samples": 300, "noise": 0.2, "classes": 3}), "mlp",
                     {"hidden": (32, 32), "activation": "relu"}, "cross_entropy", batch_size=32, epochs=80),
                _runs([R("SGD", {"lr": 0.1}, label="SGD"),
                       R("RMSprop", {"lr": 0.01}, label="RMSprop"),
                       R("Adam", {"lr": 0.01}, label="Adam")]),
            ),
        ),
    ]
}

DEFAULT = PRESETS["moons-mlp"].experiment

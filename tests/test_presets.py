"""Every classroom preset's note is true of what it shows.

A teacher reads the note aloud while the class watches: each claim is checked here by
running the preset itself. A preset without checks fails ``test_every_preset_is_checked``.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest

from optviz.analysis import least_squares
from optviz.experiment import Outcome, compute
from optviz.presets import PRESETS


@cache
def outcome(pid: str) -> Outcome:
    return compute(PRESETS[pid].experiment)


def label(o: Outcome, text: str) -> int:
    return next(i for i, r in enumerate(o.experiment.runs) if r.label == text)


def steep_and_shallow(o: Outcome, i: int) -> tuple[np.ndarray, np.ndarray]:
    """A quadratic preset's path in its eigen-directions: u (curvature 1), v (1/kappa)."""
    angle = math.radians(o.experiment.problem.values["angle"])
    c, s = math.cos(angle), math.sin(angle)
    path = o.path_params[:, i]
    return c * path[:, 0] + s * path[:, 1], -s * path[:, 0] + c * path[:, 1]


def flips(x: np.ndarray) -> int:
    x = x[np.isfinite(x)]
    return int((np.sign(x[1:]) != np.sign(x[:-1])).sum())


def escape_step(o: Outcome, i: int, far: float = 1.0) -> int:
    """First step at which a run on the saddle is off the ridge (|y| > far)."""
    return int(np.argmax(np.abs(o.path_params[:, i, 1]) > far))


def test_sgd_momentum_adam():
    o = outcome("sgd-momentum-adam")
    loss, params = o.result.final_loss, o.path_params
    sgd, mom, adam = (label(o, t) for t in ("SGD", "SGD + momentum 0.9", "Adam"))
    valley = np.abs(params[100, :, 1] - params[100, :, 0] ** 2)  # y = x^2: the valley's floor
    assert (valley < 0.1).all(), "all three find the valley fast"
    assert loss[mom] < 1e-3, "momentum builds speed along the floor and reaches the minimum"
    assert loss[sgd] > 0.1, "plain SGD crawls along the floor"
    assert loss[mom] < loss[adam] < loss[sgd], "Adam keeps a steady pace, between the two"


def test_learning_rate():
    o = outcome("learning-rate")
    big, right, small = (label(o, t) for t in ("lr = 2.5 (too large)", "lr = 1 (just right)", "lr = 0.05 (too small)"))
    assert o.result.diverged_at[big] >= 0, "too large diverges, and the table says when"
    assert o.result.final_loss[right] < 1e-8, "just right converges"
    assert o.result.final_loss[small] > 0.1, "too small barely moves"
    loss = o.result.arrays["loss"][:, big]
    assert np.nanmax(loss) > 1e6 * loss[0], "the blow-up is recorded up to where the run is frozen"


def test_momentum_overshoot():
    o = outcome("momentum-overshoot")
    gd, half, high = (label(o, t) for t in ("GD", "momentum 0.5", "momentum 0.95"))
    u, _ = steep_and_shallow(o, gd)
    assert flips(u[:21]) == 20, "plain GD zig-zags from wall to wall at every step"
    loss = o.result.arrays["loss"]
    assert loss[50, half] < loss[50, gd] / 10, "momentum 0.5 gets down the valley far sooner"
    assert flips(steep_and_shallow(o, half)[0][:21]) < 20, "and damps the zig-zag"
    _, v = steep_and_shallow(o, high)
    assert flips(v) >= 5, "momentum 0.95 swings back and forth along the valley"
    assert loss[50, high] > loss[50, half], "for a long time"


def test_ill_conditioned():
    o = outcome("ill-conditioned")
    sgd, adam = label(o, "SGD"), label(o, "Adam")
    u, _ = steep_and_shallow(o, sgd)
    assert flips(u[:21]) >= 15, "SGD's step, set by the steep direction, bounces across it"
    length = np.linalg.norm(np.diff(o.path_params, axis=0), axis=2).sum(0)
    assert length[adam] < length[sgd], "Adam heads more directly to the minimum"
    assert o.result.final_loss[adam] < o.result.final_loss[sgd]


def test_saddle():
    o = outcome("saddle")
    gd, mom, adam, noisy = (label(o, t) for t in ("GD", "GD + momentum", "Adam", "SGD + noise σ = 0.5"))
    esc = {i: escape_step(o, i) for i in (gd, mom, adam, noisy)}
    assert esc[adam] < esc[mom] < esc[gd], "Adam leaves first, momentum sooner than GD"
    assert esc[noisy] < esc[gd], "noise kicks SGD off the ridge before noiseless GD"
    assert o.result.diverged_at[mom] >= 0, "momentum then races off the picture"
    assert o.experiment.runs[noisy].noise > 0


def test_local_minima():
    o = outcome("local-minima")
    minima = np.array([m[:2] for m in o.experiment.problem.minima()])
    ends = o.result.final_params
    reached = {int(np.argmin(np.linalg.norm(minima - e, axis=1))) for e in ends}
    assert len(reached) == 4, "the same optimizer ends in each of the four minima, depending on the start"
    assert (o.result.final_loss < 1e-6).all()


def test_schedules():
    o = outcome("schedules")
    loss = o.result.final_loss
    constant = label(o, "constant")
    assert all(r.noise == 1.0 for r in o.experiment.runs)
    tail = o.result.arrays["loss"][-50:]
    for name in ("StepLR", "cosine", "warmup + cosine"):
        i = label(o, name)
        assert loss[i] < loss[constant] / 100, f"{name} settles over 100x lower than a constant lr"
        assert tail[:, i].std() < tail[:, constant].std() / 10, f"{name} stops bouncing; the constant lr does not"


def test_moons_mlp():
    o = outcome("moons-mlp")
    acc, epochs = o.metrics["test_accuracy"], o.epochs(o.eval_steps)
    sgd, mom, adam = (label(o, t) for t in ("SGD", "SGD + momentum", "Adam"))
    assert 0.85 < acc[-1, sgd] < 0.92, "plain SGD stays near what a straight line gets"
    for i in (mom, adam):
        assert acc[-1, i] >= 0.95 and epochs[np.argmax(acc[:, i] >= 0.95)] <= 30


def test_linear_bowl():
    o = outcome("linear-bowl")
    best = least_squares(o.experiment.problem.build())
    dist = np.linalg.norm(o.path_params - best, axis=2)
    gd, mom, adam = (label(o, t) for t in ("GD", "GD + momentum", "Adam"))
    steps = np.diff(o.path_params[:, gd], axis=0)
    turns = ((steps[1:] * steps[:-1]).sum(1) < 0)[:20].sum()
    assert turns >= 15, "GD zig-zags across the valley"
    assert dist[-1, gd] > dist[-1, mom] and dist[-1, gd] > dist[-1, adam], "then creeps; momentum and Adam get there"
    assert dist[-1, mom] < 0.05


def test_minibatch_noise():
    o = outcome("minibatch-noise")
    best = least_squares(o.experiment.problem.build())
    dist = np.linalg.norm(o.path_params[-75:] - best, axis=2).mean(0)  # the last epoch
    loss = o.metrics["train_loss"][-1]
    constant, step, cosine = (label(o, t) for t in ("constant lr", "StepLR", "cosine"))
    assert dist[constant] > 5 * max(dist[step], dist[cosine]), "a constant lr keeps jittering; decay settles"
    assert loss[constant] > max(loss[step], loss[cosine])


def test_logistic_two_weights():
    o = outcome("logistic-two-weights")
    assert (o.metrics["train_accuracy"][-1] == 1.0).all(), "every run separates the blobs"
    norms = np.linalg.norm(o.path_params, axis=2)
    half = len(norms) // 2
    assert (np.diff(norms[half:], axis=0) > 0).all(), "and keeps walking out along the valley"


def test_digits():
    o = outcome("digits")
    acc, epochs = o.metrics["test_accuracy"], o.epochs(o.eval_steps)
    slow, fast, adam = (label(o, t) for t in ("SGD lr=0.001", "SGD lr=0.1", "Adam lr=0.001"))
    assert epochs[np.argmax(acc[:, adam] >= 0.95)] <= 6, "Adam passes 95% in a few epochs"
    assert acc[-1, slow] < 0.5, "SGD with the same lr is far slower"
    assert acc[-1, fast] >= 0.95, "and needs a much larger one to keep up"


def test_spiral_depth():
    o = outcome("spiral-depth")
    acc, epochs = o.metrics["test_accuracy"], o.epochs(o.eval_steps)
    sgd, adam = label(o, "SGD"), label(o, "Adam")
    at5 = np.searchsorted(epochs, 5)
    assert acc[at5, sgd] < acc[at5, adam], "Adam's boundary bends early"
    assert epochs[np.argmax(acc[:, sgd] >= 0.95)] > epochs[np.argmax(acc[:, adam] >= 0.95)], (
        "plain SGD's stays simple for a long time"
    )


def test_adam_amsgrad():
    o = outcome("adam-amsgrad")
    xs = o.path_params[:, :, 0]
    adam, ams = label(o, "Adam"), label(o, "AMSGrad")
    assert xs[-1, adam] > 0.9, "Adam drifts towards +1, the worst point"
    assert xs[-1, ams] < -0.85, "AMSGrad heads for -1, the best"
    regret = o.experiment.problem.average_regret(xs[:-1])
    assert regret[ams] < regret[adam]


def test_every_preset_is_checked():
    checked = {name.removeprefix("test_").replace("_", "-") for name in globals() if name.startswith("test_")}
    assert set(PRESETS) <= checked, f"presets with no checks: {sorted(set(PRESETS) - checked)}"


@pytest.mark.parametrize("pid", list(PRESETS))
def test_no_preset_run_diverges_unless_its_note_says_so(pid):
    o = outcome(pid)
    note = PRESETS[pid].look_for
    for i, run in enumerate(o.experiment.runs):
        if o.result.diverged_at[i] >= 0:
            assert "diverge" in note or "off the picture" in note, f"{run.label} diverges and the note does not say"


def test_edge_of_stability():
    """The sharpness half of the note is the Classics entry's verdict (tests/test_classics.py)."""
    o = outcome("edge-of-stability")
    loss = o.result.arrays["loss"][:, 0]
    assert np.isfinite(loss).all() and loss[-1] < 0.2 * loss[0], "the loss falls"
    assert (np.diff(loss) > 0).sum() > 10, "but not monotonically: it spikes and recovers"

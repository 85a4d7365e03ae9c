"""The online problem kind (Reddi et al. 2018): a loss that changes every step, a projection
after every update, held to torch's own loop with ``p.clamp_()`` after ``optimizer.step()``."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from optviz import codec
from optviz.engine import RunConfig, intra_op_threads, run
from optviz.experiment import Experiment, compute, from_json
from optviz.params import ConfigError
from optviz.problems import KINDS, OnlineBatch, OnlineProblem, Query
from optviz.problems import from_dict as problem_from_dict
from tests.helpers import check_against_torch

ADAM = {"lr": 0.5, "betas": (0.9, 0.99)}
RUNS = [
    RunConfig("Adam", ADAM, "InverseSqrtLR"),
    RunConfig("Adam", {**ADAM, "amsgrad": True}, "InverseSqrtLR", start=(0.3,)),
    RunConfig("SGD", {"lr": 0.01, "momentum": 0.9}, start=(-0.5,)),
]
PROBLEMS = {"cyclic": OnlineProblem(), "stochastic": OnlineProblem("stochastic", {"p": 0.0125, "seed": 3})}


@pytest.fixture(autouse=True)
def _one_thread():
    with intra_op_threads(1):
        yield


@pytest.mark.parametrize("variant", list(PROBLEMS))
def test_matches_torch_with_the_projection(variant):
    """Our batch against reference_run, which projects after each optimizer.step()."""
    ours = check_against_torch(PROBLEMS[variant], RUNS, steps=400, what=variant)
    assert np.nanmax(np.abs(ours.arrays["params"])) <= 1.0
    # The projection is active: Adam sits on the boundary for many steps.
    assert (np.abs(ours.arrays["params"][:, 0, 0]) == 1.0).sum() > 10


def _clamped_torch_loop(problem: OnlineProblem, config: RunConfig, steps: int) -> np.ndarray:
    """What a user writes: torch's Adam, the step's loss, then ``x.clamp_(-1, 1)``."""
    x = torch.tensor([config.start[0] if config.start else 0.0], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([x], **config.hp)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: (1 + t) ** -0.5)
    points = [x.item()]
    for t in range(steps):
        optimizer.zero_grad()
        (problem.gradient(t) * x[0]).backward()
        optimizer.step()
        with torch.no_grad():
            x.clamp_(-1.0, 1.0)
        scheduler.step()
        points.append(x.item())
    return np.array(points)


@pytest.mark.parametrize("variant", list(PROBLEMS))
def test_a_hand_written_clamped_loop_agrees(variant):
    problem = PROBLEMS[variant]
    ours = run(problem, RUNS[:2], steps=600, dtype="float64", device="cpu")
    for i, config in enumerate(RUNS[:2]):
        np.testing.assert_allclose(
            ours.arrays["params"][:, i, 0], _clamped_torch_loop(problem, config, 600), rtol=1e-12, atol=1e-14
        )


def test_the_cyclic_gradients():
    g = OnlineProblem().gradients(0, 303)
    assert set(np.flatnonzero(g == 1010.0)) == {0, 101, 202}
    assert (g[g != 1010.0] == -10.0).all()
    # Per period the sum is 1010 - 100 * 10 = +10: the best fixed point is x = -1.
    assert g[:101].sum() == 10.0 and OnlineProblem().best_fixed(1010) == -1.0
    other = OnlineProblem(params={"big": 30.0, "small": 1.0, "period": 3, "radius": 2.0})
    assert other.gradients(0, 6).tolist() == [30.0, -1.0, -1.0, 30.0, -1.0, -1.0]
    assert other.best_fixed(6) == -2.0


def test_the_stochastic_draws_do_not_depend_on_the_window():
    problem = PROBLEMS["stochastic"]
    whole = problem.gradients(0, 150_000)
    np.testing.assert_array_equal(problem.gradients(65_000, 70_000), whole[65_000:70_000])
    assert [problem.gradient(t) for t in (0, 65_535, 65_536, 149_999)] == whole[[0, 65_535, 65_536, 149_999]].tolist()
    assert abs((whole > 0).mean() - 0.0125) < 0.002
    assert not np.array_equal(OnlineProblem("stochastic", {"seed": 4}).gradients(0, 1000), whole[:1000])


def test_average_regret():
    problem = OnlineProblem(params={"big": 30.0, "small": 1.0, "period": 3})
    xs = np.array([[1.0, -1.0], [1.0, -1.0], [1.0, -1.0], [1.0, -1.0], [1.0, -1.0], [1.0, -1.0]])
    # Sum of g over 6 rounds: 2 * (30 - 2) = 56; playing +1 loses 56, the best (-1) wins 56.
    np.testing.assert_allclose(problem.average_regret(xs), [112 / 6, 0.0])
    np.testing.assert_allclose(problem.average_regret(xs[:, :, None]), [112 / 6, 0.0])


def test_a_batch_equals_each_run_alone():
    problem = PROBLEMS["stochastic"]
    together = run(problem, RUNS, steps=300, dtype="float64", device="cpu")
    for i, config in enumerate(RUNS):
        alone = run(problem, [config], steps=300, dtype="float64", device="cpu")
        np.testing.assert_array_equal(together.arrays["params"][:, i], alone.arrays["params"][:, 0])



@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_several_problems_in_one_batch_equal_each_run_on_its_own_problem(dtype):
    """OnlineBatch: run i plays problems[which[i]], in whatever row order the engine groups
    the optimizers, with each problem's own projection, bit for bit as the run alone."""
    problems = (PROBLEMS["cyclic"], PROBLEMS["stochastic"], OnlineProblem("stochastic", {"seed": 5, "radius": 0.5}))
    # Interleaved optimizers, so the engine's grouping reorders the rows.
    configs = [RUNS[i % len(RUNS)] for i in range(7)]
    which = (0, 1, 2, 2, 0, 1, 1)
    together = run(OnlineBatch(problems, which), configs, steps=300, dtype=dtype, device="cpu")
    for i, (config, k) in enumerate(zip(configs, which)):
        alone = run(problems[k], [config], steps=300, dtype=dtype, device="cpu")
        for key in ("params", "loss"):
            np.testing.assert_array_equal(together.arrays[key][:, i], alone.arrays[key][:, 0], err_msg=f"{key} {i}")
    assert np.nanmax(np.abs(together.arrays["params"][:, [2, 3]])) <= 0.5  # the third problem's own radius


def test_a_batch_names_only_its_own_problems():
    with pytest.raises(ConfigError, match="one of the batch's problems"):
        OnlineBatch((OnlineProblem(),), (0, 1))

# -- a kind like the others: JSON, links, experiments ------------------------------------------


def test_registered_as_a_kind_with_json_and_links():
    assert KINDS["online"] is OnlineProblem
    problem = OnlineProblem("stochastic", {"p": 0.02, "seed": 7, "radius": 2.0})
    assert problem_from_dict(problem.to_dict()) == problem
    query = problem.to_query()
    assert query == {"online": "stochastic", "op": "p:0.02;radius:2;seed:7"}
    assert OnlineProblem.from_query(Query(query)) == problem
    exp = Experiment(problem, (RunConfig("Adam", {"lr": 0.1}, start=(0.5,)),), 100, "float64")
    assert from_json(exp.to_json()) == exp
    decoded, _, warnings = codec.decode(codec.encode(exp, codec.View()), exp)
    assert decoded == exp and not warnings


@pytest.mark.parametrize(
    "params, match",
    [
        ({"period": 1}, "period must be at least 2"),
        ({"p": 1.5}, "p must be between 0 and 1"),
        ({"radius": 0.0}, "radius must be > 0"),
        ({"big": "x"}, "cannot read 'x'"),
        ({"steps": 3}, "has no parameter 'steps'"),
    ],
)
def test_bad_parameters_say_what_is_wrong(params, match):
    with pytest.raises(ConfigError, match=match):
        OnlineProblem("cyclic", params)


def test_bad_variant_and_json_fields():
    with pytest.raises(ConfigError, match="unknown online variant 'weekly'"):
        OnlineProblem("weekly")
    with pytest.raises(ConfigError, match="unknown fields: surface"):
        problem_from_dict({"kind": "online", "surface": "rosenbrock"})
    with pytest.raises(ConfigError, match="wrong type"):
        problem_from_dict({"kind": "online", "params": [1, 2]})


def test_a_damaged_link_falls_back_with_warnings():
    query = Query({"online": "weekly", "op": "period:1;p:abc;big:50"})
    problem = OnlineProblem.from_query(query)
    assert problem.variant == "cyclic" and problem.values["big"] == 50.0 and problem.values["period"] == 101
    assert len(query.warnings) == 3 and "unknown online variant 'weekly'" in query.warnings[0]


def test_a_start_outside_the_feasible_set_is_projected_after_the_first_update():
    out = compute(Experiment(OnlineProblem(), (RunConfig("SGD", {"lr": 1e-3}, start=(5.0,)),), 3, "float64"))
    assert out.path_params[0, 0, 0] == 5.0 and out.path_params[1, 0, 0] == 1.0
    assert math.isclose(out.result.final_loss[0], -10.0 * out.path_params[-1, 0, 0])

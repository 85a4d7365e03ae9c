"""On a surface or a formula, a run's numbers do not depend on the batch it is computed in, so
the app recomputes only the runs an edit changed (``experiment.compute_reusing``). Held here
bit for bit, for every optimizer variant the truth tests know, in both dtypes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from optviz import experiment, export
from optviz.engine import RunConfig
from optviz.experiment import Experiment
from optviz.problems import FormulaProblem, SurfaceProblem
from tests.cases import OPTIMIZER_CASES
from tests.helpers import accepts

ROSENBROCK = SurfaceProblem("rosenbrock")
EVERY_VARIANT = tuple(
    RunConfig(name, {"lr": case.lr, **variant})
    for name, case in OPTIMIZER_CASES.items()
    for variant in case.variants
    if accepts(name, {"lr": case.lr, **variant}, ROSENBROCK.build().layout)
) + (
    RunConfig("SGD", {"lr": 1e-3, "momentum": 0.9}, "ReduceLROnPlateau", noise=0.5, seed=3),
    RunConfig("Adam", {"lr": 0.01}, "OneCycleLR", {"max_lr": 0.05}, noise=0.2, seed=1),
    RunConfig("SGD", {"lr": 1e-3}, "CosineAnnealingLR", {"T_max": 50}, start=(0.5, 0.5)),
    RunConfig("SGD", {"lr": 0.05}),  # diverges
)


def _same(a: experiment.Outcome, b: experiment.Outcome) -> None:
    ra, rb = a.result, b.result
    assert ra.arrays.keys() == rb.arrays.keys() and ra.resolved == rb.resolved and ra.configs == rb.configs
    for key in ra.arrays:
        np.testing.assert_array_equal(ra.arrays[key], rb.arrays[key], err_msg=key)
    for name in ("final_loss", "final_params", "best_loss", "best_step", "diverged_at", "params_steps"):
        np.testing.assert_array_equal(getattr(ra, name), getattr(rb, name), err_msg=name)


class Cache(dict):
    def lookup(self, key):
        return self.get(key)

    def store(self, key, value):
        self[key] = value


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("problem", [ROSENBROCK, FormulaProblem("sin(3*x)*cos(3*y) + a*(x^2+y^2)", {"a": 0.1})],
                         ids=["surface", "formula"])  # fmt: skip
def test_runs_computed_alone_join_into_the_batch(problem, dtype):
    exp = Experiment(problem, EVERY_VARIANT, 40, dtype)
    assert experiment.separable(exp)
    alone = Cache()
    for run in exp.runs:  # each run computed alone, then all put together
        experiment.compute_reusing(exp.replace(runs=(run,)), alone.lookup, alone.store)
    joined = experiment.compute_reusing(exp, alone.lookup, alone.store)
    assert joined.reused == len(exp.runs)
    _same(joined, experiment.compute(exp))


def test_an_edit_recomputes_only_the_run_it_changed():
    runs = (RunConfig("SGD", {"lr": 1e-3}), RunConfig("SGD", {"lr": 1e-3, "momentum": 0.9}),
            RunConfig("RMSprop", {"lr": 1e-3}), RunConfig("Adam", {"lr": 0.02}))  # fmt: skip
    exp, cache = Experiment(ROSENBROCK, runs, 200), Cache()
    first = experiment.compute_reusing(exp, cache.lookup, cache.store)
    assert first.reused == 0 and len(cache) == 4
    _same(first, experiment.compute(exp))

    edited = exp.replace(runs=(*runs[:3], dataclasses.replace(runs[3], hparams={"lr": 0.05})))
    again = experiment.compute_reusing(edited, cache.lookup, cache.store)
    assert again.reused == 3 and len(cache) == 5
    _same(again, experiment.compute(edited))
    exported = export.result_dict(again)  # each run's compute time, reused ones too
    assert exported["reused"] == 3 and all(run["run_time"] > 0 for run in exported["runs"])

    fewer = exp.replace(runs=(runs[2], runs[0], runs[0]))  # reordered, one removed, one twice
    third = experiment.compute_reusing(fewer, cache.lookup, cache.store)
    assert third.reused == 3 and len(cache) == 5
    _same(third, experiment.compute(fewer))

    twice = Cache()  # a run twice, never computed before: computed once, and neither is "reused"
    assert experiment.compute_reusing(exp.replace(runs=(runs[0], runs[0])), twice.lookup, twice.store).reused == 0


def test_what_may_not_be_put_together():
    from optviz.problems import Task
    from optviz.problems.datasets import DataConfig

    assert not experiment.separable(Experiment(Task(DataConfig("moons")), (RunConfig("SGD"),)))
    # A batch keeps SGD's momentum buffer for a run at momentum 0; torch (and the run alone) has none.
    assert not experiment.separable(Experiment(ROSENBROCK, (RunConfig("SGD"),)), ("params", "loss", "lr", "state"))

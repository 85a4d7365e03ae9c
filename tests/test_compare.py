"""Fair comparisons: every trial is torch.optim's run, and the protocol reproduces known facts.

* Sampled trials of a comparison are replayed one at a time through ``reference_run``
  (torch's own optimizer, float64): loss, divergence, steps and gradient evaluations to
  the target, on a surface (LBFGS among the contenders) and on a model.
* On the ill-conditioned quadratic, tuned heavy ball beats tuned plain GD by at least
  what their theoretical rates predict for the step budget.
* With the default budget, the winner does not depend on the trial seed.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from optviz import compare as cmp
from optviz.compare import Comparison, Contender, Range, compare, contender, parse_contender
from optviz.config import Limits
from optviz.engine import Cancelled
from optviz.params import ConfigError
from optviz.problems import FormulaProblem, SurfaceProblem, Task
from optviz.problems.datasets import DataConfig
from optviz.reference import reference_run
from tests.helpers import run_cli

RTOL, ATOL = 1e-5, 1e-8
ROSENBROCK = SurfaceProblem("rosenbrock")


def _replay(result, k, b, s):
    """One run of a comparison alone through torch: final and best loss, divergence, steps
    and evaluations to the target (torch's own LBFGS counts its closure calls)."""
    problem = result.comparison.problem.build()
    config = result.run(k, b, s)
    steps, target = result.steps, result.comparison.target
    with np.errstate(all="ignore"):
        ref = reference_run(problem, config, steps=steps)
    loss, params = ref["loss"], ref["params"]
    bad = ~np.isfinite(loss) | ~(np.abs(params).max(axis=1) <= problem.divergence_bound)
    diverged_at = int(np.argmax(bad)) if bad.any() else -1
    gap = loss - (result.fmin or 0.0)
    live = gap[:diverged_at] if diverged_at >= 0 else gap
    hit = np.flatnonzero(live <= target)
    return {
        "final_loss": math.nan if diverged_at >= 0 else float(loss[-1]),
        "best_loss": float(np.min(live)) if live.size else math.nan,
        "diverged_at": diverged_at,
        "steps_to_target": float(hit[0]) if hit.size else math.nan,
    }


def _lbfgs_evals(result, k, b, s) -> list[int]:
    """torch.optim.LBFGS's own func_evals after each of the run's steps."""
    problem, config = result.comparison.problem.build(), result.run(k, b, s)
    x = torch.tensor(config.start, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([x], **config.hp)

    def closure():
        opt.zero_grad()
        loss = problem.loss(x.unsqueeze(0))[0]
        loss.backward()
        return loss

    counts = [0]
    for _ in range(result.steps):
        opt.step(closure)
        counts.append(opt.state[x]["func_evals"])
    return counts


def _check_trial(result, k, b, s):
    ref = _replay(result, k, b, s)
    what = f"{result.label(k)} trial {b} seed {s} ({result.setting_text(k, b)})"
    assert result.diverged_at[k, b, s] == ref["diverged_at"], what
    for key in ("final_loss", "best_loss", "steps_to_target"):
        np.testing.assert_allclose(
            getattr(result, key)[k, b, s], ref[key], rtol=RTOL, atol=ATOL, err_msg=f"{what}: {key}"
        )


def test_every_sampled_trial_on_a_surface_equals_torch_alone():
    contenders = (
        parse_contender("SGD;momentum;nesterov=true"),
        parse_contender("Adam;betas[1];weight_decay=0.01"),
        parse_contender("LBFGS;lr=0.1:2:log"),
    )
    comparison = Comparison(ROSENBROCK, contenders, trials=8, seeds=3, steps=60, target=1e-2, spread=0.1)
    result = compare(comparison)
    assert result.final_loss.shape == (3, 8, 3)
    # Seed 0 starts at the surface's start; the others around it, inside the domain.
    assert result.starts[0] == ROSENBROCK.start and len(set(result.starts)) == 3
    for k, b, s in [(0, 0, 0), (0, 5, 2), (1, 3, 1), (1, 7, 0), (2, 2, 1), (2, int(result.tuned[2]), 0)]:
        _check_trial(result, k, b, s)
    # Gradient evaluations are torch's own count: LBFGS's line search makes several a step.
    k, b = 2, int(result.tuned[2])
    evals = result.curves["evals"][k, 0]
    assert list(evals) == _lbfgs_evals(result, k, b, 0)
    assert evals[-1] > result.steps and list(result.curves["evals"][0, 0]) == list(range(61))
    hit = result.steps_to_target[k, b, 0]
    if np.isfinite(hit):
        assert result.evals_to_target[k, b, 0] == evals[int(hit)]


def test_every_sampled_trial_on_a_model_equals_torch_alone():
    task = Task(
        DataConfig("moons", {"n_samples": 120}), "mlp", {"hidden": (8,)}, "cross_entropy", batch_size=32, epochs=3
    )
    comparison = Comparison(
        task,
        (contender("SGD", tune=("momentum",)), contender("Adam")),
        trials=4,
        seeds=2,
        steps=None,
        metric="test_accuracy",
    )
    result = compare(comparison)
    # Seed s draws the model's own initialization with init seed s: other weights, same data and batches.
    built = task.build()
    assert result.starts[0] is None and result.starts[1] != built.start  # None: the task's own
    assert len(result.starts[1]) == built.dims
    for k, b, s in [(0, 1, 1), (1, 2, 0), (1, int(result.tuned[1]), 1)]:
        _check_trial(result, k, b, s)
    acc = result.metric
    assert np.nanmin(acc) >= 0 and np.nanmax(acc) <= 1
    # The tuned trial is the one with the best median accuracy.
    med = np.median(np.nan_to_num(acc, nan=-np.inf), axis=2)
    assert all(med[k, result.tuned[k]] == med[k].max() for k in range(2))


def test_tuned_heavy_ball_beats_tuned_gd_by_the_theoretical_ratio():
    """Polyak: on a quadratic with condition number kappa, the best gradient descent shrinks
    the error by (kappa-1)/(kappa+1) per step, the best heavy ball by (sqrt(kappa)-1)/(sqrt(kappa)+1).
    With the same budget (lr over the same four decades; momentum in [0, 0.99] besides),
    the tuned heavy ball's final loss is below tuned GD's by at least the per-step ratio
    compounded over the step budget, whatever the trial seed.

    The loss is quadratic in the error, so perfect tuning would give that ratio squared;
    the slack is the search's distance from Polyak's exact setting. A two-dimensional
    search needs the budget for it: with 64 trials the good (lr, momentum) region, a
    sliver of the box, is missed for some trial seeds (4 of 8 fell short when we tried); with 512, none of 8 did.
    """
    kappa, steps = 100.0, 150
    problem = SurfaceProblem("quadratic", {"kappa": kappa})
    L, mu = problem.curvatures()
    assert L / mu == pytest.approx(kappa)
    gd = parse_contender("SGD;lr=1e-3:10:log;label=GD")
    hb = parse_contender("SGD;lr=1e-3:10:log;momentum=0:0.99;label=heavy ball")
    rho_gd = (kappa - 1) / (kappa + 1)
    rho_hb = (math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)
    for trial_seed in range(5):
        result = compare(Comparison(problem, (gd, hb), trials=512, seeds=5, steps=steps, trial_seed=trial_seed))
        loss_gd, loss_hb = (result.score[k, result.tuned[k]] for k in range(2))
        assert loss_gd / loss_hb >= (rho_gd / rho_hb) ** steps, (trial_seed, loss_gd, loss_hb)
        assert result.ranking() == [1, 0]


# The surfaces whose default comparison has one clear winner: bounded below in view, with a
# winner strictly ahead (where several reach the minimum to machine precision, or escape a
# surface that is unbounded outside its picture, "the winner" is not a fact to test).
STABLE = ("rosenbrock", "quadratic")
STABLE_SLOW = ("rastrigin", "goldstein_price", "matyas", "three_hump_camel", "plateau")


@pytest.mark.parametrize("surface", [*STABLE, *(pytest.param(s, marks=pytest.mark.slow) for s in STABLE_SLOW)])
def test_the_winner_does_not_depend_on_the_trial_seed(surface):
    winners = []
    for trial_seed in range(5):
        result = compare(Comparison(SurfaceProblem(surface), trial_seed=trial_seed))
        first, second = result.ranking()[:2]
        assert result.score[first, result.tuned[first]] < result.score[second, result.tuned[second]]
        winners.append(result.label(first))
    assert len(set(winners)) == 1, winners


def test_the_default_search_space_centres_on_the_defaults():
    sgd, adam = contender("SGD"), contender("Adam", tune=("betas[1]", "weight_decay"))
    assert sgd.space == (Range("lr", 1e-5, 0.1, log=True),)  # four decades around SGD's 1e-3
    assert adam.space[0] == Range("lr", 1e-4, 1.0, log=True)
    assert [r.name for r in adam.space] == ["lr", "betas[1]", "weight_decay"]
    lbfgs = contender("LBFGS")  # the app's LBFGS: one quasi-Newton move a step, with a line search
    assert dict(lbfgs.fixed)["line_search_fn"] == "strong_wolfe" and lbfgs.name == "LBFGS"
    values = cmp.sample(adam, 64, seed=0)
    assert values.shape == (64, 3)
    assert values[:, 0].min() >= 1e-4 and values[:, 0].max() <= 1.0
    # Quasi-random: every quarter of the log-lr range holds a quarter of the trials.
    quarters = np.histogram(np.log10(values[:, 0]), bins=4, range=(-4, 0))[0]
    assert list(quarters) == [16, 16, 16, 16]
    assert np.array_equal(values, cmp.sample(adam, 64, seed=0))
    assert not np.array_equal(values, cmp.sample(adam, 64, seed=1))


def test_contender_text_round_trips():
    for text in [
        "SGD",
        "SGD;momentum",
        "SGD;lr=0.001:10:log;momentum=0:0.9;nesterov=true;label=Nesterov",
        "Adam;betas[1]=0.9:0.999",
        "LBFGS;history_size=5",
    ]:
        c = parse_contender(text)
        assert parse_contender(c.text()) == c
    assert parse_contender("SGD;momentum").name == "SGD + momentum"


@pytest.mark.parametrize(
    "text,words",
    [
        ("Nope", "unknown optimizer"),
        ("SGD;momentum=lots", "momentum"),
        ("SGD;momentum=0:x", "finite"),
        ("SGD;momentum=1:0", "low <= high"),
        ("SGD;lr=0:1:log", "log-uniform"),
        ("SGD;nesterov", "no number hyperparameter"),
        ("Adam;betas=0.9,0.99;betas[1]", "both searched and held"),
    ],
)
def test_bad_contenders_say_what_is_wrong(text, words):
    with pytest.raises(ConfigError, match=words):
        parse_contender(text)


@pytest.mark.parametrize(
    "changes,words",
    [
        (dict(contenders=()), "at least one"),
        (dict(trials=0), "trials"),
        (dict(seeds=1000), "seeds"),
        (dict(metric="test_accuracy"), "test set"),
        (dict(metric="nope"), "unknown metric"),
        (dict(target=-1.0), "target"),
        (dict(spread=3.0), "spread"),
        (dict(contenders=(Contender("SGD", (Range("momentum", 0, 0.9),)),)), "lr must be searched"),
        (dict(contenders=(Contender("Adam", (Range("lr", 1e-3, 1, True), Range("betas[1]", 0.9, 1.5))),)), "beta"),
    ],
)
def test_bad_comparisons_are_refused_before_any_work(changes, words):
    comparison = Comparison(ROSENBROCK, steps=20, **changes)
    with pytest.raises(ConfigError, match=words):
        compare(comparison)


def test_the_work_bound_refuses_an_oversized_comparison():
    with pytest.raises(ConfigError, match="OPTVIZ_MAX_WORK"):
        compare(Comparison(ROSENBROCK), limits=Limits(max_work=10_000))


def test_progress_streams_and_a_false_cancels():
    seen = []
    result = compare(Comparison(ROSENBROCK, trials=4, seeds=2, steps=40), on_progress=lambda p: seen.append(p.done))
    assert seen and seen == sorted(seen) and result.steps == 40
    with pytest.raises(Cancelled):
        compare(Comparison(ROSENBROCK, trials=4, seeds=2, steps=40), on_progress=lambda p: False)


def test_steps_to_target_and_the_race_band():
    result = compare(Comparison(ROSENBROCK, trials=16, seeds=3, steps=300, metric="steps_to_target", target=1e-2))
    k = result.ranking()[0]
    b = int(result.tuned[k])
    steps = result.steps_to_target[k, b]
    assert np.isfinite(steps).all()
    # The tuned trial reaches the target first (in median over the seeds).
    assert np.median(steps) == min(
        np.median(np.nan_to_num(result.steps_to_target[k, j], nan=np.inf)) for j in range(16)
    )
    x, lo, med, hi = result.band(k, "steps")
    assert x.size == 301 and (lo <= med).all() and (med <= hi).all()
    assert med[int(np.median(steps))] <= 1e-2
    for axis in ("evals", "time"):
        x, lo, med, hi = result.band(k, axis, kind="iqr")
        assert x[0] == 0 and np.all(np.diff(x) > 0) and np.nanmin(med) <= 1e-2


def test_noise_seeds_and_a_typed_formula():
    formula = FormulaProblem("(x-1)^2 + 3*(y+0.5)^2", {})
    result = compare(
        Comparison(formula, (contender("SGD"), contender("Adam")), trials=8, seeds=2, steps=50, noise=0.2, spread=0.0)
    )
    assert result.starts[0] == result.starts[1]  # no spread: the noise seed alone tells them apart
    run0, run1 = result.run(0, 3, 0), result.run(0, 3, 1)
    assert (run0.noise, run0.seed, run1.seed) == (0.2, 0, 1)
    assert result.final_loss[0, 3, 0] != result.final_loss[0, 3, 1]
    _check_trial(result, 1, 4, 1)
    assert "noise seeds 0–1" in result.protocol()


def test_json_and_csv_hold_every_trial_and_the_protocol():
    result = compare(Comparison(ROSENBROCK, trials=4, seeds=2, steps=30))
    data = json.loads(result.to_json())
    assert data["comparison"] == result.comparison.to_dict()
    assert Comparison.from_dict(data["comparison"]) == result.comparison
    assert len(data["trials"]) == 4 * 4 and all(len(t["seeds"]) == 2 for t in data["trials"])
    assert [r["rank"] for r in data["ranking"]] == [1, 2, 3, 4]
    assert "4 trials drawn from a scrambled Sobol sequence" in data["protocol"]
    rows = result.to_csv().splitlines()
    assert len(rows) == 1 + 4 * 4 * 2
    assert rows[0].startswith("contender,optimizer,trial,seed,lr,momentum,tuned,metric")


def test_cli_compare_writes_json_and_csv(capsys, tmp_path):
    code, out, err = run_cli(
        capsys,
        "compare",
        "--surface",
        "quadratic",
        "--optimizer",
        "SGD",
        "SGD;momentum",
        "--trials",
        "8",
        "--seeds",
        "2",
        "--steps",
        "50",
    )
    assert code == 0, err
    data = json.loads(out)
    assert [c["optimizer"] for c in data["comparison"]["contenders"]] == ["SGD", "SGD"]
    assert data["ranking"][0]["contender"] in ("SGD", "SGD + momentum")
    path = tmp_path / "trials.csv"
    code, out, err = run_cli(
        capsys,
        "compare",
        "--optimizer",
        "Adam",
        "--trials",
        "4",
        "--seeds",
        "1",
        "--steps",
        "20",
        "--format",
        "csv",
        "--out",
        str(path),
    )
    assert code == 0 and len(path.read_text().splitlines()) == 5


@pytest.mark.parametrize(
    "argv,words",
    [
        (["--optimizer", "SGD;momentum=2:1"], "low <= high"),
        (["--metric", "test_accuracy"], "test set"),
        (["--trials", "0"], "trials"),
        (["--optimizer", "os.system"], "not a torch.optim.Optimizer"),
    ],
)
def test_cli_compare_refuses_bad_arguments_in_one_line(capsys, argv, words):
    code, out, err = run_cli(capsys, "compare", "--steps", "10", *argv)
    assert code == 2 and not out
    assert words in err and len(err.strip().splitlines()) == 1


def test_a_contenders_label_is_shown_as_text_in_its_charts():
    """A label comes from a link: Plotly would render its HTML (a link, bold) in titles, names and hover."""
    from optviz.charts import compare as compare_charts

    link = '<a href="https://example.com">me</a>'
    contenders = (Contender("SGD", (Range("lr", 1e-4, 1e-2, log=True),), label=link), contender("Adam"))
    result = compare(Comparison(ROSENBROCK, contenders, trials=4, seeds=2, steps=30))
    for fig in (compare_charts.compare_race_figure(result), compare_charts.sensitivity_figure(result)):
        text = fig.to_json()
        assert "<a href" not in text and "&lt;a href" in text

"""The Online page: the online problem kind in the normal experiment page. Its figure (x
against the step, the average regret) through the pure builder; the page through AppTest:
a link opens it, the run editor changes a run, and the Classics entry opens there."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from optviz import classics, codec
from optviz.charts import styles
from optviz.charts.online import online_figure
from optviz.classics import CLASSICS
from optviz.engine import RunConfig
from optviz.experiment import Experiment, compute
from optviz.presets import DEFAULTS
from optviz.problems import OnlineProblem
from tests.helpers import run_table

TIMEOUT = 180
APP = str(Path(__file__).resolve().parents[1] / "app.py")
ADAM = {"lr": 0.5, "betas": (0.9, 0.99)}
SMALL = Experiment(
    OnlineProblem("cyclic"),
    (
        RunConfig("Adam", ADAM, "InverseSqrtLR", label="Adam"),
        RunConfig("Adam", {**ADAM, "amsgrad": True}, "InverseSqrtLR", label="AMSGrad"),
    ),
    400,
    "float64",
)


def test_figure_draws_x_and_the_average_regret_of_each_run():
    out = compute(SMALL)
    fig = online_figure(SMALL.problem, out.path_params, styles(["Adam", "AMSGrad"]), limit=100)
    xs = [t for t in fig.data if t.yaxis == "y"]
    regrets = [t for t in fig.data if t.yaxis == "y2"]
    assert [t.name for t in xs] == ["Adam", "AMSGrad"] and len(regrets) == 2
    assert all(len(t.x) <= 100 for t in fig.data)  # thinned
    np.testing.assert_allclose(xs[1].y[-1], out.path_params[-1, 1, 0])
    expected = SMALL.problem.regret(out.path_params[:-1, :, 0])[-1]
    np.testing.assert_allclose([t.y[-1] for t in regrets], expected)
    assert (np.concatenate([t.y for t in regrets]) >= -1e-12).all()  # a regret against the best point


def test_figure_of_a_partial_run_has_no_regret_without_every_step():
    params = np.zeros((5, 1, 1))
    fig = online_figure(OnlineProblem(), params, styles(["a"]), steps=np.array([0, 10, 20, 30, 40]))
    assert len(fig.data) == 1 and fig.data[0].yaxis == "y"


def test_the_classic_and_the_page_default_round_trip_through_a_link():
    for exp in (CLASSICS["adam-amsgrad"].experiment, DEFAULTS["online"]):
        back, _, warnings = codec.decode(codec.encode(exp), DEFAULTS["surface"])
        assert not warnings and back.problem == exp.problem and back.runs == exp.runs and back.steps == exp.steps


def _hash(at: AppTest, path: str) -> str:
    return next(h for h, info in at._registered_pages.items() if info.get("url_pathname") == path)


def _online(query: dict) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at._page_hash = _hash(at, "online")
    at.query_params = dict(query)
    return at.run()


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _table(at: AppTest):
    return run_table(at)


def test_a_link_opens_the_online_page_with_its_runs_and_the_editor_changes_one():
    at = _online(codec.encode(SMALL))
    _ok(at)
    assert len(at.get("plotly_chart")) == 1
    table = _table(at)
    assert list(table["run"]) == ["Adam", "AMSGrad"] and "final x" in table and "average regret" in table
    rid = at.session_state["o.run_ids"][0]
    at.number_input(key=f"o.r{rid}.hp.lr").set_value(0.05).run()
    _ok(at)
    exp, _, warnings = codec.decode({k: at.query_params[k] for k in at.query_params}, DEFAULTS["online"])
    assert not warnings and dict(exp.runs[0].hparams)["lr"] == 0.05 and exp.problem == SMALL.problem
    at.session_state["o.variant"] = "stochastic"
    at.run()
    _ok(at)
    assert at.query_params["online"] in ("stochastic", ["stochastic"])


def test_the_adam_amsgrad_classic_opens_on_the_online_page(monkeypatch):
    """The entry's button opens its experiment (here shortened: the real one is 20,000 steps)."""
    small = replace(CLASSICS["adam-amsgrad"], experiment=SMALL)
    real = CLASSICS["adam-amsgrad"]
    monkeypatch.setitem(CLASSICS, "adam-amsgrad", small)
    monkeypatch.setattr(classics, "REDDI_STEPS", 400)  # the entry's own run, shortened too
    assert real.experiment.problem.kind == "online" and real.experiment.runs == SMALL.runs
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at._page_hash = _hash(at, "classics")
    at.query_params = {"classic": "adam-amsgrad"}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.button(key="cl.open").click().run()
    _ok(at)
    assert at.query_params["online"] in ("cyclic", ["cyclic"])
    assert list(_table(at)["run"]) == ["Adam", "AMSGrad"]
    assert len(at.get("plotly_chart")) == 1


def test_a_link_past_the_parameters_hints_opens_and_a_refused_one_says_why():
    wide = replace(SMALL, problem=OnlineProblem("cyclic", {"big": 1e6, "period": 100_000, "radius": 500.0}))
    at = _online(codec.encode(wide))
    _ok(at)
    assert at.session_state["o.op.big"] == 1e6 and len(at.get("plotly_chart")) == 1
    at.session_state["o.op.period"] = 1  # the problem refuses it: the page says so and draws the default
    at.run()
    assert not at.exception and any("period must be at least 2" in e.value for e in at.error)

"""The Streamlit app through AppTest: it starts, presets run, widgets drive the config, links round-trip."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from optviz import share
from optviz.presets import DEFAULT, PRESETS

TIMEOUT = 120
APP = str(Path(__file__).resolve().parents[1] / "app.py")


def _app(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at.run()


def _experiment(at: AppTest):
    params = {k: at.query_params[k] for k in at.query_params}
    exp, view, warnings = share.decode(params, DEFAULT)
    assert not warnings
    return exp, view


def test_app_starts_without_exception():
    at = _app()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == "optviz"
    exp, _ = _experiment(at)
    assert exp.problem.surface == DEFAULT.problem.surface and len(exp.runs) == len(DEFAULT.runs)


@pytest.mark.parametrize("preset_id", list(PRESETS))
def test_every_preset_runs(preset_id):
    at = _app()
    at.button(key=f"preset.{preset_id}").click().run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    exp, _ = _experiment(at)
    assert exp.problem == PRESETS[preset_id].experiment.problem
    assert [r.label for r in exp.runs] == [r.label for r in PRESETS[preset_id].experiment.runs]


def test_widgets_change_the_config():
    at = _app()
    rid = at.session_state.run_ids[0]
    at.number_input(key=f"r{rid}.hp.lr").set_value(0.0123).run()
    at.selectbox(key="surface").set_value("himmelblau").run()
    at.number_input(key="steps").set_value(77).run()
    assert not at.exception
    exp, _ = _experiment(at)
    assert exp.problem.surface == "himmelblau" and exp.steps == 77
    assert dict(exp.runs[0].hparams)["lr"] == 0.0123
    # A new surface starts from its own classic start point.
    assert exp.runs[0].start == tuple(float(v) for v in exp.problem.spec.start)


def test_add_duplicate_remove_runs():
    at = _app()
    n = len(at.session_state.run_ids)
    at.button(key=f"r{at.session_state.run_ids[0]}.dup").click().run()
    assert len(at.session_state.run_ids) == n + 1
    at.button(key=f"r{at.session_state.run_ids[-1]}.rm").click().run()
    assert len(at.session_state.run_ids) == n
    assert not at.exception


@pytest.mark.parametrize("preset_id", ["schedules", "local-minima"])
def test_url_round_trip_reproduces_the_config(preset_id):
    at = _app()
    at.button(key=f"preset.{preset_id}").click().run()
    assert _experiment(at)[0] == PRESETS[preset_id].experiment
    query = {k: at.query_params[k] for k in at.query_params}
    again = _app(query)
    assert not again.exception
    assert _experiment(again) == _experiment(at)


@pytest.mark.parametrize(
    "query",
    [
        {"surface": "nope"},
        {"steps": "-5"},
        {"steps": "lots"},
        {"start": "1,nan"},
        {"run": ["Adam;lr=oops", "SGD;lr=0.01"]},
        {"run": ["os.system;cmd=rm"]},
        {"run": "NotAnOptimizer"},
        {"sp": "b:-1e999,zz:3"},
        {"view": "<script>"},
        {"run": "SGD;sched=Nope"},
    ],
)
def test_malformed_links_warn_instead_of_failing(query):
    at = _app(query)
    assert not at.exception
    assert at.warning, "a bad link must say so"
    assert any("Share link" in w.value for w in at.warning)


def test_bad_hyperparameter_shows_torch_message_not_a_traceback():
    at = _app({"run": ["Adam;lr=-1", "SGD;lr=0.001"]})
    assert not at.exception
    assert any("Invalid learning rate" in e.value for e in at.error)

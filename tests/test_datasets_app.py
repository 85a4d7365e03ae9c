"""The Datasets page through AppTest: it trains, presets run, widgets drive the config, links round-trip."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from optviz.data import share as dshare
from optviz.data.presets import DEFAULT, PRESETS

TIMEOUT = 180


def _page():
    import streamlit as st

    from optviz.ui.datasets_page import datasets_page
    from optviz.ui.persist import keep_widget_values

    keep_widget_values()
    if st.session_state.get("elsewhere"):  # stands in for the other page
        st.write("another page")
    else:
        datasets_page()


def _app(query: dict | None = None) -> AppTest:
    at = AppTest.from_function(_page, default_timeout=TIMEOUT)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at.run()


def _experiment(at: AppTest):
    params = {k: at.query_params[k] for k in at.query_params}
    exp, warnings = dshare.decode(params, DEFAULT)
    assert not warnings, warnings
    return exp


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_page_trains_the_default_on_first_visit():
    at = _app()
    _ok(at)
    assert at.title[0].value == "optviz"
    exp = _experiment(at)
    assert exp.task == DEFAULT.task and [r.label for r in exp.runs] == [r.label for r in DEFAULT.runs]
    assert at.get("plotly_chart") and at.dataframe[0].value.shape[0] == len(DEFAULT.runs)


@pytest.mark.parametrize("preset_id", list(PRESETS))
def test_every_preset_trains_and_its_link_reproduces_it(preset_id):
    at = _app()
    at.button(key=f"d.preset.{preset_id}").click().run()
    _ok(at)
    exp = _experiment(at)
    assert exp == PRESETS[preset_id].experiment
    query = {k: at.query_params[k] for k in at.query_params}
    again = _app(query)
    _ok(again)
    assert _experiment(again) == exp


def test_a_new_dataset_keeps_only_sensible_models_and_losses():
    at = _app()
    at.selectbox(key="d.dataset").select("diabetes").run()
    _ok(at)
    exp = _experiment(at)
    assert exp.task.data.dataset == "diabetes" and exp.task.model == "mlp" and exp.task.loss == "mse"
    assert "cross_entropy" not in at.selectbox(key="d.loss").options
    assert any("Cross-entropy" in c.value and "classification" in c.value for c in at.caption)
    at.selectbox(key="d.model").select("linear").run()
    at.selectbox(key="d.dataset").select("iris").run()
    _ok(at)
    exp = _experiment(at)
    assert (exp.task.model, exp.task.loss) == ("softmax", "cross_entropy")
    assert "linear" not in at.selectbox(key="d.model").options


def test_widgets_change_the_config():
    at = _app()
    rid = at.session_state["d.run_ids"][0]
    at.number_input(key=f"d.r{rid}.hp.lr").set_value(0.0123).run()
    at.number_input(key="d.epochs").set_value(7).run()
    at.segmented_control(key="d.batch_mode").set_value("full").run()
    at.text_input(key="d.mp.hidden").input("8").run()
    _ok(at)
    exp = _experiment(at)
    assert exp.task.epochs == 7 and exp.task.batch_size == 0 and exp.task.model_params == (("activation", "tanh"), ("hidden", (8,)))
    assert dict(exp.runs[0].hparams)["lr"] == 0.0123


def test_two_weight_models_take_a_start_point():
    at = _app()
    at.button(key="d.preset.linear-bowl").click().run()
    assert at.toggle(key="d.own_start").value
    at.number_input(key="d.start0").set_value(0.5).run()
    _ok(at)
    assert all(r.start == (0.5, 6.0) for r in _experiment(at).runs)


def test_add_duplicate_remove_runs():
    at = _app()
    n = len(at.session_state["d.run_ids"])
    at.button(key=f"d.r{at.session_state['d.run_ids'][0]}.dup").click().run()
    assert len(at.session_state["d.run_ids"]) == n + 1
    at.button(key=f"d.r{at.session_state['d.run_ids'][-1]}.rm").click().run()
    at.button(key="d.add_run").click().run()
    _ok(at)
    assert len(_experiment(at).runs) == n + 1


def test_values_survive_a_visit_to_the_other_page():
    at = _app()
    at.number_input(key="d.epochs").set_value(9).run()
    at.session_state["elsewhere"] = True
    at.run()
    at.session_state["elsewhere"] = False
    at.run()
    _ok(at)
    assert _experiment(at).task.epochs == 9


CSV = "a,b,label\n" + "\n".join(f"{i % 5},{(i * 7) % 11},{int(i % 5 > 2)}" for i in range(40)) + "\n"


def test_an_uploaded_csv_trains_and_a_bad_one_names_the_cell():
    at = _app()
    at.session_state["d.csv"], at.session_state["d.csv_name"] = CSV, "mine.csv"
    at.selectbox(key="d.dataset").select("csv").run()
    _ok(at)
    assert at.get("plotly_chart") and any("mine.csv" in m.value for m in at.markdown)
    at.session_state["d.csv"] = CSV.replace("3,10,1", "3,ten,1", 1)
    at.run()
    assert not at.exception
    assert any("column 'b', row" in e.value and "'ten' is not a number" in e.value for e in at.error)


def test_waiting_for_an_upload_is_explained():
    at = _app()
    at.selectbox(key="d.dataset").select("csv").run()
    assert not at.exception and not at.error
    assert any("Upload a CSV" in i.value for i in at.info)


@pytest.mark.parametrize(
    "query",
    [
        {"dataset": "nope"},
        {"dataset": "csv"},
        {"epochs": "-3"},
        {"batch": "lots"},
        {"loss": "mse"},
        {"model": "linear"},
        {"mp": "hidden:abc"},
        {"dp": "noise:-5,n_samples:3"},
        {"start": "1,nan"},
        {"run": ["Adam;lr=oops", "SGD;lr=0.1"]},
        {"run": "os.system;cmd=rm"},
        {"dtype": "float16"},
    ],
)
def test_malformed_links_warn_instead_of_failing(query):
    at = _app({"dataset": "moons", **query})
    assert not at.exception
    assert any("Share link" in w.value for w in at.warning)
    assert at.get("plotly_chart")


def test_a_diverging_run_and_too_much_work_are_explained():
    at = _app({"dataset": "moons", "run": ["SGD;lr=1e9", "Adam;lr=0.01"], "epochs": "5"})
    assert not at.exception
    assert any("diverged" in c.value for c in at.caption)
    at = _app({"dataset": "digits", "batch": "1", "epochs": "100"})
    assert not at.exception
    assert any("OPTVIZ_MAX_STEPS" in e.value for e in at.error)


def test_the_app_lists_the_datasets_page():
    from pathlib import Path

    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    source = (Path(__file__).resolve().parents[1] / "optviz" / "ui" / "app.py").read_text()
    assert 'url_path="datasets"' in source

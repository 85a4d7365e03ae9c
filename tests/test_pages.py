"""The experiment pages (Surfaces, Datasets) through AppTest: one set of tests for both.

Each page starts on its default, runs every preset of its kind, takes its link
back, keeps its values while another page is shown, and turns a damaged link
into warnings. Kind-specific widgets get their own tests below.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from optviz import codec, presets
from tests.helpers import run_table

TIMEOUT = 180
PAGES = {"surface": "s.", "train": "d."}
# Every experiment page's prefix; the generic tests run on the first two (the Online page has its own).
PREFIXES = {**PAGES, "online": "o."}
APP = str(Path(__file__).resolve().parents[1] / "app.py")


def _page():
    import streamlit as st

    from optviz.ui.explore import DATASETS, ONLINE, SURFACES
    from optviz.ui.persist import keep_widget_values

    keep_widget_values()
    page = st.session_state.get("page", "surface")
    if page == "elsewhere":  # stands in for another page
        st.write("another page")
    else:
        {"surface": SURFACES, "train": DATASETS, "online": ONLINE}[page]()


def _app(kind: str = "surface", query: dict | None = None) -> AppTest:
    at = AppTest.from_function(_page, default_timeout=TIMEOUT)
    at.session_state["page"] = kind
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at.run()


def _experiment(at: AppTest, kind: str):
    params = {k: at.query_params[k] for k in at.query_params}
    exp, view, warnings = codec.decode(params, presets.DEFAULTS[kind])
    assert not warnings, warnings
    return exp


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _ids(at: AppTest, kind: str) -> list[int]:
    return list(at.session_state[f"{PAGES[kind]}run_ids"])


@pytest.mark.parametrize("kind", PAGES)
def test_page_shows_its_default_on_first_visit(kind):
    at = _app(kind)
    _ok(at)
    exp, default = _experiment(at, kind), presets.DEFAULTS[kind]
    assert exp.problem == default.problem and [r.label for r in exp.runs] == [r.label for r in default.runs]
    assert at.get("plotly_chart") and run_table(at).shape[0] == len(default.runs)


PRESET_CASES = [pytest.param(p.kind, pid, id=pid) for pid, p in presets.PRESETS.items()]


@pytest.mark.parametrize(("kind", "preset_id"), PRESET_CASES)
def test_every_preset_runs_and_its_link_reproduces_it(kind, preset_id):
    at = _app(kind)
    at.button(key=f"{PREFIXES[kind]}preset.{preset_id}").click().run()
    _ok(at)
    exp = _experiment(at, kind)
    assert exp == presets.PRESETS[preset_id].experiment
    again = _app(kind, {k: at.query_params[k] for k in at.query_params})
    _ok(again)
    assert _experiment(again, kind) == exp


@pytest.mark.parametrize("kind", PAGES)
def test_add_duplicate_remove_runs(kind):
    p = PAGES[kind]
    at = _app(kind)
    n = len(_ids(at, kind))
    first = _ids(at, kind)[0]
    at.button(key=f"{p}r{first}.dup").click().run()
    copy = at.session_state[f"{p}edit"]  # the copy is edited next, right after its original
    assert len(_ids(at, kind)) == n + 1 and _ids(at, kind)[1] == copy != first
    at.button(key=f"{p}r{copy}.rm").click().run()
    at.button(key=f"{p}add_run").click().run()
    _ok(at)
    exp = _experiment(at, kind)
    assert len(exp.runs) == n + 1
    assert len({r.label for r in exp.runs}) == n + 1  # a new run gets a label of its own


@pytest.mark.parametrize("kind", PAGES)
def test_a_run_keeps_its_settings_while_another_is_edited(kind):
    p = PAGES[kind]
    at = _app(kind)
    first, second = _ids(at, kind)[:2]
    at.number_input(key=f"{p}r{first}.hp.lr").set_value(0.0321).run()
    at.segmented_control(key=f"{p}edit").set_value(second).run()
    at.number_input(key=f"{p}r{second}.hp.lr").set_value(0.0123).run()
    at.segmented_control(key=f"{p}edit").set_value(first).run()
    _ok(at)
    runs = _experiment(at, kind).runs
    assert dict(runs[0].hparams)["lr"] == 0.0321 and dict(runs[1].hparams)["lr"] == 0.0123
    assert at.number_input(key=f"{p}r{first}.hp.lr").value == 0.0321


def test_a_refused_value_keeps_the_run_drawn_and_says_why():
    at = _app("surface")
    rid = _ids(at, "surface")[0]
    at.number_input(key=f"s.r{rid}.hp.lr").set_value(-1.0).run()
    assert not at.exception
    assert any("Invalid learning rate" in e.value for e in at.error)
    assert len(_experiment(at, "surface").runs) == len(presets.DEFAULTS["surface"].runs)


def test_the_label_follows_the_optimizer():
    at = _app("surface")
    rid = _ids(at, "surface")[0]  # "SGD"
    at.selectbox(key=f"s.r{rid}.optimizer").set_value("LBFGS").run()
    _ok(at)
    run = _experiment(at, "surface").runs[0]
    assert run.optimizer == "LBFGS" and run.label == "LBFGS"


@pytest.mark.parametrize("kind", PAGES)
def test_edits_survive_a_visit_to_another_page(kind):
    p = PAGES[kind]
    at = _app(kind)
    rid = _ids(at, kind)[0]
    at.number_input(key=f"{p}r{rid}.hp.lr").set_value(0.05).run()
    at.session_state["page"] = "elsewhere"
    at.run()
    at.session_state["page"] = kind
    at.run()
    _ok(at)
    assert dict(_experiment(at, kind).runs[0].hparams)["lr"] == 0.05


MALFORMED = {
    "surface": [
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
    "train": [
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
}


@pytest.mark.parametrize(("kind", "query"), [(k, q) for k, qs in MALFORMED.items() for q in qs])
def test_malformed_links_warn_instead_of_failing(kind, query):
    base = {"dataset": "moons"} if kind == "train" else {}
    at = _app(kind, {**base, **query})
    assert not at.exception
    assert any("Link:" in w.value for w in at.warning), "a bad link must say so"
    assert at.get("plotly_chart")


def test_steps_beyond_the_server_limit_are_clamped_with_a_warning(monkeypatch):
    monkeypatch.setenv("OPTVIZ_MAX_STEPS", "600")
    at = _app("surface", {"steps": "1000000000"})
    assert not at.exception
    assert any("OPTVIZ_MAX_STEPS" in w.value and "600" in w.value for w in at.warning)
    assert at.number_input(key="s.steps").value == 600


def test_bad_hyperparameter_shows_torch_message_not_a_traceback():
    at = _app("surface", {"run": ["Adam;lr=-1", "SGD;lr=0.001"]})
    assert not at.exception
    assert any("Invalid learning rate" in e.value for e in at.error)


# -- Surfaces -------------------------------------------------------------------------------


def test_surface_widgets_change_the_config():
    at = _app("surface")
    rid = _ids(at, "surface")[0]
    at.number_input(key=f"s.r{rid}.hp.lr").set_value(0.0123).run()
    at.selectbox(key="s.surface").set_value("himmelblau").run()
    at.number_input(key="s.steps").set_value(77).run()
    _ok(at)
    exp = _experiment(at, "surface")
    assert exp.problem.surface == "himmelblau" and exp.steps == 77
    assert dict(exp.runs[0].hparams)["lr"] == 0.0123
    # A new surface starts from its own classic start point.
    assert exp.runs[0].start == tuple(float(v) for v in exp.problem.spec.start)


# -- Datasets -------------------------------------------------------------------------------


def test_a_new_dataset_keeps_only_sensible_models_and_losses():
    at = _app("train")
    at.selectbox(key="d.dataset").select("diabetes").run()
    _ok(at)
    task = _experiment(at, "train").problem
    assert task.data.dataset == "diabetes" and task.model == "mlp" and task.loss == "mse"
    assert "cross_entropy" not in at.selectbox(key="d.loss").options
    assert any("Cross-entropy" in c.value and "classification" in c.value for c in at.caption)
    at.selectbox(key="d.model").select("linear").run()
    at.selectbox(key="d.dataset").select("iris").run()
    _ok(at)
    task = _experiment(at, "train").problem
    assert (task.model, task.loss) == ("softmax", "cross_entropy")
    assert "linear" not in at.selectbox(key="d.model").options


def test_dataset_widgets_change_the_config():
    at = _app("train")
    rid = _ids(at, "train")[0]
    at.number_input(key=f"d.r{rid}.hp.lr").set_value(0.0123).run()
    at.number_input(key="d.epochs").set_value(7).run()
    at.segmented_control(key="d.batch_mode").set_value("full").run()
    at.text_input(key="d.mp.hidden").input("8").run()
    _ok(at)
    exp = _experiment(at, "train")
    task = exp.problem
    assert task.epochs == 7 and task.batch_size == 0 and task.model_params == (("activation", "tanh"), ("hidden", (8,)))
    assert dict(exp.runs[0].hparams)["lr"] == 0.0123


def test_two_weight_models_take_a_start_point():
    at = _app("train")
    at.button(key="d.preset.linear-bowl").click().run()
    assert at.toggle(key="d.own_start").value
    at.number_input(key="d.start0").set_value(0.5).run()
    _ok(at)
    assert all(r.start == (0.5, 6.0) for r in _experiment(at, "train").runs)


CSV = "a,b,label\n" + "\n".join(f"{i % 5},{(i * 7) % 11},{int(i % 5 > 2)}" for i in range(40)) + "\n"


def test_an_uploaded_csv_trains_and_a_bad_one_names_the_cell():
    at = _app("train")
    at.session_state["d.csv"], at.session_state["d.csv_name"] = CSV, "mine.csv"
    at.selectbox(key="d.dataset").select("csv").run()
    _ok(at)
    assert at.get("plotly_chart") and any("mine.csv" in m.value for m in at.markdown)
    at.session_state["d.csv"] = CSV.replace("3,10,1", "3,ten,1", 1)
    at.run()
    assert not at.exception
    assert any("column 'b', row" in e.value and "'ten' is not a number" in e.value for e in at.error)


def test_a_csv_with_a_text_column_trains_with_that_column_left_out():
    at = _app("train")
    named = "name," + "\n".join(f"p{i}," + line if i else line for i, line in enumerate(CSV.splitlines())) + "\n"
    at.session_state["d.csv"], at.session_state["d.csv_name"] = named, "people.csv"
    at.session_state["d.csv_drop"] = ["name"]  # as the upload leaves text columns out
    at.selectbox(key="d.dataset").select("csv").run()
    _ok(at)
    assert at.multiselect(key="d.csv_drop").value == ["name"]
    assert at.session_state["d.last"][0].problem.data.drop == ("name",)
    at.multiselect(key="d.csv_drop").unselect("name").run()
    assert not at.exception
    assert any("'p1' is not a number" in e.value and "leave the column out" in e.value for e in at.error)


def test_a_csv_sessions_link_keeps_the_model_and_runs_and_asks_for_the_file():
    at = _app("train", {"dataset": "csv", "model": "logistic", "loss": "bce", "run": ["SGD;lr=0.3", "Adam;lr=0.01"]})
    assert not at.exception
    (warning,) = [w.value for w in at.warning]
    assert "uploaded CSV" in warning and "upload the file again" in warning
    assert at.selectbox(key="d.model").value == "logistic" and len(at.session_state["d.last"][0].runs) == 2


def test_waiting_for_an_upload_is_explained():
    at = _app("train")
    at.selectbox(key="d.dataset").select("csv").run()
    assert not at.exception and not at.error
    assert any("Upload a CSV" in i.value for i in at.info)


def test_a_diverging_run_and_too_much_work_are_explained():
    at = _app("train", {"dataset": "moons", "run": ["SGD;lr=1e9", "Adam;lr=0.01"], "epochs": "5"})
    assert not at.exception
    assert any("diverged" in c.value for c in at.caption)
    at = _app("train", {"dataset": "digits", "batch": "1", "epochs": "100"})
    assert not at.exception
    assert any("OPTVIZ_MAX_STEPS" in e.value for e in at.error)


def test_the_app_starts_with_three_pages():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    _ok(at)
    source = (Path(APP).parent / "optviz" / "ui" / "app.py").read_text()
    assert all(f'url_path="{p}"' in source for p in ("surfaces", "datasets", "sweeps"))


def test_an_edit_on_a_surface_recomputes_that_run_alone_and_says_so():
    at = _app("surface")
    ids = _ids(at, "surface")
    at.number_input(key=f"s.r{ids[0]}.hp.lr").set_value(0.00123).run()
    _ok(at)
    told = [c.value for c in at.caption]
    assert any(f"1 of {len(ids)} runs" in c and f"({len(ids) - 1} unchanged)" in c for c in told), told


@pytest.mark.parametrize("kind", PAGES)
def test_the_update_rules_are_drawn_once_their_box_is_opened(kind):
    """Closed, the box costs nothing (its formulas are KaTeX, one a run); opened, it shows each
    optimizer's rule and every run's values in it, and stays open through the next rerun."""
    at = _app(kind)
    _ok(at)

    def with_values() -> list[str]:
        return [x.value for x in at.markdown if ": with $" in x.value]  # "label: with $\gamma = …$, …"

    assert with_values() == []
    at.session_state[f"{PAGES[kind]}rules"] = True  # what opening the box sets
    at.run()
    _ok(at)
    assert len(with_values()) == len(presets.DEFAULTS[kind].runs)
    at.run()
    assert len(with_values()) == len(presets.DEFAULTS[kind].runs)


def test_a_typed_formula_picked_from_the_list_is_drawn_at_once():
    """The Surfaces page may draw its sidebar after the results: the example formula must be in
    place before the run that reads it, not only once the picker is drawn."""
    from optviz.problems import FormulaProblem
    from optviz.ui.kinds.surface import EXAMPLE, FORMULA

    at = _app("surface")
    at.selectbox(key="s.surface").set_value(FORMULA).run()
    _ok(at)
    exp = _experiment(at, "surface")
    assert isinstance(exp.problem, FormulaProblem)
    assert exp.problem.formula.replace(" ", "") == EXAMPLE.replace(" ", "")
    assert exp.runs[0].start == tuple(float(v) for v in exp.problem.start)  # the formula's own start


def test_a_page_whose_results_come_at_once_draws_its_sidebar_after_them():
    """Then the browser mounts the chart before it renders the sidebar's widgets; a long
    computation's page, and a page whose sidebar writes state while drawn, draw it first."""
    import dataclasses

    from optviz.ui.explore import DATASETS, ONLINE, SURFACES

    surface = presets.DEFAULTS["surface"]
    assert SURFACES.results_first(surface)
    assert not SURFACES.results_first(dataclasses.replace(surface, steps=1_000_000))
    assert ONLINE.results_first(dataclasses.replace(presets.DEFAULTS["online"], steps=100))
    assert not DATASETS.results_first(presets.DEFAULTS["train"])
    assert not SURFACES.results_first(None)


@pytest.mark.parametrize(("kind", "query"), [("surface", {}), ("online", {"steps": "100"})])
def test_a_page_just_opened_sends_its_chart_alone_and_the_whole_page_once_it_is_drawn(monkeypatch, kind, query):
    """Served, the in-place chart reports its first draw. A page just opened whose results come
    at once sends the chart and what is above it, and in the sidebar its first line only; the
    run after the report sends the whole page, with the chart's figure as it was (the browser
    does not draw it again). The browser's side: test_e2e_surfaces."""
    from optviz.ui import plot
    from optviz.ui.explore import LOADING

    def chart(at):
        (found,) = [e for e in at.get("bidi_component") if plot.NAME in e.proto.component_name]
        return found.proto.bytes

    monkeypatch.setattr(plot, "_served", True)
    at = _app(kind, query)
    assert not at.exception
    report = b'{"report_drawn":true,'
    first = chart(at)
    assert first.startswith(report)
    assert not at.number_input and not at.button, "the run editor and the presets come in the second run"
    assert [m.value for m in at.sidebar.markdown] == ["### Classroom presets"]
    assert LOADING in str(at.sidebar.children[0].proto)  # what the browser tests wait on to go
    link = dict(at.query_params)
    at.run()  # the run the chart's report asks for
    _ok(at)
    assert chart(at) == b"{" + first[len(report):]
    assert at.number_input and at.sidebar.button
    assert dict(at.query_params) == link
    assert LOADING not in str(at.sidebar.children[0].proto)


def test_the_first_visitor_gets_each_pages_default_from_the_servers_warm_up(monkeypatch):
    """serve.py's warm-up computes each page's default into the cache the pages share, with the
    same key as the page: the first student waits no longer than the next."""
    from optviz import experiment
    from optviz.ui.warm import warm_up

    warm_up()

    def refuse(*args, **kwargs):
        raise AssertionError("computed again: the warm-up's key is not the page's")

    monkeypatch.setattr(experiment, "compute_reusing", refuse)
    monkeypatch.setattr(experiment, "compute", refuse)
    for kind in PREFIXES:
        _ok(_app(kind))


def test_a_failure_in_the_results_leaves_the_sidebar_in_reach(monkeypatch):
    """The Surfaces page draws its sidebar after its results: an unexpected error there still
    leaves the settings that may undo it."""
    from optviz.ui import explore

    def broken(*args, **kwargs):
        raise RuntimeError("broken on purpose")

    monkeypatch.setattr(explore, "summary_frame", broken)
    at = _app("surface")
    assert at.exception  # shown where the results go (its words redacted, as the app is set)
    assert at.sidebar.button and at.selectbox(key="s.surface").value == "rosenbrock"

"""The Compare page through AppTest: it starts and computes, its link round-trips, a bad link
warns, widgets drive the link, a click opens the tuned runs on the page of their kind; and a
screenshot at 1024 x 768 in Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from optviz import codec
from optviz.codec import CompareView, decode_compare, encode_compare
from optviz.compare import Comparison, contender, parse_contender
from optviz.presets import DEFAULTS
from optviz.problems import FormulaProblem, SurfaceProblem, Task
from optviz.problems.datasets import DataConfig
from tests import browser
from tests.helpers import tables

TIMEOUT = 180
APP = str(Path(__file__).resolve().parents[1] / "app.py")
# Small comparisons: the page's behaviour, not the default's 1,280 runs, is under test here.
SMALL = Comparison(
    SurfaceProblem("rosenbrock"), (contender("SGD", tune=("momentum",)), contender("Adam")), trials=8, seeds=2, steps=60
)


def _compare(query: dict | None = None) -> AppTest:
    """The app on its Compare page (a callable page: found by its url path), with ``query``."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at._page_hash = next(h for h, info in at._registered_pages.items() if info.get("url_pathname") == "compare")
    at.query_params = dict(query or {})
    return at.run()


def _query(at: AppTest) -> dict:
    return {k: at.query_params[k] for k in at.query_params}


def _ok(at: AppTest) -> None:
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


def test_the_default_comparison_computes_and_its_link_says_so():
    at = _compare()
    _ok(at)
    assert "Fair comparison" in at.markdown[0].value
    assert any("64 trials drawn from a scrambled Sobol sequence" in m.value for m in at.markdown)
    (ranking,) = tables(at)
    assert len(at.get("plotly_chart")) == 2
    assert sorted(ranking["optimizer"]) == sorted(c.name for c in Comparison().contenders)
    comparison, view, warnings = decode_compare(_query(at))
    assert comparison == Comparison() and view == CompareView() and not warnings


def test_a_link_opens_its_comparison_and_the_widgets_keep_it():
    settings = Comparison(
        SurfaceProblem("quadratic", {"kappa": 50}),
        (parse_contender("SGD;lr=1e-3:10:log;momentum=0:0.99;label=heavy ball"), contender("Adam")),
        trials=16,
        seeds=3,
        steps=80,
        metric="steps_to_target",
        target=1e-4,
        trial_seed=2,
    )
    at = _compare(encode_compare(settings, CompareView("evals", "iqr")))
    _ok(at)
    assert at.session_state["cp.opt0"] == "SGD" and at.session_state["cp.tune0"] == ["momentum"]
    assert decode_compare(_query(at))[:2] == (settings, CompareView("evals", "iqr"))


def test_widgets_drive_the_link():
    at = _compare(encode_compare(SMALL))
    at.selectbox(key="cp.opt2").set_value("RMSprop").run()
    at.multiselect(key="cp.tune2").set_value(["alpha"]).run()
    at.number_input(key="cp.trials").set_value(4).run()
    _ok(at)
    comparison, _, _ = decode_compare(_query(at))
    assert comparison.trials == 4
    added = comparison.contenders[-1]
    assert added.optimizer == "RMSprop" and [r.name for r in added.space] == ["lr", "alpha"]
    at.text_input(key="cp.space2").set_value("lr=0.001:0.1:log; alpha=0.9:0.99; centered=true").run()
    _ok(at)
    added = decode_compare(_query(at))[0].contenders[-1]
    assert dict(added.fixed)["centered"] is True and added.space[0].hi == 0.1


@pytest.mark.parametrize(
    "query",
    [
        {"opt": ["Nope", "Adam"], "trials": "4", "seeds": "1", "steps": "20"},
        {"opt": "SGD;momentum=2:1", "trials": "4", "steps": "20"},
        {"trials": "lots", "seeds": "2", "steps": "20", "opt": "Adam"},
        {"metric": "test_accuracy", "trials": "4", "steps": "20", "opt": "Adam"},
        {"surface": "nope", "trials": "4", "steps": "20", "opt": "Adam"},
        {"axis": "<script>", "trials": "4", "steps": "20", "opt": "Adam"},
    ],
)
def test_malformed_links_warn_instead_of_failing(query):
    at = _compare(query)
    assert not at.exception
    assert any("Link:" in w.value for w in at.warning), "a bad link must say so"
    assert len(at.get("plotly_chart")) == 2, "the page still shows the comparison"


def test_bad_settings_show_a_message_not_a_traceback():
    at = _compare(encode_compare(SMALL))
    at.text_input(key="cp.space1").set_value("lr=1:0.1").run()
    assert not at.exception
    assert any("needs low" in e.value for e in at.error)
    at.text_input(key="cp.space1").set_value("lr=0.001:0.1:log; betas=0.9,1.5").run()
    assert any("beta" in e.value for e in at.error)  # torch's own words


def test_work_bound_is_refused_with_a_message(monkeypatch):
    monkeypatch.setenv("OPTVIZ_MAX_WORK", "10000")
    at = _compare()
    assert not at.exception
    assert any("OPTVIZ_MAX_WORK" in e.value for e in at.error)


def test_one_click_opens_the_tuned_runs_on_the_surfaces_page():
    at = _compare(encode_compare(SMALL))
    at.button(key="cp.open").click().run()
    _ok(at)
    assert any(sb.label == "Surface" for sb in at.selectbox)  # the Surfaces page
    exp, _, warnings = codec.decode(_query(at), DEFAULTS["surface"])
    assert not warnings and exp.problem == SMALL.problem and exp.steps == 60
    assert [r.optimizer for r in exp.runs] == ["SGD", "Adam"]
    assert all("tuned" in r.label for r in exp.runs)


def test_a_click_on_a_trial_opens_it_beside_the_tuned_one():
    at = _compare(encode_compare(SMALL))
    data = {"0": 1, "1": 3}
    at.session_state["cp.sens"] = {
        "selection": {
            "points": [{"curve_number": 0, "point_index": 0, "customdata": data}],
            "point_indices": [0],
            "box": [],
            "lasso": [],
        }
    }
    at.run()
    _ok(at)
    exp, _, _ = codec.decode(_query(at), DEFAULTS["surface"])
    assert exp.runs[0].optimizer == "Adam" and exp.runs[0].label.startswith("Adam: lr=")
    assert len(exp.runs) in (1, 2)


def test_a_comparison_on_a_dataset_opens_on_the_datasets_page():
    task = Task(DataConfig("iris"), "softmax", loss="cross_entropy", batch_size=0, epochs=10)
    settings = Comparison(
        task, (contender("SGD"), contender("Adam")), trials=4, seeds=2, steps=None, metric="test_accuracy"
    )
    at = _compare(encode_compare(settings))
    _ok(at)
    assert at.session_state["cp.kind"] == "train" and decode_compare(_query(at))[0] == settings
    at.button(key="cp.open").click().run()
    _ok(at)
    exp, _, warnings = codec.decode(_query(at), DEFAULTS["train"])
    assert not warnings and exp.problem == task and [r.optimizer for r in exp.runs] == ["SGD", "Adam"]


def test_a_typed_formula_compares_and_opens_on_the_surfaces_page():
    formula = FormulaProblem("(x-1)^2 + a*(y+0.5)^2", {"a": 3})
    settings = Comparison(formula, (contender("SGD"), contender("Adam")), trials=4, seeds=2, steps=30)
    at = _compare(encode_compare(settings))
    _ok(at)
    assert decode_compare(_query(at))[0] == settings
    at.button(key="cp.open").click().run()
    _ok(at)
    exp, _, warnings = codec.decode(_query(at), DEFAULTS["surface"])
    assert not warnings and exp.problem == formula and [r.optimizer for r in exp.runs] == ["SGD", "Adam"]


def test_coming_back_from_another_page_keeps_the_comparison():
    at = _compare(encode_compare(SMALL))
    compare_hash = at._page_hash
    surfaces_hash = next(h for h, info in at._registered_pages.items() if info.get("page_name") == "Surfaces")
    at._page_hash = surfaces_hash
    at.query_params = {}
    at.run()
    at._page_hash = compare_hash
    at.run()
    _ok(at)
    assert decode_compare(_query(at))[0] == SMALL


@pytest.mark.browser
def test_the_page_at_1024_by_768(chromium, app_server):
    """A screenshot to look at: nothing may overlap at a laptop's size."""
    with browser.sized_page(chromium, 1024, 768) as page:
        console = page.console
        # The default four optimizers (four narrow panels side by side), at a small size.
        settings = Comparison(trials=8, seeds=2, steps=60)
        url = app_server.url + "/compare?" + browser_query(encode_compare(settings))
        # browser.assert_app_rendered's checks, but this page shows no "optviz" heading: its own words.
        state = browser.open_app(page, url, 120)
        browser.settle(page)
        shot = browser.screenshot(page, "compare-1024x768")
        assert state == "notRunning", f"app script ended in state {state!r}; see {shot}"
        assert browser.APP_TITLE in page.title()
        page.locator("text=Fair comparison >> visible=true").first.wait_for(state="visible", timeout=60_000)
        assert page.locator('[data-testid="stException"]').count() == 0, f"see {shot}"
        # A deep link makes Streamlit's client probe /compare/_stcore/... first (404), then the root: its own.
        errors = [e for e in console.errors if "/compare/_stcore/" not in e]
        assert errors == [], "browser console errors:\n" + "\n".join(errors)
        assert page.locator(browser.CHARTS).count() == 2, f"see {shot}"
        page.locator(browser.CHARTS).nth(1).scroll_into_view_if_needed()
        browser.screenshot(page, "compare-1024x768-charts")


def browser_query(params: dict) -> str:
    return codec.query_string(params).removeprefix("?")

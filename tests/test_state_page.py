"""The Surfaces page's "Show the optimizer's state" toggle through AppTest: it draws the
inside section, it is kept in the link, and a link with it opens with it on."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.helpers import tables
from tests.test_pages import TIMEOUT, _ok, _page


def _surfaces(query: dict | None = None) -> AppTest:
    at = AppTest.from_function(_page, default_timeout=TIMEOUT)
    at.session_state["page"] = "surface"
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at.run()


def test_the_toggle_draws_the_inside_section_and_is_kept_in_the_link():
    at = _surfaces({"steps": "60"})
    _ok(at)
    assert not at.toggle(key="s.inside").value
    assert "inside" not in at.query_params
    assert not any("Inside the optimizer" in m.value for m in at.markdown)
    at.toggle(key="s.inside").set_value(True).run()
    _ok(at)
    assert at.query_params["inside"] == "1"
    assert any("Inside the optimizer" in m.value for m in at.markdown)
    assert at.latex  # the update with its numbers
    at.slider(key="s.inside.step").set_value(12).run()
    _ok(at)
    assert any("made point 13" in m.value for m in at.markdown)
    charts = len(at.get("plotly_chart"))
    at.toggle(key="s.inside.curvature").set_value(True).run()
    _ok(at)
    table = tables(at)[-1]  # after the runs' table
    assert list(table["stable"]) == ["pass", "pass", "—", "pass"]
    assert len(at.get("plotly_chart")) == charts + 2  # the sharpness, and the Hessian's cross at the point
    at.toggle(key="s.inside").set_value(False).run()
    _ok(at)
    assert "inside" not in at.query_params


def test_a_link_with_inside_opens_with_it_on():
    at = _surfaces({"steps": "40", "inside": "1"})
    _ok(at)
    assert at.toggle(key="s.inside").value
    assert any("Inside the optimizer" in m.value for m in at.markdown)


def test_the_datasets_page_shows_a_models_state_and_curvature():
    """A model records norms per step, not every weight; the curvature is measured on request."""
    from tests.test_pages import _app

    at = _app("train", {"inside": "1", "epochs": "2"})
    _ok(at)
    assert at.toggle(key="d.inside").value
    assert any("Inside the optimizer" in m.value for m in at.markdown)
    assert any("summarized at every step by norms" in c.value for c in at.caption)
    assert not any("made point" in m.value for m in at.markdown)  # no per-weight step card for a model
    # Nor step mode: its figure and card stop a surface's race at one update (it crashed here once).
    assert not any(t.key == "d.inside.stepmode" for t in at.toggle)
    charts = len(at.get("plotly_chart"))
    at.toggle(key="d.inside.curvature").set_value(True).run()
    _ok(at)
    assert len(at.get("plotly_chart")) == charts + 1
    assert any("λ_max of the training loss's Hessian" in c.value for c in at.caption)
    at.toggle(key="d.inside").set_value(False).run()
    _ok(at)
    assert "inside" not in at.query_params
    assert not any("Inside the optimizer" in m.value for m in at.markdown)


def test_a_diverged_run_says_so_instead_of_showing_nan():
    at = _surfaces({"steps": "30", "inside": "1", "run": "SGD;lr=0.5;label=wild"})
    _ok(at)
    at.slider(key="s.inside.step").set_value(20).run()
    _ok(at)
    assert any("diverged at point" in i.value for i in at.info)
    assert not any("nan" in x.value for x in at.latex)


def test_the_toggle_survives_a_visit_to_another_page():
    at = _surfaces({"steps": "30"})
    at.toggle(key="s.inside").set_value(True).run()
    at.session_state["page"] = "elsewhere"
    at.run()
    at.session_state["page"] = "surface"
    at.run()
    _ok(at)
    assert at.toggle(key="s.inside").value and at.query_params["inside"] == "1"

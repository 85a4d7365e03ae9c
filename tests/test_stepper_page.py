"""Step by step for a class, predict then reveal, and the projector theme, through AppTest."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.test_pages import TIMEOUT, _app, _ok, _page


def _stepping(query: dict | None = None) -> AppTest:
    at = _app("surface", {"steps": "30", "inside": "1", **(query or {})})
    _ok(at)
    at.toggle(key="s.inside.stepmode").set_value(True).run()
    _ok(at)
    return at


def _text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_the_buttons_and_the_slider_are_one_step():
    at = _stepping()
    assert at.slider(key="s.inside.step").value == 0
    assert "**Update 0** of 29" in _text(at)
    assert at.button(key="s.inside.prev").disabled
    at.button(key="s.inside.next").click().run()
    at.button(key="s.inside.next").click().run()
    _ok(at)
    assert at.slider(key="s.inside.step").value == 2
    assert "**Update 2** of 29" in _text(at) and "made point 3" in _text(at)
    assert any(r"\theta_{3}" in x.value for x in at.latex)  # the card moved with it
    at.button(key="s.inside.prev").click().run()
    assert at.slider(key="s.inside.step").value == 1
    at.slider(key="s.inside.step").set_value(29).run()  # the slider moves the buttons' step
    _ok(at)
    assert "**Update 29** of 29" in _text(at) and at.button(key="s.inside.next").disabled
    at.button(key="s.inside.prev").click().run()
    assert at.slider(key="s.inside.step").value == 28


def test_predict_hides_each_update_until_reveal():
    at = _stepping()
    at.toggle(key="s.inside.predict").set_value(True).run()
    _ok(at)
    assert "where will point 1 be?" in _text(at) and "made point 1" not in _text(at)
    latex = [x.value for x in at.latex]
    assert any(r"\theta_{0} = " in x for x in latex)  # θ₀, g₀ and lr: what the class predicts from
    assert not any(r"\theta_{1} = " in x or "x_{1} = " in x for x in latex)  # not the new point
    at.button(key="s.inside.reveal").click().run()
    _ok(at)
    assert "made point 1" in _text(at) and "where will" not in _text(at)
    assert any(r"\theta_{1} = " in x.value for x in at.latex)
    assert at.button(key="s.inside.reveal").disabled
    at.button(key="s.inside.next").click().run()  # a new step is hidden again
    _ok(at)
    assert "where will point 2 be?" in _text(at) and "made point 2" not in _text(at)
    at.toggle(key="s.inside.predict").set_value(False).run()
    assert "made point 2" in _text(at)


def test_step_mode_off_leaves_the_card_in_the_inside_section():
    at = _app("surface", {"steps": "30", "inside": "1"})
    _ok(at)
    assert not at.toggle(key="s.inside.stepmode").value
    assert not any(b.key == "s.inside.next" for b in at.button)
    assert "made point 1" in _text(at)



def test_the_link_keeps_step_mode_and_a_shared_link_opens_at_that_update():
    """A teacher steps, predicts, and shares: the link says where, and opens there hidden."""
    at = _stepping()
    at.button(key="s.inside.next").click().run()
    at.button(key="s.inside.next").click().run()
    at.toggle(key="s.inside.predict").set_value(True).run()
    _ok(at)
    assert at.query_params["step"] == "2" and at.query_params["predict"] == "1"
    student = AppTest.from_function(_page, default_timeout=TIMEOUT)
    student.session_state["page"] = "surface"
    for key, value in at.query_params.items():
        student.query_params[key] = value
    student.run()
    _ok(student)
    assert student.toggle(key="s.inside.stepmode").value and student.toggle(key="s.inside.predict").value
    assert student.slider(key="s.inside.step").value == 2
    assert "where will point 3 be?" in _text(student)  # hidden, as the teacher had it
    at.toggle(key="s.inside.stepmode").set_value(False).run()  # off: the link animates again
    _ok(at)
    assert "step" not in at.query_params and "predict" not in at.query_params


def test_a_link_past_the_last_update_stops_at_it_and_a_bad_step_warns():
    at = _app("surface", {"steps": "30", "step": "500"})  # step mode implies the inside view
    _ok(at)
    assert at.toggle(key="s.inside").value and at.toggle(key="s.inside.stepmode").value
    assert "**Update 29** of 29" in _text(at)
    at = _app("surface", {"steps": "30", "step": "-1"})
    _ok(at)
    assert not at.toggle(key="s.inside").value  # the race animates, as without step=
    assert any("step='-1'" in w.value for w in at.warning)


def test_the_curvature_panel_is_kept_in_the_link():
    at = _app("surface", {"steps": "30", "inside": "1"})
    _ok(at)
    assert "curvature" not in at.query_params
    at.toggle(key="s.inside.curvature").set_value(True).run()
    _ok(at)
    assert at.query_params["curvature"] == "1"
    at = _app("surface", {"steps": "30", "curvature": "1"})  # opens with it, and the inside view
    _ok(at)
    assert at.toggle(key="s.inside").value and at.toggle(key="s.inside.curvature").value
    assert at.query_params["curvature"] == "1"

def test_the_projector_theme_is_a_sidebar_switch_kept_in_the_link():
    at = _app("surface", {"steps": "30"})
    _ok(at)
    assert not at.toggle(key="theme.projector").value and "theme" not in at.query_params
    at.toggle(key="theme.projector").set_value(True).run()
    _ok(at)
    assert at.query_params["theme"] == "projector"
    at.session_state["page"] = "elsewhere"
    at.run()
    at.session_state["page"] = "train"
    at.run()
    _ok(at)
    assert at.toggle(key="theme.projector").value  # the session's, on every page
    assert at.query_params["theme"] == "projector"


def test_a_link_with_the_theme_opens_with_it_and_a_bad_one_warns():
    at = _app("surface", {"steps": "30", "theme": "projector"})
    _ok(at)
    assert at.toggle(key="theme.projector").value
    at = _app("surface", {"steps": "30", "theme": "neon"})
    _ok(at)
    assert not at.toggle(key="theme.projector").value
    assert any("unknown theme 'neon'" in w.value for w in at.warning)


def _other_page(name: str):
    import streamlit as st

    from optviz.ui.classics import classics_page
    from optviz.ui.compare import compare_page
    from optviz.ui.sweeps import sweeps_page

    {"sweeps": sweeps_page, "compare": compare_page, "classics": classics_page}[st.session_state["page"]]()


def test_the_other_pages_have_the_switch_and_read_the_link():
    for name in ("sweeps", "classics"):
        at = AppTest.from_function(_other_page, args=(name,), default_timeout=TIMEOUT)
        at.session_state["page"] = name
        at.query_params["theme"] = "projector"
        at.run()
        _ok(at)
        assert at.toggle(key="theme.projector").value, name
        assert at.query_params["theme"] == "projector", name


assert _page  # the experiment pages' stand-in, shared with test_pages

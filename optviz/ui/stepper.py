"""Step by step, for a class: ◀ / ▶ (or the ← / → keys) move the inside view's update number
one at a time, and "predict, then reveal" hides each update until the teacher shows it.

The buttons and the inside section's slider are one state: the slider's key. The
reveal is remembered as the step it revealed, so any move (a button, a key, the
slider) hides the next update again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

from ..charts import state as inside
from ..experiment import Outcome
from .maths import step_latex

Key = Callable[[str], str]
STEP = "inside.step"  # the inside section's slider
MODE, PREDICT, REVEALED = "inside.stepmode", "inside.predict", "inside.revealed"
MODE_LABEL, PREDICT_LABEL = "Step by step (← / → keys)", "Predict, then reveal"

# Streamlit's shortcuts ignore keys pressed in a form field, and a switch is one: after a
# click on step mode's own switches, ← / → would do nothing until a click elsewhere. This
# component (st.components.v2, as optviz.ui.viewport) passes those keys on to ◀ / ▶.
_JS = """
export default function (component) {
    const labels = LABELS;
    const press = (e) => {
        const t = e.target;
        const arrow = {ArrowLeft: '◀', ArrowRight: '▶'}[e.key];
        if (!arrow || !t || !t.getAttribute || !labels.includes(t.getAttribute('aria-label'))) return;
        const button = [...document.querySelectorAll('[data-testid="stButton"] button')]
            .find(b => b.innerText.trim().startsWith(arrow));
        if (button && !button.disabled) { e.preventDefault(); t.blur(); button.click(); }
    };
    document.addEventListener('keydown', press, true);
    return () => document.removeEventListener('keydown', press, true);
}
"""


@st.cache_resource(show_spinner=False)
def _component():
    return st.components.v2.component(
        "optviz_step_keys", js=_JS.replace("LABELS", json.dumps([MODE_LABEL, PREDICT_LABEL]))
    )


@dataclass(frozen=True)
class Stepping:
    """What the race draws: ``step`` None animates as usual; otherwise update ``step``,
    with ``hidden`` its result (the new point, the update and momentum arrows)."""

    step: int | None = None
    hidden: bool = False


def load(k: Key, step: int | None, predict: bool) -> None:
    """Step mode from a link (``step=``, ``predict=``): on at ``step``, or off."""
    s = st.session_state
    s[k(MODE)] = step is not None
    s[k(PREDICT)] = bool(predict)
    s[k(STEP)] = step or 0
    s.pop(k(REVEALED), None)


def link_state(k: Key) -> tuple[int | None, bool]:
    """What a link keeps of step mode: the update shown (None when off) and predict."""
    s = st.session_state
    if not s.get(k(MODE)):
        return None, False
    return _slider_step(k), bool(s.get(k(PREDICT)))


def _slider_step(k: Key) -> int:
    return max(int(st.session_state.get(k(STEP), 0) or 0), 0)


def current_step(k: Key, last: int) -> int:
    """The update the inside view shows (the slider's value, kept in 0..last)."""
    return min(_slider_step(k), max(last, 0))


def _move(k: Key, delta: int, last: int) -> None:
    st.session_state[k(STEP)] = min(max(current_step(k, last) + delta, 0), last)


def _reveal(k: Key, step: int) -> None:
    st.session_state[k(REVEALED)] = step


def controls(k: Key, last: int) -> Stepping:
    """The step-mode switch and, when on, ◀ / ▶, the predict switch and Reveal."""
    s = st.session_state
    _component()(key=k("inside.keys"))
    left, right = st.columns(2, vertical_alignment="center")
    if not left.toggle(
        MODE_LABEL,
        key=k(MODE),
        help="For a class: the race stops at one update; ◀ / ▶ or the arrow keys move it one "
        "update at a time, with the update's numbers below.",
    ):
        return Stepping()
    predict = right.toggle(
        PREDICT_LABEL,
        key=k(PREDICT),
        help="Hide each update (the new point, its arrow, the momentum it leaves) until you "
        "press Reveal: −∇f stays, for the class to predict from.",
    )
    step = current_step(k, last)
    hidden = bool(predict) and s.get(k(REVEALED)) != step
    c1, c2, c3, c4 = st.columns([2, 5, 2, 3], vertical_alignment="center")
    c1.button(
        "◀",
        key=k("inside.prev"),
        on_click=_move,
        args=(k, -1, last),
        shortcut="Left",
        disabled=step == 0,
        help="The update before (← key)",
        width="stretch",
    )
    c2.markdown(f"**Update {step}** of {last} (point {step} → {step + 1})")
    c3.button(
        "▶",
        key=k("inside.next"),
        on_click=_move,
        args=(k, 1, last),
        shortcut="Right",
        disabled=step >= last,
        help="The next update (→ key)",
        width="stretch",
    )
    if predict:
        c4.button(
            "Reveal",
            key=k("inside.reveal"),
            on_click=_reveal,
            args=(k, step),
            disabled=not hidden,
            type="primary",
            icon=":material/visibility:",
            width="stretch",
        )
    return Stepping(step, hidden)


def card(outcome: Outcome, run: int, label: str, step: int, hidden: bool, narrow: bool = False) -> None:
    """Update ``step`` of one run with torch's recorded numbers: θ_t, g_t and lr, then (when
    not hidden) the buffers, the new point and each term of the update."""
    result = outcome.result
    diverged = int(result.diverged_at[run])
    if 0 <= diverged <= step + 1:
        st.info(f"{label} diverged at point {diverged}: from there on it has no numbers to show.")
        return
    resolved = result.resolved[run]
    arrays = inside.as_torch_keeps(result.arrays, result.resolved)
    lines = step_latex(resolved["optimizer"], resolved["hparams"], inside.step_values(arrays, run, step), step + 1,
                       narrow)
    if hidden:
        st.markdown(f"**{label}** at point {step}: where will point {step + 1} be? Predict, then press Reveal.")
        st.latex(lines[0])  # θ_t, g_t and lr: what the class predicts from
        return
    st.markdown(f"**{label}: the update that made point {step + 1}**, with torch's recorded numbers:")
    for line in lines:
        st.latex(line)

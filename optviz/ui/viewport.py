"""How wide the page's main area is, so figures can stack their panels on a phone.

Plotly lays panels out in fractions of the figure's width, and Streamlit cannot say
how wide a browser is. This small ``st.components.v2`` component (first-party, no
build step) measures the main area in the browser and reports ``wide`` or ``narrow``
(a bucket, not pixels: the page reruns only when the bucket changes, on the first
visit of a narrow window that is not a phone's, or when a window is resized across it).
"""

from __future__ import annotations

import streamlit as st

# Below this many CSS pixels of main area (a phone), side-by-side panels squeeze their text;
# a 1024-pixel projector with the sidebar open keeps them side by side.
NARROW_BELOW = 560

# ``data.known`` is the bucket the server has: the browser reports only a different one, so the
# component's own mounting on every rerun causes no further rerun. Its element says whether the
# server has drawn for this width (``data-optviz-layout``: ``pending``, then ``drawn``); tests
# wait for every one to say ``drawn`` (tests/browser.py's ``settle``).
_JS = """
export default function (component) {
    const { setStateValue, data, parentElement } = component;
    const element = (parentElement.host || parentElement).closest('[data-testid="stElementContainer"]')
        || document.body;
    const main = document.querySelector('[data-testid="stMain"] [data-testid="stMainBlockContainer"]')
        || document.querySelector('[data-testid="stMain"]') || document.body;
    let last = data.known;
    const report = () => {
        const bucket = main.clientWidth < data.below ? "narrow" : "wide";
        element.dataset.optvizLayout = bucket === data.known ? "drawn" : "pending";
        if (bucket !== last) { last = bucket; setStateValue("layout", bucket); }
    };
    const observer = new ResizeObserver(report);
    observer.observe(main);
    report();
    return () => observer.disconnect();
}
"""


@st.cache_resource(show_spinner=False)
def _component():
    return st.components.v2.component("optviz_viewport", js=_JS)


def layout(key: str, narrow_below: int = NARROW_BELOW) -> str:
    """``"stacked"`` when the main area is narrower than ``narrow_below`` CSS pixels, else
    ``"wide"`` (also outside a browser). ``key`` ends in ``viewport``: the tests find the probe by it."""
    bucket_key = f"{key}.bucket"

    def on_change() -> None:  # before the rerun it causes: that run's page knows the width it draws for
        st.session_state[bucket_key] = _reported(st.session_state.get(key)) or st.session_state.get(bucket_key)

    known = st.session_state.get(bucket_key) or _first_guess()
    result = _component()(key=key, data={"known": known, "below": narrow_below}, default={"layout": known},
                          on_layout_change=on_change)
    bucket = _reported(result) or known
    st.session_state[bucket_key] = bucket
    return "stacked" if bucket == "narrow" else "wide"


def _first_guess() -> str:
    """The bucket before the browser has measured: a phone's browser says "Mobi" in its user
    agent (MDN's advice for telling phones apart), so a phone's first run is drawn stacked rather
    than wide and then stacked. The probe corrects a wrong guess (a phone held sideways)."""
    agent = st.context.headers.get("User-Agent") or ""
    return "narrow" if "Mobi" in agent else "wide"


def _reported(state) -> str | None:
    """The bucket in the component's state: its result, or its entry in session state (both
    give their keys as attributes)."""
    value = getattr(state, "layout", None)
    return value if value in ("wide", "narrow") else None

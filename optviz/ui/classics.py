"""The Classics page: famous results, one click each, with a verdict computed from the run."""

from __future__ import annotations

from typing import Any

import streamlit as st

from .. import classics
from ..charts.classics import classic_figure, fractal_figure
from ..classics import CLASSICS, Window
from . import guard, plot, theme
from .explore import page_of
from .sweeps import open_runs, open_sweep
from .widgets import cached, plain, query_params

KEY = "cl.id"
ZOOM = "cl.zoom"  # the fractal entry's clicked window, if any
LAST = "cl.last_click"  # the last click handled, per chart


def _computed(key: Any, compute) -> Any:
    """``compute()`` cached for every session, holding one of the server's heavy slots while it runs."""

    def run():
        note = st.empty()
        try:
            with guard.heavy_slot(note), st.spinner("Running the experiment…"):
                return compute()
        finally:
            note.empty()

    return cached(("classic", key), run)


def _gallery() -> None:
    row = st.container(horizontal=True)  # wraps: every title whole, on a projector and a phone
    for c in CLASSICS.values():
        if row.button(
            c.title,
            key=f"cl.run.{c.id}",
            type="primary" if st.session_state.get(KEY) == c.id else "secondary",
        ):
            st.session_state[KEY] = c.id
            st.session_state.pop(ZOOM, None)


def _new_click(chart: str, event) -> tuple[float, ...] | None:
    """The clicked marker's customdata if it is a new click on ``chart``: Streamlit's own chart
    (the fallback) keeps a selection across reruns, and it must not undo a deeper zoom each time."""
    clicked = plot.clicked(event)
    if clicked is None:
        return None
    value = tuple(float(v) for v in clicked[:3])
    if st.session_state.get(f"{LAST}.{chart}") == value:
        return None
    st.session_state[f"{LAST}.{chart}"] = value
    return value


def _fractal_zoom(data: dict[str, Any], event) -> None:
    """A click on a grid opens a window four times smaller around the clicked cell; a click on
    the zoomed grid zooms in again."""
    if (clicked := _new_click("chart", event)) is not None:
        x, y, panel = clicked
        st.session_state[ZOOM] = (x, y, data["grids"][int(panel)]["window"].half / 4)
    zoom = st.session_state.get(ZOOM)
    if zoom is None:
        st.caption("Click a cell to zoom in four times around it: the boundary keeps its detail.")
        return
    window = Window(*zoom)
    num, steps = data["num"], data["steps"]
    grid = _computed(("fractal", window, num, steps), lambda: classics.fractal_grid(window, num, steps))
    st.markdown(
        f"**Zoomed in** around log10 lr₁ = {window.x:.4f}, log10 lr₂ = {window.y:.4f}: box-counting "
        f"dimension {grid['dimension']:.2f}. Click again to zoom further."
    )
    zoomed = plot.chart(theme.chart(fractal_figure({"grids": [grid]}, height=420)), key="cl.zoomed",
                        where=st.container(), clicks=True)
    if (clicked := _new_click("zoomed", zoomed)) is not None:
        st.session_state[ZOOM] = (clicked[0], clicked[1], window.half / 4)
        st.rerun()


def classics_page() -> None:
    """Famous results about optimizers, each reproduced and checked."""
    for w in theme.init(query_params()):
        st.warning("Link: " + plain(w), icon=":material/link_off:")
    theme.sidebar_ui()
    theme.keep_in_link()
    wanted = st.query_params.get("classic")
    if wanted in CLASSICS and KEY not in st.session_state:
        st.session_state[KEY] = wanted
    st.markdown(
        "**Classics: famous results, one click each.** Each runs here on a CPU, and the verdict is "
        "computed from the run: the same check the tests make."
    )
    _gallery()
    cid = st.session_state.get(KEY)
    if cid not in CLASSICS:
        st.info("Pick a classic to run it.", icon=":material/touch_app:")
        return
    st.query_params["classic"] = cid
    c = CLASSICS[cid]
    st.subheader(c.title)
    st.markdown(f"**Claim.** {plain(c.claim)}  \n**Source.** {plain(c.source)}  \n**Expected.** {plain(c.expected)}")
    data = _computed(cid, lambda: c.run())
    verdict = c.verdict(data)
    if verdict.reproduced:
        st.success(f"**Reproduced:** {plain(verdict.text)}", icon=":material/check_circle:")
    else:
        st.error(f"**Not reproduced:** {plain(verdict.text)}", icon=":material/error:")
    fig = theme.chart(classic_figure(cid, data))
    event = plot.chart(fig, key="cl.chart", where=st.container(), clicks=cid == "fractal-trainability")
    if cid == "fractal-trainability":
        _fractal_zoom(data, event)
    if c.experiment is not None or c.sweep is not None:
        where = "the Sweeps page" if c.experiment is None else f"the {page_of(c.experiment.problem.kind).ui.TITLE} page"
        if st.button(f"Open in the normal views ({where})", key="cl.open", icon=":material/open_in_new:"):
            if c.experiment is not None:
                open_runs(c.experiment.problem, list(c.experiment.runs), c.experiment.steps)
            else:
                open_sweep(c.sweep)
    else:
        st.caption("This entry has no page of its own to open in (its computation is its own).")

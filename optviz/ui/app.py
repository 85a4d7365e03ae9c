"""The app's pages. ``app.py`` calls :func:`main`."""

from __future__ import annotations

import streamlit as st
import torch

from ..engine import run
from .classics import classics_page
from .compare import compare_page
from .explore import DATASETS, ONLINE, SURFACES
from .persist import keep_widget_values
from .sweeps import sweeps_page
from .widgets import TABLE_CLASS, plain


@st.cache_resource(show_spinner=False)
def _warm_up() -> tuple[str, ...]:
    """Pay torch's one-time costs (first kernels, first autograd call) once per server,
    not on the first visitor's first click; and check the operator's settings once,
    returning what is wrong with them (also written to the server log)."""
    from dataclasses import replace

    from .. import config
    from ..presets import DEFAULTS, PRESETS

    # One intra-op thread: a page's tensors are tiny, and with several students'
    # sessions in parallel, threads inside each op only contend for the cores.
    torch.set_num_threads(1)
    needs = {p.title: (len(p.experiment.runs), p.experiment.steps) for p in PRESETS.values()}
    needs |= {f"the {kind} page": (len(e.runs), e.steps) for kind, e in DEFAULTS.items()}
    notices = tuple(config.startup_report(needs))
    # The warm-up is the server's own work, not a request: the operator's limits do not
    # bound it, and nothing in it may stop a page from showing.
    exp = DEFAULTS["surface"]
    try:
        run(exp.problem.build(), exp.runs[:1], steps=2, limits=replace(config.NO_LIMITS, device=config.limits().device))
    except Exception:  # noqa: BLE001 -- logged; the first click pays the warm-up instead
        config.log.exception("warm-up failed; the pages still work, the first click is slower")
    return notices


def main() -> None:
    # An emoji icon: a Material icon would be fetched from Google's font servers, which an
    # offline classroom cannot reach.
    st.set_page_config(page_title="optviz", page_icon="📉", layout="wide")
    # Less empty space above the first element: on a 768-pixel projector the chart starts higher.
    # Not less than the header (the navigation bar, 3.98rem): 3.5rem hid the top of the first
    # line behind it, a formula's exponents among it.
    # A page header's formula moves to a line of its own where it does not fit beside the name
    # (a phone), instead of breaking in the middle, "(y −" on one line and "x²)²" on the next.
    # A run table (widgets.table) in the theme's text colour, whichever theme the viewer picks.
    # On a 1024-pixel projector with the sidebar open, Streamlit's side margins (85 px each) took
    # a quarter of the main area: narrower margins there give the chart and a table that width.
    t = f".{TABLE_CLASS}"
    st.html("<style>[data-testid='stMainBlockContainer']{padding-top:4.25rem;padding-bottom:2rem}"
            "@media (min-width:640px) and (max-width:1279px){[data-testid='stMainBlockContainer']"
            "{padding-left:1.5rem;padding-right:1.5rem}}"
            ".st-key-page_header .katex{white-space:nowrap}.st-key-page_header{overflow-x:auto}"
            f"{t}{{overflow-x:auto;margin-bottom:.5rem}}"
            f"{t} table{{border-collapse:collapse;width:100%;font-size:.9rem}}"
            f"{t} th,{t} td{{border:1px solid rgba(128,128,128,.3);padding:.3rem .35rem;text-align:left}}"
            f"{t} th{{font-weight:400;opacity:.75}}"
            f"{t} .num{{text-align:right;font-variant-numeric:tabular-nums}}{t} .num span{{white-space:nowrap}}"
            "</style>")
    for notice in _warm_up():
        st.sidebar.caption(f"⚠ Server setting: {plain(notice)}")
    keep_widget_values()  # each page's widgets keep their values while another page is shown
    pages = [
        st.Page(SURFACES, title="Surfaces", icon=":material/landscape:", url_path="surfaces", default=True),
        st.Page(DATASETS, title="Datasets", icon=":material/model_training:", url_path="datasets"),
        st.Page(sweeps_page, title="Sweeps", icon=":material/grid_on:", url_path="sweeps"),
        st.Page(compare_page, title="Compare", icon=":material/leaderboard:", url_path="compare"),
        st.Page(classics_page, title="Classics", icon=":material/school:", url_path="classics"),
        st.Page(ONLINE, title="Online", icon=":material/timeline:", url_path="online"),
    ]
    st.navigation(pages, position="top").run()

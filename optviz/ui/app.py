"""The app's pages. ``app.py`` calls :func:`main`."""

from __future__ import annotations

import streamlit as st
import torch

from ..engine import run
from .compare import compare_page
from .classics import classics_page
from .explore import DATASETS, SURFACES
from .persist import keep_widget_values
from .sweeps import sweeps_page


@st.cache_resource(show_spinner=False)
def _warm_up() -> None:
    """Pay torch's one-time costs (first kernels, first autograd call) once per server,
    not on the first visitor's first click."""
    from ..presets import DEFAULTS

    # One intra-op thread: a page's tensors are tiny, and with several students'
    # sessions in parallel, threads inside each op only contend for the cores.
    torch.set_num_threads(1)
    exp = DEFAULTS["surface"]
    run(exp.problem.build(), exp.runs, steps=2)


def main() -> None:
    # An emoji icon: a Material icon would be fetched from Google's font servers, which an
    # offline classroom cannot reach.
    st.set_page_config(page_title="optviz", page_icon="📉", layout="wide")
    # Less empty space above the first element: on a 768-pixel projector the chart starts higher.
    st.html("<style>[data-testid='stMainBlockContainer']{padding-top:3.5rem;padding-bottom:2rem}</style>")
    _warm_up()
    keep_widget_values()  # each page's widgets keep their values while another page is shown
    pages = [
        st.Page(SURFACES, title="Surfaces", icon=":material/landscape:", url_path="surfaces", default=True),
        st.Page(DATASETS, title="Datasets", icon=":material/model_training:", url_path="datasets"),
        st.Page(sweeps_page, title="Sweeps", icon=":material/grid_on:", url_path="sweeps"),
        st.Page(compare_page, title="Compare", icon=":material/leaderboard:", url_path="compare"),
        st.Page(classics_page, title="Classics", icon=":material/school:", url_path="classics"),
    ]
    st.navigation(pages, position="top").run()

"""The app's pages. ``app.py`` calls :func:`main`."""

from __future__ import annotations

import streamlit as st

from ..engine import run
from .surfaces_page import surfaces_page


@st.cache_resource(show_spinner=False)
def _warm_up() -> None:
    """Pay torch's one-time costs (first kernels, first autograd call) once per server,
    not on the first visitor's first click."""
    from ..presets import DEFAULT

    run(DEFAULT.problem, DEFAULT.runs, steps=2)


def main() -> None:
    st.set_page_config(page_title="optviz", page_icon=":material/timeline:", layout="wide")
    _warm_up()
    pages = [
        st.Page(surfaces_page, title="Surfaces", icon=":material/landscape:", url_path="surfaces", default=True),
    ]
    st.navigation(pages, position="top").run()

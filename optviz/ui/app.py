"""The app's pages. ``app.py`` calls :func:`main`."""

from __future__ import annotations

import streamlit as st

from .surfaces_page import surfaces_page
from .sweeps_page import sweeps_page


def main() -> None:
    st.set_page_config(page_title="optviz", page_icon=":material/timeline:", layout="wide")
    pages = [
        st.Page(surfaces_page, title="Surfaces", icon=":material/landscape:", url_path="surfaces", default=True),
        st.Page(sweeps_page, title="Sweeps", icon=":material/grid_on:", url_path="sweeps"),
    ]
    st.navigation(pages, position="top").run()

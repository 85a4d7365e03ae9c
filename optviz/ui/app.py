"""The app's pages. ``app.py`` calls :func:`main`."""

from __future__ import annotations

import streamlit as st

from .surfaces_page import surfaces_page


def main() -> None:
    st.set_page_config(page_title="optviz", page_icon=":material/timeline:", layout="wide")
    pages = [
        st.Page(surfaces_page, title="Surfaces", icon=":material/landscape:", url_path="surfaces", default=True),
    ]
    st.navigation(pages, position="top").run()

"""The app's pages. ``app.py`` calls :func:`main`."""

from __future__ import annotations

import streamlit as st

from .datasets_page import datasets_page
from .persist import keep_widget_values
from .surfaces_page import surfaces_page


def main() -> None:
    st.set_page_config(page_title="optviz", page_icon=":material/timeline:", layout="wide")
    keep_widget_values()  # each page's widgets keep their values while the other page is shown
    pages = [
        st.Page(surfaces_page, title="Surfaces", icon=":material/landscape:", url_path="surfaces", default=True),
        st.Page(datasets_page, title="Datasets", icon=":material/model_training:", url_path="datasets"),
    ]
    st.navigation(pages, position="top").run()

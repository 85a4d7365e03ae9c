"""The chart theme: one switch in every page's sidebar, kept in the link (``theme=projector``).

The setting is the session's, not a page's: a teacher who switches it on for the
projector keeps it on every page. The restyling itself is
:func:`optviz.charts.theme.apply`, called on each figure as a page draws it.
"""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from ..charts import theme as charts_theme
from ..codec import View, read_theme
from ..problems.base import Query

KEY = "theme"  # not a widget: it outlives the pages' widgets
WIDGET = "theme.projector"


def init(params: Mapping[str, list[str]]) -> list[str]:
    """On the session's first page, the link's theme. Returns the link's warnings about it."""
    if KEY in st.session_state:
        return []
    query = Query(params)
    st.session_state[KEY] = read_theme(query)
    return query.warnings


def set_theme(name: str) -> None:
    st.session_state[KEY] = name


def current() -> str:
    return st.session_state.get(KEY, View.theme)


def _on_toggle() -> None:
    set_theme("projector" if st.session_state[WIDGET] else "default")


def sidebar_ui() -> str:
    """The switch, at the foot of the sidebar. Returns the theme."""
    st.session_state[WIDGET] = current() == "projector"  # the session's value, on whichever page
    with st.sidebar:
        st.toggle(
            "Projector theme",
            key=WIDGET,
            on_change=_on_toggle,
            help="Large text, thick lines and markers, black axes: readable from the back of a room. "
            "Kept in the link as theme=projector.",
        )
    return current()


def linked(params: dict) -> dict:
    """A page's link with the theme in it (nothing for the default)."""
    name = current()
    return params if name == View.theme else {**params, "theme": name}


def chart(fig):
    """``fig`` in the session's theme."""
    return charts_theme.apply(fig, current())


def keep_in_link() -> None:
    """For a page that writes its link key by key: the theme's key, or none for the default."""
    name = current()
    if name == View.theme:
        st.query_params.pop(KEY, None)
    elif st.query_params.get(KEY) != name:
        st.query_params[KEY] = name

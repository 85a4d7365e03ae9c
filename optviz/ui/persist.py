"""Keep each page's widget values while the other page is shown.

Streamlit forgets the value of a keyed widget that a script run does not draw
(another page is open, or a panel returned early), and both pages keep their
state in widget keys. Writing each such key back at the top of every run keeps
it: Streamlit's documented way to carry widget values across pages. Buttons,
uploads and charts cannot be assigned and are skipped.
"""

from __future__ import annotations

import re

import streamlit as st
from streamlit.errors import StreamlitAPIException

# The experiment pages' keys (the Sweeps page restores its own from its settings).
_PAGE_PREFIXES = ("s.", "d.", "o.")
# Widgets whose values cannot be set through st.session_state, and keys that are not widgets.
_NOT_VALUES = re.compile(r"(\.(dup|rm|add_run|upload|figure|last|preset|prev|next|reveal)$)|(\.(preset|dl)\.)")


def persistent(key: object) -> bool:
    return isinstance(key, str) and key.startswith(_PAGE_PREFIXES) and not _NOT_VALUES.search(key)


def keep_widget_values(prefix: str = "") -> None:
    """At the top of every run; at the top of a page's fragment, for that page's keys (``prefix``):
    a fragment's own run does not pass the app's top. A widget the run has drawn already (above
    the fragment, in a whole run) is left as it is: its value was kept at the top."""
    s = st.session_state
    for key in [key for key in s.keys() if persistent(key) and key.startswith(prefix)]:
        try:
            s[key] = s[key]
        except StreamlitAPIException:
            pass

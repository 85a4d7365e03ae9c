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

# Surfaces page: its page-level widgets and run list (keys without a prefix).
_SURFACE_KEYS = {"surface", "start_x", "start_y", "steps", "noise", "seed", "dtype", "view", "tol"}
_RUN_KEY = re.compile(r"^(d\.)?r\d+\.")
# Widgets whose values cannot be set through st.session_state.
_NOT_VALUES = re.compile(r"(\.(dup|rm)$)|(^(d\.)?(preset|dl)\.)|(^(d\.)?add_run$)|(^d\.(upload|figure)$)|(^race$)")


def persistent(key: object) -> bool:
    if not isinstance(key, str) or _NOT_VALUES.search(key):
        return False
    return key in _SURFACE_KEYS or key.startswith(("sp.", "d.")) or bool(_RUN_KEY.match(key))


def keep_widget_values() -> None:
    s = st.session_state
    for key in [key for key in s.keys() if persistent(key)]:
        s[key] = s[key]

"""Keep each page's widget values while the other page is shown.

Streamlit forgets the value of a keyed widget that a script run does not draw
(another page is open, or a panel returned early), and both pages keep their
state in widget keys. Writing each such key back at the top of every run keeps
it: Streamlit's documented way to carry widget values across pages. Buttons,
uploads and charts cannot be assigned and are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import streamlit as st

# The experiment pages' keys (the Sweeps page restores its own from its settings).
_PAGE_PREFIXES = ("s.", "d.", "o.")
# Widgets whose values cannot be set through st.session_state, and keys that are not widgets.
_NOT_VALUES = re.compile(r"(\.(dup|rm|add_run|upload|figure|last|preset|prev|next|reveal)$)|(\.(preset|dl)\.)")


def persistent(key: object) -> bool:
    return isinstance(key, str) and key.startswith(_PAGE_PREFIXES) and not _NOT_VALUES.search(key)


def keep_widget_values(owns: Callable[[str], bool] = persistent) -> None:
    """At the top of every run; at the top of a fragment, for the keys of the widgets it owns."""
    s = st.session_state
    for key in [key for key in s.keys() if persistent(key) and owns(key)]:
        s[key] = s[key]

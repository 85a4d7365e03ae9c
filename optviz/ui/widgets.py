"""The widgets every page shares: one renderer for a registry parameter, the link, the cache.

* :func:`param_widget` draws any :class:`~optviz.params.HParam` (an optimizer's
  hyperparameter, a schedule's argument, a surface's, dataset's, model's or
  loss's parameter) under a session-state key; :func:`set_value` and
  :func:`read_value` write and read that key in the parameter's own type.
* :func:`query_params` and :func:`sync_url` read and write the address bar.
* :func:`cached` is the one result cache: it looks up without computing, so a
  page can stream a miss with a progress bar and store the result after.
* :func:`table` draws a few rows as a plain HTML table.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import pandas as pd
import streamlit as st

from .. import config
from ..engine import Cancelled, Progress
from ..params import HParam
from ..problems.base import value_text
from . import guard

T = TypeVar("T")


def allowed_modules() -> tuple[str, ...]:
    """The packages whose optimizers a web user may name by dotted path (the operator's allow-list)."""
    return config.limits().optimizer_modules


# -- one renderer for a parameter ----------------------------------------------------------


def set_value(key: str, h: HParam, value: Any) -> None:
    """Put ``value`` into the widget state of ``h`` at ``key`` (a tuple spreads over ``key.i``)."""
    s = st.session_state
    if h.kind == "floats":
        for i, v in enumerate(value):
            s[f"{key}.{i}"] = None if v is None else float(v)
    elif h.kind == "float":
        s[key] = None if value is None else float(value)
    elif h.kind == "int":
        s[key] = None if value is None else int(value)
    elif h.kind in ("text", "ints"):
        s[key] = "" if value is None else value_text(value)
    else:
        s[key] = value


def read_value(key: str, h: HParam) -> Any:
    """The value of ``h`` that the widget at ``key`` holds, parsed (ConfigError if it cannot be)."""
    s = st.session_state
    if h.kind == "floats":
        return tuple(s.get(f"{key}.{i}", h.default[i] if h.default else None) for i in range(h.length))
    value = s.get(key, h.default)
    if h.kind in ("text", "ints") and isinstance(value, str):
        return h.parse(value)
    return value


def _step(h: HParam, value: Any) -> float | None:
    """What + and - add. A log-scaled value (an lr) steps by its decade's unit, 0.01 -> 0.02
    up and 0.01 -> 0.009 down, so clicks scale it and never reach 0. A ranged one steps by a
    round hundredth of its range (0.01 for momentum, not 0.00999)."""
    if h.log:
        if isinstance(value, int | float) and math.isfinite(value) and value > 0:
            return float(f"{10.0 ** (math.ceil(math.log10(value)) - 1):.0e}")
        return None
    if h.low is not None and h.high is not None and h.high > h.low:
        raw = (h.high - h.low) / 100
        unit = 10.0 ** math.floor(math.log10(raw))
        return next(m * unit for m in (1, 2, 5, 10) if m * unit >= raw * 0.99)
    return None


def param_widget(key: str, h: HParam, *, label: str | None = None, disabled: bool = False, bounded: bool = False,
                 auto: str | None = None) -> None:
    """The widget for ``h`` at ``key``.

    ``label`` defaults to torch's name; ``bounded`` makes the registry's range a
    hard limit (our own generators' parameters, where the range is validity);
    ``auto`` is the placeholder of a value left None (tied to the run).
    """
    label = label or h.name
    helptext = h.help or None
    lo = h.low if bounded else None
    hi = h.high if bounded else None
    if h.kind == "float" and h.low == 0 and not h.log:
        lo = 0.0  # momentum, weight_decay, dampening: torch refuses a negative one
    if h.name == "momentum" and hi is None:
        hi = h.high  # momentum stays below 1: at 1 the buffer never forgets
    if h.kind == "bool":
        st.checkbox(label, key=key, help=helptext, disabled=disabled)
    elif h.kind == "float":
        st.number_input(label, key=key, format="%g", help=helptext, step=_step(h, st.session_state.get(key)),
                        min_value=lo, max_value=hi, disabled=disabled, placeholder=auto)
    elif h.kind == "int":
        st.number_input(label, key=key, step=1, help=helptext, min_value=None if lo is None else int(lo),
                        max_value=None if hi is None else int(hi), disabled=disabled, placeholder=auto)
    elif h.kind == "choice":
        st.selectbox(label, list(h.choices), key=key, help=helptext, disabled=disabled)
    elif h.kind == "floats":
        for i, col in enumerate(st.columns(h.length)):
            col.number_input(f"{label}[{i}]", key=f"{key}.{i}", format="%g", help=helptext, disabled=disabled)
    else:
        st.text_input(label, key=key, help=helptext, disabled=disabled, placeholder=auto or "")


def param_grid(keys_and_params: list[tuple[str, HParam]], columns: int = 4, **options: Any) -> None:
    """Several parameter widgets in a grid of ``columns``."""
    cols = st.columns(columns)
    for j, (key, h) in enumerate(keys_and_params):
        with cols[j % columns]:
            param_widget(key, h, **options)


# -- user text -----------------------------------------------------------------------------------

# What makes Markdown of plain text: links and images ([]()!), autolinks and emoji
# codes (:), HTML (<>), headings (#), code, emphasis, tables, strikethrough and maths.
_MARKDOWN = str.maketrans({c: "\\" + c for c in "\\`*[]()#!|<>~$:"} | {"\n": " ", "\r": " "})


def plain(text: str) -> str:
    """``text`` as Streamlit's Markdown shows it literally: a label or a link's text can
    carry no heading, link, image or HTML."""
    return str(text).translate(_MARKDOWN)


# A cell that reads as a number, a range of two or "3 of 64" (or as nothing), for a column
# aligned on its digits and never broken inside a number ("6.838e-05" at its hyphen).
_NUM = r"[-+−]?(\d[\d,]*\.?\d*|\.\d+)(e[-+]?\d+)?%?"
_NUMBER = re.compile(rf"^(—|{_NUM}|{_NUM} – {_NUM}|\d+ of \d+)$", re.IGNORECASE)
TABLE_CLASS = "optviz-table"  # styled once for every page (optviz.ui.app)


def table_html(frame) -> str:
    """A DataFrame's (or a list of row dicts') cells as an HTML table: escaped, as they are
    written; a column of numbers aligned right."""
    frame = frame if isinstance(frame, pd.DataFrame) else pd.DataFrame(frame)
    numeric = [all(_NUMBER.match(str(v)) for v in frame[c]) and len(frame) > 0 for c in frame.columns]
    align = [' class="num"' if n else "" for n in numeric]
    head = "".join(f"<th{a}>{html.escape(str(c))}</th>" for c, a in zip(frame.columns, align))
    rows = "".join("<tr>" + "".join(f"<td{a}>{_cell(v, bool(a))}</td>" for v, a in zip(row, align)) + "</tr>"
                   for row in frame.itertuples(index=False))
    return f'<div class="{TABLE_CLASS}"><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'


def _cell(value, number: bool) -> str:
    """A cell's text, escaped. So that a table is narrow enough for a 1024-pixel projector with the
    sidebar open, a setting may break after its "=" (``momentum=`` / ``0.9``) and a range after
    its dash (``0.08062 –`` / ``0.09476``), but a number never breaks (the page's text may break
    anywhere: "6.838e-" / "05")."""
    text = html.escape(str(value))
    if not number:
        return text.replace("=", "=<wbr>")
    return " ".join(f"<span>{part}</span>" for part in text.replace(" – ", " –\n").split("\n"))


def table(frame) -> None:
    """A few rows as a static table. Not ``st.dataframe``, whose data grid (1.2 MB of scripts, a
    canvas) the browser loads and draws before a page's chart; not ``st.table``, which renders
    each cell as Markdown. It scrolls sideways where the page is narrower than it."""
    st.html(table_html(frame))


# -- the address bar ----------------------------------------------------------------------------


def query_params() -> dict[str, list[str]]:
    """The address bar's query parameters, every key with all of its values."""
    return {key: st.query_params.get_all(key) for key in st.query_params.keys()}


def history_navigation() -> bool:
    """Whether this run is the browser's Back or Forward: Streamlit reruns the page with the
    address gone to (each change of the address bar is an entry of the browser's history)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    return bool(getattr(get_script_run_ctx(), "is_history_navigation", False))


_URL = "optviz.url"  # what sync_url last made the address bar say

# In each page's <head> (plot.middleware), before Streamlit starts. Streamlit pushes every change
# of the query string as an entry of the browser's history. So a page opened by its address (typed,
# or a link) got its link written as a second entry, and Back showed the same page again. An entry
# whose address has a query the app wrote holds a picture (history.state.optviz); a write over one
# that does not (a page just opened, a bare address) replaces it, and each later change of the
# picture is pushed, so Back undoes it.
HISTORY_SCRIPT = """<script>(() => {
  const h = window.history, push = h.pushState.bind(h), replace = h.replaceState.bind(h);
  const mark = (state, url) => ({...state, optviz: new URL(url ?? location.href, location.href).search.length > 1});
  h.pushState = function (state, title, url) {
    const here = new URL(url, location.href).pathname === location.pathname;
    return (here && !(h.state && h.state.optviz) ? replace : push)(mark(state, url), title, url);
  };
  h.replaceState = function (state, title, url) { return replace(mark(state, url), title, url); };
})();</script>"""


def sync_url(wanted: Mapping[str, str | list[str]]) -> None:
    """Make the address bar say ``wanted``, so that copying it shares the picture."""
    normal = {k: v if isinstance(v, list) else [v] for k, v in wanted.items()}
    st.session_state[_URL] = normal
    if query_params() != normal:
        st.query_params.from_dict(wanted)


@contextmanager
def link_warnings(page: str, fresh: list[str]) -> Iterator[None]:
    """Show a link's warnings above what the block draws, for as long as the page shows what
    the link set up: from the run that read the link (``fresh``), through each rerun whose
    address is the one that run wrote. A rerun the page makes itself (its width coming in)
    must not wipe them unread; the user's first change does."""
    s = st.session_state
    key = f"{page}.link_warnings"
    if fresh:  # kept before the block runs: a rerun (the width coming in) may cut this run short
        s[key] = (fresh, None)
    slot = st.container()
    yield
    url = s.get(_URL)
    warnings, at = s.get(key, ((), None))
    if warnings and at is None:  # the first run to finish wrote the link's address
        at = url
        s[key] = (warnings, url)
    if not warnings or url != at:
        s.pop(key, None)
        return
    with slot:
        for w in warnings:
            st.warning("Link: " + plain(w), icon=":material/link_off:")


# -- the result cache ----------------------------------------------------------------------------


class _Miss(Exception):
    """Raised inside the cached function so that a miss is not cached."""


@st.cache_data(max_entries=256, max_size="512MB", show_spinner=False)
def _store(key: Hashable, _value: Any = None) -> Any:
    # Streamlit hashes ``key`` only (a leading underscore excludes ``_value``) and
    # does not cache exceptions: called without ``_value`` it peeks, with it stores.
    if _value is None:
        raise _Miss
    return _value


def peek(key: Hashable) -> Any:
    """The cached value for ``key`` (shared by every session, bounded), or None.

    The operator's limits are part of the key: a lower bound must not be served a
    result computed under a higher one.
    """
    try:
        return _store((key, config.limits()))
    except _Miss:
        return None


def store(key: Hashable, value: Any) -> Any:
    """Cache ``value`` for ``key``; the value cached for it."""
    return _store((key, config.limits()), _value=value)


def cached(key: Hashable, compute: Callable[[], T]) -> T:
    """The cached value for ``key``, or ``compute()``'s, stored."""
    found = peek(key)
    return found if found is not None else store(key, compute())


# -- long computations ------------------------------------------------------------------------------


def computed(key: Hashable, run: Callable[[Callable[[Progress], bool]], T]) -> T:
    """The cached result for ``key``, or ``run(on_progress)`` with a progress bar, in its
    turn on the server (``guard.heavy_slot``); it stops between chunks when its tab closes
    or a new click comes (the run ends there: ``guard.end_run``)."""

    def compute():
        bar = st.empty()
        try:
            with guard.heavy_slot(bar) as check:
                def on_progress(p: Progress) -> bool:
                    if not check(p):
                        return False
                    bar.progress(p.fraction, text=f"{p.runs:,} runs in one batch: step {p.done:,} of {p.total:,}")
                    return True

                return run(on_progress)
        except Cancelled:
            guard.end_run()
        finally:
            bar.empty()

    return cached(key, compute)

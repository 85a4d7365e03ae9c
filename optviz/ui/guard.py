"""A fair share of one server for a class: stop work nobody waits for, queue heavy work.

The rules, for ~50 students on one server:

- A computation stops between two chunks when its tab is gone, or when its session
  asked for a new run; Streamlit's own rerun (or stop) then proceeds at once.
- One computation per session: a newer one supersedes the older, which stops at its
  next chunk and hands over its place in the queue, or its slot.
- At most ``OPTVIZ_MAX_CONCURRENT`` heavy computations at once (default: the CPUs this
  process may use); the rest wait in arrival order behind a visible notice, and a tab
  closed while waiting leaves the queue.
- A heavy computation runs at a lower OS priority (``OPTVIZ_HEAVY_NICE``, default 10),
  so a click in another tab is served first.

Engine code never sees any of this: it gets a plain ``on_chunk`` callback.

    notice = st.empty()
    try:
        with guard.heavy_slot(notice) as check:
            result = engine.run(..., on_chunk=check)
    except engine.Cancelled:
        guard.end_run()
"""

from __future__ import annotations

import bisect
import itertools
import math
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NoReturn

import streamlit as st

MAX_CONCURRENT_VAR = "OPTVIZ_MAX_CONCURRENT"
NICE_VAR = "OPTVIZ_HEAVY_NICE"
DEFAULT_NICE = 10
# How often a queued computation looks at its tab; also bounds how late it starts.
POLL_S = 0.1
# A rerun that interrupts a waiting computation keeps its place this long.
PLACE_KEPT_S = 5.0


def waiting_message(ahead: int) -> str:
    s = "" if ahead == 1 else "s"
    return f"Waiting for the server: {ahead} computation{s} ahead of yours…"


# --- Streamlit's internals: every access is in _this_session ---------------------------


def _always_alive() -> bool:
    return True


def _no_request() -> None:
    return None


@dataclass(frozen=True)
class _Session:
    id: str | None
    alive: Callable[[], bool] = _always_alive
    # Raises Streamlit's RerunException/StopException when this run has a pending
    # rerun or stop; returns otherwise.
    yield_check: Callable[[], None] = _no_request


_DETACHED = _Session(None)


def _this_session() -> _Session:
    """The calling script run's session, as seen by Streamlit's internals.

    Read from Streamlit 1.67.0:
    - runtime/scriptrunner_utils/script_run_context.py: ``get_script_run_ctx()`` gives
      ``ctx.session_id`` and ``ctx.yield_check``, which ScriptRunner._run_script sets to
      its own ``_maybe_handle_execution_control_request``: the check every ``st.*``
      call makes, minus the message. It consumes a pending RERUN and raises
      RerunException(rerun_data), or raises StopException for a STOP (fastReruns
      stops the old runner; a closed tab stops it too, see
      WebsocketSessionManager.disconnect_session). On other threads it does nothing.
    - runtime/runtime.py: ``Runtime.is_active_session(id)`` (thread-safe) is False once
      the websocket closed (the session is then stored for reconnection, or shut down).
    Anything missing or changed degrades to "alive, no request": work then runs to the
    end as before, it never crashes.
    """
    try:
        from streamlit import runtime
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx(suppress_warning=True)
        if ctx is None:
            return _DETACHED
        session_id = str(ctx.session_id)
        raw_check = getattr(ctx, "yield_check", None)
        yield_check = _no_request
        if callable(raw_check):

            def yield_check() -> None:
                try:
                    raw_check()
                except Exception:  # noqa: BLE001, S110  Stop/Rerun are BaseExceptions and pass
                    pass  # anything else: the internals changed; act as if nothing is pending

        if not runtime.exists():  # AppTest, bare `python app.py`
            return _Session(session_id, yield_check=yield_check)
        rt = runtime.get_instance()

        def alive() -> bool:
            try:
                return bool(rt.is_active_session(session_id))
            except Exception:  # noqa: BLE001  internals changed: assume alive
                return True

        return _Session(session_id, alive, yield_check)
    except Exception:  # noqa: BLE001  internals changed: a plain, always-alive session
        return _DETACHED


# --- The server-wide queue ---------------------------------------------------------------


@dataclass(eq=False)
class _Ticket:
    session: str | None
    seq: int
    granted: bool = False
    superseded: bool = False


@dataclass
class Gate:
    """Slots for heavy computations, granted in arrival order; one ticket per session.

    Thread-safe. A ``threading.Semaphore`` would do for the cap alone, but it is not
    first-come first-served and cannot say how many are ahead, so a Condition guards
    an ordered queue instead.
    """

    slots: int
    _cond: threading.Condition = field(default_factory=threading.Condition, repr=False)
    _seq: Iterator[int] = field(default_factory=itertools.count, repr=False)
    _waiting: list[_Ticket] = field(default_factory=list, repr=False)  # sorted by seq
    _running: int = 0
    _latest: dict[str, _Ticket] = field(default_factory=dict, repr=False)
    _places: dict[str, tuple[int, float]] = field(default_factory=dict, repr=False)

    def __post_init__(self):
        if self.slots < 1:
            raise ValueError(f"a gate needs at least one slot, got {self.slots}")

    def enter(self, session: str | None) -> _Ticket:
        """Queue a computation. A session's earlier ticket is superseded and the new one
        takes its place, or its slot if it was running, so a student who changes a
        setting is not sent to the back of the queue."""
        now = time.monotonic()
        with self._cond:
            self._places = {s: p for s, p in self._places.items() if now - p[1] < PLACE_KEPT_S}
            seq = None
            old = self._latest.get(session) if session is not None else None
            if old is not None:
                old.superseded = True
                seq = old.seq
            elif session in self._places:
                seq = self._places.pop(session)[0]
            ticket = _Ticket(session, next(self._seq) if seq is None else seq)
            if old is not None and old.granted:
                # The old run stops at its next chunk; waiting for that would leave the
                # slot idle, and longer when the old thread runs at a low priority.
                old.granted, ticket.granted = False, True
            else:
                if old is not None:
                    self._waiting.remove(old)
                bisect.insort(self._waiting, ticket, key=lambda t: t.seq)
            if session is not None:
                self._latest[session] = ticket
            self._cond.notify_all()
            return ticket

    def try_grant(self, ticket: _Ticket) -> bool:
        with self._cond:
            if not ticket.granted and self._running < self.slots and self._waiting[:1] == [ticket]:
                self._waiting.pop(0)
                self._running += 1
                ticket.granted = True
            return ticket.granted

    def ahead(self, ticket: _Ticket) -> int:
        """Computations that will start before this one: those running, and those
        queued in front of it."""
        with self._cond:
            if ticket.granted or ticket not in self._waiting:
                return 0
            return self._running + self._waiting.index(ticket)

    def wait(self, timeout: float) -> None:
        """Sleep until the queue changes, or ``timeout`` seconds."""
        with self._cond:
            self._cond.wait(timeout)

    def leave(self, ticket: _Ticket) -> None:
        with self._cond:
            if ticket.granted:
                self._running -= 1
            elif ticket in self._waiting:
                self._waiting.remove(ticket)
            if ticket.session is not None and self._latest.get(ticket.session) is ticket:
                del self._latest[ticket.session]
                if not ticket.granted:  # interrupted while queued: a rerun soon keeps the place
                    self._places[ticket.session] = (ticket.seq, time.monotonic())
            self._cond.notify_all()

    def counts(self) -> tuple[int, int]:
        """(running, waiting), for a status line or a test."""
        with self._cond:
            return self._running, len(self._waiting)


def _env_int(name: str, default: int, minimum: int) -> int:
    text = os.environ.get(name)
    if text is None:
        return default
    try:
        value = int(text)
        if value < minimum:
            raise ValueError
        return value
    except ValueError:
        warnings.warn(f"{name}={text!r} is not a whole number >= {minimum}; using {default}", stacklevel=2)
        return default


def _cpu_quota() -> int | None:
    """The container's CPU limit (docker-compose ``cpus:``), rounded up; None if unlimited.
    The CPU count does not see it."""
    try:
        with open("/sys/fs/cgroup/cpu.max") as f:  # cgroup v2: "<quota> <period>" or "max <period>"
            quota, period = f.read().split()[:2]
        if quota != "max":
            return max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    return None


def cpus() -> int:
    """The CPUs this process may use: its affinity, capped by a container's limit."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return min(n, _cpu_quota() or n)


def max_concurrent() -> int:
    """OPTVIZ_MAX_CONCURRENT, or :func:`cpus`; a malformed value warns and keeps the default."""
    return _env_int(MAX_CONCURRENT_VAR, cpus(), minimum=1)


# One gate per server process: cache_resource is Streamlit's shared-object store, and
# the gate is the one object every session must share (it locks itself).
@st.cache_resource(show_spinner=False)
def server_gate() -> Gate:
    return Gate(max_concurrent())


# Quick computations (a page's default runs: a tenth of a second) take turns one at a time in
# a process. Python runs one thread at a time anyway, and many sessions' small torch operations
# interleaved hand the GIL over at every operation: with 10 students on one process
# (bench/load.py) the server's CPU per change went from 1.18 s to 0.51 s, and the chart's
# p50 from 8.0 s to 1.9 s.
@st.cache_resource(show_spinner=False)
def quick_gate() -> Gate:
    return Gate(1)


# --- What a page calls ---------------------------------------------------------------------


class _Check:
    """The ``on_chunk`` callback: False cancels the work; a pending rerun or stop of this
    session raises Streamlit's own exception, so the new run starts at once."""

    def __init__(self, session: _Session, ticket: _Ticket | None = None):
        self._session, self._ticket = session, ticket

    def __call__(self, progress: Any = None) -> bool:
        self._session.yield_check()
        if self._ticket is not None and self._ticket.superseded:
            return False
        return self._session.alive()


@contextmanager
def _lower_priority(nice: int) -> Iterator[None]:
    """Run this thread ``nice`` steps lower, so the OS serves other sessions' clicks first.

    Linux only: there ``setpriority`` on a thread id sets that thread's nice value. An
    unprivileged server (the Docker image) may lower a priority but not raise it back;
    the script thread then draws its chart at the lower priority and ends.
    """
    if sys.platform != "linux" or nice <= 0:
        yield
        return
    tid = threading.get_native_id()
    try:
        old = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(old + nice, 19))
    except OSError:
        yield
        return
    try:
        yield
    finally:
        try:
            os.setpriority(os.PRIO_PROCESS, tid, old)
        except OSError:
            pass


def quick_slot(notice: Any = None) -> Iterator[Callable[[Any], bool]]:
    """:func:`heavy_slot` for a quick computation: this process's one-at-a-time turn
    (:func:`quick_gate`), at the normal priority."""
    return heavy_slot(notice, gate=quick_gate(), nice=0)


def stop_check() -> Callable[[Any], bool]:
    """An ``on_chunk`` callback for work that needs no slot. Call it on the script thread."""
    return _Check(_this_session())


def end_run() -> NoReturn:
    """End this script run quietly: its tab is gone, or a newer run of it took over.

    A pending rerun goes first, so a student's new input is never dropped."""
    _this_session().yield_check()
    st.stop()
    raise RuntimeError("st.stop() returned: end_run() was called outside a script run")


def _show(notice: Any, text: str | None) -> None:
    if notice is None:
        return
    if not hasattr(notice, "info"):
        notice(text)
    elif text:  # an st.empty() placeholder
        notice.info(text)
    else:
        notice.empty()


@contextmanager
def heavy_slot(notice: Any = None, *, gate: Gate | None = None, nice: int | None = None
               ) -> Iterator[Callable[[Any], bool]]:
    """Hold one of the server's heavy-computation slots; yield the ``on_chunk`` check.

    ``notice`` is an ``st.empty()`` placeholder (or a callable taking the message, None
    to clear) that says how many computations are ahead while this one waits. Leaving
    the queue because the tab closed or a rerun came ends the script run. ``nice``: how
    much lower the work runs (default OPTVIZ_HEAVY_NICE). Call it on the script thread.
    """
    session = _this_session()
    gate = gate or server_gate()
    ticket = gate.enter(session.id)
    shown = None
    try:
        while not gate.try_grant(ticket):
            session.yield_check()
            if ticket.superseded or not session.alive():
                end_run()
            ahead = gate.ahead(ticket)
            if ahead != shown:
                _show(notice, waiting_message(ahead))
                shown = ahead
            gate.wait(POLL_S)
        if shown is not None:
            _show(notice, None)
        with _lower_priority(_env_int(NICE_VAR, DEFAULT_NICE, minimum=0) if nice is None else nice):
            yield _Check(session, ticket)
    finally:
        gate.leave(ticket)

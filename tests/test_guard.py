"""optviz.ui.guard: closed tabs stop their work, reruns stop the old loop, heavy work queues.

The unit tests drive the Gate directly. The browser tests serve tests/apps/chunked.py (a
chunked torch loop behind the guard) with OPTVIZ_MAX_CONCURRENT=1, watch the server's CPU
in /proc and the app's event log (one line per start and end of a loop).
"""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest

from optviz.ui import guard
from tests import browser, serverload

# --- The gate, without Streamlit --------------------------------------------------------


def test_gate_grants_in_arrival_order_and_counts_who_is_ahead():
    gate = guard.Gate(1)
    a, b, c = gate.enter("a"), gate.enter("b"), gate.enter("c")
    assert [gate.try_grant(t) for t in (c, b, a)] == [False, False, True]
    assert (gate.ahead(b), gate.ahead(c)) == (1, 2)
    gate.leave(a)
    assert not gate.try_grant(c), "c may not overtake b"
    assert gate.try_grant(b) and gate.ahead(c) == 1


def test_a_rerun_supersedes_its_session_and_keeps_its_place():
    gate = guard.Gate(1)
    a, b = gate.enter("a"), gate.enter("b")
    assert gate.try_grant(a)
    a2 = gate.enter("a")  # the student changed a setting while computing: a2 takes a's slot
    assert a.superseded and not b.superseded
    assert gate.try_grant(a2) and gate.counts() == (1, 1) and gate.ahead(b) == 1
    gate.leave(a)  # the old loop noticed, at its next chunk
    assert gate.counts() == (1, 1) and not gate.try_grant(b)

    b2 = gate.enter("b")  # b's rerun while queued: same place, old ticket dropped
    assert b.superseded and gate.ahead(b2) == 1 and gate.counts() == (1, 1)
    gate.leave(b)
    assert gate.counts() == (1, 1)


def test_a_run_interrupted_in_the_queue_keeps_its_place_for_a_while():
    gate = guard.Gate(1)
    running, b, c = gate.enter("x"), gate.enter("b"), gate.enter("c")
    gate.try_grant(running)
    gate.leave(b)  # b's run was interrupted (same thread, no fastReruns) ...
    assert gate.ahead(c) == 1
    b2 = gate.enter("b")  # ... and its rerun comes back in front of c
    assert gate.ahead(b2) == 1 and gate.ahead(c) == 2


def test_a_tab_that_leaves_the_queue_frees_its_place():
    gate = guard.Gate(1)
    a, b, c = gate.enter("a"), gate.enter("b"), gate.enter(None)
    gate.try_grant(a)
    gate.leave(b)
    assert gate.ahead(c) == 1 and gate.counts() == (1, 1)


def test_max_concurrent_reads_the_environment(monkeypatch):
    monkeypatch.setenv(guard.MAX_CONCURRENT_VAR, "3")
    assert guard.max_concurrent() == 3
    monkeypatch.setenv(guard.MAX_CONCURRENT_VAR, "0")
    with pytest.warns(UserWarning, match="OPTVIZ_MAX_CONCURRENT"):
        assert guard.max_concurrent() >= 1
    with pytest.raises(ValueError):
        guard.Gate(0)


def test_outside_a_script_run_the_check_says_alive():
    assert guard.stop_check()(None) is True


def test_heavy_slot_waits_with_a_notice_then_clears_it():
    gate = guard.Gate(1)
    holder = gate.enter("other")
    gate.try_grant(holder)
    left = threading.Event()

    def leave():
        left.set()
        gate.leave(holder)

    threading.Timer(0.3, leave).start()
    notices = []
    with guard.heavy_slot(notices.append, gate=gate) as check:
        assert left.is_set(), "entered before the holder left"
        assert check({"steps": 1}) is True
        assert gate.counts() == (1, 0)
    assert gate.counts() == (0, 0)
    assert notices == [guard.waiting_message(1), None]
    assert guard.waiting_message(2) == "Waiting for the server: 2 computations ahead of yours…"


@pytest.mark.skipif(sys.platform != "linux", reason="thread priorities are set on Linux only")
def test_heavy_slot_lowers_its_threads_priority_and_restores_it(monkeypatch):
    monkeypatch.setenv(guard.NICE_VAR, "5")
    tid = threading.get_native_id()
    before = os.getpriority(os.PRIO_PROCESS, tid)
    with guard.heavy_slot(gate=guard.Gate(1)):
        assert os.getpriority(os.PRIO_PROCESS, tid) == min(before + 5, 19)
    after = os.getpriority(os.PRIO_PROCESS, tid)
    assert after == before or os.geteuid() != 0, "root may raise it back"



def test_quick_computations_take_one_turn_at_a_time_at_normal_priority(monkeypatch):
    """A process's quick computations queue for one slot: Python runs one thread at a time,
    and interleaving them only thrashes the GIL (bench/load.py measures the difference)."""
    monkeypatch.setenv(guard.NICE_VAR, "5")
    gate = guard.quick_gate()
    assert gate.slots == 1 and guard.quick_gate() is gate  # one per server process
    tid = threading.get_native_id()
    before = os.getpriority(os.PRIO_PROCESS, tid)
    with guard.quick_slot() as check:
        assert gate.counts() == (1, 0) and check(None) is True
        assert os.getpriority(os.PRIO_PROCESS, tid) == before
    assert gate.counts() == (0, 0)


def test_the_test_app_runs_in_apptest():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(serverload.APPS / "chunked.py"), default_timeout=60)
    at.query_params.update({"seconds": "0.2", "mode": "light"})
    at.run()
    assert not at.exception
    assert "chart a" in [m.value for m in at.markdown]


# --- A real server in a real browser --------------------------------------------------------


class Events:
    """The app's event log: (unix time, label, event) per line."""

    def __init__(self, path):
        self.path = path

    def of(self, label: str) -> list[tuple[float, str]]:
        if not self.path.exists():
            return []
        rows = [line.split() for line in self.path.read_text().splitlines()]
        return [(float(t), e) for t, lab, e in rows if lab == label]

    def wait_for(self, label: str, event: str | None = None, timeout: float = 5.0) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for t, e in self.of(label):
                if (e == event) if event else e != "start":
                    return t
            time.sleep(0.05)
        raise AssertionError(f"no {event or 'end'} for {label!r} within {timeout}s: {self.of(label)}")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    events = tmp_path_factory.mktemp("guard") / "events.txt"
    server = serverload.start_app(
        "chunked.py",
        browser.ARTIFACTS / "guard-server.log",
        # Nice 0: on a machine shared with other programs, a loop at nice 10 starves behind
        # them and the timings below would measure them (test_heavy_slot_lowers_its_threads_priority... covers it).
        env={"OPTVIZ_MAX_CONCURRENT": "1", "OPTVIZ_GUARD_EVENTS": str(events), guard.NICE_VAR: "0"},
    )
    yield server, Events(events)
    server.stop()


@pytest.fixture
def context(chromium):
    ctx = chromium.new_context()
    yield ctx
    ctx.close()


def open_page(context, server, query: str, wait_text: str | None = None):
    page = context.new_page()
    page.goto(f"{server.url}/?{query}")
    if wait_text:
        page.get_by_text(wait_text, exact=True).wait_for(timeout=90_000)
    return page


def busy_cores(pid: int) -> float:
    cores = serverload.cores_used(pid, 0.5)
    assert cores > 0.1, f"the server used only {cores:.2f} cores while computing: the machine is too loaded"
    return cores


def assert_idle_soon(pid: int, busy: float) -> float:
    waited = serverload.wait_until_idle(pid, timeout=10, below=serverload.idle_below(busy))
    assert waited is not None, "the server stayed busy after every tab closed"
    return waited


@pytest.mark.browser
@pytest.mark.slow
def test_a_closed_tab_stops_its_work(served, context):
    server, events = served
    pid = server.proc.pid
    page = open_page(context, server, "seconds=30&label=closed", "started closed")
    busy = busy_cores(pid)
    t0, wall0 = time.monotonic(), time.time()
    page.close()
    # Generous bounds: they catch a loop that never stops, not a slow machine; the
    # figure is printed (bench/idle_cpu.py measures it).
    waited = serverload.wait_until_idle(pid, timeout=20, below=serverload.idle_below(busy))
    took = time.monotonic() - t0
    print(f"busy {busy:.2f} cores; idle {took:.2f}s after the close")
    assert waited is not None, f"server CPU still above {serverload.idle_below(busy):.2f} cores 20s after the close"
    print(f"the loop saw the close {events.wait_for('closed', timeout=20) - wall0:.2f}s after it")


@pytest.mark.browser
@pytest.mark.slow
def test_a_rerun_stops_the_old_loop_at_once(served, context):
    server, events = served
    pid = server.proc.pid
    page = open_page(context, server, "seconds=30&label=old", "started old")
    busy = busy_cores(pid)
    box = page.get_by_label("label")
    box.fill("new")
    clicked = time.time()
    box.press("Enter")
    page.get_by_text("started new", exact=True).wait_for(timeout=10_000)
    shown = time.time() - clicked
    ended, started = events.wait_for("old"), events.wait_for("new", "start")
    print(
        f"old loop ended {ended - clicked:.2f}s and the new one started {started - clicked:.2f}s "
        f"after the change; the page showed it after {shown:.2f}s"
    )
    assert [e for _, e in events.of("old")] == ["start", "StopException"]
    # The old loop had 30 s to run: ending well before that means the rerun stopped it.
    assert ended - clicked < 15, "the old loop ran on after the rerun"
    page.close()
    assert_idle_soon(pid, busy)


@pytest.mark.browser
@pytest.mark.slow
def test_heavy_work_queues_behind_a_notice(served, context):
    server, events = served
    # The first holds the slot until the test lets go (its tab closes): a slow machine may
    # take longer to open the second page than any fixed amount of work would last.
    first = open_page(context, server, "seconds=60&label=first", "started first")
    second = open_page(context, server, "seconds=0.3&label=second")
    notice = second.get_by_text(guard.waiting_message(1))
    notice.wait_for(timeout=30_000)
    assert events.of("second") == [], "the second computation started beside the first"
    first.close()
    second.get_by_text("done second", exact=True).wait_for(timeout=30_000)
    assert notice.count() == 0, "the notice stays after the wait"
    assert events.wait_for("second", "start") >= events.wait_for("first", timeout=15)
    second.close()


@pytest.mark.browser
@pytest.mark.slow
def test_a_closed_waiting_tab_leaves_the_queue(served, context):
    server, events = served
    pid = server.proc.pid
    running = open_page(context, server, "seconds=30&label=running", "started running")
    busy = busy_cores(pid)
    leaving = open_page(context, server, "seconds=1&label=leaving")
    leaving.get_by_text(guard.waiting_message(1)).wait_for(timeout=30_000)
    last = open_page(context, server, "seconds=1&label=last")
    last.get_by_text(guard.waiting_message(2)).wait_for(timeout=30_000)
    leaving.close()
    last.get_by_text(guard.waiting_message(1)).wait_for(timeout=3_000)
    running.close()
    last.get_by_text("done last", exact=True).wait_for(timeout=30_000)
    assert events.of("leaving") == [], "a closed tab's computation ran"
    last.close()
    assert_idle_soon(pid, busy)

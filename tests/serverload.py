"""Serve a test app from tests/apps and read the server's CPU use, for tests/test_guard.py
and bench/bench_fairshare.py.

CPU is the server process's own utime+stime (all its threads) from /proc/<pid>/stat, so
other programs on the machine do not count; resolution is one clock tick (10 ms).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests import browser

APPS = Path(__file__).resolve().parent / "apps"
TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")
IDLE_CORES = 0.2  # an idle Streamlit server uses a few percent of a core


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        # The command name (field 2) may hold spaces; fields after it are plain.
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_S  # utime, stime


def cores_used(pid: int, window: float) -> float:
    c0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(window)
    return (cpu_seconds(pid) - c0) / (time.monotonic() - t0)


def idle_below(busy: float) -> float:
    """The CPU use that counts as idle after a computation that used `busy` cores: on a
    machine loaded by others one computation gets less than a core, so scale down."""
    return min(IDLE_CORES, busy / 3)


def wait_until_idle(pid: int, timeout: float, below: float = IDLE_CORES, window: float = 0.3) -> float | None:
    """Seconds until a `window` of server CPU reads below `below` cores, counting the
    window itself, so the figure is an upper bound; None if not within `timeout`."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if cores_used(pid, window) < below:
            return time.monotonic() - t0
    return None


def app_command(script: str, port: int) -> list[str]:
    return browser.streamlit_cmd(port, str(APPS / script))


def start_app(script: str, log: Path, env: dict[str, str] | None = None, timeout: float = 90) -> browser.Server:
    port = browser.free_port()
    full_env = {**os.environ, "PYTHONPATH": str(browser.ROOT), **(env or {})}
    return browser.start_server(app_command(script, port), port, log=log, timeout=timeout, env=full_env)

"""bench/load.py's protocol client against a real server: two students for a few seconds.

A smoke test of the load benchmark (no browser): the client must load the page, find the
first run's "lr" field, change it, see the rerun's chart and `script_finished`, with no errors.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.util
import sys

import pytest

from tests import browser

# A journey of several page loads: the full suite (CI) runs it; the inner loop leaves it out.
pytestmark = pytest.mark.slow

BENCH = browser.ROOT / "bench" / "load.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("optviz_bench_load", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_two_students_change_the_learning_rate_without_errors():
    bench = load_bench()
    port = browser.free_port()
    server = browser.start_server(
        browser.streamlit_cmd(port), port, log=browser.ARTIFACTS / "load-bench-test-server.log", timeout=90
    )
    try:
        opts = bench.Options(interval=2.0, duration=8.0, ramp=1.0, timeout=60.0)
        # Its own thread and event loop: a browser test before this one in the same worker
        # leaves Playwright's loop running in the main thread.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            r = pool.submit(asyncio.run, bench.run_level(server.url + "/", server.proc.pid, 2, opts)).result()
    finally:
        server.stop()
    assert r["error_count"] == 0, r["error_samples"]
    assert r["first_load_s"]["n"] == 2
    assert r["actions"] >= 2
    assert r["done_s"]["n"] == r["actions"] and r["chart_s"]["n"] == r["actions"], "every change redrew the chart"
    assert r["server_cpu_s"] > 0 and r["peak_rss_mb"] > 100

"""A long computation in small chunks behind optviz.ui.guard, served by tests/test_guard.py
and bench/bench_fairshare.py (the real pages are being restructured).

The work stands in for engine.run(..., on_chunk=check): small torch ops in a Python loop
(like the engine's per-step kernels), with the check called every 0.1 s; the total is
counted in this thread's CPU time, so a loaded machine stretches it but does not cut it.

Query parameters:
  mode     heavy (default): take a heavy slot; light: no slot, draw a chart when done
  seconds  CPU seconds of work (default 30)
  guard    0: never check (the server before this change)
Widget: the text input "label"; changing it reruns.
Env OPTVIZ_GUARD_EVENTS: a file that gets "<unix time> <label> <event>" per start and end.
"""

import os
import time

import streamlit as st
import torch

from optviz.ui import guard

CHUNK_S = 0.1
torch.set_num_threads(1)  # one computation, one core: what the CPU readings assume


class Cancelled(Exception):
    """What engine.run raises when on_chunk returns False."""


def work(seconds: float, on_chunk) -> float:
    x, w = torch.zeros(64, 2), torch.tensor([[0.9, 0.1], [-0.1, 0.9]])
    cpu0 = time.thread_time()
    while time.thread_time() - cpu0 < seconds:
        chunk_end = time.monotonic() + CHUNK_S
        while time.monotonic() < chunk_end:
            x = torch.tanh(x @ w + 0.01)
        if not on_chunk(time.thread_time() - cpu0):
            raise Cancelled
    return float(x.sum())


def log(label: str, event: str) -> None:
    path = os.environ.get("OPTVIZ_GUARD_EVENTS")
    if path:
        with open(path, "a") as f:
            f.write(f"{time.time():.3f} {label} {event}\n")


q = st.query_params
mode, seconds, guarded = q.get("mode", "heavy"), float(q.get("seconds", "30")), q.get("guard", "1") != "0"
label = st.text_input("label", value=q.get("label", "a"), key="label")
notice = st.empty()
status = st.empty()


def compute(check) -> None:
    status.write(f"started {label}")
    log(label, "start")
    outcome = "error"
    try:
        work(seconds, check if guarded else (lambda progress: True))
        outcome = "done"
    except Cancelled:
        outcome = "cancelled"
        raise
    except BaseException as e:  # Streamlit's StopException / RerunException end the loop too
        outcome = type(e).__name__
        raise
    finally:
        log(label, outcome)
    status.write(f"done {label}")


try:
    if mode == "heavy" and guarded:
        with guard.heavy_slot(notice) as check:
            compute(check)
    else:
        compute(guard.stop_check())
except Cancelled:
    guard.end_run()

if mode == "light":
    st.line_chart({"loss": [1.0, 0.5, 0.3, 0.2]})
    st.write(f"chart {label}")

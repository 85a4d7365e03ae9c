"""cProfile in every thread of a Python process; merged statistics written at exit.

bench/load.py --profile PATH puts this folder on PYTHONPATH of the server it starts and sets
OPTVIZ_PROFILE_OUT=PATH. Python imports `sitecustomize` at start-up: this one profiles the
main thread (Streamlit's event loop: websocket sends) from here on, and wraps
threading.Thread.run so every thread started later (script runs, the event loop's helpers)
is profiled too. Times are each thread's CPU time (time.thread_time), not wall time, so
waiting (sleep, select, locks, other processes on the same cores) does not count. When a
thread ends, and at exit for the main thread, its statistics are merged into one pstats
file: read it with `python -m pstats PATH` (then `sort tottime`, `stats 30`).
Nothing happens unless OPTVIZ_PROFILE_OUT is set.
"""

import os

OUT = os.environ.get("OPTVIZ_PROFILE_OUT")

if OUT:
    import atexit
    import cProfile
    import pstats
    import threading
    import time

    _lock = threading.Lock()
    _merged: list = []  # one pstats.Stats: every thread's profile, added when the thread ends

    def _add(prof) -> None:
        try:
            stats = pstats.Stats(prof)
        except TypeError:  # the thread ran no Python code
            return
        with _lock:
            if _merged:
                _merged[0].add(stats)
            else:
                _merged.append(stats)

    _orig_run = threading.Thread.run

    def _profiled_run(self, *args, **kwargs):
        prof = cProfile.Profile(time.thread_time)
        prof.enable()
        try:
            return _orig_run(self, *args, **kwargs)
        finally:
            prof.disable()
            _add(prof)

    threading.Thread.run = _profiled_run
    _main = cProfile.Profile(time.thread_time)
    _main.enable()

    def _finish() -> None:
        # Threads still running now (daemon helpers) are left out: only the thread that
        # owns a profile may stop it safely.
        _main.disable()
        _add(_main)
        with _lock:
            if _merged:
                _merged[0].dump_stats(OUT)

    atexit.register(_finish)

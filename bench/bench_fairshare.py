"""Does a closed tab stop its work, and does a click stay quick while others compute?

    python bench/bench_fairshare.py                 # 3 repetitions, prints medians and max
    python bench/bench_fairshare.py --reps 5 --baseline
    OPTVIZ_MAX_CONCURRENT=1 python bench/bench_fairshare.py

Serves tests/apps/chunked.py (a chunked torch loop behind optviz.ui.guard; until the
real pages call the guard) on loopback and drives it with headless Chromium:

1. Time to idle: open a heavy computation, wait until the server is busy, close the tab,
   and time until the server's CPU (its /proc utime+stime) reads idle.
   --baseline also measures the server before: the same page with the guard off.
2. Click to chart: change a light page's input and time until its chart's caption shows
   the new value, on an idle server and while three heavy links run in other tabs.
   Target: within 1.5x of the idle server's time.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from optviz.ui import guard  # noqa: E402 - needs the repository root on sys.path
from tests import browser, serverload  # noqa: E402 - needs the repository root on sys.path

LIGHT_SECONDS = 0.3  # CPU per click: about what a quick lr change costs the real engine


NAMES = {True: "guard on ", False: "guard off"}


def summary(values: list[float | None]) -> str:
    done = [v for v in values if v is not None]
    if len(done) < len(values):
        return f"{len(values) - len(done)} of {len(values)} never got there"
    return f"median {statistics.median(done):.2f} s, max {max(done):.2f} s"


class App:
    """The test app's server; restarted when unguarded work would outlive a measurement."""

    def __init__(self, chromium):
        self.chromium, self.server = chromium, None
        self.restart()

    def restart(self) -> None:
        if self.server is not None:
            self.server.stop()
        self.server = serverload.start_app("chunked.py", browser.ARTIFACTS / "bench-fairshare-server.log")
        self.pid = self.server.proc.pid
        self.open("mode=light&seconds=0", "chart a").close()  # the first load imports torch

    def open(self, query: str, wait_text: str | None = None):
        page = self.chromium.new_page()
        page.goto(f"{self.server.url}/?{query}")
        if wait_text:
            page.get_by_text(wait_text, exact=True).wait_for(timeout=90_000)
        return page


def time_to_idle(app: App, guarded: bool, seconds: float) -> float | None:
    page = app.open(f"seconds={seconds}&guard={int(guarded)}", "started a")
    busy = serverload.cores_used(app.pid, 1.0)
    t0 = time.monotonic()
    page.close()
    if serverload.wait_until_idle(app.pid, timeout=seconds, below=serverload.idle_below(busy)) is None:
        return None
    return time.monotonic() - t0  # the close itself included


def click_times(page, n: int, prefix: str) -> list[float]:
    box = page.get_by_label("label")
    times = []
    for i in range(n):
        label = f"{prefix}{i}"
        box.fill(label)
        t0 = time.monotonic()
        box.press("Enter")
        page.get_by_text(f"chart {label}", exact=True).wait_for(timeout=60_000)
        times.append(time.monotonic() - t0)
        time.sleep(0.3)
    return times


def clicks_under_load(app: App, light, guarded: bool, n: int, prefix: str) -> list[float]:
    heavy = [app.open(f"seconds=600&label=h{k}&guard={int(guarded)}") for k in range(3)]
    time.sleep(2.0)  # all three started (or queued)
    times = click_times(light, n, prefix)
    for p in heavy:
        p.close()
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--clicks", type=int, default=5, help="clicks per repetition")
    ap.add_argument("--heavy-seconds", type=float, default=10.0, help="CPU seconds of the closed tab's work")
    ap.add_argument("--baseline", action="store_true", help="also measure with the guard off (the server before)")
    args = ap.parse_args()
    modes = (True, False) if args.baseline else (True,)
    print(
        f"{guard.MAX_CONCURRENT_VAR}={guard.max_concurrent()}, light click = {LIGHT_SECONDS} CPU s, "
        f"{args.reps} reps x {args.clicks} clicks",
        flush=True,
    )

    with sync_playwright() as pw:
        chromium = browser.launch_chromium(pw, shutil.which("chromium") or browser.find_chromium())
        app = App(chromium)
        try:
            for guarded in modes:
                waits = []
                for _ in range(args.reps):
                    waits.append(time_to_idle(app, guarded, args.heavy_seconds))
                    if not guarded:
                        app.restart()  # its loop would run on
                print(
                    f"time to idle after a tab closes ({NAMES[guarded]}): {summary(waits)}  "
                    f"[{', '.join('-' if w is None else f'{w:.2f}' for w in waits)}]",
                    flush=True,
                )

            idle, loaded = [], {g: [] for g in modes}
            for r in range(args.reps):
                for guarded in modes:
                    light = app.open(f"mode=light&seconds={LIGHT_SECONDS}", "chart a")
                    if guarded:
                        idle += click_times(light, args.clicks, f"idle{r}-")
                    loaded[guarded] += clicks_under_load(app, light, guarded, args.clicks, f"busy{r}{int(guarded)}-")
                    light.close()
                    if not guarded or serverload.wait_until_idle(app.pid, timeout=5) is None:
                        app.restart()
            print(f"click to chart, idle server:                   {summary(idle)}")
            for guarded in modes:
                ratio = statistics.median(loaded[guarded]) / statistics.median(idle)
                print(
                    f"click to chart, three heavy links ({NAMES[guarded]}): {summary(loaded[guarded])}; "
                    f"ratio of medians {ratio:.2f} (target <= 1.5)"
                )
        finally:
            app.server.stop()
            chromium.close()


if __name__ == "__main__":
    main()

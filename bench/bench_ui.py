"""How long from a widget change to an updated chart, in a real browser.

    python bench/bench_ui.py                    # each action 15 times; each time, the median, the max
    python bench/bench_ui.py --action lr --changes 10

Starts ``streamlit run serve.py`` on a free port, opens it in headless Chromium
(Debian's, through Playwright) and times, from the widget's change until the page's chart
has drawn the new figure:

- lr: the first run's learning rate on the Surfaces page (a new value each time, so no
  cached result is reused; timed until the chart shows the new path);
- 3-D: the Surfaces page's view, switched between 3-D and the contour;
- recolour: the Sweeps page's basin map, coloured by another measure (no new compute).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
from shared import CHROMIUM_ARGS  # noqa: E402

# Installed before the page's own scripts: after each finished draw of the page's first chart, if
# it can be seen (st.plotly_chart first draws a hidden copy), the first run's path as a string.
WATCH_DRAWS = """
new MutationObserver(() => {
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    if (gd.__watched || !gd.on) continue;
    gd.__watched = true;
    gd.on('plotly_afterplot', () => {
      if (document.querySelector('.js-plotly-plot') !== gd) return;  // the page's first chart only
      if (getComputedStyle(gd).visibility === 'hidden' || !gd._fullData) return;
      const t = gd._fullData.find(d => d.legendgroup === 'run0' && d.mode === 'lines');
      if (!t) return;
      const x = t.x, n = x.length;
      window.__drawn = n + ':' + x[n - 1] + ':' + t.y[n - 1];
    });
  }
}).observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ['class']});
"""
# The first run's path as last drawn (null before the first draw): it changes when the chart
# shows new data. Pages must be opened after ``page.add_init_script(WATCH_DRAWS)``.
SIGNATURE = "() => window.__drawn ?? null"

# How many figures the page's first visible chart has drawn: each Plotly.react or new chart
# hands it a new data array (a resize or a hover redraws the same one, and does not count).
# Each action waits for its rerun to settle first, so a late draw of the last one is not counted.
WATCH_FIGURES = """
window.__figures = 0;
new MutationObserver(() => {
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    if (gd.__counted || !gd.on) continue;
    gd.__counted = true;
    gd.on('plotly_afterplot', () => {
      if (document.querySelector('.js-plotly-plot') !== gd) return;
      if (getComputedStyle(gd).visibility === 'hidden' || gd.data === gd.__lastData) return;
      gd.__lastData = gd.data;
      window.__figures += 1;
    });
  }
}).observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ['class']});
"""
FIGURES = "() => window.__figures"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(port: int) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(ROOT / "serve.py"),
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok":
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the app did not start within 60 s")


@contextmanager
def browser_and_app(url: str | None) -> Iterator[tuple[str, str]]:
    """Chromium's path and the app's URL: ``url``, or a server started here and stopped after."""
    chromium = shutil.which("chromium") or os.environ.get("CHROMIUM")
    if not chromium:
        raise SystemExit("needs Chromium: apt-get install -y chromium")
    if url:
        yield chromium, url
        return
    port = free_port()
    app = start_app(port)
    try:
        yield chromium, f"http://127.0.0.1:{port}/"
    finally:
        app.terminate()
        app.wait(timeout=10)


def _time(page, act, signature: str) -> float:
    """Seconds from ``act()`` until ``signature`` changes."""
    before = page.evaluate(signature)
    start = time.perf_counter()
    act()
    page.wait_for_function(f"({signature})() !== {before!r}", timeout=60_000, polling=10)
    return time.perf_counter() - start


def _lr(page, i: int) -> float:
    lr = page.locator("[data-testid=stMain]").get_by_label("lr", exact=True).first
    lr.fill(f"{0.0011 + 0.0001 * i:.4f}")
    return _time(page, lambda: lr.press("Enter"), SIGNATURE)


def _segment(options: tuple[str, ...]):
    """An action that clicks the next of a segmented control's options."""

    def act(page, i: int) -> float:
        button = page.get_by_role("radio", name=options[(i + 1) % len(options)], exact=True).first
        return _time(page, button.click, FIGURES)

    return act


ACTIONS = {  # name: (the page's path, the action)
    "lr": ("", _lr),
    "3-D": ("", _segment(("Contour", "3-D"))),
    "recolour": ("sweeps?mode=basin", _segment(("Minimum reached", "Final loss", "Diverged"))),
}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--changes", type=int, default=15, help="times each action is timed")
    ap.add_argument("--action", nargs="+", choices=list(ACTIONS), default=list(ACTIONS))
    ap.add_argument("--url", help="measure an app that is already running here instead of starting one")
    args = ap.parse_args(argv)
    summary = []
    with browser_and_app(args.url) as (chromium, url), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        for name in args.action:
            path, act = ACTIONS[name]
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.add_init_script(WATCH_DRAWS)
            page.add_init_script(WATCH_FIGURES)
            page.goto(url.rstrip("/") + "/" + path)
            page.wait_for_function(f"({FIGURES})() > 0", timeout=90_000)
            page.wait_for_timeout(1500)  # the page's first rerun settles
            times = []
            for i in range(args.changes):
                times.append(act(page, i))
                print(f"{name} {i + 1:2d}: {times[-1] * 1e3:6.0f} ms", flush=True)
                page.wait_for_timeout(300)  # let the rerun settle before the next change
            page.close()
            summary.append(
                f"{name:9s} -> chart drawn: median {statistics.median(times) * 1e3:5.0f} ms "
                f"(min {min(times) * 1e3:.0f}, max {max(times) * 1e3:.0f}, n={len(times)})"
            )
        browser.close()
    print("\n".join(summary))


if __name__ == "__main__":
    main()

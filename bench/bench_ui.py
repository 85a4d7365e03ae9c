"""How long from a widget change to an updated chart, in a real browser.

    python bench/bench_ui.py            # 15 changes, prints each and the median

Starts ``streamlit run serve.py`` on a free port, opens it in headless Chromium
(Debian's, through Playwright), changes the learning rate of the first run of
the default comparison, and times until the chart in the page shows the new
path. Each change uses a new value, so no cached result is reused.
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


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--changes", type=int, default=15)
    ap.add_argument("--url", help="measure an app that is already running here instead of starting one")
    args = ap.parse_args(argv)
    with browser_and_app(args.url) as (chromium, url):
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.add_init_script(WATCH_DRAWS)
            page.goto(url)
            page.wait_for_function(f"({SIGNATURE})() !== null", timeout=60_000)
            main_area = page.locator("[data-testid=stMain]")
            # The first run's settings are open: the run editor shows one run's widgets at a time.
            lr = main_area.get_by_label("lr", exact=True).first
            lr.wait_for()
            times = []
            for i in range(args.changes):
                before = page.evaluate(SIGNATURE)
                lr.fill(f"{0.0011 + 0.0001 * i:.4f}")
                start = time.perf_counter()
                lr.press("Enter")
                page.wait_for_function(f"({SIGNATURE})() !== {before!r}", timeout=30_000, polling=10)
                times.append(time.perf_counter() - start)
                print(f"change {i + 1:2d}: {times[-1] * 1e3:6.0f} ms", flush=True)
                page.wait_for_timeout(300)  # let the rerun settle before the next change
            browser.close()
    print(
        f"median widget change -> updated chart: {statistics.median(times) * 1e3:.0f} ms "
        f"(min {min(times) * 1e3:.0f}, max {max(times) * 1e3:.0f}, n={len(times)})"
    )


if __name__ == "__main__":
    main()

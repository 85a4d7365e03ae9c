"""Server CPU while one real browser session sits idle on the app.

    python bench/idle_cpu.py                      # `python3 tasks.py app`, 60 s idle
    python bench/idle_cpu.py --seconds 30 -- python3 tasks.py app --dev
    python bench/idle_cpu.py --cwd ../other-checkout -- python3 tasks.py app

Starts the command (default `python3 tasks.py app`; `{port}` is not needed: the
script adds `--server.port` and `--server.address=127.0.0.1`), waits for /_stcore/health,
opens the app in headless Chromium, waits for the first run to finish and the charts to
draw, then reads the server's utime+stime from /proc (the whole process tree) before and
after `--seconds` of doing nothing. An idle server should use about 0 s. Also printed:
the inotify watches the server holds and how often its log says "Inotify queue overflowed"
(Streamlit's file watcher on a checkout that holds .venv).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import serverstats

ROOT = Path(__file__).resolve().parents[1]
from shared import CHROMIUM_ARGS  # noqa: E402

FIRST_RUN_DONE = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return app && app.getAttribute('data-test-script-state') === 'notRunning'
    && !document.querySelector('[data-testid="stSkeleton"]')
    && [...document.querySelectorAll('[data-testid="stPlotlyChart"], .optviz-plot')]
         .every(c => c.querySelector('.main-svg'));
}"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with code {proc.returncode}")
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read().strip() == b"ok":
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"{url}/_stcore/health not ok after {timeout:.0f} s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0, help="how long the session stays idle (default 60)")
    ap.add_argument("--cwd", type=Path, default=ROOT, help="where to run the command (default: this checkout)")
    ap.add_argument("--no-browser", action="store_true", help="measure with no session open")
    ap.add_argument("command", nargs="*", help="server command (default: python3 tasks.py app)")
    args = ap.parse_args(argv)
    command = args.command or ["python3", "tasks.py", "app"]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = Path(tempfile.mkstemp(prefix="optviz-idle-", suffix=".log")[1])
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*command, f"--server.port={port}", "--server.address=127.0.0.1"],
            cwd=args.cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    try:
        wait_healthy(url, proc, 120)
        server = serverstats.find_streamlit(proc.pid)
        if args.no_browser:
            measure(server, args.seconds, log)
        else:
            from playwright.sync_api import sync_playwright

            chromium = os.environ.get("OPTVIZ_CHROMIUM") or shutil.which("chromium")
            if not chromium:
                raise SystemExit("needs Chromium (apt-get install chromium, or set OPTVIZ_CHROMIUM)")
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(url + "/")
                page.wait_for_function(FIRST_RUN_DONE, timeout=120_000, polling=200)
                time.sleep(3)  # let the last messages and the browser's first requests settle
                measure(server, args.seconds, log)
                browser.close()
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
    print(f"server log: {log}")
    return 0


def measure(server: int, seconds: float, log: Path) -> None:
    overflows0 = log.read_text(errors="replace").count("Inotify queue overflowed")
    cpu0, t0 = serverstats.cpu_seconds(server), time.monotonic()
    time.sleep(seconds)
    cpu1, t1 = serverstats.cpu_seconds(server), time.monotonic()
    overflows = log.read_text(errors="replace").count("Inotify queue overflowed") - overflows0
    print(
        f"idle {t1 - t0:.0f} s: server CPU {cpu1 - cpu0:.2f} s ({(cpu1 - cpu0) / (t1 - t0) * 100:.1f}% of a core), "
        f"inotify watches {serverstats.inotify_watches(server)}, 'Inotify queue overflowed' x{overflows}, "
        f"RSS {serverstats.rss_bytes(server) / 2**20:.0f} MiB",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())

"""Helpers for tests that serve the app and look at it in headless Chromium.

Used by conftest.py (local `streamlit run`) and test_docker.py (the built image).
Every wait here is bounded in time.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bench.shared import CHROMIUM_ARGS, WIDTH_PENDING  # one list for Chromium, one probe selector: tests and benchmarks
from tasks import find_chromium  # noqa: F401  (one search for Chromium, shared with the task runner)

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
APP_TITLE = "optviz"

# Requests that leave the machine. The test browser blocks them (so results do not depend
# on whether the machine has internet) and records them instead of failing: Streamlit
# fetches e.g. material-symbol page icons from fonts.gstatic.com. Console errors about
# such blocked loads are not the app failing on the students' machines.
EXTERNAL_URL = re.compile(r"^(?:https?|wss?)://(?!(?:127\.\d+\.\d+\.\d+|localhost|\[::1\])(?::\d+)?(?:/|$))")

# Console messages that are not the app's fault. Keep this list short and explained.
IGNORED_CONSOLE = [
    # Chromium asks for /favicon.ico on some pages before Streamlit sets its own icon.
    re.compile(r"favicon\.ico"),
    # On a page's own URL (/datasets) Streamlit's frontend probes /datasets/_stcore/health and
    # host-config to find the app's base path, and falls back to /_stcore/ on the 404.
    # Answering them would make it take /datasets for the base path (serve.py's docstring).
    re.compile(r"404 \(Not Found\) \(http://[^/]+/[a-z]+/_stcore/(health|host-config):"),
]


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def skip_or_fail(reason: str, require_var: str) -> None:
    """Skip the test, or fail it when the environment says this kind of test must run."""
    if env_flag(require_var):
        pytest.fail(f"{reason} ({require_var}=1, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read()


def wait_for_health(
    base_url: str, timeout: float, proc: subprocess.Popen | None = None, log: Path | None = None
) -> float:
    """Poll <base_url>/_stcore/health until it answers 'ok'. Returns seconds waited."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before it was healthy{log_tail(log)}")
        try:
            status, body = http_get(f"{base_url}/_stcore/health", timeout=2)
            if status == 200 and body.strip() == b"ok":
                return time.monotonic() - t0
            last = f"HTTP {status}: {body[:80]!r}"
        except (urllib.error.URLError, OSError) as e:
            last = str(e)
        time.sleep(0.5)
    raise TimeoutError(f"{base_url}/_stcore/health not ok after {timeout:.0f}s (last: {last}){log_tail(log)}")


def log_tail(log: Path | None, lines: int = 30) -> str:
    if log is None or not log.exists():
        return ""
    tail = log.read_text(errors="replace").splitlines()[-lines:]
    return f"\n--- last lines of {log} ---\n" + "\n".join(tail)


@dataclass
class Server:
    url: str
    proc: subprocess.Popen
    log: Path

    def stop(self, grace: float = 10.0) -> None:
        """Stop the server and everything it started (it runs in its own process group)."""
        if self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=grace)


def start_server(
    cmd: list[str], port: int, log: Path, timeout: float, cwd: Path = ROOT, env: dict | None = None
) -> Server:
    """Start a server command in its own process group; return once its health check says ok."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = Server(url=f"http://127.0.0.1:{port}", proc=proc, log=log)
    try:
        wait_for_health(server.url, timeout, proc=proc, log=log)
    except BaseException:
        server.stop()
        raise
    return server


def streamlit_cmd(port: int, script: str = "serve.py") -> list[str]:
    """`streamlit run serve.py` (the app, warmed up; or ``script``) headless on loopback, with this
    interpreter's Streamlit."""
    return [
        sys.executable, "-m", "streamlit", "run", script,
        "--server.headless=true",
        f"--server.port={port}",
        "--server.address=127.0.0.1",
        "--server.fileWatcherType=none",
        "--browser.gatherUsageStats=false",
    ]  # fmt: skip


@dataclass
class ConsoleLog:
    """Console errors and uncaught page errors seen by one page, and requests it tried off-machine."""

    errors: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)

    def attach(self, page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))

    def block_external(self, context) -> None:
        """Abort every request that would leave this machine, and remember it."""

        def handle(route):
            self.external.append(route.request.url)
            route.abort()

        context.route(EXTERNAL_URL, handle)

    def _on_console(self, msg) -> None:
        # KaTeX warns (not errs) on LaTeX it renders only in part: a formula a class would see broken.
        if msg.type != "error" and not (msg.type == "warning" and "LaTeX" in msg.text):
            return
        text = f"console.{msg.type}: {msg.text}"
        loc = getattr(msg, "location", None) or {}
        url = loc.get("url") or ""
        if url:
            text += f" ({url}:{loc.get('lineNumber', '?')})"
        if EXTERNAL_URL.match(url) and "Failed to load resource" in msg.text:
            return  # a load we blocked: listed in self.external
        if not any(p.search(text) for p in IGNORED_CONSOLE):
            self.errors.append(text)


@contextmanager
def sized_page(chromium, width: int = 1280, height: int = 800, **options):
    """A page in a fresh browser context of this size (and ``options``, Playwright's context
    options): its console recorded (``page.console``) and requests that would leave the machine
    blocked. The context closes on exit."""
    context = chromium.new_context(viewport={"width": width, "height": height}, **options)
    console = ConsoleLog()
    console.block_external(context)
    page = context.new_page()
    page.console = console
    console.attach(page)
    try:
        yield page
    finally:
        context.close()


def launch_chromium(playwright, executable: str):
    return playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)


def open_app(page, url: str, timeout_s: float = 60.0) -> str:
    """Load the app and wait until its script has run once. Returns the final script state.

    Streamlit serves a JS app: the HTML has no content of ours. `stApp` carries
    data-test-script-state, which goes initial -> running -> notRunning (or
    compilationError when app.py does not even compile).
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    ms = timeout_s * 1000
    page.goto(url, wait_until="domcontentloaded", timeout=ms)
    try:
        # The state the wait saw, not a second look: under load the page may be between two
        # renders (a rerun the width probe asks for) when a second query comes.
        # A page just opened draws its chart first, and the rest in a second run: the sidebar's
        # placeholder (optviz.ui.explore.LOADING) is there until then.
        finished = page.wait_for_function(
            """() => {
                const app = document.querySelector('[data-testid="stApp"]');
                const state = app && app.getAttribute('data-test-script-state');
                const loading = document.querySelector('.st-key-optviz-loading');
                return (state === 'notRunning' && !loading || state === 'compilationError') && state;
            }""",
            timeout=ms,
        )
    except PlaywrightTimeout:
        states = page.evaluate(
            """() => {
                const app = document.querySelector('[data-testid="stApp"]');
                return app ? [app.getAttribute('data-test-script-state'),
                              app.getAttribute('data-test-connection-state'),
                              !!document.querySelector('.st-key-optviz-loading')] : [null, null, false];
            }"""
        )
        shot = screenshot(page, "timeout")
        raise AssertionError(
            f"{url}: app did not finish its first run within {timeout_s:.0f}s "
            f"(script state {states[0]!r}, connection state {states[1]!r}; a proxy that drops the "
            f"websocket leaves it connecting"
            f"{'; the page still waited for its chart to be drawn' if states[2] else ''}); see {shot}"
        ) from None
    return finished.json_value()


# Every chart in a page: Streamlit's own, and our in-place one (optviz/ui/plot.py).
CHARTS = '[data-testid="stPlotlyChart"], .optviz-plot'


def settle(page, timeout_s: float = 20.0) -> bool:
    """Give charts time to draw after the script ran, so screenshots show them. Never fails.

    Streamlit shows stSkeleton placeholders while lazily loaded elements (Plotly among
    them) arrive, and Plotly draws after that: every chart (stPlotlyChart, or our own
    optviz-plot) gets a .main-svg.
    Returns False if the page was not settled in time.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    # Our in-place chart keeps its old drawing while it draws a new figure: it says so with
    # data-drawing. A rerun the page asks for itself (the width probe) may start a moment
    # after the first one ends, so the page must look settled twice, half a second apart.
    # A page just opened has a placeholder for all but its chart until that is drawn, and the
    # width probe (optviz/ui/viewport.py) says "drawn" once it has measured the page and the
    # server has drawn for that width (a phone's first run has not).
    waiting = f'[data-testid="stSkeleton"], .optviz-plot[data-drawing], .st-key-optviz-loading, {WIDTH_PENDING}'
    settled = f"""() => !document.querySelector({waiting!r})
                  && document.querySelector('[data-testid="stApp"]')
                        ?.getAttribute('data-test-script-state') !== 'running'
                  && [...document.querySelectorAll({CHARTS!r})].every(c => c.querySelector('.main-svg'))"""
    try:
        page.wait_for_function(settled, timeout=timeout_s * 1000)
        page.wait_for_timeout(500)
        page.wait_for_function(settled, timeout=timeout_s * 1000)
        return True
    except PlaywrightTimeout:
        return False


def choose(page, select, option: str, tries: int = 5) -> None:
    """Pick `option` in a Streamlit selectbox. A click that lands while the script reruns (the
    widget is redrawn under the pointer) opens nothing, so wait for the app to be idle and retry."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    item = page.get_by_role("option", name=option, exact=True)
    for attempt in range(tries):
        page.wait_for_function(
            """() => document.querySelector('[data-testid="stApp"]')
                     ?.getAttribute('data-test-script-state') !== 'running'""",
            timeout=60_000,
        )
        select.click()
        try:
            item.click(timeout=5_000)
            return
        except PlaywrightTimeout:
            if attempt == tries - 1:
                raise
            page.keyboard.press("Escape")


def open_update_rules(page):
    """Open the page's box of update rules and wait until its formulas are drawn: the box.
    Opening it reruns the panel, which only then draws the rules (optviz.ui.explore.rules_ui)."""
    rules = page.locator('[data-testid="stExpander"]', has_text="The update rules, with these settings")
    rules.locator("summary").click()
    rules.locator(".katex").first.wait_for(timeout=60_000)
    settle(page, 30)
    return rules


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def assert_app_rendered(page, url: str, console: ConsoleLog, shot_name: str, timeout_s: float = 60.0) -> Path:
    """The checks every 'does the page render' test makes; returns the screenshot's path."""
    state = open_app(page, url, timeout_s)
    if not settle(page):
        print(f"note: the page still had placeholders or undrawn charts 20s after the script ran ({shot_name})")
    shot = screenshot(page, shot_name)
    assert state == "notRunning", f"app script ended in state {state!r}; see {shot}"
    assert APP_TITLE in page.title(), f"document title is {page.title()!r}, expected it to contain {APP_TITLE!r}"
    # The navigation bar names the pages; the page itself starts with its chart, not a title.
    page.locator('[data-testid="stNavigation"], [data-testid="stSidebarNav"], header').first.wait_for(
        state="attached", timeout=timeout_s * 1000
    )
    exceptions = page.locator('[data-testid="stException"]')
    assert exceptions.count() == 0, f"Streamlit shows an exception: {exceptions.first.inner_text()[:500]}; see {shot}"
    assert console.errors == [], "browser console errors:\n" + "\n".join(console.errors)
    if console.external:  # not a failure (see EXTERNAL_URL), but worth knowing for offline classrooms
        listing = ARTIFACTS / f"{shot.stem}-external-requests.txt"
        listing.write_text("\n".join(sorted(set(console.external))) + "\n")
        print(f"note: the page tried to load {len(set(console.external))} URL(s) off this machine; see {listing}")
    return shot

"""Fixtures for browser tests: a local Streamlit server and headless Chromium.

- `app_server`: `streamlit run serve.py` (the app, warmed up) on a free loopback port, once per session.
- `chromium`:   Playwright driving the system's Chromium (Debian's `chromium`);
                skipped when missing, failed instead when OPTVIZ_REQUIRE_BROWSER=1.
- `page`:       a fresh page that records console errors (`page.console.errors`),
                blocks and lists requests that would leave the machine
                (`page.console.external`), and leaves a screenshot in artifacts/.
"""

from __future__ import annotations

import os

import pytest

from tests import browser

SERVER_START_TIMEOUT_S = float(os.environ.get("OPTVIZ_SERVER_TIMEOUT", "90"))


@pytest.fixture(scope="session")
def app_server():
    port = browser.free_port()
    server = browser.start_server(
        browser.streamlit_cmd(port),
        port,
        log=browser.ARTIFACTS / "streamlit-server.log",
        timeout=SERVER_START_TIMEOUT_S,
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chromium():
    exe = browser.find_chromium()
    if exe is None:
        browser.skip_or_fail(
            "Chromium not found (apt-get install chromium, or set OPTVIZ_CHROMIUM)", "OPTVIZ_REQUIRE_BROWSER"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        browser.skip_or_fail("Python package playwright not installed (requirements-dev.txt)", "OPTVIZ_REQUIRE_BROWSER")
    pw = sync_playwright().start()
    try:
        b = browser.launch_chromium(pw, exe)
    except Exception as e:
        pw.stop()
        pytest.fail(f"could not start Chromium at {exe}: {e}", pytrace=False)
    yield b
    b.close()
    pw.stop()


@pytest.fixture
def page(chromium, request):
    with browser.sized_page(chromium) as pg:
        yield pg
        try:
            browser.screenshot(pg, f"{request.node.name}-end")
        except Exception:  # a crashed page must not hide the test's own failure
            pass

"""The app, served by `streamlit run app.py`, loads in a real browser without errors."""

from __future__ import annotations

import pytest

from tests import browser


def test_health_endpoint(app_server):
    status, body = browser.http_get(f"{app_server.url}/_stcore/health")
    assert (status, body.strip()) == (200, b"ok")


@pytest.mark.browser
def test_page_loads_without_errors(page, app_server):
    shot = browser.assert_app_rendered(page, app_server.url, page.console, "e2e-smoke")
    assert shot.stat().st_size > 0

"""deploy/nginx.conf, for real: two Streamlit replicas behind the shipped nginx config.

Checks what breaks classes behind a load balancer: the websocket must pass through (or
the page hangs on "Connecting"), and one browser must stick to one replica (Streamlit
keeps its session state there). Only the upstream addresses, the listen port and the
log path are changed from the shipped file.
"""

from __future__ import annotations

import re
import shutil
import time
import urllib.request
from pathlib import Path

import pytest

from tests import browser

# A journey of several page loads: the full suite (CI) runs it; the inner loop leaves it out.
pytestmark = [pytest.mark.browser, pytest.mark.slow]

CONF = browser.ROOT / "deploy" / "nginx.conf"


def local_conf(text: str, upstreams: list[int], port: int, access_log: Path) -> str:
    servers = "\n".join(f"        server 127.0.0.1:{p};" for p in upstreams)
    text, n1 = re.subn(r"^\s*server optviz:8501;$", servers, text, flags=re.M)
    text, n2 = re.subn(r"^(\s*)listen 80;$", rf"\1listen 127.0.0.1:{port};", text, flags=re.M)
    text, n3 = re.subn(r"access_log /dev/stdout", f"access_log {access_log}", text)
    assert (n1, n2, n3) == (1, 1, 1), "deploy/nginx.conf changed shape; update tests/test_proxy.py"
    return text


@pytest.fixture(scope="module")
def proxy(app_server, tmp_path_factory):
    nginx = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
    if nginx is None:
        browser.skip_or_fail("nginx not found (apt-get install nginx-light)", "OPTVIZ_REQUIRE_BROWSER")
    port2 = browser.free_port()
    second = browser.start_server(
        browser.streamlit_cmd(port2), port2, log=browser.ARTIFACTS / "streamlit-replica2.log", timeout=90
    )
    prefix = tmp_path_factory.mktemp("nginx")
    access_log = prefix / "access.log"
    port1 = int(app_server.url.rsplit(":", 1)[1])
    port = browser.free_port()
    (prefix / "nginx.conf").write_text(local_conf(CONF.read_text(), [port1, port2], port, access_log))
    cmd = [nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log"),
           "-g", f"daemon off; pid {prefix / 'nginx.pid'};"]  # fmt: skip
    try:
        server = browser.start_server(cmd, port, log=browser.ARTIFACTS / "nginx.log", timeout=30)
    except BaseException:
        second.stop()
        raise
    server.access_log = access_log
    server.upstreams = {f"127.0.0.1:{port1}", f"127.0.0.1:{port2}"}
    yield server
    server.stop()
    second.stop()
    shutil.copyfile(access_log, browser.ARTIFACTS / "nginx-access.log")


def upstreams_by_route(log: Path) -> dict[str, set[str]]:
    seen: dict[str, set[str]] = {}
    for line in log.read_text().splitlines():
        m = re.search(r"upstream=(\S+) route=(\S+)", line)
        if m:
            seen.setdefault(m.group(2), set()).add(m.group(1))
    return seen


def get(url: str, cookie: str | None = None):
    req = urllib.request.Request(url, headers={"Cookie": f"optviz_route={cookie}"} if cookie else {})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, r.headers, r.read()


def test_first_visit_gets_a_route_cookie(proxy):
    status, headers, _ = get(f"{proxy.url}/")
    assert status == 200
    assert "optviz_route=" in (headers.get("Set-Cookie") or "")
    # No other site may frame the app; the page renders under this policy (the browser test
    # below fails on any console error, a refused script or style among them).
    assert headers.get("X-Frame-Options") == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in (headers.get("Content-Security-Policy") or "")


def test_same_cookie_same_replica_and_cookies_spread(proxy):
    routes = [f"student{i}" for i in range(20)]  # fixed names: the spread below is deterministic
    for route in routes:
        for path in ("/", "/_stcore/health", "/_stcore/host-config"):
            get(f"{proxy.url}{path}", cookie=route)
    seen = upstreams_by_route(proxy.access_log)
    for route in routes:
        assert len(seen[route]) == 1, f"{route} was served by {seen[route]}"
    used = set().union(*(seen[r] for r in routes))
    assert used == proxy.upstreams, f"20 students all landed on {used}"


def test_page_renders_through_proxy_and_sticks(page, proxy):
    browser.assert_app_rendered(page, proxy.url, page.console, "proxy-page")
    page.reload()
    browser.assert_app_rendered(page, proxy.url, page.console, "proxy-page-reload")
    # nginx logs a websocket when it closes: the reload closed the first page's.
    deadline = time.monotonic() + 10
    while not re.search(r'"GET /_stcore/stream HTTP/1.1" 101 ', proxy.access_log.read_text()):
        assert time.monotonic() < deadline, "no websocket upgrade (101) on /_stcore/stream in nginx's log"
        time.sleep(0.2)
    cookie = next(c["value"] for c in page.context.cookies() if c["name"] == "optviz_route")
    served = upstreams_by_route(proxy.access_log)[cookie]
    assert len(served) == 1, f"one browser was served by several replicas: {served}"

"""Take the README's screenshots in headless Chromium.

    .venv/bin/python docs/make_screenshots.py

Starts the app on a free port, opens each view, and writes PNGs to docs/screenshots/.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from optviz import codec  # noqa: E402
from optviz.presets import PRESETS  # noqa: E402
from tests import browser  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


def shots(base: str) -> list[tuple[str, str, dict]]:
    """(file name, URL, clip) for each picture."""
    def preset(pid):
        return base + "/" + codec.query_string(codec.encode(PRESETS[pid].experiment))

    return [
        ("surfaces.png", base + "/", {}),
        ("preset-local-minima.png", preset("local-minima"), {}),
        ("preset-learning-rate.png", preset("learning-rate"), {}),
        ("surfaces-3d.png", base + "/?view=3d", {}),
        ("sweeps.png", base + "/sweeps", {}),
        ("datasets.png", base + "/datasets", {}),
    ]


def main() -> None:
    exe = browser.find_chromium()
    if exe is None:
        raise SystemExit("needs Chromium: apt-get install -y chromium")
    OUT.mkdir(parents=True, exist_ok=True)
    port = browser.free_port()
    server = browser.start_server(browser.streamlit_cmd(port), port, log=OUT / "server.log", timeout=90)
    try:
        with sync_playwright() as p:
            chromium = browser.launch_chromium(p, exe)
            page = chromium.new_page(viewport={"width": 1440, "height": 1000})
            for name, url, _ in shots(server.url):
                browser.open_app(page, url)
                browser.settle(page)
                page.wait_for_timeout(1500)
                page.screenshot(path=str(OUT / name))
                print("wrote", OUT / name)
            chromium.close()
    finally:
        server.stop()
        (OUT / "server.log").unlink(missing_ok=True)


if __name__ == "__main__":
    main()

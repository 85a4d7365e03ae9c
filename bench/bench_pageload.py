"""How long a page takes to show its chart, in a real browser: a fresh tab, a shared link, a preset.

    python bench/bench_pageload.py              # 6 of each; medians and maxima
    python bench/bench_pageload.py --repeats 10 --url http://127.0.0.1:8501/

Starts ``streamlit run serve.py`` on a free port (as bench_ui.py does), opens it in headless
Chromium (Debian's, through Playwright) and times until the chart in the page holds a path:

- first view: the first tab after the server started, in a new browser profile;
- warm page load: a new tab on ``/`` in that profile, as a student opens the page again (the
  browser's cache holds the scripts, and V8's cache their compiled code: Chromium keeps that
  from a script's third load on, in a normal profile, not in a private window);
- private window: a new tab on ``/`` in a new private window each time (no cache at all);
- phone: ``/datasets`` in a new private window at 390x844 with a phone's user agent, until its
  chart is drawn for that width; "narrow desktop" is the same window with a desktop's agent,
  whose first run is drawn wide and then, once the page has measured itself, stacked;
- shared link: a new tab on a four-run link, a new step count each time (no cached result);
- preset click: a classroom preset's button on an open page, until its chart is drawn.

Each is timed from navigation (or the click) to the chart's first run having data. A page
opened draws its chart first and the rest after it; "whole page" times the warm loads until
the run editor and the presets are there too.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ui import SIGNATURE, WATCH_DRAWS, browser_and_app  # noqa: E402
from shared import CHROMIUM_ARGS, PHONE_AGENT, WIDTH_PENDING  # noqa: E402

LINK = (
    "?surface=himmelblau&steps={steps}&start=0.5%2C-1&run=Adam%3Blr%3D0.05"
    "&run=SGD%3Blr%3D0.01%3Bmomentum%3D0.9&run=RMSprop%3Blr%3D0.02&run=NAdam%3Blr%3D0.03"
)
PRESETS = (
    "Learning rate: too large",
    "Momentum overshooting",
    "Adam vs SGD on an ill",
    "Escaping a saddle",
    "Local minima",
    "SGD vs momentum vs Adam",
)
VIEWPORT = {"width": 1400, "height": 1000}


def _drawn(page, before=None) -> None:
    test = f"({SIGNATURE})() !== null" if before is None else f"({SIGNATURE})() !== {before!r}"
    page.wait_for_function(test, timeout=90_000, polling=10)


# The whole page: the run editor and the presets, and no placeholder for them (optviz.ui.explore.LOADING).
WHOLE = """() => !document.querySelector('.st-key-optviz-loading')
  && document.querySelector('[data-testid=stMain] [data-testid=stNumberInput]')
  && document.querySelector('[data-testid=stSidebar] [data-testid=stButton]')"""


def _open(context, url: str, whole: list[float] | None = None, until: str | None = None) -> float:
    """Seconds to the chart drawn (and then to ``until``, a condition, if given); with ``whole``,
    the seconds to the whole page go there."""
    page = context.new_page()
    start = time.perf_counter()
    page.goto(url)
    _drawn(page)
    if until:
        page.wait_for_function(until, timeout=90_000, polling=10)
    seconds = time.perf_counter() - start
    if whole is not None:
        page.wait_for_function(WHOLE, timeout=90_000, polling=10)
        whole.append(time.perf_counter() - start)
    page.close()
    return seconds


# Drawn for the page's own width: no width probe waiting for its rerun, no chart still drawing.
FOR_WIDTH = f"() => !document.querySelector({WIDTH_PENDING + ', .optviz-plot[data-drawing]'!r})"
PHONE = {"viewport": {"width": 390, "height": 844}, "user_agent": PHONE_AGENT}
NARROW = {"viewport": {"width": 390, "height": 844}}


def _private(browser, url: str, options: dict | None = None) -> float:
    """A load in a new private window; with ``options`` (a phone's), until drawn for its width."""
    context = browser.new_context(**(options or {"viewport": VIEWPORT}))
    context.add_init_script(WATCH_DRAWS)
    try:
        return _open(context, url, until=FOR_WIDTH if options else None)
    finally:
        context.close()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=6)
    ap.add_argument("--url", help="measure an app that is already running here instead of starting one")
    args = ap.parse_args(argv)
    times: dict[str, list[float]] = {}
    # The profile's folder outlives the browser that uses it: entered first, left last.
    with tempfile.TemporaryDirectory() as profile, browser_and_app(args.url) as (chromium, url), sync_playwright() as p:
        base = url.rstrip("/")
        # A normal profile (on disk), as a student's browser: Chromium keeps compiled code only there.
        context = p.chromium.launch_persistent_context(
            profile, executable_path=chromium, args=CHROMIUM_ARGS, viewport=VIEWPORT
        )
        context.add_init_script(WATCH_DRAWS)
        times["first view"] = [_open(context, base + "/")]
        _open(context, base + "/")  # the second load, after which V8 keeps the compiled scripts
        whole: list[float] = []
        times["warm page load"] = [_open(context, base + "/", whole) for _ in range(args.repeats)]
        times["  whole page"] = whole
        links = [f"{base}/" + LINK.format(steps=300 + i) for i in range(args.repeats)]
        times["shared link"] = [_open(context, link) for link in links]
        page = context.new_page()
        page.goto(base + "/")
        _drawn(page)
        page.wait_for_timeout(1500)
        clicks = []
        for name in (PRESETS * args.repeats)[: args.repeats]:
            before = page.evaluate(SIGNATURE)
            button = page.get_by_role("button", name=name).first
            start = time.perf_counter()
            button.click()
            _drawn(page, before)
            clicks.append(time.perf_counter() - start)
            page.wait_for_timeout(1500)  # let the rerun settle before the next click
        times["preset click"] = clicks
        context.close()
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        browser.new_page().close()  # the browser's own start-up is not a page load
        times["private window"] = [_private(browser, base + "/") for _ in range(args.repeats)]
        phone, narrow = times.setdefault("phone", []), times.setdefault("  narrow desktop", [])
        for _ in range(args.repeats):  # alternated: the machine's speed drifts alike for both
            phone.append(_private(browser, base + "/datasets", PHONE))
            narrow.append(_private(browser, base + "/datasets", NARROW))
        browser.close()
    for name, values in times.items():
        print(f"{name:16s} median {statistics.median(values):5.2f} s, max {max(values):5.2f} s, n={len(values)}")


if __name__ == "__main__":
    main()

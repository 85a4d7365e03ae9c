"""The Sweeps page's maps in a real browser: drawn in place, recoloured without a new chart,
and a click on a cell (not on a grid of hidden markers) opens that run."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from tests import browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# The page's first chart: its traces' names and types, and a mark that a remount would lose.
TRACES = "() => document.querySelector('.js-plotly-plot')._fullData.map(d => [d.type, d.name])"


def _point_at(page, fx: float, fy: float) -> tuple[list[float], list[float], float]:
    """A point at (fx, fy) of the first map's plot area: in page pixels, in data, and the map's
    spacing of starts."""
    box = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
    data, spacing = page.evaluate(
        """([fx, fy]) => { const gd = document.querySelector('.js-plotly-plot'), l = gd._fullLayout;
             const map = gd._fullData.find(d => d.type === 'heatmap');
             return [[l.xaxis.p2d(l.xaxis._length * fx), l.yaxis.p2d(l.yaxis._length * fy)],
                     Math.abs(map.x[1] - map.x[0])]; }""",
        [fx, fy],
    )
    return [box["x"] + box["width"] * fx, box["y"] + box["height"] * fy], data, spacing


def _click(page, pixel: list[float]) -> None:
    """Click the map at ``pixel`` as a user does: once its hover shows the cell under the mouse
    (a click emits the point Plotly's hover found)."""
    page.mouse.move(*pixel)
    page.wait_for_function("() => (document.querySelector('.js-plotly-plot')._hoverdata || []).length > 0",
                           timeout=20_000)
    page.mouse.click(*pixel)


# "Diverged": the map of diverged starts takes every click, on its gaps too (no default start diverges).
@pytest.mark.parametrize("colour", ["Final loss", "Diverged"])
def test_a_basin_map_recolours_in_place_and_a_click_on_a_cell_opens_its_runs(page, app_server, colour):
    shot = browser.assert_app_rendered(page, app_server.url + "/sweeps?mode=basin", page.console, "e2e-basin")
    assert page.locator(".optviz-plot.js-plotly-plot").count() == 1, f"not the in-place chart; see {shot}"
    traces = page.evaluate(TRACES)
    assert "heatmap" in [t for t, _ in traces], traces
    assert "click" not in [n for _, n in traces], "a grid of hidden markers is drawn: the cells take the clicks"
    page.evaluate("() => { document.querySelector('.js-plotly-plot').__mark = 1; }")
    page.get_by_role("radio", name=colour, exact=True).click()
    page.wait_for_function(f"JSON.stringify(({TRACES})()) !== {json.dumps(json.dumps(traces))}", timeout=60_000)
    browser.settle(page)
    mark = page.evaluate("() => document.querySelector('.js-plotly-plot').__mark")
    assert mark == 1, "recolouring remounted the chart"

    pixel, point, spacing = _point_at(page, 0.3, 0.35)
    _click(page, pixel)
    page.wait_for_url(lambda url: "start" in parse_qs(urlsplit(url).query), timeout=60_000)
    browser.settle(page)
    assert urlsplit(page.url).path.rstrip("/") == urlsplit(app_server.url).path.rstrip("/"), page.url  # Surfaces
    start = [float(v) for v in parse_qs(urlsplit(page.url).query)["start"][0].split(",")]
    assert abs(start[0] - point[0]) <= spacing and abs(start[1] - point[1]) <= spacing, (start, point, spacing)
    shot = browser.screenshot(page, "e2e-basin-click")
    assert page.locator('[data-testid="stException"]').count() == 0, f"exception shown; see {shot}"
    assert page.console.errors == [], "browser console errors:\n" + "\n".join(page.console.errors)


def test_a_click_on_a_heatmap_cell_opens_that_run(page, app_server):
    shot = browser.assert_app_rendered(page, app_server.url + "/sweeps?mode=heatmap", page.console, "e2e-heatmap")
    traces = page.evaluate(TRACES)
    assert "click" not in [n for _, n in traces], f"a grid of hidden markers is drawn; see {shot}"
    pixel, _, _ = _point_at(page, 0.5, 0.5)
    _click(page, pixel)
    page.wait_for_url(lambda url: "run" in parse_qs(urlsplit(url).query), timeout=60_000)
    browser.settle(page)
    run = parse_qs(urlsplit(page.url).query)["run"][0]
    shot = browser.screenshot(page, "e2e-heatmap-click")
    assert run.startswith("SGD;"), run  # the map's optimizer, with the clicked cell's values
    assert page.locator('[data-testid="stException"]').count() == 0, f"exception shown; see {shot}"
    assert page.console.errors == [], "browser console errors:\n" + "\n".join(page.console.errors)


# Each page reruns itself once its width comes in (the basin maps stack below 800 pixels, the
# comparison's panels on a phone): the link's warning must outlive that rerun, and go with the
# user's first change.
@pytest.mark.parametrize(("path", "size", "change"), [
    ("sweeps?mode=basin&grid=100000", (1024, 768), "Final loss"),
    ("compare?trials=0", (390, 844), "quartiles"),
])
def test_a_links_warning_stays_until_the_first_change(chromium, app_server, path, size, change):
    with browser.sized_page(chromium, *size) as page:
        shot = browser.assert_app_rendered(page, f"{app_server.url}/{path}", page.console, "e2e-link-warning")
        browser.settle(page)
        page.wait_for_timeout(1000)
        warnings = page.locator('[data-testid="stAlertContentWarning"]')
        assert warnings.count() == 1 and "Link:" in warnings.first.inner_text(), f"no warning; see {shot}"
        page.get_by_role("radio", name=change, exact=True).first.click()
        warnings.first.wait_for(state="detached", timeout=60_000)
        browser.settle(page)
        assert page.console.errors == [], page.console.errors

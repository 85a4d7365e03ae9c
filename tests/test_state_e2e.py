"""The inside view in a real browser at 1024×768: the arrows are drawn at each run's point,
the race's step slider moves them, and the state panel renders."""

from __future__ import annotations

import pytest

from tests import browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Each arrow's tail (where it is drawn from), read from Plotly's own data in the page.
ARROWS = """() => {
  const gd = document.querySelector('.js-plotly-plot');
  if (!gd || !gd._fullData) return null;
  return gd._fullData.filter(d => d.marker && d.marker.symbol === 'arrow')
    .map(d => [d.x[0], d.y[0], d.x[1], d.y[1]]);
}"""


def test_arrows_move_with_the_slider_and_the_state_panel_renders(chromium, app_server):
    with browser.sized_page(chromium, 1024, 768) as page:
        console = page.console
        browser.assert_app_rendered(page, app_server.url + "/?inside=1&steps=200", console, "inside-1024")
        page.wait_for_function(f"({ARROWS})() !== null && ({ARROWS})().length > 0", timeout=60_000)
        at_end = page.evaluate(ARROWS)
        before = page.evaluate(f"JSON.stringify(({ARROWS})())")
        assert len(at_end) == 3 * 4  # -gradient, momentum, update for each default run
        rail = page.locator(".js-plotly-plot .slider-rail-rect").first.bounding_box()
        page.mouse.click(rail["x"] + rail["width"] * 0.1, rail["y"] + rail["height"] / 2)
        page.wait_for_function(f"old => JSON.stringify(({ARROWS})()) !== old", arg=before, timeout=20_000)
        early = page.evaluate(ARROWS)
        moved = [a for a, b in zip(early, at_end) if a[:2] != b[:2]]
        assert len(moved) >= 4, (early, at_end)
        browser.screenshot(page, "inside-1024-early")
        assert page.get_by_text("Inside the optimizer").count() >= 1
        assert page.locator('.js-plotly-plot').count() >= 2  # the race and the state panel
        assert console.errors == [], console.errors

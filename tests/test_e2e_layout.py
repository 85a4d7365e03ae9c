"""Every page on a projector (1024×768) and a phone (390×844): screenshots, no text that
overlaps other text in a chart (subplot titles, axis titles, the legend, colour bars, the
Play and Pause buttons, the step slider's label, Plotly's toolbar), and no label, button or
tag cut short.
"""

from __future__ import annotations

import pytest

from bench.shared import PHONE_AGENT
from tests import browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SIZES = {"projector": (1024, 768), "phone": (390, 844)}
# The basin map too: two maps side by side, with a colour bar, were squeezed into a phone.
PAGES = ["", "datasets", "sweeps", "sweeps?mode=basin&color=loss", "compare", "classics", "online"]

# Each chart's labelled boxes, in page pixels. Plotly draws them as SVG groups: what must
# not overlap is the text a reader reads, and the controls a teacher clicks.
BOXES = """() => [...document.querySelectorAll('.js-plotly-plot')].map(gd => {
  const pick = (sel, kind) => [...gd.querySelectorAll(sel)].map(el => {
    const r = el.getBoundingClientRect();
    return {kind, text: (el.textContent || '').trim().slice(0, 40), x: r.x, y: r.y, w: r.width, h: r.height};
  }).filter(b => b.w > 1 && b.h > 1);
  return [
    ...pick('.infolayer .annotation', 'title'),
    ...pick('.infolayer .g-gtitle', 'title'),
    ...pick('.infolayer .g-xtitle, .infolayer [class^="g-x"][class$="title"]', 'axis title'),
    ...pick('.infolayer .g-ytitle, .infolayer [class^="g-y"][class$="title"]', 'axis title'),
    ...pick('.infolayer .legend .bg', 'legend'),
    ...pick('.infolayer .colorbar', 'colour bar'),
    ...pick('.menulayer .updatemenu-button', 'button'),
    ...pick('.menulayer .slider-container .slider-current-value', 'slider label'),
    ...pick('.modebar', 'toolbar'),
  ];
})"""

# Text the page cuts short with an ellipsis ("Animati…", "Learning rat…"): a button, a label or a
# tag too wide for its column. Inputs scroll their own text, and charts and tables are checked apart.
CUT = """() => [...document.querySelectorAll('[data-testid=stMain] *, [data-testid=stSidebar] *')].filter(el => {
  if (el.closest('.js-plotly-plot, [data-testid=stDataFrame]') || !el.textContent.trim()) return false;
  const cs = getComputedStyle(el);
  if (cs.visibility === 'hidden' || el.offsetParent === null || el.clientWidth === 0) return false;
  return cs.textOverflow === 'ellipsis' && el.scrollWidth > el.clientWidth + 1;
}).map(el => el.textContent.trim().slice(0, 50))"""

# How far the page's first element starts under the fixed navigation bar (> 0: its top is hidden).
UNDER_HEADER = """() => document.querySelector('[data-testid=stHeader]').getBoundingClientRect().bottom
  - document.querySelector('[data-testid=stMainBlockContainer] [data-testid=stElementContainer]')
      .getBoundingClientRect().top"""


def _overlaps(boxes: list[dict]) -> list[str]:
    found = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            if a["kind"] == b["kind"] == "button":
                continue  # Play and Pause sit side by side by design
            dx = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
            dy = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
            # A shared pixel edge is not an overlap; a title must keep clear of an axis title.
            clear = -3 if {a["kind"], b["kind"]} == {"title", "axis title"} else 2
            if dx > clear and dy > clear:
                found.append(f"{a['kind']} {a['text']!r} overlaps {b['kind']} {b['text']!r}")
    return found


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("path", PAGES)
def test_no_text_overlaps_on_a_projector_or_a_phone(chromium, app_server, path, size):
    width, height = SIZES[size]
    with browser.sized_page(chromium, width, height) as page:
        shot = browser.assert_app_rendered(
            page, f"{app_server.url}/{path}", page.console, f"layout-{path or 'surfaces'}-{size}"
        )
        # A phone's first run draws for a wide page; the width it reports reruns the page.
        pending = page.evaluate(f"document.querySelectorAll({browser.WIDTH_PENDING!r}).length")
        assert pending == 0, f"{path or 'surfaces'} at {width}×{height}: never drawn for this width; see {shot}"
        charts = page.evaluate(BOXES)
        problems = [p for boxes in charts for p in _overlaps(boxes)]
        assert not problems, f"{path or 'surfaces'} at {width}×{height}: {problems}; see {shot}"
        hidden = page.evaluate(UNDER_HEADER)
        assert hidden <= 0, f"{path or 'surfaces'} at {width}×{height}: the first line is {hidden:.1f} px under " \
                            f"the navigation bar; see {shot}"
        cut = page.evaluate(CUT)
        assert not cut, f"{path or 'surfaces'} at {width}×{height}: labels cut short: {cut}; see {shot}"
        if size == "projector":  # a projector shows a page's tables whole (a phone scrolls them)
            widths = page.evaluate("[...document.querySelectorAll('.optviz-table')]"
                                   ".map(t => t.scrollWidth - t.clientWidth)")
            assert not any(widths), f"{path or 'surfaces'}: a table scrolls sideways by {widths} px; see {shot}"
            if path in ("", "datasets", "compare", "online"):
                assert widths, f"{path or 'surfaces'}: no table; see {shot}"


# What Plotly had to widen: a margin too small for the ticks, legend or slider costs a second
# full draw of the figure on every change.
WIDENED = """() => {
  const gd = document.querySelector('.js-plotly-plot'), m = gd.layout.margin, s = gd._fullLayout._size;
  return ['l', 'r', 't', 'b'].filter(k => m[k] !== undefined && s[k] > m[k]).map(k => [k, m[k], s[k]]); }"""


@pytest.mark.parametrize("path", ["", "?view=3d", "datasets", "online"])
def test_the_explore_charts_are_drawn_once_on_a_laptop(chromium, app_server, path):
    with browser.sized_page(chromium, 1440, 900) as page:
        shot = f"margins-{path or 'surfaces'}"
        shot = browser.assert_app_rendered(page, f"{app_server.url}/{path}", page.console, shot)
        page.wait_for_function("() => document.querySelector('.js-plotly-plot')?._fullLayout", timeout=60_000)
        assert page.evaluate(WIDENED) == [], f"Plotly widened a margin (and drew twice); see {shot}"


# Counts the times a width probe said the server had not drawn for the page's width.
COUNT_PENDING = """window.optvizPending = 0;
new MutationObserver((changes) => { for (const c of changes)
  if (c.target.dataset && c.target.dataset.optvizLayout === 'pending') window.optvizPending++; })
  .observe(document, {attributes: true, subtree: true, attributeFilter: ['data-optviz-layout']});"""


@pytest.mark.parametrize(("agent", "path"), [*(("phone", path) for path in PAGES), ("desktop", "datasets")])
def test_a_phone_draws_its_first_run_for_a_phone(chromium, app_server, agent, path):
    """A phone says so in its user agent, so its first run is drawn stacked: no wide figure
    first, and no rerun for its width. A desktop window as narrow still gets that rerun."""
    options = {"user_agent": PHONE_AGENT} if agent == "phone" else {}
    with browser.sized_page(chromium, *SIZES["phone"], **options) as page:
        page.add_init_script(COUNT_PENDING)
        shot = browser.assert_app_rendered(page, f"{app_server.url}/{path}", page.console,
                                           f"first-run-{agent}-{path.split('?')[0] or 'surfaces'}")
        problems = [p for boxes in page.evaluate(BOXES) for p in _overlaps(boxes)]
        assert not problems, f"{path or 'surfaces'} on a {agent}: {problems}; see {shot}"
        pending = page.evaluate("window.optvizPending")
        if agent == "phone":
            assert pending == 0, f"a phone's first run was drawn for a wide page, then again; see {shot}"
        else:
            assert pending >= 1, f"a narrow desktop window's probe never asked for its width; see {shot}"

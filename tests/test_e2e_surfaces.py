"""The Surfaces page in a real browser: paths drawn, a change redraws them, a share link reproduces them."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from optviz import codec
from optviz.presets import DEFAULTS, PRESETS
from tests import browser

DEFAULT = DEFAULTS["surface"]

# A journey of several page loads: the full suite (CI) runs it; the inner loop leaves it out.
pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Each run's drawn path, read from Plotly's own decoded data in the page.
PATHS = """() => {
  const gd = document.querySelector('.js-plotly-plot');
  if (!gd || !gd._fullData) return null;
  return gd._fullData
    .filter(d => (d.legendgroup || '').startsWith('run') && d.mode === 'lines' && d.xaxis === 'x' && d.showlegend)
    .map(d => ({run: d.legendgroup, name: d.name, n: d.x.length,
                last: [d.x[d.x.length - 1], d.y[d.y.length - 1]]}));
}"""


def _paths(page):
    page.wait_for_function(f"({PATHS})() !== null && ({PATHS})().length > 0", timeout=60_000)
    return page.evaluate(PATHS)


def _assert_clean(page, shot):
    assert page.locator('[data-testid="stException"]').count() == 0, f"exception shown; see {shot}"
    assert page.console.errors == [], "browser console errors:\n" + "\n".join(page.console.errors)


def test_paths_are_drawn(page, app_server):
    shot = browser.assert_app_rendered(page, app_server.url, page.console, "e2e-surfaces-default")
    paths = _paths(page)
    assert [p["name"] for p in paths] == [r.label for r in DEFAULT.runs]
    assert all(p["n"] > 100 for p in paths), paths
    _assert_clean(page, shot)


def test_changing_an_optimizer_redraws_its_path(page, app_server):
    browser.assert_app_rendered(page, app_server.url, page.console, "e2e-surfaces-before-change")
    before = _paths(page)
    main = page.locator('[data-testid="stMain"]')
    # The first run's settings are open: one run's widgets at a time.
    select = main.locator('[data-testid="stSelectbox"]', has_text="Optimizer").first
    browser.choose(page, select, "Adagrad")
    # Compare in the page, value for value: formatting the numbers in Python and in JS differs.
    page.wait_for_function(
        f"(old) => {{ const p = ({PATHS})(); return p && p.length && "
        f"(p[0].last[0] !== old[0] || p[0].last[1] !== old[1]); }}",
        arg=before[0]["last"],
        timeout=60_000,
    )
    after = _paths(page)
    assert after[0]["last"] != before[0]["last"]
    assert after[1:] == before[1:]  # the other runs did not move
    shot = browser.screenshot(page, "e2e-surfaces-after-change")
    # The run's label followed its optimizer: the run list and the legend say Adagrad.
    assert "1. Adagrad" in main.locator('[data-testid="stButtonGroup"]', has_text="1.").first.inner_text()
    assert after[0]["name"] == "Adagrad"
    _assert_clean(page, shot)


def test_share_link_reproduces_the_setup(page, app_server, chromium):
    preset = PRESETS["local-minima"].experiment
    link = app_server.url + "/" + codec.query_string(codec.encode(preset))
    browser.assert_app_rendered(page, link, page.console, "e2e-share-first")
    first = _paths(page)
    url = page.url  # what a teacher would copy from the address bar
    exp, _, warnings = codec.decode({k: v for k, v in parse_qs(urlsplit(url).query).items()}, DEFAULT)
    assert not warnings and exp == preset

    with browser.sized_page(chromium) as student:  # another browser: a student opening the link
        shot = browser.assert_app_rendered(student, url, student.console, "e2e-share-second")
        assert _paths(student) == first
        assert student.console.errors == []
    _assert_clean(page, shot)


def test_malformed_link_warns_in_the_page(page, app_server):
    shot = browser.assert_app_rendered(
        page, app_server.url + "/?surface=nope&steps=-3&run=Adam;lr=oops", page.console, "e2e-bad-link"
    )
    warnings = page.locator('[data-testid="stAlertContentWarning"]')
    warnings.first.wait_for(timeout=30_000)
    assert "Link:" in warnings.first.inner_text()
    _paths(page)  # the defaults still draw
    _assert_clean(page, shot)


def test_clicking_the_contour_moves_the_start(page, app_server):
    browser.assert_app_rendered(page, app_server.url, page.console, "e2e-click-before")
    sidebar = page.locator('[data-testid="stSidebar"]')
    before = sidebar.get_by_label("x", exact=True).input_value(), sidebar.get_by_label("y", exact=True).input_value()
    area = page.locator('.js-plotly-plot .nsewdrag').first.bounding_box()
    x, y = area["x"] + area["width"] * 0.75, area["y"] + area["height"] * 0.25
    page.mouse.move(x, y)
    page.mouse.click(x, y)
    page.wait_for_function(
        """([bx, by]) => {
            const side = document.querySelector('[data-testid="stSidebar"]');
            const [ix, iy] = [...side.querySelectorAll('input[aria-label="x"], input[aria-label="y"]')];
            return ix && iy && (ix.value !== bx || iy.value !== by);
        }""",
        arg=list(before),
        timeout=60_000,
    )
    after = sidebar.get_by_label("x", exact=True).input_value(), sidebar.get_by_label("y", exact=True).input_value()
    (x0, x1), (y0, y1) = DEFAULT.problem.spec.domain
    assert x0 + 0.6 * (x1 - x0) < float(after[0]) < x1 and y0 + 0.6 * (y1 - y0) < float(after[1]) < y1
    page.wait_for_function(f"({PATHS})() !== null", timeout=60_000)
    browser.settle(page)
    shot = browser.screenshot(page, "e2e-click-after")
    _assert_clean(page, shot)


def test_an_lr_change_updates_the_chart_in_place_and_keeps_the_zoom(page, app_server):
    """One chart, redrawn by Plotly.react: no remount (no flash), and uirevision keeps the view."""
    shot = browser.assert_app_rendered(page, app_server.url, page.console, "e2e-zoom-before")
    before = _paths(page)
    assert page.locator(".optviz-plot.js-plotly-plot").count() == 1, f"the chart is not the in-place one; see {shot}"
    page.evaluate("() => { document.querySelector('.js-plotly-plot').__mark = 1; }")
    area = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()  # the contour: drag a zoom box
    page.mouse.move(area["x"] + area["width"] * 0.2, area["y"] + area["height"] * 0.2)
    page.mouse.down()
    page.mouse.move(area["x"] + area["width"] * 0.5, area["y"] + area["height"] * 0.6, steps=8)
    page.mouse.up()
    zoomed = page.evaluate("() => { const l = document.querySelector('.js-plotly-plot')._fullLayout; "
                           "return [l.xaxis.range, l.yaxis.range]; }")
    assert zoomed[0] != [-2, 2], zoomed
    lr = page.locator('[data-testid="stMain"]').get_by_label("lr", exact=True).first
    lr.fill("0.0017")
    lr.press("Enter")
    page.wait_for_function(
        f"(old) => {{ const p = ({PATHS})(); return p && p.length && "
        f"(p[0].last[0] !== old[0] || p[0].last[1] !== old[1]); }}",
        arg=before[0]["last"],
        timeout=60_000,
    )
    browser.settle(page)
    view = page.evaluate("""() => { const gd = document.querySelector('.js-plotly-plot');
        return {same: gd.__mark === 1, x: gd._fullLayout.xaxis.range, y: gd._fullLayout.yaxis.range}; }""")
    shot = browser.screenshot(page, "e2e-zoom-after")
    assert view["same"], f"the chart was mounted anew; see {shot}"
    assert [view["x"], view["y"]] == zoomed, f"the zoom was lost: {view}; see {shot}"
    _assert_clean(page, shot)


# Where each run's head is, and the path it moves along, at the step the slider shows.
HEADS = """() => {
  const gd = document.querySelector('.js-plotly-plot');
  const slider = gd._fullLayout.sliders[0];
  const step = Number(slider.steps[slider.active].label);
  const runs = gd._fullData.filter(d => (d.legendgroup || '').startsWith('run') && d.xaxis === 'x');
  const path = (g) => runs.find(d => d.legendgroup === g && d.mode === 'lines' && d.showlegend);
  const head = (g) => runs.find(d => d.legendgroup === g && d.mode === 'markers' && d.marker.size >= 15);
  return {step, frames: gd._transitionData._frames.length,
          heads: [...new Set(runs.map(d => d.legendgroup))].map(g => {
            const p = path(g), h = head(g), i = Array.from(p.customdata).indexOf(step);
            return {run: g, head: [h.x[0], h.y[0]], path: [p.x[i], p.y[i]]};
          })};
}"""


def test_the_step_slider_moves_each_head_along_its_path(page, app_server):
    """The frames are cut in the browser from the paths (test_e2e_frames.py): dragging the slider
    to a step puts every run's head on its own path's point at that step."""
    shot = browser.assert_app_rendered(page, app_server.url, page.console, "e2e-slider-before")
    before = page.evaluate(HEADS)
    assert before["frames"] == 80 and before["step"] == DEFAULT.n_steps, f"see {shot}"
    rail = page.locator(".slider-rail-rect").first.bounding_box()
    page.mouse.click(rail["x"] + rail["width"] * 0.25, rail["y"] + rail["height"] / 2)
    page.wait_for_function(f"() => ({HEADS})().step < {DEFAULT.n_steps}", timeout=30_000)
    browser.settle(page)
    after = page.evaluate(HEADS)
    shot = browser.screenshot(page, "e2e-slider-after")
    assert 0 < after["step"] < DEFAULT.n_steps / 2, f"{after['step']}; see {shot}"
    assert len(after["heads"]) == len(DEFAULT.runs)
    for run in after["heads"]:
        assert run["head"] == run["path"], f"{run}; see {shot}"
    _assert_clean(page, shot)


# Which plotly.js bundles the page has run, by address, and what its chart shows.
BUNDLES = """() => {
  const gd = document.querySelector('.js-plotly-plot');
  return {bundles: Object.keys(window.optvizPlotly || {}).map(u => u.split('/').pop()),
          scene: !!(gd && gd._fullLayout && gd._fullLayout.scene && gd._fullData.some(d => d.type === 'surface')),
          contour: !!(gd && gd._fullData && gd._fullData.some(d => d.type === 'heatmap'))};
}"""
# When the page's chart was first drawn.
FIRST_DRAW = """new MutationObserver(() => {
  const gd = document.querySelector('.js-plotly-plot');
  if (!gd || !gd.on || gd.__first) return;
  gd.__first = 1;
  gd.on('plotly_afterplot', () => { window.__firstDraw = window.__firstDraw || performance.now(); });
}).observe(document, {childList: true, subtree: true});"""


def test_the_3d_view_loads_the_full_plotly_and_the_contour_comes_back(page, app_server):
    """A 2-D page is drawn by plotly.js's cartesian bundle, and runs the full one only once its
    chart is drawn; the 3-D view draws with the full bundle in the same place, and the contour
    after it again."""
    from optviz.ui import plot

    cartesian, full = plot.CARTESIAN_ROUTE.split("/")[-1], plot.ROUTE.split("/")[-1]
    page.add_init_script(FIRST_DRAW)
    shot = browser.assert_app_rendered(page, app_server.url, page.console, "e2e-3d-before")
    page.wait_for_function(f"({BUNDLES})().bundles.length === 2", timeout=30_000)  # run when the page is idle
    state = page.evaluate(BUNDLES)
    assert state["bundles"] == [cartesian, full] and state["contour"], (state, shot)
    started = page.evaluate(f"performance.getEntriesByType('resource').find(e => e.name.endsWith('/{full}')).startTime")
    assert started > page.evaluate("window.__firstDraw"), "the full bundle was fetched before the chart was drawn"
    page.get_by_role("radio", name="3-D", exact=True).click()
    page.wait_for_function(f"({BUNDLES})().scene", timeout=60_000)
    browser.settle(page)
    shot = browser.screenshot(page, "e2e-3d-surface")
    assert page.locator(".optviz-plot.js-plotly-plot").count() == 1, f"one chart in its place; see {shot}"
    page.get_by_role("radio", name="Contour", exact=True).click()
    page.wait_for_function(f"(() => {{ const s = ({BUNDLES})(); return s.contour && !s.scene; }})", timeout=60_000)
    browser.settle(page)
    shot = browser.screenshot(page, "e2e-3d-back")
    assert _paths(page), f"no paths on the contour again; see {shot}"
    _assert_clean(page, shot)


# When the page's first number input (the run editor) and first preset button appeared, and how
# many figures the chart has drawn (a new data array each: a resize or a hover redraws the same).
FIRST_WIDGETS = """new MutationObserver(() => {
  const now = performance.now();
  if (!window.__editorAt && document.querySelector('[data-testid=stMain] [data-testid=stNumberInput]'))
    window.__editorAt = now;
  if (!window.__presetsAt && document.querySelector('[data-testid=stSidebar] [data-testid=stButton]'))
    window.__presetsAt = now;
  const gd = document.querySelector('.js-plotly-plot');
  if (gd && gd.on && !gd.__counted) {
    gd.__counted = 1;
    window.__figures = 0;
    gd.on('plotly_afterplot', () => { if (gd.data !== gd.__data) { gd.__data = gd.data; window.__figures++; } });
  }
}).observe(document, {childList: true, subtree: true});"""


@pytest.mark.parametrize("path", ["", "/online?steps=100"])
def test_a_page_just_opened_draws_its_chart_before_the_rest(page, app_server, path):
    """A page whose results come at once sends its chart alone, and the rest once the chart is
    drawn: the browser draws the chart before it renders the run editor and the presets, then
    the whole page comes, and the chart is not drawn again."""
    page.add_init_script(FIRST_DRAW + FIRST_WIDGETS)
    shot = browser.assert_app_rendered(page, app_server.url + path, page.console, "e2e-chart-first")
    t = page.evaluate("({draw: window.__firstDraw, editor: window.__editorAt, presets: window.__presetsAt,"
                      " figures: window.__figures})")
    assert t["draw"] and t["editor"] and t["presets"], (t, shot)  # the whole page came
    assert t["draw"] < t["editor"] and t["draw"] < t["presets"], (t, shot)
    assert t["figures"] == 1, f"the chart was drawn again: {t}; see {shot}"
    assert page.locator(".st-key-optviz-loading").count() == 0
    # The full plotly.js (for a 3-D view) still loads, once the rest of the page has come.
    page.wait_for_function(f"({BUNDLES})().bundles.length === 2", timeout=30_000)
    assert "run=" in urlsplit(page.url).query  # the link written in the first run stays
    _assert_clean(page, shot)


def test_the_download_menu_draws_its_buttons_when_opened_and_gives_the_config(page, app_server, tmp_path):
    """The downloads wait in a menu: a page's load draws none of them. The config downloaded
    is the experiment on the page."""
    from optviz.experiment import from_json

    shot = browser.assert_app_rendered(page, app_server.url, page.console, "e2e-downloads-closed")
    buttons = page.locator('[data-testid="stDownloadButton"]')
    assert buttons.count() == 0, f"download buttons drawn with the page; see {shot}"
    page.get_by_test_id("stPopoverButton").filter(has_text="Download").click()
    buttons.first.wait_for(timeout=30_000)
    shot = browser.screenshot(page, "e2e-downloads-open")
    labels = [b.inner_text().strip().splitlines()[-1] for b in buttons.all()]  # after each one's icon
    assert labels == ["Runs (CSV)", "Runs (JSON)", "Animation (HTML)", "Config (JSON)"], shot
    with page.expect_download(timeout=60_000) as download:
        buttons.filter(has_text="Config (JSON)").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    exp = from_json(saved.read_text())
    assert exp.problem == DEFAULT.problem and [r.label for r in exp.runs] == [r.label for r in DEFAULT.runs]
    _assert_clean(page, shot)

"""The in-place chart component (``optviz.ui.plot``) in a bare page: what Streamlit does to it,
done by hand."""

from __future__ import annotations

import json
from pathlib import Path

import plotly
import pytest

from optviz.ui import plot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"

# Mounts the component, then unmounts it (as a page switch does) after k microtasks, for each k up
# to 60: before the draw, in the middle of Plotly.react (whose steps, auto-margin redraws included,
# follow one another in microtasks), and after it.
UNMOUNT_MID_DRAW = """async ([js, figure]) => {
  const m = await import(URL.createObjectURL(new Blob([js], {type: "text/javascript"})));
  const out = [];
  for (let k = 0; k <= 60; k++) {
    const parent = document.createElement("div");
    document.body.appendChild(parent);
    const cleanup = m.default({data: new TextEncoder().encode(figure), parentElement: parent,
                               setTriggerValue: () => {}});
    const div = parent.firstChild;
    for (let i = 0; i < k; i++) await null;
    const midDraw = div.dataset.drawing === "1" && !!div._fullLayout;
    parent.remove();
    cleanup();
    for (let i = 0; i < 100 && (div._fullLayout || div.dataset.drawing); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    out.push({k, midDraw, purged: !div._fullLayout, text: div.textContent.slice(0, 200)});
  }
  return out;
}"""


def test_a_chart_unmounted_while_it_draws_is_purged_without_an_error(page):
    page.set_content("<html><body></body></html>")
    page.add_script_tag(path=str(PLOTLY_JS))
    # A colour bar and a legend push the margins: Plotly.react redraws once more to fit them.
    data = [{"type": "contour", "z": [[1, 2], [3, 4]], "colorbar": {"title": {"text": "loss"}}},
            {"type": "scatter", "y": [1, 3, 2], "name": "a rather long run name"}]
    figure = json.dumps({"figure": {"data": data, "layout": {"height": 300}},
                         "plotly": "unused: Plotly is on the page", "config": {}})
    out = page.evaluate(UNMOUNT_MID_DRAW, [plot._JS, figure])
    assert any(o["midDraw"] for o in out), out  # else no unmount fell mid-draw, and this shows nothing
    assert all(o["purged"] for o in out), [o for o in out if not o["purged"]]
    assert not any("could not be drawn" in o["text"] for o in out), out
    assert page.console.errors == [], "browser console errors:\n" + "\n".join(page.console.errors)


TAKEN_OUT = """async ([js, figure]) => {
  const m = await import(URL.createObjectURL(new Blob([js], {type: "text/javascript"})));
  const parent = document.createElement("div");
  document.body.appendChild(parent);
  m.default({data: new TextEncoder().encode(figure), parentElement: parent, setTriggerValue: () => {}});
  const div = parent.firstChild;
  for (let i = 0; i < 200 && div.dataset.drawing; i++) await new Promise((r) => setTimeout(r, 10));
  parent.remove();  // Streamlit takes a page's elements out before it calls their cleanup
  for (let i = 0; i < 5; i++) await new Promise((r) => requestAnimationFrame(r));
  await new Promise((r) => setTimeout(r, 300));
  return !!div._fullLayout;
}"""


def test_a_chart_taken_out_of_the_page_throws_no_error(page):
    """Its size observer fires as it is taken out, before its cleanup; Plotly refuses to resize a
    chart that is not in the page."""
    page.set_content("<html><body></body></html>")
    page.add_script_tag(path=str(PLOTLY_JS))
    figure = json.dumps({"figure": {"data": [{"type": "scatter", "y": [1, 3, 2]}], "layout": {"height": 300}},
                         "plotly": "unused: Plotly is on the page", "config": {}})
    assert page.evaluate(TAKEN_OUT, [plot._JS, figure])
    page.wait_for_timeout(300)
    assert page.console.errors == [], "browser console errors:\n" + "\n".join(page.console.errors)


# One chart handed a 2-D figure, a 3-D one, then a 2-D one again: each drawn by the bundle it names,
# in a div of its own where the bundle changes (a page's watchers see a new chart), its click
# still heard.
BUNDLE_SWITCH = """async ([js, flat, solid]) => {
  const m = await import(URL.createObjectURL(new Blob([js], {type: "text/javascript"})));
  const parent = document.createElement("div");
  document.body.appendChild(parent);
  const clicks = [];
  const mount = (figure) => m.default({data: new TextEncoder().encode(figure), parentElement: parent,
                                       setTriggerValue: (name, value) => clicks.push(value)});
  const drawn = async () => {
    for (let i = 0; i < 500 && (parent.firstChild.dataset.drawing || !parent.firstChild._fullLayout); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const div = parent.firstChild;  // a new one where the bundle changed
    div.emit("plotly_click", {points: [{x: 1, y: 2, curveNumber: 0, pointIndex: 0}]});
    return {scene: !!div._fullLayout.scene, types: div._fullData.map((d) => d.type), divs: parent.children.length,
            bundles: Object.keys(window.optvizPlotly || {}).map((u) => u.split("/").pop())};
  };
  const out = [];
  for (const figure of [flat, solid, flat]) { mount(figure); out.push(await drawn()); }
  const schema = (u) => Object.keys(window.optvizPlotly[new URL(u, document.baseURI).href].PlotSchema.get().traces);
  return {out, clicks: clicks.length, cartesian: schema("plotly-cartesian.js"), full: schema("plotly-full.js")};
}"""


def test_a_chart_switches_between_the_cartesian_and_the_full_plotly_as_its_figures_need(page):
    files = {"plotly-cartesian.js": plot.CARTESIAN_JS, "plotly-full.js": PLOTLY_JS}

    def serve(route):
        name = route.request.url.split("/")[-1]
        if name in files:
            return route.fulfill(body=files[name].read_bytes(), content_type="text/javascript")
        return route.fulfill(body="<html><body></body></html>", content_type="text/html")

    page.route("http://optviz.test/**", serve)
    page.goto("http://optviz.test/")
    traces = [{"type": "heatmap", "z": [[1, 2], [3, 4]]}, {"type": "scatter", "y": [1, 2]}]
    flat = json.dumps({"figure": {"data": traces, "layout": {"height": 300}},
                       "plotly": "plotly-cartesian.js", "config": {}, "clicks": True})
    solid = json.dumps({"figure": {"data": [{"type": "surface", "z": [[1, 2], [3, 4]]}], "layout": {"height": 300}},
                        "plotly": "plotly-full.js", "config": {}, "clicks": True})
    got = page.evaluate(BUNDLE_SWITCH, [plot._JS, flat, solid])
    first, solid_view, again = got["out"]
    assert first == {"scene": False, "types": ["heatmap", "scatter"], "divs": 1, "bundles": ["plotly-cartesian.js"]}
    assert solid_view["divs"] == again["divs"] == 1
    assert solid_view["scene"] and solid_view["types"] == ["surface"]
    assert sorted(solid_view["bundles"]) == ["plotly-cartesian.js", "plotly-full.js"]
    assert again["types"] == ["heatmap", "scatter"] and not again["scene"]
    assert got["clicks"] == 3  # the click listener is there after each switch of bundle
    assert set(plot.CARTESIAN_TRACES) <= set(got["cartesian"]) and "surface" not in got["cartesian"]
    assert {"surface", "scatter3d"} <= set(got["full"])
    assert page.console.errors == [], "browser console errors:\n" + "\n".join(page.console.errors)

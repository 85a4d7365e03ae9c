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

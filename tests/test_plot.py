"""The chart that is updated in place (optviz/ui/plot.py): its plotly.js route, its click event,
and which chart a page gets. The browser side (one draw, the zoom kept) is in test_e2e_surfaces."""

from __future__ import annotations

import asyncio
import gzip
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import plotly
import pytest
from streamlit.testing.v1 import AppTest

from optviz.ui import plot
from optviz.ui.widgets import HISTORY_SCRIPT


def _page():
    from optviz.ui.explore import SURFACES
    from optviz.ui.persist import keep_widget_values

    keep_widget_values()
    SURFACES()


def _get(route, headers):
    # In a thread of its own: the test process may already run an event loop (AppTest's).
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, route.endpoint(SimpleNamespace(headers=headers))).result()


def test_the_routes_serve_the_installed_plotly_and_its_cartesian_bundle_gzipped_and_long_cached(monkeypatch):
    monkeypatch.setattr(plot, "_served", False)  # routes() marks the process as serving it
    full, cartesian = plot.routes()
    served = ((full, plot.ROUTE, plot.PLOTLY_JS), (cartesian, plot.CARTESIAN_ROUTE, plot.CARTESIAN_JS))
    for route, path, source in served:
        assert route.path == path and plotly.__version__ in route.path
        shipped = source.read_bytes()
        packed = _get(route, {"accept-encoding": "gzip, deflate, br"})
        assert gzip.decompress(packed.body) == shipped and packed.headers["content-encoding"] == "gzip"
        plain = _get(route, {})  # a client that takes no gzip
        assert plain.body == shipped and "content-encoding" not in plain.headers
        assert all("immutable" in r.headers["cache-control"] for r in (packed, plain))
    assert plot._served
    assert plot.PLOTLY_JS == Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    assert len(plot.CARTESIAN_JS.read_bytes()) < len(plot.PLOTLY_JS.read_bytes()) / 2


def test_the_cartesian_bundle_is_the_plotly_js_that_the_plotly_package_bundles():
    """The shipped cartesian bundle must be refreshed with each plotly upgrade: a figure looks
    the same drawn by either bundle."""
    assert plot.js_version(plot.CARTESIAN_JS) == plot.js_version(plot.PLOTLY_JS) is not None
    assert plot._CARTESIAN


def test_a_2d_figure_takes_the_cartesian_bundle_and_a_3d_one_the_full(monkeypatch):
    import plotly.graph_objects as go

    flat = go.Figure([go.Heatmap(z=[[1]]), go.Scatter(y=[1]), go.Contour(z=[[1]])])
    assert plot.bundle_for(flat) == plot.CARTESIAN_ROUTE
    assert plot.bundle_for({"data": [{"y": [1]}]}) == plot.CARTESIAN_ROUTE  # a trace's type defaults to scatter
    assert plot.bundle_for(go.Figure([go.Scatter(y=[1]), go.Surface(z=[[1]])])) == plot.ROUTE
    assert plot.bundle_for({"data": [{"type": "scattergl", "y": [1]}]}) == plot.ROUTE
    # A race keeps its traces as plain dicts (AnimatedFigure), themed as a page draws it.
    from optviz import charts
    from optviz.engine import RunConfig, run
    from optviz.problems import SurfaceProblem
    from optviz.ui.theme import chart

    surface = SurfaceProblem("rosenbrock")
    res = run(surface.build(), [RunConfig("SGD", {"lr": 1e-3})], steps=20)
    for view, bundle in (("contour", plot.CARTESIAN_ROUTE), ("3d", plot.ROUTE)):
        race = chart(charts.race_figure(surface, res.arrays, charts.styles(["a"]), view=view))
        assert plot.bundle_for(race) == bundle
    monkeypatch.setattr(plot, "_CARTESIAN", False)  # a cartesian bundle of another plotly.js: the full one draws all
    assert plot.bundle_for(go.Figure([go.Scatter(y=[1])])) == plot.ROUTE


def _through_middleware(content_type: bytes, chunks: list[bytes], *, method: str = "GET", path: str = "/datasets",
                        accept: bytes = b"text/html,*/*", status: int = 200) -> tuple[dict, bytes, dict]:
    """What the middleware sends for an app that answers as Streamlit's static files do, in
    chunks, and the request headers that app saw."""
    seen: dict = {}

    async def app(scope, receive, send):
        seen.update(dict(scope["headers"]))
        headers = [(b"content-type", content_type), (b"content-length", str(len(b"".join(chunks))).encode()),
                   (b"etag", b'"abc"')]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        for i, chunk in enumerate(chunks):
            await send({"type": "http.response.body", "body": chunk, "more_body": i < len(chunks) - 1})

    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    (mw,) = plot.middleware()
    wrapped = mw.cls(app, *mw.args, **mw.kwargs)
    scope = {"type": "http", "method": method, "path": path,
             "headers": [(b"accept", accept), (b"accept-encoding", b"gzip, br")]}
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, wrapped(scope, None, send)).result()
    return dict(sent[0]["headers"]), b"".join(m.get("body", b"") for m in sent[1:]), seen


def test_each_page_names_plotly_in_its_head_and_nothing_else_changes():
    html = [b"<html><head><title>x</ti", b"tle></head></html>"]  # in two chunks
    headers, page, seen = _through_middleware(b"text/html; charset=utf-8", html)
    tag = (f'<script defer src=".{plot.CARTESIAN_ROUTE}" '
           'onload="(window.optvizPlotly=window.optvizPlotly||{})[this.src]=window.Plotly;this.dataset.ended=1" '
           'onerror="this.dataset.ended=1"></script></head>').encode()
    assert page == b"<html><head><title>x</title>" + HISTORY_SCRIPT.encode() + tag + b"</html>"
    assert headers[b"content-length"] == str(len(page)).encode() and b"etag" not in headers
    assert b"accept-encoding" not in seen  # asked uncompressed: Streamlit gzips every page but /
    for case in (dict(method="HEAD"), dict(accept=b"*/*"), dict(path="/media/abc.html"), dict(status=304)):
        headers, body, seen = _through_middleware(b"text/html", [b"<head></head>"], **case)
        assert body == b"<head></head>" and headers[b"etag"] == b'"abc"', case
        if case.get("status") != 304:
            assert seen[b"accept-encoding"] == b"gzip, br", case  # not a page: the request as it came
    headers, body, _ = _through_middleware(b"application/json", [b"{}</head>"])
    assert body == b"{}</head>" and headers[b"content-length"] == b"9"


def test_a_clicks_customdata_reads_as_a_list_from_either_chart():
    ours = plot.selection({"x": 1, "y": 2, "customdata": [3, 4, 0.5]})
    streamlits = {"selection": {"points": [{"customdata": {"1": 4, "0": 3, "2": 0.5}}]}}  # a typed array
    assert plot.clicked(ours) == plot.clicked(streamlits) == [3, 4, 0.5]
    assert plot.clicked(plot.selection(None)) is None and plot.clicked(None) is None
    assert plot.clicked(plot.selection({"x": 1, "y": 2})) is None  # no customdata
    assert plot.clicked(plot.selection({"x": 1, "y": 2, "customdata": 7})) == [7]  # a scalar's own


def test_a_click_reads_as_a_selection():
    click = {"x": 0.5, "y": 1.0, "curve_number": 2, "point_index": 7}
    assert plot.selection(click).selection.points == [click]
    assert plot.selection(click)["selection"]["points"] == [click]  # by key too, as Streamlit's event
    assert plot.selection(None).selection.points == []


def test_served_the_page_draws_its_figure_with_the_in_place_chart(monkeypatch):
    monkeypatch.setattr(plot, "_served", True)
    at = AppTest.from_function(_page, default_timeout=120).run()
    assert not at.exception
    assert not at.get("plotly_chart")
    (chart,) = [e for e in at.get("bidi_component") if plot.NAME in e.proto.component_name]
    data = json.loads(chart.proto.bytes)  # one JSON document, as bytes: Streamlit forwards it as it is
    figure = data["figure"]
    assert any(t.get("legendgroup") == "run0" for t in figure["data"])
    # The race's frames come as the paths they are cut from, in the browser (test_e2e_frames.py).
    assert "frames" not in figure and len(data["frames"]["names"]) == 80
    assert data["plotly"] == plot.CARTESIAN_ROUTE.lstrip("/")
    assert data["clicks"] is True  # a click on the contour starts there
    assert data["preload"] == plot.ROUTE.lstrip("/")  # for a later 3-D view


def test_not_served_the_page_falls_back_to_plotly_chart(monkeypatch):
    monkeypatch.setattr(plot, "_served", False)
    at = AppTest.from_function(_page, default_timeout=120).run()
    assert not at.exception and len(at.get("plotly_chart")) == 1


@pytest.mark.parametrize("steps", [500, 5000])
def test_a_race_sends_fewer_bytes_as_paths_than_as_frames(steps):
    """The in-place chart is sent each run's path once (plot.frames_json), never more than the
    frames it replaces: a long run's tails overlap, and its loss and lr are sent at the frames' ends only."""
    from optviz import charts
    from optviz.charts.common import to_json
    from optviz.engine import RunConfig, run
    from optviz.problems import SurfaceProblem

    problem = SurfaceProblem("rosenbrock")
    runs = [RunConfig("SGD", {"lr": 1e-3, "momentum": 0.9}), RunConfig("Adam", {"lr": 0.02})]
    res = run(problem.build(), runs, steps=steps, dtype="float64")
    for view in ("contour", "3d"):
        fig = charts.race_figure(problem, res.arrays, charts.styles(["a", "b"]), view=view)
        sent = len(to_json(fig, frames=False)) + len(plot.frames_json(fig._frames))
        assert sent < 0.8 * len(to_json(fig)), (view, sent, len(to_json(fig)))

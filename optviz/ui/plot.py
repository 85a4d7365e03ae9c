"""A Plotly chart that is updated in place, for the figure a class watches change.

Streamlit 1.67's ``st.plotly_chart`` derives the element's id from the figure, so every
new figure (each lr typed) mounts a new chart: Plotly draws it from scratch twice (the
second after Streamlit re-themes its copy), the chart flashes, and a zoom or a 3-D camera
is lost. This small ``st.components.v2`` component keeps one chart per key and hands each
new figure to ``Plotly.react``: one draw, and ``uirevision`` keeps the view.

plotly.js is served by ``serve.py`` (long-cached, gzipped once at start); nothing is fetched
from the internet. A 2-D figure takes plotly.js's cartesian bundle (:data:`CARTESIAN_ROUTE`,
shipped in ``assets/``: a third of the full bundle, so a first visit compiles and runs
3 MB less); the 3-D view takes the full bundle of the plotly package installed here
(:data:`ROUTE`). Where the app is not served that way (``streamlit run app.py``, AppTest),
:func:`chart` falls back to ``st.plotly_chart``.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import Any

import plotly
import streamlit as st
from plotly.io.json import to_json_plotly

from ..charts.common import dumps, to_json, typed_arrays
from .widgets import HISTORY_SCRIPT

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
# npm's plotly.js-cartesian-dist-min, MIT (assets/LICENSE.plotly.js), of the plotly.js that the
# plotly package bundles: https://registry.npmjs.org/plotly.js-cartesian-dist-min/-/
# plotly.js-cartesian-dist-min-4.1.1.tgz. Refresh it with a plotly upgrade: a test holds the two equal.
CARTESIAN_JS = Path(__file__).parent / "assets" / "plotly-cartesian.min.js"
# The trace types in the cartesian bundle (its package's README; a browser test checks them).
CARTESIAN_TRACES = frozenset({"bar", "box", "contour", "heatmap", "histogram", "histogram2d", "histogram2dcontour",
                              "image", "pie", "scatter", "scatterternary", "violin"})
# Versioned, so a browser may keep them for a year: a new plotly is a new address.
ROUTE = f"/optviz/plotly-{plotly.__version__}.min.js"
CARTESIAN_ROUTE = f"/optviz/plotly-cartesian-{plotly.__version__}.min.js"
NAME = "optviz_plot"  # the component's name, as a page's messages carry it
_served = False

# A race's frames, cut in the browser from each run's path (optviz.charts.race.PathFrames: its
# frames() is the same cut in Python, and a browser test holds the two equal).
FRAMES_JS = r"""
function typed(a) {
  if (a == null || Array.isArray(a)) return a;
  const bytes = Uint8Array.from(atob(a.bdata), (c) => c.charCodeAt(0));
  const T = {f4: Float32Array, f8: Float64Array, i4: Int32Array, u4: Uint32Array, i2: Int16Array,
             u2: Uint16Array, i1: Int8Array, u1: Uint8Array}[a.dtype];
  return new T(bytes.buffer);
}

function pathFrames(spec) {
  const runs = spec.runs, ends = typed(spec.ends), gap = typed(spec.gap), lr = typed(spec.lr);
  const cols = [["x", typed(spec.x)], ["y", typed(spec.y)], ["z", typed(spec.z)]].filter(([, c]) => c);
  const arrows = typed(spec.arrows), kinds = arrows ? arrows.length / (spec.names.length * runs * 4) : 0;
  return spec.names.map((name, f) => {
    const data = [];
    for (let r = 0; r < runs; r++) {
      const end = ends[f * runs + r], from = Math.max(0, end - spec.back);
      const tail = {type: spec.kind}, head = {type: spec.kind};
      for (const [axis, c] of cols) {
        const t = new c.constructor(end + 1 - from);
        for (let i = from; i <= end; i++) t[i - from] = c[i * runs + r];
        tail[axis] = t;
        head[axis] = [c[end * runs + r]];
      }
      data.push(tail, head, {type: "scatter", x: [end], y: [gap[f * runs + r]]});
      if (lr) data.push({type: "scatter", x: [Math.min(end, spec.lr_steps - 1)], y: [lr[f * runs + r]]});
    }
    for (let i = f * runs * kinds; i < (f + 1) * runs * kinds; i++) {
      const s = arrows.slice(4 * i, 4 * i + 4), drawn = s.every(Number.isFinite);
      data.push({type: "scatter", x: drawn ? [s[0], s[2]] : [null, null], y: drawn ? [s[1], s[3]] : [null, null]});
    }
    return {data, traces: spec.moving, name};
  });
}
"""

_JS = FRAMES_JS + r"""
// plotly.js bundles by address. The page's <head> names the cartesian one (plot.middleware), and a
// figure that needs more (the 3-D view) loads the full one. Each bundle's script records the Plotly
// it defined, in its load event, which follows its run at once.
const bundles = new Map();  // address -> the promise of its Plotly
function loadPlotly(url) {
  const src = new URL(url, document.baseURI).href;
  const known = (window.optvizPlotly || {})[src];
  if (known) return Promise.resolve(known);
  // A page that has Plotly from elsewhere (no bundle of ours): that one draws.
  if (window.Plotly && !window.optvizPlotly && ![...document.scripts].some((e) => e.src === src)) {
    return Promise.resolve(window.Plotly);
  }
  if (!bundles.has(src)) {
    bundles.set(src, new Promise((resolve, reject) => {
      // Wait for the <head>'s script rather than load and run it a second time, unless it has
      // already ended (failed, or loaded without defining Plotly): then load it afresh.
      let s = [...document.scripts].find((e) => e.src === src && !e.dataset.ended);
      if (!s) {
        s = document.createElement("script");
        s.src = src;
        document.head.appendChild(s);
      }
      const fail = () => { s.dataset.ended = "1"; bundles.delete(src); reject(new Error("could not load " + src)); };
      s.addEventListener("load", () => {
        if (!window.Plotly) return fail();
        (window.optvizPlotly = window.optvizPlotly || {})[src] = window.Plotly;
        resolve(window.Plotly);
      });
      s.addEventListener("error", fail);
    }));
  }
  return bundles.get(src);
}

// The full bundle, loaded and run once the page's chart is drawn (and the rest of a page that drew
// its chart first is here) and the browser is idle: a first switch to 3-D then draws as soon as a
// later one (it compiled and ran 4.8 MB first, 3 s).
const preloaded = new Set();
function preload(url) {
  if (!url || preloaded.has(url)) return;
  preloaded.add(url);
  const go = () => loadPlotly(url).catch(() => preloaded.delete(url));
  if (window.requestIdleCallback) window.requestIdleCallback(go, {timeout: 3000}); else setTimeout(go, 500);
}

const charts = new WeakMap();  // parentElement -> this chart's div and state

async function draw(c) {
  if (c.busy) { c.dirty = true; return; }  // a newer figure came while drawing: draw only the newest
  c.busy = true;
  try {
    do {
      c.dirty = false;
      const sent = c.sent, fig = sent.figure;
      const Plotly = await loadPlotly(sent.plotly);
      if (c.gone) return;
      if (c.dirty) continue;  // a newer figure came while its bundle loaded
      if (c.Plotly && c.Plotly !== Plotly) {  // drawn by the other bundle: a new div for this one
        c.Plotly.purge(c.div);
        const div = document.createElement("div");
        div.className = "optviz-plot";
        div.dataset.drawing = "1";
        c.resize.unobserve(c.div);
        c.div.replaceWith(div);
        c.resize.observe(div);
        c.div = div;
        c.listening = false;
      }
      c.Plotly = Plotly;
      const layout = fig.layout || {};
      delete layout.width;  // follow the page's width
      c.div.style.height = (layout.height || 450) + "px";
      const frames = fig.frames || (sent.frames ? pathFrames(sent.frames) : []);
      await Plotly.react(c.div, {data: fig.data || [], layout, frames, config: sent.config});
      if (sent.clicks && !c.listening) {
        c.listening = true;
        c.div.on("plotly_click", (ev) => {
          const p = ev && ev.points && ev.points[0];
          if (!p) return;
          // A typed-array row (customdata sent as binary) becomes a plain list, as Streamlit's own
          // chart would give it.
          const row = Array.isArray(p.customdata) || ArrayBuffer.isView(p.customdata);
          const custom = row ? Array.from(p.customdata) : p.customdata;
          c.send("click", {x: p.x, y: p.y, curve_number: p.curveNumber,
                           point_index: p.pointIndex ?? p.pointNumber, customdata: custom});
        });
      }
      if (!c.report) preload(sent.preload);  // else once the rest of the page is here (below)
    } while (c.dirty && !c.gone);
    delete c.div.dataset.drawing;
    reportDrawn(c);
  } finally {
    c.busy = false;
    if (c.gone && c.Plotly) c.Plotly.purge(c.div);  // unmounted while drawing: purged once the draw is done
  }
}

// A page that draws its chart before the rest (plot.chart's ``report_drawn``) hears when it is
// drawn, or could not be: once per chart.
function reportDrawn(c) {
  if (!c.report || c.reported || c.gone) return;
  c.reported = true;
  c.send("drawn", true);
}

// Where a figure's payload starts with this, the page asks to hear of its first draw; the flag
// is no part of the figure, and a rerun that drops it does not draw the figure again.
const REPORT = '{"report_drawn":true,';

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  let c = charts.get(parentElement);
  if (!c) {
    const div = document.createElement("div");
    div.className = "optviz-plot";
    parentElement.appendChild(div);
    c = {div, busy: false, dirty: false, listening: false};
    let frame = 0;
    c.resize = new ResizeObserver(() => {
      cancelAnimationFrame(frame);
      // A chart hidden meanwhile (its page rerunning, or left) has no size to take: Plotly
      // rejects the resize, and an unhandled rejection is a page error.
      frame = requestAnimationFrame(() => {
        if (!c.Plotly || !c.div._fullLayout || c.div.offsetParent === null) return;
        c.Plotly.Plots.resize(c.div).catch(() => {});
      });
    });
    c.resize.observe(div);
    charts.set(parentElement, c);
  }
  c.send = setTriggerValue;
  // One JSON document, sent as bytes (plot.chart): Streamlit forwards bytes as they are, where a
  // dict's figure would be encoded twice more on the server and parsed twice here.
  let text = new TextDecoder().decode(data);
  c.report = text.startsWith(REPORT);  // this run's page waits to hear that the chart is drawn
  if (c.report) text = "{" + text.slice(REPORT.length);
  // A rerun that leaves the figure as it was (a click elsewhere, another widget) keeps the
  // drawing and the user's zoom: Plotly.react would reset a view the figure has no uirevision for.
  if (c.text === text) {
    // The rest of a page that drew its chart first: now the full bundle may load and run, not
    // while the browser renders that rest (it took 1 to 2 s more on a browser's first loads).
    if (!c.report && c.Plotly) preload(c.sent.preload);
    return cleanup(c, parentElement);
  }
  c.div.dataset.drawing = "1";  // until this figure is drawn: tests and benchmarks wait for it
  c.text = text;
  c.sent = JSON.parse(text);  // drawn once: Plotly.react keeps what it is given
  draw(c).catch((e) => {
    if (c.gone) return;  // a page left mid-draw: nothing is shown, so nothing failed
    c.div.textContent = "The chart could not be drawn: " + e.message;
    console.error(e);
    reportDrawn(c);  // the rest of the page still comes
  });
  return cleanup(c, parentElement);
}

// Streamlit calls the last cleanup on unmount; an older one may run while still mounted.
function cleanup(c, parentElement) {
  return () => {
    if (parentElement.isConnected) return;
    c.gone = true;
    c.resize.disconnect();
    // Purging under a Plotly.react still in flight takes its layout away mid-draw (a TypeError in
    // plotly.js): the draw purges the chart when it ends instead.
    if (c.Plotly && !c.busy) c.Plotly.purge(c.div);
    charts.delete(parentElement);
  };
}
"""

# isolate_styles=False: plotly.js puts its styles (tool bar, hover labels) in the page's
# head, which a shadow root would keep out.
_CSS = ".optviz-plot { width: 100%; }"


@st.cache_resource(show_spinner=False)
def _component():
    return st.components.v2.component(NAME, js=_JS, css=_CSS, isolate_styles=False)


def js_version(path: Path) -> str | None:
    """The plotly.js version a bundle names in its opening comment."""
    try:
        with path.open("rb") as f:
            head = f.read(200).decode("ascii", "replace")
    except OSError:
        return None
    found = re.search(r"plotly\.js\b[^\n]*? v(\d+\.\d+\.\d+)", head)
    return found.group(1) if found else None


def _cartesian_ready() -> bool:
    """Whether the cartesian bundle is here, of the same plotly.js as the full one: a figure
    drawn by either looks the same. Else every figure takes the full bundle."""
    version = js_version(CARTESIAN_JS)
    return version is not None and version == js_version(PLOTLY_JS)


_CARTESIAN = _cartesian_ready()


def bundle_for(fig: Any) -> str:
    """The route of the plotly.js bundle that draws ``fig``: the cartesian one where it has every
    trace type the figure uses."""
    spec = fig if isinstance(fig, dict) else getattr(fig, "_spec", None)  # an AnimatedFigure's plain traces
    data = spec.get("data", ()) if spec is not None else fig.data
    kinds = {(t.get("type") if isinstance(t, dict) else t.type) or "scatter" for t in data}
    return CARTESIAN_ROUTE if _CARTESIAN and kinds <= CARTESIAN_TRACES else ROUTE


def _js_route(path: str, source: Path):
    from starlette.responses import Response
    from starlette.routing import Route

    plain = source.read_bytes()
    packed = gzip.compress(plain, 6)  # once, at server start: not in the event loop of a request
    cache = {"Cache-Control": "public, max-age=31536000, immutable", "Vary": "Accept-Encoding"}

    async def serve(request):
        if "gzip" in request.headers.get("accept-encoding", ""):
            return Response(packed, media_type="text/javascript", headers={**cache, "Content-Encoding": "gzip"})
        return Response(plain, media_type="text/javascript", headers=cache)

    return Route(path, serve)


def routes() -> list:
    """The routes that serve plotly.js to :func:`chart` (for ``st.App(routes=...)``)."""
    global _served
    served = [_js_route(ROUTE, PLOTLY_JS)] + ([_js_route(CARTESIAN_ROUTE, CARTESIAN_JS)] if _CARTESIAN else [])
    _served = True
    return served


# In the page's <head>, after Streamlit's own scripts: the browser fetches and compiles plotly.js
# while Streamlit starts and the first script run goes on on the server, instead of after the
# chart's element mounts. Its load event records the Plotly it defined (a 3-D figure loads the
# full bundle beside it); once it has ended (loaded or not), the chart can tell.
_HEAD_TAG = (f'<script defer src=".{CARTESIAN_ROUTE if _CARTESIAN else ROUTE}" '
             'onload="(window.optvizPlotly=window.optvizPlotly||{})[this.src]=window.Plotly;this.dataset.ended=1" '
             'onerror="this.dataset.ended=1"></script>').encode()
_HEAD = HISTORY_SCRIPT.encode() + _HEAD_TAG
# Not the downloads, Streamlit's own routes or its files: only the app's pages.
_NOT_PAGES = ("/media/", "/_stcore/", "/static/", "/component", "/optviz/")


class _PageHead:
    """ASGI middleware: each of the app's pages names plotly.js in its ``<head>``, after the
    script that keeps the browser's history one entry per picture (widgets.HISTORY_SCRIPT).

    A page is a browser's navigation (a GET that accepts HTML, outside Streamlit's own routes)
    answered 200 with HTML. It is asked of Streamlit uncompressed (Streamlit gzips every page
    but ``/``: a page of 9 kB); the edited page drops the validators of the file it came from,
    which no longer describe it.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers") or [])
        if (scope["type"] != "http" or scope.get("method") != "GET" or b"text/html" not in headers.get(b"accept", b"")
                or any(part in scope.get("path", "") for part in _NOT_PAGES)):
            return await self.app(scope, receive, send)
        scope = {**scope, "headers": [(k, v) for k, v in scope.get("headers") or [] if k.lower() != b"accept-encoding"]}
        held: dict | None = None
        body: list[bytes] = []

        async def edit(message):
            nonlocal held
            if message["type"] == "http.response.start":
                kept = {k.lower(): v for k, v in message.get("headers", [])}
                if (message.get("status") == 200 and kept.get(b"content-type", b"").startswith(b"text/html")
                        and b"content-encoding" not in kept):
                    held = message  # until the whole page is here
                    return
            elif held is not None:
                if message["type"] != "http.response.body":  # sent some other way: leave it as it is
                    start, held = held, None
                    await send(start)
                    await send(message)
                    return
                body.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                page = b"".join(body).replace(b"</head>", _HEAD + b"</head>", 1)
                drop = (b"content-length", b"etag", b"last-modified")
                headers = [(k, v) for k, v in held.get("headers", []) if k.lower() not in drop]
                await send({**held, "headers": [*headers, (b"content-length", str(len(page)).encode())]})
                await send({"type": "http.response.body", "body": page})
                return
            await send(message)

        await self.app(scope, receive, edit)


def middleware() -> list:
    """What edits each page's head (for ``st.App(middleware=...)``, beside :func:`routes`)."""
    from starlette.middleware import Middleware

    return [Middleware(_PageHead)]


def frames_json(source) -> str:
    """What the in-place chart is sent to cut a figure's frames from (``FRAMES_JS``)."""
    spec = source.to_spec()
    typed_arrays(spec)
    try:
        return dumps(spec)
    except (TypeError, ValueError):  # an array typed_arrays leaves as it is: plotly's encoder knows it
        return to_json_plotly(spec)


class _Event(dict):
    """A dict whose keys read as attributes too, as Streamlit's chart events do."""

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def selection(click: dict | None) -> _Event:
    """A click as ``st.plotly_chart``'s selection event: ``.selection.points``, or by key."""
    return _Event(selection=_Event(points=[click] if click else []))


def clicked(event) -> list | None:
    """The clicked point's ``customdata`` as a list, or None. From Streamlit's own chart, a numpy
    (typed-array) customdata arrives as a dict keyed "0", "1", ..."""
    points = ((event or {}).get("selection") or {}).get("points") or []
    for p in points:
        data = p.get("customdata")
        if isinstance(data, dict):
            data = [data[k] for k in sorted(data, key=int)]
        if data is not None:
            return list(data) if isinstance(data, (list, tuple)) else [data]
    return None


def draws_in_place() -> bool:
    """Whether :func:`chart` is the in-place chart rather than ``st.plotly_chart``: it reports a
    click on a heatmap's cell (``st.plotly_chart`` reports clicks on points only), and its first
    draw (``report_drawn``)."""
    return _served


def chart(fig: Any, *, key: str, where, config: dict | None = None, clicks: bool = False,
          report_drawn: bool = False) -> _Event:
    """Draw ``fig`` in the container ``where``; with the same ``key`` in the same place, a new
    figure updates the chart in place.

    Not in an ``st.empty``: the placeholder is cleared at each rerun, and the chart with it.
    With ``clicks``, a click on a point reruns the page, and this returns it as
    ``st.plotly_chart``'s selection event; without, a click does nothing (a phone's tap shows
    the hover) and a drag zooms. With ``report_drawn`` (the in-place chart only), the chart's
    first draw, or its failure, reruns the page (in a fragment, the fragment) once, and the
    event's ``drawn`` is True in that run.
    """
    config = {"displaylogo": False, **(config or {})}
    if not _served:
        return where.plotly_chart(fig, key=key, on_select="rerun" if clicks else "ignore", theme=None,
                                  config=config, **({"selection_mode": "points"} if clicks else {}))  # fmt: skip
    # The figure's own JSON goes in as it is. plotly.js's address is relative: the page's base path.
    bundle = bundle_for(fig)
    parts = {"config": dumps(config), "clicks": dumps(clicks), "plotly": dumps(bundle.lstrip("/"))}
    if bundle != ROUTE:  # run once the chart is drawn, for a later 3-D view
        parts["preload"] = dumps(ROUTE.lstrip("/"))
    source = getattr(fig, "_frames", None)
    if source is not None and not getattr(fig, "_raw_frames", None):  # cut in the browser (FRAMES_JS)
        parts |= {"figure": to_json(fig, frames=False), "frames": frames_json(source)}
    else:
        parts["figure"] = to_json(fig)
    report = '"report_drawn":true,' if report_drawn else ""  # first: the browser takes it off (_JS's REPORT)
    data = ("{" + report + ",".join(f'"{name}":{text}' for name, text in parts.items()) + "}").encode()
    with where:
        result = _component()(key=key, data=data, on_click_change=lambda: None, on_drawn_change=lambda: None,
                              height="content")
    event = selection(getattr(result, "click", None) if clicks else None)
    event["drawn"] = bool(getattr(result, "drawn", None))
    return event


__all__ = ["CARTESIAN_ROUTE", "CARTESIAN_TRACES", "FRAMES_JS", "NAME", "ROUTE", "bundle_for", "chart",
           "clicked", "draws_in_place", "frames_json", "middleware", "routes", "selection"]

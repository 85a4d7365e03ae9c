"""A class of N students on one server: how long until each one's change shows, and what it costs.

    python bench/load.py                          # N = 10, 25, 50; 60 s each; a fresh server per N
    python bench/load.py --levels 50 --duration 120
    python bench/load.py --url http://127.0.0.1:8501 --pid 12345 --levels 5   # a server already running
    python bench/load.py --replicas 2 --levels 10   # two servers, each student stuck to one (as deploy/ does)
    python bench/load.py --option runner.postScriptGC=false                    # any Streamlit option
    python bench/load.py --levels 50 --profile artifacts/server.prof          # where the server's CPU goes

Run it with the project's environment (`.venv/bin/python bench/load.py`, after
`python3 tasks.py setup`). It measures the server, not the clients: instead of N browsers
it runs N light clients in one process that speak Streamlit's own websocket protocol
(`/_stcore/stream`, protobuf BackMsg/ForwardMsg from `streamlit.proto`) the way the browser
does:

- It opens the default page (`/`, the Surfaces page: four runs on Rosenbrock) with a
  `rerun_script` carrying the page's query string, and reads the ForwardMsgs: the widgets
  and their values (which it keeps and sends back with every rerun, as the browser's
  widget manager does), the page's query string and script hash, the fragment each widget
  belongs to, the chart, and `script_finished`.
- Every `--interval` seconds (uniformly jittered between 0.5x and 1.5x, from the previous
  change; never before the previous change has finished: a student looks before clicking
  again) it changes the learning rate of the first run: the number_input labelled "lr" in
  the expander labelled "1. ...", with the key `s.r0.hp.lr` only as a tie-breaker. Every
  change uses a new value, so no student gets a cached result.
- Per change it times send -> the rerun's Plotly chart delta ("chart") and send ->
  `script_finished` ("done"). Errors: exception elements, error boxes, a run that does not
  finish within `--timeout`, and dropped connections.

The server's CPU (utime + stime of its process tree, from /proc) is read over the measured
window, which starts once every client has loaded the page; its memory is the peak RSS
(sampled every 0.5 s) and peak PSS (every 5 s; what several replicas really add up to).
A warm-up session loads the page once before the clients connect, as a teacher would
before the class. First-load times (connect -> the whole page's run finished, all N clients
connecting within `--ramp` seconds) are reported separately.

`--replicas K` starts K servers and keeps student i on server i % K, as the sticky
sessions of deploy/ do (without nginx in between); CPU and memory are their sums.

`--profile PATH` starts the server with cProfile in every thread (bench/profile_server/
sitecustomize.py) and writes the merged statistics to PATH when the server stops; read them
with `python -m pstats PATH` (sort cumtime / tottime). Profiling slows the server, so its
latencies are not the real ones.

Output: a table, and JSON (`--json`, default artifacts/load-bench.json) with every sample.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

sys.path.insert(0, str(Path(__file__).resolve().parent))
import serverstats

ROOT = Path(__file__).resolve().parents[1]
FINISHED = ForwardMsg.ScriptFinishedStatus
DONE_OK = {FINISHED.FINISHED_SUCCESSFULLY, FINISHED.FINISHED_FRAGMENT_RUN_SUCCESSFULLY}
REPORT_DRAWN = b'{"report_drawn":true,'  # a chart that asks to hear of its first draw (optviz/ui/plot.py)
FIRST_RUN_LABEL = re.compile(r"^\W*1\.")  # the first run's expander: "**1.** SGD — SGD, lr 0.001"


# ---------------------------------------------------------------- the browser's widget state


def initial_value(kind: str, el) -> tuple[str, object] | None:
    """The value the browser gives a widget when it arrives: (WidgetState field, value).

    A widget the script sets (`set_value`) takes `value`; otherwise its default. None for
    widgets that hold no value (buttons, charts) or have none yet.
    """
    if "set_value" not in el.DESCRIPTOR.fields_by_name:
        return None
    setv = el.set_value

    def opt(name):
        return getattr(el, name) if el.HasField(name) else None

    if kind == "number_input":
        v = opt("value") if setv else opt("default")
        if v is None:
            return None
        return ("int_value", int(v)) if el.data_type == el.INT else ("double_value", v)
    if kind in ("selectbox", "radio"):
        if setv and el.HasField("raw_value"):
            return "string_value", el.raw_value
        i = opt("default")
        return None if i is None or i >= len(el.options) else ("string_value", el.options[i])
    if kind in ("text_input", "text_area", "time_input"):
        v = opt("value") if setv else opt("default")
        return None if v is None else ("string_value", v)
    if kind == "color_picker":
        return "string_value", el.value if setv else el.default
    if kind == "checkbox":
        return "bool_value", el.value if setv else el.default
    if kind == "button_group":
        return "string_array_value", list(el.raw_values) if setv else [el.options[i].content for i in el.default]
    if kind == "multiselect":
        return "string_array_value", list(el.raw_values) if setv else [el.options[i] for i in el.default]
    if kind == "date_input":
        return "string_array_value", list(el.value if setv else el.default)
    if kind == "slider":
        if el.type == el.SELECT_SLIDER:
            return "string_array_value", list(el.raw_value)
        return "double_array_value", list(el.value if setv else el.default)
    return None


def set_widget_state(ws, field_name: str, value) -> None:
    if field_name in ("string_array_value", "double_array_value"):
        getattr(ws, field_name).data.extend(value)
    else:
        setattr(ws, field_name, value)


@dataclass
class Widget:
    kind: str
    label: str
    path: tuple[int, ...]
    fragment: str


@dataclass
class Action:
    """One change by one student, as seen by that student's client."""

    sent: float
    started: bool = False  # the server began this rerun (new_session): later messages are its own
    chart: float | None = None
    done: float | None = None
    status: str = ""
    bytes: int = 0


@dataclass
class Stats:
    actions: list[Action] = field(default_factory=list)
    first_loads: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)

    def error(self, kind: str, detail: str = "") -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if len(self.error_samples) < 20:
            self.error_samples.append(f"{kind}: {detail}"[:300])


class Client:
    """One student's browser tab, reduced to its websocket."""

    def __init__(self, base_url: str, stats: Stats, *, timeout: float, lr_label: str, lr_key_hint: str):
        parts = urlsplit(base_url)
        self.http = f"{parts.scheme}://{parts.netloc}"
        self.ws_url = (
            f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}{parts.path.rstrip('/')}/_stcore/stream"
        )
        self.page_url = base_url
        self.query = parts.query
        self.stats = stats
        self.timeout = timeout
        self.lr_label, self.lr_key_hint = lr_label, lr_key_hint
        self.ws = None
        self.reader: asyncio.Task | None = None
        self.closed = False
        self.closing = False  # set before we close it ourselves: not an error then
        # What the browser keeps between runs.
        self.states: dict[str, tuple[str, object]] = {}
        self.widgets: dict[str, Widget] = {}
        self.page_hash = ""
        self.cache: dict[str, tuple[ForwardMsg, int]] = {}  # hash -> (message, run it was last used in)
        self.runs_done = 0
        self.max_cache_age = 2
        # This run.
        self.blocks: dict[tuple[int, ...], str] = {}
        self.seen: set[str] = set()
        self.run_fragment = ""
        self.chart_path: tuple[int, ...] | None = None
        self.report_drawn = False  # the page drew its chart alone, and waits to hear it is drawn
        self.pending: Action | None = None
        self.finished = asyncio.Event()
        self.status = ""

    # ---- connection

    async def open(self) -> None:
        for path in ("/_stcore/health", "/_stcore/host-config"):  # what the page asks before its websocket
            await asyncio.to_thread(_get, self.http + path)
        self.ws = await connect(
            self.ws_url, subprotocols=["streamlit"], origin=self.http, max_size=None, open_timeout=self.timeout,
            ping_interval=None,
        )  # fmt: skip
        self.reader = asyncio.create_task(self._read())

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            await asyncio.gather(self.reader, return_exceptions=True)

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self._on_message(raw, time.perf_counter())
        except ConnectionClosed:
            pass
        finally:
            if not self.closing:
                self.stats.error("disconnect", f"websocket closed ({self.ws.close_code})")
            self.closed = True
            self.finished.set()

    # ---- messages

    def _on_message(self, raw: bytes, now: float) -> None:
        msg = ForwardMsg()
        msg.ParseFromString(raw)
        if self.pending is not None:
            self.pending.bytes += len(raw)
        kind = msg.WhichOneof("type")
        if kind == "ref_hash":  # a message this client said it has cached
            cached = self.cache.get(msg.ref_hash)
            if cached is None:
                self.stats.error("protocol", f"unknown ref_hash {msg.ref_hash}")
                return
            full = ForwardMsg()
            full.CopyFrom(cached[0])
            full.metadata.CopyFrom(msg.metadata)
            msg, kind = full, full.WhichOneof("type")
        if msg.metadata.cacheable and msg.hash:
            self.cache[msg.hash] = (msg, self.runs_done)
        elif msg.hash in self.cache:
            self.cache[msg.hash] = (self.cache[msg.hash][0], self.runs_done)
        if kind == "new_session":
            if self.pending is not None:
                self.pending.started = True
            self.blocks, self.seen, self.status = {}, set(), ""
            self.run_fragment = msg.metadata.run.fragment_ids[0] if msg.metadata.run.fragment_ids else ""
        elif kind == "navigation":
            self.page_hash = msg.navigation.page_script_hash
        elif kind == "page_info_changed":
            self.query = msg.page_info_changed.query_string
        elif kind == "delta":
            self._on_delta(msg, now)
        elif kind == "script_finished":
            self._on_finished(msg.script_finished, now)

    def _on_delta(self, msg: ForwardMsg, now: float) -> None:
        delta, path = msg.delta, tuple(msg.metadata.delta_path)
        which = delta.WhichOneof("type")
        if which == "add_block":
            if delta.add_block.WhichOneof("type") == "expandable":
                self.blocks[path] = delta.add_block.expandable.label
            return
        if which != "new_element":
            return
        kind = delta.new_element.WhichOneof("type")
        el = getattr(delta.new_element, kind)
        if kind == "exception":
            self.stats.error("exception", f"{el.type}: {el.message}")
        elif kind == "alert" and el.format == el.ERROR:
            self.stats.error("error box", el.body)
        # The page's chart: st.plotly_chart, or optviz's in-place one (optviz/ui/plot.py's NAME; this
        # client does not import optviz, which would import torch).
        elif kind == "plotly_chart" or (kind == "bidi_component" and "optviz_plot" in el.component_name):
            if self.chart_path is None and path[:1] == (0,):  # the first chart in the main area
                self.chart_path = path
            if kind == "bidi_component" and el.bytes.startswith(REPORT_DRAWN):
                self.report_drawn = True
            pending = self.pending
            if pending is not None and pending.started and pending.chart is None and path == self.chart_path:
                pending.chart = now
        wid = getattr(el, "id", "") if el.DESCRIPTOR.fields_by_name.get("id") else ""
        if not wid:
            return
        self.seen.add(wid)
        self.widgets[wid] = Widget(kind, getattr(el, "label", ""), path, delta.fragment_id)
        if getattr(el, "set_value", False) or wid not in self.states:
            value = initial_value(kind, el)
            if value is None:
                self.states.pop(wid, None)
            else:
                self.states[wid] = value

    def _on_finished(self, status: int, now: float) -> None:
        if self.pending is not None and not self.pending.started:
            return  # the end of a run that timed out before this change was sent
        name = FINISHED.Name(status)
        if status in DONE_OK:
            # The browser forgets widgets the run did not draw (in a fragment run: of that fragment).
            gone = [w for w, info in self.widgets.items() if w not in self.seen
                    and (not self.run_fragment or info.fragment == self.run_fragment)]  # fmt: skip
            for w in gone:
                self.widgets.pop(w, None)
                self.states.pop(w, None)
            self.runs_done += 1
            self.cache = {h: (m, r) for h, (m, r) in self.cache.items() if self.runs_done - r <= self.max_cache_age}
        elif status == FINISHED.FINISHED_EARLY_FOR_RERUN:
            return  # the script asked for another run; the change shows in that one
        else:
            self.stats.error("script", name)
        self.status = name
        if self.pending is not None:
            self.pending.done, self.pending.status = now, name
        self.finished.set()

    # ---- what a student does

    async def load(self) -> Action:
        """The page's first run, as a tab's: and where the page drew its chart alone
        (optviz.ui.explore), the run that the chart's first draw asks for, which draws the rest
        of the page. The browser reports the draw to the chart's fragment, which reruns the whole
        page; this client asks for the whole page at once."""
        action = await self.rerun()
        if self.report_drawn:
            self.report_drawn = False
            action = await self.rerun()
        return action

    async def rerun(self, widget: str | None = None, value: float | None = None) -> Action:
        """Send a rerun (with a widget's new value) and wait for it to finish."""
        if widget is not None:
            self.states[widget] = ("double_value", value)
        back = BackMsg()
        cs = back.rerun_script
        cs.query_string = self.query
        cs.page_script_hash = self.page_hash
        cs.widget_states.SetInParent()
        for wid, (field_name, v) in self.states.items():
            ws = cs.widget_states.widgets.add()
            ws.id = wid
            set_widget_state(ws, field_name, v)
        if widget is not None and self.widgets[widget].fragment:
            cs.fragment_id = self.widgets[widget].fragment
        cs.cached_message_hashes.extend(self.cache)
        ctx = cs.context_info
        ctx.timezone, ctx.timezone_offset, ctx.locale = "UTC", 0, "en-US"
        ctx.url, ctx.is_embedded, ctx.color_scheme = self.page_url, False, "light"
        self.finished.clear()
        self.pending = action = Action(sent=time.perf_counter())
        await self.ws.send(back.SerializeToString())
        try:
            await asyncio.wait_for(self.finished.wait(), self.timeout)
        except TimeoutError:
            self.stats.error("timeout", f"no script_finished within {self.timeout:.0f} s")
            action.status = "timeout"
        self.pending = None
        if self.closed and not action.status:
            action.status = "disconnected"
        return action

    def find_widget(self, label: str, key_hint: str) -> str | None:
        """The widget labelled `label` in the first run's expander; the key hint breaks ties."""
        same = [w for w, info in self.widgets.items() if info.label == label]
        first = [p for p, text in self.blocks.items() if FIRST_RUN_LABEL.match(text)]
        inside = [w for w in same if first and self.widgets[w].path[: len(first[0])] == first[0]]
        for group in (inside, same):
            hinted = [w for w in group if w.endswith("-" + key_hint)]
            if hinted or group:
                return (hinted or group)[0]
        hinted = [w for w in self.widgets if w.endswith("-" + key_hint)]
        return hinted[0] if hinted else None


def _get(url: str) -> None:
    with urllib.request.urlopen(url, timeout=30) as r:
        r.read()


# ---------------------------------------------------------------- one level (N students)


@dataclass
class Options:
    interval: float = 5.0
    duration: float = 60.0
    ramp: float = 10.0
    timeout: float = 30.0
    seed: int = 0
    lr_label: str = "lr"
    lr_key_hint: str = "s.r0.hp.lr"


async def student(client: Client, opts: Options, rng: random.Random, start: asyncio.Event,
                  stop_at: list[float], counter: list[int]) -> None:  # fmt: skip
    await start.wait()
    wid = client.find_widget(opts.lr_label, opts.lr_key_hint)
    if wid is None:
        client.stats.error("widget", f"no number_input labelled {opts.lr_label!r}")
        return
    base = client.states.get(wid, ("double_value", 1e-3))[1] or 1e-3
    next_at = time.perf_counter() + rng.uniform(0, opts.interval)  # students do not act in step
    while True:
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        if time.perf_counter() >= stop_at[0] or client.closed:
            return
        wid = client.find_widget(opts.lr_label, opts.lr_key_hint) or wid
        counter[0] += 1
        value = float(f"{base * (0.5 + (counter[0] * 0.6180339887) % 1.0):.6g}")  # a new value every time
        action = await client.rerun(wid, value)
        client.stats.actions.append(action)
        next_at = max(action.sent + rng.uniform(0.5, 1.5) * opts.interval, time.perf_counter() + 0.3)


async def run_level(urls: str | list[str], pids: int | list[int] | None, n: int, opts: Options) -> dict:
    """N students on the server at `url` (pid: the server's, for CPU and memory).

    With several urls (replicas), student i stays on replica i % len(urls), as sticky
    sessions keep them; CPU and memory are summed over the pids.
    """
    urls = [urls] if isinstance(urls, str) else list(urls)
    pids = [pids] if isinstance(pids, int) else list(pids or [])
    rng = random.Random(opts.seed * 1000 + n)
    stats = Stats()
    sampler = Sampler(pids)
    sampler.start()
    # A teacher opens the page first: imports and the first compute are not the class's wait.
    for url in urls:
        warm = Client(url, Stats(), timeout=120, lr_label=opts.lr_label, lr_key_hint=opts.lr_key_hint)
        await warm.open()
        await warm.load()
        warm.closing = True
        await warm.close()

    clients = [Client(urls[i % len(urls)], stats, timeout=opts.timeout, lr_label=opts.lr_label,
                      lr_key_hint=opts.lr_key_hint) for i in range(n)]  # fmt: skip

    async def first_load(i: int, c: Client) -> None:
        await asyncio.sleep(opts.ramp * i / max(n, 1))
        t0 = time.perf_counter()
        try:
            await c.open()
        except (OSError, TimeoutError, InvalidHandshake) as e:  # refused, reset, timed out: cannot connect
            stats.error("connect", repr(e))
            c.closed = True
            return
        saved, c.timeout = c.timeout, max(c.timeout, 120)
        action = await c.load()
        c.timeout = saved
        if action.done is not None:
            stats.first_loads.append(action.done - t0)

    t_load = time.perf_counter()
    await asyncio.gather(*(first_load(i, c) for i, c in enumerate(clients)))
    load_s = time.perf_counter() - t_load

    start, stop_at, counter = asyncio.Event(), [0.0], [0]
    tasks = [asyncio.create_task(student(c, opts, rng, start, stop_at, counter)) for c in clients]
    cpu0, t0, me0, rss0 = sampler.cpu(), time.perf_counter(), _own_cpu(), sampler.rss()
    stop_at[0] = t0 + opts.duration
    start.set()
    await asyncio.gather(*tasks)
    cpu1, t1, me1, rss1 = sampler.cpu(), time.perf_counter(), _own_cpu(), sampler.rss()
    for c in clients:
        c.closing = True
    await asyncio.gather(*(c.close() for c in clients))
    await sampler.stop()

    done = [a for a in stats.actions if a.done is not None and a.status in {FINISHED.Name(s) for s in DONE_OK}]
    chart = [a.chart - a.sent for a in done if a.chart is not None]
    finished = [a.done - a.sent for a in done]
    no_chart = sum(1 for a in done if a.chart is None)
    if no_chart:
        stats.error("no chart", f"{no_chart} runs finished without sending the chart")
    window = t1 - t0
    pid = bool(pids)
    return {
        "n": n,
        "replicas": len(urls),
        "window_s": round(window, 1),
        "actions": len(stats.actions),
        "actions_per_s": round(len(stats.actions) / window, 2),
        "target_actions_per_s": round(n / opts.interval, 2),
        "chart_s": summary(chart),
        "done_s": summary(finished),
        "first_load_s": summary(stats.first_loads),
        "first_loads_all_s": round(load_s, 1),
        "server_cpu_s": round(cpu1 - cpu0, 2) if pid else None,
        # Every change sent costs the server, finished or not (a timed-out run still ran).
        "server_cpu_per_action_s": round((cpu1 - cpu0) / len(stats.actions), 3) if pid and stats.actions else None,
        "server_cores": round((cpu1 - cpu0) / window, 2) if pid else None,
        "peak_rss_mb": round(sampler.peak_rss / 2**20) if pid else None,
        "peak_pss_mb": round(sampler.peak_pss / 2**20) if pid else None,  # what replicas really add up to
        "rss_window_start_end_mb": [round(rss0 / 2**20), round(rss1 / 2**20)] if pid else None,
        "client_cores": round((me1 - me0) / window, 2),
        "mb_per_action": round(statistics.mean(a.bytes for a in done) / 2**20, 2) if done else None,
        "machine_load_1m": round(os.getloadavg()[0], 1),  # other processes on the same cores
        "errors": dict(stats.errors),
        "error_count": sum(stats.errors.values()),
        "error_samples": stats.error_samples,
        "samples": {
            "chart_s": [round(x, 4) for x in chart],
            "done_s": [round(x, 4) for x in finished],
            "first_load_s": [round(x, 3) for x in stats.first_loads],
        },
    }


def summary(xs: list[float]) -> dict:
    if not xs:
        return {"n": 0, "p50": None, "p95": None, "max": None}
    s = sorted(xs)
    return {"n": len(s), "p50": round(_pct(s, 50), 3), "p95": round(_pct(s, 95), 3), "max": round(s[-1], 3)}


def _pct(sorted_xs: list[float], p: float) -> float:
    """Percentile with linear interpolation (numpy's default)."""
    k = (len(sorted_xs) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(sorted_xs) - 1)
    return sorted_xs[lo] + (sorted_xs[hi] - sorted_xs[lo]) * (k - lo)


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system


class Sampler:
    """Server CPU, peak RSS (every 0.5 s) and peak PSS (every 5 s: reading it walks the
    server's page tables), summed over the servers' pids."""

    def __init__(self, pids: list[int]):
        self.pids, self.peak_rss, self.peak_pss, self.task = pids, 0, 0, None

    def start(self) -> None:
        if self.pids:
            self.task = asyncio.create_task(self._loop())

    def cpu(self) -> float:
        return sum(serverstats.cpu_seconds(p) for p in self.pids)

    def rss(self) -> int:
        return sum(serverstats.rss_bytes(p) for p in self.pids)

    def sample(self, pss: bool = True) -> None:
        self.peak_rss = max(self.peak_rss, self.rss())
        if pss:
            self.peak_pss = max(self.peak_pss, sum(serverstats.pss_bytes(p) for p in self.pids))

    async def _loop(self) -> None:
        for i in itertools.count():
            self.sample(pss=i % 10 == 0)
            await asyncio.sleep(0.5)

    async def stop(self) -> None:
        if self.task:
            self.sample()
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


# ---------------------------------------------------------------- a server to measure


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, log: Path, profile: Path | None = None, options: list[str] = ()) -> subprocess.Popen:
    """`streamlit run serve.py` on loopback, configured as `python3 tasks.py app` runs it.

    options: more Streamlit options, "section.name=value" (e.g. runner.postScriptGC=false).
    """
    cmd = [sys.executable, "-m", "streamlit", "run", "serve.py", f"--server.port={port}",
           "--server.address=127.0.0.1", "--server.headless=true", "--server.fileWatcherType=none",
           "--server.runOnSave=false", "--browser.gatherUsageStats=false", *(f"--{o}" for o in options)]  # fmt: skip
    env = dict(os.environ)
    if profile is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(ROOT / "bench" / "profile_server"), env.get("PYTHONPATH")])
        )
        env["OPTVIZ_PROFILE_OUT"] = str(profile.resolve())
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with code {proc.returncode}; see {log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return proc
        except OSError:
            time.sleep(0.3)
    stop_server(proc)
    raise SystemExit(f"the server was not healthy within 120 s; see {log}")


def stop_server(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


# ---------------------------------------------------------------- report


def table(results: list[dict]) -> str:
    def f(x, spec=".2f"):
        return "-" if x is None else format(x, spec)

    head = (f"{'N':>4} {'changes':>7} {'/s':>5} {'chart p50':>9} {'p95':>6} {'max':>6} {'done p50':>8} {'p95':>6} "
            f"{'first load p50':>14} {'p95':>6} {'CPU/change':>10} {'srv cores':>9} {'peak RSS':>8} "
            f"{'cli cores':>9} {'errors':>6} {'loadavg':>7}")  # fmt: skip
    lines = [head, "-" * len(head)]
    for r in results:
        c, d, fl = r["chart_s"], r["done_s"], r["first_load_s"]
        lines.append(
            f"{_level(r):>4} {r['actions']:>7} {r['actions_per_s']:>5.1f} "
            f"{f(c['p50']):>9} {f(c['p95']):>6} {f(c['max']):>6} "
            f"{f(d['p50']):>8} {f(d['p95']):>6} {f(fl['p50']):>14} {f(fl['p95']):>6} "
            f"{f(r['server_cpu_per_action_s'], '.3f'):>10} {f(r['server_cores']):>9} "
            f"{f(r['peak_rss_mb'], '.0f') + ' MB' if r['peak_rss_mb'] else '-':>8} {f(r['client_cores']):>9} "
            f"{r['error_count']:>6} {r['machine_load_1m']:>7.1f}"
        )
    lines.append(
        "times in seconds: chart = change sent -> the rerun's Plotly chart received; done = -> script_finished;"
    )
    lines.append("first load = connect -> the whole page's run finished (all N connecting within --ramp); "
                 "CPU/change = server")
    lines.append("CPU seconds per change; srv/cli cores = CPU seconds per second of the server and of this process;")
    lines.append("loadavg = the machine's 1-minute load average at the end (other work on the same cores);")
    lines.append("N/K = N students on K servers (replicas).")
    return "\n".join(lines)


def _level(r: dict) -> str:
    return f"{r['n']}" if r.get("replicas", 1) == 1 else f"{r['n']}/{r['replicas']}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--levels", type=int, nargs="+", default=[10, 25, 50], help="numbers of students (default 10 25 50)"
    )
    ap.add_argument("--duration", type=float, default=60.0, help="measured seconds per level (default 60)")
    ap.add_argument(
        "--interval", type=float, default=5.0, help="mean seconds between one student's changes (default 5)"
    )
    ap.add_argument("--ramp", type=float, default=10.0, help="seconds over which the N students connect (default 10)")
    ap.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        help="a change not finished after this is an error (default 30)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--url", nargs="+", help="measure the server(s) already running here (default: start them)")
    ap.add_argument("--pid", type=int, nargs="+", help="with --url: the servers' pids, for their CPU and memory")
    ap.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="start this many servers; student i stays on server i %% K, as sticky sessions keep them",
    )
    ap.add_argument("--reuse-server", action="store_true", help="start the servers once for all levels, not per level")
    ap.add_argument("--profile", type=Path, help="profile the server (cProfile, every thread) into this file")
    ap.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="SECTION.NAME=VALUE",
        help="a Streamlit option for the server started here, e.g. runner.postScriptGC=false (repeatable)",
    )
    ap.add_argument("--json", type=Path, default=ROOT / "artifacts" / "load-bench.json", help="where to save results")
    ap.add_argument("--lr-label", default="lr", help="label of the number_input to change (default lr)")
    ap.add_argument("--lr-key", default="s.r0.hp.lr", help="its widget key, used only to break ties")
    args = ap.parse_args(argv)
    opts = Options(interval=args.interval, duration=args.duration, ramp=args.ramp, timeout=args.timeout,
                   seed=args.seed, lr_label=args.lr_label, lr_key_hint=args.lr_key)  # fmt: skip
    log = ROOT / "artifacts" / "load-bench-server.log"
    results, procs = [], []
    try:
        for n in args.levels:
            if args.url:
                urls, pids = args.url, args.pid
            else:
                if not procs or not args.reuse_server:
                    for proc in procs:
                        stop_server(proc)
                    ports = [free_port() for _ in range(args.replicas)]
                    procs = []
                    for k, port in enumerate(ports):  # one at a time: start-ups compete for the same cores
                        replica_log = log if args.replicas == 1 else log.with_name(f"{log.stem}-{k}{log.suffix}")
                        procs.append(start_server(port, replica_log, args.profile, args.option))
                urls = [f"http://127.0.0.1:{port}/" for port in ports]
                pids = [serverstats.find_streamlit(proc.pid) for proc in procs]
            print(f"N={n}: {args.duration:.0f} s, one change per ~{args.interval:g} s per student"
                  + (f", {len(urls)} servers" if len(urls) > 1 else "") + " ...", flush=True)  # fmt: skip
            r = asyncio.run(run_level(urls, pids, n, opts))
            results.append(r)
            print(table([r]).splitlines()[2], flush=True)
            if r["error_samples"]:
                print("  errors: " + "; ".join(r["error_samples"][:5]), flush=True)
    finally:
        for proc in procs:
            stop_server(proc)
    print()
    print(table(results))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    meta = {"levels": args.levels, "duration_s": args.duration, "interval_s": args.interval, "ramp_s": args.ramp,
            "timeout_s": args.timeout, "replicas": args.replicas, "cpus": os.cpu_count(),
            "loadavg_end": os.getloadavg(), "url": args.url, "options": args.option,
            "profile": str(args.profile or "")}  # fmt: skip
    args.json.write_text(json.dumps({"options": meta, "results": results}, indent=1) + "\n")
    print(f"saved {args.json}" + (f"; profile: {args.profile} (python -m pstats)" if args.profile else ""))
    return 1 if any(r["error_count"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())

"""Is bench/load.py's protocol client a faithful stand-in for a browser? Time the same change in both.

    python bench/load_vs_browser.py              # 6 changes in Chromium and 6 with the protocol client

On one server (started here, configured as bench/load.py starts it), one student at a time:

- Chromium (headless, through Playwright) opens the app, opens run 1's expander and changes
  its "lr" several times, as bench/bench_ui.py does. A script added to the page records when
  the page's websocket sends the rerun and receives each message, so the browser is timed
  at the same points as the protocol client: send -> the chart message (the rerun's big
  Plotly delta) and send -> script_finished; also send -> chart drawn in the page.
- bench/load.py's client, a second session on the same server, makes a change after each
  of the browser's (alternating, so both see the same load on the machine).

For each, it prints medians, the bytes received per change and the server's CPU per change.
If the client is faithful, the server does the same work for both (same CPU and bytes per
change) and the times agree within what the browser's own work (parsing, drawing on the
same cores) adds.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import load
import serverstats
from google.protobuf.message import DecodeError
from shared import CHROMIUM_ARGS  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

# Record every websocket frame the page sends and receives (time, size; small frames' bytes).
RECORD_WS = """(() => {
  const Orig = window.WebSocket;
  const log = window.__ws = {sent: [], recv: []};
  const b64 = (buf) => {
    let s = ''; const u = new Uint8Array(buf); for (const c of u) s += String.fromCharCode(c); return btoa(s);
  };
  class Recorded extends Orig {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (ev) => {
        const t = performance.now(), d = ev.data, n = d.byteLength ?? d.size ?? d.length;
        log.recv.push([t, n, (d instanceof ArrayBuffer && n < 4096) ? b64(d) : null]);
      });
    }
    send(data) { log.sent.push([performance.now(), data.byteLength ?? data.length ?? 0]); return super.send(data); }
  }
  window.WebSocket = Recorded;
})();"""
SIGNATURE = """() => {
  const gd = document.querySelector('.js-plotly-plot');
  if (!gd || !gd._fullData) return null;
  const t = gd._fullData.find(d => d.legendgroup === 'run0' && d.mode === 'lines');
  if (!t) return null;
  const x = t.x, n = x.length;
  return n + ':' + x[n - 1] + ':' + t.y[n - 1];
}"""
IDLE = "() => document.querySelector('[data-testid=stApp]')?.getAttribute('data-test-script-state') === 'notRunning'"
CHART_BYTES = 100_000  # the race chart's delta is ~0.5 MB; nothing else on the page is near 100 kB


def is_script_finished(b64: str | None) -> bool:
    if not b64:
        return False
    msg = ForwardMsg()
    try:
        msg.ParseFromString(base64.b64decode(b64))
    except DecodeError:  # a frame that is not a whole ForwardMsg
        return False
    return msg.WhichOneof("type") == "script_finished"


class ClientThread:
    """bench/load.py's client on its own event loop, driven from this (Playwright's) thread."""

    def __init__(self, url: str):
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.stats = load.Stats()
        self.client = load.Client(url, self.stats, timeout=60, lr_label="lr", lr_key_hint="r0.hp.lr")
        self.call(self.client.open())
        self.call(self.client.load())
        self.wid = self.client.find_widget("lr", "r0.hp.lr")

    def call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def close(self) -> None:
        self.client.closing = True
        self.call(self.client.close())
        self.loop.call_soon_threadsafe(self.loop.stop)


def paired_changes(url: str, pid: int, k: int) -> tuple[dict, dict]:
    """k changes in Chromium and k with the protocol client, alternating, on one server."""
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("OPTVIZ_CHROMIUM") or shutil.which("chromium")
    if not chromium:
        raise SystemExit("needs Chromium (apt-get install chromium, or set OPTVIZ_CHROMIUM)")
    b = {"chart": [], "done": [], "drawn": [], "bytes": [], "cpu": []}
    c = {"chart": [], "done": [], "bytes": [], "cpu": []}
    client = ClientThread(url)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.add_init_script(RECORD_WS)
        page.goto(url)
        page.wait_for_function(f"({SIGNATURE})() !== null", timeout=120_000)
        page.wait_for_function(IDLE, timeout=120_000)
        main_area = page.locator("[data-testid=stMain]")
        main_area.locator("[data-testid=stExpander] summary", has_text="1.").first.click()
        lr = main_area.get_by_label("lr", exact=True).first
        lr.wait_for()
        for i in range(k):
            # Chromium
            page.wait_for_timeout(1000)
            before = page.evaluate(SIGNATURE)
            n_sent, n_recv = page.evaluate("[window.__ws.sent.length, window.__ws.recv.length]")
            lr.fill(f"{0.00111 + 0.00007 * i:.5f}")
            cpu0, t0 = serverstats.cpu_seconds(pid), time.perf_counter()
            lr.press("Enter")
            page.wait_for_function(f"({SIGNATURE})() !== {before!r}", timeout=60_000, polling=10)
            b["drawn"].append(time.perf_counter() - t0)  # Enter -> the page shows the new path
            page.wait_for_function(IDLE, timeout=60_000)
            page.wait_for_timeout(500)
            b["cpu"].append(serverstats.cpu_seconds(pid) - cpu0)
            sent, recv = page.evaluate(f"[window.__ws.sent.slice({n_sent}), window.__ws.recv.slice({n_recv})]")
            t_send = sent[0][0]
            after = [r for r in recv if r[0] >= t_send]
            chart = next((t for t, n, _ in after if n > CHART_BYTES), None)
            done = next((t for t, _, m in after if is_script_finished(m)), None)
            b["chart"].append(None if chart is None else (chart - t_send) / 1000)
            b["done"].append(None if done is None else (done - t_send) / 1000)
            b["bytes"].append(sum(n for t, n, _ in after if done is None or t <= done))
            # the protocol client
            time.sleep(1.0)
            cpu0 = serverstats.cpu_seconds(pid)
            a = client.call(client.client.rerun(client.wid, float(f"{0.00113 + 0.00007 * i:.5f}")))
            time.sleep(0.5)
            c["cpu"].append(serverstats.cpu_seconds(pid) - cpu0)
            c["chart"].append(None if a.chart is None else a.chart - a.sent)
            c["done"].append(None if a.done is None else a.done - a.sent)
            c["bytes"].append(a.bytes)
            print(f"  change {i + 1}: chromium chart {_s(b['chart'][-1])}, done {_s(b['done'][-1])}, "
                  f"drawn {_s(b['drawn'][-1])} | client chart {_s(c['chart'][-1])}, done {_s(c['done'][-1])}",
                  flush=True)  # fmt: skip
        browser.close()
    client.close()
    if client.stats.errors:
        print(f"  client errors: {client.stats.error_samples}")
    return b, c


def _s(x) -> str:
    return "-" if x is None else f"{x:.3f} s"


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--changes", type=int, default=6)
    args = ap.parse_args(argv)
    port = load.free_port()
    proc = load.start_server(port, load.ROOT / "artifacts" / "load-vs-browser-server.log")
    url = f"http://127.0.0.1:{port}/"
    try:
        pid = serverstats.find_streamlit(proc.pid)
        ClientThread(url).close()  # imports and the first compute happen before any timing
        b, c = paired_changes(url, pid, args.changes)
    finally:
        load.stop_server(proc)
    print()
    print(f"{'':24} {'chart':>7} {'done':>7} {'drawn':>7} {'kB/change':>9} {'server CPU/change':>17}")
    print(f"{'Chromium (in-page ws)':24} {med(b['chart']):7.3f} {med(b['done']):7.3f} {med(b['drawn']):7.3f} "
          f"{med(b['bytes']) / 1e3:9.0f} {med(b['cpu']):17.3f}")  # fmt: skip
    print(f"{'protocol client':24} {med(c['chart']):7.3f} {med(c['done']):7.3f} {'-':>7} "
          f"{med(c['bytes']) / 1e3:9.0f} {med(c['cpu']):17.3f}")  # fmt: skip
    print(f"medians of {args.changes} changes, seconds; chart/done from the rerun message sent, drawn from Enter.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

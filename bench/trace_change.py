"""Where the time of one change goes, in the browser: a timeline and a CDP performance trace.

    python -m bench.trace_change [--change lr|optimizer|preset|preset-same|landscape] [--repeat N] [--trace out.json]

For each change: the input event, every websocket message Streamlit sends back (time, size), and each chart's
draw (optlab.chart logs its Plotly.react calls to window.__optlabChartLog), all on the page's clock; then the
main thread's busiest kinds of work from a Chromium trace of the last change (--trace keeps the trace, for
chrome://tracing or Perfetto).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import statistics

from bench.bench_app import DRAWN_JS, READY, ROOT, _settle
from tests.browser import CHROMIUM_ARGS, chromium_path, streamlit_server

# every websocket message's arrival (page clock, ms) and size, and each keydown/click (the input event)
INIT_JS = """
(() => {
  window.__optlabWs = [];
  window.__optlabInput = [];
  const Native = window.WebSocket;
  window.WebSocket = function (...args) {
    const ws = new Native(...args);
    ws.addEventListener("message", (ev) => {
      const n = ev.data.byteLength ?? ev.data.size ?? ev.data.length ?? 0;
      window.__optlabWs.push([performance.now(), n]);
    });
    const send = ws.send.bind(ws);
    ws.send = (d) => { window.__optlabWs.push([performance.now(), -(d.byteLength ?? d.size ?? d.length ?? 0)]);
                       return send(d); };
    return ws;
  };
  window.WebSocket.prototype = Native.prototype;
  Object.assign(window.WebSocket, {OPEN: 1, CLOSED: 3, CONNECTING: 0, CLOSING: 2});
  for (const type of ["keydown", "click"]) {
    window.addEventListener(type, () => window.__optlabInput.push([performance.now(), type]), true);
  }
})();
"""

URL = "/?landscape=rosenbrock&opt=adam&opt=sgd&adam.lr=0.05"


def categories_of(trace: dict, start_us: float, end_us: float) -> list[tuple[str, float]]:
    """Milliseconds per event name on the renderer's main thread (top-level events only), busiest first."""
    events = trace["traceEvents"]
    main = {(e["pid"], e["tid"]) for e in events if e.get("name") == "thread_name"
            and e.get("args", {}).get("name") == "CrRendererMain"}
    totals = collections.Counter()
    for e in events:
        if (e.get("pid"), e.get("tid")) not in main or e.get("ph") != "X" or "dur" not in e:
            continue
        if not (start_us <= e["ts"] <= end_us):
            continue
        totals[e["name"]] += e["dur"] / 1e3
    return totals.most_common(25)


def long_tasks(trace: dict, min_ms: float = 8.0) -> list[tuple[float, float, str]]:
    events = trace["traceEvents"]
    main = {(e["pid"], e["tid"]) for e in events if e.get("name") == "thread_name"
            and e.get("args", {}).get("name") == "CrRendererMain"}
    out = []
    tasks = [e for e in events if (e.get("pid"), e.get("tid")) in main and e.get("name") == "RunTask"
             and e.get("ph") == "X" and e.get("dur", 0) >= min_ms * 1e3]
    inner = [e for e in events if (e.get("pid"), e.get("tid")) in main and e.get("ph") == "X"
             and e.get("name") in ("FunctionCall", "Layout", "UpdateLayoutTree", "Paint", "MajorGC", "MinorGC",
                                   "V8.GC_MARK_COMPACTOR", "EvaluateScript", "FireAnimationFrame",
                                   "TimerFire", "EventDispatch", "ParseHTML", "PrePaint", "Layerize",
                                   "HitTest", "Commit")]
    for t in tasks:
        kids = collections.Counter()
        for e in inner:
            if t["ts"] <= e["ts"] < t["ts"] + t["dur"]:
                kids[e["name"]] += e["dur"] / 1e3
        out.append((t["ts"], t["dur"] / 1e3, ", ".join(f"{k} {v:.0f}" for k, v in kids.most_common(4))))
    return out


async def main_async(change: str, repeat: int, trace_path: str | None) -> None:
    from playwright.async_api import async_playwright

    from landscapes import get_landscape

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        with streamlit_server(str(ROOT / "app.py")) as (base, _):
            context = await browser.new_context(viewport={"width": 1500, "height": 1000})
            await context.add_init_script(INIT_JS)
            page = await context.new_page()
            await page.goto(base + URL)
            await page.wait_for_function(f"() => document.querySelector('{READY}') && "
                                         "document.querySelectorAll('.optlab-plot .main-svg').length >= 3",
                                         timeout=180_000)
            sidebar = page.locator("[data-testid=stSidebar]")
            lr = sidebar.locator("[data-testid=stSlider] input[type=range]").first

            async def act(i):
                if change == "lr":
                    await lr.focus()
                    await lr.press("ArrowRight" if i % 2 == 0 else "ArrowLeft")
                elif change == "landscape":
                    name = ("himmelblau", "rosenbrock")[i % 2]
                    await sidebar.locator("[data-testid=stSelectbox] input").first.fill(get_landscape(name).title)
                    await page.keyboard.press("Enter")
                elif change in ("preset", "preset-same"):  # preset-same: both on Rosenbrock, as bench_app's
                    await page.keyboard.press("Escape")
                    name = (("momentum_overshoot", "divergence")[change == "preset-same"], "adam_vs_sgd")[i % 2]
                    await page.locator(f".st-key-preset-{name} button").first.click()
                elif change == "optimizer":
                    box = sidebar.locator("[data-testid=stMultiSelect]").first
                    if i % 2 == 0:
                        await box.locator("input").first.fill("SGD + momentum")
                        await page.keyboard.press("Enter")
                    else:
                        await box.locator("input").first.focus()
                        await page.keyboard.press("Backspace")

            rows = []
            trace = None
            for i in range(repeat + 2):
                await _settle(page)
                before = await page.evaluate(DRAWN_JS)
                await page.evaluate("() => { window.__optlabWs.length = 0; window.__optlabInput.length = 0; "
                                    "(window.__optlabChartLog || []).length = 0; }")
                last = i == repeat + 1
                if last:
                    await browser.start_tracing(page=page, categories=[
                        "devtools.timeline", "disabled-by-default-devtools.timeline", "v8.execute",
                        "blink.user_timing", "toplevel", "disabled-by-default-devtools.timeline.frame"])
                await act(i)
                try:
                    await page.wait_for_function(
                        f"old => {{ const now = ({DRAWN_JS})(); return now.length === old.length && "
                        "now.every((n, k) => n > old[k]); }", arg=before, timeout=30_000, polling="raf")
                except Exception:  # a change that left some chart as it was (a removal the widget ignored)
                    print(f"--- change {i}: not every chart redrawn, not counted")
                    if last:
                        await browser.stop_tracing()
                    continue
                await page.wait_for_timeout(200)
                if last:
                    trace = json.loads(await browser.stop_tracing())
                log = await page.evaluate("() => ({ws: window.__optlabWs, input: window.__optlabInput, "
                                          "charts: window.__optlabChartLog || []})")
                t0 = log["input"][-1][0] if log["input"] else 0
                rows.append((i, t0, log))
                if i >= 2 or last:
                    print(f"--- change {i} ({change})")
                    sent = [t for t, n in log["ws"] if n < 0]
                    recv = [(t, n) for t, n in log["ws"] if n >= 0]
                    if sent:
                        print(f"  ws sent at {sent[0] - t0:7.1f} ms")
                    if recv:
                        print(f"  ws recv {len(recv)} messages, {sum(n for _, n in recv) / 1e3:.1f} kB, first "
                              f"{recv[0][0] - t0:7.1f} ms, last {recv[-1][0] - t0:7.1f} ms; over 2 kB: "
                              + ", ".join(f"{t - t0:.0f} ms {n / 1e3:.1f} kB" for t, n in recv if n > 2000))
                    for c in log["charts"]:
                        print(f"  chart {c['chart']} {c['phase']:10s} {c['t0'] - t0:7.1f} -> {c['t1'] - t0:7.1f} ms "
                              f"({c['t1'] - c['t0']:.0f} ms)")
            done = [max(c["t1"] for c in log["charts"]) - t0 for _, t0, log in rows[2:] if log["charts"]]
            recv = [log["ws"][-1][0] - t0 for _, t0, log in rows[2:] if log["ws"]]
            print(f"median input -> last chart drawn: {statistics.median(done):.0f} ms; "
                  f"input -> last ws message: {statistics.median(recv):.0f} ms")
            if trace is not None:
                if trace_path:
                    with open(trace_path, "w") as f:
                        json.dump(trace, f)
                events = [e for e in trace["traceEvents"] if e.get("ph") == "X" and "ts" in e]
                start = min(e["ts"] for e in events)
                end = max(e["ts"] + e.get("dur", 0) for e in events)
                print("main thread, by event (ms, nested events counted in each):")
                for name, ms in categories_of(trace, start, end):
                    print(f"  {ms:8.1f}  {name}")
                print("long tasks (start ms, duration ms, inside):")
                for ts, dur, inside in long_tasks(trace):
                    print(f"  {(ts - start) / 1e3:8.1f} {dur:7.1f}  {inside}")
            await context.close()
        await browser.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--change", default="lr", choices=["lr", "optimizer", "preset", "preset-same", "landscape"])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--trace")
    args = ap.parse_args()
    asyncio.run(main_async(args.change, args.repeat, args.trace))


if __name__ == "__main__":
    main()

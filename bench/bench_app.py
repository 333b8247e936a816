"""Dashboard speed: server reruns (AppTest), figure size, browser time-to-charts, 8 sessions at once.

    python -m bench.bench_app [--quick] [--parts | --interactions | --load]

Prints medians (and worst cases for the load test). Needs Chromium (scripts/test.sh
installs it). Machines here are shared and noisy: the "hello" page, one Plotly chart,
is measured in the same run as the framework's floor.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
from pathlib import Path

from tests.browser import CHROMIUM_ARGS, chromium_path, streamlit_server

ROOT = Path(__file__).resolve().parents[1]


READY = "[data-testid=stApp][data-test-script-state=notRunning]"
# charts drawn: st.plotly_chart's with its svg (hello), optlab.chart's once its first draw is done (data-drawn).
# (Counting `.main-svg` elements, as before 2026-12-02, counted each Plotly div's two or three: a page load was
# timed to its first two charts, not its three.)
DRAWN_CHARTS_JS = ("() => document.querySelectorAll('.optlab-chart[data-drawn]').length + Array.from("
                   "document.querySelectorAll('[data-testid=stPlotlyChart]')).filter((e) => e.querySelector("
                   "'.main-svg')).length")


def apptest_reruns(repeat: int) -> dict:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.run()  # warm
    unchanged = []
    for _ in range(repeat):
        t = time.perf_counter()
        at.run()
        unchanged.append(time.perf_counter() - t)
    # a hyperparameter change each time, to values not seen before (cache misses)
    from optlab.ui import LOG_GRID

    values = [v for v in LOG_GRID if 1e-3 <= v <= 0.5 and v != 0.05][:repeat]
    changed = []
    for v in values:
        at.select_slider(key="adam.lr").set_value(v)
        t = time.perf_counter()
        at.run()
        changed.append(time.perf_counter() - t)
    assert not at.exception
    hello = AppTest.from_file(str(ROOT / "bench" / "hello_app.py"), default_timeout=120)
    hello.run()
    hello_changed = []
    for i in range(repeat):  # the reference, in the same run: the hello page's slider, one notch each time
        hello.slider[0].set_value(hello.slider[0].min + 1 + i % 2)
        t = time.perf_counter()
        hello.run()
        hello_changed.append(time.perf_counter() - t)
    at.run()  # what a rerun sends after the first: only the parts this session was not sent yet
    sizes = [len(c.proto.bytes) for c in at.get("bidi_component")]
    return {"unchanged": statistics.median(unchanged), "changed": statistics.median(changed), "sizes": sizes,
            "n_changed": len(changed), "hello": statistics.median(hello_changed)}


async def _open(browser, url: str, charts: int):
    """A fresh context on url; returns (context, page, seconds until the script is done and charts drawn)."""
    context = await browser.new_context(viewport={"width": 1500, "height": 1000})
    page = await context.new_page()
    t = time.perf_counter()
    await page.goto(url)
    await page.wait_for_function(
        f"() => document.querySelector('{READY}') && "
        f"({DRAWN_CHARTS_JS})() >= {charts}",
        timeout=180_000)
    return context, page, time.perf_counter() - t


async def time_to_charts(browser, url: str, charts: int) -> float:
    context, _, elapsed = await _open(browser, url, charts)
    await context.close()
    return elapsed


async def load_part(repeat: int) -> dict:
    """Page load to every chart drawn, the default page against the hello page, interleaved (--load)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        with streamlit_server(str(ROOT / "bench" / "hello_app.py")) as (hello, _), \
                streamlit_server() as (base, _):
            await time_to_charts(browser, hello, 1)  # warm both servers
            await time_to_charts(browser, base, 3)
            hello_t, app_t = [], []
            for _ in range(repeat):
                hello_t.append(await time_to_charts(browser, hello, 1))
                app_t.append(await time_to_charts(browser, base, 3))
        await browser.close()
    return {"hello": statistics.median(hello_t), "app": statistics.median(app_t)}


async def page_runs(browser, url: str) -> tuple[float, str, list]:
    """Time to charts for one session, and what it shows: the share link and the main chart's traces."""
    context, page, elapsed = await _open(browser, url, 3)
    await page.get_by_role("button", name="Share and export").click()
    share = (await page.locator("[data-testid=stCode] code").first.inner_text()).strip()
    traces = await page.evaluate("""() => document.querySelectorAll('.optlab-plot')[0]
        ._fullData.filter(t => t.mode === 'lines+markers').map(t => [t.name, Array.from(t.x), Array.from(t.y)])""")
    await context.close()
    return elapsed, share, traces


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


LINKS = [
    "landscape=rosenbrock&opt=adam&opt=sgd&adam.lr=0.05&steps=500",
    "landscape=ill_conditioned_bowl&opt=sgd&opt=momentum&sgd.lr=0.03&momentum.lr=0.03&steps=150",
    "landscape=saddle&opt=sgd&opt=momentum&opt=adam&sgd.lr=0.01&momentum.lr=0.01&adam.lr=0.05&steps=200",
    "landscape=rastrigin&opt=sgd&opt=adam&sgd.lr=0.002&adam.lr=0.3&steps=400",
    "landscape=himmelblau&opt=rmsprop&opt=nadam&rmsprop.lr=0.03&nadam.lr=0.05&steps=300&x0=-0.3&y0=0.7",
    "landscape=booth&opt=adam&opt=adamw&adam.weight_decay=0.5&adamw.weight_decay=0.5&adam.lr=0.05&adamw.lr=0.05",
    "landscape=six_hump_camel&opt=lion&opt=adamax&lion.lr=0.01&adamax.lr=0.05&steps=250&noise=0.2&seed=4",
    "landscape=rotated_bowl&rotated_bowl.kappa=50&opt=adagrad&opt=radam&adagrad.lr=0.5&radam.lr=0.05",
]


async def browser_part(repeat: int) -> dict:
    from playwright.async_api import async_playwright

    from optlab import config as C

    out = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        with streamlit_server(str(ROOT / "bench" / "hello_app.py")) as (hello, _), \
                streamlit_server() as (base, proc):
            await time_to_charts(browser, hello, 1)  # warm both servers
            await time_to_charts(browser, base, 3)
            hello_t, app_t = [], []
            for _ in range(repeat):  # interleaved, so both see the same machine
                hello_t.append(await time_to_charts(browser, hello, 1))
                app_t.append(await time_to_charts(browser, base, 3))
            out["hello"], out["app"] = statistics.median(hello_t), statistics.median(app_t)

            rss_before = rss_mb(proc.pid)
            results = await asyncio.gather(*(page_runs(browser, f"{base}/?{q}") for q in LINKS))
            times = [r[0] for r in results]
            leaks = 0
            for query, (_, share, traces) in zip(LINKS, results, strict=True):
                cfg, problems = C.from_query(_parse(query))
                expected = {name: run.path for name, run in C.run_all(cfg).items()}
                ok = share.endswith(C.to_url(cfg, "").lstrip("/")) and not problems and {
                    name: (x, y) for name, x, y in traces} == {
                    name: (path[:, 0].tolist(), path[:, 1].tolist()) for name, path in expected.items()}
                leaks += not ok
            # a second wave of the same 8 links, then memory again: caches are bounded
            await asyncio.gather(*(page_runs(browser, f"{base}/?{q}&steps=123") for q in LINKS))
            out.update(load_median=statistics.median(times), load_worst=max(times), mismatched=leaks,
                       rss_before=rss_before, rss_after=rss_mb(proc.pid))
        await browser.close()
    return out


async def parts_part(repeat: int) -> dict:
    """Time to charts of the default page, of the same page with the hello chart in place of its three
    figures, and of its three figures alone (bench/parts_app.py): what costs the browser time."""
    from playwright.async_api import async_playwright

    pages = {"hello": (ROOT / "bench" / "hello_app.py", {}, 1), "default page": (ROOT / "app.py", {}, 3),
             "page with hello charts": (ROOT / "bench" / "parts_app.py", {"OPTLAB_PAGE_PART": "trivial_figures"}, 3),
             "its 3 figures alone": (ROOT / "bench" / "parts_app.py", {"OPTLAB_PAGE_PART": "figures_only"}, 3)}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        with contextlib.ExitStack() as stack:
            urls = {name: (stack.enter_context(streamlit_server(str(app), env=env))[0], charts)
                    for name, (app, env, charts) in pages.items()}
            times = {name: [] for name in urls}
            for _ in range(repeat + 1):  # the first round warms every server
                for name, (url, charts) in urls.items():
                    times[name].append(await time_to_charts(browser, url, charts))
        await browser.close()
    return {name: statistics.median(t[1:]) for name, t in times.items()}


# --- from an input event to every chart showing the new data (issue 12) -------------------------------------
DRAWN_JS = "() => Array.from(document.querySelectorAll('.optlab-chart')).map(c => Number(c.dataset.drawn || 0))"
HELLO_TITLE_JS = "() => (document.querySelector('[data-testid=stPlotlyChart] .gtitle') || {}).textContent || ''"


class Frames:
    """Bytes the page receives over Streamlit's websocket (CDP Network.webSocketFrameReceived)."""

    def __init__(self):
        self.received = 0

    async def attach(self, page):
        cdp = await page.context.new_cdp_session(page)
        await cdp.send("Network.enable")
        cdp.on("Network.webSocketFrameReceived", self._on)

    def _on(self, event):
        r = event["response"]
        data = r.get("payloadData", "")
        self.received += len(data) * 3 // 4 if r.get("opcode") == 2 else len(data.encode())


async def _settle(page):
    await page.wait_for_function(f"() => document.querySelector('{READY}')", timeout=120_000)
    await page.wait_for_timeout(300)


async def _app_change(page, frames, act) -> tuple[float, int]:
    """Seconds from the input event until every chart of the page has drawn again, and the bytes received."""
    await _settle(page)
    before = await page.evaluate(DRAWN_JS)
    frames.received = 0
    t = time.perf_counter()
    await act()
    try:
        await page.wait_for_function(f"old => {{ const now = ({DRAWN_JS})(); return now.length === old.length && "
                                     "now.every((n, i) => n > old[i]); }", arg=before, timeout=20_000, polling="raf")
    except Exception:  # a change that left some chart as it was: not a measurement
        print("  (not every chart redrawn:", before, "->", await page.evaluate(DRAWN_JS), ")", flush=True)
        await _settle(page)
        return None, frames.received
    elapsed = time.perf_counter() - t
    await _settle(page)
    return elapsed, frames.received


async def interactions_part(repeat: int) -> dict:
    """An lr notch, adding an optimizer, a preset, another landscape; the hello page's slider in between."""
    from playwright.async_api import async_playwright

    from landscapes import get_landscape

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        with streamlit_server(str(ROOT / "bench" / "hello_app.py")) as (hello, _), streamlit_server() as (base, _):
            hctx, hpage = (await _open(browser, hello, 1))[:2]
            actx, apage = (await _open(browser, f"{base}/?landscape=rosenbrock&opt=adam&opt=sgd&adam.lr=0.05",
                                       3))[:2]
            frames = Frames()
            await frames.attach(apage)
            hslider = hpage.locator("[data-testid=stSlider] input[type=range], "
                                    "[data-testid=stSlider] [role=slider]").first
            lr = apage.locator("[data-testid=stSidebar] [data-testid=stSlider] input[type=range]").first
            sidebar = apage.locator("[data-testid=stSidebar]")

            async def hello_notch(i):
                await _settle(hpage)
                old = await hpage.evaluate(HELLO_TITLE_JS)
                t = time.perf_counter()
                await hslider.focus()
                await hslider.press("ArrowRight" if i % 2 == 0 else "ArrowLeft")
                await hpage.wait_for_function(f"old => ({HELLO_TITLE_JS})() !== old && "
                                              "document.querySelector('[data-testid=stPlotlyChart] .contourlayer')",
                                              arg=old, timeout=60_000, polling="raf")
                return time.perf_counter() - t

            async def lr_notch(i):
                await lr.focus()
                await lr.press("ArrowRight" if i % 2 == 0 else "ArrowLeft")

            async def add_optimizer(i):
                box = sidebar.locator("[data-testid=stMultiSelect]").first
                if i % 2 == 0:
                    await box.locator("input").first.fill("SGD + momentum")
                    await apage.keyboard.press("Enter")
                else:  # take it away again (not measured: the next add is measured)
                    await box.locator("input").first.focus()
                    await apage.keyboard.press("Backspace")  # the last chip: the one added

            async def preset(i):  # another landscape too: ill-conditioned bowl <-> Rosenbrock
                await apage.keyboard.press("Escape")
                name = ("momentum_overshoot", "adam_vs_sgd")[i % 2]
                await apage.locator(f".st-key-preset-{name} button").first.click()

            async def preset_same(i):  # both on Rosenbrock: the optimizers' settings and steps change
                await apage.keyboard.press("Escape")
                name = ("divergence", "adam_vs_sgd")[i % 2]
                await apage.locator(f".st-key-preset-{name} button").first.click()

            async def landscape(i):
                name = ("himmelblau", "rosenbrock")[i % 2]
                await sidebar.locator("[data-testid=stSelectbox] input").first.fill(get_landscape(name).title)
                await apage.keyboard.press("Enter")

            actions = {"lr change": lr_notch, "add an optimizer": add_optimizer, "preset": preset_same,
                       "preset, new landscape": preset, "landscape switch": landscape}
            out = {"hello": []} | {name: [] for name in actions} | {f"hello, {name}": [] for name in actions} | {
                "lr bytes": []}
            for name, act in actions.items():
                await _app_change(apage, frames, lambda a=act: a(0))  # warm: caches, first draws
                await _app_change(apage, frames, lambda a=act: a(1))
                for i in range(repeat * 2):
                    hello_seconds = await hello_notch(i)
                    out["hello"].append(hello_seconds)
                    out[f"hello, {name}"].append(hello_seconds)  # the hello notches between this change's
                    if name == "add an optimizer" and i % 2:
                        await _app_change(apage, frames, lambda a=act, i=i: a(i))  # the removal
                        continue
                    seconds, received = await _app_change(apage, frames, lambda a=act, i=i: a(i))
                    if seconds is None:
                        continue
                    out[name].append(seconds)
                    if name == "lr change":
                        out["lr bytes"].append(received)
                print(f"  {name}: {statistics.median(out[name]) * 1e3:.0f} ms, hello in between "
                      f"{statistics.median(out[f'hello, {name}']) * 1e3:.0f} ms", flush=True)
            await hctx.close()
            await actx.close()
        await browser.close()
    return {name: statistics.median(v) for name, v in out.items()}


def _parse(query: str) -> dict:
    from urllib.parse import parse_qs

    return parse_qs(query)


def _print_apptest(r: dict) -> None:
    print(f"AppTest, hello page, a slider notch (reference)    : {r['hello'] * 1e3:7.0f} ms median")
    print(f"AppTest, default page, warm rerun, nothing changed : {r['unchanged'] * 1e3:7.0f} ms median, "
          f"{r['unchanged'] / r['hello']:.1f}x hello")
    print(f"AppTest, rerun after a hyperparameter change       : {r['changed'] * 1e3:7.0f} ms median over "
          f"{r['n_changed']} new values, {r['changed'] / r['hello']:.1f}x hello")
    print(f"charts' messages, default page, a rerun after one : {sum(r['sizes']) / 1e3:7.1f} kB "
          f"({', '.join(f'{s / 1e3:.1f} kB' for s in r['sizes'])}; parts sent before go as references)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--parts", action="store_true", help="only the browser's time to charts, page part by part")
    ap.add_argument("--interactions", action="store_true",
                    help="only input event to charts redrawn: lr, optimizer, preset, landscape vs the hello slider")
    ap.add_argument("--load", action="store_true", help="only page load to charts, default page vs hello")
    ap.add_argument("--apptest", action="store_true", help="only the server's reruns (AppTest), default page vs hello")
    args = ap.parse_args()
    repeat = 5 if args.quick else 15
    if args.load:
        r = asyncio.run(load_part(repeat))
        print(f"browser, time to charts, hello page (1 chart)     : {r['hello'] * 1e3:7.0f} ms median")
        print(f"browser, time to charts, default page (3 charts)  : {r['app'] * 1e3:7.0f} ms median, "
              f"{r['app'] / r['hello']:.2f}x hello (target <= 1.5x)")
        return
    if args.interactions:
        r = asyncio.run(interactions_part(max(3, repeat // 2)))
        h = r["hello"]
        print(f"browser, hello page, slider to chart drawn       : {h * 1e3:7.0f} ms median")
        # a preset that changes the landscape is a landscape switch and more: held to the landscape's target
        for name, limit in (("lr change", 2), ("add an optimizer", 2), ("preset", 2), ("preset, new landscape", 3),
                            ("landscape switch", 3)):
            print(f"browser, {name:18s} to every chart drawn: {r[name] * 1e3:7.0f} ms median, "
                  f"{r[name] / h:.2f}x hello, {r[name] / r[f'hello, {name}']:.2f}x the hello notches in between "
                  f"({r[f'hello, {name}'] * 1e3:.0f} ms) (target <= {limit}x)")
        print(f"websocket bytes received per lr change           : {r['lr bytes'] / 1e3:7.1f} kB median "
              "(target <= 50 kB)")
        return
    if args.apptest:
        _print_apptest(apptest_reruns(repeat))
        return
    if args.parts:
        t = asyncio.run(parts_part(repeat))
        for name, seconds in t.items():
            print(f"browser, time to charts, {name:24s}: {seconds * 1e3:7.0f} ms median, "
                  f"{seconds / t['hello']:.2f}x hello")
        return
    _print_apptest(apptest_reruns(repeat))
    if chromium_path() is None:
        print("Chromium not installed: browser figures skipped (scripts/test.sh installs it)")
        return
    b = asyncio.run(browser_part(max(3, repeat // 2)))
    print(f"browser, time to charts, hello page (1 chart)     : {b['hello'] * 1e3:7.0f} ms median")
    print(f"browser, time to charts, default page (3 charts)  : {b['app'] * 1e3:7.0f} ms median, "
          f"{b['app'] / b['hello']:.2f}x hello (target <= 1.5x)")
    print(f"8 sessions at once, different links               : {b['load_median'] * 1e3:7.0f} ms median, "
          f"{b['load_worst'] * 1e3:.0f} ms worst; sessions showing other runs than their link's: "
          f"{b['mismatched']}")
    print(f"server memory (RSS) before / after 16 sessions   : {b['rss_before']:7.0f} MB / {b['rss_after']:.0f} MB")


if __name__ == "__main__":
    main()

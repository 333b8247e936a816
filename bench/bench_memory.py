"""Server memory and sharing under load.

    python -m bench.bench_memory [--links 150] [--formulas 50] [--browser]

1. RSS curve: open N distinct links one after another, then M distinct typed-in formulas; print the
   resident memory (the process, plus the formula worker's server) every 10 pages. By default each link
   is one run of the page's script with AppTest, in this process: the same script, the same caches
   (Streamlit's in-memory cache storage) as a server, without the browser's minutes of rendering;
   --browser opens them in headless Chromium against a real `streamlit run` server instead.
   Caches are bounded by entries and by bytes (optlab/app_cache.py: RUNS_BUDGET, FIGURES_BUDGET), so it levels off.
2. Sharing: time a small change (one lr notch) in one session, alone and while another session computes
   the heaviest view the app allows (a 300 x 300 basin map of 5000 steps, reduced to the 30 M run-step cap).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time
from pathlib import Path

from tests.browser import chromium, streamlit_server, wait_ready

ROOT = Path(__file__).resolve().parents[1]



def rss_mb(pid: int, children: bool = True) -> float:
    """Resident memory of a process and its descendants (the formula worker's server), in MB."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * 4096 / 2**20
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()] if children else []
        except OSError:
            pass
    return total


def links(base: str, n: int) -> list[str]:
    names = ["rosenbrock", "himmelblau", "beale", "rastrigin", "six_hump_camel", "ackley", "booth", "matyas"]
    opts = [["adam", "sgd"], ["momentum", "rmsprop"], ["nadam", "radam", "adamw"], ["adagrad"]]
    return [f"{base}/?landscape={names[i % len(names)]}&" + "&".join(f"opt={o}" for o in opts[i % len(opts)])
            + f"&steps={200 + 37 * i}&seed={i}" for i in range(n)]


def formulas(base: str, n: int) -> list[str]:
    from urllib.parse import quote

    return [f"{base}/?landscape=custom&opt=adam&formula=" + quote(f"cos(x/{i + 2}) + {i + 1}*(y - x/{i + 3})^2")
            for i in range(n)]


def apptest_curve(queries: list[dict], label: str, every: int = 10) -> list[tuple[int, float]]:
    from streamlit.testing.v1 import AppTest

    points = []
    for i, query in enumerate(queries, 1):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
        for key, value in query.items():
            at.query_params[key] = value
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        if i % every == 0 or i == len(queries):
            points.append((i, rss_mb(os.getpid())))
            print(f"  {label} {i:4d}: {points[-1][1]:7.1f} MB", flush=True)
    return points


def as_query(url: str) -> dict:
    from urllib.parse import parse_qs, urlparse

    return {k: v if len(v) > 1 else v[0] for k, v in parse_qs(urlparse(url).query).items()}


def curve(browser, base: str, pid: int, urls: list[str], label: str, every: int = 10) -> list[tuple[int, float]]:
    page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    points = []
    for i, url in enumerate(urls, 1):
        page.goto(url)
        wait_ready(page, timeout_ms=180_000)
        if i % every == 0 or i == len(urls):
            points.append((i, rss_mb(pid)))
            print(f"  {label} {i:4d}: {points[-1][1]:7.1f} MB", flush=True)
    page.context.close()
    return points


def lr_notch(page) -> float:
    slider = page.locator("[data-testid=stSidebar] [data-testid=stSlider] input[type=range]").first
    slider.focus()
    t = time.perf_counter()
    slider.press("ArrowRight")
    with contextlib.suppress(Exception):  # a fast rerun may be over before it is seen running
        page.wait_for_selector("[data-testid=stApp][data-test-script-state=running]", timeout=5_000)
    page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=300_000)
    return time.perf_counter() - t


def sharing(browser, base: str) -> None:
    small = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    small.goto(f"{base}/?opt=adam&opt=sgd")
    wait_ready(small)
    alone = [lr_notch(small) for _ in range(4)]
    heavy_url = f"{base}/?opt=adam&opt=sgd&steps=5000&explore=basins&basins.n=300"
    heavy = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    t = time.perf_counter()
    heavy.goto(heavy_url, wait_until="commit")
    time.sleep(2.0)  # the basin map is under way
    during = [lr_notch(small) for _ in range(3)]
    heavy.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=600_000)
    heavy_s = time.perf_counter() - t
    a, d = statistics.median(alone), statistics.median(during)
    print(f"small change alone: median {a:.2f} s; while a 300x300 basin map runs in another session: median "
          f"{d:.2f} s (x{d / a:.1f}); the heavy view took {heavy_s:.1f} s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--links", type=int, default=150)
    ap.add_argument("--formulas", type=int, default=50)
    ap.add_argument("--no-sharing", action="store_true")
    ap.add_argument("--browser", action="store_true", help="the curve in Chromium against a real server")
    args = ap.parse_args()
    if not args.browser:
        print(f"this process at start: {rss_mb(os.getpid()):.1f} MB (AppTest runs of app.py)")
        apptest_curve([as_query(u) for u in links("", args.links)], "link")
        apptest_curve([as_query(u) for u in formulas("", args.formulas)], "formula")
        heavy = {"opt": ["adam", "sgd"], "steps": "5000", "explore": "basins", "basins.n": "300"}
        apptest_curve([heavy], "basin map 300x300", every=1)
        apptest_curve([as_query(u) for u in links("", 20)], "link (again)")
        total, own = rss_mb(os.getpid()), rss_mb(os.getpid(), children=False)
        print(f"of which this process {own:.1f} MB, the formula worker's server {total - own:.1f} MB")
        if args.no_sharing:
            return
    with streamlit_server() as (base, proc), chromium() as browser:
        if not args.browser:
            sharing(browser, base)
            return
        print(f"server at start: {rss_mb(proc.pid):.1f} MB")
        curve(browser, base, proc.pid, links(base, args.links), "link")
        curve(browser, base, proc.pid, formulas(base, args.formulas), "formula")
        if not args.no_sharing:
            sharing(browser, base)
        print(f"server at end: {rss_mb(proc.pid):.1f} MB")


if __name__ == "__main__":
    main()

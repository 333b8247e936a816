"""Speed of the network landscapes (issue 14), each part on its own, with references timed in the same run.

    python bench/bench_networks.py [--quick] [--part grid|training|page|app|start ...]

1. ``grid``: the loss over an 80 × 80 grid of a plane, MLP 64-32-10 on digits (all 1,797 examples), tanh and ReLU, as
   the landscape computes it for a plot (Plane.surface: the separable first layer, two threads): target ≤ 2 s.
   References: the per-point path (Plane.evaluate, what runs use) on the same grid; np.tanh alone on the
   80·80·1797·32 first-layer pre-activations (the floor of any path that calls libm's tanh for each), and np.exp
   alone on the 80·80·1797·10 logits (what the softmax alone costs: no grid can do less).
2. ``training``: 500 full-training steps of that network for 4 optimizers (SGD with momentum, Adam, RMSprop, AdamW),
   minibatches of 64, as one batch of shape (P, 4) (optlab.training.train_group): target ≤ 1 s. References: the
   same 4 trained one after the other (optlab.training.train), and torch.optim with torch.autograd.
3. ``page``: the networks page's computation for those 4 runs (optlab.full_training.train_all on the digits plane's
   network, its 1,348 training examples: the training, per-layer norms at every step, training and test loss and
   accuracy at 41 checkpoints, the shared plane and its loss on the default 40 × 40 grid, and on 80 × 80).
   Reference: the training alone (train_group, the same runs).
4. ``app``: first views (AppTest) of a warm server (the modules, the networks and their header's lazy fields
   loaded), each against the comparison page's first view in the same run (Streamlit's caches cleared before
   each): the networks page's default digits view (``train=true&landscape=mlp_digits_plane``) from a server that
   warmed itself (optlab.app_cache.warm_up run to its end before the view, untimed: what a user who opens it on a
   running server meets), and views computed fresh: the same default view without the warm-up, another seed of
   it (``seed=1``), and the issue's link (4 optimizers, 500 steps, minibatches of 64).
5. ``start`` (Chromium, Linux): fresh ``streamlit run app.py`` servers, the warm-up on and off (OPTLAB_WARM_UP),
   interleaved, 3 each: the comparison page's first view to every chart drawn, a second load, the server's CPU
   until it is idle (the warm-up's cost), then the networks page's default digits view (see start_part).

Prints medians of wall and CPU time, timed round-robin (the machines here are shared and noisy), and each case's
ratio to its part's first reference: compare those, and the CPU time, which a busy machine inflates less. The
targets are printed beside the figures, never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from optlab.models import minibatch_order  # noqa: E402
from optlab.networks import MLP, Plane, load_dataset, random_directions  # noqa: E402
from optlab.training import train, train_group  # noqa: E402

OPTIMIZERS = {"momentum": {"lr": 0.05}, "adam": {"lr": 0.01}, "rmsprop": {"lr": 0.001}, "adamw": {"lr": 0.01}}


def interleaved(cases: dict, repeat: int, warm_up: bool = True) -> dict:
    """Median seconds of each case, timed round-robin so that every case sees the same machine. A case is a
    function, or (setup, function): setup() runs before each timing, untimed."""
    cases = {name: case if isinstance(case, tuple) else (None, case) for name, case in cases.items()}
    for setup, fn in cases.values() if warm_up else ():
        setup and setup()
        fn()
    times = {name: [] for name in cases}
    cpu = {name: [] for name in cases}
    for _ in range(repeat):
        for name, (setup, fn) in cases.items():
            setup and setup()
            t, c = time.perf_counter(), time.process_time()
            fn()
            times[name].append(time.perf_counter() - t)
            cpu[name].append(time.process_time() - c)
    return {name: (statistics.median(times[name]), statistics.median(cpu[name])) for name in cases}


def digits_all():
    """Digits with every example (the issue's 1,797), standardised."""
    data = load_dataset("digits")
    X = np.concatenate([data.X, data.X_test])
    y = np.concatenate([data.y, data.y_test])
    return X, y


def grid_cases(n: int = 80):
    X, y = digits_all()
    gx, gy = np.meshgrid(np.linspace(-1, 1, n), np.linspace(-1, 1, n))
    cases = {}
    for activation in ("tanh", "relu"):
        net = MLP((64, 32, 10), activation)
        theta0 = net.init(0)
        plane = Plane(net, X, y, theta0, *random_directions(net, theta0, 0))
        cases[f"grid {n}×{n}, {activation}"] = lambda plane=plane: plane.surface(gx[0], gy[:, 0])
        if activation == "tanh":
            cases[f"reference: grid {n}×{n}, {activation}, point by point"] = \
                lambda plane=plane: plane.evaluate(gx, gy, grad=False)
    a = np.random.default_rng(0).standard_normal((2, len(X), 32))  # two points' worth, in cache, as the grid's chunks
    out = np.empty_like(a)
    cases[f"reference: np.tanh alone on {n}·{n}·{len(X)}·32 numbers"] = lambda: [np.tanh(a, out=out)
                                                                              for _ in range(n * n // 2)]
    logits = np.random.default_rng(1).standard_normal((2, 10, len(X)))
    logits_out = np.empty_like(logits)
    cases[f"reference: np.exp alone on {n}·{n}·{len(X)}·10 numbers"] = lambda: [np.exp(logits, out=logits_out)
                                                                             for _ in range(n * n // 2)]
    return cases


def training_cases(steps: int = 500, batch: int = 64):
    X, y = digits_all()
    net = MLP((64, 32, 10))
    theta0 = net.init(0)
    cases = {f"{steps} steps × 4 optimizers, minibatch {batch}, batched (P, 4)": lambda: train_group(
        net, X, y, list(OPTIMIZERS.items()), theta0, steps=steps, batch_size=batch, seeds=1),
        "reference: the same 4, one after the other": lambda: [
        train(net, X, y, name, theta0, steps=steps, batch_size=batch, seed=1, **hp) for name, hp in OPTIMIZERS.items()]}
    try:
        import torch
    except ImportError:
        return cases
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)  # as the NumPy code (one BLAS thread): the machines here are 2 shared cores
    Xt, yt = torch.tensor(X), torch.tensor(y)
    order = torch.from_numpy(minibatch_order(1, steps, len(X), batch))
    makers = {"momentum": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
              "adam": lambda p: torch.optim.Adam(p, lr=0.01), "rmsprop": lambda p: torch.optim.RMSprop(p, lr=0.001),
              "adamw": lambda p: torch.optim.AdamW(p, lr=0.01)}

    def torch_training():
        for make in makers.values():
            model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.Tanh(), torch.nn.Linear(32, 10))
            torch.nn.utils.vector_to_parameters(torch.tensor(theta0), model.parameters())
            opt = make(model.parameters())
            for k in range(steps):
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(Xt[order[k]]), yt[order[k]]).backward()
                opt.step()

    cases["reference: torch.optim + autograd, same runs"] = torch_training
    return cases


def page_cases(steps: int = 500, batch: int = 64):
    import optlab
    from optlab import full_training
    from optlab.networks.landscape import network_of

    source = network_of(optlab.get_landscape("mlp_digits_plane"))
    assert source.plane is not None  # (built once, as the page's landscape is)
    data = source.data
    cases = {f"networks page: {steps} steps × 4 optimizers, minibatch {batch}, {n} × {n} plane grid":
             lambda n=n: full_training.train_all(source, OPTIMIZERS, steps=steps, batch_size=batch, grid=n)
             for n in (full_training.GRID, full_training.MAX_GRID)}
    cases["reference: its training alone (train_group, the same 4 runs)"] = lambda: train_group(
        source.net, data.X, data.y, list(OPTIMIZERS.items()), source.plane.theta0, steps=steps, batch_size=batch,
        seeds=0)
    # what honesty at every step would add: the plane's loss at each step's projection, a forward pass over the
    # training set per step and run (the page computes it at its 41 checkpoints)
    every_step = source.plane.theta0[:, None] + 1e-3 * np.random.default_rng(0).standard_normal(
        (source.net.size, steps * len(OPTIMIZERS)))
    cases[f"the plane's loss at every step instead ({steps} × 4 forward passes over {len(data.X):,} examples)"] = \
        lambda: full_training.evaluate(source.net, every_step, data.X, data.y)
    return cases


NETWORKS_LINK = {"train": "true", "landscape": "mlp_digits_plane", "opt": ["momentum", "adam", "rmsprop", "adamw"],
                 "momentum.lr": "0.05", "adam.lr": "0.01", "rmsprop.lr": "0.001", "adamw.lr": "0.01",
                 "steps": "500", "batch": "64"}


def app_cases():
    """First views (AppTest) of a warm server (the modules and the networks loaded), against the comparison
    page's first view: the networks page's default view as a server that warmed itself answers it
    (optlab.app_cache.warm_up, run to its end before the view, untimed), and views computed fresh (Streamlit's
    caches and the warmed views cleared before each): the same default view, another seed of it, and the
    issue's 4-optimizer link."""
    import os

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from optlab import app_cache

    app = str(Path(__file__).resolve().parents[1] / "app.py")

    def fresh(warm: bool = False):
        def setup():
            st.cache_data.clear()
            st.cache_resource.clear()
            app_cache.forget_warm_up()
            os.environ[app_cache.WARM_UP] = "1" if warm else "0"
            if warm:
                app_cache.QUIET = 0.0  # (not waiting for a quiet server: nothing else runs here)
                app_cache.warm_up(wait=True)  # the server's own warm-up, done before the user comes
        return setup

    def first_view(query: dict):
        def view():
            at = AppTest.from_file(app, default_timeout=120)
            for key, value in query.items():
                at.query_params[key] = value
            at.run()
            assert not at.exception, [e.value for e in at.exception]
        return view

    import optlab
    from optlab.networks.landscape import network_of

    for land in ("mlp_digits_plane", "mlp_iris_plane", "mlp_moons_plane"):  # (sklearn, the data, the header's
        network_of(optlab.get_landscape(land)).summary()  # minimum and scores: what a warm server holds)
    default = {"train": "true", "landscape": "mlp_digits_plane"}
    cases = {
        "networks page, default view (digits, Adam and SGD, 300 full-batch steps, 40 × 40 grid), from a server "
        "that warmed itself": (fresh(warm=True), first_view(default)),
        "the same default view computed fresh (no warm-up)": (fresh(), first_view(default)),
        "another seed of it (seed=1), computed fresh": (fresh(), first_view({**default, "seed": "1"})),
        "the issue's link (digits, 4 optimizers, 500 steps, minibatch 64, 40 × 40), computed fresh":
            (fresh(), first_view(NETWORKS_LINK)),
        "reference: the comparison page, first view (the default link)": (fresh(), first_view({})),
    }
    for setup, view in cases.values():  # a warm server has run each page once (its modules imported), even with
        setup()  # --quick
        view()
    return cases


def start_part(repeat: int) -> list[tuple]:
    """A fresh `streamlit run app.py` each time, with the warm-up on and off (OPTLAB_WARM_UP), interleaved; one
    Chromium: the comparison page's first view at server start (to every chart drawn), a second load right after
    it, then, once the server is idle (under 3 % of a core for app_cache.QUIET + 2 s: the warm-up waits QUIET
    seconds after the last run before it starts), the networks page's default digits view. Also the server's
    CPU seconds from the first view until idle (the warm-up's cost) and how long that took. Each server's
    figures go to stderr as well."""
    import asyncio
    import os

    from playwright.async_api import async_playwright

    from bench.bench_app import time_to_charts
    from optlab import app_cache
    from tests.browser import CHROMIUM_ARGS, chromium_path, streamlit_server

    def cpu_seconds(pid: int) -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def idle(pid: int, still: float = 2.0) -> float:
        """When the server's last busy stretch ended: the first time after which it used less than 3 % of a core
        over ``still`` seconds (an idle server still ticks: ~0.3 % here)."""
        samples = [(time.perf_counter(), cpu_seconds(pid))]
        while True:
            await asyncio.sleep(0.25)
            samples.append((time.perf_counter(), cpu_seconds(pid)))
            first = next(i for i, (t, _) in enumerate(samples) if t >= samples[-1][0] - still)
            if samples[-1][0] - samples[0][0] >= still and \
                    samples[-1][1] - samples[first][1] < 0.03 * (samples[-1][0] - samples[first][0]):
                return samples[first][0]

    networks = "/?train=true&landscape=mlp_digits_plane"
    results: dict = {}

    async def run():
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            for _ in range(repeat):
                for warm in ("1", "0"):
                    with streamlit_server(env={"OPTLAB_WARM_UP": warm}) as (base, proc):
                        got = results.setdefault(warm, {k: [] for k in ("first", "second", "networks", "cpu",
                                                                          "busy")})
                        got["first"].append(await time_to_charts(browser, base, 3))
                        served, cpu0 = time.perf_counter(), cpu_seconds(proc.pid)
                        got["second"].append(await time_to_charts(browser, base, 3))
                        got["busy"].append(await idle(proc.pid, app_cache.QUIET + 2.0) - served)
                        got["cpu"].append(cpu_seconds(proc.pid) - cpu0)
                        got["networks"].append(await time_to_charts(browser, base + networks, 5))
                        print(f"warm-up {'on' if warm == '1' else 'off'}:",
                              {k: round(v[-1], 2) for k, v in got.items()}, file=sys.stderr, flush=True)
            await browser.close()

    asyncio.run(run())
    m = {warm: {k: statistics.median(v) for k, v in got.items()} for warm, got in results.items()}
    on, off = m["1"], m["0"]
    return [
        ("fresh server, comparison page's first view to every chart drawn, warm-up on", on["first"], None,
         on["first"] / off["first"], "no slower than off"),
        ("the same, warm-up off (reference)", off["first"], None, 1.0, ""),
        ("a second load right after it, warm-up on", on["second"], None,
         on["second"] / off["second"], ""),
        ("the same, warm-up off", off["second"], None, 1.0, ""),
        ("from the first view until the server is idle (the second load, the warm-up), warm-up on: its CPU s",
         on["busy"], on["cpu"], None, ""),
        ("the same, warm-up off", off["busy"], off["cpu"], None, ""),
        ("then the networks page's default digits view to its 5 charts, warm-up on", on["networks"], None,
         on["networks"] / off["networks"], ""),
        ("the same, warm-up off (computed on demand)", off["networks"], None, 1.0, ""),
    ]


PARTS = {"grid": (grid_cases, {"grid 80": "≤ 2 s"}), "training": (training_cases, {"batched": "≤ 1 s"}),
         "page": (page_cases, {}), "app": (app_cases, {"networks page": "as the comparison page",
                                                        "computed fresh": "as the comparison page"}),
         "start": (start_part, None)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round, no warm-up, instead of a warm-up and 5")
    parser.add_argument("--part", action="append", choices=list(PARTS), help="only these parts (repeatable)")
    parser.add_argument("--page", action="store_true", help="only the networks page's computation (--part page)")
    args = parser.parse_args(argv)
    repeat, warm_up = (1, False) if args.quick else (5, True)
    parts = args.part or (["page"] if args.page else list(PARTS))
    print("| case | median (wall) | CPU time | vs reference (wall) | target |")
    print("|---|---|---|---|---|", flush=True)
    for part in parts:
        make, targets = PARTS[part]
        if targets is None:  # a part that times itself (start: servers and a browser), rows of its own
            for name, t, c, ratio, target in make(1 if args.quick else 3):
                print(f"| {name} | {t:.2f} s | {'' if c is None else f'{c:.2f} s'} | "
                      f"{'' if ratio is None else f'{ratio:.2f}×'} | {target} |", flush=True)
            continue
        results = interleaved(make(), repeat, warm_up)
        reference = next((t for name, (t, _) in results.items() if name.startswith("reference")), None)
        for name, (t, c) in results.items():
            target = next((v for k, v in targets.items() if k in name and not name.startswith("reference")), "")
            ratio = f"{t / reference:.2f}×" if reference else ""
            print(f"| {name} | {t:.2f} s | {c:.2f} s | {ratio} | {target} |", flush=True)


if __name__ == "__main__":
    main()

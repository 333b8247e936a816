"""Speed of the network landscapes (issue 14), each part on its own, with references timed in the same run.

    python bench/bench_networks.py [--quick] [--part grid|training|page|app ...]

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
4. ``app``: the networks page's first view from a warm server (AppTest: the modules and the digits network loaded,
   Streamlit's caches cleared before each view, so the page computes everything), against the comparison page's
   first view in the same run.

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
    """Median seconds of each case, timed round-robin so that every case sees the same machine."""
    for fn in cases.values() if warm_up else ():
        fn()
    times = {name: [] for name in cases}
    cpu = {name: [] for name in cases}
    for _ in range(repeat):
        for name, fn in cases.items():
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
    """First views (AppTest) from a warm server: caches cleared before each, the modules and network loaded."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    app = str(Path(__file__).resolve().parents[1] / "app.py")

    def first_view(query: dict):
        def view():
            st.cache_data.clear()
            st.cache_resource.clear()
            at = AppTest.from_file(app, default_timeout=120)
            for key, value in query.items():
                at.query_params[key] = value
            at.run()
            assert not at.exception, [e.value for e in at.exception]
        return view

    import optlab
    from optlab.networks.landscape import network_of

    assert network_of(optlab.get_landscape("mlp_digits_plane")).plane is not None  # (sklearn and the data loaded)
    cases = {"networks page, first view (digits, 4 optimizers, 500 steps, minibatch 64, 40 × 40 grid)":
             first_view(NETWORKS_LINK), "reference: the comparison page, first view (the default link)": first_view({})}
    for view in cases.values():  # a warm server has run each page once (its modules imported), even with --quick
        view()
    return cases


PARTS = {"grid": (grid_cases, {"grid 80": "≤ 2 s"}), "training": (training_cases, {"batched": "≤ 1 s"}),
         "page": (page_cases, {}), "app": (app_cases, {"networks page": "as the comparison page"})}


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
        results = interleaved(make(), repeat, warm_up)
        reference = next((t for name, (t, _) in results.items() if name.startswith("reference")), None)
        for name, (t, c) in results.items():
            target = next((v for k, v in targets.items() if k in name and not name.startswith("reference")), "")
            ratio = f"{t / reference:.2f}×" if reference else ""
            print(f"| {name} | {t:.2f} s | {c:.2f} s | {ratio} | {target} |", flush=True)


if __name__ == "__main__":
    main()

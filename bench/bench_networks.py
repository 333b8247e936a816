"""Speed of the network landscapes (issue 14), with reference loops timed in the same run.

    python bench/bench_networks.py [--quick]

1. The loss over an 80 × 80 grid of a plane, MLP 64-32-10 on digits (all 1,797 examples), tanh and ReLU, as the
   landscape computes it for a plot (Plane.surface: the separable first layer, two threads): target ≤ 2 s.
   References: the per-point path (Plane.evaluate, what runs use) on the same grid, and np.tanh alone on the
   80·80·1797·32 first-layer pre-activations (the floor of any path that calls libm's tanh for each).
2. 500 full-training steps of that network for 4 optimizers (SGD with momentum, Adam, RMSprop, AdamW), minibatches
   of 64: target ≤ 1 s. Reference: the same with torch.optim and torch.autograd (when torch is installed).
3. The networks page's computation for those 4 runs (optlab.full_training.train_all on the digits plane's network,
   its 1,348 training examples: the training, per-layer norms at every step, training and test loss and
   accuracy at 41 checkpoints, the shared plane and its loss on the default 40 × 40 grid, and on 80 × 80).
   ``--page`` times this part only.

Prints medians of wall and CPU time, timed round-robin (the machines here are shared and noisy: compare with the
references, and the CPU time, which a busy machine inflates less).
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
from optlab.training import train  # noqa: E402

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
    return cases


def training_cases(steps: int = 500, batch: int = 64):
    X, y = digits_all()
    net = MLP((64, 32, 10))
    theta0 = net.init(0)
    cases = {f"{steps} steps × 4 optimizers, minibatch {batch}": lambda: [
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
    return {f"networks page: {steps} steps × 4 optimizers, minibatch {batch}, {n} × {n} plane grid":
            lambda n=n: full_training.train_all(source, OPTIMIZERS, steps=steps, batch_size=batch, grid=n)
            for n in (full_training.GRID, full_training.MAX_GRID)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round, no warm-up, instead of a warm-up and 5")
    parser.add_argument("--page", action="store_true", help="only the networks page's computation (part 3)")
    args = parser.parse_args(argv)
    repeat, warm_up = (1, False) if args.quick else (5, True)
    print("| case | median (wall) | CPU time | target |")
    print("|---|---|---|---|", flush=True)
    if args.page:
        for name, (t, c) in interleaved(page_cases(), repeat, warm_up).items():
            print(f"| {name} | {t:.2f} s | {c:.2f} s | |", flush=True)
        return
    for name, (t, c) in interleaved(grid_cases(), repeat, warm_up).items():
        print(f"| {name} | {t:.2f} s | {c:.2f} s | {'≤ 2 s' if name.startswith('grid') else ''} |", flush=True)
    for name, (t, c) in interleaved(training_cases(), repeat, warm_up).items():
        print(f"| {name} | {t:.2f} s | {c:.2f} s | {'≤ 1 s' if not name.startswith('reference') else ''} |")


if __name__ == "__main__":
    main()

"""Speed of simulate() for Adam on Rosenbrock (float64), with reference loops timed in the same run.

    python bench/bench_simulate.py [--quick]
    python bench/bench_simulate.py --optimizers [--quick]   # every declaration's batch and single run, × Adam's

Prints medians; machines here are shared and noisy, so compare against the
references measured alongside rather than across runs.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time

import numpy as np

import optlab

START = (-1.5, 2.0)
LR, B1, B2, EPS = 1e-3, 0.9, 0.999, 1e-8


def median_ms(fn, repeat: int) -> float:
    return interleaved({"case": fn}, repeat)["case"]


def interleaved(cases: dict, repeat: int) -> dict:
    """Median ms of each case, timed round-robin so that every case sees the same machine."""
    for fn in cases.values():
        fn()  # warm-up
    times = {name: [] for name in cases}
    for _ in range(repeat):
        for name, fn in cases.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return {name: statistics.median(ts) * 1e3 for name, ts in times.items()}


# --- references ----------------------------------------------------------------------
def python_floats(steps):
    x, y = START
    mx = my = vx = vy = 0.0
    for t in range(1, steps + 1):
        a, b = 1 - x, y - x * x
        gx, gy = -2 * a - 400 * x * b, 200 * b
        mx, my = B1 * mx + (1 - B1) * gx, B1 * my + (1 - B1) * gy
        vx, vy = B2 * vx + (1 - B2) * gx * gx, B2 * vy + (1 - B2) * gy * gy
        bc1, bc2 = 1 - B1**t, math.sqrt(1 - B2**t)
        x -= LR / bc1 * mx / (math.sqrt(vx) / bc2 + EPS)
        y -= LR / bc1 * my / (math.sqrt(vy) / bc2 + EPS)
    return x, y


def numpy_loop(theta, steps):
    """The straightforward NumPy loop over arrays of shape (B, 2)."""
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    for t in range(1, steps + 1):
        x, y = theta[..., 0], theta[..., 1]
        g = np.stack([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)], axis=-1)
        m = B1 * m + (1 - B1) * g
        v = B2 * v + (1 - B2) * g * g
        theta = theta - LR / (1 - B1**t) * m / (np.sqrt(v) / math.sqrt(1 - B2**t) + EPS)
    return theta


def torch_loop(batch, steps):
    import torch

    p = torch.tensor(np.tile(START, (batch, 1)), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([p], lr=LR)
    for _ in range(steps):
        opt.zero_grad()
        x, y = p[:, 0], p[:, 1]
        ((1 - x) ** 2 + 100 * (y - x * x) ** 2).sum().backward()
        opt.step()


def views(rows: list, repeat: int) -> None:
    """The explore views' compute (optlab.sweeps, no plotting), and batch = single runs, checked bit for bit."""
    from optlab import sweeps

    def sweep():
        return sweeps.sensitivity("rosenbrock", "adam", x="lr", y="beta1", n=100, steps=500, start=START)

    def basin(name, lr):
        return lambda: sweeps.basins("himmelblau", name, n=200, steps=300, hparams={"lr": lr})

    times = interleaved({
        "sweep 100 x 100 (lr x beta1), 500 steps, Adam, Rosenbrock": sweep,
        "basin map 200 x 200, 300 steps, Himmelblau, Adam lr=0.05": basin("adam", 0.05),
        "basin map 200 x 200, 300 steps, Himmelblau, SGD lr=0.01": basin("sgd", 0.01),
    }, max(3, repeat // 2))
    for (label, ms), (runs, steps, target) in zip(times.items(), [(10_000, 500, "<= 150 ms"),
                                                                  (40_000, 300, "<= 300 ms"),
                                                                  (40_000, 300, "<= 300 ms")], strict=True):
        rows.append((label, ms, runs * steps / (ms / 1e3) / 1e6, target))

    # the same runs one by one: every sampled cell and start must match to the last bit
    s, rng = sweep(), np.random.default_rng(0)
    same = all(
        optlab.simulate("rosenbrock", "adam", start=START, steps=500, lr=float(s.x[j]), beta1=float(s.y[i]))
        .metrics()["best_loss"] == s.best_loss[i, j] for i, j in rng.integers(0, 100, (40, 2)))
    b = basin("sgd", 0.01)()
    same &= all(np.array_equal(optlab.simulate("himmelblau", "sgd", start=(b.x[j], b.y[i]), steps=300,
                                               lr=0.01).path[-1], b.final[i, j])
                for i, j in rng.integers(0, 200, (40, 2)))
    verdict = "identical to the last bit" if same else "DIFFERENT"
    print(f"views: 40 sweep cells and 40 basin starts re-run one by one: {verdict}\n")


def optimizers(repeat: int) -> None:
    """Every declared optimizer on Rosenbrock at its defaults, 10,000 runs x 200 steps and 1 run x 1000 steps,
    timed round-robin with Adam: its time as a multiple of Adam's in the same rounds (the machine's load cancels).
    L-BFGS (one run at a time in Python, several evaluations a step) has its own, bench/bench_lbfgs.py."""
    names = [n for n in optlab.optimizer_names() if not optlab.get_optimizer(n).evaluates]
    starts = np.tile(START, (10_000, 1))
    with np.errstate(all="ignore"):
        batch = interleaved({n: (lambda n=n: optlab.simulate("rosenbrock", n, start=starts, steps=200))
                             for n in names}, repeat)
        single = interleaved({n: (lambda n=n: optlab.simulate("rosenbrock", n, start=START, steps=1000))
                              for n in names}, repeat)
    width = max(map(len, names))
    print(f"{'optimizer':<{width}}  {'10,000 x 200 ms':>15}  {'M run-steps/s':>13}  {'x Adam':>6}  "
          f"{'1 x 1000 ms':>11}  {'x Adam':>6}  kind")
    for n in names:
        decl = optlab.get_optimizer(n)
        print(f"{n:<{width}}  {batch[n]:>15.1f}  {10_000 * 200 / batch[n] / 1e3:>13.1f}  "
              f"{batch[n] / batch['adam']:>6.2f}  {single[n]:>11.2f}  {single[n] / single['adam']:>6.2f}  "
              f"{'coupled (2, B) arrays' if decl.coupled else 'element-wise'}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--views", action="store_true", help="with --quick: also time the explore views")
    ap.add_argument("--optimizers", action="store_true", help="only every declaration's time, as a multiple of Adam's")
    args = ap.parse_args()
    r_single, r_batch = (15, 3) if args.quick else (101, 11)
    if args.optimizers:
        print(f"numpy {np.__version__}, python {sys.version.split()[0]}, median of {3 if args.quick else 7}\n")
        optimizers(3 if args.quick else 7)
        return
    try:
        import torch  # noqa: F401

        has_torch = True
    except ImportError:
        has_torch = False

    rows = []

    def row(label, ms, runs, steps, target=""):
        rate = runs * steps / (ms / 1e3) / 1e6
        rows.append((label, ms, rate, target))

    print(f"numpy {np.__version__}, python {sys.version.split()[0]}, median of {r_single} (single) / "
          f"{r_batch} (batch) repetitions\n")
    n = 1000
    single = interleaved({
        "optlab.simulate, 1 run x 1000 steps": lambda: optlab.simulate("rosenbrock", "adam", start=START, steps=n),
        "  same, record_state=False": lambda: optlab.simulate("rosenbrock", "adam", start=START, steps=n,
                                                              record_state=False),
        "  reference: plain Python floats": lambda: python_floats(n),
        "  reference: NumPy loop on (1, 2)": lambda: numpy_loop(np.array([START]), n),
    }, r_single)
    for i, (label, ms) in enumerate(single.items()):
        row(label, ms, 1, n, "<= 5 ms" if i == 0 else "")
    if has_torch:
        row("  reference: torch.optim loop", median_ms(lambda: torch_loop(1, n), 5), 1, n)

    B, n = 10_000, 200
    starts = np.tile(START, (B, 1))
    # The record-everything case is timed on its own: the ~150 MB it frees come back to the next call as
    # fresh pages that the kernel must zero, which costs its neighbour in a round-robin about 3 ms.
    batch = interleaved({
        "optlab.simulate, 10,000 runs x 200 steps (default)": lambda: optlab.simulate(
            "rosenbrock", "adam", start=starts, steps=n),
        "  reference: straightforward NumPy loop": lambda: numpy_loop(starts, n),
    }, r_batch)
    batch["  same, record_state=True (timed alone)"] = median_ms(
        lambda: optlab.simulate("rosenbrock", "adam", start=starts, steps=n, record_state=True), r_batch)
    for i, (label, ms) in enumerate(batch.items()):
        row(label, ms, B, n, ">= 100 M/s" if i == 0 else "")
    if has_torch:
        row("  reference: torch.optim, one batched tensor", median_ms(lambda: torch_loop(B, n), 3), B, n)

    if args.views or not args.quick:
        views(rows, r_batch)

    width = max(len(r[0]) for r in rows)
    print(f"{'case':<{width}}  {'median ms':>10}  {'M run-steps/s':>13}  target")
    for label, ms, rate, target in rows:
        print(f"{label:<{width}}  {ms:>10.2f}  {rate:>13.2f}  {target}")


if __name__ == "__main__":
    main()

"""lbfgs against torch.optim.LBFGS over random settings, and what its runs cost (the README's figures).

    python bench/bench_lbfgs.py [--seeds 3 11 12 13]

For each seed: 100 random settings (5 landscapes, both line_search_fn values, lr, max_iter, max_eval,
tolerances and history_size drawn as tests/test_lbfgs.py does), 30 steps, the largest difference of the
paths relative to max(1, |θ|), the share of runs equal bit for bit, and whether every step made as many
evaluations as torch's. Then the time of 300 steps on Rosenbrock at lr = 1 and lr = 0.001.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import optlab

LANDS = [("rosenbrock", (-1.5, 2.0)), ("himmelblau", (-1.0, -1.5)), ("rastrigin", (2.3, -1.7)),
         ("beale", (1.0, 1.0)), ("booth", (0.0, 0.0))]


def parity(seed: int) -> tuple[float, float, bool]:
    decl = optlab.get_optimizer("lbfgs")
    rng = np.random.default_rng(seed)
    worst, exact, counts, n = 0.0, 0, True, 0
    for land, start in LANDS:
        for line_search_fn in (None, "strong_wolfe"):
            for _ in range(10):
                hp = dict(lr=10 ** rng.uniform(-2, 0.3), max_iter=int(rng.integers(1, 30)),
                          max_eval=int(rng.integers(1, 40)), tolerance_grad=10 ** rng.uniform(-10, -4),
                          tolerance_change=10 ** rng.uniform(-12, -6), history_size=int(rng.integers(1, 20)),
                          line_search_fn=line_search_fn)
                theirs = optlab.simulate(land, torch.optim.LBFGS, start=start, steps=30,
                                         **decl.torch_args({**decl.defaults, **hp}))
                ours = optlab.simulate(land, "lbfgs", start=start, steps=30, **hp)
                rows = np.isfinite(theirs.path).all(axis=1)  # torch's runner stops at a non-finite θ
                diff = np.abs(ours.path[rows] - theirs.path[rows]) / np.maximum(1.0, np.abs(theirs.path[rows]))
                worst = max(worst, float(diff.max()))
                exact += bool(np.array_equal(ours.path[rows], theirs.path[rows]))
                steps = int(rows.sum()) - 1
                counts &= ([len(t["what"]) for t in ours.trace[:steps]]
                           == theirs.state["evaluations"][:steps, 0].astype(int).tolist())
                n += 1
    return worst, exact / n, counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[3, 11, 12, 13])
    args = parser.parse_args()
    for seed in args.seeds:
        worst, share, counts = parity(seed)
        print(f"seed {seed}: 100 settings, largest difference {worst:.2g}, {share:.0%} bit for bit, "
              f"evaluations per step {'all equal' if counts else 'DIFFER'}")
    for lr in (1.0, 1e-3):
        t = time.perf_counter()
        optlab.simulate("rosenbrock", "lbfgs", steps=300, lr=lr)
        print(f"300 steps on Rosenbrock, lr = {lr:g}: {time.perf_counter() - t:.2f} s")


if __name__ == "__main__":
    main()

"""Exports: trajectories as CSV, and a runnable torch.optim script that reproduces each run."""

from __future__ import annotations

import pandas as pd

from optlab.config import RunConfig
from optlab.optimizers import get_optimizer
from optlab.simulation import Run


def trajectories_csv(runs: dict[str, Run]) -> str:
    return pd.concat([run.to_frame() for run in runs.values()], ignore_index=True).to_csv(index=False)


_LANDSCAPE_CODE = {
    # plain-torch versions of the formulas, for the exported script
    "rosenbrock": "(1 - x) ** 2 + 100 * (y - x**2) ** 2",
    "beale": "(1.5 - x + x*y)**2 + (2.25 - x + x*y**2)**2 + (2.625 - x + x*y**3)**2",
    "himmelblau": "(x**2 + y - 11)**2 + (x + y**2 - 7)**2",
    "booth": "(x + 2*y - 7)**2 + (2*x + y - 5)**2",
    "matyas": "0.26*(x**2 + y**2) - 0.48*x*y",
    "three_hump_camel": "2*x**2 - 1.05*x**4 + x**6/6 + x*y + y**2",
    "six_hump_camel": "(4 - 2.1*x**2 + x**4/3)*x**2 + x*y + (-4 + 4*y**2)*y**2",
    "rastrigin": "20 + x**2 - 10*torch.cos(2*math.pi*x) + y**2 - 10*torch.cos(2*math.pi*y)",
    "styblinski_tang": "0.5*(x**4 - 16*x**2 + 5*x + y**4 - 16*y**2 + 5*y)",
    "bowl": "0.5*(x**2 + y**2)",
    "saddle": "x**2 - y**2",
    "monkey_saddle": "x**3 - 3*x*y**2",
    "periodic_valley": "torch.sin(x) + y**2",
}


def _torch_kwargs(name: str, hp: dict) -> str:
    hp = dict(hp)
    if "beta1" in hp:
        hp["betas"] = (hp.pop("beta1"), hp.pop("beta2"))
    return ", ".join(f"{k}={v!r}" for k, v in hp.items())


def torch_script(cfg: RunConfig) -> str:
    """A self-contained script that re-runs every optimizer of ``cfg`` with torch.optim.

    The gradient is the landscape's own (optlab's analytic one when optlab is importable,
    autograd otherwise), so the paths match the dashboard's to rounding error.
    """
    lines = [
        '"""Reproduce Optimizer Lab runs with torch.optim."""',
        "import math", "", "import torch", "",
        f"START = {tuple(float(v) for v in cfg.start_point)!r}",
        f"STEPS = {cfg.steps}",
    ]
    formula = _LANDSCAPE_CODE.get(cfg.landscape)
    if formula and not cfg.landscape_params:
        lines += ["", "", "def f(p):", "    x, y = p[0], p[1]", f"    return {formula}"]
    else:
        lines += ["", "", "import numpy as np", "import optlab", "",
                  (f"LANDSCAPE = optlab.formula_landscape({cfg.land.formula!r}, **{cfg.landscape_params!r})"
                   if cfg.land.formula is not None else
                   f"LANDSCAPE = optlab.get_landscape({cfg.landscape!r}, **{cfg.landscape_params!r})"), "",
                  "def f(p):  # loss with optlab's analytic gradient",
                  "    return _F.apply(p)", "",
                  "class _F(torch.autograd.Function):",
                  "    @staticmethod",
                  "    def forward(ctx, p):",
                  "        ctx.save_for_backward(p)",
                  "        return torch.tensor(float(LANDSCAPE.f(p.detach().numpy())), dtype=p.dtype)", "",
                  "    @staticmethod",
                  "    def backward(ctx, g):",
                  "        (p,) = ctx.saved_tensors",
                  "        return g * torch.from_numpy(LANDSCAPE.grad(p.detach().numpy()))"]
    noise_note = (f"  # gradient noise σ = {cfg.noise} (seed {cfg.seed}) is not reproduced here"
                  if cfg.noise else "")
    if cfg.batch and cfg.land.data_size:
        noise_note += (f"  # full-batch gradient: the minibatches of {cfg.batch} examples (seed {cfg.seed}) "
                       "are not reproduced here")
    lines += ["", "", "def run(make_optimizer, schedule=None):",
              "    p = torch.tensor(START, dtype=torch.float64, requires_grad=True)",
              "    opt = make_optimizer([p])",
              "    path = [p.detach().clone()]",
              "    for _ in range(STEPS):",
              "        opt.zero_grad()",
              f"        f(p).backward(){noise_note}"]
    if cfg.clip:
        lines.append(f"        torch.nn.utils.clip_grad_norm_([p], {cfg.clip!r})")
    lines += ["        opt.step()", "        path.append(p.detach().clone())", "    return torch.stack(path)", ""]
    if cfg.schedule != "constant":
        lines.insert(6, f"# learning-rate schedule {cfg.schedule!r} {cfg.schedule_params or ''} is not reproduced "
                        "here: add the matching torch.optim.lr_scheduler")
    lines.append("")
    lines.append("if __name__ == \"__main__\":")
    for name in cfg.optimizers:
        opt = get_optimizer(name)
        hp = cfg.hp(name)
        if opt.torch is None:
            lines.append(f"    # {opt.title} is not in torch.optim; see optlab/optimizers/{name}.py for its rule")
            continue
        cls = opt.torch
        lines.append(f"    path = run(lambda params: {cls}(params, {_torch_kwargs(name, hp)}))")
        lines.append(f"    print({name!r}, path[-1].tolist())")
    return "\n".join(lines) + "\n"



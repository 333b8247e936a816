"""Exports: trajectories as CSV, and a standalone torch.optim script that re-runs the page's runs.

The script needs only torch and NumPy. Its landscape is printed from the declaration
itself (optlab.codegen traces ``evaluate``, a model's per-example loss, or a typed-in
formula's expression), its noise and minibatches come from the same NumPy streams as
``simulate`` (the functions that draw them are copied in by source), its schedule is a
LambdaLR with the same factor per step, and it prints a CSV (optimizer, step, x, y,
loss) to compare with the app's.
"""

from __future__ import annotations

import inspect
import json
import math

import numpy as np
import pandas as pd

from optlab import codegen
from optlab.config import RunConfig, refused
from optlab.models import minibatch_order
from optlab.optimizers import get_optimizer
from optlab.schedules import get_schedule
from optlab.simulation import Run, noise_draws


def trajectories_csv(runs: dict[str, Run]) -> str:
    return pd.concat([run.to_frame() for run in runs.values()], ignore_index=True).to_csv(index=False)


def _torch_kwargs(opt, hp: dict) -> str:
    """The keyword arguments of the optimizer's torch class, as the declaration maps them (betas, etas ...)."""
    return ", ".join(f"{k}={_literal(_py(v))}" for k, v in opt.torch_args(dict(hp)).items())


def _py(v):
    if isinstance(v, tuple):
        return tuple(_py(x) for x in v)
    return v.item() if isinstance(v, np.generic) else v


def _literal(v) -> str:
    """Python source for a value: repr, but inf as math.inf (Prodigy's growth_rate; the script imports math)."""
    if isinstance(v, tuple):
        return "(" + ", ".join(map(_literal, v)) + ("," if len(v) == 1 else "") + ")"
    if isinstance(v, float) and not math.isfinite(v):
        return "math.inf" if v > 0 else ("-math.inf" if v < 0 else "math.nan")
    return repr(v)


def _array(values: np.ndarray, indent: str, per_line: int = 5) -> str:
    """A float array as a torch.tensor literal, every value exact (repr round-trips)."""
    items = [repr(float(v)) for v in values]
    rows = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "torch.tensor([\n" + "".join(f"{indent}{r},\n" for r in rows) + indent[:-4] + "])"


XY = ("x", "y")
RESULTS = ("f", "df_dx", "df_dy")


def landscape_code(land) -> str:
    """Torch source defining value_and_grad(x, y) -> (f, df/dx, df/dy) (and minibatch_grad for data).

    Declared landscapes: their own ``evaluate`` traced (analytic gradient, the same operations).
    Models: the per-example loss traced, the dataset embedded. Typed-in formulas: f printed from
    the sympy expression, the gradient by autograd.
    """
    if "network" in land.tags:  # a network's loss on a plane: the data, network and directions themselves
        from optlab.networks.torch_code import landscape_code as network_code

        return network_code(land)
    if land.formula is not None:
        from optlab.formula import compile_formula

        # the NumPy code the worker printed for the page: no sympy here (lambdify's shared namespace is not
        # safe in a threaded server), and the very operations the page evaluates
        printed = compile_formula(land.formula).printed("value")
        f = codegen.source("f", XY, codegen.trace(lambda x, y: printed(x, y)[0], XY),
                           doc=f"Your formula: {land.formula}")
        return f + '''


def value_and_grad(x, y):
    """f and its gradient by autograd (optlab differentiates the formula symbolically)."""
    x, y = x.detach().requires_grad_(), y.detach().requires_grad_()
    f_xy = f(x, y)
    if not f_xy.requires_grad:  # a constant formula
        return f_xy.detach(), torch.zeros_like(x), torch.zeros_like(y)
    df_dx, df_dy = torch.autograd.grad(f_xy.sum(), (x, y), materialize_grads=True)
    return f_xy.detach(), df_dx, df_dy'''
    if land.per_example is not None:
        names = tuple(inspect.signature(land.per_example).parameters)
        data = "".join(f"    {c!r}: {_array(v, indent='        ')},\n" for c, v in zip(names[2:], land.columns,
                                                                                   strict=True))
        per_example = codegen.source("per_example", names, codegen.trace(land.per_example, names),
                                     doc=(inspect.getdoc(land.per_example) or "").splitlines()[0]
                                     + " Returns the loss and its gradient in (x, y).",
                                     results=("loss", "dloss_dx", "dloss_dy"))
        return f'''# the dataset: {land.data_size} examples, as optlab generates them (from fixed seeds)
DATA = {{
{data}}}


{per_example}


def value_and_grad(x, y):
    """f = the mean loss over the whole dataset, and its gradient."""
    loss, dloss_dx, dloss_dy = per_example(x[..., None], y[..., None], *DATA.values())
    return loss.mean(-1), dloss_dx.mean(-1), dloss_dy.mean(-1)


def minibatch_grad(x, y, idx):
    """The gradient on the examples idx only (a minibatch)."""
    _, dloss_dx, dloss_dy = per_example(x[..., None], y[..., None], *(c[idx] for c in DATA.values()))
    return dloss_dx.mean(-1), dloss_dy.mean(-1)'''
    return codegen.source("value_and_grad", XY, codegen.trace(land.evaluate, XY), results=RESULTS,
                          doc=f"{land.title}: f and its analytic gradient, as optlab evaluates them.")


def schedule_code(name: str, steps: int, params: dict) -> str | None:
    """NumPy source of the factor per step (None for the constant schedule): the declaration, traced."""
    sched = get_schedule(name)
    if sched.name == "constant":
        return None
    factor = codegen.trace(lambda k: sched.factor(k, steps, **sched.values(**params)), ("k",))
    return codegen.source("lr_factor", ("k",), factor, target="numpy",
                          doc="step k + 1's multiple of the base learning rate (k = 0, 1, ...)")


RUN = '''
def run(make_optimizer):
    """One optimizer's path as rows [step, x, y, loss]; step 0 is the start."""
    p = torch.tensor(START, requires_grad=True)
    opt = make_optimizer([p])
    sched = None if FACTORS is None else torch.optim.lr_scheduler.LambdaLR(
        opt, lambda k: float(FACTORS[min(k, STEPS - 1)]))
    rows = []
    for k in range(STEPS + 1):
        x, y = p.detach().clone()
        f, df_dx, df_dy = value_and_grad(x, y)  # the loss (of the whole dataset) at θ_k
        rows.append([k, x.item(), y.item(), f.item()])
        if k == STEPS:
            break

        def closure(k=k):
            """Step k's gradient at the current θ into p.grad (minibatch, noise, clipping), and f there."""
            x, y = p.detach().clone()
            f, df_dx, df_dy = value_and_grad(x, y)
            g = torch.stack([df_dx, df_dy]) if BATCHES is None else torch.stack(minibatch_grad(x, y, BATCHES[k]))
            if NOISE_DRAWS is not None:
                g = g + NOISE * NOISE_DRAWS[k]
            p.grad = g
            if CLIP is not None:  # g times min(1, CLIP / (‖g‖ + 1e-6)), as optlab
                torch.nn.utils.clip_grad_norm_([p], CLIP)
            return f

        if isinstance(opt, torch.optim.LBFGS):  # it evaluates several points per step itself
            opt.step(closure)
        else:
            closure()
            opt.step()
        if sched is not None:
            sched.step()
    # as optlab: from the first step whose θ or loss is not finite (a diverged run), the row is NaN
    for i, row in enumerate(rows):
        if not all(math.isfinite(v) for v in row[1:]):
            for later in rows[i:]:
                later[1:] = [math.nan] * 3
            break
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", metavar="PATH", help="write the CSV to PATH instead of printing it")
    args = parser.parse_args(argv)
    out = open(args.csv, "w", newline="") if args.csv else sys.stdout
    writer = csv.writer(out, lineterminator="\\n")
    writer.writerow(["optimizer", "step", "x", "y", "loss"])
    for name, make in OPTIMIZERS.items():
        writer.writerows([name, *row] for row in run(make))
    if args.csv:
        out.close()


if __name__ == "__main__":
    main()
'''


def torch_script(cfg: RunConfig) -> str:
    """A standalone script (torch and NumPy only) that re-runs every optimizer of ``cfg`` the page runs.

    It prints a CSV (optimizer, step, x, y, loss; ``--csv PATH`` writes it to a file) equal
    to optlab.simulate's path and loss to rounding error. Optimizers the page refuses to run
    (their ``check``) are left out, with a comment saying why.
    """
    land = cfg.land
    steps, sched = cfg.steps, get_schedule(cfg.schedule)
    batch = (cfg.batch or None) if land.data_size and cfg.batch and cfg.batch < land.data_size else None
    params = {p.name: land.param_values.get(p.name) for p in land.params}
    described = f"{land.title}" + (f" ({', '.join(f'{k}={v:g}' for k, v in params.items())})" if params else "")
    schedule = schedule_code(sched.name, steps, cfg.schedule_params)
    rejected = refused(cfg)
    names = [n for n in cfg.optimizers if n not in rejected]
    lines = [
        f'"""Optimizer Lab runs, re-run with torch.optim: {", ".join(names) or "no optimizer"} on {described}.',
        "",
        "Needs only torch and NumPy. Prints a CSV with the columns optimizer, step, x, y, loss (step 0 is",
        "the start; loss is f at (x, y)), or writes it to a file:",
        "",
        "    python optimizer_lab_runs.py --csv runs.csv",
        "",
        "The numbers equal the app's table and trajectories CSV to rounding error: the same landscape,",
        "start, steps, learning-rate schedule, gradient noise, minibatches and clipping.",
        '"""',
        "",
        "import argparse", "import csv", "import math", "import sys", "",
        "import numpy as np", "import torch", "",
        "# float64 throughout, as optlab (torch.optim keeps step counts in the default dtype too)",
        "torch.set_default_dtype(torch.float64)",
        "",
        f"LANDSCAPE = {land.name!r}" + (f"  # f(x, y) = {land.formula}" if land.formula else ""),
        f"START = {tuple(float(v) for v in cfg.start_point)!r}",
        f"STEPS = {steps}",
        f"SEED = {cfg.seed}  # of the gradient noise and the minibatches",
        f"NOISE = {float(cfg.noise)!r}  # σ of the Gaussian noise added to each gradient coordinate",
        f"CLIP = {float(cfg.clip) if cfg.clip else None!r}  # gradient-norm clipping (clip_grad_norm_)",
        f"BATCH = {batch!r}  # examples per minibatch (None: the whole dataset)",
        f"SCHEDULE = {sched.name!r}  # {json.dumps(sched.values(**cfg.schedule_params))}",
        "", "",
        f"# {land.latex}" if land.latex else "# the landscape",
        landscape_code(land),
        "", "",
    ]
    if schedule is None:
        lines += ["FACTORS = None  # a constant learning rate", ""]
    else:
        lines += [schedule, "",
                  f"# torch's {sched.torch} updates the rate step by step (other rounding): LambdaLR with",
                  "# optlab's own factors reproduces it exactly",
                  "FACTORS = np.broadcast_to(np.asarray(lr_factor(np.arange(STEPS, dtype=float)), dtype=float), "
                  "(STEPS,))", ""]
    if cfg.noise:
        lines += ["", inspect.getsource(noise_draws).rstrip(), "", "",
                  "NOISE_DRAWS = torch.from_numpy(noise_draws(SEED, STEPS))", ""]
    else:
        lines += ["NOISE_DRAWS = None", ""]
    if batch:
        lines += ["", inspect.getsource(minibatch_order).rstrip(), "", "",
                  f"BATCHES = torch.from_numpy(minibatch_order(SEED, STEPS, {land.data_size}, BATCH))", ""]
    else:
        lines += ["BATCHES = None", ""]
    lines += list(dict.fromkeys(o.written_out.source for o in map(get_optimizer, names) if o.written_out))
    lines += ["", "OPTIMIZERS = {  # every hyperparameter spelled out, defaults included"]
    for name in cfg.optimizers:
        opt = get_optimizer(name)
        if name in rejected:
            lines.append(f"    # {name} is not exported: the app does not run it either ({rejected[name]})")
            continue
        cls = opt.torch or opt.written_out.name
        lines.append(f"    {name!r}: lambda params: {cls}(params, {_torch_kwargs(opt, cfg.hp(name))}),")
    lines += ["}", "", RUN]
    return "\n".join(lines)

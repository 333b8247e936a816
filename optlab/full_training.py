"""View 2 of the real networks (issue 14): the network trained in all its P parameters, projected honestly.

:func:`train_all` trains the network behind a plane landscape (the same data, architecture, θ₀ and
standardisation: optlab.networks.landscape.NetworkPlane) with each optimizer's own declaration
(optlab.training.train: torch.optim's rules on arrays of shape (P, B)), and records

- at every step: the minibatch loss, and per layer ‖g‖ (the gradient the step used) and the
  update-to-weight ratio ‖Δθ‖/‖θ‖ (W and b of the layer together);
- at up to CHECKPOINTS evenly spaced steps: θ, the training and test loss and accuracy.

Then every run's checkpoints go onto one shared plane (optlab.projection: principal components of the
displacements from θ₀, the common start), with the loss over that plane on a grid (Plane.surface) and,
per checkpoint, the plane's loss at its projection beside its true loss. Caps (MAX_STEPS, MAX_GRID)
keep a view within seconds; the page says when it applies them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optlab import muon
from optlab.networks.mlp import head, one_blas_thread
from optlab.networks.plane import Plane
from optlab.projection import Projection, project
from optlab.training import train

MAX_STEPS = 2000  # steps of full training per optimizer on the page
MAX_GRID = 80  # points per axis of the shared plane's loss surface
GRID = 40
CHECKPOINTS = 41  # steps at which θ is kept, evaluated and projected (0 and the last among them)
MARGIN = 0.15  # the surface's square reaches this share of the checkpoints' span beyond them
MAX_SEEDS = 10  # minibatch seeds per optimizer in the bands
ADAM_FAMILY = ("adam", "adamw", "amsgrad")  # state m, v (v_max), and step lr·m̂/(√v̂ + ε), as torch.optim.Adam's
MAX_BAND_STEPS = 40_000  # optimizers × seeds × steps of the bands together (a few seconds)


@dataclass(frozen=True, eq=False)
class FullRun:
    optimizer: str
    hparams: dict
    steps: np.ndarray  # (K,) the checkpoint steps, 0 first and the last step last
    path: np.ndarray  # (K, P) θ at the checkpoints
    minibatch_loss: np.ndarray  # (steps,) the loss on the examples step k used, at θ before it
    train_loss: np.ndarray  # (K,) on the whole training set
    test_loss: np.ndarray  # (K,)
    train_accuracy: np.ndarray | None  # (K,) classification only
    test_accuracy: np.ndarray | None
    grad_norm: np.ndarray  # (steps, layers): ‖g‖ of each layer's W and b at step k = 1 .. steps
    update_ratio: np.ndarray  # (steps, layers): ‖θ_k − θ_{k−1}‖ / ‖θ_{k−1}‖ per layer
    effective_step: np.ndarray | None  # (steps, layers): Adam's lr·m̂/(√v̂ + ε), its median size over the layer's
    # weights (Adam, AdamW, AMSGrad: ADAM_FAMILY; None for the others)
    diverged_at: int | None  # the first step whose θ or loss is not finite


@dataclass(frozen=True, eq=False)
class FullTraining:
    runs: dict  # optimizer -> FullRun
    projection: Projection
    plane_loss: dict  # optimizer -> (K,): the training loss at each checkpoint's projection θ₀ + z₁d₁ + z₂d₂
    # (the optimizers on the plane: those that did not diverge, or all when every one did)
    xs: np.ndarray  # the surface's grid
    ys: np.ndarray
    surface: np.ndarray  # (len(ys), len(xs)): the training loss over the shared plane
    layers: tuple  # a name per layer, e.g. "layer 1 (64→32)"
    batch_size: int | None


def checkpoint_steps(steps: int, n: int = CHECKPOINTS) -> np.ndarray:
    """Up to n evenly spaced steps from 0 to ``steps``, both included."""
    return np.unique(np.linspace(0, steps, min(n, steps + 1)).round().astype(int))


def layer_names(net) -> tuple:
    return tuple(f"layer {i + 1} ({i_}→{o})" for i, (o, i_) in enumerate(net.shapes))


def _layer_of(net) -> np.ndarray:
    """Each parameter's layer, (P,): 0 for W_0 and b_0, 1 for W_1 and b_1, ..."""
    return np.repeat(np.arange(len(net.shapes)), [o * i + o for o, i in net.shapes])


def _layer_norms(layer_of: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Per layer: the norm of its W and b together in v (shape (P,))."""
    return np.sqrt(np.bincount(layer_of, weights=v * v))


def train_one(source, optimizer: str, hp: dict, *, steps: int, batch_size: int | None = None, seed: int = 0,
              schedule: str = "constant", schedule_params: dict | None = None) -> FullRun:
    """Train the network of ``source`` (a NetworkPlane) from its θ₀ in all its parameters; see the module."""
    if not 1 <= steps <= MAX_STEPS:
        raise ValueError(f"steps = {steps} is out of range; allowed: 1 to {MAX_STEPS}")
    net, data = source.net, source.data
    theta0 = source.plane.theta0
    keep = checkpoint_steps(steps)
    where = {int(k): i for i, k in enumerate(keep)}
    path = np.full((len(keep), net.size), np.nan)
    path[0] = theta0
    layers = len(net.shapes)
    layer_of = _layer_of(net)
    grad_norm = np.full((steps, layers), np.nan)
    ratio = np.full((steps, layers), np.nan)
    effective = np.full((steps, layers), np.nan) if optimizer in ADAM_FAMILY else None
    adam = {**_adam_defaults(optimizer), **hp} if effective is not None else None
    lrs = _scheduled_lr(adam["lr"], steps, schedule, schedule_params) if adam else None

    def observe(k, before, g, after, state):
        if effective is not None:  # the bias-corrected moments: m̂ = m/(1 − β1ᵏ), v̂ = v/(1 − β2ᵏ)
            v = state.v_max if adam["amsgrad"] else state.v
            m_hat = state.m[:, 0] / (1 - adam["beta1"] ** k)
            v_hat = v[:, 0] / (1 - adam["beta2"] ** k)
            size = np.abs(lrs[k - 1] * m_hat / (np.sqrt(v_hat) + adam["eps"]))
            effective[k - 1] = [np.median(size[layer_of == j]) for j in range(layers)]
        grad_norm[k - 1] = _layer_norms(layer_of, g[:, 0])
        with np.errstate(all="ignore"):
            ratio[k - 1] = _layer_norms(layer_of, after[:, 0] - before[:, 0]) / _layer_norms(layer_of, before[:, 0])
        if k in where:
            path[where[k]] = after[:, 0]

    batch = batch_size if batch_size and batch_size < len(data.X) else None
    rule, matrices = optimizer, None
    if optimizer == muon.NAME:  # the weight matrices by Muon, the biases by AdamW with its lr and weight decay
        values = {**muon.DEFAULTS, **hp}
        matrices = muon.Muon(net, **values)
        rule, hp = "adamw", {"lr": values["lr"], "weight_decay": values["weight_decay"]}
    run = train(net, data.X, data.y, rule, theta0, steps=steps, batch_size=batch, seed=seed, schedule=schedule,
                schedule_params=schedule_params, on_step=observe, matrices=matrices, **hp)
    bad = ~np.isfinite(run.loss[:, 0])
    bad |= ~np.isfinite(grad_norm).all(axis=1)
    diverged = int(np.argmax(bad)) + 1 if bad.any() else None
    finite = np.isfinite(path).all(axis=1)
    train_loss, train_acc = evaluate(net, path.T, data.X, data.y, finite)
    test_loss, test_acc = evaluate(net, path.T, data.X_test, data.y_test, finite)
    used = values if matrices is not None else hp
    return FullRun(optimizer=optimizer, hparams=dict(used), steps=keep, path=path, minibatch_loss=run.loss[:, 0],
                   train_loss=train_loss, test_loss=test_loss, train_accuracy=train_acc, test_accuracy=test_acc,
                   grad_norm=grad_norm, update_ratio=ratio, effective_step=effective, diverged_at=diverged)


def _adam_defaults(optimizer: str) -> dict:
    from optlab.optimizers import get_optimizer

    return get_optimizer(optimizer).defaults


def _scheduled_lr(lr: float, steps: int, schedule: str, schedule_params: dict | None) -> np.ndarray:
    from optlab.schedules import get_schedule

    return lr * get_schedule(schedule).multipliers(steps, **(schedule_params or {}))


def evaluate(net, thetas, X, y, finite=None):
    """(mean loss, accuracy) of the networks θ (shape (P, K)) on (X, y), from one forward pass; accuracy None
    for regression, NaN where θ is not finite (``finite``: (K,))."""
    with np.errstate(all="ignore"), one_blas_thread():
        out = net.forward(thetas, X)[-1]  # (K, n, k)
        loss = np.asarray(head(out, net.targets(y), net.loss, grad=False)[0], dtype=float)
        if net.loss != "cross_entropy":
            return loss, None
        accuracy = (out.argmax(axis=-1) == y).mean(axis=1)
    return loss, accuracy if finite is None else np.where(finite, accuracy, np.nan)


def train_all(source, hparams: dict, *, steps: int, batch_size: int | None = None, seed: int = 0,
              schedule: str = "constant", schedule_params: dict | None = None, grid: int = GRID) -> FullTraining:
    """Every optimizer of ``hparams`` (name -> its hyperparameters) trained (:func:`train_one`), their checkpoints
    projected onto one plane through θ₀, and the loss over that plane on a ``grid`` × ``grid`` square."""
    if not 2 <= grid <= MAX_GRID:
        raise ValueError(f"grid = {grid} is out of range; allowed: 2 to {MAX_GRID}")
    runs = {name: train_one(source, name, hp, steps=steps, batch_size=batch_size, seed=seed, schedule=schedule,
                            schedule_params=schedule_params) for name, hp in hparams.items()}
    theta0 = source.plane.theta0
    # a diverged run's last finite checkpoints are far out (1e150, say): it would be all the plane shows, and the
    # loss there is not finite; it is left off the plane (its curves say where it diverged)
    shown = [n for n, r in runs.items() if r.diverged_at is None]
    proj = project({n: runs[n].path for n in shown or runs}, theta0)
    data = source.data
    plane = Plane(source.net, data.X, data.y, theta0, proj.directions[0], proj.directions[1])
    plane_loss = {}
    with np.errstate(all="ignore"):
        for n in proj.coords:
            z = proj.coords[n]
            plane_loss[n] = plane.evaluate(np.nan_to_num(z[:, 0]), np.nan_to_num(z[:, 1]), grad=False)[0]
            plane_loss[n] = np.where(np.isfinite(z).all(axis=1), plane_loss[n], np.nan)
    xs, ys = surface_axes(proj, grid)
    with np.errstate(all="ignore"):
        surface = plane.surface(xs, ys)
    return FullTraining(runs=runs, projection=proj, plane_loss=plane_loss, xs=xs, ys=ys, surface=surface,
                        layers=layer_names(source.net),
                        batch_size=batch_size if batch_size and batch_size < len(data.X) else None)


@dataclass(frozen=True, eq=False)
class Band:
    """One optimizer's runs over minibatch seeds: the spread of its curves (rows: seeds seed … seed + n − 1)."""
    optimizer: str
    seeds: np.ndarray  # (n,)
    steps: np.ndarray  # (K,) checkpoint steps
    train_loss: np.ndarray  # (n, K)
    test_accuracy: np.ndarray | None  # (n, K), classification only


def band_seeds(optimizers: int, steps: int, wanted: int) -> int:
    """How many seeds the bands run: ``wanted``, fewer where optimizers × seeds × steps would pass MAX_BAND_STEPS."""
    return max(1, min(wanted, MAX_SEEDS, MAX_BAND_STEPS // max(1, optimizers * steps)))


def seed_bands(source, hparams: dict, *, steps: int, batch_size: int, seed: int = 0, seeds: int = 5,
               schedule: str = "constant", schedule_params: dict | None = None) -> dict:
    """Every optimizer of ``hparams`` trained from θ₀ with minibatch seeds seed … seed + seeds − 1 (:func:`train_one`
    each): optimizer -> :class:`Band`. Minibatches only: without them every seed gives the same run."""
    if not batch_size or batch_size >= len(source.data.X):
        raise ValueError("seed bands need minibatches (a minibatch size below the training set's): without them "
                         "every seed gives the same run")
    if not 2 <= seeds <= MAX_SEEDS:
        raise ValueError(f"seeds = {seeds} is out of range; allowed: 2 to {MAX_SEEDS}")
    out = {}
    for name, hp in hparams.items():
        runs = [train_one(source, name, hp, steps=steps, batch_size=batch_size, seed=s, schedule=schedule,
                          schedule_params=schedule_params) for s in range(seed, seed + seeds)]
        out[name] = Band(optimizer=name, seeds=np.arange(seed, seed + seeds), steps=runs[0].steps,
                         train_loss=np.array([r.train_loss for r in runs]),
                         test_accuracy=None if runs[0].test_accuracy is None else
                         np.array([r.test_accuracy for r in runs]))
    return out


def surface_axes(proj: Projection, grid: int) -> tuple[np.ndarray, np.ndarray]:
    """A grid over every finite checkpoint's z, widened by MARGIN of the span on each side."""
    z = np.concatenate([c for c in proj.coords.values()])
    z = z[np.isfinite(z).all(axis=1)]
    lo, hi = z.min(axis=0), z.max(axis=0)
    span = np.maximum(hi - lo, 1e-6 + 1e-3 * np.abs(hi).max())
    lo, hi = lo - MARGIN * span, hi + MARGIN * span
    return np.linspace(lo[0], hi[0], grid), np.linspace(lo[1], hi[1], grid)


def honesty_notes(ft: FullTraining, names: dict | None = None) -> list[str]:
    """Sentences on how far the shared plane's picture is from the network: one for the plane, one per run on it
    (its last checkpoint's distance from the plane, and where the plane's loss and the true loss differ by
    more than optlab.projection.DIFFERS). ``names``: optimizer -> what to call it (default: its name)."""
    from optlab.projection import DIFFERS, disagreements

    proj = ft.projection
    names = names or {}
    held = 100 * proj.explained
    notes = [f"The plane holds {held:.1f} % of the checkpoints' squared distance from θ₀ (the fraction of variance "
             "its two principal directions explain)" + ("." if held >= 50 else
                                                        ": less than half, so most of the training happens in "
                                                        "directions this picture does not show.")]
    for n in proj.coords:
        r, who = ft.runs[n], names.get(n, n)
        off = proj.share_off(n)
        differ = disagreements(r.train_loss, ft.plane_loss[n])
        last = (f"{who}: its last checkpoint (step {r.steps[-1]}) is {proj.distance[n][-1]:.3g} from the plane, "
                f"{100 * off[-1]:.0f} % of its distance from θ₀; true loss {r.train_loss[-1]:.4g}, the plane's "
                f"{ft.plane_loss[n][-1]:.4g} at its projection")
        if differ.any():
            gap = np.abs(r.train_loss - ft.plane_loss[n])
            worst = int(np.nanargmax(np.where(differ, gap, np.nan)))
            last += (f". At {int(differ.sum())} of its {len(differ)} checkpoints (first at step "
                     f"{r.steps[int(np.argmax(differ))]}) the plane's loss is more than {100 * DIFFERS:.0f} % away "
                     f"from the true loss (the most at step {r.steps[worst]}: {r.train_loss[worst]:.4g} true, "
                     f"{ft.plane_loss[n][worst]:.4g} on the plane): there the surface drawn is not the loss the "
                     "network had.")
        else:
            last += f"; at every checkpoint the two are within {100 * DIFFERS:.0f} %."
        notes.append(last)
    return notes

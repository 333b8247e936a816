"""View 2 of the real networks (issue 14): the network trained in all its P parameters, projected honestly.

:func:`train_all` trains the network behind a plane landscape (the same data, architecture, θ₀ and
standardisation: optlab.networks.landscape.NetworkPlane) with each optimizer's own declaration
(optlab.training.train_group: torch.optim's rules on one array of shape (P, R), a column per run), and records

- at every step: the minibatch loss, and per layer ‖g‖ (the gradient the step used) and the
  update-to-weight ratio ‖Δθ‖/‖θ‖ (W and b of the layer together);
- at up to CHECKPOINTS evenly spaced steps: θ, the training and test loss and accuracy. For Schedule-Free
  optimizers θ there is x, the average they report (eval mode), not y, where they take the gradient.

Then every run's checkpoints go onto one shared plane (optlab.projection: principal components of the
displacements from θ₀, the common start, or the plane through θ₀ and two runs' ends), with the loss over
that plane on a grid (Plane.surface) and, per checkpoint, the plane's loss at its projection beside its
true loss. The honesty numbers are per checkpoint, not per step: the plane's loss at a point is a forward
pass over the whole training set, and one at every step would cost as much as the training again several
times (bench/bench_networks.py measures it). Caps (MAX_STEPS, MAX_GRID) keep a view within seconds; the
page says when it applies them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optlab import muon
from optlab.networks.mlp import head, one_blas_thread
from optlab.networks.plane import Plane
from optlab.projection import Projection, project, through_ends
from optlab.training import train_group

MAX_STEPS = 2000  # steps of full training per optimizer on the page
MAX_GRID = 80  # points per axis of the shared plane's loss surface
GRID = 40
PLANES = ("pca", "ends")  # the shared plane: principal directions, or through θ₀ and two runs' ends
CHECKPOINTS = 41  # steps at which θ is kept, evaluated and projected (0 and the last among them)
MARGIN = 0.15  # the surface's square reaches this share of the checkpoints' span beyond them
MAX_SEEDS = 10  # minibatch seeds per optimizer in the bands
SCHEDULE_FREE = ("schedule_free_sgd", "schedule_free_adamw")  # judged at x, the point they report
ADAM_FAMILY = ("adam", "adamw", "amsgrad")  # state m, v (v_max), and step lr·m̂/(√v̂ + ε), as torch.optim.Adam's
EVALUATE_ELEMENTS = 1 << 20  # networks × examples × widest layer per forward pass in evaluate
MAX_BAND_STEPS = 40_000  # optimizers × seeds × steps of the bands together (a few seconds)
MEDIAN_ELEMENTS = 1 << 18  # Adam's step sizes kept for their medians: steps × parameters × Adam runs (2 MB)


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
    plane: str = "pca"  # the shared plane drawn: "pca" (principal directions) or "ends" (through θ₀ and two ends)
    ends: tuple | None = None  # with "ends": the two runs whose last checkpoints span it (d₁, then d₂)
    plane_note: str | None = None  # why the plane asked for could not be drawn (the PCA plane is, instead)


def checkpoint_steps(steps: int, n: int = CHECKPOINTS) -> np.ndarray:
    """Up to n evenly spaced steps from 0 to ``steps``, both included."""
    return np.unique(np.linspace(0, steps, min(n, steps + 1)).round().astype(int))


def layer_names(net) -> tuple:
    return tuple(f"layer {i + 1} ({i_}→{o})" for i, (o, i_) in enumerate(net.shapes))


def _layer_starts(net) -> np.ndarray:
    """Where each layer's W and b begin in θ (np.add.reduceat's indices)."""
    return np.cumsum([0] + [o * i + o for o, i in net.shapes[:-1]])


def _layer_norms(starts: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Per layer: the norm of its W and b together in v, shape (layers,) for v of shape (P,), (layers, R) for (P, R)."""
    return np.sqrt(np.add.reduceat(v * v, starts, axis=0))


def reported_point(optimizer: str, theta: np.ndarray, state) -> np.ndarray:
    """The point an optimizer reports after a step: θ for most; x for Schedule-Free, whose parameters during
    training are y (where the gradient is taken) and whose answer is the average x (the package's eval mode)."""
    return state.x if optimizer in SCHEDULE_FREE else theta


def train_one(source, optimizer: str, hp: dict, *, steps: int, batch_size: int | None = None, seed: int = 0,
              schedule: str = "constant", schedule_params: dict | None = None) -> FullRun:
    """Train the network of ``source`` (a NetworkPlane) from its θ₀ in all its parameters; see the module."""
    return train_many(source, [(optimizer, hp, seed)], steps=steps, batch_size=batch_size, schedule=schedule,
                      schedule_params=schedule_params)[0]


def train_many(source, members, *, steps: int, batch_size: int | None = None, schedule: str = "constant",
               schedule_params: dict | None = None) -> list[FullRun]:
    """:func:`train_one` for each member (optimizer, hyperparameters, minibatch seed), all at once: one θ of shape
    (P, R) whose forward and backward passes are batched (optlab.training.train_group; the same numbers as one
    by one)."""
    if not 1 <= steps <= MAX_STEPS:
        raise ValueError(f"steps = {steps} is out of range; allowed: 1 to {MAX_STEPS}")
    net, data = source.net, source.data
    theta0 = source.plane.theta0
    keep = checkpoint_steps(steps)
    where = {int(k): i for i, k in enumerate(keep)}
    R, layers = len(members), len(net.shapes)
    starts = _layer_starts(net)
    path = np.full((R, len(keep), net.size), np.nan)
    path[:, 0] = theta0
    grad_norm = np.full((steps, layers, R), np.nan)
    ratio = np.full((steps, layers, R), np.nan)
    group, used, adams = [], [], {}
    for j, (optimizer, hp, _) in enumerate(members):
        if optimizer == muon.NAME:  # the weight matrices by Muon, the biases by AdamW with its lr and weight decay
            values = {**muon.DEFAULTS, **hp}
            group.append(("adamw", {"lr": values["lr"], "weight_decay": values["weight_decay"]},
                          muon.Muon(net, **values)))
            used.append(values)
            continue
        group.append((optimizer, hp))
        used.append(hp)
        if optimizer in ADAM_FAMILY:
            adam = {**_adam_defaults(optimizer), **hp}
            adams[j] = (adam, _scheduled_lr(adam["lr"], steps, schedule, schedule_params),
                        np.full((steps, layers), np.nan))

    bounds = list(zip(starts, [*starts[1:], net.size], strict=True))
    # the step sizes of a block of steps, whose medians are taken together when it is full (and at the last step):
    # one np.median per layer and block rather than per step (its overhead was most of their cost)
    sizes = np.empty((max(1, min(steps, MEDIAN_ELEMENTS // max(1, net.size * len(adams)))), net.size, len(adams)))

    def observe(k, before, g, after, states):
        row = (k - 1) % len(sizes)
        for a, (j, (adam, lrs, _)) in enumerate(adams.items()):  # bias-corrected: m̂ = m/(1 − β1ᵏ), v̂ = v/(1 − β2ᵏ)
            state = states[j]
            v = state.v_max if adam["amsgrad"] else state.v
            m_hat = state.m[:, 0] / (1 - adam["beta1"] ** k)
            v_hat = v[:, 0] / (1 - adam["beta2"] ** k)
            sizes[row, :, a] = np.abs(lrs[k - 1] * m_hat / (np.sqrt(v_hat) + adam["eps"]))
        if adams and (row == len(sizes) - 1 or k == steps):  # the medians of every Adam run at once, layer by layer
            medians = np.stack([np.median(sizes[:row + 1, lo:hi], axis=1) for lo, hi in bounds], axis=1)
            for a, (_, _, effective) in enumerate(adams.values()):  # (rows: steps k − row .. k; layers, runs)
                effective[k - 1 - row:k] = medians[:, :, a]
        grad_norm[k - 1] = _layer_norms(starts, g)
        with np.errstate(all="ignore"):
            ratio[k - 1] = _layer_norms(starts, after - before) / _layer_norms(starts, before)
        if k in where:
            for j, (optimizer, _, _) in enumerate(members):
                path[j, where[k]] = reported_point(optimizer, after[:, j:j + 1], states[j])[:, 0]

    batch = batch_size if batch_size and batch_size < len(data.X) else None
    trainings = train_group(net, data.X, data.y, group, theta0, steps=steps, batch_size=batch,
                            seeds=[m[2] for m in members], schedule=schedule, schedule_params=schedule_params,
                            on_step=observe)
    finite = np.isfinite(path).all(axis=2)  # (R, K)
    flat = path.reshape(-1, net.size).T
    train_loss, train_acc = evaluate(net, flat, data.X, data.y, finite.ravel())
    test_loss, test_acc = evaluate(net, flat, data.X_test, data.y_test, finite.ravel())
    K = len(keep)
    out = []
    for j, ((optimizer, _, _), run) in enumerate(zip(members, trainings, strict=True)):
        bad = ~np.isfinite(run.loss[:, 0])
        bad |= ~np.isfinite(grad_norm[:, :, j]).all(axis=1)
        at = slice(j * K, (j + 1) * K)
        out.append(FullRun(optimizer=optimizer, hparams=dict(used[j]), steps=keep, path=path[j],
                           minibatch_loss=run.loss[:, 0], train_loss=train_loss[at], test_loss=test_loss[at],
                           train_accuracy=None if train_acc is None else train_acc[at],
                           test_accuracy=None if test_acc is None else test_acc[at],
                           grad_norm=grad_norm[:, :, j], update_ratio=ratio[:, :, j],
                           effective_step=adams[j][2] if j in adams else None,
                           diverged_at=int(np.argmax(bad)) + 1 if bad.any() else None))
    return out


def _adam_defaults(optimizer: str) -> dict:
    from optlab.optimizers import get_optimizer

    return get_optimizer(optimizer).defaults


def _scheduled_lr(lr: float, steps: int, schedule: str, schedule_params: dict | None) -> np.ndarray:
    from optlab.schedules import get_schedule

    return lr * get_schedule(schedule).multipliers(steps, **(schedule_params or {}))


def evaluate(net, thetas, X, y, finite=None):
    """(mean loss, accuracy) of the networks θ (shape (P, K)) on (X, y), a forward pass for each (in chunks of
    networks, to bound the memory); accuracy None for regression, NaN where θ is not finite (``finite``: (K,))."""
    thetas = np.asarray(thetas, dtype=float)
    K = thetas.shape[1]
    chunk = max(1, EVALUATE_ELEMENTS // (len(X) * max(net.sizes[1:])))
    loss = np.empty(K)
    accuracy = np.empty(K) if net.loss == "cross_entropy" else None
    with np.errstate(all="ignore"), one_blas_thread():
        for s in range(0, K, chunk):
            e = slice(s, min(s + chunk, K))
            out = net.forward(thetas[:, e], X, quick=True)[-1]  # (c, n, k)
            loss[e] = head(out, net.targets(y), net.loss, grad=False)[0]
            if accuracy is not None:
                accuracy[e] = (out.argmax(axis=-1) == y).mean(axis=1)
    if accuracy is None:
        return loss, None
    return loss, accuracy if finite is None else np.where(finite, accuracy, np.nan)


def train_all(source, hparams: dict, *, steps: int, batch_size: int | None = None, seed: int = 0,
              schedule: str = "constant", schedule_params: dict | None = None, grid: int = GRID,
              plane: str = "pca") -> FullTraining:
    """Every optimizer of ``hparams`` (name -> its hyperparameters) trained (:func:`train_one`), their checkpoints
    projected onto one plane through θ₀, and the loss over that plane on a ``grid`` × ``grid`` square.

    ``plane``: "pca", the first two principal directions of every checkpoint's θ − θ₀; or "ends", the plane through
    θ₀ and the last checkpoints of the first two runs that did not diverge (d₁: the first's end − θ₀, d₂: the
    second's), where they sit at z = (1, 0) and (0, 1). Where there are no two such runs (or their ends span no
    plane) the PCA plane is drawn, and ``plane_note`` says why."""
    if not 2 <= grid <= MAX_GRID:
        raise ValueError(f"grid = {grid} is out of range; allowed: 2 to {MAX_GRID}")
    if plane not in PLANES:
        raise ValueError(f"plane = {plane!r}; allowed: {', '.join(PLANES)}")
    trained = train_many(source, [(name, hp, seed) for name, hp in hparams.items()], steps=steps,
                         batch_size=batch_size, schedule=schedule, schedule_params=schedule_params)
    runs = dict(zip(hparams, trained, strict=True))
    theta0 = source.plane.theta0
    # a diverged run's last finite checkpoints are far out (1e150, say): it would be all the plane shows, and the
    # loss there is not finite; it is left off the plane (its curves say where it diverged)
    shown = [n for n, r in runs.items() if r.diverged_at is None]
    paths = {n: runs[n].path for n in shown or runs}
    proj, ends, note = None, None, None
    if plane == "ends":
        if len(shown) < 2:
            note = ("The plane through two ends needs two runs that did not diverge "
                    f"({len(shown)} here): the principal directions' plane is drawn instead.")
        else:
            try:
                proj, ends = through_ends(paths, theta0, (shown[0], shown[1])), (shown[0], shown[1])
            except ValueError as err:
                note = f"No plane through two ends: {err}. The principal directions' plane is drawn instead."
    if proj is None:
        with one_blas_thread():  # (LAPACK's eigh of a small Gram matrix: a second thread only waits when busy)
            proj = project(paths, theta0)
    data = source.data
    on_plane = Plane(source.net, data.X, data.y, theta0, proj.directions[0], proj.directions[1])
    plane_loss = _plane_losses(on_plane, proj)
    xs, ys = surface_axes(proj, grid)
    with np.errstate(all="ignore"):
        surface = on_plane.surface(xs, ys)
    return FullTraining(runs=runs, projection=proj, plane_loss=plane_loss, xs=xs, ys=ys, surface=surface,
                        layers=layer_names(source.net),
                        batch_size=batch_size if batch_size and batch_size < len(data.X) else None,
                        plane="ends" if ends else "pca", ends=ends, plane_note=note)


def _plane_losses(plane: Plane, proj: Projection) -> dict:
    """Per run on the plane: the training loss at each checkpoint's projection θ₀ + z₁d₁ + z₂d₂ (NaN where z is
    not finite), for all the runs' checkpoints together, the first layer by the plane's linearity."""
    names = list(proj.coords)
    z = np.concatenate([proj.coords[n] for n in names])
    ok = np.isfinite(z).all(axis=1)
    with np.errstate(all="ignore"):
        loss = plane.evaluate(np.where(ok, z[:, 0], 0.0), np.where(ok, z[:, 1], 0.0), grad=False, quick=True)[0]
    loss = np.where(ok, loss, np.nan)
    cuts = np.cumsum([len(proj.coords[n]) for n in names])[:-1]
    return dict(zip(names, np.split(loss, cuts), strict=True))


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
    members = [(name, hp, s) for name, hp in hparams.items() for s in range(seed, seed + seeds)]
    trained = train_many(source, members, steps=steps, batch_size=batch_size, schedule=schedule,
                         schedule_params=schedule_params)
    for i, name in enumerate(hparams):
        runs = trained[i * seeds:(i + 1) * seeds]
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
    what = ("its two principal directions explain" if ft.ends is None else
            f"explained by the plane through θ₀ and the ends of {names.get(ft.ends[0], ft.ends[0])} and "
            f"{names.get(ft.ends[1], ft.ends[1])}")
    notes = [f"The plane holds {held:.1f} % of the checkpoints' squared distance from θ₀ (the fraction of variance "
             f"{what})" + ("." if held >= 50 else ": less than half, so most of the training happens in "
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

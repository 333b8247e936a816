"""One-click presets: a link's worth of settings and a sentence on what to notice.

Every claim in a preset's sentence is a number its own run shows: tests/test_presets.py
has one check per preset, one assertion per claim.
"""

from __future__ import annotations

from dataclasses import dataclass

from optlab.link import from_query
from optlab.state import RunConfig


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    query: dict  # in the URL schema
    notice: str  # what to look at

    @property
    def config(self) -> RunConfig:
        cfg, problems = from_query(self.query)
        assert not problems, problems
        return cfg


# digits' network on the plane through θ₀ and two trained solutions, SGD (lr 0.1) and Adam (lr 0.01) on it:
# two presets' runs (Adam vs SGD with minibatches from θ₀; both from the momentum solution, for the barrier)
DIGITS_SOLUTIONS = {"landscape": "mlp_digits_plane", "mlp_digits_plane.solutions": "true", "opt": ["sgd", "adam"],
                    "sgd.lr": "0.1", "adam.lr": "0.01"}

PRESETS = {p.name: p for p in (
    Preset(
        "adam_vs_sgd", "Adam vs SGD",
        {"landscape": "rosenbrock", "opt": ["adam", "sgd"], "adam.lr": "0.05", "steps": "500"},
        "SGD (lr 0.001) reaches the valley floor (y ≈ x²) by step 10 and then creeps along it, about 0.002 "
        "per step from step 20 on: after 500 steps it is still 2.1 away from the minimum at (1, 1). Adam "
        "(lr 0.05) moves each coordinate by at most its learning rate, but along the floor its steps are a "
        "median 0.15·lr ≈ 0.007: its running average of squared gradients still holds the steep wall's (over "
        "100 at the start). That is still more than four times SGD's, and Adam ends 0.65 away, about three "
        "times closer.",
    ),
    Preset(
        "momentum_overshoot", "Momentum overshoot",
        {"landscape": "ill_conditioned_bowl", "opt": ["sgd", "momentum"], "sgd.lr": "0.03", "momentum.lr": "0.03",
         "steps": "150"},
        "Same learning rate (0.03) on a valley 25 times steeper across (y) than along (x). Plain SGD's loss "
        "falls at every step, but along the flat x axis each step shrinks x by only 3 %: after 150 steps it is "
        "still 0.047 from the minimum. Momentum builds speed (its largest step along x, 0.54, is four times "
        "SGD's), overshoots the valley floor y = 0 again and again (it crosses it more than 40 times, and its "
        "loss rises on about half of its steps), and still ends 25 times closer (0.0019).",
    ),
    Preset(
        "saddle", "Saddle escape",
        {"landscape": "saddle", "opt": ["sgd", "momentum", "adam"], "sgd.lr": "0.01", "momentum.lr": "0.01",
         "adam.lr": "0.05", "steps": "200"},
        "The start sits a thousandth off the ridge of x² − y² (y = 0.001). Plain SGD's push off the ridge is "
        "proportional to that tiny y, which grows only 2 % a step: after 200 steps y is 0.05 and SGD is still "
        "next to the saddle point (0, 0), 0.07 from it. Momentum accumulates the small push (y grows 11 % a "
        "step) and leaves (|y| > 1) at step 72; Adam normalises it to a full-size step (its first step moves y "
        "by lr = 0.05, fifty times the offset) and leaves at step 20.",
    ),
    Preset(
        "rastrigin", "Rastrigin traps",
        {"landscape": "rastrigin", "opt": ["sgd", "momentum", "adam"], "sgd.lr": "0.002", "momentum.lr": "0.002",
         "adam.lr": "0.3", "steps": "400"},
        "All three stop in the ripple nearest the start, at (2.98, −1.99) with loss 12.9, not at the global "
        "minimum (0, 0) with loss 0: gradient methods stop at a local minimum, and Rastrigin has one next to "
        "every point with integer coordinates.",
    ),
    Preset(
        "divergence", "lr too large",
        {"landscape": "rosenbrock", "opt": ["sgd", "adam"], "sgd.lr": "0.003", "adam.lr": "0.05", "steps": "300"},
        "SGD with lr 0.003 on Rosenbrock's steep walls overshoots: each step is longer than the one before "
        "(0.5, 1.5, 12, 900, …) and the loss grows at every step, until at step 7 it leaves the finite "
        "numbers: its path stops there and the table gives the step. (With lr 0.002 it does not blow up: "
        "after 300 steps it is 0.06 from the minimum.) Adam (lr 0.05) moves each coordinate by at most its "
        "learning rate, so it does not blow up either; it ends 1.6 from the minimum.",
    ),
    Preset(
        "adamw_vs_adam", "AdamW vs Adam",
        {"landscape": "booth", "opt": ["adam", "adamw"], "adam.lr": "0.05", "adam.weight_decay": "0.5",
         "adamw.lr": "0.05", "adamw.weight_decay": "0.5", "steps": "500"},
        "Same λ = 0.5. Adam adds λ·θ to the gradient, so it heads for the minimum of f + (λ/2)‖θ‖², at "
        "(1.15, 2.75), 0.29 from Booth's minimum (1, 3); SGD with the same weight decay and lr ends exactly "
        "there. Adam is slow to arrive: after 500 steps it is at (1.01, 2.84), 0.16 from that point and still "
        "moving. AdamW instead shrinks θ by lr·λ·θ at every step, outside Adam's division by the gradient's "
        "RMS: it ends at (0.93, 1.07), less than half as far from the origin as Adam (1.4 against 3.0).",
    ),
    Preset(
        "cliff_clipping", "Cliff, clipping",
        {"landscape": "plateau_cliff", "opt": ["sgd", "momentum"], "sgd.lr": "0.2", "momentum.lr": "0.02",
         "steps": "300"},
        "Both crawl across the plateau, whose slope along x is 0.25 to 0.55: SGD (lr 0.2) needs 40 steps and "
        "momentum (lr 0.02) 44 to reach its edge at x = −0.5. The cliff's slope reaches 100: there one step "
        "of 4.9 throws plain SGD from x = 0.07 to x = 5.0, 3 units past the minimum (2, 0), while momentum's "
        "largest step is 0.38. Turn on clipping (say 1.0) and every step of SGD is at most lr·c = 0.2 long.",
    ),
    Preset(
        "minibatch_noise", "Minibatch noise",
        {"landscape": "linear_regression", "opt": ["sgd", "momentum"], "sgd.lr": "0.1", "momentum.lr": "0.02",
         "batch": "5"},
        "Each step's gradient comes from 5 of the 100 examples: a noisy estimate of the full gradient (the step "
        "inspector shows both). Both reach the minimum's neighbourhood by step 100 and then keep jittering "
        "around it instead of settling: from step 100 on they stay within 0.15 of it, their steps do not "
        "shrink, and their loss stays a median 0.001 above the minimum's, a noise floor. It dips within the "
        "table's tolerance (1e-4) on only about one step in ten (first at step 60 for SGD, 159 for momentum). "
        "Set the minibatch size to 0 (all examples) and SGD lands on the minimum exactly.",
    ),
    Preset(
        "feature_scaling", "Feature scaling",
        {"landscape": "linear_regression_unscaled", "opt": ["sgd", "adam"], "sgd.lr": "0.1", "adam.lr": "0.2"},
        "The feature is not standardised (mean 4, std 1.5): w and b are coupled in a valley 160 times steeper "
        "across than along, its floor tilted 12° off the b axis. SGD's lr must stay below 2/19.1 ≈ 0.1045 "
        "(19.1 is the curvature across) to be stable, so it crawls along the floor: after 300 steps it is "
        "still 0.2 from the minimum and needs 434 steps to reach the table's tolerance, while the same SGD on "
        "the standardised feature (Linear regression) gets there in 56. Adam does not fix it (0.26 away after "
        "300 steps): even the best per-coordinate rescaling leaves this valley 30 times steeper across than "
        "along.",
    ),
    Preset(
        "logistic_minibatch", "Logistic, minibatches",
        {"landscape": "logistic_regression", "opt": ["sgd", "adam"], "sgd.lr": "3", "adam.lr": "0.1",
         "batch": "10"},
        "Minibatches of 10 on logistic regression. SGD with a large lr (3) is fast, within 0.5 of the minimum "
        "by step 26, but then wanders around it (up to 0.8 away after step 50) and ends 0.25 away: the "
        "learning rate scales the noise (with lr 1 its steps there are a third as long). Adam's steps are at "
        "most lr·√2 ≈ 0.14 long (lr 0.1), so it arrives later (within 0.5 at step 119) and ends 0.03 away, "
        "eight times closer.",
    ),
    Preset(
        "tiny_network", "Tiny network: saturation",
        {"landscape": "tiny_network", "opt": ["sgd", "momentum", "adam"], "sgd.lr": "0.1", "momentum.lr": "0.05",
         "adam.lr": "0.05", "x0": "-2.5", "y0": "0.3"},
        "The start has a large input weight (w = −2.5), so the tanh unit is saturated on most examples "
        "(|tanh(w·u)| > 0.9 on 71 of the 100) and the gradient along w is small: −0.02, against 1.70 along v, "
        "a vanishing gradient. Plain SGD's loss falls from 1.8 to 0.08 in 20 steps by changing v (w barely "
        "moves), then it crawls along w: after 300 steps w has moved only from −2.5 to −1.96 (the minimum's "
        "is −1.43) and its loss is still 2.3 times the minimum. Momentum builds up speed along w and Adam "
        "rescales its small gradient (their median w-steps over steps 20 to 100 are about 3 and 18 times "
        "SGD's): both settle within 0.01 of the minimum at (−1.43, −2.00) by step 171, the mirror image of "
        "(1.43, 2.00), on the side they started from (w < 0).",
    ),
    Preset(
        "digits_adam_vs_sgd", "Digits: Adam vs SGD",
        {**DIGITS_SOLUTIONS, "batch": "64", "steps": "200"},
        "A real network (64-32-10, 2,410 weights, minibatches of 64 digits) on the plane through θ₀ and two "
        "trained networks. SGD (lr 0.1) reaches 95 % test accuracy in one step: the gradient along the plane at "
        "θ₀ is long (6.2 on its first minibatch), so its first step is 0.62 long. Adam (lr 0.01) moves each "
        "coordinate by at most about its learning rate a step, whatever the gradient's size (its first step is "
        "lr·√2 ≈ 0.014 long) and needs 28 steps to reach 95 %. After 200 steps: 96.9 % for SGD, 96.2 % for "
        "Adam. On a random plane (solutions off) neither gets above 12 %: two random directions of 2,410 hold "
        "no good network.",
    ),
    Preset(
        "network_lr_too_large", "Network: lr too large",
        {"landscape": "mlp_moons_plane", "opt": ["sgd"], "sgd.lr": "14", "steps": "300"},
        "The plane's lowest point sits in a valley whose sharpest curvature is 0.151, so plain gradient descent "
        "can settle there only with lr < 2/0.151 ≈ 13.3 (z is measured in filter norms, hence the large "
        "numbers). With lr 14 SGD gets within 0.01 of the minimum's loss in 5 steps, then never settles: it "
        "ends bouncing between two points 0.50 apart, 0.22 and 0.28 from the minimum, its loss rising on half of "
        "its steps. With lr 13 it settles on the minimum (within 1e-5); with lr 40 it is thrown out of the "
        "valley and wanders the plane: over its 300 steps its median distance from the minimum is about 9, its "
        "median loss 2.5 times the minimum's. That run is chaotic: the last bits of a CPU's exp and tanh change "
        "its path, not those figures.",
    ),
    Preset(
        "network_feature_scaling", "Network: feature scaling",
        {"landscape": "mlp_digits_plane", "mlp_digits_plane.standardise": "false", "opt": ["sgd"],
         "sgd.lr": "1", "steps": "300"},
        "The same network, θ₀ and plane as with standardised features; only the inputs differ: digits' raw pixel "
        "intensities (0 to 16). At the plane's lowest point the sharpest curvature is 2.25 instead of 0.21, "
        "ten times steeper, so SGD's lr must stay below 2/2.25 ≈ 0.89 instead of 9.6. With lr 1 SGD bounces "
        "(its loss rises on about half of its 300 steps) and ends at loss 2.367, above the minimum's 2.349; on "
        "standardised features (standardise on) the same SGD settles on the minimum. Trained in all its "
        "weights (Adam, 500 full-batch steps) the network reaches 94.4 % test accuracy on raw features, "
        "97.3 % on standardised ones.",
    ),
    Preset(
        "two_solutions", "Two solutions: no barrier",
        {**DIGITS_SOLUTIONS, "x0": "1", "y0": "0"},
        "The plane through θ₀ (at (0, 0)) and two digits networks trained from it, by SGD with momentum (at "
        "(1, 0)) and by Adam (at (0, 1)). On the straight line between the two solutions the loss falls at "
        "every point, from 0.0131 to 0.0014, and test accuracy stays between 96.0 % and 97.3 %: no barrier, "
        "the two lie in one basin (linear mode connectivity; Frankle et al. 2020). The loss also falls all the "
        "way along the lines from θ₀ to each. Started at the momentum solution, SGD (lr 0.1) and Adam (lr 0.01) "
        "keep descending, past both solutions: after 300 steps their loss is 11 and 39 times lower than where "
        "they started, full-batch training had not finished.",
    ),
)}

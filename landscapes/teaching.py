"""Teaching surfaces: each isolates one thing that makes optimisation hard.

These have no standard form; the choices are documented in each declaration.
"""

from __future__ import annotations

import math

import numpy as np

from optlab.landscape import Landscape, parametrised
from optlab.params import Param

KAPPA = Param(
    "kappa", 25.0, low=1.0, ui_low=1.0, ui_high=1000.0, log=True, symbol=r"\kappa",
    help="condition number: ratio of the steepest to the flattest curvature",
)
ANGLE = Param(
    "angle", 30.0, low=-90.0, high=90.0, ui_low=-90.0, ui_high=90.0, symbol=r"\varphi",
    help="rotation of the valley, in degrees",
)

BOWL = Landscape(
    name="bowl", title="Round bowl",
    value=lambda x, y: 0.5 * (x * x + y * y), gradient=lambda x, y: (x, y),
    domain=((-5.0, 5.0), (-5.0, 5.0)), minimizers=((0.0, 0.0),), f_min=0.0, start=(-4.0, 3.0),
    lesson="The easy case (condition number 1): every gradient points at the minimum.",
    latex=r"f(x,y) = \tfrac12\,(x^2 + y^2)",
    tags=frozenset({"unimodal", "convex", "quadratic"}),
)


def _ill_conditioned(kappa: float) -> Landscape:
    return Landscape(
        name="ill_conditioned_bowl", title="Ill-conditioned bowl",
        value=lambda x, y: 0.5 * (x * x + kappa * (y * y)), gradient=lambda x, y: (x, kappa * y),
        domain=((-5.0, 5.0), (-3.0, 3.0)), minimizers=((0.0, 0.0),), f_min=0.0, start=(-4.5, 2.0),
        lesson="A narrow valley (condition number κ): a step safe across it crawls along it; "
        "momentum overshoots.",
        latex=r"f(x,y) = \tfrac12\,(x^2 + \kappa\, y^2)",
        tags=frozenset({"unimodal", "convex", "quadratic", "ill-conditioned"}),
    )


ILL_CONDITIONED_BOWL = parametrised(_ill_conditioned, (KAPPA,))


def _rotated(kappa: float, angle: float) -> Landscape:
    c = math.cos(math.radians(angle))
    s = math.sin(math.radians(angle))

    def value_and_grad(x, y):
        u = c * x + s * y  # coordinates along the valley's axes
        w = c * y - s * x
        return 0.5 * (u * u + kappa * (w * w)), c * u - kappa * s * w, s * u + kappa * c * w

    return Landscape(
        name="rotated_bowl", title="Rotated ill-conditioned bowl",
        value=lambda x, y: value_and_grad(x, y)[0], gradient=lambda x, y: value_and_grad(x, y)[1:],
        value_and_grad=value_and_grad,
        domain=((-5.0, 5.0), (-5.0, 5.0)), minimizers=((0.0, 0.0),), f_min=0.0, start=(-4.0, 1.0),
        lesson="The same narrow valley, turned: per-coordinate methods (Adam, RMSprop) lose their "
        "edge when it is not aligned with the axes.",
        latex=r"f = \tfrac12\,(u^2 + \kappa w^2),\ u = x\cos\varphi + y\sin\varphi,\ w = y\cos\varphi - x\sin\varphi",
        tags=frozenset({"unimodal", "convex", "quadratic", "ill-conditioned", "rotated"}),
    )


ROTATED_BOWL = parametrised(_rotated, (KAPPA, ANGLE))

SADDLE = Landscape(
    name="saddle", title="Saddle",
    value=lambda x, y: x * x - y * y, gradient=lambda x, y: (2 * x, -2 * y),
    domain=((-3.0, 3.0), (-3.0, 3.0)), minimizers=(), f_min=None, start=(-2.5, 1e-3),
    lesson="No minimum, and a flat point at (0, 0) that is not one: near the ridge the gradient "
    "barely points away, so plain SGD stalls while momentum and Adam escape.",
    latex=r"f(x,y) = x^2 - y^2",
    tags=frozenset({"saddle", "unbounded"}),
    minima_note="Unbounded below: there is no minimum, only the saddle point (0, 0).",
)

MONKEY_SADDLE = Landscape(
    name="monkey_saddle", title="Monkey saddle",
    value=lambda x, y: x * x * x - 3 * x * (y * y),
    gradient=lambda x, y: (3 * (x * x) - 3 * (y * y), -6 * x * y),
    domain=((-2.0, 2.0), (-2.0, 2.0)), minimizers=(), f_min=None, start=(1.5, 0.05),
    lesson="A degenerate saddle: the gradient vanishes to second order at (0, 0), so every "
    "method slows to a crawl there.",
    latex=r"f(x,y) = x^3 - 3xy^2",
    tags=frozenset({"saddle", "unbounded", "degenerate"}),
    minima_note="Unbounded below: there is no minimum, only the degenerate saddle (0, 0).",
)


# Plateau with a cliff: a gentle bowl centred at (2, 0) plus a step of height 10 down at
# x = 0 with a width of about 0.1. On the plateau (x < -0.5) the slope is about 0.25; on the
# cliff face it reaches 10·40/4 = 100, so a step there throws the point far away
# (an exploding gradient, the case gradient clipping exists for).
CLIFF_HEIGHT = 10.0
CLIFF_SHARPNESS = 40.0


def _cliff_vg(x, y):
    t = np.tanh(0.5 * CLIFF_SHARPNESS * x)
    f = 0.5 * CLIFF_HEIGHT * (1 - t) + 0.05 * ((x - 2) * (x - 2)) + 0.5 * (y * y)
    gx = -0.25 * CLIFF_HEIGHT * CLIFF_SHARPNESS * (1 - t * t) + 0.1 * (x - 2)
    return f, gx, y


PLATEAU_CLIFF = Landscape(
    name="plateau_cliff", title="Plateau with a cliff",
    value=lambda x, y: _cliff_vg(x, y)[0], gradient=lambda x, y: _cliff_vg(x, y)[1:],
    value_and_grad=_cliff_vg,
    domain=((-4.0, 6.0), (-3.0, 3.0)), minimizers=((2.0, 0.0),), f_min=float(_cliff_vg(2.0, 0.0)[0]),
    start=(-3.5, 1.5),
    lesson="A slow plateau ends in a cliff whose huge gradient throws SGD far away: "
    "exploding gradients, and why gradient clipping exists.",
    latex=r"f = 5\,(1 - \tanh 20x) + 0.05\,(x-2)^2 + \tfrac12\,y^2",
    tags=frozenset({"unimodal", "non-convex", "plateau", "cliff"}),
)

PERIODIC_VALLEY = Landscape(
    name="periodic_valley", title="Periodic valley",
    value=lambda x, y: np.sin(x) + y * y, gradient=lambda x, y: (np.cos(x), 2 * y),
    domain=((-7.0, 7.0), (-3.0, 3.0)),
    minimizers=((-0.5 * np.pi, 0.0), (1.5 * np.pi, 0.0)), f_min=-1.0, start=(0.4, 2.5),
    lesson="Equally deep minima repeat every 2π along x: where you end up is decided by where you start.",
    latex=r"f(x,y) = \sin x + y^2",
    tags=frozenset({"multimodal", "non-convex", "periodic"}),
    minima_note="Minima repeat every 2π in x; those inside the domain are listed.",
)

TEACHING = (
    BOWL, ILL_CONDITIONED_BOWL, ROTATED_BOWL, SADDLE, MONKEY_SADDLE, PLATEAU_CLIFF, PERIODIC_VALLEY,
)

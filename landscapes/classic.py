"""The classic 2-D test functions (formulas, domains and minima: shared/reference/landscapes.md).

Integer powers are written as products so that floats and arrays give the same
bits (see optlab.landscape).
"""

from __future__ import annotations

import numpy as np

from optlab.landscape import Landscape

PI = np.pi
TAU = 2 * np.pi


# Rosenbrock ------------------------------------------------------------------
def _rosenbrock_vg(x, y):
    a = 1 - x
    b = y - x * x
    return a * a + 100 * (b * b), -2 * a - 400 * x * b, 200 * b


ROSENBROCK = Landscape(
    name="rosenbrock", title="Rosenbrock",
    value=lambda x, y: _rosenbrock_vg(x, y)[0],
    gradient=lambda x, y: _rosenbrock_vg(x, y)[1:],
    value_and_grad=_rosenbrock_vg,
    domain=((-2.0, 2.0), (-1.0, 3.0)), minimizers=((1.0, 1.0),), f_min=0.0, start=(-1.5, 2.0),
    lesson="A curved, flat-bottomed valley: finding it is easy, following it to (1, 1) is slow.",
    latex=r"f(x,y) = (1-x)^2 + 100\,(y-x^2)^2",
    tags=frozenset({"unimodal", "non-convex", "ill-conditioned", "valley"}),
)


# Beale -------------------------------------------------------------------------
def _beale_grad(x, y):
    y2 = y * y
    y3 = y2 * y
    a1 = 1.5 - x + x * y
    a2 = 2.25 - x + x * y2
    a3 = 2.625 - x + x * y3
    gx = 2 * a1 * (y - 1) + 2 * a2 * (y2 - 1) + 2 * a3 * (y3 - 1)
    gy = 2 * a1 * x + 4 * a2 * x * y + 6 * a3 * x * y2
    return gx, gy


def _beale(x, y):
    a1 = 1.5 - x + x * y
    a2 = 2.25 - x + x * y * y
    a3 = 2.625 - x + x * y * y * y
    return a1 * a1 + a2 * a2 + a3 * a3


BEALE = Landscape(
    name="beale", title="Beale", value=_beale, gradient=_beale_grad,
    domain=((-4.5, 4.5), (-4.5, 4.5)), minimizers=((3.0, 0.5),), f_min=0.0, start=(1.0, 1.4),
    lesson="Flat plateaus next to steep walls: step sizes that suit one region fail in the other.",
    latex=r"f = (1.5-x+xy)^2 + (2.25-x+xy^2)^2 + (2.625-x+xy^3)^2",
    tags=frozenset({"unimodal", "non-convex", "plateau"}),
)


# Himmelblau ---------------------------------------------------------------------
def _himmelblau_vg(x, y):
    a = x * x + y - 11
    b = x + y * y - 7
    return a * a + b * b, 4 * x * a + 2 * b, 2 * a + 4 * y * b


HIMMELBLAU = Landscape(
    name="himmelblau", title="Himmelblau",
    value=lambda x, y: _himmelblau_vg(x, y)[0], gradient=lambda x, y: _himmelblau_vg(x, y)[1:],
    value_and_grad=_himmelblau_vg,
    domain=((-5.0, 5.0), (-5.0, 5.0)),
    minimizers=(
        (3.0, 2.0),
        (-2.805118086952745, 3.131312518250573),
        (-3.779310253377747, -3.2831859912861696),
        (3.5844283403304917, -1.8481265269644036),
    ),
    f_min=0.0, start=(-0.5, 0.5),
    lesson="Four equally good minima: which one you reach depends on the start and the optimizer.",
    latex=r"f(x,y) = (x^2+y-11)^2 + (x+y^2-7)^2",
    tags=frozenset({"multimodal", "non-convex"}),
)


# Booth ----------------------------------------------------------------------------
def _booth_vg(x, y):
    a = x + 2 * y - 7
    b = 2 * x + y - 5
    return a * a + b * b, 2 * a + 4 * b, 4 * a + 2 * b


BOOTH = Landscape(
    name="booth", title="Booth",
    value=lambda x, y: _booth_vg(x, y)[0], gradient=lambda x, y: _booth_vg(x, y)[1:],
    value_and_grad=_booth_vg,
    domain=((-10.0, 10.0), (-10.0, 10.0)), minimizers=((1.0, 3.0),), f_min=0.0, start=(-8.0, -6.0),
    lesson="A convex quadratic with a mild tilt (condition number 9): every method should get there.",
    latex=r"f(x,y) = (x+2y-7)^2 + (2x+y-5)^2",
    tags=frozenset({"unimodal", "convex", "quadratic"}),
)


# Matyas ------------------------------------------------------------------------------
MATYAS = Landscape(
    name="matyas", title="Matyas",
    value=lambda x, y: 0.26 * (x * x + y * y) - 0.48 * x * y,
    gradient=lambda x, y: (0.52 * x - 0.48 * y, 0.52 * y - 0.48 * x),
    domain=((-10.0, 10.0), (-10.0, 10.0)), minimizers=((0.0, 0.0),), f_min=0.0, start=(8.0, 3.0),
    lesson="A long, nearly flat diagonal trough (condition number 25): plain gradient descent crawls along it.",
    latex=r"f(x,y) = 0.26\,(x^2+y^2) - 0.48\,xy",
    tags=frozenset({"unimodal", "convex", "quadratic", "ill-conditioned"}),
)


# Three-hump camel -----------------------------------------------------------------------
def _three_hump(x, y):
    x2 = x * x
    x4 = x2 * x2
    return 2 * x2 - 1.05 * x4 + x4 * x2 / 6 + x * y + y * y


def _three_hump_grad(x, y):
    x2 = x * x
    return 4 * x - 4.2 * x2 * x + x2 * x2 * x + y, x + 2 * y


THREE_HUMP_CAMEL = Landscape(
    name="three_hump_camel", title="Three-hump camel", value=_three_hump, gradient=_three_hump_grad,
    domain=((-5.0, 5.0), (-5.0, 5.0)), minimizers=((0.0, 0.0),), f_min=0.0, start=(-2.0, 2.5),
    lesson="Two side humps hold local minima: a start on the wrong side stays there.",
    latex=r"f(x,y) = 2x^2 - 1.05x^4 + \tfrac{x^6}{6} + xy + y^2",
    tags=frozenset({"multimodal", "non-convex"}),
)


# Six-hump camel ------------------------------------------------------------------------------
def _six_hump(x, y):
    x2 = x * x
    y2 = y * y
    return (4 - 2.1 * x2 + x2 * x2 / 3) * x2 + x * y + (-4 + 4 * y2) * y2


def _six_hump_grad(x, y):
    x2 = x * x
    return 8 * x - 8.4 * x2 * x + 2 * x2 * x2 * x + y, x - 8 * y + 16 * y * y * y


SIX_HUMP_CAMEL = Landscape(
    name="six_hump_camel", title="Six-hump camel", value=_six_hump, gradient=_six_hump_grad,
    domain=((-3.0, 3.0), (-2.0, 2.0)),
    minimizers=((0.08984201310031807, -0.7126564030207396), (-0.08984201310031807, 0.7126564030207396)),
    f_min=-1.0316284534898776, start=(-1.5, -1.0),
    lesson="Six local minima, two of them global: the basin you start in decides the ending.",
    latex=r"f(x,y) = (4 - 2.1x^2 + \tfrac{x^4}{3})\,x^2 + xy + (-4 + 4y^2)\,y^2",
    tags=frozenset({"multimodal", "non-convex"}),
)


# Goldstein-Price ----------------------------------------------------------------------------
def _goldstein_price_vg(x, y):
    s = x + y + 1
    p = 19 - 14 * x + 3 * x * x - 14 * y + 6 * x * y + 3 * y * y
    d = 2 * x - 3 * y
    q = 18 - 32 * x + 12 * x * x + 48 * y - 36 * x * y + 27 * y * y
    a = 1 + s * s * p
    b = 30 + d * d * q
    da = 2 * s * p + s * s * (-14 + 6 * x + 6 * y)  # dA/dx = dA/dy
    db_dx = 4 * d * q + d * d * (-32 + 24 * x - 36 * y)
    db_dy = -6 * d * q + d * d * (48 - 36 * x + 54 * y)
    return a * b, da * b + a * db_dx, da * b + a * db_dy


GOLDSTEIN_PRICE = Landscape(
    name="goldstein_price", title="Goldstein–Price",
    value=lambda x, y: _goldstein_price_vg(x, y)[0], gradient=lambda x, y: _goldstein_price_vg(x, y)[1:],
    value_and_grad=_goldstein_price_vg,
    domain=((-2.0, 2.0), (-2.0, 2.0)), minimizers=((0.0, -1.0),), f_min=3.0, start=(-1.2, 1.2),
    lesson="Values span six decades: a learning rate that is safe on the walls is tiny in the basin.",
    latex=r"f = [1+(x+y+1)^2(19-14x+3x^2-14y+6xy+3y^2)]\,[30+(2x-3y)^2(18-32x+12x^2+48y-36xy+27y^2)]",
    tags=frozenset({"multimodal", "non-convex", "steep"}),
)


# Rastrigin -------------------------------------------------------------------------------
RASTRIGIN = Landscape(
    name="rastrigin", title="Rastrigin",
    value=lambda x, y: 20 + x * x - 10 * np.cos(TAU * x) + y * y - 10 * np.cos(TAU * y),
    gradient=lambda x, y: (2 * x + 20 * PI * np.sin(TAU * x), 2 * y + 20 * PI * np.sin(TAU * y)),
    domain=((-5.12, 5.12), (-5.12, 5.12)), minimizers=((0.0, 0.0),), f_min=0.0, start=(3.2, -2.3),
    lesson="A bowl covered in ripples: local minima everywhere trap plain gradient descent.",
    latex=r"f(x,y) = 20 + x^2 - 10\cos 2\pi x + y^2 - 10\cos 2\pi y",
    tags=frozenset({"multimodal", "non-convex", "periodic"}),
)


# Ackley -------------------------------------------------------------------------------------
def _ackley_vg(x, y):
    r = np.sqrt(0.5 * (x * x + y * y))
    e1 = np.exp(-0.2 * r)
    e2 = np.exp(0.5 * (np.cos(TAU * x) + np.cos(TAU * y)))
    f = -20 * e1 - e2 + 20 + np.e
    # d/dx of -20·exp(-0.2 r) is 2x·exp(-0.2 r)/r; at r = 0 (not differentiable) we use 0.
    radial = np.where(r > 0, 2 * e1 / np.where(r > 0, r, 1.0), 0.0)
    return f, radial * x + PI * np.sin(TAU * x) * e2, radial * y + PI * np.sin(TAU * y) * e2


ACKLEY = Landscape(
    name="ackley", title="Ackley",
    value=lambda x, y: _ackley_vg(x, y)[0], gradient=lambda x, y: _ackley_vg(x, y)[1:],
    value_and_grad=_ackley_vg,
    domain=((-5.0, 5.0), (-5.0, 5.0)), minimizers=((0.0, 0.0),), f_min=0.0, start=(3.5, -2.5),
    lesson="A nearly flat, bumpy plain around one deep hole: gradients say little until you are close.",
    latex=r"f = -20\,e^{-0.2\sqrt{(x^2+y^2)/2}} - e^{(\cos 2\pi x + \cos 2\pi y)/2} + 20 + e",
    tags=frozenset({"multimodal", "non-convex", "periodic", "non-smooth"}),
    minima_note="Not differentiable at the minimum; the gradient there is taken as 0.",
)


# Styblinski-Tang ------------------------------------------------------------------------------
def _styblinski_tang(x, y):
    x2 = x * x
    y2 = y * y
    return 0.5 * (x2 * x2 - 16 * x2 + 5 * x + y2 * y2 - 16 * y2 + 5 * y)


STYBLINSKI_TANG = Landscape(
    name="styblinski_tang", title="Styblinski–Tang", value=_styblinski_tang,
    gradient=lambda x, y: (2 * x * x * x - 16 * x + 2.5, 2 * y * y * y - 16 * y + 2.5),
    domain=((-5.0, 5.0), (-5.0, 5.0)),
    minimizers=((-2.903534027771177, -2.903534027771177),), f_min=-78.33233140754284, start=(0.3, 0.6),
    lesson="Four basins of unequal depth: the nearest minimum is rarely the best one.",
    latex=r"f(x,y) = \tfrac12\,(x^4 - 16x^2 + 5x + y^4 - 16y^2 + 5y)",
    tags=frozenset({"multimodal", "non-convex"}),
)


# Lévi N.13 ------------------------------------------------------------------------------------
def _levi13(x, y):
    s3x = np.sin(3 * PI * x)
    s3y = np.sin(3 * PI * y)
    s2y = np.sin(TAU * y)
    return s3x * s3x + (x - 1) * (x - 1) * (1 + s3y * s3y) + (y - 1) * (y - 1) * (1 + s2y * s2y)


def _levi13_grad(x, y):
    s3y = np.sin(3 * PI * y)
    s2y = np.sin(TAU * y)
    gx = 3 * PI * np.sin(6 * PI * x) + 2 * (x - 1) * (1 + s3y * s3y)
    gy = (
        3 * PI * (x - 1) * (x - 1) * np.sin(6 * PI * y)
        + 2 * (y - 1) * (1 + s2y * s2y)
        + 2 * PI * (y - 1) * (y - 1) * np.sin(4 * PI * y)
    )
    return gx, gy


LEVI13 = Landscape(
    name="levi13", title="Lévi N.13", value=_levi13, gradient=_levi13_grad,
    domain=((-10.0, 10.0), (-10.0, 10.0)), minimizers=((1.0, 1.0),), f_min=0.0, start=(-4.0, 5.5),
    lesson="Ripples on a tilted bowl: momentum can roll over small bumps that stop SGD.",
    latex=r"f = \sin^2 3\pi x + (x-1)^2(1+\sin^2 3\pi y) + (y-1)^2(1+\sin^2 2\pi y)",
    tags=frozenset({"multimodal", "non-convex", "periodic"}),
)

CLASSIC = (
    ROSENBROCK, BEALE, HIMMELBLAU, BOOTH, MATYAS, THREE_HUMP_CAMEL, SIX_HUMP_CAMEL,
    GOLDSTEIN_PRICE, RASTRIGIN, ACKLEY, STYBLINSKI_TANG, LEVI13,
)

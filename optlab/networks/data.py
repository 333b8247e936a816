"""Datasets for the networks: real ones that ship with scikit-learn, and generated ones.

Nothing is downloaded: ``digits`` (8×8 images, 10 classes), ``iris``, ``wine``,
``breast_cancer`` and ``diabetes`` (regression) are the copies bundled inside
scikit-learn; ``moons`` and ``circles`` are scikit-learn's generators and ``spiral``
is generated here, all from a seed. :func:`load_dataset` splits the examples into a
training and a test set (seeded), and standardises the features with the training
set's mean and standard deviation (optional; a constant feature, such as a digits
pixel that is always blank, is only centred). A regression target is standardised the
same way. scikit-learn is imported on first use only (it takes seconds).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

GENERATED_SIZE = 300  # examples of moons, circles and spiral


@dataclass(frozen=True, eq=False)
class Dataset:
    name: str
    task: str  # "classification" (y: integer labels 0 .. classes − 1) or "regression" (y: shape (n, 1))
    X: np.ndarray  # training features, (n, d)
    y: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    classes: int  # number of classes; 0 for regression
    raw_X: np.ndarray  # every example before the split, unscaled (what the exported script embeds)
    raw_y: np.ndarray
    test_index: np.ndarray  # the split: rows of raw_X that are test examples (the rest, in order, train)
    standardise: bool

    @property
    def features(self) -> int:
        return self.X.shape[1]

    @property
    def outputs(self) -> int:
        return self.classes if self.task == "classification" else self.y.shape[1]

    def __repr__(self) -> str:
        return f"Dataset({self.name!r}, train {self.X.shape}, test {self.X_test.shape}, {self.task})"


def _sklearn(loader: str):
    def load(seed: int):
        from sklearn import datasets

        X, y = getattr(datasets, loader)(return_X_y=True)
        return X, y

    return load


def _moons(seed: int):
    from sklearn.datasets import make_moons

    return make_moons(n_samples=GENERATED_SIZE, noise=0.2, random_state=seed)


def _circles(seed: int):
    from sklearn.datasets import make_circles

    return make_circles(n_samples=GENERATED_SIZE, noise=0.1, factor=0.5, random_state=seed)


def spiral(seed: int, n: int = GENERATED_SIZE, arms: int = 3, noise: float = 0.2):
    """``arms`` interleaved spiral arms in the plane, n // arms points each (as in CS231n's example)."""
    rng = np.random.default_rng(seed)
    per = n // arms
    r = np.tile(np.linspace(0.0, 1.0, per), arms)
    label = np.repeat(np.arange(arms), per)
    angle = label * (2 * np.pi / arms) + 4.0 * r + noise * rng.standard_normal(per * arms)
    return np.column_stack([r * np.sin(angle), r * np.cos(angle)]), label


# name -> (loader(seed) -> (X, y), task)
DATASETS = {
    "digits": (_sklearn("load_digits"), "classification"),
    "iris": (_sklearn("load_iris"), "classification"),
    "wine": (_sklearn("load_wine"), "classification"),
    "breast_cancer": (_sklearn("load_breast_cancer"), "classification"),
    "diabetes": (_sklearn("load_diabetes"), "regression"),
    "moons": (_moons, "classification"),
    "circles": (_circles, "classification"),
    "spiral": (spiral, "classification"),
}


def split_index(n: int, seed: int, test_fraction: float) -> np.ndarray:
    """The test examples' rows, sorted: a seeded random subset of round(n · test_fraction) of range(n)."""
    n_test = int(round(n * test_fraction))
    return np.sort(np.random.default_rng([seed, 2]).permutation(n)[:n_test])


def standardiser(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, scale) of the columns of X; scale 1 where a column is constant."""
    mean = X.mean(axis=0)
    std = X.std(axis=0)
    return mean, np.where(std > 0, std, 1.0)


def prepare(raw_X, raw_y, test_index, task: str, standardise: bool):
    """(X, y, X_test, y_test): the split, features (and a regression target) standardised on the training set."""
    test = np.zeros(len(raw_X), dtype=bool)
    test[test_index] = True
    X, X_test = raw_X[~test], raw_X[test]
    y, y_test = raw_y[~test], raw_y[test]
    if standardise:
        mean, scale = standardiser(X)
        X, X_test = (X - mean) / scale, (X_test - mean) / scale
        if task == "regression":
            mean, scale = standardiser(y)
            y, y_test = (y - mean) / scale, (y_test - mean) / scale
    return X, y, X_test, y_test


@functools.lru_cache(maxsize=32)
def load_dataset(name: str, *, seed: int = 0, test_fraction: float = 0.25, standardise: bool = True) -> Dataset:
    """A dataset by name (:data:`DATASETS`), split into training and test examples and standardised.

    ``seed`` draws the generated datasets' examples and the split; a real dataset's
    examples are fixed. Cached: the same arguments give the same (read-only) arrays.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; allowed: {', '.join(DATASETS)}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction = {test_fraction!r} is out of range; allowed: (0, 1)")
    loader, task = DATASETS[name]
    raw_X, raw_y = loader(seed)
    raw_X = np.ascontiguousarray(raw_X, dtype=float)
    if task == "classification":
        _, raw_y = np.unique(raw_y, return_inverse=True)
        raw_y = raw_y.astype(np.intp)
        classes = int(raw_y.max()) + 1
    else:
        raw_y = np.asarray(raw_y, dtype=float).reshape(len(raw_X), -1)
        classes = 0
    test_index = split_index(len(raw_X), seed, test_fraction)
    X, y, X_test, y_test = prepare(raw_X, raw_y, test_index, task, standardise)
    arrays = [np.ascontiguousarray(a) for a in (X, y, X_test, y_test, raw_X, raw_y)]
    for a in arrays:
        a.flags.writeable = False
    X, y, X_test, y_test, raw_X, raw_y = arrays
    return Dataset(name=name, task=task, X=X, y=y, X_test=X_test, y_test=y_test, classes=classes, raw_X=raw_X,
                   raw_y=raw_y, test_index=test_index, standardise=standardise)

"""Data sets of the book and their covariance spectrum.

* ``synthetic``: the v1 §5.1.1 data, a K-component Gaussian mixture in N dimensions
  whose component variances stay below a threshold. The paper gives only
  "50,000 samples, 8 components, 32 dimensions, component variances below a
  threshold"; every other choice (how means and variances are drawn) is a
  parameter of :func:`make_synthetic`, documented there.
* ``digits``: scikit-learn's 8x8 digits (1,797 images, shipped with scikit-learn,
  so nothing is downloaded), scaled to [0, 1].
* ``mnist``, ``fashion_mnist``, ``cifar10`` (v1's counts: MNIST's 60,000 training
  images, Fashion-MNIST's and CIFAR-10's training and test sets together) and
  ``fashion_mnist_train``, ``cifar10_train`` (training sets only): read by
  :mod:`hcvae.core.image_data` from the arrays ``make data`` prepared from
  pinned registry packages (loading downloads nothing).

The phase-transition theory needs lambda_max, the largest eigenvalue of the data
covariance Sigma = E[(x - <x>)(x - <x>)^T] (v1 eq. 4); :func:`covariance_spectrum`
computes the whole spectrum with the 1/n (population) normalisation the
expectation implies.
"""

from __future__ import annotations

import numpy as np

from hcvae.core import image_data, user_data
from hcvae.core.dataset import Dataset, check_data  # noqa: F401 (the data sets' vocabulary, used across the package)

BUILTIN_DATASETS = ("synthetic", "digits")
# How many samples each data set has (v1 §5.1.1's counts; the *_train sets: the official training splits)
DATASET_SIZES = {"synthetic": 50_000, "digits": 1_797, "mnist": 60_000, "fashion_mnist": 70_000, "cifar10": 60_000,
                 "fashion_mnist_train": 60_000, "cifar10_train": 50_000}
# The true number of clusters of each data set: the mixture's components, the classes (v1 §5.1.1)
TRUE_CLUSTERS = {"synthetic": 8, "digits": 10, "mnist": 10, "fashion_mnist": 10, "cifar10": 10,
                 "fashion_mnist_train": 10, "cifar10_train": 10}
# the data sets read from the arrays `make data` prepared (v1 §5.1.2 image data; hcvae.core.image_data)
FILE_DATASETS = image_data.NAMES
DATASETS = (*BUILTIN_DATASETS, *FILE_DATASETS)  # by name; a user's file is a data set too (hcvae.core.user_data)


def is_dataset(name) -> bool:
    """A data set of the book by name, or a registered user data set (``user-<hash>``)."""
    return name in DATASETS or user_data.is_name(name)


def check_dataset(name) -> None:
    """Raise ValueError unless ``name`` is a data set of the book or a registered user data set."""
    if not is_dataset(name):
        raise ValueError(f"unknown dataset {name!r}; allowed values: {', '.join(DATASETS)}, or a registered data "
                         "file (user-<hash>, see hcvae.core.user_data)")


def dataset_size(name: str) -> int:
    """How many samples the data set ``name`` has in all."""
    return user_data.size(name) if user_data.is_name(name) else DATASET_SIZES[name]


def true_clusters(name: str) -> int | None:
    """The data set's true number of clusters (None for a user's data: a chapter is given K, or picks it by BIC)."""
    return None if user_data.is_name(name) else TRUE_CLUSTERS[name]


def make_synthetic(
    n_samples: int = 50_000,
    n_components: int = 8,
    dim: int = 32,
    mean_scale: float = 1.0,
    variance_threshold: float = 0.25,
    variance_floor: float = 0.05,
    seed: int = 0,
) -> Dataset:
    """The v1 §5.1.1 synthetic Gaussian mixture.

    Component means are drawn i.i.d. from N(0, mean_scale^2 I_dim); each component
    has a diagonal covariance whose variances are drawn uniformly from
    [variance_floor, variance_threshold] (the paper's "component variances
    controlled to be below a threshold"); the mixture weights are equal.
    Samples are drawn from the mixture with a generator seeded by ``seed``, so
    the same arguments give the same array.
    """
    for pname, value in (("n_samples", n_samples), ("n_components", n_components), ("dim", dim)):
        if int(value) != value or value < 1:
            raise ValueError(f"{pname} must be a positive integer; got {value!r}")
    if n_samples < n_components:
        raise ValueError(f"n_samples ({n_samples}) must be at least n_components ({n_components})")
    if not mean_scale > 0:
        raise ValueError(f"mean_scale must be > 0; got {mean_scale!r}")
    if not 0 < variance_floor <= variance_threshold:
        raise ValueError(
            f"need 0 < variance_floor <= variance_threshold; got variance_floor={variance_floor!r}, variance_threshold={variance_threshold!r}"
        )
    rng = np.random.default_rng(seed)
    means = rng.normal(0.0, mean_scale, size=(n_components, dim))
    variances = rng.uniform(variance_floor, variance_threshold, size=(n_components, dim))
    labels = rng.integers(0, n_components, size=n_samples)
    x = means[labels] + rng.normal(size=(n_samples, dim)) * np.sqrt(variances[labels])
    meta = dict(
        means=means, variances=variances, weights=np.full(n_components, 1.0 / n_components),
        n_samples=n_samples, n_components=n_components, dim=dim, mean_scale=mean_scale,
        variance_threshold=variance_threshold, variance_floor=variance_floor, seed=seed,
    )
    return Dataset("synthetic", x.astype(np.float32), labels, meta)


def load_digits_scaled() -> Dataset:
    """scikit-learn's 8x8 digits (64 features, pixel values 0..16) scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.data / 16.0).astype(np.float32)
    return Dataset("digits", x, bunch.target.astype(np.int64),
                   dict(source="sklearn.datasets.load_digits", scale=1 / 16, image_shape=(1, 8, 8)))


def load_dataset(name: str, n_samples: int | None = None, seed: int = 0, data_dir=None) -> Dataset:
    """Load a data set of the book by name; ``n_samples`` keeps a seeded random subset.

    The synthetic mixture is always generated with its own fixed seed (0) so that
    every experiment sees the same population; ``seed`` only picks the subset.
    File-backed data sets are read from ``data_dir`` (default ``$HCVAE_DATA_DIR``, else ``data/``).
    """
    check_dataset(name)
    if user_data.is_name(name):
        ds = user_data.load(name, data_dir)
    elif name in FILE_DATASETS:
        ds = image_data.load(name, data_dir)
    else:
        ds = make_synthetic() if name == "synthetic" else load_digits_scaled()
    if n_samples is None or n_samples >= ds.n:
        return ds
    if int(n_samples) != n_samples or n_samples < 2:
        raise ValueError(f"n_samples must be an integer >= 2 or None; got {n_samples!r}")
    idx = np.sort(np.random.default_rng(seed).choice(ds.n, size=int(n_samples), replace=False))
    return Dataset(ds.name, ds.x[idx], ds.labels[idx], {**ds.meta, "subset_of": ds.n, "subset_seed": seed})


def covariance_spectrum(x) -> np.ndarray:
    """Eigenvalues of the data covariance, largest first (float64, 1/n normalisation)."""
    x = check_data(x).astype(np.float64)
    centred = x - x.mean(axis=0)
    cov = centred.T @ centred / x.shape[0]
    return np.linalg.eigvalsh(cov)[::-1].clip(min=0.0)


def lambda_max(x) -> float:
    """The largest eigenvalue of the data covariance (v1 eq. 4)."""
    return float(covariance_spectrum(x)[0])

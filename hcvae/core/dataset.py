"""A data set of the book: an array of samples with its labels and provenance, and the check every array passes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Dataset:
    """An array of samples (rows) with its labels and provenance."""

    name: str
    x: np.ndarray  # (n, N) float32
    labels: np.ndarray  # (n,) int, mixture component or digit class
    meta: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return self.x.shape[0]

    @property
    def dim(self) -> int:
        return self.x.shape[1]


def check_data(x, name: str = "x") -> np.ndarray:
    """Return ``x`` as a float32 (n, N) array, or raise a ValueError saying what is wrong."""
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (samples x features); got {x.ndim} dimension(s) with shape {x.shape}")
    if x.shape[0] < 2 or x.shape[1] < 1:
        raise ValueError(f"{name} needs at least 2 samples and 1 feature; got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"{name} must be numeric; got dtype {x.dtype}")
    bad = ~np.isfinite(x)
    if bad.any():
        rows = np.unique(np.nonzero(bad)[0])
        raise ValueError(f"{name} contains NaN or infinite values in {rows.size} row(s), first at row {rows[0]}; clean or drop them first")
    return np.ascontiguousarray(x, dtype=np.float32)

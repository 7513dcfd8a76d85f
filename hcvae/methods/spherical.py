"""v4 §3.1: the spherical shell transform.

Eq. 1 centres the data, x~ = x - mean. Eq. 2 then rescales each x~ along its own
direction so that r_min <= ||x'|| <= r_max. The extraction of v4 lost eq. 2 and
the radii, so how norms are mapped into the shell is a named reading:

* ``"minmax"``: an affine map of the norms seen in ``fit`` onto [r_min, r_max]
  (the smallest norm goes to r_min, the largest to r_max; order and relative
  spacing of norms are kept). Norms outside the fitted range are clipped.
* ``"clip"``: norms already inside [r_min, r_max] are kept, the others are
  clipped to the nearer radius (the data are left alone where they fit).

Defaults r_min = 1, r_max = 2 are our choice (the paper's values were lost);
both are parameters. A sample at the exact centre has no direction; it is put
on the first coordinate axis.

The transform changes the covariance, hence lambda_max and the sigma'^2/lambda_max
a model trained on x' sees (questions 8 of the book).

v4 §3.3, the training objective (eqs. 7-10, reconstructed; the formulas were lost):

* eq. 7, the cluster-aware reconstruction loss ||x_hat - mu_{c(x)}||^2 against the
  input's *own* K-means centre: :func:`cluster_aware_loss`;
* eq. 8, the boundary penalty on leaving [WCSS, L_collapse]: :func:`boundary_penalty`.
  The text does not say whether the loss kept in the region is each sample's or the
  batch mean, so both are readings: ``"per_sample"`` (mean over samples of the
  penalty of each sample's loss) and ``"per_batch"`` (the penalty of the batch's mean
  loss, which is what Theorem 3.4 constrains);
* eq. 9, the norm penalty on ||x_hat|| outside [r_min, r_max]: :func:`norm_penalty`;
* eq. 10, total = VAE loss + lambda_1 * boundary + lambda_2 * norm (assembled in
  :mod:`hcvae.runs.spherical_runs`).

Both penalties measure the distance by which a value leaves its interval, squared
(``"squared"``, the default: smooth at the edge) or not (``"linear"``, a hinge):
zero inside, positive outside, pushing back towards the interval.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch

from hcvae.core.data import check_data
from hcvae.core.validation import check_choice

SHELL_READINGS = ("minmax", "clip")
BOUNDARY_READINGS = ("per_sample", "per_batch")
PENALTY_FORMS = ("squared", "linear")


def _as_float64(x) -> np.ndarray:
    check_data(x)  # validation only: the transform keeps the input's full precision
    return np.asarray(x, dtype=np.float64)


class ShellTransform:
    """Centre, then map norms into [r_min, r_max] (v4 eqs. 1-2), scikit-learn style (fit learns ``mean_``...)."""

    def __init__(self, r_min: float = 1.0, r_max: float = 2.0, reading: str = "minmax"):
        self.r_min, self.r_max, self.reading = r_min, r_max, reading
        self._validate()

    def _validate(self) -> None:
        if not (isinstance(self.r_min, numbers.Real) and math.isfinite(self.r_min) and self.r_min >= 0):
            raise ValueError(f"r_min must be a finite number >= 0; got {self.r_min!r}")
        if not (isinstance(self.r_max, numbers.Real) and math.isfinite(self.r_max) and self.r_max > self.r_min):
            raise ValueError(f"need r_min < r_max; got r_min={self.r_min!r}, r_max={self.r_max!r}")
        check_choice("reading", self.reading, SHELL_READINGS)

    def fit(self, x) -> "ShellTransform":
        self._validate()
        x = _as_float64(x)
        self.mean_ = x.mean(0)
        norms = np.linalg.norm(x - self.mean_, axis=1)
        self.norm_min_, self.norm_max_ = float(norms.min()), float(norms.max())
        return self

    def radii(self, norms: np.ndarray) -> np.ndarray:
        """The shell radius each centred norm is mapped to."""
        if self.reading == "clip":
            return np.clip(norms, self.r_min, self.r_max)
        span = self.norm_max_ - self.norm_min_
        t = (norms - self.norm_min_) / span if span > 0 else np.zeros_like(norms)
        return self.r_min + np.clip(t, 0.0, 1.0) * (self.r_max - self.r_min)

    def transform(self, x) -> np.ndarray:
        if not hasattr(self, "mean_"):
            raise RuntimeError("ShellTransform is not fitted yet; call fit(x) first")
        x = _as_float64(x)
        if x.shape[1] != self.mean_.shape[0]:
            raise ValueError(f"x has {x.shape[1]} features, the transform was fitted on {self.mean_.shape[0]}")
        centred = x - self.mean_
        norms = np.linalg.norm(centred, axis=1)
        direction = np.zeros_like(centred)
        direction[:, 0] = 1.0
        nonzero = norms > 0
        direction[nonzero] = centred[nonzero] / norms[nonzero, None]
        return (direction * self.radii(norms)[:, None]).astype(np.float32)

    def fit_transform(self, x) -> np.ndarray:
        return self.fit(x).transform(x)

    def __repr__(self) -> str:
        return f"ShellTransform(r_min={self.r_min!r}, r_max={self.r_max!r}, reading={self.reading!r})"


# ---- v4 §3.3: the training objective ---------------------------------------------------------------------


def cluster_aware_loss(x_hat: torch.Tensor, own_centres: torch.Tensor) -> torch.Tensor:
    """||x_hat_i - mu_{c(x_i)}||^2 per sample (v4 eq. 7); ``own_centres`` holds each input's own centre, row by row."""
    if x_hat.shape != own_centres.shape:
        raise ValueError(f"x_hat {tuple(x_hat.shape)} and own_centres {tuple(own_centres.shape)} must have the same shape")
    return (x_hat - own_centres).pow(2).sum(dim=-1)


def interval_penalty(value: torch.Tensor, low: float, high: float, form: str = "squared") -> torch.Tensor:
    """How far ``value`` lies outside [low, high], elementwise: 0 inside; the distance, squared for ``"squared"``.

    For an empty interval (low > high) no value is free of penalty; the least is at the midpoint.
    """
    check_choice("penalty_form", form, PENALTY_FORMS)
    outside = torch.relu(low - value) + torch.relu(value - high)
    return outside.pow(2) if form == "squared" else outside


def boundary_penalty(cluster_loss: torch.Tensor, wcss: float, l_collapse: float, reading: str = "per_sample",
                     form: str = "squared") -> torch.Tensor:
    """v4 eq. 8: the penalty on the cluster-aware loss leaving [WCSS, L_collapse].

    ``cluster_loss`` is :func:`cluster_aware_loss` of a batch (one value per sample);
    ``"per_sample"`` averages each sample's penalty, ``"per_batch"`` penalises the batch mean.
    """
    check_choice("boundary_reading", reading, BOUNDARY_READINGS)
    if reading == "per_batch":
        return interval_penalty(cluster_loss.mean(), wcss, l_collapse, form)
    return interval_penalty(cluster_loss, wcss, l_collapse, form).mean()


def norm_penalty(x_hat: torch.Tensor, r_min: float, r_max: float, form: str = "squared") -> torch.Tensor:
    """v4 eq. 9: the mean penalty on decoder outputs whose norm leaves the shell [r_min, r_max]."""
    return interval_penalty(torch.linalg.vector_norm(x_hat, dim=-1), r_min, r_max, form).mean()

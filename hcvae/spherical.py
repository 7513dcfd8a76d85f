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
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .data import check_data
from .validation import check_choice

SHELL_READINGS = ("minmax", "clip")


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

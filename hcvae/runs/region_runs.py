"""Chapter 03's measurements as stored runs: one K-means clustering of shell-transformed data and v4's feasible
region [WCSS, L_collapse] at it (v4 §3.2–3.4).

:class:`RegionConfig` is one (data set, shell transform, K) point of the chapter's curves. Its run fits K-means
(:func:`hcvae.methods.clustering.fit_kmeans`) and keeps TSS, WCSS, L_collapse and the eq. 6 identity error; with
``probes=True`` also Theorem 3.4's anchor points, the shrunk reconstructions and the reconstruction probes. Nothing
is trained; the runs are stored so that the book reads its K-means fits (half a minute at the paper profile's
50,000 synthetic samples) from the shipped reference instead of refitting them on every build.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from hcvae.core.validation import Boolean, Integer, Options, Real
from hcvae.runs.config import StoredConfig, common
from hcvae.core.data import check_data, load_dataset
from hcvae.methods import clustering, feasible
from hcvae.methods.spherical import SHELL_READINGS, ShellTransform

NO_SHELL = "none"  # the data centred only, without a shell transform
SHRINK_ALPHAS = (0.3, 0.8)  # part way to collapse: x_hat = a x' + (1 - a) mean scores a^2 WCSS + (1 - a)^2 L_collapse


def _shell_readings() -> tuple:

    return (NO_SHELL, *SHELL_READINGS)


def shell_transformed(raw, shell: str, r_min: float | None = None, r_max: float | None = None):
    """``raw`` centred (``shell="none"``) or through v4's shell transform [r_min, r_max] with reading ``shell``."""

    if shell == NO_SHELL:
        return raw - raw.mean(0)
    return ShellTransform(r_min, r_max, shell).fit_transform(raw)


@dataclass(frozen=True)
class RegionConfig(StoredConfig):
    """K-means with ``k`` clusters on ``dataset`` after the shell transform ``shell`` [r_min, r_max] (``"none"``:
    centred only, with r_min and r_max None), and the feasible region of that clustering."""

    KIND = "region"
    VERSION = 1
    PARAMETER_CONSTRAINTS = {**common("dataset", "n_samples"), "shell": Options(*_shell_readings()),
                             "r_min": Real(0.0, strict=False, none=True), "r_max": Real(0.0, none=True),
                             "k": Integer(1), "seed": Integer(0), "n_init": Integer(1), "probes": Boolean()}

    dataset: str = "synthetic"
    n_samples: int | None = None
    shell: str = "minmax"
    r_min: float | None = 1.0
    r_max: float | None = 2.0
    k: int = 8
    seed: int = 0
    n_init: int = 4
    probes: bool = False

    def __post_init__(self):
        self.validate()
        if self.shell == NO_SHELL and (self.r_min is not None or self.r_max is not None):
            raise ValueError(f"shell {NO_SHELL!r} (centred only) takes no radii: give r_min=None and r_max=None")
        if self.shell != NO_SHELL and (self.r_min is None or self.r_max is None or not self.r_min < self.r_max):
            raise ValueError(f"shell {self.shell!r} needs radii with 0 <= r_min < r_max; got r_min={self.r_min!r}, "
                             f"r_max={self.r_max!r}")
        if self.k > self.data_size:
            raise ValueError(f"k ({self.k}) is larger than the number of samples ({self.data_size}); use k <= "
                             f"{self.data_size}")

    def transformed(self):
        """The data as the clustering sees them."""

        return shell_transformed(load_dataset(self.dataset, self.n_samples, seed=0).x, self.shell, self.r_min,
                                 self.r_max)

    def compute(self, store=None, progress: bool | None = None) -> tuple[dict, None]:

        start = time.perf_counter()
        xs = self.transformed()
        # the region on the float32 rows K-means sees (feasible.region_curve); the anchors and probes on the
        # transform's own output, as the chapter computed them before they were stored
        x32 = check_data(xs)
        km = clustering.fit_kmeans(x32, self.k, seed=self.seed, n_init=self.n_init)
        result = {"dataset": self.dataset, "n": int(xs.shape[0]), "region": clustering.feasible_region(x32, km)}
        if self.probes:
            anchors = feasible.anchor_points(xs, km)
            anchors["shrunk"] = {str(a): clustering.clustering_loss(a * xs + (1 - a) * xs.mean(0), km, "own_centre")
                                 for a in SHRINK_ALPHAS}
            result["anchors"] = anchors
            result["probes"] = feasible.reconstruction_probes(xs, km, seed=self.seed)
        result["wall_time_s"] = time.perf_counter() - start
        return result, None

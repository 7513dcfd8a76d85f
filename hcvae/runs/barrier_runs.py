"""Chapter 02's measurements as stored runs: R₀ EM clusterings of one data set and what v1 §4.3 says of them.

:class:`BarrierConfig` is one (data set, K, R₀, EM start) setting. Its run fits the R₀ Gaussian mixtures
(:func:`hcvae.methods.clustering.fit_gmms`, seeds ``first_seed`` ... ``first_seed + R₀ - 1``) and keeps, as
numbers, everything chapter 02 and its ledger rows read: the pairwise distances between the clusterings, δ and
δ_C (v1 Theorem 4.4, Appendix A eq. 14), the collapsed candidates under both readings of ℓ_C, and Lemma 4.3's
nesting check. Nothing is trained; the run is stored so that the book reads its EM fits (about a minute at the
paper profile's 50,000 synthetic samples) from the shipped reference instead of refitting them on every build.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from hcvae.core.validation import Integer, Options
from hcvae.methods.clustering import INIT_PARAMS, READINGS
from hcvae.runs.config import StoredConfig, common
from hcvae.core.data import load_dataset
from hcvae.methods import barrier, clustering
from hcvae.runs.gmm_runs import GMMFitsConfig, clusterings


@dataclass(frozen=True)
class BarrierConfig(StoredConfig):
    """R₀ EM fits of a K-component full-covariance Gaussian mixture on ``dataset`` and v1 §4.3's checks of them."""

    KIND = "barrier"
    VERSION = 1
    PARAMETER_CONSTRAINTS = {**common("dataset", "n_samples"), "n_components": Integer(1), "r0": Integer(2),
                             "init_params": Options(*INIT_PARAMS), "first_seed": Integer(0)}

    dataset: str = "synthetic"
    n_samples: int | None = None
    n_components: int = 8
    r0: int = 16
    init_params: str = "kmeans"
    first_seed: int = 0

    def __post_init__(self):
        self.validate()
        if self.n_components > self.data_size:
            raise ValueError(f"n_components ({self.n_components}) is larger than the number of samples "
                             f"({self.data_size}); use n_components <= {self.data_size}")

    def fits_config(self) -> GMMFitsConfig:
        """The stored EM fits this run measures, shared with the HCT runs of the same data, K and R0."""
        return GMMFitsConfig(dataset=self.dataset, n_samples=self.n_samples, n_components=self.n_components,
                             r0=self.r0, init_params=self.init_params, first_seed=self.first_seed)

    def compute(self, store=None, progress: bool | None = None) -> tuple[dict, None]:

        start = time.perf_counter()
        x = load_dataset(self.dataset, self.n_samples, seed=0).x  # the same rows for every EM start and seed
        fits = clusterings(self.fits_config(), store, progress=False)
        div = clustering.diversity(fits)
        result = {
            "dataset": self.dataset, "n": int(x.shape[0]),
            "fits": {"log_likelihood": [c.log_likelihood for c in fits], "n_iter": [c.n_iter for c in fits],
                     "converged": [c.converged for c in fits]},
            "diversity": {"centre_distance": div["centre_distance"], "ari": div["ari"]},
            "delta": barrier.delta_summary(x, fits),
            "checks": {reading: barrier.delta_bounds_collapse(x, fits, reading) for reading in READINGS},
            "nesting": {reading: barrier.lemma_4_3(x, fits, reading) for reading in READINGS},
        }
        result["wall_time_s"] = time.perf_counter() - start
        return result, None

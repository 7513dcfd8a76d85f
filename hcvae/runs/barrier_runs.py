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

from hcvae.core.validation import Integer
from hcvae.methods.clustering import READINGS
from hcvae.core.data import load_dataset
from hcvae.methods import barrier, clustering
from hcvae.runs.gmm_runs import EMFitsSetting, clusterings


@dataclass(frozen=True)
class BarrierConfig(EMFitsSetting):
    """R₀ EM fits of a K-component full-covariance Gaussian mixture on ``dataset`` and v1 §4.3's checks of them."""

    KIND = "barrier"
    VERSION = 1
    PARAMETER_CONSTRAINTS = {**EMFitsSetting.PARAMETER_CONSTRAINTS, "r0": Integer(2)}  # distances need two fits

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

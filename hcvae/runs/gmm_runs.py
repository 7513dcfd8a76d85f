"""R₀ EM fits of one data set as a stored run, so that every run that needs them reads them instead of refitting.

Historical Consensus Training (v1 Algorithm 1) starts from R₀ Gaussian-mixture clusterings of its data, and so
do chapter 02's checks of v1 §4.3. The fits depend only on the data, K, R₀ and the EM start, not on the training
seed, σ'² or the reading of ℓ_C, so one stored :class:`GMMFitsConfig` serves every HCT run of a data set (20 at the
paper profile's main ratio alone). On MNIST one full-covariance fit of K = 10 takes about three CPU minutes, so
sixteen per HCT run would cost more than the training itself.

The entry keeps what a :class:`hcvae.methods.clustering.Clustering` needs, exactly: the means, weights and hard
labels as arrays beside the result (float64 and int64, so a clustering read back is the one fitted), the
log-likelihoods, iteration counts and convergence flags in the result. The covariances are not kept: nothing
downstream reads them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields

import numpy as np

from hcvae.core.validation import Integer, Options
from hcvae.runs.config import StoredConfig, common
from hcvae.core.data import load_dataset
from hcvae.methods.clustering import Clustering, INIT_PARAMS, fit_gmms
from hcvae.runs.runner import run
from hcvae.runs.store import ResultStore


@dataclass(frozen=True)
class EMFitsSetting(StoredConfig):
    """The setting of R₀ EM fits of a K-component full-covariance mixture (seeds ``first_seed`` ...
    ``first_seed + r0 - 1``): the fields the stored fits and chapter 02's checks of them share."""

    PARAMETER_CONSTRAINTS = {**common("dataset", "n_samples"), "n_components": Integer(1), "r0": Integer(1),
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

    def fits_config(self) -> "GMMFitsConfig":
        """The stored fits of this setting."""
        return GMMFitsConfig(**{f.name: getattr(self, f.name) for f in fields(EMFitsSetting)})


@dataclass(frozen=True)
class GMMFitsConfig(EMFitsSetting):
    """``r0`` EM fits (seeds ``first_seed`` ... ``first_seed + r0 - 1``) of a K-component full-covariance mixture."""

    KIND = "gmm"
    VERSION = 1

    def compute(self, store=None, progress: bool | None = None) -> tuple[dict, None, dict]:

        start = time.perf_counter()
        x = load_dataset(self.dataset, self.n_samples, seed=0).x  # the rows every run of this data set trains on
        # one process: a stored run is one worker's job (the fits do not depend on n_jobs)
        fits = fit_gmms(x, self.n_components, self.r0, init_params=self.init_params, first_seed=self.first_seed,
                        n_jobs=1)
        result = {"dataset": self.dataset, "n": int(x.shape[0]), "seeds": [c.seed for c in fits],
                  "log_likelihood": [c.log_likelihood for c in fits], "n_iter": [c.n_iter for c in fits],
                  "converged": [c.converged for c in fits], "wall_time_s": time.perf_counter() - start}
        arrays = {"means": np.stack([c.means for c in fits]), "weights": np.stack([c.weights for c in fits]),
                  "labels": np.stack([np.asarray(c.labels, dtype=np.int64) for c in fits])}
        return result, None, arrays


def clusterings(config: GMMFitsConfig, store=None, progress: bool | None = None) -> list[Clustering]:
    """The fits of ``config`` as clusterings, read from the store (computed and stored the first time)."""

    store = store if store is not None else ResultStore()
    result = run(config, store=store, progress=progress)
    arrays = store.load_arrays(config)
    info = {"covariance_type": "full", "init_params": config.init_params}
    return [Clustering(means=arrays["means"][i], weights=arrays["weights"][i], labels=arrays["labels"][i],
                       log_likelihood=float(result["log_likelihood"][i]), n_iter=int(result["n_iter"][i]),
                       converged=bool(result["converged"][i]), seed=int(result["seeds"][i]), method="gmm",
                       info=dict(info))
            for i in range(config.r0)]

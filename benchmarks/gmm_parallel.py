"""Speed of hcvae.methods.clustering.fit_gmms: serial against one process per core (printed, never asserted).

R = 16 EM fits of an 8-component full-covariance Gaussian mixture (default
k-means initialisation) on the v1 synthetic data at full size (50,000 x 32),
once with n_jobs=1 and once with n_jobs=None (one joblib process per core, at
most R). Both use one BLAS thread per fit (fit_gmms limits it in the serial
loop, as joblib does in its workers), so the ratio is the gain from running
fits side by side, and the two give the same clusterings (printed).

Run with `make bench`.
"""

from __future__ import annotations

import os
import time

import numpy as np
from sklearn.metrics import adjusted_rand_score

from hcvae.core.data import load_dataset
from hcvae.methods.clustering import fit_gmms

R, K, COVARIANCE = 16, 8, "full"


def timed(x, n_jobs):
    start = time.perf_counter()
    runs = fit_gmms(x, K, R, covariance_type=COVARIANCE, n_jobs=n_jobs)
    return time.perf_counter() - start, runs


def main() -> None:
    x = load_dataset("synthetic").x
    fit_gmms(x[:2000], K, 1, covariance_type=COVARIANCE, n_jobs=1)  # warm-up (imports)
    t_serial, serial = timed(x, 1)
    t_parallel, parallel = timed(x, None)
    max_diff = max(float(np.abs(s.means - p.means).max()) for s, p in zip(serial, parallel))
    min_ari = min(adjusted_rand_score(s.labels, p.labels) for s, p in zip(serial, parallel))
    print(f"synthetic {x.shape[0]:,} x {x.shape[1]}, R = {R} GMMs, K = {K}, {COVARIANCE} covariance, "
          f"os.cpu_count() = {os.cpu_count()}")
    print(f"  serial   (n_jobs=1)    {t_serial:8.2f} s")
    print(f"  parallel (n_jobs=None) {t_parallel:8.2f} s")
    print(f"  speed-up               {t_serial / t_parallel:8.2f}x")
    print(f"  serial vs parallel: max |means difference| {max_diff:.2e}, min ARI of the labels {min_ari:.4f}")


if __name__ == "__main__":
    main()

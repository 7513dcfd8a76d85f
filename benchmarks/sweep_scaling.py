"""The same 8-point sweep on 1 and on 2 local Dask workers: wall time and speed-up (printed, never asserted).

Each point is a VAE run on a 10,000-sample subset of the synthetic data (20
epochs); each sweep writes to its own empty result store, so every point is
computed. On 2 cores the ideal speed-up is 2; cluster start-up and the workers'
imports come out of it.

Run with `make bench`.
"""

from __future__ import annotations

import tempfile
import time

from hcvae.runs.experiments import VAEConfig
from hcvae.runs.store import ResultStore
from hcvae.runs.sweep import run_sweep

CONFIGS = [VAEConfig(dataset="synthetic", n_samples=10_000, epochs=20, batch_size=256, sigma2_ratio=r, seed=s)
           for r in (0.5, 1.0, 2.0, 5.0) for s in (0, 1)]


def main() -> None:
    times = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as root:
            start = time.perf_counter()
            res = run_sweep(CONFIGS, store=ResultStore(root), n_workers=workers, progress=False)
            times[workers] = time.perf_counter() - start
            assert res.ok and res.n_computed == len(CONFIGS)
    print(f"{len(CONFIGS)}-point sweep (VAE, 10,000 x 32, 20 epochs each)")
    for workers, t in times.items():
        print(f"  {workers} worker(s): {t:.1f} s")
    print(f"  speed-up with 2 workers: {times[1] / times[2]:.2f}x")


if __name__ == "__main__":
    main()

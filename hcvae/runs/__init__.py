"""Runs: configs and ``run(config)`` for every kind (the VAE, HCT, the Spherical VAE, the baselines, the diffusion
chapter), the result store with its lock and audit, the profiles and Dask sweeps. Imports core and methods."""

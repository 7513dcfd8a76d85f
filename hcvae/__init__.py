"""hcvae: an executable companion to arXiv 2603.10935.

Posterior collapse as a phase transition (collapse when the decoder variance
sigma'^2 exceeds lambda_max of the data covariance), Historical Consensus Training
(v1) and the Spherical VAE with cluster-aware feasible regions (v4), reproduced.

The package is in five layers, each importing only the ones listed before it
(a test checks it):

* ``hcvae.core``: data sets, the Gaussian VAE with fixed sigma'^2, objectives, metrics, the training loop, theory;
* ``hcvae.methods``: clusterings and the historical barrier, Historical Consensus Training, the shell transform;
* ``hcvae.runs``: configs and ``run(config)`` per kind, the result store, its lock and audit, profiles, sweeps;
* ``hcvae.chapters``: one module per chapter computing what it shows, and the ledger's types;
* ``hcvae.book``: the claims ledger, figures, explorers, chapter parameters, the rerun CLI, the reference.

Command lines: ``python -m hcvae.notebook`` (rerun a chapter), ``hcvae.sweep`` (a grid on Dask),
``hcvae.store`` (audit, lock, migrate), ``hcvae.reference`` (the shipped reference).
"""

__version__ = "0.1.0"

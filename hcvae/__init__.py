"""hcvae: an executable companion to arXiv 2603.10935.

Posterior collapse as a phase transition (collapse when the decoder variance
sigma'^2 exceeds lambda_max of the data covariance), Historical Consensus Training
(v1) and the Spherical VAE with cluster-aware feasible regions (v4), reproduced.

One module per concept: ``data``, ``models``, ``objectives``, ``metrics``,
``train``, ``theory``, ``experiments`` (configs and ``run``), ``profiles``,
``store`` (the content-addressed result store), ``clustering``, ``spherical``
(the v4 shell transform), ``consensus`` (v1 Algorithm 1), the analyses
``phase``, ``barrier`` and ``feasible``, ``plots`` and ``widgets``;
``python -m hcvae.notebook`` reruns a book section.
"""

__version__ = "0.1.0"

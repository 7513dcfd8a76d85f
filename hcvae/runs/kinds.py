"""Every stored kind of result. Importing this module imports each module that defines a stored config, and each
config class registers its ``KIND`` itself (:class:`hcvae.runs.config.StoredConfig`): :data:`KINDS` maps a kind to
its class. The store never imports it; what reads entries of any kind (the audit, the lock, the reference, sweeps)
does.
"""

from hcvae.runs import barrier_runs, baselines, diffusion, experiments, gmm_runs, hct, region_runs, spherical_runs  # noqa: F401
from hcvae.runs.config import KINDS

__all__ = ["KINDS"]

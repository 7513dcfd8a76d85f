"""Historical Consensus Training runs and their controls, through the result store (v1 §5.3-5.4).

:class:`HCTConfig` is one run at a fixed sigma'^2 / lambda_max (2 in the chapter: the
violating condition under which v1 says vanilla VAEs collapse and HCT does not):

* ``method="hct"``: Algorithm 1 (:func:`hcvae.methods.consensus.historical_consensus`) on
  R0 EM clusterings;
* ``method="single"``: the same loss with one clustering from the start (the one
  with the highest EM likelihood) and no consensus, for the same epoch budget;
* ``method="vanilla"``: the negative ELBO alone (beta = 0) for the same budget.

Every method tracks ell_C on all R0 clusterings each epoch and the Euclidean
distance in parameter space to a reference model trained at
``collapsed_ratio * lambda_max`` (v1 Figure 2 right uses 10) from the same
initial weights; that reference is a :class:`hcvae.runs.experiments.VAEConfig` run, so
it is stored and shared. ``runner.run(HCTConfig(...))`` stores the result.

The epoch budget of the controls is HCT's with the refinement cap:
(log2 R0 - 1) * E + max_refine_epochs + E_final.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields

import numpy as np

from hcvae.methods.barrier import delta_summary
from hcvae.methods.clustering import INIT_PARAMS, READINGS, epsilon_excludes_collapse
from hcvae.methods.consensus import (BETA_SCHEDULES, CYCLING, XHATS, HCTSettings, fixed_set_training,
                                     historical_consensus, parameter_distance, reconstruction_landing, selection_sizes)
from hcvae.core import device
from hcvae.core.data import check_dataset, covariance_spectrum, load_dataset, true_clusters
from hcvae.core.metrics import evaluate, information_check
from hcvae.core.models import ARCHITECTURES, DEFAULT_HIDDEN, build_vae, check_hidden
from hcvae.core.train import TrainingDiverged
from hcvae.core.validation import Integer, Options, Real
from hcvae.runs.config import StoredConfig, common
from hcvae.runs import gmm_runs
from hcvae.runs.experiments import VAEConfig
from hcvae.runs.runner import prepare, run
from hcvae.runs.gmm_runs import GMMFitsConfig
from hcvae.runs.profiles import profile_settings
from hcvae.runs.store import ResultStore

METHODS = ("hct", "single", "vanilla")


@dataclass(frozen=True)
class HCTConfig(HCTSettings, StoredConfig):
    """One run of Algorithm 1 or of a control: the data, model and controls here, and every hyper-parameter of
    Algorithm 1 as :class:`hcvae.methods.consensus.HCTSettings` declares it (v1 Appendix B's defaults), which
    :meth:`settings` hands to the method."""

    KIND = "hct"
    # 2: the x_hat reading (``xhat``) and the information check; results gain "landing_sample" and "information"
    VERSION = 2
    # the values that reproduce entries made before these fields existed
    ADDED_FIELDS = {"xhat": "mean", "hidden": (256, 128), "eval_samples": 5000}
    PARAMETER_CONSTRAINTS = {**common("dataset"), "method": Options(*METHODS), "architecture": Options(*ARCHITECTURES),
                             "em_init": Options(*INIT_PARAMS), "reading": Options(*READINGS),
                             "cycling": Options(*CYCLING), "beta_schedule": Options(*BETA_SCHEDULES),
                             "xhat": Options(*XHATS), **common("sigma2_ratio"),
                             "collapsed_ratio": Real(0.0, what=" (sigma2_decoder / lambda_max)", none=True),
                             **common("latent_dim", "seed", "n_samples"),
                             "n_components": Integer(1, none="the data set's own")}

    dataset: str = "synthetic"
    method: str = "hct"
    sigma2_ratio: float = 2.0
    architecture: str = "mlp"
    latent_dim: int = 8
    n_samples: int | None = None
    r0: int = 16
    n_components: int | None = None  # None: the data set's true number (8 synthetic, 10 digits)
    em_init: str = "kmeans"
    beta_schedule: str = "annealed"  # v1 Appendix B: "1.0 -> 4.0 (annealed)" (the method's own default: constant)
    collapsed_ratio: float | None = 10.0
    hidden: tuple[int, ...] = DEFAULT_HIDDEN

    def __post_init__(self):
        self.validate()
        object.__setattr__(self, "hidden", check_hidden(self.hidden, self.architecture))
        if self.n_components is None and true_clusters(self.dataset) is None:
            raise ValueError(f"n_components (K) is needed for {self.dataset}: a user's data set has no known number "
                             "of clusters")
        selection_sizes(self.r0, self.keep_ratio)  # R0 a power of two (for halving), >= 2
        self.settings()  # every HCT hyper-parameter, checked by HCTSettings

    @property
    def k(self) -> int:
        return self.n_components if self.n_components is not None else true_clusters(self.dataset)

    @property
    def budget(self) -> int:
        """The epoch budget of the controls: Stage 1 + the refinement cap + Stage 3."""
        rounds = len(selection_sizes(self.r0, self.keep_ratio)) - 1
        return rounds * self.epochs_per_round + self.max_refine_epochs + self.final_epochs

    def settings(self) -> HCTSettings:
        own = {f.name for f in fields(HCTSettings)}
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name in own}
        if self.method == "vanilla":
            values.update(beta=0.0, beta_final=0.0)
        return HCTSettings(**values)

    def collapsed_reference(self) -> VAEConfig | None:
        """The VAE at ``collapsed_ratio * lambda_max`` from the same initial weights (v1 §5.3)."""
        if self.collapsed_ratio is None:
            return None
        return VAEConfig(dataset=self.dataset, architecture=self.architecture, sigma2_ratio=float(self.collapsed_ratio),
                         latent_dim=self.latent_dim, epochs=self.budget, batch_size=self.batch_size, lr=self.lr,
                         lr_schedule="constant", seed=self.seed, n_samples=self.n_samples, hidden=self.hidden)

    def fits_config(self) -> GMMFitsConfig:
        """The stored R0 EM fits this run starts from: they depend on the data, K, R0 and the EM start only, so one
        stored run serves every HCT run (and every seed) of them."""
        return GMMFitsConfig(dataset=self.dataset, n_samples=self.n_samples, n_components=self.k, r0=self.r0,
                             init_params=self.em_init)

    @classmethod
    def from_profile(cls, profile: str, dataset: str, **overrides) -> "HCTConfig":
        """A config with ``profile``'s HCT settings for ``dataset``, then ``overrides``."""
        check_dataset(dataset)
        return cls(dataset=dataset, **{**profile_settings(profile)["hct"][dataset], **overrides})

    def compute(self, store=None, progress: bool | None = None) -> tuple[dict, dict]:
        """Fit the clusterings, train, evaluate (what :func:`hcvae.runs.runner.run` stores)."""
        return _compute(self, store, progress)


def _stage_metrics(x: np.ndarray, seed: int):
    def at_stage_end(stage, model):
        m = evaluate(model, x, mc_seed=seed)
        return {k: m[k] for k in ("kl", "active_burda", "active_paper", "mse", "neg_elbo", "mutual_information")}
    return at_stage_end


def _compute(config: HCTConfig, store, progress) -> tuple[dict, dict]:
    start = time.perf_counter()
    store = store if store is not None else ResultStore()
    data = load_dataset(config.dataset, config.n_samples, seed=0)
    spectrum = covariance_spectrum(data.x)
    lam_max = float(spectrum[0])
    sigma2 = config.sigma2_ratio * lam_max
    t0 = time.perf_counter()
    clusterings = gmm_runs.clusterings(config.fits_config(), store, progress)
    em_time = time.perf_counter() - t0
    callbacks, reference = [], config.collapsed_reference()
    if reference is not None:
        try:
            ref_result = run(reference, store=store, progress=progress, need_weights=True, on=str(device.current()))
        except TrainingDiverged as err:
            raise TrainingDiverged(f"the collapsed reference run of this HCT run diverged ({reference}): {err}") from None
        ref_model = build_vae(data.dim, config.latent_dim, reference.sigma2_ratio * lam_max, config.architecture,
                              data.meta.get("image_shape"), config.hidden)
        ref_model.load_state_dict(store.load_weights(reference))
        ref_model = ref_model.to(device.current())
        callbacks.append(lambda epoch, m: {"dist_collapsed": parameter_distance(m, ref_model)})
    # the same initial weights as the reference run (seeded here, after the reference, as every VAE-type run is)
    model = prepare(config).model.to(device.current())
    settings = config.settings()
    at_stage_end = _stage_metrics(data.x, config.seed)
    if config.method == "hct":
        record = historical_consensus(model, data.x, clusterings, settings, progress=progress, callbacks=callbacks,
                                      on_stage_end=at_stage_end)
        final = record["final_clustering"]
    else:
        best = int(np.argmax([c.log_likelihood for c in clusterings]))
        active = [best] if config.method == "single" else list(range(len(clusterings)))
        record = fixed_set_training(model, data.x, clusterings, active, config.budget, settings, progress=progress,
                                    callbacks=callbacks, stage=config.method)
        record["stage_end"] = {"final": at_stage_end("final", model)}
        final = best
    metrics = evaluate(model, data.x, mc_seed=config.seed)
    bound = delta_summary(data.x, clusterings)
    eps_t = record["refinement"]["final_full"] if config.method == "hct" else None
    result = {
        "data": {"n": data.n, "dim": data.dim, "lambda_max": lam_max},
        "sigma2_decoder": sigma2,
        "clusterings": {"log_likelihood": [c.log_likelihood for c in clusterings], "n_components": config.k},
        "record": record,
        "metrics": metrics,
        "landing": reconstruction_landing(model, data.x, clusterings[final], "mean"),
        "landing_sample": reconstruction_landing(model, data.x, clusterings[final], "sample", seed=config.seed),
        # the code must carry the label information the sampled reconstructions show (hcvae.core.metrics)
        "information": information_check(model, data.x, clusterings[final].means, clusterings[final].labels,
                                         seed=config.seed),
        "delta": bound["delta"],
        # v1 Theorem 4.4: epsilon_T < delta excludes collapse; epsilon_T is the max ell_C reached at the end of Stage 2
        "epsilon_t": eps_t,
        "epsilon_t_below_delta": None if eps_t is None else epsilon_excludes_collapse(eps_t, bound["delta"]),
        "collapsed_reference": None if reference is None else {
            "sigma2_ratio": reference.sigma2_ratio, "kl": ref_result["metrics"]["kl"],
            "distance_final": parameter_distance(model, ref_model)},
        "em_time_s": em_time,
        "wall_time_s": time.perf_counter() - start,
    }
    return result, model.state_dict()

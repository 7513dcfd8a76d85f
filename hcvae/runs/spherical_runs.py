"""Training the Spherical VAE of v4 (§3.3, §4.1): the config the result store keys, the two-stage
protocol, and the metrics v4 defines beside the book's usual ones.

One run (:class:`SphericalConfig`):

1. the data are centred and mapped onto the shell (v4 eqs. 1-2, :class:`hcvae.methods.spherical.ShellTransform`);
2. K-means on the shell data gives each sample its own centre mu_{c(x)}, and the region
   [WCSS, L_collapse] (v4 eqs. 3-6). An empty region (WCSS >= L_collapse) stops the run
   before any training with :class:`EmptyFeasibleRegion`, which says which K opens it,
   unless ``allow_empty_region=True``;
3. sigma2_decoder = sigma2_ratio * lambda_max of the data named by ``sigma2_reference``
   (``"shell"``, the data the model sees, by default; ``"raw"`` reproduces the mistake of
   quoting the ratio against the untransformed data);
4. training minimises v4 eq. 10, negative ELBO (KL weighted by beta) + lambda_1 * boundary
   + lambda_2 * norm, under the protocol of v4 §4.1:

   * ``protocol="two_stage"``: a first stage (``stage1_fraction`` of the epochs) with the
     KL weight at ``kl_start`` and no penalties ("minimal KL regularization to allow
     latent space exploration"), then a second stage with both penalties;
   * ``protocol="single"``: penalties from the first epoch;
   * ``kl_schedule="linear"``: from the second stage on (the first epoch for ``single``),
     beta rises linearly from ``kl_start`` (v4: 0.1) to 1.0 over ``kl_warmup_fraction``
     of the remaining epochs, then stays at 1, so the run ends on the ELBO itself;
     ``"constant"``: beta = 1 outside the first stage.

   v4's radii, stage length and penalty weights were lost with its formulas: every one
   is a parameter here, with our defaults: shell [1, 2], a first stage of 20% of the
   epochs, beta reaching 1 half-way through the second stage, and lambda_1 = lambda_2 = 100
   (at 10, the norm penalty left most outputs just inside r_min on the synthetic data,
   i.e. it hardly did what v4 says it is for).
   ``xhat`` chooses the reconstruction the three constraint terms see: ``"sample"``, the
   reparameterised decode f(z) of the likelihood term (v4's x_hat; no extra decoder pass), or
   ``"mean"``, the posterior-mean decode f(mu(x)) (HCT's other reading, :mod:`hcvae.methods.consensus`).
   ``method="cluster_pull"`` is the control that separates the region from a plain pull towards the
   centres: no shell transform (the raw data, K-means on them), no norm penalty, and in place of
   eq. 8's interval penalty eq. 7's loss itself, weighted by ``lambda_boundary``, under the same
   schedule;
5. evaluation: every metric of :func:`hcvae.core.metrics.evaluate` (KL, active units, MSE,
   negative ELBO with beta = 1) on the shell data, plus v4 §4.1's feasible-region coverage
   (share of samples whose cluster-aware loss lies in [WCSS, L_collapse]) and norm
   satisfaction (share of outputs with r_min <= ||x_hat|| <= r_max), on the posterior-mean
   reconstruction f(mu(x)).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import numpy as np
import torch

from hcvae.core import device
from hcvae.core.data import check_dataset, covariance_spectrum, load_dataset, true_clusters
from hcvae.core.metrics import evaluate
from hcvae.core.models import ARCHITECTURES, GaussianVAE
from hcvae.core.objectives import gaussian_nll, kl_standard_normal
from hcvae.methods.clustering import Clustering, feasible_region, fit_kmeans
from hcvae.runs.config import StoredConfig, TrainingFields, common
from hcvae.runs.runner import epoch_monitor
from hcvae.runs.profiles import profile_settings
from hcvae.methods.spherical import (BOUNDARY_READINGS, PENALTY_FORMS, SHELL_READINGS, ShellTransform, boundary_penalty,
                        cluster_aware_loss, interval_penalty, norm_penalty)
from hcvae.core.metrics import information_check
from hcvae.core.train import train, validate_training
from hcvae.core.validation import Boolean, Integer, Options, Real
from hcvae.methods.consensus import XHATS

SIGMA2_REFERENCES = ("shell", "raw")
METHODS = ("spherical", "cluster_pull")
PROTOCOLS = ("two_stage", "single")
KL_SCHEDULES = ("linear", "constant")


class EmptyFeasibleRegion(ValueError):
    """WCSS >= L_collapse: Theorem 3.4's condition fails and the region [WCSS, L_collapse] is empty."""

    def __init__(self, message: str, wcss: float, l_collapse: float, k: int, open_k: int | None):
        super().__init__(message)
        self.wcss, self.l_collapse, self.k, self.open_k = wcss, l_collapse, k, open_k


@dataclass(frozen=True)
class SphericalConfig(TrainingFields, StoredConfig):
    """One Spherical-VAE run (v4); ``sigma2_decoder = sigma2_ratio * lambda_max`` of the ``sigma2_reference`` data."""

    KIND = "spherical"
    # 2: ``xhat``, ``method`` and the information check (results gain "information")
    VERSION = 2
    ADDED_FIELDS = {"xhat": "sample", "method": "spherical"}  # the values that reproduce entries made before them
    PARAMETER_CONSTRAINTS = {
        **common("dataset"), "architecture": Options(*ARCHITECTURES), "sigma2_reference": Options(*SIGMA2_REFERENCES),
        "shell_reading": Options(*SHELL_READINGS), "boundary_reading": Options(*BOUNDARY_READINGS),
        "penalty_form": Options(*PENALTY_FORMS), "protocol": Options(*PROTOCOLS), "kl_schedule": Options(*KL_SCHEDULES),
        "xhat": Options(*XHATS), "method": Options(*METHODS), **common("sigma2_ratio"),
        "lambda_boundary": Real(0.0, strict=False, what=" (lambda_1, the boundary-penalty weight)"),
        "lambda_norm": Real(0.0, strict=False, what=" (lambda_2, the norm-penalty weight)"),
        "r_min": Real(0.0, strict=False), "r_max": Real(0.0, strict=False),
        "stage1_fraction": Real(0.0, strict=False, high=1.0, high_strict=True),
        "kl_start": Real(0.0, strict=False, high=1.0, what=" (the first KL weight)"),
        "kl_warmup_fraction": Real(0.0, high=1.0), "allow_empty_region": Boolean(),
        **common("latent_dim"), "kmeans_n_init": Integer(1), **common("seed"), "kmeans_seed": Integer(0),
        **common("n_samples")}

    dataset: str = "synthetic"
    n_samples: int | None = None
    n_clusters: int | None = None  # K of the K-means clustering; None: the true number (8 synthetic, 10 digits)
    sigma2_ratio: float = 2.0
    sigma2_reference: str = "shell"
    shell_reading: str = "minmax"
    r_min: float = 1.0
    r_max: float = 2.0
    lambda_boundary: float = 100.0  # lambda_1 of v4 eq. 10 (its value was lost; see the module docstring)
    lambda_norm: float = 100.0  # lambda_2 of v4 eq. 10
    boundary_reading: str = "per_sample"
    penalty_form: str = "squared"
    protocol: str = "two_stage"
    stage1_fraction: float = 0.2
    kl_schedule: str = "linear"
    kl_start: float = 0.1
    kl_warmup_fraction: float = 0.5
    allow_empty_region: bool = False
    kmeans_seed: int = 0
    kmeans_n_init: int = 4
    xhat: str = "sample"  # the reconstruction the constraint terms see: f(z) or "mean", f(mu(x))
    method: str = "spherical"  # or "cluster_pull", the control without shell and region (module docstring)

    def __post_init__(self):
        self.validate()
        if self.r_min >= self.r_max:
            raise ValueError(f"need r_min < r_max (the shell's inner and outer radius); got r_min={self.r_min!r}, r_max={self.r_max!r}")
        if self.n_clusters is not None and (not isinstance(self.n_clusters, int) or self.n_clusters < 2
                                            or self.n_clusters >= self.data_size):
            raise ValueError(f"n_clusters (K) must be None (the true number) or an integer with 2 <= K < {self.data_size} "
                             f"(the number of samples); got {self.n_clusters!r}")
        validate_training(self.data_size, self.epochs, self.batch_size, self.lr, self.lr_schedule)
        if self.protocol == "two_stage" and self.stage1_epochs >= self.epochs:
            raise ValueError(f"stage1_fraction={self.stage1_fraction!r} leaves no second stage in {self.epochs} epochs; "
                             "lower it or train longer")

    @property
    def k(self) -> int:
        return true_clusters(self.dataset) if self.n_clusters is None else self.n_clusters

    @property
    def stage1_epochs(self) -> int:
        """Epochs of the first stage (none for ``protocol="single"``)."""
        return int(round(self.stage1_fraction * self.epochs)) if self.protocol == "two_stage" else 0

    @property
    def warmup_epochs(self) -> float:
        """Epochs over which beta rises from ``kl_start`` to 1 after the first stage."""
        return self.kl_warmup_fraction * (self.epochs - self.stage1_epochs)

    def compute(self, store=None, progress: bool | None = None) -> tuple[dict, dict]:
        """Train and evaluate this run (what :func:`hcvae.runs.runner.run` stores)."""
        result, state_dict, _ = train_spherical(self, progress)
        return result, state_dict

    @classmethod
    def from_profile(cls, profile: str, dataset: str, **overrides) -> "SphericalConfig":
        """A config with ``profile``'s Spherical-VAE training settings for ``dataset``, then ``overrides``."""
        check_dataset(dataset)
        settings = profile_settings(profile)["spherical"][dataset]
        return cls(dataset=dataset, **{**settings, **overrides})


# ---- the schedule of v4 §4.1 -----------------------------------------------------------------------------


def schedule(config: SphericalConfig, epoch: float) -> dict:
    """KL weight beta and the penalty weights in force at (fractional) ``epoch``.

    First stage of ``two_stage``: beta = kl_start, no penalties. Afterwards: lambda_1 and
    lambda_2 in full, and beta rising linearly from kl_start to 1 over ``warmup_epochs``
    (``kl_schedule="linear"``) or 1 (``"constant"``).
    """
    s1 = config.stage1_epochs
    if epoch < s1:
        return {"beta": config.kl_start, "lambda_boundary": 0.0, "lambda_norm": 0.0, "stage": 1}
    if config.kl_schedule == "linear":
        t = min(1.0, (epoch - s1) / config.warmup_epochs) if config.warmup_epochs > 0 else 1.0
        beta = config.kl_start + (1.0 - config.kl_start) * t
    else:
        beta = 1.0
    return {"beta": beta, "lambda_boundary": config.lambda_boundary, "lambda_norm": config.lambda_norm,
            "stage": 2 if config.protocol == "two_stage" else 1}


# ---- preparation: shell, clustering, region --------------------------------------------------------------


def k_search_max(k: int, n_samples: int, k_max: int | None = None) -> int:
    """The largest K the search for an open region tries from ``k``: ``k_max`` (default 4k), below the sample count
    (K-means needs more samples than clusters)."""
    return min(k_max or 4 * k, n_samples - 1)


def first_open_k(x: np.ndarray, k: int, seed: int = 0, n_init: int = 4, k_max: int | None = None) -> int | None:
    """The smallest K' > k whose K-means clustering of ``x`` has WCSS < L_collapse (None up to
    :func:`k_search_max`)."""
    k_max = k_search_max(k, x.shape[0], k_max)
    for kk in range(k + 1, k_max + 1):
        if feasible_region(x, fit_kmeans(x, kk, seed=seed, n_init=n_init))["nonempty"]:
            return kk
    return None


def check_region(region: dict, x: np.ndarray, config: SphericalConfig) -> None:
    """Raise :class:`EmptyFeasibleRegion` when WCSS >= L_collapse, unless the config allows it explicitly."""
    if region["nonempty"] or config.allow_empty_region:
        return
    open_k = first_open_k(x, config.k, seed=config.kmeans_seed, n_init=config.kmeans_n_init)
    fix = (f"K = {open_k} is the smallest K above {config.k} with WCSS < L_collapse on these data (set n_clusters={open_k})"
           if open_k is not None else
           f"no K up to {k_search_max(config.k, x.shape[0])} gives WCSS < L_collapse on these data")
    raise EmptyFeasibleRegion(
        f"the feasible region [WCSS, L_collapse] is empty for {config.dataset} with K = {config.k} on the "
        f"{config.shell_reading} [{config.r_min:g}, {config.r_max:g}] shell: WCSS = {region['wcss']:.4g} >= "
        f"L_collapse = {region['l_collapse']:.4g}, so Theorem 3.4's condition fails and the collapsed model is not "
        f"excluded. {fix}; or pass allow_empty_region=True to train against the empty region anyway.",
        region["wcss"], region["l_collapse"], config.k, open_k)


@functools.lru_cache(maxsize=8)
def _shell_and_clusters(dataset: str, n_samples: int | None, reading: str, r_min: float, r_max: float, k: int,
                        kmeans_seed: int, kmeans_n_init: int):
    """Shell data (``reading=None``: the raw data), K-means clustering, region and both spectra: shared by every run
    on the same data and K."""
    data = load_dataset(dataset, n_samples, seed=0)  # same subset for every training seed
    xs = data.x.copy() if reading is None else ShellTransform(r_min, r_max, reading).fit_transform(data.x)
    xs.setflags(write=False)
    km = fit_kmeans(xs, k, seed=kmeans_seed, n_init=kmeans_n_init)
    return xs, km, feasible_region(xs, km), covariance_spectrum(data.x), covariance_spectrum(xs)


def prepare(config: SphericalConfig) -> dict:
    """The shell data, their K-means clustering, region and lambda_max values, and sigma2_decoder (no training).

    Raises :class:`EmptyFeasibleRegion` before anything is trained when the region is empty.
    """
    pull = config.method == "cluster_pull"
    xs, km, region, spectrum_raw, spectrum = _shell_and_clusters(
        config.dataset, config.n_samples, None if pull else config.shell_reading, float(config.r_min),
        float(config.r_max), config.k, config.kmeans_seed, config.kmeans_n_init)
    if not pull:  # the control has no region penalty, so an empty region does not stop it
        check_region(region, xs, config)
    lambda_raw, lambda_shell = float(spectrum_raw[0]), float(spectrum[0])
    sigma2 = config.sigma2_ratio * (lambda_shell if config.sigma2_reference == "shell" else lambda_raw)
    return {"x": xs, "clustering": km, "region": dict(region), "spectrum": spectrum,
            "lambda_max_raw": lambda_raw, "lambda_max_shell": lambda_shell, "sigma2_decoder": sigma2}


# ---- the objective and its metrics -----------------------------------------------------------------------


def spherical_loss(model, xb: torch.Tensor, own_centres: torch.Tensor, weights: dict, region: dict,
                   config: SphericalConfig) -> dict:
    """v4 eq. 10 on one batch: nll + beta * KL + lambda_1 * boundary (eq. 8) + lambda_2 * norm (eq. 9).

    The penalties see the reparameterised reconstruction of the likelihood term (``xhat="sample"``) or the
    posterior-mean decode (``"mean"``, decoded in the same call). For ``method="cluster_pull"``, lambda_1
    weighs eq. 7's loss itself and there is no norm penalty.
    """
    mu, logvar = model.encode(xb)
    z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
    if config.xhat == "mean":
        both = model.decode(torch.cat([z, mu]))
        x_hat, x_c = both[: len(xb)], both[len(xb):]
    else:
        x_hat = x_c = model.decode(z)
    nll = gaussian_nll(xb, x_hat, model.sigma2_decoder).mean()
    kl = kl_standard_normal(mu, logvar).sum(dim=-1).mean()
    closs = cluster_aware_loss(x_c, own_centres)  # v4 eq. 7
    if config.method == "cluster_pull":
        boundary, norm = closs.mean(), torch.zeros(())
    else:
        boundary = boundary_penalty(closs, region["wcss"], region["l_collapse"], config.boundary_reading,
                                    config.penalty_form)
        norm = norm_penalty(x_c, config.r_min, config.r_max, config.penalty_form)
    loss = nll + weights["beta"] * kl + weights["lambda_boundary"] * boundary + weights["lambda_norm"] * norm
    return {"loss": loss, "nll": nll, "kl": kl, "neg_elbo": nll + kl, "cluster_loss": closs.mean(),
            "boundary": boundary, "norm_penalty": norm, "beta": torch.tensor(float(weights["beta"]))}


def constraint_metrics(x_hat, own_centres, region: dict, r_min: float, r_max: float, form: str = "squared") -> dict:
    """v4 §4.1's coverage and norm satisfaction of reconstructions ``x_hat`` (rows aligned with ``own_centres``),
    with the cluster-aware loss and both penalties they incur."""
    x_hat, own_centres = torch.as_tensor(x_hat, dtype=torch.float64), torch.as_tensor(own_centres, dtype=torch.float64)
    closs = cluster_aware_loss(x_hat, own_centres)
    norms = torch.linalg.vector_norm(x_hat, dim=-1)
    w, lc = region["wcss"], region["l_collapse"]
    return {
        "coverage": float(((closs >= w) & (closs <= lc)).double().mean()),
        "below_wcss": float((closs < w).double().mean()),
        "above_l_collapse": float((closs > lc).double().mean()),
        "norm_satisfaction": float(((norms >= r_min) & (norms <= r_max)).double().mean()),
        "cluster_loss": float(closs.mean()),
        "cluster_loss_in_region": bool(w <= float(closs.mean()) <= lc),
        "output_norm_mean": float(norms.mean()),
        "boundary_per_sample": float(boundary_penalty(closs, w, lc, "per_sample", form)),
        "boundary_per_batch": float(boundary_penalty(closs, w, lc, "per_batch", form)),
        "norm_penalty": float(interval_penalty(norms, r_min, r_max, form).mean()),
    }


def reference_points(x: np.ndarray, km: Clustering, region: dict, config: SphericalConfig) -> dict:
    """The constraint metrics of the ideal reconstruction (x_hat = x') and of the collapsed one (x_hat = mean of x')."""
    own = km.means[km.labels]
    collapsed = np.tile(x.astype(np.float64).mean(0), (x.shape[0], 1))
    args = (region, config.r_min, config.r_max, config.penalty_form)
    return {"ideal": constraint_metrics(x, own, *args), "collapsed": constraint_metrics(collapsed, own, *args)}


@torch.no_grad()
def _mean_reconstruction(model, x: torch.Tensor) -> torch.Tensor:
    model.eval()
    mu, _ = model.encode(x.to(device.of(model)))
    return model.decode(mu).cpu()


def _constraint_monitor(x_eval: torch.Tensor, own_eval: torch.Tensor, region: dict, config: SphericalConfig):
    """Per-epoch coverage, norm satisfaction and cluster-aware loss on a fixed evaluation subset (v4 Figure 1)."""
    def monitor(epoch, model):
        m = constraint_metrics(_mean_reconstruction(model, x_eval), own_eval, region, config.r_min, config.r_max,
                               config.penalty_form)
        return {f"eval_{k}": m[k] for k in ("coverage", "norm_satisfaction", "cluster_loss", "output_norm_mean")}
    return monitor


def build_model(config: SphericalConfig, input_dim: int, sigma2_decoder: float) -> GaussianVAE:
    """The VAE a Spherical-VAE run trains; a ValueError names an architecture it cannot build (before any data is
    loaded, so a chapter can ask without running anything)."""
    return GaussianVAE(input_dim, config.latent_dim, sigma2_decoder, config.architecture)


def train_spherical(config: SphericalConfig, progress: bool | None = None) -> tuple[dict, dict, GaussianVAE]:
    """Train and evaluate ``config`` (no store): the result dict, the model's state dict and the model."""
    start = time.perf_counter()
    prep = prepare(config)  # raises EmptyFeasibleRegion before any training
    xs, km, region = np.array(prep["x"]), prep["clustering"], prep["region"]  # a writable copy of the cached data
    torch.manual_seed(config.seed)
    on = device.current()
    model = build_model(config, xs.shape[1], prep["sigma2_decoder"]).to(on)
    x_t = torch.from_numpy(xs)
    own_cpu = torch.as_tensor(km.means[km.labels], dtype=torch.float32)  # each sample's own centre (v4 eq. 7)
    own = own_cpu.to(on)
    steps = x_t.shape[0] // config.batch_size

    def loss_fn(m, xb, *, idx, epoch, step):
        return spherical_loss(m, xb, own[idx], schedule(config, epoch + step / steps), region, config)

    eval_idx = torch.as_tensor(np.random.default_rng(0).permutation(x_t.shape[0])[:5000])
    history = train(
        model, x_t, epochs=config.epochs, batch_size=config.batch_size, lr=config.lr, seed=config.seed,
        lr_schedule=config.lr_schedule, progress=progress, loss_fn=loss_fn,
        callbacks=[epoch_monitor(x_t[eval_idx]), _constraint_monitor(x_t[eval_idx], own_cpu[eval_idx], region, config)],
        desc=f"spherical {config.dataset} K={config.k} l1={config.lambda_boundary:g} l2={config.lambda_norm:g} seed={config.seed}",
    )
    constraints = constraint_metrics(_mean_reconstruction(model, x_t), own_cpu, region, config.r_min, config.r_max,
                                     config.penalty_form)
    result = {
        "data": {"n": xs.shape[0], "dim": xs.shape[1], "lambda_max_raw": prep["lambda_max_raw"],
                 "lambda_max_shell": prep["lambda_max_shell"], "lambda_max": prep["lambda_max_shell"],
                 "spectrum": prep["spectrum"]},
        "sigma2_decoder": prep["sigma2_decoder"],
        "sigma2_over_lambda_max_seen": prep["sigma2_decoder"] / prep["lambda_max_shell"],
        "region": {**region, "reference": reference_points(xs, km, region, config)},
        "schedule": {"stage1_epochs": config.stage1_epochs, "warmup_epochs": config.warmup_epochs},
        "metrics": {**evaluate(model, xs, mc_seed=config.seed), **constraints},
        # the code must carry the cluster information its sampled reconstructions show (hcvae.core.metrics)
        "information": information_check(model, xs, km.means, km.labels, seed=config.seed),
        "history": history,
        "wall_time_s": time.perf_counter() - start,
    }
    return result, model.state_dict(), model

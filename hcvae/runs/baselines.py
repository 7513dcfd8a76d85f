"""The baselines of v1 Tables 1 and 2 (§5.1.2), trained as stored runs.

:class:`BaselineConfig` is one run at a fixed sigma'^2 / lambda_max (2 by
default: v1 §5.2's violating condition), with the same data, architecture and
optimiser as every other run of the book. ``method`` is one of

* ``"vanilla"``: the negative ELBO (Kingma & Welling 2013);
* ``"beta_vae"``: reconstruction + beta * KL (Higgins et al. 2017); v1 uses
  beta in {1, 2, 4, 8}; beta = 1 is the vanilla objective;
* ``"kl_annealing"``: reconstruction + w(t) * KL with the weight w rising from
  0 to 1 (v1 cites Huang et al. 2018; the warm-up is Bowman et al. 2016's).
  ``schedule="linear"``: w = min(1, t / warmup_epochs), t the training time in
  epochs, updated every step; ``"cyclical"`` (Fu et al. 2019): the run is cut
  into ``n_cycles`` equal cycles, in each w rises linearly from 0 to 1 over the
  first half and stays at 1 (their R = 0.5);
* ``"em_type"``: alternating encoder-only and decoder-only updates (v1's
  "EM-type VAE", ICASSP 2023, which reads the "aggressive" training of He et
  al. 2019 as an EM algorithm). Each decoder step (M-step, the training loop's
  step, encoder frozen) is preceded by an E-step: encoder-only steps on fresh
  random minibatches until the ELBO stops improving, as He et al.'s inner loop:
  the summed loss of each block of ``encoder_check_every`` steps is compared
  with the previous block's (the first with +infinity, so two blocks run unless
  the cap is lower), and the E-step ends when it is not lower or after
  ``encoder_steps_max`` steps (defaults 15 and 100, He et al.'s). What is
  assumed: the ICASSP paper's own E-step schedule is not reproduced (only its
  abstract is at hand), so this is He et al.'s inner loop used as the E-step;
  He et al. stop the aggressive phase once the mutual information stops
  rising, here ``em_epochs`` fixes how many epochs alternate before joint
  training resumes (None: the whole run, the EM reading). Both steps use one
  Adam optimiser (Adam's state is per parameter, so this equals one optimiser
  per network); the learning-rate schedule advances with decoder steps.

Settings of the other methods are ignored (a vanilla run's ``beta`` is unused).
``hcvae.runs.runner.run(BaselineConfig(...))`` stores the result, which has
the layout of a :class:`hcvae.runs.experiments.VAEConfig` result: the data's
lambda_max and spectrum, sigma2_decoder, every metric of
:func:`hcvae.core.metrics.evaluate`, the per-epoch history (with the evaluation KL
and active units) and the wall time. A vanilla run equals the VAEConfig run with
the same settings and ``lr_schedule``.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass

import torch

from hcvae.core import device
from hcvae.core.data import check_dataset
from hcvae.core.metrics import evaluate
from hcvae.core.models import ARCHITECTURES, DEFAULT_HIDDEN
from hcvae.core.objectives import negative_elbo
from hcvae.core.train import TrainingDiverged, train, validate_training
from hcvae.core.validation import Integer, Options, Real, check_choice
from hcvae.runs.config import StoredConfig, TrainingFields, common
from hcvae.runs.runner import epoch_monitor, prepare
from hcvae.runs.profiles import profile_settings

METHODS = ("vanilla", "beta_vae", "kl_annealing", "em_type")
SCHEDULES = ("linear", "cyclical")
CYCLE_RAMP = 0.5  # fraction of each cycle over which the cyclical weight rises (Fu et al. 2019's R)


@dataclass(frozen=True)
class BaselineConfig(TrainingFields, StoredConfig):
    """One baseline run of v1 §5.1.2 at sigma'^2 = ``sigma2_ratio`` * lambda_max; optimiser as v1 Appendix B."""

    KIND = "baseline"
    VERSION = 1
    PARAMETER_CONSTRAINTS = {
        **common("dataset"), "method": Options(*METHODS), "architecture": Options(*ARCHITECTURES),
        "schedule": Options(*SCHEDULES), **common("sigma2_ratio"), "beta": Real(0.0, strict=False),
        **common("latent_dim", "seed"), "warmup_epochs": Integer(0), "n_cycles": Integer(1),
        "encoder_steps_max": Integer(1), "encoder_check_every": Integer(1),
        "em_epochs": Integer(0, none="all epochs"), **common("n_samples")}

    dataset: str = "synthetic"
    method: str = "vanilla"
    sigma2_ratio: float = 2.0
    n_samples: int | None = None
    beta: float = 1.0  # beta_vae: the KL weight
    schedule: str = "linear"  # kl_annealing: "linear" or "cyclical"
    warmup_epochs: int = 10  # kl_annealing, linear: epochs for the KL weight to rise from 0 to 1
    n_cycles: int = 4  # kl_annealing, cyclical
    encoder_steps_max: int = 100  # em_type: cap on encoder-only steps per decoder step (He et al. 2019)
    encoder_check_every: int = 15  # em_type: inner-loop convergence check every this many steps (He et al. 2019)
    em_epochs: int | None = None  # em_type: epochs of alternation before joint training (None: all)
    lr_schedule: str = "constant"  # the baselines keep Adam's rate constant

    def __post_init__(self):
        self.validate()
        validate_training(self.data_size, self.epochs, self.batch_size, self.lr, self.lr_schedule)

    @property
    def label(self) -> str:
        """The method's name as in v1 Table 1."""
        if self.method == "beta_vae":
            return f"β-VAE (β={self.beta:g})"
        if self.method == "kl_annealing":
            return "KL annealing (" + (f"linear, {self.warmup_epochs} warm-up epochs" if self.schedule == "linear"
                                       else f"cyclical, {self.n_cycles} cycles") + ")"
        return {"vanilla": "Vanilla VAE", "em_type": "EM-type VAE"}[self.method]

    @classmethod
    def from_profile(cls, profile: str, dataset: str, method: str = "vanilla", **overrides) -> "BaselineConfig":
        """A config with ``profile``'s baseline settings for ``dataset`` and for ``method`` (if any), then ``overrides``."""
        check_dataset(dataset)
        settings = profile_settings(profile)["baselines"]
        return cls(dataset=dataset, method=method, **{**settings[dataset], **settings.get(method, {}), **overrides})

    def compute(self, store=None, progress: bool | None = None) -> tuple[dict, dict]:
        """Train and evaluate this run (what :func:`hcvae.runs.runner.run` stores)."""
        return _compute(self, progress)


def table_configs(profile: str, dataset: str, seeds=None, **overrides) -> dict[str, list[BaselineConfig]]:
    """The baseline rows of v1 Table 1 for ``dataset``: label -> one config per seed (the profile's seeds by default)."""
    settings = profile_settings(profile)["baselines"]
    seeds = settings["seeds"] if seeds is None else tuple(seeds)
    rows = [dict(method="vanilla")] + [dict(method="beta_vae", beta=float(b)) for b in settings["betas"]]
    rows += [dict(method="kl_annealing"), dict(method="em_type")]
    table: dict[str, list[BaselineConfig]] = {}
    for row in rows:
        configs = [BaselineConfig.from_profile(profile, dataset, seed=int(s), **{**row, **overrides}) for s in seeds]
        table[configs[0].label] = configs
    return table


def kl_weight(schedule: str, t: float, warmup_epochs: int, epochs: int, n_cycles: int) -> float:
    """The KL weight w(t) in [0, 1] at training time ``t`` (in epochs, fractional) of an ``epochs``-epoch run."""
    check_choice("schedule", schedule, SCHEDULES)
    if schedule == "linear":
        return 1.0 if warmup_epochs == 0 else min(1.0, t / warmup_epochs)
    period = epochs / n_cycles
    return min(1.0, (t % period) / period / CYCLE_RAMP)


def split_parameters(model: torch.nn.Module) -> tuple[list, list]:
    """(encoder, decoder) parameters: those named ``encoder*`` (including a linear VAE's log-variance) and the rest."""
    enc = [p for name, p in model.named_parameters() if name.startswith("encoder")]
    dec = [p for name, p in model.named_parameters() if not name.startswith("encoder")]
    if not enc or not dec:
        raise ValueError(f"{type(model).__name__} needs parameters named 'encoder*' and others (the decoder) "
                         "for EM-type training")
    return enc, dec


@contextlib.contextmanager
def frozen(params):
    """Parameters excluded from the graph while inside (no gradient, so Adam leaves them unchanged)."""
    flags = [p.requires_grad for p in params]
    try:
        for p in params:
            p.requires_grad_(False)
        yield
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)


def encoder_only_steps(model, optimizer, draw_batch, loss_fn, max_steps: int, check_every: int) -> int:
    """The E-step: encoder-only optimiser steps on ``draw_batch()`` minibatches until the loss stops improving.

    He et al. (2019)'s inner loop: the summed loss of each block of ``check_every``
    steps is compared with the previous block's; stop when it is not lower, or
    after ``max_steps``. Returns the number of steps taken.
    """
    _, decoder = split_parameters(model)
    previous, block, steps = math.inf, 0.0, 0
    with frozen(decoder):
        while steps < max_steps:
            loss = loss_fn(model, draw_batch())["loss"]
            value = float(loss.detach())
            if not math.isfinite(value):
                raise TrainingDiverged(f"non-finite loss {value} at encoder-only step {steps}; lower lr")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            steps += 1
            block += value
            if steps % check_every == 0:
                if block >= previous:
                    break
                previous, block = block, 0.0
    return steps


def decoder_only_loss(model, xb, loss_fn) -> dict:
    """The M-step's loss terms with the encoder frozen: backpropagating them moves the decoder only."""
    encoder, _ = split_parameters(model)
    with frozen(encoder):
        return loss_fn(model, xb)


def _loss_fn(config: BaselineConfig, x: torch.Tensor, steps_per_epoch: int, optimizer):
    estimator = "analytic" if config.architecture == "linear" else "sample"

    def elbo(m, xb, beta=1.0):
        return negative_elbo(m, xb, beta=beta, recon_estimator=estimator)

    if config.method in ("vanilla", "beta_vae"):
        beta = config.beta if config.method == "beta_vae" else 1.0
        return lambda m, xb, **_: elbo(m, xb, beta)
    if config.method == "kl_annealing":
        def annealed(m, xb, *, epoch, step, **_):
            w = kl_weight(config.schedule, epoch + step / steps_per_epoch, config.warmup_epochs, config.epochs,
                          config.n_cycles)
            return {**elbo(m, xb, w), "kl_weight": torch.tensor(w)}
        return annealed
    gen = torch.Generator().manual_seed(config.seed + 1)  # the E-step's minibatches

    def draw():
        return x[torch.randint(x.shape[0], (config.batch_size,), generator=gen)]

    def em_type(m, xb, *, epoch, **_):
        if config.em_epochs is not None and epoch >= config.em_epochs:
            return {**elbo(m, xb), "encoder_steps": torch.tensor(0.0)}
        n = encoder_only_steps(m, optimizer, draw, elbo, config.encoder_steps_max, config.encoder_check_every)
        return {**decoder_only_loss(m, xb, elbo), "encoder_steps": torch.tensor(float(n))}
    return em_type


def _compute(config: BaselineConfig, progress) -> tuple[dict, dict]:
    start = time.perf_counter()
    setup = prepare(config, hidden=DEFAULT_HIDDEN)  # the same data and initial weights as a VAEConfig run
    data, spectrum, lam_max, sigma2 = setup.data, setup.spectrum, setup.lambda_max, setup.sigma2_decoder
    model = setup.model.to(device.current())  # initialised on the CPU: the same weights on every device
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    x = torch.as_tensor(data.x).to(device.current())
    x_eval = torch.as_tensor(setup.x_eval).to(device.current())
    history = train(
        model, data.x, epochs=config.epochs, batch_size=config.batch_size, lr=config.lr, seed=config.seed,
        lr_schedule=config.lr_schedule, optimizer=optimizer, progress=progress,
        loss_fn=_loss_fn(config, x, data.n // config.batch_size, optimizer),
        callbacks=[epoch_monitor(x_eval)],
        desc=f"{config.dataset}/{config.architecture} {config.label} seed={config.seed}",
    )
    result = {
        "method": config.label,
        "data": {"n": data.n, "dim": data.dim, "lambda_max": lam_max, "spectrum": spectrum},
        "sigma2_decoder": sigma2,
        "metrics": evaluate(model, data.x, mc_seed=config.seed),
        "history": history,
        "wall_time_s": time.perf_counter() - start,
    }
    return result, model.state_dict()

"""The Gaussian VAE's stored runs: :class:`VAEConfig`, trained alone or in stacks; ``run(config)`` is
:func:`hcvae.runs.runner.run`, the ``quick`` and ``paper`` profiles are in :mod:`hcvae.runs.profiles`.

A config is a frozen dataclass validated at construction, so a bad value fails
before any data are loaded or any model is trained.

What the profiles choose here:

* ``quick``: small enough that every notebook runs in the test suite (a 5,000-sample
  subset of the synthetic data, short training, one seed);
* ``paper``: the reproduction at the paper's scale (50,000 synthetic samples,
  batch 512 and learning rate 3e-3 as v1 Appendix B, several seeds).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields

import torch

from hcvae.core import device
from hcvae.core.data import BUILTIN_DATASETS, check_dataset
from hcvae.core.metrics import evaluate
from hcvae.core.models import ARCHITECTURES, DEFAULT_HIDDEN, MLP_ARCHITECTURES, check_hidden
from hcvae.core.objectives import RECON_ESTIMATORS, negative_elbo
from hcvae.core.train import train, validate_training
from hcvae.core.validation import Options, check_choice
from hcvae.runs.config import StoredConfig, TrainingFields, common
from hcvae.runs.profiles import PROFILES, profile_settings, resolve_profile  # noqa: F401 (notebooks call experiments.resolve_profile)
from hcvae.runs.runner import epoch_monitor, prepare
from hcvae.core.stacked import train_stacked

TRAINERS = ("single", "stacked")


@dataclass(frozen=True)
class VAEConfig(TrainingFields, StoredConfig):
    """One Gaussian-VAE training run; ``sigma2_decoder = sigma2_ratio * lambda_max`` of the data it sees."""

    KIND = "vae"  # the result store's key: kind, canonical config and VERSION (see hcvae.runs.store)
    VERSION = 1
    # fields added since VERSION 1, at the value that reproduces it
    ADDED_FIELDS = {"hidden": (256, 128), "trainer": "single"}
    PARAMETER_CONSTRAINTS = {**common("dataset"), "architecture": Options(*ARCHITECTURES),
                             "recon_estimator": Options("auto", *RECON_ESTIMATORS),
                             **common("sigma2_ratio", "latent_dim", "seed", "n_samples"),
                             "trainer": Options(*TRAINERS)}

    dataset: str = "synthetic"
    sigma2_ratio: float = 1.0
    n_samples: int | None = None
    recon_estimator: str = "auto"  # "auto": exact expectation for a linear decoder, one sample otherwise
    hidden: tuple[int, ...] = DEFAULT_HIDDEN  # the MLP encoder's layer widths; the decoder mirrors them
    # "single": hcvae.core.train's loop; "stacked": hcvae.core.stacked's batched loop, which trains several configs
    # of one shape together (run_all and the sweeps group them) and gives each the numbers it gives it alone
    trainer: str = "single"

    def __post_init__(self):
        self.validate()
        object.__setattr__(self, "hidden", check_hidden(self.hidden, self.architecture))
        if self.recon_estimator == "analytic" and self.architecture != "linear":
            raise ValueError("recon_estimator='analytic' needs architecture='linear'; use 'auto' or 'sample'")
        if self.trainer == "stacked" and self.architecture not in MLP_ARCHITECTURES:
            raise ValueError(f"trainer='stacked' trains the {' and '.join(MLP_ARCHITECTURES)} VAEs only; use "
                             f"trainer='single' for architecture={self.architecture!r}")
        validate_training(self.data_size, self.epochs, self.batch_size, self.lr, self.lr_schedule)

    @property
    def estimator(self) -> str:
        if self.recon_estimator != "auto":
            return self.recon_estimator
        return "analytic" if self.architecture == "linear" else "sample"

    def compute(self, store=None, progress: bool | None = None) -> tuple[dict, dict]:
        """Train and evaluate this run (what :func:`hcvae.runs.runner.run` stores)."""
        result, state_dict, _ = train_vae(self, progress)
        return result, state_dict

    def stack_key(self) -> tuple | None:
        """What configs must share to train in one stack (all but the seed and sigma'^2 / lambda_max); None unless
        ``trainer='stacked'``."""
        if self.trainer != "stacked":
            return None
        return tuple(sorted((f.name, getattr(self, f.name)) for f in fields(self) if f.name not in ("seed", "sigma2_ratio")))

    @classmethod
    def compute_stack(cls, configs, progress: bool | None = None) -> list:
        """Train configs of one stack together (:func:`train_stack`)."""
        return train_stack(configs, progress)

    @classmethod
    def from_profile(cls, profile: str, dataset: str, architecture: str = "mlp", **overrides) -> "VAEConfig":
        """A config with ``profile``'s training settings for (``dataset``, ``architecture``), then ``overrides``."""
        check_dataset(dataset)
        check_choice("architecture", architecture, ARCHITECTURES)
        settings = profile_settings(profile)[(dataset, architecture)]
        return cls(dataset=dataset, architecture=architecture, **{**settings, **overrides})


def train_vae(config: VAEConfig, progress: bool | None = None) -> tuple[dict, dict, torch.nn.Module]:
    """Train and evaluate ``config`` (no store): the result dict, the model's state dict and the model."""
    if config.trainer == "stacked":
        return train_stack([config], progress)[0]
    start = time.perf_counter()
    setup = prepare(config)
    model = setup.model.to(device.current())  # initialised on the CPU: the same weights on every device
    history = train(
        model, setup.data.x, epochs=config.epochs, batch_size=config.batch_size, lr=config.lr, seed=config.seed,
        lr_schedule=config.lr_schedule, progress=progress,
        loss_fn=lambda m, xb, **_: negative_elbo(m, xb, recon_estimator=config.estimator),
        callbacks=[epoch_monitor(setup.x_eval)],
        desc=f"{config.dataset}/{config.architecture} r={config.sigma2_ratio:g} seed={config.seed}",
    )
    return _vae_result(config, setup, model, history, start), model.state_dict(), model


def _vae_result(config, setup, model, history, start) -> dict:
    data = setup.data
    return {
        "data": {"n": data.n, "dim": data.dim, "lambda_max": setup.lambda_max, "spectrum": setup.spectrum},
        "sigma2_decoder": setup.sigma2_decoder,
        "metrics": evaluate(model, data.x, mc_seed=config.seed),
        "history": history,
        "wall_time_s": time.perf_counter() - start,
    }


def train_stack(configs, progress: bool | None = None) -> list[tuple[dict, dict, torch.nn.Module]]:
    """Train ``trainer='stacked'`` configs of one stack (:meth:`VAEConfig.stack_key`) together (no store): per
    config, what :func:`train_vae` returns. Each config's numbers are those it gets trained alone."""

    configs = list(configs)
    keys = {c.stack_key() for c in configs}
    if None in keys:
        raise ValueError("only VAEConfigs with trainer='stacked' train in a stack")
    if len(keys) != 1:
        raise ValueError("configs of one stack must differ only in seed and sigma2_ratio (same data set, "
                         "architecture, sizes and training settings); group them with stack_groups()")
    start = time.perf_counter()
    setups = [prepare(configs[0])]  # as train_vae: the same data, and each config's initial weights
    setups += [prepare(c, like=setups[0]) for c in configs[1:]]
    c0, x_eval = configs[0], setups[0].x_eval
    histories = train_stacked([s.model for s in setups], setups[0].data.x, epochs=c0.epochs, batch_size=c0.batch_size,
                              lr=c0.lr, seeds=[c.seed for c in configs], lr_schedule=c0.lr_schedule,
                              recon_estimator=c0.estimator, callbacks=[[epoch_monitor(x_eval)] for _ in configs],
                              progress=progress, desc=f"{c0.dataset}/{c0.architecture}, {len(configs)} stacked")
    share = (time.perf_counter() - start) / len(configs)  # each config's share of the stack's wall time
    return [(_vae_result(c, setup, setup.model, history, time.perf_counter() - share), setup.model.state_dict(),
             setup.model) for c, setup, history in zip(configs, setups, histories)]


def phase_sweep_configs(profile: str, datasets=BUILTIN_DATASETS, architectures=MLP_ARCHITECTURES, ratios=None, seeds=None) -> list[VAEConfig]:
    """The configs of the phase-transition sweep (v1 §3.2): data set x architecture x ratio x seed."""
    settings = profile_settings(profile)
    ratios = settings["ratios"] if ratios is None else tuple(ratios)
    seeds = settings["seeds"] if seeds is None else tuple(seeds)
    return [
        VAEConfig.from_profile(profile, ds, architecture=arch, sigma2_ratio=float(r), seed=int(s))
        for ds in datasets for arch in architectures for r in ratios for s in seeds
    ]



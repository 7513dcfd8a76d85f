"""Experiment configs and ``run(config)``; the ``quick`` and ``paper`` profiles are in :mod:`hcvae.runs.profiles`.

A config is a frozen dataclass validated at construction, so a bad value fails
before any data are loaded or any model is trained. ``run`` returns the stored
result when the result store has it (see :mod:`hcvae.runs.store`) and otherwise
trains, evaluates, stores and returns it.

What the profiles choose here:

* ``quick``: small enough that every notebook runs in the test suite (a 5,000-sample
  subset of the synthetic data, short training, one seed);
* ``paper``: the reproduction at the paper's scale (50,000 synthetic samples,
  batch 512 and learning rate 3e-3 as v1 Appendix B, several seeds).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, fields

import numpy as np
import torch

from hcvae.core import device
from hcvae.core.data import BUILTIN_DATASETS, DATASETS, covariance_spectrum, load_dataset
from hcvae.core.metrics import active_units, encode, evaluate
from hcvae.core.models import ARCHITECTURES, DEFAULT_HIDDEN, MLP_ARCHITECTURES, build_vae, check_hidden
from hcvae.core.objectives import RECON_ESTIMATORS, kl_standard_normal, negative_elbo
from hcvae.core.train import train, validate_training
from hcvae.core.validation import Options, check_choice
from hcvae.runs.config import StoredConfig, TrainingFields, common
from hcvae.runs.profiles import PROFILES, profile_settings, resolve_profile  # noqa: F401 (notebooks call experiments.resolve_profile)
from hcvae.runs.store import ResultStore

TRAINERS = ("single", "stacked")
STACK_LIMIT = 64  # models per stack: beyond this the batched products stop paying for the memory


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
        """Train and evaluate this run (what :func:`run` stores)."""
        result, state_dict, _ = train_vae(self, progress)
        return result, state_dict

    @classmethod
    def from_profile(cls, profile: str, dataset: str, architecture: str = "mlp", **overrides) -> "VAEConfig":
        """A config with ``profile``'s training settings for (``dataset``, ``architecture``), then ``overrides``."""
        check_choice("dataset", dataset, DATASETS)
        check_choice("architecture", architecture, ARCHITECTURES)
        settings = profile_settings(profile)[(dataset, architecture)]
        return cls(dataset=dataset, architecture=architecture, **{**settings, **overrides})


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        return float(obj)
    if isinstance(obj, (np.integer, int)) and not isinstance(obj, bool):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def epoch_monitor(x_eval: torch.Tensor):
    """Per-epoch KL and active units on a fixed evaluation subset."""
    def monitor(epoch, model):
        mu, logvar = encode(model, x_eval)
        kl = kl_standard_normal(torch.as_tensor(mu), torch.as_tensor(logvar)).sum(-1).mean()
        units = active_units(mu, logvar)
        return {"eval_kl": float(kl), "active_burda": units["active_burda"], "active_paper": units["active_paper"]}
    return monitor


def train_vae(config: VAEConfig, progress: bool | None = None) -> tuple[dict, dict, torch.nn.Module]:
    """Train and evaluate ``config`` (no store): the result dict, the model's state dict and the model."""
    if config.trainer == "stacked":
        return train_stack([config], progress)[0]
    start = time.perf_counter()
    data = load_dataset(config.dataset, config.n_samples, seed=0)  # same subset for every training seed
    spectrum = covariance_spectrum(data.x)
    lam_max = float(spectrum[0])
    sigma2 = config.sigma2_ratio * lam_max
    torch.manual_seed(config.seed)
    model = build_vae(data.dim, config.latent_dim, sigma2, config.architecture, data.meta.get("image_shape"),
                      config.hidden).to(device.current())  # initialised on the CPU: the same weights on every device
    x_eval = torch.as_tensor(data.x[np.random.default_rng(0).permutation(data.n)[:5000]])
    history = train(
        model, data.x, epochs=config.epochs, batch_size=config.batch_size, lr=config.lr, seed=config.seed,
        lr_schedule=config.lr_schedule, progress=progress,
        loss_fn=lambda m, xb, **_: negative_elbo(m, xb, recon_estimator=config.estimator),
        callbacks=[epoch_monitor(x_eval)],
        desc=f"{config.dataset}/{config.architecture} r={config.sigma2_ratio:g} seed={config.seed}",
    )
    return _vae_result(config, data, spectrum, sigma2, model, history, start), model.state_dict(), model


def _vae_result(config, data, spectrum, sigma2, model, history, start) -> dict:
    return {
        "data": {"n": data.n, "dim": data.dim, "lambda_max": float(spectrum[0]), "spectrum": spectrum},
        "sigma2_decoder": sigma2,
        "metrics": evaluate(model, data.x, mc_seed=config.seed),
        "history": history,
        "wall_time_s": time.perf_counter() - start,
    }


def stack_signature(config) -> tuple | None:
    """What configs must share to train in one stack (all but the seed and sigma'^2 / lambda_max); None for a
    config that does not stack."""
    if not isinstance(config, VAEConfig) or config.trainer != "stacked":
        return None
    shared = {f.name: getattr(config, f.name) for f in fields(config) if f.name not in ("seed", "sigma2_ratio")}
    return tuple(sorted(shared.items()))


def stack_groups(configs) -> list[list]:
    """``configs`` that stack, grouped by :func:`stack_signature` (at most :data:`STACK_LIMIT` per group)."""
    groups: dict = {}
    for c in configs:
        sig = stack_signature(c)
        if sig is not None:
            groups.setdefault(sig, []).append(c)
    return [g[i:i + STACK_LIMIT] for g in groups.values() for i in range(0, len(g), STACK_LIMIT)]


def train_stack(configs, progress: bool | None = None) -> list[tuple[dict, dict, torch.nn.Module]]:
    """Train ``trainer='stacked'`` configs of one :func:`stack_signature` together (no store): per config, what
    :func:`train_vae` returns. Each config's numbers are those it gets trained alone."""
    from hcvae.core.stacked import train_stacked

    configs = list(configs)
    sigs = {stack_signature(c) for c in configs}
    if None in sigs:
        raise ValueError("only VAEConfigs with trainer='stacked' train in a stack")
    if len(sigs) != 1:
        raise ValueError("configs of one stack must differ only in seed and sigma2_ratio (same data set, "
                         "architecture, sizes and training settings); group them with stack_groups()")
    start = time.perf_counter()
    c0 = configs[0]
    data = load_dataset(c0.dataset, c0.n_samples, seed=0)
    spectrum = covariance_spectrum(data.x)
    models, sigmas = [], []
    for c in configs:
        sigma2 = c.sigma2_ratio * float(spectrum[0])
        torch.manual_seed(c.seed)  # as train_vae: the same initial weights
        models.append(build_vae(data.dim, c.latent_dim, sigma2, c.architecture, data.meta.get("image_shape"), c.hidden))
        sigmas.append(sigma2)
    x_eval = torch.as_tensor(data.x[np.random.default_rng(0).permutation(data.n)[:5000]])
    histories = train_stacked(models, data.x, epochs=c0.epochs, batch_size=c0.batch_size, lr=c0.lr,
                              seeds=[c.seed for c in configs], lr_schedule=c0.lr_schedule,
                              recon_estimator=c0.estimator, callbacks=[[epoch_monitor(x_eval)] for _ in configs],
                              progress=progress, desc=f"{c0.dataset}/{c0.architecture}, {len(configs)} stacked")
    share = (time.perf_counter() - start) / len(configs)  # each config's share of the stack's wall time
    out = []
    for c, model, sigma2, history in zip(configs, models, sigmas, histories):
        result = _vae_result(c, data, spectrum, sigma2, model, history, time.perf_counter() - share)
        out.append((result, model.state_dict(), model))
    return out


class MissingRun(LookupError):
    """A run that would have to be computed where computing is switched off ($HCVAE_NO_COMPUTE)."""


_DEPTH = [0]  # runs started inside another run's compute (HCT's collapsed reference) are logged as nested


def compute_entry(config, store=None, progress: bool | None = None, on: str | None = None
                  ) -> tuple[dict, dict | None, dict | None]:
    """Compute ``config`` on one thread (so the numbers do not depend on the machine's core count or on whether a
    Dask worker or this process computes it) and on device ``on`` (default ``$HCVAE_DEVICE``, else the CPU):
    ``(JSON-ready result, state dict or None, arrays or None)``; the state dict is on the CPU."""
    from hcvae.core.train import one_thread

    start = time.perf_counter()
    _DEPTH[0] += 1
    try:
        with one_thread(), device.using(device.resolve(on)):
            out = config.compute(store=store, progress=progress)
    finally:
        _DEPTH[0] -= 1
    result, state_dict, arrays = (*out, None) if len(out) == 2 else out
    if state_dict is not None:
        state_dict = {k: v.cpu() if hasattr(v, "cpu") else v for k, v in state_dict.items()}
    result = _jsonable(result)
    result.setdefault("wall_time_s", time.perf_counter() - start)
    return result, state_dict, arrays


def run(config, store: ResultStore | None = None, force: bool = False, progress: bool | None = None,
        need_weights: bool = False, on: str | None = None) -> dict:
    """Compute ``config``'s result, or return it from the store (the local store, then the shipped reference).

    ``config`` is any stored experiment config (a dataclass with ``KIND``, ``VERSION`` and a
    ``compute(store, progress)`` method returning ``(result, state_dict or None[, arrays])``):
    :class:`VAEConfig` here, :class:`hcvae.runs.hct.HCTConfig` for Historical Consensus Training and its controls, and
    so on. For a :class:`VAEConfig` the result holds the config, the data's lambda_max and spectrum,
    sigma2_decoder, every metric of :func:`hcvae.core.metrics.evaluate`, the per-epoch history and the wall time (the
    linear-VAE closed form at the same sigma2_decoder is :func:`hcvae.core.theory.linear_vae_optimum` of the stored
    spectrum). ``need_weights``: recompute locally when the result is served without weights (the reference
    ships none). ``on``: the device to compute on (default ``$HCVAE_DEVICE``, else the CPU; see
    :mod:`hcvae.core.device`). An unwritable store and an unknown or absent device are reported before any work.
    """
    from hcvae.runs.store import log_request, config_key, kind_of

    if not callable(getattr(config, "compute", None)):
        raise TypeError(f"config must be an experiment config with a compute() method (VAEConfig, HCTConfig, ...); "
                        f"got {type(config).__name__}")
    kind_of(config)
    chosen = device.resolve(on)  # an unknown or absent device fails here, before any lookup or training
    store = store if store is not None else ResultStore()
    nested = _DEPTH[0] > 0
    if not force:
        cached, source = store.lookup(config)
        if cached is not None and not (need_weights and not (source == "local" and store.has_weights(config))):
            log_request(config, source, nested)
            return cached
    if os.environ.get("HCVAE_NO_COMPUTE") not in (None, "", "0"):
        raise MissingRun(f"{config_key(config)} is in neither the store ({store.root}) nor the reference "
                         f"({store.reference}), and $HCVAE_NO_COMPUTE forbids computing it: {config}")
    store.check_writable()
    with store.computing(config) as done_meanwhile:
        if done_meanwhile is not None and not (need_weights and not store.has_weights(config)):
            log_request(config, "local", nested)
            return done_meanwhile
        start = time.perf_counter()
        result, state_dict, arrays = compute_entry(config, store=store, progress=progress, on=str(chosen))
        from hcvae.runs.store import provenance

        used = "cpu" if getattr(config, "KIND", "") == "diffusion" else str(chosen)  # the denoisers stay on the CPU
        saved = store.save(config, result, state_dict=state_dict, arrays=arrays,
                           provenance_=provenance(config, time.perf_counter() - start, threads=1, device=used))
    log_request(config, "computed", nested)
    return saved


def run_stack(configs, store: ResultStore | None = None, progress: bool | None = None, on: str | None = None
              ) -> list[dict]:
    """:func:`run` for configs of one stack (:func:`stack_groups`): stored ones are read, the others trained together
    and stored one entry each, with the same numbers each gets from :func:`run` alone. Stacked training computes on
    the CPU (``on`` is checked, and the provenance says where it ran)."""
    import contextlib

    from hcvae.core.train import one_thread
    from hcvae.runs.store import config_key, log_request, provenance

    configs = list(configs)
    device.resolve(on)  # an unknown or absent device fails here, before any work
    if stack_groups(dict.fromkeys(configs)) != [list(dict.fromkeys(configs))]:
        raise ValueError("run_stack takes configs of one stack (trainer='stacked', differing only in seed and "
                         "sigma2_ratio, at most STACK_LIMIT of them); group them with stack_groups()")
    store = store if store is not None else ResultStore()
    results, todo = {}, []
    for c in dict.fromkeys(configs):
        cached, source = store.lookup(c)
        if cached is not None:
            log_request(c, source, False)
            results[c] = cached
        else:
            todo.append(c)
    if todo:
        if os.environ.get("HCVAE_NO_COMPUTE") not in (None, "", "0"):
            raise MissingRun(f"{len(todo)} stacked run(s), the first {config_key(todo[0])}, are in neither the store "
                             f"({store.root}) nor the reference ({store.reference}), and $HCVAE_NO_COMPUTE forbids "
                             "computing them")
        store.check_writable()
        with contextlib.ExitStack() as held:
            mine = []
            for c in sorted(todo, key=config_key):  # one lock order for every process: no two wait on each other
                done = held.enter_context(store.computing(c))
                if done is not None:
                    log_request(c, "local", False)
                    results[c] = done
                else:
                    mine.append(c)
            if mine:
                with one_thread():
                    trained = train_stack(mine, progress)
                for c, (result, state_dict, _) in zip(mine, trained):
                    result = _jsonable(result)
                    results[c] = store.save(c, result, state_dict=state_dict, provenance_=provenance(
                        c, result["wall_time_s"], threads=1, device="cpu") | {"stacked_with": len(mine)})
                    log_request(c, "computed", False)
    return [results[c] for c in configs]


def phase_sweep_configs(profile: str, datasets=BUILTIN_DATASETS, architectures=MLP_ARCHITECTURES, ratios=None, seeds=None) -> list[VAEConfig]:
    """The configs of the phase-transition sweep (v1 §3.2): data set x architecture x ratio x seed."""
    settings = profile_settings(profile)
    ratios = settings["ratios"] if ratios is None else tuple(ratios)
    seeds = settings["seeds"] if seeds is None else tuple(seeds)
    return [
        VAEConfig.from_profile(profile, ds, architecture=arch, sigma2_ratio=float(r), seed=int(s))
        for ds in datasets for arch in architectures for r in ratios for s in seeds
    ]


def run_all(configs, store: ResultStore | None = None, progress: bool | None = None) -> list[dict]:
    """Run (or load) each config in turn, with one progress bar over the list."""
    from hcvae.core.train import progress_enabled

    configs = list(configs)
    store = store if store is not None else ResultStore()
    results = []
    if progress_enabled(progress):
        from tqdm.auto import tqdm

        configs_iter = tqdm(configs, desc="runs", unit="run")
    else:
        configs_iter = configs
    stacked = {}
    for group in stack_groups(configs):  # configs that train together do so first; the loop below reads them
        stacked.update(zip(group, run_stack(group, store=store, progress=False)))
    for cfg in configs_iter:
        results.append(stacked[cfg] if cfg in stacked else run(cfg, store=store, progress=False))
    return results

"""The runner: ``run(config)`` for every stored kind, and the training set-up the VAE-type kinds share.

Read top-down:

* :func:`prepare` loads a config's data, its covariance spectrum, σ'² = ratio · λ_max (v1 eq. 4), the model with
  the config's seeded initial weights and the fixed evaluation subset: the set-up of a Gaussian-VAE run, a
  baseline, HCT and a decoder's views (the Spherical VAE prepares its shell data itself);
* :func:`epoch_monitor`, the per-epoch KL and active units on that subset;
* :func:`compute_entry` computes one config on one thread, :func:`run` reads it from the store (the local store,
  then the shipped reference) or computes and stores it, :func:`run_stack` trains configs of one shape together
  (:func:`stack_groups`), :func:`run_all` does a list; :class:`MissingRun` is what they raise where computing is
  switched off (``$HCVAE_NO_COMPUTE``).

A stored config is a dataclass with ``KIND``, ``VERSION`` and ``compute(store, progress)`` returning
``(result, state_dict or None[, arrays])``; one that trains in stacks also has ``stack_key()`` and
``compute_stack(configs, progress)`` (:class:`hcvae.runs.experiments.VAEConfig`).
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass

import numpy as np
import torch

from hcvae.core import device
from hcvae.core.data import Dataset, covariance_spectrum, load_dataset
from hcvae.core.metrics import active_units, encode
from hcvae.core.models import DEFAULT_HIDDEN, build_vae
from hcvae.core.objectives import kl_standard_normal
from hcvae.core.train import one_thread, progress_enabled
from hcvae.runs.store import ResultStore, config_key, kind_of, log_request, provenance

EVAL_SAMPLES = 5000  # the fixed subset every VAE-type run is monitored on, epoch by epoch
STACK_LIMIT = 64  # models per stack: beyond this the batched products stop paying for the memory


# ---- the training set-up -----------------------------------------------------------------------------------------


@dataclass
class Setup:
    """What a VAE-type run starts from (:func:`prepare`)."""

    data: Dataset
    spectrum: np.ndarray  # eigenvalues of the data covariance, largest first
    sigma2_decoder: float  # sigma2_ratio * lambda_max
    model: torch.nn.Module  # on the CPU, with the config's seeded initial weights
    x_eval: np.ndarray  # the evaluation subset (EVAL_SAMPLES rows of a permutation seeded 0)

    @property
    def lambda_max(self) -> float:
        return float(self.spectrum[0])


def prepare(config, hidden=None, like: Setup | None = None) -> Setup:
    """The set-up of ``config``'s run: its data (the same subset for every training seed), spectrum, σ'², model and
    evaluation subset. The model is initialised on the CPU right after ``torch.manual_seed(config.seed)``, so every
    kind with the same seed and architecture starts from the same weights, on every device. ``hidden``: the MLP's
    widths (default: the config's, else the book's); ``like``: a set-up of the same data to share (a stack)."""
    if like is not None:
        data, spectrum = like.data, like.spectrum
    else:
        data = load_dataset(config.dataset, config.n_samples, seed=0)
        spectrum = covariance_spectrum(data.x)
    sigma2 = config.sigma2_ratio * float(spectrum[0])
    torch.manual_seed(config.seed)
    widths = hidden if hidden is not None else getattr(config, "hidden", DEFAULT_HIDDEN)
    model = build_vae(data.dim, config.latent_dim, sigma2, config.architecture, data.meta.get("image_shape"), widths)
    x_eval = data.x[np.random.default_rng(0).permutation(data.n)[:EVAL_SAMPLES]]
    return Setup(data, spectrum, sigma2, model, x_eval)


def epoch_monitor(x_eval):
    """Per-epoch KL and active units on a fixed evaluation subset."""
    x_eval = torch.as_tensor(x_eval)

    def monitor(epoch, model):
        mu, logvar = encode(model, x_eval)
        kl = kl_standard_normal(torch.as_tensor(mu), torch.as_tensor(logvar)).sum(-1).mean()
        units = active_units(mu, logvar)
        return {"eval_kl": float(kl), "active_burda": units["active_burda"], "active_paper": units["active_paper"]}
    return monitor


def jsonable(obj):
    """``obj`` with numpy scalars and arrays as Python numbers and lists (what a stored result holds)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        return float(obj)
    if isinstance(obj, (np.integer, int)) and not isinstance(obj, bool):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


# ---- stacks: configs of one shape trained together ----------------------------------------------------------------


def stack_groups(configs) -> list[list]:
    """``configs`` that train in stacks, grouped by their ``stack_key()`` (at most :data:`STACK_LIMIT` per group)."""
    groups: dict = {}
    for c in configs:
        key = c.stack_key() if callable(getattr(c, "stack_key", None)) else None
        if key is not None:
            groups.setdefault((type(c), key), []).append(c)
    return [g[i:i + STACK_LIMIT] for g in groups.values() for i in range(0, len(g), STACK_LIMIT)]


# ---- running ------------------------------------------------------------------------------------------------------


class MissingRun(LookupError):
    """A run that would have to be computed where computing is switched off ($HCVAE_NO_COMPUTE)."""


_DEPTH = [0]  # runs started inside another run's compute (HCT's collapsed reference) are logged as nested


def compute_entry(config, store=None, progress: bool | None = None, on: str | None = None
                  ) -> tuple[dict, dict | None, dict | None]:
    """Compute ``config`` on one thread (so the numbers do not depend on the machine's core count or on whether a
    Dask worker or this process computes it) and on device ``on`` (default ``$HCVAE_DEVICE``, else the CPU):
    ``(JSON-ready result, state dict or None, arrays or None)``; the state dict is on the CPU."""
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
    result = jsonable(result)
    result.setdefault("wall_time_s", time.perf_counter() - start)
    return result, state_dict, arrays


def run(config, store: ResultStore | None = None, force: bool = False, progress: bool | None = None,
        need_weights: bool = False, on: str | None = None) -> dict:
    """Compute ``config``'s result, or return it from the store (the local store, then the shipped reference).

    ``config`` is any stored experiment config (a dataclass with ``KIND``, ``VERSION`` and a
    ``compute(store, progress)`` method returning ``(result, state_dict or None[, arrays])``):
:class:`hcvae.runs.experiments.VAEConfig`, :class:`hcvae.runs.hct.HCTConfig` for Historical Consensus Training and its controls, and
    so on. For a :class:`VAEConfig` the result holds the config, the data's lambda_max and spectrum,
    sigma2_decoder, every metric of :func:`hcvae.core.metrics.evaluate`, the per-epoch history and the wall time (the
    linear-VAE closed form at the same sigma2_decoder is :func:`hcvae.core.theory.linear_vae_optimum` of the stored
    spectrum). ``need_weights``: recompute locally when the result is served without weights (the reference
    ships none). ``on``: the device to compute on (default ``$HCVAE_DEVICE``, else the CPU; see
    :mod:`hcvae.core.device`). An unwritable store and an unknown or absent device are reported before any work.
    """
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
    configs = list(configs)
    device.resolve(on)  # an unknown or absent device fails here, before any work
    if stack_groups(dict.fromkeys(configs)) != [list(dict.fromkeys(configs))]:
        raise ValueError("run_stack takes configs of one stack (trainer='stacked', differing only in seed and "
                         "sigma2_ratio, at most STACK_LIMIT of them); group them with stack_groups()")
    compute_stack = type(configs[0]).compute_stack
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
                    trained = compute_stack(mine, progress)
                for c, (result, state_dict, _) in zip(mine, trained):
                    result = jsonable(result)
                    results[c] = store.save(c, result, state_dict=state_dict, provenance_=provenance(
                        c, result["wall_time_s"], threads=1, device="cpu") | {"stacked_with": len(mine)})
                    log_request(c, "computed", False)
    return [results[c] for c in configs]




def run_all(configs, store: ResultStore | None = None, progress: bool | None = None) -> list[dict]:
    """Run (or load) each config in turn, with one progress bar over the list (configs that train together do so
    first)."""
    configs = list(configs)
    store = store if store is not None else ResultStore()
    results = []
    if progress_enabled(progress):
        from tqdm.auto import tqdm

        configs_iter = tqdm(configs, desc="runs", unit="run")
    else:
        configs_iter = configs
    stacked = {}
    for group in stack_groups(configs):  # the loop below reads what they stored
        stacked.update(zip(group, run_stack(group, store=store, progress=False)))
    for cfg in configs_iter:
        results.append(stacked[cfg] if cfg in stacked else run(cfg, store=store, progress=False))
    return results

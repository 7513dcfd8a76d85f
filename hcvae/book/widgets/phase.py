"""Chapter 01's explorers: the linear VAE's closed form at any σ'²/λ_max, and every trained run of the sweep."""

from __future__ import annotations

import math
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from hcvae.book import plots
from hcvae.book.widgets.frames import Control, explorer, live_mode, show_live, static_explorer
from hcvae.book.widgets.results import hashable, index_results, label, options_of
from hcvae.core.theory import linear_vae_optimum

SIGMA2_RATIOS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 0.9, 1.0, 1.1, 1.5, 2.0, 5.0, 10.0)


def _sigma2_figure(spectrum, dataset: str, ratio: float, latent_dim: int, kl_max: float):
    spectrum = np.asarray(spectrum, float)
    sigma2 = ratio * spectrum[0]
    opt = linear_vae_optimum(spectrum, sigma2, latent_dim)
    fig, (ax_s, ax_k) = plt.subplots(1, 2, figsize=(8.4, 2.9), gridspec_kw={"width_ratios": [2, 1]})
    plots.spectrum_threshold(spectrum, sigma2, latent_dim, ax=ax_s,
                             title=f"{dataset}, σ'²/λmax = {ratio:.3g}: {opt['active_units']} of {latent_dim} dims active")
    ax_s.title.set_fontsize(10)
    ax_k.bar(np.arange(1, latent_dim + 1), opt["kl_per_dim"], color="C3")
    ax_k.set_ylim(0, kl_max)
    ax_k.set_xlabel("latent dimension")
    ax_k.set_ylabel("KL per dim (nats)")
    ax_k.set_title(f"closed-form KL = {opt['kl']:.3f} nats", fontsize=10)
    fig.tight_layout()
    return fig


def sigma2_explorer(spectra: dict, latent_dim: int = 8, ratios: Sequence[float] = SIGMA2_RATIOS,
                    live: bool | None = None):
    """Which latent dimensions the linear VAE's closed form keeps at a given σ'²/λ_max, and their KL.

    ``spectra`` maps a data-set name to its covariance spectrum (largest eigenvalue first). Controls: the data
    set and σ'²/λ_max. Static: one frame per (data set, ratio in ``ratios``); live: a log slider from 10^-1.5
    to 10, any value in between. The KL axis is fixed at the largest KL a dimension can carry on the grid (the
    top direction's, at the smallest ratio), so frames compare.
    """
    names = list(spectra)
    ratios = sorted(float(r) for r in ratios)
    if not names or not ratios or ratios[0] <= 0:
        raise ValueError("need at least one spectrum and positive ratios")
    lo = min(ratios[0], 10 ** -1.5) if live_mode(live) else ratios[0]
    kl_max = 1.05 * 0.5 * math.log(1 / lo) if lo < 1 else 1.0

    def draw(dataset, ratio):
        return _sigma2_figure(spectra[dataset], dataset, ratio, latent_dim, kl_max)

    if live_mode(live):
        import ipywidgets as w

        controls = dict(
            dataset=w.Dropdown(options=names, value=names[0], description="data"),
            ratio=w.FloatLogSlider(value=0.5, base=10, min=-1.5, max=1, step=0.02, description="σ'²/λmax",
                                   readout_format=".3g", continuous_update=False))
        return w.interactive(show_live(draw), **controls)
    initial = int(np.argmin(np.abs(np.log(ratios) - math.log(0.5))))
    controls = [Control("dataset", "data", [(n, n) for n in names]),
                Control("ratio", "σ'²/λmax", [(f"{r:g}", r) for r in ratios], kind="slider", initial=initial)]
    return static_explorer(controls, draw)


def phase_run_explorer(results: Sequence[dict], live: bool | None = None, views: dict | None = None):
    """Every trained run of the phase-transition sweep (chapter 01's ``results``): its KL per latent dimension
    (sorted, largest first) beside the linear VAE's closed form for the same spectrum and σ'², with total KL and
    active units (Var_x E[z_j] > 0.01 and E_x σ_j² < 0.99) in the title; with ``views`` (result key -> the run's
    decoder views, :func:`hcvae.runs.views.vae_views`, or None), its reconstructions and latent traversal below.

    Each result needs ``config`` (dataset, architecture, sigma2_ratio, seed), ``metrics`` (kl, kl_per_dim,
    active_burda, active_paper), ``data["spectrum"]`` and ``sigma2_decoder``. Controls: data set, model,
    σ'²/λ_max (the sweep's grid) and seed, plus any other config key that varies. Static: one frame per
    combination (a message where no run is stored); live: the same choices, drawn on demand.
    """
    index, keys = index_results(results, ("dataset", "architecture", "sigma2_ratio", "seed"))
    closed: dict = {}
    kl_max: dict = {}
    for t, r in index.items():
        latent_dim = len(r["metrics"]["kl_per_dim"])
        closed[t] = linear_vae_optimum(r["data"]["spectrum"], r["sigma2_decoder"], latent_dim)
        top = max(float(np.max(r["metrics"]["kl_per_dim"])), float(np.max(closed[t]["kl_per_dim"])))
        kl_max[t[0]] = max(kl_max.get(t[0], 0.0), top)

    def draw(**values):
        t = tuple(hashable(values[k]) for k in keys)
        if t not in index:
            return "No stored run for " + ", ".join(f"{k} = {label(values[k])}" for k in keys) + "."
        r, opt = index[t], closed[t]
        m = r["metrics"]
        trained = np.sort(np.asarray(m["kl_per_dim"], float))[::-1]
        dims = np.arange(1, trained.size + 1)
        style = plots.ARCH_STYLE.get(values["architecture"], dict(color="C0", label=values["architecture"]))
        if views is None:
            fig, ax = plt.subplots(figsize=(6.6, 3.0))
        else:
            fig = plt.figure(figsize=(6.6, 5.0))
            grid = fig.add_gridspec(2, 2, height_ratios=(3.0, 2.0))
            ax = fig.add_subplot(grid[0, :])
            plots.decoder_views(fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1]), views.get(r["key"]))
        ax.bar(dims - 0.2, trained, 0.4, color=style["color"], label=f"trained {style['label']} (sorted)")
        ax.bar(dims + 0.2, opt["kl_per_dim"], 0.4, color="0.6", label="linear closed form")
        ax.set_ylim(0, 1.08 * kl_max[values["dataset"]] or 1.0)
        ax.set_xticks(dims)
        ax.set_xlabel("latent dimension")
        ax.set_ylabel("KL (nats)")
        ax.set_title(f"{values['dataset']}, {values['architecture']}, σ'²/λmax = {label(values['sigma2_ratio'])}, "
                     f"seed {values['seed']}\nKL {m['kl']:.3g} nats (closed form {opt['kl']:.3g}); active units "
                     f"{m['active_burda']} (Var E[z] > 0.01), {m['active_paper']} (E[σ²] < 0.99), "
                     f"closed form {opt['active_units']}", fontsize=8.5)
        ax.legend(fontsize=7.5, loc="upper right")
        fig.tight_layout()
        return fig

    labels = {"dataset": "data", "architecture": "model", "sigma2_ratio": "σ'²/λmax", "seed": "seed"}
    controls = []
    for i, k in enumerate(keys):
        options = options_of(index, i)
        kind = "slider" if k == "sigma2_ratio" and len(options) > 1 else "dropdown"
        initial = 0
        if k == "sigma2_ratio":
            initial = int(np.argmin([abs(math.log(v) - math.log(0.5)) if v > 0 else np.inf for _, v in options]))
        controls.append(Control(k, labels.get(k, k), options, kind=kind, initial=initial))
    return explorer(controls, draw, live)

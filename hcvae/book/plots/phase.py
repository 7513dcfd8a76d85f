"""Chapter 01: KL against sigma'^2/lambda_max, the linear VAE against its closed form, which dimensions survive."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from hcvae.core.theory import linear_vae_kl_curve, linear_vae_optimum


ARCH_STYLE = {"mlp": dict(color="C0", marker="o", label="MLP VAE"), "linear": dict(color="C1", marker="s", label="linear VAE")}


def phase_transition(table: dict, spectra: dict, latent_dim: int = 8, thresholds: dict | None = None):
    """KL and active units against sigma'^2 / lambda_max, one column per data set (v1 §3.2).

    ``table`` comes from :func:`hcvae.chapters.phase.sweep_table`, ``spectra`` maps a data set to
    its covariance spectrum; the linear closed form and the predicted threshold
    (ratio 1) are drawn on each panel, and the measured bracket when ``thresholds``
    maps (dataset, architecture) to :func:`hcvae.chapters.phase.measured_threshold` output.
    """
    datasets = sorted({ds for ds, _ in table}, key=lambda d: list(spectra).index(d))
    fig, axes = plt.subplots(2, len(datasets), figsize=(5.2 * len(datasets), 7), squeeze=False, sharex=True)
    grid = np.geomspace(0.05, 10, 400)
    for col, ds in enumerate(datasets):
        spectrum = np.asarray(spectra[ds])
        ax_kl, ax_au = axes[0, col], axes[1, col]
        ax_kl.plot(grid, linear_vae_kl_curve(spectrum, grid * spectrum[0], latent_dim), color="0.3", lw=1.2,
                   label="linear closed form")
        predicted_active = [linear_vae_optimum(spectrum, r * spectrum[0], latent_dim)["active_units"] for r in grid]
        ax_au.step(grid, predicted_active, where="post", color="0.3", lw=1.2, label="linear closed form")
        for arch, style in ARCH_STYLE.items():
            row = table.get((ds, arch))
            if row is None:
                continue
            for r, runs in zip(row["ratio"], row["kl_runs"]):
                ax_kl.scatter(np.full(len(runs), r), np.maximum(runs, 1e-4), s=10, color=style["color"], alpha=0.35)
            ax_kl.plot(row["ratio"], np.maximum(row["kl_mean"], 1e-4), **style, lw=1, ms=5)
            ax_au.plot(row["ratio"], row["active_burda_mean"], **{**style, "label": f"{style['label']}, Var E[z] > 0.01"}, lw=1, ms=5)
            ax_au.plot(row["ratio"], row["active_paper_mean"], color=style["color"], marker=style["marker"], ls=":",
                       mfc="none", lw=1, ms=5, label=f"{style['label']}, E[sigma^2] < 0.99")
            if thresholds and (ds, arch) in thresholds:
                th = thresholds[(ds, arch)]
                if th["lower"] is not None and th["upper"] is not None:
                    ax_kl.axvspan(th["lower"], th["upper"], color=style["color"], alpha=0.08)
        for ax in (ax_kl, ax_au):
            ax.axvline(1.0, color="k", ls="--", lw=1)
            ax.set_xscale("log")
        ax_kl.set_yscale("log")
        ax_kl.set_ylim(1e-4 * 0.7, None)
        ax_kl.set_title(f"{ds}  ($\\lambda_{{max}}$ = {spectrum[0]:.3g})")
        ax_kl.set_ylabel("KL (nats, floored at 1e-4)")
        ax_au.set_ylabel("active units")
        ax_au.set_xlabel(r"$\sigma'^2 / \lambda_{max}$")
    axes[0, 0].legend(fontsize=8)
    axes[1, 0].legend(fontsize=7)
    fig.suptitle(r"Phase transition: collapse predicted for $\sigma'^2 > \lambda_{max}$ (dashed)")
    fig.tight_layout()
    return fig


def linear_closed_form(comparisons: dict):
    """Trained linear VAE (markers) against the closed form (lines), per latent dimension.

    ``comparisons`` maps a label (e.g. "synthetic, ratio 0.5") to
    :func:`hcvae.chapters.phase.linear_vs_closed_form` output.
    """
    stats = [("var_mean", r"Var$_x$ E[$z_j$|x]"), ("posterior_var", r"E$_x\,\sigma_j^2$(x)"), ("kl_per_dim", "KL$_j$ (nats)")]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for i, (label, cmp) in enumerate(comparisons.items()):
        color = f"C{i}"
        dims = np.arange(1, len(cmp["theory"]["var_mean"]) + 1)
        for ax, (key, title) in zip(axes, stats):
            ax.plot(dims, cmp["theory"][key], color=color, lw=1.2)
            ax.plot(dims, cmp["trained"][key], color=color, marker="o", ls="none", ms=5, label=label)
            ax.set_title(title)
            ax.set_xlabel("latent dimension (sorted)")
    axes[0].legend(fontsize=7)
    fig.suptitle("Linear VAE: trained (dots) vs closed form of Lucas et al. (lines)")
    fig.tight_layout()
    return fig


def spectrum_threshold(spectrum, sigma2_decoder: float, latent_dim: int = 8, title: str = "", ax=None):
    """The covariance spectrum with sigma'^2 drawn across it, and the closed-form KL per latent dimension.

    Eigenvalues above sigma'^2 (among the first ``latent_dim``) are the directions
    the linear theory keeps active.
    """
    spectrum = np.asarray(spectrum, float)
    opt = linear_vae_optimum(spectrum, sigma2_decoder, latent_dim)
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 3.6))
    else:
        fig = ax.figure
    k = np.arange(1, spectrum.size + 1)
    colors = ["C3" if (i < latent_dim and lam > sigma2_decoder) else "0.7" for i, lam in enumerate(spectrum)]
    ax.bar(k, spectrum, color=colors, width=0.8)
    ax.axhline(sigma2_decoder, color="k", ls="--", lw=1)
    ax.text(k[-1], sigma2_decoder, r" $\sigma'^2$", va="bottom", ha="right")
    ax.set_yscale("log")
    ax.set_xlabel("eigenvalue index")
    ax.set_ylabel("eigenvalue")
    ax.set_title(title or f"{opt['active_units']} active latent dims predicted, KL = {opt['kl']:.3f} nats")
    return fig


def kl_during_training(runs: dict, kl_bound: float | None = None):
    """Per-epoch KL (on the evaluation subset) of each run; ``runs`` maps a label to a stored result."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for i, (label, res) in enumerate(runs.items()):
        kl = np.array([row["eval_kl"] for row in res["history"]])
        ax.plot(np.arange(1, kl.size + 1), np.maximum(kl, 1e-5), color=f"C{i}", lw=1.2, label=label)
    if kl_bound is not None:
        ax.axhline(kl_bound, color="k", ls=":", lw=1, label="collapse bound")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("KL (nats, floored at 1e-5)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _mosaic(rows: np.ndarray, image_shape) -> np.ndarray:
    """(n, d) rows as one picture: images side by side with a blank column between, or vectors stacked as rows."""
    rows = np.asarray(rows, float)
    if len(image_shape) < 2:
        return rows
    h, w = int(image_shape[-2]), int(image_shape[-1])
    tiles = rows.reshape(len(rows), h, w)
    out = np.full((h, len(rows) * (w + 1) - 1), np.nan)
    for i, tile in enumerate(tiles):
        out[:, i * (w + 1): i * (w + 1) + w] = tile
    return out


def decoder_views(ax_recon, ax_traversal, views: dict | None):
    """A VAE run's decoder on two axes (the views of :func:`hcvae.runs.views.compute_views`): inputs above their
    posterior-mean reconstructions f(μ(x)), and f(t e_j) along the latent dimensions j with the largest KL. Images
    are drawn as images, vectors as rows of a heat map; ``None`` writes why nothing is drawn."""
    for ax in (ax_recon, ax_traversal):
        ax.set_xticks([])
        ax.set_yticks([])
    if views is None:
        for ax in (ax_recon, ax_traversal):
            ax.text(0.5, 0.5, "no decoder views: the reference ships\nresults without weights; recompute the run",
                    ha="center", va="center", fontsize=7.5, transform=ax.transAxes)
        return
    shape = tuple(int(s) for s in views["image_shape"])
    lo, hi = float(np.min(views["x"])), float(np.max(views["x"]))
    kw = dict(cmap="gray_r" if len(shape) >= 2 else "viridis", vmin=lo, vmax=hi, aspect="auto", interpolation="nearest")
    def stacked(blocks):  # one picture, a blank row between blocks
        blocks = [_mosaic(b, shape) for b in blocks]
        gap = np.full((1, blocks[0].shape[1]), np.nan)
        return np.vstack([row for b in blocks for row in (b, gap)][:-1])

    ax_recon.imshow(stacked([views["x"], views["recon"]]), **kw)
    ax_recon.set_title("inputs (top) and f(μ(x)) (bottom)", fontsize=8)
    ax_traversal.imshow(stacked(list(views["traversal"])), **kw)
    steps = views["steps"]
    ax_traversal.set_title(f"f(t·e_j), t = {steps[0]:g} … {steps[-1]:g}; rows: j = "
                           + ", ".join(str(int(j) + 1) for j in views["dims"]) + " (largest KL first)", fontsize=8)

"""Every figure of the book. Each function draws from stored results and returns the Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .theory import linear_vae_kl_curve, linear_vae_optimum

ARCH_STYLE = {"mlp": dict(color="C0", marker="o", label="MLP VAE"), "linear": dict(color="C1", marker="s", label="linear VAE")}


def phase_transition(table: dict, spectra: dict, latent_dim: int = 8, thresholds: dict | None = None):
    """KL and active units against sigma'^2 / lambda_max, one column per data set (v1 §3.2).

    ``table`` comes from :func:`hcvae.phase.sweep_table`, ``spectra`` maps a data set to
    its covariance spectrum; the linear closed form and the predicted threshold
    (ratio 1) are drawn on each panel, and the measured bracket when ``thresholds``
    maps (dataset, architecture) to :func:`hcvae.phase.measured_threshold` output.
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
    :func:`hcvae.phase.linear_vs_closed_form` output.
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


def diversity_heatmaps(diversities: dict):
    """Pairwise adjusted Rand index of R clusterings, one panel per (data set, initialisation)."""
    keys = list(diversities)
    fig, axes = plt.subplots(1, len(keys), figsize=(3.6 * len(keys), 3.4), squeeze=False)
    for ax, key in zip(axes[0], keys):
        div = diversities[key]
        im = ax.imshow(div["ari"], vmin=0, vmax=1, cmap="viridis")
        ax.set_title(f"{key}\n{div['n_distinct']} distinct of {len(div['ari'])}", fontsize=9)
        ax.set_xlabel("clustering")
        ax.set_ylabel("clustering")
    fig.colorbar(im, ax=axes[0].tolist(), label="adjusted Rand index", shrink=0.8)
    return fig


def collapsed_candidates(checks: dict):
    """Historical loss of each collapsed (constant) reconstruction against delta, per (data set, reading).

    ``checks`` maps a label to :func:`hcvae.barrier.delta_bounds_collapse` output.
    """
    keys = list(checks)
    fig, axes = plt.subplots(1, len(keys), figsize=(3.4 * len(keys), 3.6), squeeze=False, sharey=False)
    for ax, key in zip(axes[0], keys):
        chk = checks[key]
        names = [c["name"] for c in chk["candidates"]]
        values = [max(c["historical_loss"], 1e-6) for c in chk["candidates"]]
        ax.bar(range(len(values)), values, color=["C0", "C1", "C3"])
        ax.axhline(chk["delta"], color="k", ls="--", lw=1, label=r"$\delta$ (Theorem 4.4)")
        ax.set_yscale("log")
        ax.set_xticks(range(len(values)), [n.replace(" (", "\n(") for n in names], fontsize=7, rotation=20)
        ax.set_title(key, fontsize=9)
    axes[0, 0].set_ylabel(r"historical loss $\max_C \ell_C$ (floored at 1e-6)")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def feasible_region_vs_k(curves: dict, marks: dict | None = None):
    """WCSS and L_collapse against K, one panel per curve; the feasible region WCSS < L_collapse shaded.

    ``curves`` maps a label to :func:`hcvae.feasible.region_curve` output; ``marks``
    optionally maps a label to a K to highlight (e.g. the true number of clusters).
    """
    keys = list(curves)
    ncols = min(3, len(keys))
    nrows = -(-len(keys) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.3 * nrows), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        c = curves[key]
        ax.plot(c["k"], c["wcss"], "o-", color="C0", ms=4, label="WCSS")
        ax.plot(c["k"], c["l_collapse"], "s-", color="C3", ms=4, label=r"$L_{collapse}$")
        ax.fill_between(c["k"], c["wcss"], c["l_collapse"], where=c["wcss"] < c["l_collapse"], color="C2", alpha=0.2,
                        label="feasible region")
        if marks and key in marks:
            ax.axvline(marks[key], color="k", ls=":", lw=1)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("K")
    for ax in list(axes.flat)[len(keys):]:
        ax.set_visible(False)
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def hct_trajectories(record: dict, title: str = ""):
    """One HCT run (v1 Figures 2 left, 3 and 7): KL by epoch with the stages marked; ell_C of clusterings
    discarded in each round over the rest of training; which clusterings survive each round."""
    from .consensus import discarded_at, retention_matrix

    history = record["history"]
    epochs = np.array([h["epoch"] for h in history])
    fig, (ax_kl, ax_ell, ax_ret) = plt.subplots(1, 3, figsize=(15, 3.8), gridspec_kw={"width_ratios": [3, 3, 1.4]})
    ax_kl.plot(epochs, np.maximum([h["eval_kl"] for h in history], 1e-5), color="C0")
    ax_kl.set_yscale("log")
    ax_kl.set_ylabel("KL (nats, floored at 1e-5)")
    ell = np.array([h["ell"] for h in history])
    dropped = discarded_at(record)
    for c, rnd in sorted(dropped.items()):
        ax_ell.plot(epochs, np.maximum(ell[:, c], 1e-6), color=f"C{rnd % 10}", lw=0.8, alpha=0.7)
    kept_final = [c for c in range(ell.shape[1]) if c not in dropped]
    for c in kept_final:
        ax_ell.plot(epochs, np.maximum(ell[:, c], 1e-6), color="k", lw=1.4)
    ax_ell.set_yscale("log")
    ax_ell.set_ylabel(r"$\ell_C$ (floored at 1e-6)")
    ax_ell.set_title("black: the last two; colours: discarded, by round", fontsize=9)
    for ax in (ax_kl, ax_ell):
        for stage in ("refine", "final"):
            starts = [h["epoch"] for h in history if h["stage"] == stage]
            if starts:
                ax.axvline(starts[0], color="0.5", ls=":", lw=1)
        ax.set_xlabel("epoch")
    ax_ret.imshow(retention_matrix(record), aspect="auto", cmap="Greys", interpolation="nearest")
    ax_ret.set_xlabel("round")
    ax_ret.set_ylabel("clustering")
    ax_ret.set_title("retained", fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def hct_methods(runs: dict, key: str = "eval_kl", ylabel: str = "KL (nats, floored at 1e-5)", floor: float = 1e-5,
                log: bool = True):
    """One per-epoch quantity of HCT and its controls (v1 Figure 3 for ``eval_kl``, Figure 2 right for
    ``dist_collapsed``): ``runs`` maps a data set to {label: stored HCTConfig result}; one panel per data set,
    dotted lines where HCT's refinement and final stages begin."""
    fig, axes = plt.subplots(1, len(runs), figsize=(6.2 * len(runs), 3.8), squeeze=False)
    for ax, (ds, by_label) in zip(axes[0], runs.items()):
        for i, (label, res) in enumerate(by_label.items()):
            history = res["record"]["history"]
            values = np.array([h[key] for h in history], dtype=float)
            ax.plot([h["epoch"] for h in history], np.maximum(values, floor) if log else values, color=f"C{i}",
                    lw=1.3, label=label)
            if res["config"]["method"] == "hct":
                for stage in ("refine", "final"):
                    starts = [h["epoch"] for h in history if h["stage"] == stage]
                    if starts:
                        ax.axvline(starts[0], color=f"C{i}", ls=":", lw=0.9)
        if log:
            ax.set_yscale("log")
        ax.set_title(ds)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
    axes[0, -1].legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def spherical_ablation(summaries: dict, paper: dict):
    """v4 Table 2 as bars: one panel per metric, one group per variant; the paper's value beside ours per data set.

    ``summaries`` maps a data set to :func:`hcvae.spherical_report.summarise` output, ``paper`` is
    :data:`hcvae.spherical_report.PAPER_TABLE2`. Error bars: the spread (std) over seeds.
    """
    metrics = [("kl", "KL (nats)"), ("coverage", "feasible-region coverage"),
               ("norm_satisfaction", "norm satisfaction"), ("recon_error", "reconstruction error (MSE)")]
    variants = list(paper)
    sources = ["paper", *summaries]
    width = 0.8 / len(sources)
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.9))
    x = np.arange(len(variants))
    for ax, (key, label) in zip(axes, metrics):
        for i, source in enumerate(sources):
            if source == "paper":
                values, errors = [paper[v][key] for v in variants], None
            else:
                values = [summaries[source][v][key][0] for v in variants]
                errors = [summaries[source][v][key][1] for v in variants]
            ax.bar(x + (i - (len(sources) - 1) / 2) * width, values, width, yerr=errors, color=f"C{i}" if i else "0.6",
                   label="v4 Table 2" if source == "paper" else f"ours, {source}", capsize=2)
        ax.set_xticks(x)
        ax.set_xticklabels([v.replace(" penalty only", "\nonly").replace(" constraint only", "\nonly")
                            .replace(" constraints", "\nconstraints") for v in variants], fontsize=8)
        ax.set_title(label, fontsize=10)
    axes[0].legend(fontsize=8)
    fig.suptitle("Constraint ablation (v4 Table 2): the paper's numbers and ours")
    fig.tight_layout()
    return fig


def spherical_dynamics(runs: dict, marks: dict | None = None, floor: float = 1e-6):
    """Training dynamics with and without the norm constraint (v4 Figure 1).

    ``runs`` maps a data set to {label: [stored SphericalConfig results, one per seed]}; rows: KL on
    the evaluation subset, the boundary penalty of the training batches (log scale, floored at
    ``floor``), and the share of outputs in the shell. ``marks`` maps a data set to {label: epoch},
    drawn as dotted vertical lines (e.g. where the second stage starts and where beta reaches 1).
    """
    rows = [("eval_kl", "KL (nats)"), ("boundary", "boundary penalty (train)"), ("eval_norm_satisfaction", "norm satisfaction")]
    fig, axes = plt.subplots(len(rows), len(runs), figsize=(5.6 * len(runs), 2.6 * len(rows)), squeeze=False, sharex="col")
    for col, (ds, by_label) in enumerate(runs.items()):
        for i, (label, results) in enumerate(by_label.items()):
            for j, res in enumerate(results):
                epochs = [h["epoch"] for h in res["history"]]
                for row, (key, ylabel) in enumerate(rows):
                    values = np.array([h[key] for h in res["history"]], dtype=float)
                    axes[row, col].plot(epochs, np.maximum(values, floor) if key == "boundary" else values, color=f"C{i}",
                                        lw=1.1, alpha=0.85, label=label if j == 0 else None)
                    axes[row, col].set_ylabel(ylabel)
        for k, (label, epoch) in enumerate((marks or {}).get(ds, {}).items()):
            for row in range(len(rows)):
                axes[row, col].axvline(epoch, color="0.4", ls=[":", "--"][k % 2], lw=0.9, label=label if row == 0 else None)
        axes[0, col].set_title(ds)
        axes[-1, col].set_xlabel("epoch")
        axes[1, col].set_yscale("log")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("Training with and without the norm constraint (v4 Figure 1)")
    fig.tight_layout()
    return fig


def kl_vs_penalty_weight(sweeps: dict, references: dict | None = None):
    """KL and negative ELBO against the boundary-penalty weight lambda_1, one column per data set.

    ``sweeps`` maps a data set to :func:`hcvae.spherical_report.penalty_sweep` output; ``references``
    maps a data set to {label: negative ELBO} drawn as horizontal lines (e.g. a plain VAE's).
    lambda_1 = 0 sits at the left end of a symmetric-log axis.
    """
    fig, axes = plt.subplots(2, len(sweeps), figsize=(5.2 * len(sweeps), 6), squeeze=False, sharex=True)
    for col, (ds, sweep) in enumerate(sweeps.items()):
        lam = sweep["lambda_boundary"]
        ax_kl, ax_elbo = axes[0, col], axes[1, col]
        for l, runs in zip(lam, sweep["kl_runs"]):
            ax_kl.scatter(np.full(len(runs), l), runs, s=12, color="C3", alpha=0.4)
        ax_kl.plot(lam, sweep["kl"], "o-", color="C3", label="KL (mean over seeds)")
        for l, runs in zip(lam, sweep["neg_elbo_runs"]):
            ax_elbo.scatter(np.full(len(runs), l), runs, s=12, color="C0", alpha=0.4)
        ax_elbo.plot(lam, sweep["neg_elbo"], "o-", color="C0", label="negative ELBO (mean)")
        for i, (label, value) in enumerate((references or {}).get(ds, {}).items()):
            ax_elbo.axhline(value, color="0.3", ls=["--", ":", "-."][i % 3], lw=1, label=label)
        positive = lam[lam > 0]
        for ax in (ax_kl, ax_elbo):
            ax.set_xscale("symlog", linthresh=positive.min() if positive.size else 1.0)
        ax_kl.set_title(ds)
        ax_kl.set_ylabel("KL (nats)")
        ax_elbo.set_ylabel("negative ELBO (nats per sample)")
        ax_elbo.set_xlabel(r"boundary-penalty weight $\lambda_1$")
        ax_kl.legend(fontsize=8)
        ax_elbo.legend(fontsize=8)
    fig.suptitle(r"KL and ELBO against $\lambda_1$ ($\lambda_2$ fixed)")
    fig.tight_layout()
    return fig

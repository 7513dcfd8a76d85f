"""Every figure of the book. Each function draws from stored results and returns the Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.ticker import NullLocator
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

    ``checks`` maps a label to :func:`hcvae.methods.barrier.delta_bounds_collapse` output.
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

    ``curves`` maps a label to :func:`hcvae.methods.feasible.region_curve` output; ``marks``
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
    from hcvae.methods.consensus import discarded_at, retention_matrix

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
                log: bool = True, title: str = ""):
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
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def spherical_ablation(summaries: dict, paper: dict):
    """v4 Table 2 as bars: one panel per metric, one group per variant; the paper's value beside ours per data set.

    ``summaries`` maps a data set to :func:`hcvae.chapters.spherical_report.summarise` output, ``paper`` is
    :data:`hcvae.chapters.spherical_report.PAPER_TABLE2`. Error bars: the spread (std) over seeds.
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

    ``sweeps`` maps a data set to :func:`hcvae.chapters.spherical_report.penalty_sweep` output; ``references``
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


def noise_variance_critical(schedules, levels: dict):
    """v1 Figure 6: the noise variance 1 - abar_t of each schedule, with each lambda_max drawn across it.

    ``levels`` maps a label (data set and scaling) to lambda_max. Solid lines: lambda_max itself (v1 eq. 13);
    dotted: lambda_max / (1 + lambda_max), where the signal-to-noise ratio along the top direction is 1.
    A marker sits at each t_c; a lambda_max >= 1 never meets the curve under eq. 13.
    """
    from hcvae.core.theory import critical_timestep

    fig, ax = plt.subplots(figsize=(8, 4.2))
    for i, s in enumerate(schedules):
        t = np.arange(1, s.T + 1)
        ax.plot(t, s.noise_variance, color=f"C{i}", lw=1.5, label=s.name)
    for j, (label, lam) in enumerate(levels.items()):
        color = f"C{len(schedules) + j}"
        for level, reading, ls in ((lam, "eq13", "-"), (lam / (1 + lam), "snr", ":")):
            if level < 1:
                ax.axhline(level, color=color, ls=ls, lw=0.9)
            for i, s in enumerate(schedules):
                t_c = critical_timestep(s.alpha_bar, lam, reading)
                if t_c is not None:
                    ax.plot(t_c, s.noise_variance[t_c - 1], "o" if reading == "eq13" else "s", color=f"C{i}",
                            mec=color, mew=1.5, ms=6, mfc="white" if reading == "snr" else f"C{i}")
        ax.plot([], [], color=color, lw=0.9,
                label=f"{label}: $\\lambda_{{max}}$ = {lam:.3g}" + (" (> 1: no $t_c$)" if lam >= 1 else ""))
    ax.plot([], [], "k:", lw=0.9, label=r"$\lambda_{max}/(1+\lambda_{max})$ (SNR = 1)")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("t")
    ax.set_ylabel(r"noise variance $1-\bar\alpha_t$")
    ax.set_title(r"Critical timesteps: $1-\bar\alpha_{t_c} = \lambda_{max}$ (v1 eq. 13; filled) and SNR = 1 (open)")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def x0_gain_curves(studies: dict, tol: float):
    """Prediction 1: how much the denoiser's x_0 estimate depends on x_t, against t, one panel per study.

    ``studies`` maps a label to :func:`hcvae.runs.diffusion.gain_study` output. Along the top eigenvector:
    the share of x_0's variance the estimate recovers (solid, the measure the verdict uses), the local
    gain d x0_hat / d y (dashed), their common Gaussian optimum (grey), the one-step reverse mean's gain
    (dotted), both critical timesteps and the independence tolerance.
    """
    fig, axes = plt.subplots(1, len(studies), figsize=(5.5 * len(studies), 3.9), squeeze=False, sharey=True)
    for ax, (label, st) in zip(axes[0], studies.items()):
        c, t_all = st["curve"], np.arange(1, st["wiener_top"].size + 1)
        ax.plot(t_all, st["wiener_top"], color="0.6", lw=2, label="Gaussian optimum")
        ax.plot(c["t"], c["info"], "o-", color="C0", ms=3, label=r"recovered share corr$^2(u^Tx_0, u^T\hat x_0)$")
        ax.plot(c["t"], c["top"], "s--", color="C1", ms=3, label=r"local gain $u^T\partial\hat x_0/\partial y\,u$")
        ax.plot(c["t"], c["reverse_mean"], ":", color="C2", label=r"reverse step $u^T\partial\mu_\theta/\partial x_t u$")
        ax.axhline(tol, color="k", lw=0.8, ls="-.", label="independence tolerance")
        for reading, ls in (("eq13", "-"), ("snr", ":")):
            if st["t_c"][reading] is not None:
                ax.axvline(st["t_c"][reading], color="C3", ls=ls, lw=1.2, label=f"$t_c$ ({reading})")
        ax.set_title(f"{label} ($\\lambda_{{max}}$ = {st['lambda_max']:.3g}, {st['schedule']} schedule)", fontsize=9)
        ax.set_xlabel("t")
    axes[0, 0].set_ylabel(r"dependence of $\hat x_0$ on $x_t$, top direction")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def consensus_rounds(records: dict):
    """Algorithm 2's selection: validation loss of each schedule in play, round by round, kept ones filled.

    ``records`` maps a label to ``(rounds_, schedule names, {name: Gaussian eps-MMSE})``; the MMSE of each
    schedule is drawn as a grey tick: the loss a perfect denoiser would have on Gaussian data with the
    same spectrum, i.e. how hard the schedule is whatever the model.
    """
    fig, axes = plt.subplots(1, len(records), figsize=(5.5 * len(records), 3.8), squeeze=False)
    for ax, (label, (rounds, names, mmse)) in zip(axes[0], records.items()):
        x0 = 0
        for r, rnd in enumerate(rounds):
            pos = x0 + np.arange(len(rnd["set"]))
            for p, k, loss in zip(pos, rnd["set"], rnd["val_loss"]):
                kept = k in rnd["kept"]
                ax.bar(p, loss, color=f"C{k % 10}", alpha=1.0 if kept else 0.35, edgecolor="k" if kept else "none")
                ax.plot([p - 0.4, p + 0.4], [mmse[names[k]]] * 2, color="0.3", lw=2)
            ax.text(pos.mean(), 0, f"round {r}", ha="center", va="bottom", fontsize=8)
            x0 = pos[-1] + 2
        handles = [plt.Rectangle((0, 0), 1, 1, color=f"C{k % 10}") for k in range(len(names))]
        ax.legend(handles, names, fontsize=6, ncol=2)
        ax.set_xticks([])
        ax.set_ylabel("validation eps loss (per coordinate)")
        ax.set_title(f"{label}: kept = filled; grey = Gaussian eps-MMSE", fontsize=9)
    fig.tight_layout()
    return fig


def schedule_transfer(reports: dict, floors: dict):
    """Prediction 4: quality of each model's samples under each sampling schedule, one column per data set.

    ``reports`` maps a data set to ``{model: {schedule: sample_report}}``; ``floors`` maps it to the
    real-vs-real sliced energy distance at the same sizes (dashed). Top: sliced energy distance to
    held-out data; bottom: two-sample test accuracy (0.5 = indistinguishable from held-out data).
    Lower is better in both.
    """
    fig, axes = plt.subplots(2, len(reports), figsize=(6 * len(reports), 6.8), squeeze=False)
    for col, (ds, by_model) in enumerate(reports.items()):
        models = list(by_model)
        scheds = list(next(iter(by_model.values())))
        width = 0.8 / len(models)
        for i, m in enumerate(models):
            pos = np.arange(len(scheds)) + (i - (len(models) - 1) / 2) * width
            axes[0, col].bar(pos, [by_model[m][s]["energy"] for s in scheds], width, color=f"C{i}", label=m)
            axes[1, col].bar(pos, [by_model[m][s]["c2st"] for s in scheds], width, color=f"C{i}",
                             yerr=[2 * by_model[m][s]["c2st_se"] for s in scheds])
        axes[0, col].axhline(floors[ds], color="k", ls="--", lw=1, label="real vs real")
        axes[0, col].set_yscale("log")
        axes[0, col].set_ylabel("sliced energy distance (log)")
        axes[0, col].set_title(ds)
        axes[1, col].axhline(0.5, color="k", ls="--", lw=1)
        axes[1, col].set_ylim(0.4, 1.02)
        axes[1, col].set_ylabel("two-sample test accuracy")
        for ax in axes[:, col]:
            ax.set_xticks(np.arange(len(scheds)), scheds, fontsize=7, rotation=15)
        axes[1, col].set_xlabel("sampling schedule")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def sample_diversity(rows: dict, real: dict):
    """Prediction 3: label entropy and variance ratio of each model's samples (own schedule), with bootstrap
    error bars; ``rows`` maps a data set to ``{model: sample_report}``, ``real`` to the held-out data's report."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    names = list(next(iter(rows.values())))
    width = 0.8 / len(names)
    for j, (ds, by_model) in enumerate(rows.items()):
        for i, m in enumerate(names):
            r = by_model[m]
            pos = j + (i - (len(names) - 1) / 2) * width
            axes[0].bar(pos, r["entropy"], width, yerr=2 * r["entropy_se"], color=f"C{i}", label=m if j == 0 else None)
            axes[1].bar(pos, r["variance_ratio"], width, yerr=2 * r["variance_ratio_se"], color=f"C{i}")
        for ax, key in zip(axes, ("entropy", "variance_ratio")):
            ax.plot([j - 0.45, j + 0.45], [real[ds][key]] * 2, color="k", ls="--", lw=1)
    for ax, title in zip(axes, ("label entropy / log(labels)", "trace Cov(samples) / trace Cov(data)")):
        ax.set_xticks(range(len(rows)), list(rows))
        ax.set_title(title + "; dashed: held-out data", fontsize=9)
    axes[0].set_ylim(min(0.8, axes[0].get_ylim()[0]), 1.01)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def diffusion_samples(samples: dict, data: dict):
    """Samples of each model (own schedule) beside held-out data, projected on the data's top two principal axes.

    ``samples`` maps a data set to ``{model: array}``, ``data`` maps it to the held-out rows.
    """
    ncols = 1 + max(len(v) for v in samples.values())
    fig, axes = plt.subplots(len(samples), ncols, figsize=(2.6 * ncols, 2.6 * len(samples)), squeeze=False)
    for row, (ds, by_model) in zip(axes, samples.items()):
        ref = np.asarray(data[ds], float)
        mean = ref.mean(axis=0)
        _, _, vt = np.linalg.svd(ref - mean, full_matrices=False)
        proj = lambda a: (np.asarray(a, float) - mean) @ vt[:2].T  # noqa: E731
        p_ref = proj(ref)
        lims = np.percentile(p_ref, [0.5, 99.5], axis=0)
        pad = 0.25 * (lims[1] - lims[0])
        for ax, (title, pts) in zip(row, [("held-out data", p_ref)] + [(m, proj(x)) for m, x in by_model.items()]):
            ax.scatter(pts[:, 0], pts[:, 1], s=2, alpha=0.4, color="0.2" if title == "held-out data" else "C0")
            ax.set_xlim(lims[0, 0] - pad[0], lims[1, 0] + pad[0])
            ax.set_ylim(lims[0, 1] - pad[1], lims[1, 1] + pad[1])
            ax.set_title(f"{ds}: {title}", fontsize=7)
            ax.set_xticks([])
            ax.set_yticks([])
        for ax in row[1 + len(by_model):]:
            ax.set_visible(False)
    fig.tight_layout()
    return fig


def ablation_curves(panels: dict, floor: float = 1e-5):
    """Final KL (mean ± sd over seeds) against one swept parameter per panel (v1 Figures 4 and 8, v4 Figure 3).

    ``panels`` maps a title to (parameter name, :func:`hcvae.chapters.ablations.summarise` output); one line per reading.
    """
    n = len(panels)
    cols = 2 if n in (2, 4) else min(3, n)  # no empty panels for the book's four v1 and two v4 ablations
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows), squeeze=False)
    for ax, (title, (param, summary)) in zip(axes.flat, panels.items()):
        for i, (group, curve) in enumerate(summary.items()):
            mean = np.maximum(curve["mean"], floor)
            ax.errorbar(curve["values"], mean, yerr=curve["sd"], marker="o", ms=4, capsize=3, color=f"C{i}",
                        label=str(group))
        ax.axhline(0.01, color="0.5", ls=":", lw=1)
        values = sorted({float(v) for c in summary.values() for v in c["values"]})
        if values[0] > 0 and values[-1] / values[0] >= 10:  # R0 = 2..32, epsilon, beta and lambda_1 are geometric
            ax.set_xscale("log")
            ax.set_xticks(values, [f"{v:g}" for v in values])
            ax.xaxis.set_minor_locator(NullLocator())
        ax.set_yscale("log")
        ax.set_xlabel(param)
        ax.set_ylabel(f"final KL (nats, floored at {floor:g})")
        ax.set_title(title, fontsize=10)
        if len(summary) > 1:
            ax.legend(fontsize=8)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def baseline_table_kl(tables: dict, kl_bound: float = 0.01, floor: float = 1e-5):
    """v1 / v4 Table 1 (or v1 Table 2) as a dot plot: one panel per table, one line per method; our KL per seed
    (small dots), its mean (filled circle) and the paper's number (open diamond), on a log axis floored at
    ``floor``, with the collapse threshold dotted.

    ``tables`` maps a panel title to :func:`hcvae.chapters.baselines_report.table` rows; the runs' per-seed KL are in
    each row's ``runs`` entry when present (else only the mean is drawn).
    """
    n = len(tables)
    height = max(len(rows) for rows in tables.values())
    fig, axes = plt.subplots(1, n, figsize=(5.4 * n, 0.36 * height + 1.6), squeeze=False, sharey=False)
    for ax, (title, rows) in zip(axes[0], tables.items()):
        names = [r["row"] for r in rows]
        y = np.arange(len(rows))[::-1]
        for yi, r in zip(y, rows):
            if r.get("note") is not None:
                ax.text(0.02, yi, "cannot run (see the table)", va="center", fontsize=7, color="0.4",
                        transform=ax.get_yaxis_transform())
                continue
            for kl in r.get("runs", []):
                ax.scatter(max(kl, floor), yi, s=9, color="C0", alpha=0.45, lw=0)
            ax.scatter(max(r["kl"], floor), yi, s=34, color="C0", zorder=3,
                       label="ours (mean; dots: seeds)" if yi == y[0] else None)
            if r["paper"] is not None:
                ax.scatter(max(r["paper"]["kl"], floor), yi, s=46, marker="D", facecolor="none", edgecolor="C3",
                           zorder=4, label="paper")
        ax.axvline(kl_bound, color="0.5", ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_yticks(y)
        ax.set_yticklabels(names, fontsize=8)
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ax.set_xlabel(f"KL (nats, floored at {floor:g})")
        ax.set_title(title, fontsize=10)
    unique = {}
    for ax in axes[0]:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            unique.setdefault(label, handle)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.legend(unique.values(), unique.keys(), fontsize=8, loc="lower center", ncol=len(unique), frameon=False)
    return fig


def kl_against_ratio_methods(curves: dict, paper: dict | None = None, kl_bound: float = 0.01, floor: float = 1e-5):
    """KL against sigma'^2 / lambda_max for several methods (v1 Figure 5), one panel per data set.

    ``curves`` maps a data set to :func:`hcvae.chapters.baselines_report.ratio_curves` output (per method: ratios, mean
    KL, per-seed runs); ``paper`` maps a data set to {method: {ratio: KL}} drawn as open diamonds in the
    method's colour. Log-log axes floored at ``floor``; the dotted lines are the collapse threshold and
    sigma'^2 = lambda_max.
    """
    fig, axes = plt.subplots(1, len(curves), figsize=(6 * len(curves), 4.2), squeeze=False)
    for ax, (ds, by_method) in zip(axes[0], curves.items()):
        for i, (name, c) in enumerate(by_method.items()):
            color = f"C{i}"
            for ratio, runs in zip(c["ratios"], c["runs"]):
                ax.scatter(np.full(len(runs), ratio), np.maximum(runs, floor), s=10, color=color, alpha=0.4, lw=0)
            ax.plot(c["ratios"], np.maximum(c["mean"], floor), "o-", color=color, ms=4, label=name)
            for ratio, kl in ((paper or {}).get(ds, {}).get(name, {})).items():
                ax.scatter(ratio, max(kl, floor), marker="D", s=42, facecolor="none", edgecolor=color, zorder=4)
        ax.axhline(kl_bound, color="0.5", ls=":", lw=1)
        ax.axvline(1.0, color="0.5", ls="--", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ratios = sorted({r for c in by_method.values() for r in c["ratios"]})
        ax.set_xticks(ratios)
        ax.set_xticklabels([f"{r:g}" for r in ratios])
        ax.minorticks_off()
        ax.set_xlabel(r"$\sigma'^2/\lambda_{max}$")
        ax.set_ylabel(f"KL (nats, floored at {floor:g})")
        ax.set_title(f"{ds} (diamonds: the paper's numbers)" if paper and paper.get(ds) else ds, fontsize=10)
    axes[0, -1].legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def kl_elbo_tradeoff(points: dict, ratio: float = 2.0):
    """Every method's final KL against its negative ELBO, one point per seed (:func:`hcvae.book.claims.tradeoff`).

    One row per data set; left, the methods trained on the raw data with vanilla's mean negative ELBO as the
    dashed reference; right, the Spherical VAE on the shell data with the plain VAE's on those data. A cure that
    buys KL without paying likelihood would sit right of the line's level, not above it.
    """
    datasets = list(points)
    fig, axes = plt.subplots(len(datasets), 2, figsize=(12.5, 4.3 * len(datasets)), squeeze=False,
                             gridspec_kw={"width_ratios": [2.2, 1]})
    for row, ds in zip(axes, datasets):
        for ax, side, ref_label in ((row[0], "raw", "vanilla VAE"), (row[1], "shell", "plain VAE, shell data")):
            groups = points[ds][side]
            markers = "o^svDP*Xh<>p"
            for i, (name, pts) in enumerate(groups.items()):
                if not pts:
                    continue
                kl, nelbo = np.array(pts, dtype=float).T
                ax.scatter(np.maximum(kl, 1e-5), nelbo, s=22, color=f"C{i % 10}", marker=markers[(i // 10) % len(markers)],
                           label=name, alpha=0.85)
            ref = points[ds][f"{side}_reference"]
            if ref is not None:
                ax.axhline(ref, color="0.3", ls="--", lw=1, label=f"{ref_label} (mean −ELBO)")
            ax.axvline(0.01, color="0.6", ls=":", lw=1)
            ax.set_xscale("log")
            ax.set_xlabel("final KL (nats, floored at 1e-5)")
            ax.set_ylabel("final −ELBO (nats per sample)")
            ax.set_title(f"{ds}, {'raw data' if side == 'raw' else 'shell data'}, σ'² = {ratio:g}·λ_max", fontsize=10)
            ax.legend(fontsize=6.5, loc="best", ncol=2 if side == "raw" else 1)
    fig.tight_layout()
    return fig

"""Chapter 08: noise variance against lambda_max, the x_0-gain curves, Algorithm 2's rounds, sampling with other schedules, sample diversity, the samples."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from hcvae.core.theory import critical_timestep


def noise_variance_critical(schedules, levels: dict):
    """v1 Figure 6: the noise variance 1 - abar_t of each schedule, with each lambda_max drawn across it.

    ``levels`` maps a label (data set and scaling) to lambda_max. Solid lines: lambda_max itself (v1 eq. 13);
    dotted: lambda_max / (1 + lambda_max), where the signal-to-noise ratio along the top direction is 1.
    A marker sits at each t_c; a lambda_max >= 1 never meets the curve under eq. 13.
    """

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

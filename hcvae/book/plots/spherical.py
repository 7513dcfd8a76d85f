"""Chapter 05: v4 Table 2 as bars, training dynamics, KL against the penalty weight."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


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

"""Chapters 02 and 03: the diversity of the EM clusterings, collapsed candidates against delta, the feasible region against K."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


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

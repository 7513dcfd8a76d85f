"""Chapter 04: one HCT run stage by stage, and a per-epoch quantity of HCT and its controls."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from hcvae.methods.consensus import discarded_at, retention_matrix


def hct_trajectories(record: dict, title: str = "", layout: bool = True):
    """One HCT run (v1 Figures 2 left, 3 and 7): KL by epoch with the stages marked; ell_C of clusterings
    discarded in each round over the rest of training; which clusterings survive each round.

    ``layout=False`` leaves the layout to the caller (an explorer resizes the figure first: a layout pass costs
    as much as drawing this figure, its log axes' tick labels being typeset)."""

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
    if layout:
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


def consensus_pairs(effects: list[dict]):
    """What consensus adds (v1 §4.2–4.3), paired by seed: per (data set, reading, x̂), each seed's final KL of HCT
    minus that of the single-clustering control under the same reading (a point per seed), their mean with two
    standard errors, and zero (no gain). A symmetric-log axis: the differences span collapsed (≈1e-5) to several
    nats."""
    effects = [e for e in effects if e.get("diffs")]
    fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(effects) + 1.3))
    for i, e in enumerate(effects):
        d = np.asarray(e["diffs"], dtype=float)
        jitter = np.linspace(-0.12, 0.12, len(d)) if len(d) > 1 else np.zeros(1)
        ax.scatter(d, i + jitter, s=14, color="C0", alpha=0.8, zorder=3)
        se = e["diff_se"] if np.isfinite(e["diff_se"]) else 0.0
        ax.errorbar(e["diff"], i, xerr=2 * se, fmt="|", color="k", ms=12, capsize=3, zorder=4)
    ax.axvline(0, color="0.4", lw=1, ls="--")
    ax.set_xscale("symlog", linthresh=1e-3)
    ax.set_yticks(range(len(effects)))
    ax.set_yticklabels([f"{e['dataset']}, {e['reading']}, x̂ {e['xhat']}" for e in effects], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("final KL, HCT − single clustering (nats; points: seeds, bar: mean ± 2 se)")
    fig.tight_layout()
    return fig

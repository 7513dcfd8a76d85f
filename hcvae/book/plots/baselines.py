"""Chapters 06 and 07 and the report: the headline tables' KL, KL against sigma'^2/lambda_max per method, the ablation curves, every method's KL against its negative ELBO."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.ticker import NullLocator
import numpy as np

from hcvae.chapters.rules import COLLAPSE_KL


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
        ax.axhline(COLLAPSE_KL, color="0.5", ls=":", lw=1)
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


def baseline_table_kl(tables: dict, kl_bound: float = COLLAPSE_KL, floor: float = 1e-5):
    """v1 / v4 Table 1 (or v1 Table 2) as a dot plot: one panel per table, one line per method; our KL per seed
    (small dots), its mean (filled circle) and the paper's number (open diamond), on a log axis floored at
    ``floor``, with the collapse threshold dotted.

    ``tables`` maps a panel title to :func:`hcvae.chapters.baselines_report.table` rows; the runs' per-seed KL are in
    each row's ``runs`` entry when present (else only the mean is drawn).
    """
    n = len(tables)
    height = max(len(rows) for rows in tables.values())
    ncols = min(n, 3)  # three panels a row: five data sets' columns stay legible in the page's width
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.4 * ncols, (0.36 * height + 1.6) * nrows), squeeze=False,
                             sharey=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for ax, (title, rows) in zip(axes.flat, tables.items()):
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
    for ax in axes.flat[:n]:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            unique.setdefault(label, handle)
    fig.tight_layout(rect=(0, 0.06 / nrows, 1, 1))
    fig.legend(unique.values(), unique.keys(), fontsize=8, loc="lower center", ncol=len(unique), frameon=False)
    return fig


def kl_against_ratio_methods(curves: dict, paper: dict | None = None, kl_bound: float = COLLAPSE_KL, floor: float = 1e-5):
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
            ax.axvline(COLLAPSE_KL, color="0.6", ls=":", lw=1)
            ax.set_xscale("log")
            ax.set_xlabel("final KL (nats, floored at 1e-5)")
            ax.set_ylabel("final −ELBO (nats per sample)")
            ax.set_title(f"{ds}, {'raw data' if side == 'raw' else 'shell data'}, σ'² = {ratio:g}·λ_max", fontsize=10)
            ax.legend(fontsize=6.5, loc="best", ncol=2 if side == "raw" else 1)
    fig.tight_layout()
    return fig

"""Chapter 05's explorer: the λ₁ dial of the Spherical VAE."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from hcvae.book.widgets.frames import Control, explorer


def penalty_explorer(sweep_results: dict, references: dict | None = None, live: bool | None = None):
    """The λ₁ dial of the Spherical VAE: KL against negative ELBO of every run of a data set, with the runs at
    the chosen λ₁ (the boundary-penalty weight) highlighted and labelled by seed.

    ``sweep_results`` maps a data set to its list of stored Spherical-VAE results (``config["lambda_boundary"]``,
    ``config["seed"]``, ``metrics["kl"]``, ``metrics["neg_elbo"]``); ``references`` optionally maps a data set
    to {label: (negative ELBO, KL)} drawn as stars (e.g. the plain VAE). Controls: data set (dropdown) and λ₁
    (a slider over the values of the grid). Static: one frame per (data set, λ₁), a message where the data set
    has no run at that λ₁; live: the same choices, drawn on demand.
    """
    datasets = [ds for ds, rs in sweep_results.items() if rs]
    if not datasets:
        raise ValueError("no results to explore")
    points = {ds: [(float(r["config"]["lambda_boundary"]), r["config"].get("seed"), float(r["metrics"]["neg_elbo"]),
                    float(r["metrics"]["kl"])) for r in sweep_results[ds]] for ds in datasets}
    lambdas = sorted({p[0] for ps in points.values() for p in ps})

    def draw(dataset, lam):
        pts = points[dataset]
        chosen = [p for p in pts if p[0] == lam]
        if not chosen:
            return f"No run on {dataset} at λ₁ = {lam:g} (its grid: {', '.join(f'{v:g}' for v in sorted({p[0] for p in pts}))})."
        fig, ax = plt.subplots(figsize=(6.2, 3.4))
        others = [p for p in pts if p[0] != lam]
        ax.scatter([p[2] for p in others], [p[3] for p in others], s=16, color="0.7", label="other λ₁")
        means = {}
        for p in pts:
            means.setdefault(p[0], []).append((p[2], p[3]))
        order = sorted(means)
        mx = [np.mean([q[0] for q in means[v]]) for v in order]
        my = [np.mean([q[1] for q in means[v]]) for v in order]
        ax.plot(mx, my, "-", color="0.75", lw=1, zorder=0)
        for v, x, y in zip(order, mx, my):
            ax.annotate(f"{v:g}", (x, y), fontsize=7, color="0.45", xytext=(3, 3), textcoords="offset points")
        ax.scatter([p[2] for p in chosen], [p[3] for p in chosen], s=46, color="C3", edgecolor="k", zorder=3,
                   label=f"λ₁ = {lam:g}")
        for p in chosen:
            ax.annotate(f"seed {p[1]}", (p[2], p[3]), fontsize=7.5, xytext=(4, -9), textcoords="offset points")
        for i, (label, (elbo, kl)) in enumerate((references or {}).get(dataset, {}).items()):
            ax.scatter([elbo], [kl], marker="*", s=110, color=f"C{i}", edgecolor="k", zorder=3, label=label)
        ax.set_xlabel("negative ELBO (nats per sample)")
        ax.set_ylabel("KL (nats)")
        kl = np.array([p[3] for p in chosen])
        elbo = np.array([p[2] for p in chosen])
        ax.set_title(f"{dataset}, λ₁ = {lam:g}: KL {kl.mean():.3g} ± {kl.std():.2g}, −ELBO {elbo.mean():.4g} "
                     f"({len(chosen)} seed(s); grey labels: λ₁ of each mean)", fontsize=8.5)
        ax.legend(fontsize=7.5, loc="best")
        fig.tight_layout()
        return fig

    initial = len(lambdas) // 2
    controls = [Control("dataset", "data", [(ds, ds) for ds in datasets]),
                Control("lam", "λ₁", [(f"{v:g}", v) for v in lambdas], kind="slider" if len(lambdas) > 1 else "dropdown",
                        initial=initial)]
    return explorer(controls, draw, live)

"""Chapter 07's explorer: one ablation grid at a time, under one reading of the text."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from hcvae.book.widgets.frames import Control, explorer
from hcvae.chapters.ablations import reading_of
from hcvae.chapters.rules import COLLAPSE_KL  # drawn as a dotted line

KL_FLOOR = 1e-5  # log-scale KL axes floor values here, as in hcvae.book.plots
ABLATION_PARAMS = ("r0", "epsilon", "keep_ratio", "beta")


def ablation_explorer(results: dict, params: Sequence[str] = ABLATION_PARAMS, live: bool | None = None):
    """One ablation grid at a time: final KL against the swept parameter, each seed a point, the mean a line,
    for one reading of the ambiguous text (as :func:`hcvae.chapters.ablations.reading_of` names it, e.g. "min_k, x̂
    sample"); the dotted line is v1's collapse threshold (0.01 nats).

    ``results`` maps a parameter (one of ``params``: "r0", "epsilon", "keep_ratio", "beta") to its list of
    stored HCT results (``config[param]``, ``config["seed"]``, ``metrics["kl"]``). Controls: the ablation and
    the reading. Static: one frame per (ablation, reading), a message where that grid has no run under the
    reading; live: the same choices, drawn on demand.
    """
    params = [p for p in params if results.get(p)]
    if not params:
        raise ValueError("no ablation results to explore")
    readings = sorted({reading_of(r["config"]) for p in params for r in results[p]})

    def draw(param, reading):
        runs = [r for r in results[param] if reading_of(r["config"]) == reading]
        if not runs:
            return f"The {param} grid has no run under the reading “{reading}”."
        by_value: dict = {}
        for r in runs:
            by_value.setdefault(float(r["config"][param]), []).append((r["config"].get("seed"), float(r["metrics"]["kl"])))
        values = sorted(by_value)
        fig, ax = plt.subplots(figsize=(6.0, 3.3))
        for v in values:
            kls = [max(kl, KL_FLOOR) for _, kl in by_value[v]]
            ax.scatter(np.full(len(kls), v), kls, s=18, color="C0", alpha=0.6, zorder=3)
        mean = [max(float(np.mean([kl for _, kl in by_value[v]])), KL_FLOOR) for v in values]
        ax.plot(values, mean, "o-", color="C3", ms=5, lw=1.3, label="mean over seeds")
        ax.scatter([], [], s=18, color="C0", alpha=0.6, label="one seed")
        ax.axhline(COLLAPSE_KL, color="0.5", ls=":", lw=1, label="collapse (0.01 nats)")
        if values[0] > 0 and values[-1] / values[0] >= 10:
            ax.set_xscale("log")
            ax.set_xticks(values, [f"{v:g}" for v in values])
            ax.xaxis.set_minor_locator(plt.NullLocator())
        ax.set_yscale("log")
        ax.set_xlabel(param)
        ax.set_ylabel(f"final KL (nats, floored at {KL_FLOOR:g})")
        n_seeds = len({s for v in values for s, _ in by_value[v]})
        ax.set_title(f"{param} grid, {reading}: {len(runs)} runs, {n_seeds} seed(s)", fontsize=9)
        ax.legend(fontsize=7.5, loc="best")
        fig.tight_layout()
        return fig

    controls = [Control("param", "ablation", [(p, p) for p in params]),
                Control("reading", "reading", [(r, r) for r in readings])]
    return explorer(controls, draw, live)

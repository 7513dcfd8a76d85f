"""Chapter 04's explorer: one HCT run's trajectory at a time."""

from __future__ import annotations

from typing import Sequence

from hcvae.book import plots
from hcvae.book.widgets.frames import Control, explorer
from hcvae.book.widgets.results import hashable, index_results, label, options_of


def hct_explorer(results: Sequence[dict], live: bool | None = None, size=(11.0, 3.1)):
    """One HCT run at a time (v1 Figures 2 left, 3 and 7, as :func:`hcvae.book.plots.hct_trajectories` draws it): KL
    per epoch with the stages marked, ℓ_C of every clustering per epoch, which clusterings survive each round.

    ``results`` are stored HCT results (chapter 04's ``ch.results``); only those with ``config["method"] ==
    "hct"`` are shown. Each needs ``config`` (dataset, reading, xhat, seed) and ``record`` (history, rounds,
    sizes). Controls: data set, reading of ℓ_C (min_k / own_centre), x̂ (sample / mean) and seed, plus any
    other config key that varies among the runs. Static: one frame per run (a message where a combination has
    no run); live: the same choices, drawn on demand.
    """
    hct = [r for r in results if r["config"].get("method", "hct") == "hct"]
    if not hct:
        raise ValueError("no HCT runs (config['method'] == 'hct') among the results")
    index, keys = index_results(hct, ("dataset", "reading", "xhat", "seed"),
                                 key_of={"xhat": lambda c: c.get("xhat", "mean")})

    def draw(**values):
        t = tuple(hashable(values[k]) for k in keys)
        if t not in index:
            return "No HCT run stored for " + ", ".join(f"{k} = {label(values[k])}" for k in keys) + "."
        extra = "".join(f", {k} {label(values[k])}" for k in keys[4:])
        fig = plots.hct_trajectories(index[t]["record"], title=f"{values['dataset']}, {values['reading']} reading, "
                                     f"x̂ {values['xhat']}, seed {values['seed']}{extra}: "
                                     f"final KL {index[t]['metrics']['kl']:.3g} nats", layout=False)
        fig.set_size_inches(*size)
        fig.suptitle(fig.get_suptitle(), fontsize=9.5)
        for ax in fig.axes:
            for item in [ax.title, ax.xaxis.label, ax.yaxis.label]:
                item.set_fontsize(8.5)
        fig.tight_layout()
        return fig

    labels = {"dataset": "data", "reading": "ℓ_C reading", "xhat": "x̂", "seed": "seed"}
    controls = [Control(k, labels.get(k, k), options_of(index, i)) for i, k in enumerate(keys)]
    return explorer(controls, draw, live)

"""ipywidgets explorers. Each has a static counterpart in :mod:`hcvae.plots` for the printed book."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from . import plots
from .theory import linear_vae_optimum


def sigma2_explorer(spectra: dict, latent_dim: int = 8):
    """Slide sigma'^2 / lambda_max and see which latent dimensions the linear theory keeps, and their KL.

    ``spectra`` maps a data-set name to its covariance spectrum (largest first).
    """
    import ipywidgets as w

    names = list(spectra)
    dataset = w.Dropdown(options=names, value=names[0], description="data")
    ratio = w.FloatLogSlider(value=0.5, base=10, min=-1.5, max=1, step=0.02, description="σ'²/λmax",
                             readout_format=".3g", continuous_update=False)

    def show(dataset, ratio):
        spectrum = np.asarray(spectra[dataset], float)
        sigma2 = ratio * spectrum[0]
        opt = linear_vae_optimum(spectrum, sigma2, latent_dim)
        fig, (ax_s, ax_k) = plt.subplots(1, 2, figsize=(10, 3.4), gridspec_kw={"width_ratios": [2, 1]})
        plots.spectrum_threshold(spectrum, sigma2, latent_dim, ax=ax_s,
                                 title=f"{dataset}: {opt['active_units']} of {latent_dim} latent dims active")
        ax_k.bar(np.arange(1, latent_dim + 1), opt["kl_per_dim"], color="C3")
        ax_k.set_xlabel("latent dimension")
        ax_k.set_ylabel("KL per dim (nats)")
        ax_k.set_title(f"total KL = {opt['kl']:.3f} nats")
        fig.tight_layout()
        plt.show()

    return w.interactive(show, dataset=dataset, ratio=ratio)

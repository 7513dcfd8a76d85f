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


def feasible_region_explorer(datasets: dict, ks=tuple(range(2, 21)), n_points: int = 2000, seed: int = 0):
    """Sliders for K and the shell radii, a menu for the shell reading: WCSS, L_collapse and the
    region redrawn on a random subset of ``n_points`` samples (one K-means start per K, for speed).

    ``datasets`` maps a name to its raw (untransformed) data array.
    """
    import ipywidgets as w

    from .feasible import region_curve
    from .spherical import SHELL_READINGS, ShellTransform

    rng = np.random.default_rng(seed)
    subsets = {name: x[rng.choice(len(x), size=min(n_points, len(x)), replace=False)] for name, x in datasets.items()}
    controls = dict(
        dataset=w.Dropdown(options=list(subsets), description="data"),
        reading=w.Dropdown(options=list(SHELL_READINGS), description="shell"),
        r_min=w.FloatSlider(value=1.0, min=0.0, max=3.0, step=0.1, description="r_min", continuous_update=False),
        r_max=w.FloatSlider(value=2.0, min=0.1, max=4.0, step=0.1, description="r_max", continuous_update=False),
        k=w.IntSlider(value=8, min=min(ks), max=max(ks), description="K", continuous_update=False),
    )

    def show(dataset, reading, r_min, r_max, k):
        if r_min >= r_max:
            print(f"r_min ({r_min}) must be below r_max ({r_max})")
            return
        xs = ShellTransform(r_min, r_max, reading).fit_transform(subsets[dataset])
        curve = region_curve(xs, ks, seed=seed, n_init=1)
        fig = plots.feasible_region_vs_k({f"{dataset}, {reading} shell [{r_min:g}, {r_max:g}]": curve},
                                         marks={f"{dataset}, {reading} shell [{r_min:g}, {r_max:g}]": k})
        i = list(ks).index(k)
        fig.axes[0].set_title(fig.axes[0].get_title() + f"\nK = {k}: WCSS {curve['wcss'][i]:.3g}, "
                              f"L_collapse {curve['l_collapse'][i]:.3g}", fontsize=9)
        plt.show()

    return w.interactive(show, **controls)

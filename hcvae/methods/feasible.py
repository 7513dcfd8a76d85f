"""v4 §3.2-3.4 put to numbers: the feasible region [WCSS, L_collapse] of a K-means clustering
of shell-transformed data, and the reconstructions Theorem 3.4 places in or out of it.

The theorem's two anchor points: a collapsed model (x_hat = data mean for every
input) has cluster-aware loss (v4 eq. 7) exactly L_collapse; an ideal one (x_hat = x)
has exactly WCSS. :func:`reconstruction_probes` adds reconstructions between and
beyond those points.
"""

from __future__ import annotations

import numpy as np

from hcvae.core.data import check_data
from hcvae.methods.clustering import clustering_loss, feasible_region, fit_kmeans


def region_curve(x, ks, seed: int = 0, n_init: int = 4) -> dict:
    """TSS, WCSS, L_collapse and the identity error for K-means with each K in ``ks``."""
    x = check_data(x)
    rows = [feasible_region(x, fit_kmeans(x, int(k), seed=seed, n_init=n_init)) for k in ks]
    return {key: np.array([r[key] for r in rows]) for key in ("k", "tss", "wcss", "l_collapse", "identity_error", "width")}


def anchor_points(x, clustering) -> dict:
    """Cluster-aware loss of the collapsed and of the ideal reconstruction, beside L_collapse and WCSS."""
    x = check_data(x).astype(np.float64)
    region = feasible_region(x, clustering)
    return {
        "collapsed_loss": clustering_loss(x.mean(0)[None, :], clustering, "own_centre"),
        "ideal_loss": clustering_loss(x, clustering, "own_centre"),
        **region,
    }


def reconstruction_probes(x, clustering, seed: int = 0, alphas=(0.25, 0.5, 0.75, 0.9), noise_scales=(0.1, 0.5)) -> list[dict]:
    """Non-collapsed reconstructions and where their cluster-aware loss falls against [WCSS, L_collapse].

    * ``shrunk towards the mean``: x_hat = a x + (1 - a) mean, part way to collapse;
    * ``perfect + noise``: x_hat = x + s * (per-feature std) * N(0, 1);
    * ``own cluster centre``: x_hat = mu_{c(x)}, a reconstruction that keeps exactly the cluster;
    * ``another sample``: x_hat = a random other row of x.
    """
    x = check_data(x).astype(np.float64)
    rng = np.random.default_rng(seed)
    region = feasible_region(x, clustering)
    mean, std = x.mean(0), x.std(0)
    probes = [(f"shrunk towards the mean, a = {a:g}", a * x + (1 - a) * mean) for a in alphas]
    probes += [(f"perfect + noise, s = {s:g}", x + s * std * rng.standard_normal(x.shape)) for s in noise_scales]
    probes += [("own cluster centre", clustering.means[clustering.labels]),
               ("another sample", x[rng.permutation(x.shape[0])])]
    out = []
    for name, x_hat in probes:
        loss = clustering_loss(x_hat, clustering, "own_centre")
        if not region["nonempty"]:
            position = "outside (the region is empty)"
        elif loss < region["wcss"]:
            position = "below WCSS"
        else:
            position = "above L_collapse" if loss > region["l_collapse"] else "inside"
        out.append({"name": name, "loss": loss, "position": position})
    return out


def region_at(curve: dict, k: int) -> dict:
    """The region of a :func:`region_curve` at one K, and the smallest K of the curve where it is non-empty."""
    ks = np.asarray(curve["k"])
    if k not in ks:
        raise ValueError(f"K = {k} is not on the curve; its K values are {ks.tolist()}")
    i = int(np.flatnonzero(ks == k)[0])
    open_ks = ks[curve["wcss"] < curve["l_collapse"]]
    return {"k": int(k), "wcss": float(curve["wcss"][i]), "l_collapse": float(curve["l_collapse"][i]),
            "width_over_tss": float(curve["width"][i] / curve["tss"][i]), "nonempty": bool(curve["width"][i] > 0),
            "smallest_open_k": int(open_ks.min()) if open_ks.size else None}

"""Clusterings of a data set and the quantities both papers' theorems are built from.

* R EM runs of a Gaussian mixture (scikit-learn ``GaussianMixture``, seeds 0..R-1, in
  parallel across cores) and K-means: :func:`fit_gmms`, :func:`fit_kmeans`.
* How different R clusterings really are (v1 §6.2 names low diversity as a risk):
  :func:`clustering_distance`, :func:`diversity`.
* v1's clustering loss ell_C (eq. 8, the ``"min_k"`` reading) and the own-centre
  reading of v4 eq. 7 (``"own_centre"``): :func:`clustering_loss`; the historical
  loss max_C ell_C (v1 Definition 4.1); delta_C and delta (v1 Theorem 4.4 and
  Appendix A eq. 14).
* v4 eqs. 3-6: TSS, WCSS, L_collapse and the identity TSS = WCSS + L_collapse:
  :func:`feasible_region`.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score

from hcvae.core.data import check_data
from hcvae.core.validation import check_choice

READINGS = ("min_k", "own_centre")
COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data")


@dataclass(frozen=True)
class Clustering:
    """One clustering of a data set: K centres, their weights, and each sample's hard assignment."""

    means: np.ndarray  # (K, N)
    weights: np.ndarray  # (K,), sums to 1
    labels: np.ndarray  # (n,), hard assignment of each sample
    covariances: np.ndarray | None = None
    log_likelihood: float = float("nan")  # mean per-sample log-likelihood (GMM) or minus the inertia per sample (K-means)
    n_iter: int = 0
    converged: bool = True
    seed: int = 0
    method: str = "gmm"
    info: dict = field(default_factory=dict)

    @property
    def n_clusters(self) -> int:
        return self.means.shape[0]

    @property
    def dim(self) -> int:
        return self.means.shape[1]


def _check_k(k: int, n: int, name: str = "n_components") -> None:
    if int(k) != k or k < 1:
        raise ValueError(f"{name} must be an integer >= 1; got {k!r}")
    if k > n:
        raise ValueError(f"{name} ({k}) is larger than the number of samples ({n}); use {name} <= {n}")



def check_clusterings(x: np.ndarray, clusterings) -> list[Clustering]:
    """Every clustering must have centres in the data's dimension and one label per sample."""
    clusterings = list(clusterings)
    if not clusterings:
        raise ValueError("clusterings is empty; give at least one clustering")
    for i, c in enumerate(clusterings):
        if c.dim != x.shape[1]:
            raise ValueError(f"clustering {i} has centres of dimension {c.dim}, the data have {x.shape[1]}: they must match")
        if c.labels.shape[0] != x.shape[0]:
            raise ValueError(f"clustering {i} labels {c.labels.shape[0]} samples, the data have {x.shape[0]}: they must match")
    return clusterings


def _fit_one_gmm(x, n_components, seed, covariance_type, init_params, max_iter, tol):
    from sklearn.mixture import GaussianMixture

    gmm = GaussianMixture(n_components, covariance_type=covariance_type, init_params=init_params,
                          max_iter=max_iter, tol=tol, random_state=seed).fit(x)
    return Clustering(
        means=gmm.means_, weights=gmm.weights_, labels=gmm.predict(x), covariances=gmm.covariances_,
        log_likelihood=float(gmm.score(x)), n_iter=int(gmm.n_iter_), converged=bool(gmm.converged_), seed=seed,
        method="gmm", info={"covariance_type": covariance_type, "init_params": init_params},
    )


def fit_gmms(x, n_components: int, n_runs: int, covariance_type: str = "full", init_params: str = "kmeans",
             max_iter: int = 200, tol: float = 1e-3, first_seed: int = 0, n_jobs: int | None = None) -> list[Clustering]:
    """R = ``n_runs`` EM fits of a K-component Gaussian mixture with seeds first_seed .. first_seed + R - 1.

    The fits run in parallel (joblib processes, ``n_jobs`` defaulting to one per
    core); the result does not depend on ``n_jobs``. ``init_params="kmeans"`` is
    scikit-learn's (and the paper's presumable) default; ``"random"`` and
    ``"random_from_data"`` start EM from more varied points.
    """
    x = check_data(x)
    _check_k(n_components, x.shape[0])
    if int(n_runs) != n_runs or n_runs < 1:
        raise ValueError(f"n_runs (R) must be an integer >= 1; got {n_runs!r}")
    check_choice("covariance_type", covariance_type, COVARIANCE_TYPES)
    check_choice("init_params", init_params, INIT_PARAMS)
    seeds = [first_seed + i for i in range(int(n_runs))]
    n_jobs = n_jobs or min(len(seeds), os.cpu_count() or 1)
    args = (x, int(n_components))
    if n_jobs == 1:
        from threadpoolctl import threadpool_limits

        # One BLAS thread, as in joblib's workers: the same numbers whatever n_jobs, and no oversubscription.
        with threadpool_limits(limits=1):
            return [_fit_one_gmm(*args, s, covariance_type, init_params, max_iter, tol) for s in seeds]
    from joblib import Parallel, delayed

    return Parallel(n_jobs=n_jobs)(delayed(_fit_one_gmm)(*args, s, covariance_type, init_params, max_iter, tol) for s in seeds)


def fit_kmeans(x, n_clusters: int, seed: int = 0, n_init: int = 10) -> Clustering:
    """K-means (scikit-learn, k-means++ initialisation, best of ``n_init``) as a :class:`Clustering`."""
    from sklearn.cluster import KMeans

    x = check_data(x)
    _check_k(n_clusters, x.shape[0], "n_clusters")
    km = KMeans(n_clusters, n_init=n_init, random_state=seed).fit(x)
    labels = km.labels_
    # Centres recomputed in float64 from the assignment, so the TSS identity holds to rounding.
    means = np.stack([x[labels == k].astype(np.float64).mean(0) if np.any(labels == k) else km.cluster_centers_[k]
                      for k in range(n_clusters)])
    return Clustering(means=means, weights=np.bincount(labels, minlength=n_clusters) / x.shape[0], labels=labels, log_likelihood=-float(km.inertia_) / x.shape[0],
                      n_iter=int(km.n_iter_), seed=seed, method="kmeans")


# ---- diversity -------------------------------------------------------------------------------------------


def clustering_distance(a: Clustering, b: Clustering) -> dict:
    """How far apart two clusterings are.

    ``centre_distance``: root-mean-square distance between centres after the best
    one-to-one matching (Hungarian algorithm; 0 for the same solution up to
    relabelling); ``ari``: adjusted Rand index of the hard assignments (1 for the
    same partition).
    """
    if a.dim != b.dim:
        raise ValueError(f"clusterings live in different dimensions ({a.dim} and {b.dim})")
    d2 = ((a.means[:, None, :] - b.means[None, :, :]) ** 2).sum(-1)
    rows, cols = linear_sum_assignment(d2)
    return {"centre_distance": float(np.sqrt(d2[rows, cols].mean())),
            "ari": float(adjusted_rand_score(a.labels, b.labels)) if a.labels.shape == b.labels.shape else float("nan")}


def diversity(clusterings, ari_same: float = 0.99) -> dict:
    """Pairwise distances between R clusterings and the number of distinct solutions.

    Two clusterings count as the same solution when their ARI is at least
    ``ari_same``; ``n_distinct`` is the number of groups this links (connected
    components of the "same" relation).
    """
    clusterings = list(clusterings)
    r = len(clusterings)
    centre = np.zeros((r, r))
    ari = np.ones((r, r))
    for i, j in itertools.combinations(range(r), 2):
        d = clustering_distance(clusterings[i], clusterings[j])
        centre[i, j] = centre[j, i] = d["centre_distance"]
        ari[i, j] = ari[j, i] = d["ari"]
    return diversity_of(centre, ari, [c.log_likelihood for c in clusterings], ari_same)


def diversity_of(centre_distance, ari, log_likelihood, ari_same: float = 0.99) -> dict:
    """:func:`diversity` from its pairwise matrices (R x R) and the R log-likelihoods, as a stored run keeps them."""
    centre, ari = np.asarray(centre_distance, dtype=np.float64), np.asarray(ari, dtype=np.float64)
    r = ari.shape[0]
    group = list(range(r))  # union-find over "same solution" pairs

    def root(i):
        while group[i] != i:
            group[i] = group[group[i]]
            i = group[i]
        return i

    for i, j in itertools.combinations(range(r), 2):
        if ari[i, j] >= ari_same:
            group[root(i)] = root(j)
    upper = np.triu_indices(r, 1)
    return {
        "centre_distance": centre, "ari": ari, "n_distinct": len({root(i) for i in range(r)}), "ari_same": ari_same,
        "mean_centre_distance": float(centre[upper].mean()) if r > 1 else 0.0,
        "min_ari": float(ari[upper].min()) if r > 1 else 1.0,
        "log_likelihood": np.asarray(log_likelihood, dtype=np.float64),
    }


# ---- v1: clustering loss, historical loss, delta ---------------------------------------------------------


def label_shares(clustering: Clustering) -> np.ndarray:
    """pi_k: the share of samples the clustering assigns to each cluster."""
    return np.bincount(clustering.labels, minlength=clustering.n_clusters) / clustering.labels.size


def clustering_loss(x_hat, clustering: Clustering, reading: str = "min_k") -> float:
    """ell_C of reconstructions ``x_hat`` (one row per data sample).

    ``"min_k"`` (v1 eq. 8): mean over samples of min_k ||x_hat - mu_k||^2.
    ``"own_centre"`` (v4 eq. 7): mean of ||x_hat_i - mu_{c(i)}||^2, c(i) the
    clustering's label of sample i. A constant reconstruction may be given as one row.
    """
    check_choice("reading", reading, READINGS)
    x_hat = np.atleast_2d(np.asarray(x_hat, dtype=np.float64))
    if x_hat.shape[1] != clustering.dim:
        raise ValueError(f"reconstructions have dimension {x_hat.shape[1]}, the clustering {clustering.dim}: they must match")
    if reading == "min_k":
        shift = clustering.means.mean(0)  # expand ||a - b||^2 near the centres, not the origin, to keep precision
        a, b = x_hat - shift, clustering.means - shift
        d2 = (a ** 2).sum(1)[:, None] - 2 * a @ b.T + (b ** 2).sum(1)[None, :]
        return float(np.maximum(d2.min(1), 0.0).mean())
    if x_hat.shape[0] == 1:  # a constant: average over the clustering's own assignment
        return float(label_shares(clustering) @ ((x_hat[0][None, :] - clustering.means) ** 2).sum(1))
    if x_hat.shape[0] != clustering.labels.size:
        raise ValueError(f"own_centre needs one reconstruction per labelled sample ({clustering.labels.size}); got {x_hat.shape[0]}")
    return float(((x_hat - clustering.means[clustering.labels]) ** 2).sum(1).mean())


def historical_loss(x_hat, clusterings, reading: str = "min_k") -> float:
    """L_S = max over the clusterings in S of ell_C (v1 Definition 4.1, eq. 10)."""
    return max(clustering_loss(x_hat, c, reading) for c in clusterings)


def delta_c(clustering: Clustering, c) -> float:
    """delta_C = min_k ||c - mu_k||^2 (v1 Appendix A, eq. 14): ell_C of the constant reconstruction c, min_k reading."""
    return clustering_loss(np.asarray(c)[None, :], clustering, "min_k")


def delta(clusterings, c) -> float:
    """delta = min over clusterings of delta_C (v1 Theorem 4.4): the bound the theorem puts under any collapsed solution."""
    return min(delta_c(cl, c) for cl in clusterings)


def epsilon_excludes_collapse(epsilon_t: float, delta_value: float) -> bool:
    """v1 Theorem 4.4's condition: the final feasible region excludes collapse when epsilon_T < delta."""
    return bool(epsilon_t < delta_value)


def minimax_constant(clusterings, reading: str = "min_k", steps: int = 300, extra_candidates=()) -> dict:
    """The constant reconstruction c with the smallest historical loss max_C ell_C(c) we can find.

    Collapsed decoders output a constant; Theorem 4.4's proof only looks at the
    data mean. Starting points: every centre of every clustering, plus
    ``extra_candidates`` (e.g. the data mean); the best few are refined by
    subgradient descent on max_C ell_C(c). The result is an upper bound on the
    true minimum.
    """
    clusterings = list(clusterings)
    candidates = [m for cl in clusterings for m in cl.means] + [np.asarray(c, float) for c in extra_candidates]

    def loss(c):
        return historical_loss(c[None, :], clusterings, reading)

    scored = sorted(((loss(c), i) for i, c in enumerate(candidates)))
    best_c, best = np.asarray(candidates[scored[0][1]], float), scored[0][0]
    for _, i in scored[:5]:
        c = np.asarray(candidates[i], float).copy()
        for step in range(steps + 1):
            losses = [clustering_loss(c[None, :], cl, reading) for cl in clusterings]
            if max(losses) < best:
                best, best_c = max(losses), c.copy()
            worst = clusterings[int(np.argmax(losses))]
            if reading == "min_k":  # the worst clustering's nearest centre
                target = worst.means[np.argmin(((worst.means - c) ** 2).sum(1))]
            else:  # own_centre: ell_C(c) = ||c - sum_k pi_k mu_k||^2 + const
                target = label_shares(worst) @ worst.means
            c = c + (0.5 / (1 + step)) * (target - c)  # a shrinking step towards it
    return {"c": best_c, "historical_loss": best,
            "per_clustering": np.array([clustering_loss(best_c[None, :], cl, reading) for cl in clusterings])}


# ---- v4: TSS, WCSS, L_collapse ---------------------------------------------------------------------------


def tss(x) -> float:
    """TSS = (1/n) sum ||x_i - mean||^2 (v4 eq. 3)."""
    x = check_data(x).astype(np.float64)
    return float(((x - x.mean(0)) ** 2).sum(1).mean())


def wcss(x, clustering: Clustering) -> float:
    """WCSS = (1/n) sum ||x_i - mu_{c(i)}||^2 (v4 eq. 4): what an ideal own-centre reconstruction scores."""
    x = check_data(x).astype(np.float64)
    check_clusterings(x, [clustering])
    return float(((x - clustering.means[clustering.labels]) ** 2).sum(1).mean())


def l_collapse(x, clustering: Clustering) -> float:
    """L_collapse = sum_k pi_k ||mu_k - mean||^2 (v4 eq. 5), pi_k the share of samples in cluster k."""
    x = check_data(x).astype(np.float64)
    check_clusterings(x, [clustering])
    return float(label_shares(clustering) @ ((clustering.means - x.mean(0)) ** 2).sum(1))


def feasible_region(x, clustering: Clustering) -> dict:
    """TSS, WCSS, L_collapse, the identity error |TSS - WCSS - L_collapse| (v4 eq. 6) and the
    region [WCSS, L_collapse]: its width and whether it is non-empty (v4 Theorem 3.4's condition).

    The identity holds exactly when each centre is the mean of the samples labelled with it, as
    for :func:`fit_kmeans`; a Gaussian mixture's (soft) means leave an identity error.
    """
    t, w, lc = tss(x), wcss(x, clustering), l_collapse(x, clustering)
    return {"tss": t, "wcss": w, "l_collapse": lc, "identity_error": abs(t - w - lc),
            "width": lc - w, "nonempty": bool(w < lc), "k": clustering.n_clusters}

"""v1 §4.3 put to numbers without training: Theorem 4.4's delta against every collapsed
solution we can construct, and Lemma 4.3's nesting of feasible regions.

A collapsed VAE ignores z, so its decoder outputs one constant c for every input.
Theorem 4.4's proof (Appendix A) takes c to be the data mean and calls
delta = min_C min_k ||c - mu_k||^2 the bound. Any other constant is collapsed too;
:func:`collapsed_candidates` scores the data mean, the best single cluster centre,
and the constant with the smallest historical loss we can find.
"""

from __future__ import annotations

import numpy as np

from hcvae.core.data import check_data, covariance_spectrum
from hcvae.methods.clustering import check_clusterings, clustering_loss, delta, delta_c, historical_loss, minimax_constant, tss


def collapsed_candidates(x, clusterings, reading: str) -> list[dict]:
    """Historical loss max_C ell_C of three collapsed (constant) reconstructions under ``reading``.

    Returns one dict per candidate: ``name``, the constant ``c`` and its ``historical_loss``.
    """
    x = check_data(x).astype(np.float64)
    clusterings = check_clusterings(x, clusterings)
    mean = x.mean(0)
    centres = [m for cl in clusterings for m in cl.means]
    centre_losses = [historical_loss(m[None, :], clusterings, reading) for m in centres]
    best_centre = centres[int(np.argmin(centre_losses))]
    minimax = minimax_constant(clusterings, reading, extra_candidates=[mean])
    return [
        {"name": "data mean (the proof's c)", "c": mean, "historical_loss": historical_loss(mean[None, :], clusterings, reading)},
        {"name": "best cluster centre", "c": best_centre, "historical_loss": float(min(centre_losses))},
        {"name": "best constant found", "c": minimax["c"], "historical_loss": float(minimax["historical_loss"])},
    ]


def delta_bounds_collapse(x, clusterings, reading: str) -> dict:
    """Does delta (v1 Theorem 4.4, at the data mean) lower-bound the historical loss of every collapsed candidate?"""
    x = check_data(x).astype(np.float64)
    d = delta(clusterings, x.mean(0))
    candidates = collapsed_candidates(x, clusterings, reading)
    lowest = min(candidates, key=lambda c: c["historical_loss"])
    return {"delta": d, "reading": reading, "candidates": candidates, "lowest": lowest,
            "holds": bool(lowest["historical_loss"] >= d)}


def halving_rounds(scores: np.ndarray) -> list[np.ndarray]:
    """The sets S_0 ⊃ S_1 ⊃ ... of v1's power-of-two selection when clustering i scores ``scores[i]``:
    keep the half with the smallest scores until two remain (v1 §4.2.1)."""
    current = np.arange(len(scores))
    rounds = [current]
    while current.size > 2:
        keep = current[np.argsort(scores[current], kind="stable")[: current.size // 2]]
        current = np.sort(keep)
        rounds.append(current)
    return rounds


def nested_region_check(losses: np.ndarray, rounds: list[np.ndarray]) -> list[dict]:
    """Lemma 4.3 (F_{t+1} ⊂ F_t) on a finite family of reconstructions.

    ``losses[j, i]`` is ell of reconstruction j on clustering i. With
    F_t(eps) = {j : max_{i in S_t} losses[j, i] <= eps}: for each round, a
    reconstruction j is a counterexample when it lies in F_{t+1} at
    eps = L_{S_{t+1}}(j) but not in F_t at any eps_t >= that, i.e. when a clustering
    discarded at round t scores it strictly worse than every retained one. The
    opposite inclusion, F_t(eps) ⊂ F_{t+1}(eps), holds by construction (a max over
    fewer terms is smaller); ``reverse_holds`` re-checks it.
    """
    out = []
    for t in range(len(rounds) - 1):
        big, small = losses[:, rounds[t]].max(1), losses[:, rounds[t + 1]].max(1)
        out.append({"round": t, "n_before": int(rounds[t].size), "n_after": int(rounds[t + 1].size),
                    "counterexamples": np.flatnonzero(big > small).tolist(),
                    "reverse_holds": bool(np.all(small <= big))})
    return out


def reconstruction_family(x, clusterings) -> dict:
    """Reconstructions to test Lemma 4.3 on: the identity x_hat = x, and for each clustering the
    reconstruction that snaps every sample to its own centre in that clustering."""
    x = check_data(x).astype(np.float64)
    family = {"identity": x}
    for i, cl in enumerate(clusterings):
        family[f"snap to C{i}"] = cl.means[cl.labels]
    return family


def loss_matrix(family: dict, clusterings, reading: str) -> np.ndarray:
    """ell_C (``reading``) of every reconstruction in ``family`` (rows) on every clustering (columns)."""
    return np.array([[clustering_loss(x_hat, cl, reading) for cl in clusterings] for x_hat in family.values()])


def delta_summary(x, clusterings) -> dict:
    """delta_C of every clustering at the data mean, delta, and the scale they compare with.

    ``eq14_error`` re-derives each delta_C as ell_C (min_k) of the constant reconstruction
    c = data mean given for every sample (v1 Appendix A, eq. 14) and reports the largest
    difference: it should be rounding error.
    """
    x = check_data(x).astype(np.float64)
    clusterings = check_clusterings(x, clusterings)
    mean = x.mean(0)
    per_clustering = np.array([delta_c(cl, mean) for cl in clusterings])
    constant = np.broadcast_to(mean, x.shape)
    eq14 = max(abs(clustering_loss(constant, cl, "min_k") - d) for cl, d in zip(clusterings, per_clustering))
    return {"per_clustering": per_clustering, "delta": float(per_clustering.min()), "max": float(per_clustering.max()),
            "lambda_max": float(covariance_spectrum(x)[0]), "tss": tss(x), "eq14_error": float(eq14)}


def lemma_4_3(x, clusterings, reading: str) -> list[dict]:
    """:func:`nested_region_check` on :func:`reconstruction_family`, with v1's halving rounds scored by
    ell_C of the identity reconstruction (the choice a perfect autoencoder would make)."""
    family = reconstruction_family(x, clusterings)
    losses = loss_matrix(family, clusterings, reading)
    return nested_region_check(losses, halving_rounds(losses[0]))  # row 0: the identity

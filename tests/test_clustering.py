import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from hcvae.methods import clustering as cl
from hcvae.methods.clustering import Clustering

A = 5.0  # half the distance between the two cluster centres, +-A e1


def two_clusters(n=400, dim=3, a=A, noise=0.3, seed=0):
    """Two well-separated Gaussian clusters at +-a e1; returns x and the true labels."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    centres = np.zeros((2, dim))
    centres[0, 0], centres[1, 0] = a, -a
    return (centres[labels] + noise * rng.normal(size=(n, dim))).astype(np.float32), labels


def exact_clustering(x, labels, k=None):
    """A hand-made clustering whose centres are the exact label means."""
    k = int(labels.max()) + 1 if k is None else k
    x = np.asarray(x, np.float64)
    means = np.stack([x[labels == j].mean(0) for j in range(k)])
    return Clustering(means=means, weights=np.bincount(labels, minlength=k) / labels.size, labels=labels, method="hand")


# Noise-free, balanced: a e1 +- d e2 and -a e1 +- d e3 (a = 5, d = 1); data mean 0.
# TSS = a^2 + d^2 = 26, WCSS = d^2 = 1, L_collapse = a^2 = 25.
SYM_X = np.array([[5, 1, 0], [5, -1, 0], [-5, 0, 1], [-5, 0, -1]], dtype=np.float32)
SYM_LABELS = np.array([0, 0, 1, 1])

# Noise-free, unbalanced (3 : 1): centres e1 and -3 e1, data mean 0.
# TSS = (2 + 2 + 1 + 9) / 4 = 3.5, WCSS = (1 + 1) / 4 = 0.5, L_collapse = 3/4 * 1 + 1/4 * 9 = 3.
UNB_X = np.array([[1, 1, 0], [1, -1, 0], [1, 0, 0], [-3, 0, 0]], dtype=np.float32)
UNB_LABELS = np.array([0, 0, 0, 1])


# ---- fitting ---------------------------------------------------------------------------------------------


def test_kmeans_recovers_two_separated_clusters():
    x, truth = two_clusters()
    c = cl.fit_kmeans(x, 2)
    assert c.method == "kmeans" and c.means.shape == (2, 3) and c.labels.shape == (400,)
    assert adjusted_rand_score(truth, c.labels) == 1.0
    means = c.means[np.argsort(c.means[:, 0])]  # -a e1 first
    np.testing.assert_allclose(means, [[-A, 0, 0], [A, 0, 0]], atol=0.1)
    np.testing.assert_allclose(c.weights, [0.5, 0.5])
    assert c.weights.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("x, labels, expected", [
    (SYM_X, SYM_LABELS, dict(tss=26.0, wcss=1.0, l_collapse=25.0)),
    (UNB_X, UNB_LABELS, dict(tss=3.5, wcss=0.5, l_collapse=3.0)),
])
def test_tss_wcss_l_collapse_match_hand_computed_values(x, labels, expected):
    c = cl.fit_kmeans(x, 2)
    assert adjusted_rand_score(labels, c.labels) == 1.0
    assert cl.tss(x) == pytest.approx(expected["tss"], abs=1e-12)
    assert cl.wcss(x, c) == pytest.approx(expected["wcss"], abs=1e-12)
    assert cl.l_collapse(x, c) == pytest.approx(expected["l_collapse"], abs=1e-12)
    region = cl.feasible_region(x, c)
    assert region["width"] == pytest.approx(expected["l_collapse"] - expected["wcss"], abs=1e-12)
    assert region["nonempty"] is True and region["k"] == 2
    # the hand-made clustering with the same partition gives the same numbers
    assert cl.l_collapse(x, exact_clustering(x, labels)) == pytest.approx(expected["l_collapse"], abs=1e-12)


@pytest.mark.parametrize("k", [1, 2, 3, 5, 8])
def test_tss_identity_holds_for_kmeans_on_random_data(k):
    rng = np.random.default_rng(k)
    x = rng.normal(size=(300, 4)) * np.array([3.0, 1.0, 0.5, 2.0]) + np.array([10.0, -2.0, 0.0, 1.0])
    region = cl.feasible_region(x, cl.fit_kmeans(x, k, n_init=2))
    assert region["identity_error"] < 1e-9
    assert region["tss"] == pytest.approx(region["wcss"] + region["l_collapse"], abs=1e-9)
    assert region["wcss"] >= 0 and region["l_collapse"] >= 0
    if k == 1:
        assert region["l_collapse"] == pytest.approx(0.0, abs=1e-9)


def test_tss_identity_holds_for_any_partition_with_label_means():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 3)).astype(np.float32)
    labels = rng.integers(0, 4, size=200)
    assert cl.feasible_region(x, exact_clustering(x, labels, 4))["identity_error"] < 1e-9


def test_feasible_region_nonempty_for_separated_clusters():
    x, _ = two_clusters()
    region = cl.feasible_region(x, cl.fit_kmeans(x, 2))
    assert region["nonempty"] is True
    assert region["l_collapse"] == pytest.approx(A ** 2, rel=0.02)
    assert region["wcss"] == pytest.approx(3 * 0.3 ** 2, rel=0.2)


def test_feasible_region_empty_for_high_dimensional_isotropic_noise():
    # K = 2 on one N(0, I_50) blob: L_collapse ~ 2/pi + a little (one split direction),
    # WCSS ~ 50 - L_collapse, so WCSS >> L_collapse.
    x = np.random.default_rng(0).normal(size=(400, 50))
    region = cl.feasible_region(x, cl.fit_kmeans(x, 2, n_init=2))
    assert region["nonempty"] is False and region["width"] < 0
    assert region["l_collapse"] < 3.0 < 40.0 < region["wcss"]


# ---- v4 Theorem 3.4: the two anchor points ---------------------------------------------------------------


@pytest.mark.parametrize("x, labels", [(SYM_X, SYM_LABELS), (UNB_X, UNB_LABELS), two_clusters()])
def test_own_centre_loss_anchor_points(x, labels):
    c = cl.fit_kmeans(x, 2)
    mean = x.astype(np.float64).mean(0)
    # the collapsed (constant data mean) reconstruction scores L_collapse, given as one row or as n rows
    assert cl.clustering_loss(mean, c, "own_centre") == pytest.approx(cl.l_collapse(x, c), rel=1e-12)
    assert cl.clustering_loss(np.tile(mean, (len(x), 1)), c, "own_centre") == pytest.approx(cl.l_collapse(x, c), rel=1e-9)
    # the ideal own-centre reconstruction scores 0, the identity reconstruction WCSS
    assert cl.clustering_loss(c.means[c.labels], c, "own_centre") == 0.0
    assert cl.clustering_loss(x, c, "own_centre") == pytest.approx(cl.wcss(x, c), rel=1e-12)
    assert cl.l_collapse(x, c) > cl.wcss(x, c)


def test_own_centre_constant_is_weighted_by_label_shares():
    c = exact_clustering(UNB_X, UNB_LABELS)
    # constant at the big cluster's centre e1: only the single far sample pays, (1 - -3)^2 / 4 = 4
    assert cl.clustering_loss(np.array([1.0, 0, 0]), c, "own_centre") == pytest.approx(4.0)
    assert cl.clustering_loss(np.array([1.0, 0, 0]), c, "min_k") == 0.0


# ---- v1: min_k loss, delta, historical loss --------------------------------------------------------------


def test_min_k_loss_of_constants_and_delta_c():
    c = exact_clustering(SYM_X, SYM_LABELS)
    np.testing.assert_allclose(c.means, [[A, 0, 0], [-A, 0, 0]])
    assert cl.clustering_loss(c.means[0], c, "min_k") == pytest.approx(0.0, abs=1e-12)
    assert cl.clustering_loss(c.means[1][None, :], c) == pytest.approx(0.0, abs=1e-12)
    assert cl.clustering_loss(np.zeros(3), c, "min_k") == pytest.approx(A ** 2)
    assert cl.delta_c(c, np.zeros(3)) == pytest.approx(A ** 2)
    assert cl.delta_c(c, np.array([1.0, 2.0, 0.0])) == pytest.approx(4 ** 2 + 2 ** 2)
    # per-sample reconstructions: x itself is at distance d = 1 from its nearest centre
    assert cl.clustering_loss(SYM_X, c, "min_k") == pytest.approx(1.0)
    # unbalanced data: the mean 0 is 1 from e1 and 3 from -3 e1
    assert cl.delta_c(exact_clustering(UNB_X, UNB_LABELS), np.zeros(3)) == pytest.approx(1.0)


def _clustering_at(*centres):
    means = np.array(centres, dtype=np.float64)
    k = len(means)
    return Clustering(means=means, weights=np.full(k, 1 / k), labels=np.arange(4) % k)


def test_delta_is_min_and_historical_loss_is_max_over_clusterings():
    cs = [_clustering_at([5, 0, 0], [-5, 0, 0]), _clustering_at([0, 2, 0], [0, -2, 0]), _clustering_at([0, 0, 3], [1, 1, 1])]
    c = np.zeros(3)
    per = [cl.delta_c(x, c) for x in cs]
    assert per == pytest.approx([25.0, 4.0, 3.0])
    assert cl.delta(cs, c) == pytest.approx(3.0)
    assert cl.historical_loss(c[None, :], cs) == pytest.approx(25.0)
    assert cl.historical_loss(c[None, :], cs[1:]) == pytest.approx(4.0)
    d = cl.delta(cs, c)
    assert cl.epsilon_excludes_collapse(1e-4, d) is True
    assert cl.epsilon_excludes_collapse(2 * d, d) is False
    assert cl.epsilon_excludes_collapse(d, d) is False  # strict inequality


def test_minimax_constant_min_k_with_identical_clusterings_finds_a_shared_centre():
    x, _ = two_clusters()
    c = cl.fit_kmeans(x, 2)
    result = cl.minimax_constant([c, c], reading="min_k")
    assert result["historical_loss"] == pytest.approx(0.0, abs=1e-9)
    assert np.min(np.linalg.norm(c.means - result["c"], axis=1)) < 1e-6
    np.testing.assert_allclose(result["per_clustering"], 0.0, atol=1e-9)


def test_minimax_constant_own_centre_finds_the_data_mean():
    x, _ = two_clusters()
    c = cl.fit_kmeans(x, 2)
    lc = cl.l_collapse(x, c)
    # the minimiser of sum_k pi_k ||c - mu_k||^2 is sum_k pi_k mu_k = the data mean, value L_collapse
    found = cl.minimax_constant([c, c], reading="own_centre")
    assert lc * (1 - 1e-12) <= found["historical_loss"] <= lc * (1 + 5e-3)
    assert np.linalg.norm(found["c"] - x.mean(0)) < 0.05 * A
    exact = cl.minimax_constant([c, c], reading="own_centre", extra_candidates=[x.astype(np.float64).mean(0)])
    assert exact["historical_loss"] == pytest.approx(lc, rel=1e-9)
    np.testing.assert_allclose(exact["per_clustering"], [lc, lc], rtol=1e-9)


# ---- diversity -------------------------------------------------------------------------------------------


def three_clusters(seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[6.0, 0, 0], [-3.0, 5, 0], [-3.0, -5, 0]])
    truth = np.arange(300) % 3
    return (centres[truth] + 0.3 * rng.normal(size=(300, 3))).astype(np.float32), truth


def _relabel(c, perm):
    """The same clustering with centre j of the copy being centre perm[j] of the original."""
    inverse = np.argsort(perm)
    return Clustering(means=c.means[perm], weights=c.weights[perm], labels=inverse[c.labels], seed=99)


def test_clustering_distance_is_zero_for_itself_and_a_relabelled_copy():
    x, _ = three_clusters()
    a = cl.fit_kmeans(x, 3)
    relabelled = _relabel(a, np.array([2, 0, 1]))
    assert not np.array_equal(relabelled.labels, a.labels)
    for other in (a, relabelled):
        d = cl.clustering_distance(a, other)
        assert d["centre_distance"] == pytest.approx(0.0, abs=1e-12)
        assert d["ari"] == pytest.approx(1.0)


def test_clustering_distance_of_shifted_centres():
    a = _clustering_at([5, 0, 0], [-5, 0, 0])
    b = _clustering_at([-5, 0, 1], [5, 0, 1])  # every centre moved by 1 (after matching)
    assert cl.clustering_distance(a, b)["centre_distance"] == pytest.approx(1.0)


def test_diversity_counts_distinct_partitions():
    x, truth = three_clusters()
    a = cl.fit_kmeans(x, 3)
    relabelled = _relabel(a, np.array([1, 2, 0]))
    b = exact_clustering(x, (x[:, 1] > 0).astype(int) + (x[:, 0] > 0).astype(int), 3)  # a different partition
    assert adjusted_rand_score(a.labels, b.labels) < 0.99
    div = cl.diversity([a, relabelled, b])
    assert div["n_distinct"] == 2
    assert div["centre_distance"].shape == (3, 3)
    assert div["centre_distance"][0, 1] == pytest.approx(0.0, abs=1e-12)
    assert div["centre_distance"][0, 2] > 0.1
    assert div["ari"][0, 1] == pytest.approx(1.0) and div["min_ari"] < 0.99
    assert cl.diversity([a, relabelled])["n_distinct"] == 1
    assert cl.diversity([a])["n_distinct"] == 1


# ---- GMMs ------------------------------------------------------------------------------------------------


GMM_X, _ = two_clusters(n=200, dim=2)


def test_fit_gmms_returns_one_clustering_per_seed():
    runs = cl.fit_gmms(GMM_X, 2, 3, n_jobs=1)
    assert len(runs) == 3 and [r.seed for r in runs] == [0, 1, 2]
    for r in runs:
        assert r.method == "gmm" and r.means.shape == (2, 2) and r.labels.shape == (200,)
        assert r.weights.sum() == pytest.approx(1.0)
        assert r.covariances.shape == (2, 2, 2)
        assert np.isfinite(r.log_likelihood)
    assert [r.seed for r in cl.fit_gmms(GMM_X, 2, 2, first_seed=5, n_jobs=1)] == [5, 6]


def test_fit_gmms_same_result_serial_and_parallel():
    kw = dict(init_params="random_from_data")
    serial = cl.fit_gmms(GMM_X, 3, 3, n_jobs=1, **kw)
    parallel = cl.fit_gmms(GMM_X, 3, 3, n_jobs=2, **kw)
    assert [r.seed for r in parallel] == [0, 1, 2]
    for s, p in zip(serial, parallel):
        assert np.allclose(s.means, p.means)
    again = cl.fit_gmms(GMM_X, 3, 3, n_jobs=1, **kw)
    for s, a in zip(serial, again):
        np.testing.assert_array_equal(s.means, a.means)


# ---- bad input -------------------------------------------------------------------------------------------


SMALL = np.random.default_rng(0).normal(size=(10, 3))


@pytest.mark.parametrize("k, message", [
    (0, "n_components must be an integer >= 1; got 0"),
    (-2, "n_components must be an integer >= 1"),
    (1.5, "n_components must be an integer >= 1"),
    (11, r"n_components \(11\) is larger than the number of samples \(10\)"),
])
def test_fit_gmms_rejects_bad_k(k, message):
    with pytest.raises(ValueError, match=message):
        cl.fit_gmms(SMALL, k, 1, n_jobs=1)


@pytest.mark.parametrize("k, message", [
    (0, "n_clusters must be an integer >= 1; got 0"),
    (11, r"n_clusters \(11\) is larger than the number of samples \(10\)"),
])
def test_fit_kmeans_rejects_bad_k(k, message):
    with pytest.raises(ValueError, match=message):
        cl.fit_kmeans(SMALL, k)


@pytest.mark.parametrize("runs", [0, -1, 2.5])
def test_fit_gmms_rejects_bad_n_runs(runs):
    with pytest.raises(ValueError, match="n_runs"):
        cl.fit_gmms(SMALL, 2, runs, n_jobs=1)


@pytest.mark.parametrize("kwargs, message", [
    (dict(covariance_type="diagonal"), "unknown covariance_type 'diagonal'; allowed values: full, tied, diag, spherical"),
    (dict(init_params="kmeans++"), r"unknown init_params 'kmeans\+\+'; allowed values: kmeans, k-means\+\+, random, random_from_data"),
])
def test_fit_gmms_rejects_unknown_choices(kwargs, message):
    with pytest.raises(ValueError, match=message):
        cl.fit_gmms(SMALL, 2, 1, n_jobs=1, **kwargs)


@pytest.mark.parametrize("call", [
    lambda c: cl.clustering_loss(np.zeros(2), c, "nearest"),
    lambda c: cl.historical_loss(np.zeros((1, 2)), [c], "nearest"),
    lambda c: cl.minimax_constant([c], reading="nearest"),
])
def test_unknown_reading_names_the_allowed_values(call):
    c = _clustering_at([1, 0], [-1, 0])
    with pytest.raises(ValueError, match="unknown reading 'nearest'; allowed values: min_k, own_centre"):
        call(c)


WRONG_DIM = Clustering(means=np.zeros((2, 2)), weights=np.full(2, 0.5), labels=np.arange(10) % 2)
WRONG_N = Clustering(means=np.zeros((2, 3)), weights=np.full(2, 0.5), labels=np.arange(9) % 2)


@pytest.mark.parametrize("call, message", [
    (lambda: cl.check_clusterings(SMALL, [WRONG_DIM]), "clustering 0 has centres of dimension 2, the data have 3"),
    (lambda: cl.check_clusterings(SMALL, [WRONG_N]), "clustering 0 labels 9 samples, the data have 10"),
    (lambda: cl.check_clusterings(SMALL, []), "clusterings is empty"),
    (lambda: cl.wcss(SMALL, WRONG_DIM), "dimension 2, the data have 3"),
    (lambda: cl.l_collapse(SMALL, WRONG_DIM), "dimension 2, the data have 3"),
    (lambda: cl.feasible_region(SMALL, WRONG_DIM), "dimension 2, the data have 3"),
    (lambda: cl.wcss(SMALL, WRONG_N), "labels 9 samples, the data have 10"),
])
def test_clusterings_must_match_the_data(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_check_clusterings_names_the_offending_clustering():
    good = exact_clustering(SMALL, np.arange(10) % 2)
    assert len(cl.check_clusterings(SMALL, iter([good, good]))) == 2
    with pytest.raises(ValueError, match="clustering 1 has centres of dimension 2"):
        cl.check_clusterings(SMALL, [good, WRONG_DIM])


@pytest.mark.parametrize("x_hat, reading, message", [
    (np.zeros(4), "min_k", "reconstructions have dimension 4, the clustering 3"),
    (np.zeros((10, 2)), "own_centre", "reconstructions have dimension 2, the clustering 3"),
    (np.zeros((7, 3)), "own_centre", r"own_centre needs one reconstruction per labelled sample \(10\); got 7"),
])
def test_clustering_loss_rejects_wrong_shapes(x_hat, reading, message):
    c = exact_clustering(SMALL, np.arange(10) % 2)
    with pytest.raises(ValueError, match=message):
        cl.clustering_loss(x_hat, c, reading)


def test_clustering_distance_rejects_different_dimensions():
    with pytest.raises(ValueError, match="different dimensions"):
        cl.clustering_distance(_clustering_at([1, 0], [-1, 0]), _clustering_at([1, 0, 0], [-1, 0, 0]))

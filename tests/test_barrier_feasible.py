import numpy as np
import pytest

from hcvae.methods import barrier, clustering, feasible


def _two_clusters(a=5.0, n=200, dim=3, noise=0.1, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1], n // 2)
    x = np.zeros((n, dim))
    x[:, 0] = np.where(labels == 0, a, -a)
    return (x + noise * rng.standard_normal(x.shape)).astype(np.float32), labels


def test_halving_rounds_keep_the_smallest_half_until_two():
    rounds = barrier.halving_rounds(np.array([5, 1, 4, 2, 3, 0, 7, 6], float))
    assert [r.tolist() for r in rounds] == [list(range(8)), [1, 3, 4, 5], [1, 5]]


def test_nested_region_check_finds_a_discarded_clustering_that_scores_worse():
    losses = np.array([[1.0, 1.0, 5.0, 1.0],   # clustering 2 (discarded) is worst: counterexample
                       [2.0, 3.0, 1.0, 1.0]])  # a kept clustering is worst: no counterexample
    check = barrier.nested_region_check(losses, [np.arange(4), np.array([0, 1])])
    assert check == [{"round": 0, "n_before": 4, "n_after": 2, "counterexamples": [0], "reverse_holds": True}]


def test_delta_fails_under_min_k_and_holds_under_own_centre_for_shared_centres():
    x, _ = _two_clusters()
    km = clustering.fit_kmeans(x, 2)
    same = [km, km]
    min_k = barrier.delta_bounds_collapse(x, same, "min_k")
    assert min_k["delta"] == pytest.approx(25.0, rel=0.01)  # squared distance from the mean (0) to +-5 e1
    assert min_k["lowest"]["historical_loss"] == pytest.approx(0.0, abs=1e-9) and not min_k["holds"]
    own = barrier.delta_bounds_collapse(x, same, "own_centre")
    assert own["holds"] and own["lowest"]["historical_loss"] == pytest.approx(clustering.l_collapse(x, km), rel=1e-3)


def test_reconstruction_family_and_loss_matrix():
    x, _ = _two_clusters()
    kms = [clustering.fit_kmeans(x, 2, seed=s) for s in (0, 1)]
    family = barrier.reconstruction_family(x, kms)
    assert list(family) == ["identity", "snap to C0", "snap to C1"]
    losses = barrier.loss_matrix(family, kms, "own_centre")
    assert losses.shape == (3, 2)
    assert losses[1, 0] == pytest.approx(0.0, abs=1e-12)  # snapping to C0's centres scores 0 on C0
    assert losses[0, 0] == pytest.approx(clustering.wcss(x, kms[0]), rel=1e-9)


def test_anchor_points_are_l_collapse_and_wcss():
    x, _ = _two_clusters(noise=0.5)
    km = clustering.fit_kmeans(x, 2)
    a = feasible.anchor_points(x, km)
    assert a["collapsed_loss"] == pytest.approx(a["l_collapse"], rel=1e-9)
    assert a["ideal_loss"] == pytest.approx(a["wcss"], rel=1e-9)
    assert a["nonempty"] and a["identity_error"] < 1e-9 * a["tss"]


def test_probe_positions():
    x, _ = _two_clusters(noise=0.5)
    km = clustering.fit_kmeans(x, 2)
    probes = {p["name"]: p for p in feasible.reconstruction_probes(x, km, alphas=(0.5, 0.99))}
    assert probes["own cluster centre"]["position"] == "below WCSS"
    assert probes["shrunk towards the mean, a = 0.5"]["position"] == "inside"  # 0.25 W + 0.25 L with L >> W
    assert probes["shrunk towards the mean, a = 0.99"]["position"] == "below WCSS"
    # isotropic noise in many dimensions: no cluster structure, WCSS > L_collapse, the region is empty
    blob = np.random.default_rng(0).standard_normal((400, 50)).astype(np.float32)
    km_blob = clustering.fit_kmeans(blob, 2)
    assert not clustering.feasible_region(blob, km_blob)["nonempty"]
    assert {p["position"] for p in feasible.reconstruction_probes(blob, km_blob)} == {"outside (the region is empty)"}


def test_region_curve_identity_and_monotone_wcss():
    x, _ = _two_clusters(noise=1.0, dim=4)
    curve = feasible.region_curve(x, [1, 2, 4, 8])
    assert np.all(curve["identity_error"] < 1e-9 * curve["tss"])
    assert curve["l_collapse"][0] == pytest.approx(0.0, abs=1e-9)  # K = 1: the centre is the mean
    assert np.all(np.diff(curve["wcss"]) < 0)


def test_delta_summary_and_lemma_4_3():
    x, _ = _two_clusters()
    kms = [clustering.fit_kmeans(x, 2, seed=s) for s in range(4)]
    d = barrier.delta_summary(x, kms)
    assert d["delta"] == pytest.approx(25.0, rel=0.01) and d["eq14_error"] < 1e-9
    assert d["tss"] == pytest.approx(clustering.tss(x))
    check = barrier.lemma_4_3(x, kms, "own_centre")
    assert [c["n_before"] for c in check] == [4] and all(c["reverse_holds"] for c in check)


def test_region_at():
    x, _ = _two_clusters(noise=1.0, dim=4)
    curve = feasible.region_curve(x, [1, 2, 4])
    r = feasible.region_at(curve, 2)
    assert r["nonempty"] and r["smallest_open_k"] == 2 and r["wcss"] < r["l_collapse"]
    with pytest.raises(ValueError, match="K = 3 is not on the curve"):
        feasible.region_at(curve, 3)


def test_diversity_of_stored_matrices_equals_diversity_of_the_clusterings():
    x, _ = _two_clusters()
    fits = clustering.fit_gmms(x, 2, 3, n_jobs=1) + [clustering.fit_kmeans(x, 3)]
    direct = clustering.diversity(fits, ari_same=0.9)
    again = clustering.diversity_of(direct["centre_distance"].tolist(), direct["ari"].tolist(),
                                    [c.log_likelihood for c in fits], ari_same=0.9)
    assert again["n_distinct"] == direct["n_distinct"] == 2  # the three EM fits agree, K-means with 3 differs
    assert again["min_ari"] == direct["min_ari"] and again["mean_centre_distance"] == direct["mean_centre_distance"]
    assert clustering.diversity_of(direct["centre_distance"], direct["ari"], [0] * 4, ari_same=1.01)["n_distinct"] == 4


def test_barrier_run_stores_what_the_chapter_reads(store):
    from hcvae.runs.barrier_runs import BarrierConfig
    from hcvae.runs.runner import run
    from hcvae.core.data import load_dataset

    config = BarrierConfig(dataset="digits", n_samples=300, n_components=4, r0=3)
    result = run(config, store=store)
    x = load_dataset("digits", 300, seed=0).x
    fits = clustering.fit_gmms(x, 4, 3, n_jobs=1)
    assert result["delta"]["delta"] == pytest.approx(barrier.delta_summary(x, fits)["delta"], rel=1e-12)
    for reading in clustering.READINGS:
        assert result["checks"][reading]["holds"] == barrier.delta_bounds_collapse(x, fits, reading)["holds"]
        assert result["nesting"][reading] == barrier.lemma_4_3(x, fits, reading)
    assert np.array_equal(result["diversity"]["ari"], clustering.diversity(fits)["ari"])
    assert store.lookup(config)[0] is not None


@pytest.mark.parametrize("kwargs, message", [
    (dict(init_params="spectral"), "init_params"), (dict(r0=1), "r0"), (dict(dataset="faces"), "dataset"),
    (dict(dataset="digits", n_samples=5, n_components=8), "n_components"),
])
def test_barrier_config_rejects_bad_settings(kwargs, message):
    from hcvae.runs.barrier_runs import BarrierConfig

    with pytest.raises(ValueError, match=message):
        BarrierConfig(**kwargs)


def test_region_run_stores_the_region_curve_point_and_the_anchors(store):
    from hcvae.core.data import load_dataset
    from hcvae.methods.spherical import ShellTransform
    from hcvae.runs.runner import run
    from hcvae.runs.region_runs import RegionConfig

    config = RegionConfig(dataset="digits", n_samples=300, shell="clip", r_min=1.0, r_max=2.0, k=5, n_init=2,
                          probes=True)
    result = run(config, store=store)
    xs = ShellTransform(1.0, 2.0, "clip").fit_transform(load_dataset("digits", 300, seed=0).x)
    curve = feasible.region_curve(xs, [5], seed=0, n_init=2)
    assert result["region"]["wcss"] == curve["wcss"][0] and result["region"]["l_collapse"] == curve["l_collapse"][0]
    a = result["anchors"]
    assert a["collapsed_loss"] == pytest.approx(a["l_collapse"], rel=1e-9)  # Theorem 3.4's anchors
    assert a["ideal_loss"] == pytest.approx(a["wcss"], rel=1e-9)
    assert [q["name"] for q in result["probes"]][-2:] == ["own cluster centre", "another sample"]
    centred = run(RegionConfig(dataset="digits", n_samples=300, shell="none", r_min=None, r_max=None, k=5, n_init=2),
                  store=store)
    assert "anchors" not in centred and centred["region"]["tss"] > 0


@pytest.mark.parametrize("kwargs, message", [
    (dict(shell="sphere"), "shell"), (dict(shell="none"), "takes no radii"), (dict(r_min=2.0, r_max=1.0), "r_min < r_max"),
    (dict(k=0), "k must be"), (dict(dataset="digits", n_samples=5, k=8), "larger than the number of samples"),
    (dict(probes="yes"), "probes"),
])
def test_region_config_rejects_bad_settings(kwargs, message):
    from hcvae.runs.region_runs import RegionConfig

    with pytest.raises(ValueError, match=message):
        RegionConfig(**kwargs)


# ---- chapter 03's module ----------------------------------------------------------------------------------------


def test_chapter_03s_parameters_cell_is_the_chapters_declaration():
    from pathlib import Path

    import jupytext

    from hcvae.book import notebook
    from hcvae.chapters import region_report

    path = Path(__file__).resolve().parent.parent / "notebooks" / f"{region_report.CHAPTER}.md"
    defaults = notebook.parameter_defaults(jupytext.read(path))
    assert defaults == region_report.Params.defaults() and list(defaults) == list(region_report.Params.defaults())


@pytest.mark.parametrize("values, message", [
    (dict(shells=[["minmax", 2.0, 1.0]]), "0 <= r_min < r_max; got ['minmax', 2.0, 1.0]"),
    (dict(shells=[["sphere", 1.0, 2.0]]), "with reading one of minmax, clip"),
    (dict(shells=[]), "'shells' must be a non-empty list, each a value; got [] (the list is empty)"),
    (dict(k_values=[2, 0]), "'k_values' must be a non-empty list, each an integer >= 1; got [2, 0]"),
    (dict(k_values=[2, 2]), "(values repeat)"),
    (dict(n_components={"synthetic": 0}), "'n_components' must map data sets (synthetic, digits, mnist, fashion_mnist, cifar10, "
                                                  "fashion_mnist_train, cifar10_train) to integers >= 1"),
    (dict(datasets=["digits"], n_components={"synthetic": 8}), "'n_components' names no K for digits"),
    (dict(identity_rtol=0), "'identity_rtol' must be a number > 0; got 0"),
    (dict(n_init=0), "'n_init' must be an integer >= 1; got 0"),
])
def test_chapter_03_refuses_bad_parameters_before_any_work(values, message):
    from hcvae.chapters import region_report
    from hcvae.chapters.base import ParameterError

    with pytest.raises(ParameterError) as err:
        region_report.Params.from_values(**values)
    assert message in str(err.value), str(err.value)


def test_chapter_03_is_its_steps_on_the_stored_fits(tmp_path):
    """From the shipped reference (nothing computed), on one data set and one shell: the curves in page order,
    eq. 6 and Theorem 3.4's anchors to rounding, and the tables and sentences the page glues."""
    from pathlib import Path

    from hcvae.chapters import region_report
    from hcvae.runs.store import ResultStore

    store = ResultStore(tmp_path / "results", reference=Path(__file__).resolve().parent.parent / "book" / "reference")
    ch = region_report.chapter("quick", store=store, datasets=["digits"], shells=[["minmax", 1.0, 2.0]], k_values=[2])
    p = ch.params
    assert p.ks == [2, 10] and p.default_shell == ch.default_shell == "minmax [1, 2]"
    assert list(ch.transformed) == [("digits", region_report.NO_SHELL), ("digits", "minmax [1, 2]")]
    assert list(ch.curves) == ["digits, none (centred only)", "digits, minmax [1, 2]"]
    assert ch.worst_identity < p.identity_rtol  # eq. 6 holds for K-means centres
    for a in ch.anchors.values():
        assert abs(a["collapsed_loss"] - a["l_collapse"]) <= 1e-9 * a["tss"]
        assert abs(a["ideal_loss"] - a["wcss"]) <= 1e-9 * a["tss"]
        for alpha, loss in a["shrunk"].items():
            assert abs(loss - alpha**2 * a["wcss"] - (1 - alpha) ** 2 * a["l_collapse"]) <= 1e-6 * a["tss"]
    assert [len(rows) for _, rows in ch.tables.values()] == [2, 2, 1, len(ch.probes["digits"])]
    assert ch.texts["n_identity"] == "4" and ch.texts["n_settings"] == "2" and ch.texts["default_shell"] == "`minmax [1, 2]`"
    assert ch.tables == region_report.tables(p, ch.lambdas, ch.regions, ch.anchors, ch.probes)
    texts, findings = region_report.sentences(p, ch.curves, ch.regions, ch.anchors, ch.tables, ch.worst_identity)
    assert ch.texts == texts and ch.findings == {**findings, "images": "No image set in this build."}  # quick: none
    assert ch.images.results == [] and region_report.image_tables(ch.images) == {}
    assert len(ch.results) == 2 * 2 + 1 and all("region" in r for r in ch.results)
    assert not list((tmp_path / "results").rglob("*.json")), "a fit was computed"

import math

import numpy as np
import pytest
import torch

from hcvae.core.data import make_synthetic
from hcvae.core.models import GaussianVAE
from hcvae.methods.clustering import Clustering, fit_gmms
from hcvae.methods.consensus import HCTSettings, historical_consensus, selection_sizes

FAST = dict(epochs_per_round=2, max_refine_epochs=3, final_epochs=2, batch_size=100, eval_samples=200)


@pytest.fixture(scope="module")
def setup():
    ds = make_synthetic(n_samples=400, n_components=4, dim=8, seed=0)
    clusterings = fit_gmms(ds.x, 4, 8, init_params="random_from_data", n_jobs=1)
    return ds.x, clusterings


def _model(seed=0):
    torch.manual_seed(seed)
    return GaussianVAE(8, 2, 1.0, encoder_hidden=(16,), decoder_hidden=(16,))


def _run(setup, **kwargs):
    x, clusterings = setup
    return historical_consensus(_model(), x, clusterings, HCTSettings(**{**FAST, **kwargs}), progress=False)


def test_selection_sizes():
    assert selection_sizes(16) == [16, 8, 4, 2]  # log2(16) - 1 = 3 rounds, each halving
    assert selection_sizes(2) == [2]
    assert selection_sizes(16, 1 / 3) == [16, 5, 2]
    assert selection_sizes(16, 2 / 3)[-1] == 2 and all(a > b for a, b in zip(selection_sizes(16, 2 / 3), selection_sizes(16, 2 / 3)[1:]))


@pytest.mark.parametrize("r0, message", [
    (24, r"R0 = 24 is not a power of two: halving gives 12, 6, 3 and never exactly 2"),
    (1, "R0 .* must be an integer >= 2"),
    (6, "R0 = 6 is not a power of two"),
])
def test_bad_r0(r0, message):
    with pytest.raises(ValueError, match=message):
        selection_sizes(r0)


def test_rounds_halve_and_keep_the_smallest_scores(setup):
    res = _run(setup)
    assert res["sizes"] == [8, 4, 2] and len(res["rounds"]) == int(math.log2(8)) - 1
    for rnd in res["rounds"]:
        assert len(rnd["kept"]) == len(rnd["set"]) // 2
        order = np.argsort(rnd["scores"], kind="stable")[: len(rnd["kept"])]
        assert rnd["kept"] == sorted(rnd["set"][i] for i in order)
        worst_kept = max(s for c, s in zip(rnd["set"], rnd["scores"]) if c in rnd["kept"])
        best_dropped = min(s for c, s in zip(rnd["set"], rnd["scores"]) if c not in rnd["kept"])
        assert worst_kept <= best_dropped
    assert res["rounds"][1]["set"] == res["rounds"][0]["kept"]


def test_refinement_stops_at_the_cap_and_records_the_floor(setup):
    res = _run(setup, epsilon=1e-12)
    ref = res["refinement"]
    assert not ref["reached"] and ref["epochs"] == FAST["max_refine_epochs"]
    assert ref["floor"] == min(ref["trajectory"]) and ref["floor"] >= 1e-12
    assert sum(h["stage"] == "refine" for h in res["history"]) == FAST["max_refine_epochs"]


def test_refinement_stops_when_epsilon_is_reached(setup):
    res = _run(setup, epsilon=1e6)
    assert res["refinement"]["reached"] and res["refinement"]["epochs"] == 1


def test_history_tracks_every_clustering_including_discarded(setup):
    res = _run(setup)
    x, clusterings = setup
    stages = [h["stage"] for h in res["history"]]
    assert stages == ["select"] * 4 + ["refine"] * 3 + ["final"] * 2
    for row in res["history"]:
        assert len(row["ell"]) == len(clusterings) and all(math.isfinite(v) for v in row["ell"])
        assert {"loss", "nll", "kl", "l_c", "beta", "eval_kl", "active_burda", "active_paper", "active_set"} <= set(row)
    assert [h["epoch"] for h in res["history"]] == list(range(len(res["history"])))
    assert res["history"][-1]["active_set"] == [res["final_clustering"]]


def test_same_seed_same_history(setup):
    a, b = _run(setup), _run(setup)
    assert a["history"] == b["history"] and a["rounds"] == b["rounds"]


def test_annealed_beta_goes_from_beta_to_beta_final(setup):
    res = _run(setup, beta_schedule="annealed", beta=1.0, beta_final=4.0)
    betas = [h["beta"] for h in res["history"]]
    assert betas[0] == pytest.approx(1.0) and betas[-1] == pytest.approx(4.0)
    assert all(b1 <= b2 + 1e-9 for b1, b2 in zip(betas, betas[1:]))


def test_own_centre_reading_and_epoch_cycling_run(setup):
    res = _run(setup, reading="own_centre", cycling="epoch")
    assert res["settings"]["reading"] == "own_centre" and res["sizes"] == [8, 4, 2]


@pytest.mark.parametrize("kwargs, message", [
    (dict(epsilon=0.0), "epsilon must be a finite number > 0"),
    (dict(epochs_per_round=0), "epochs_per_round must be an integer >= 1"),
    (dict(beta=-1.0), "beta must be a finite number >= 0"),
    (dict(reading="nearest"), "allowed values: min_k, own_centre"),
    (dict(beta_schedule="cosine"), "allowed values: constant, annealed"),
    (dict(cycling="round"), "allowed values: batch, epoch"),
    (dict(keep_ratio=1.0), "keep_ratio must lie strictly between 0 and 1"),
])
def test_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        HCTSettings(**kwargs)


def test_clusterings_of_another_dimension_are_refused_before_training(setup):
    x, clusterings = setup
    other = Clustering(means=np.zeros((4, 5)), weights=np.full(4, 0.25), labels=np.zeros(len(x), int))
    model = _model()
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ValueError, match="dimension 5, the data have 8"):
        historical_consensus(model, x, [*clusterings[:3], other], HCTSettings(**FAST), progress=False)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_retention_and_discarded(setup):
    from hcvae.methods.consensus import discarded_at, retention_matrix

    res = _run(setup)
    m = retention_matrix(res)
    assert m.shape == (8, 3) and m[:, 0].all() and m.sum(0).tolist() == [8, 4, 2]
    dropped = discarded_at(res)
    assert len(dropped) == 6 and sorted(set(dropped.values())) == [0, 1]
    assert not set(dropped) & set(res["rounds"][-1]["kept"])


def test_parameter_distance_and_landing(setup):
    from hcvae.methods.consensus import parameter_distance, reconstruction_landing

    x, clusterings = setup
    a, b = _model(0), _model(1)
    assert parameter_distance(a, a) == 0.0 and parameter_distance(a, b) > 0
    with pytest.raises(ValueError, match="share an architecture"):
        parameter_distance(a, GaussianVAE(8, 3, 1.0))
    collapsed = _model()
    with torch.no_grad():
        for p in collapsed.decoder.parameters():
            p.zero_()
    landing = reconstruction_landing(collapsed, x, clusterings[0])
    assert landing["n_centres_hit"] == 1 and landing["n_centres"] == 4


def test_hct_figure(setup):
    from hcvae.book import plots

    fig = plots.hct_trajectories(_run(setup), title="tiny")
    assert len(fig.axes) == 3

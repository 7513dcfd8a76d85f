import numpy as np
import pytest

from hcvae.runs import experiments, store as store_mod
from hcvae.runs.hct import HCTConfig
from hcvae.runs import runner

TINY = dict(dataset="synthetic", n_samples=600, r0=4, n_components=4, epochs_per_round=1, max_refine_epochs=2,
            final_epochs=1, batch_size=100, latent_dim=2)


@pytest.mark.parametrize("kwargs, message", [
    (dict(r0=24), r"R0 = 24 is not a power of two"),
    (dict(r0=1), r"R0 \(the number of clusterings\) must be an integer >= 2"),
    (dict(method="consensus"), r"method.*hct, single, vanilla"),
    (dict(reading="nearest"), r"reading.*min_k, own_centre"),
    (dict(sigma2_ratio=0.0), r"sigma2_ratio .* > 0"),
    (dict(collapsed_ratio=-1.0), r"collapsed_ratio .* > 0"),
    (dict(epsilon=0.0), r"epsilon must be a finite number > 0"),
    (dict(beta=-1.0), r"beta must be a finite number >= 0"),
    (dict(epochs_per_round=0), r"epochs_per_round must be an integer >= 1"),
    (dict(beta_schedule="cosine"), r"beta_schedule.*constant, annealed"),
    (dict(em_init="spectral"), r"em_init"),
    (dict(n_components=0), r"n_components must be None"),
])
def test_bad_config_fails_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        HCTConfig(**{**TINY, **kwargs})


def test_budget_and_reference():
    cfg = HCTConfig(**TINY)
    assert cfg.budget == 1 * 1 + 2 + 1  # R0 = 4: one selection round of E = 1, cap 2, E_final 1
    ref = cfg.collapsed_reference()
    assert ref.sigma2_ratio == 10.0 and ref.epochs == cfg.budget and ref.seed == cfg.seed
    assert HCTConfig(**TINY, collapsed_ratio=None).collapsed_reference() is None
    assert HCTConfig(**TINY, method="vanilla").settings().beta == 0.0
    assert HCTConfig.from_profile("paper", "synthetic").r0 == 16


def test_each_config_kind_locks_its_own_code():
    from hcvae.runs.closure import closure_modules

    vae, hct = set(closure_modules("hcvae.runs.experiments")), set(closure_modules("hcvae.runs.hct"))
    assert {"hcvae.methods.consensus", "hcvae.methods.clustering", "hcvae.methods.barrier", "hcvae.runs.hct"} <= hct and vae < hct
    assert not vae & {"hcvae.methods.consensus", "hcvae.runs.hct", "hcvae.methods.barrier"}  # editing HCT never touches the VAE's lock
    assert store_mod.config_key(HCTConfig(**TINY)).startswith("hct-")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    store = store_mod.ResultStore(tmp_path_factory.mktemp("results"))
    return store, {m: runner.run(HCTConfig(**TINY, method=m), store=store) for m in ("hct", "single", "vanilla")}


def test_hct_result_records_what_the_chapter_needs(runs):
    store, res = runs
    hct = res["hct"]
    history = hct["record"]["history"]
    assert [h["stage"] for h in history][:1] == ["select"] and history[-1]["stage"] == "final"
    assert all(len(h["ell"]) == 4 for h in history)  # ell_C on every clustering, discarded ones included
    assert all(h["dist_collapsed"] > 0 for h in history)  # same initial weights, so the distance starts at 0 and grows
    assert set(hct["record"]["stage_end"]) == {"select", "refine", "final"}
    assert hct["epsilon_t"] == hct["record"]["refinement"]["final"]
    assert hct["epsilon_t_below_delta"] == (hct["epsilon_t"] < hct["delta"])
    assert 1 <= hct["landing"]["n_centres_hit"] <= 4
    ref = HCTConfig(**TINY).collapsed_reference()
    assert store.load(ref) is not None  # the reference run is stored and shared by every method


def test_controls_train_the_same_budget(runs):
    _, res = runs
    budget = HCTConfig(**TINY).budget
    for method in ("single", "vanilla"):
        history = res[method]["record"]["history"]
        assert len(history) == budget and {h["stage"] for h in history} == {method}
    assert all(h["beta"] == 0.0 for h in res["vanilla"]["record"]["history"])
    assert len(res["single"]["record"]["active"]) == 1 and len(res["vanilla"]["record"]["active"]) == 4
    assert res["single"]["epsilon_t"] is None


def test_same_config_same_numbers(runs, tmp_path):
    _, res = runs
    again = runner.run(HCTConfig(**TINY, method="hct"), store=store_mod.ResultStore(tmp_path))
    assert again["metrics"]["kl"] == res["hct"]["metrics"]["kl"]
    assert np.allclose([h["ell"] for h in again["record"]["history"]], [h["ell"] for h in res["hct"]["record"]["history"]])


def test_run_rejects_a_non_config():
    with pytest.raises(TypeError, match="compute"):
        runner.run({"dataset": "synthetic"})


def _effect_runs(hct_kls, single_kls):
    def run(method, seed, kl):
        return {"config": {"dataset": "synthetic", "method": method, "reading": "own_centre", "xhat": "mean",
                           "seed": seed}, "metrics": {"kl": kl, "neg_elbo": 70.0 + kl}}
    return ([run("hct", s, k) for s, k in enumerate(hct_kls)] + [run("single", s, k) for s, k in enumerate(single_kls)]
            + [run("vanilla", s, 0.0) for s in range(len(hct_kls))])


def test_consensus_is_credited_only_when_its_gain_clears_the_seed_noise():
    from hcvae.chapters.hct_report import consensus_effect

    steady = consensus_effect(_effect_runs([0.5, 0.52, 0.48, 0.51, 0.49], [0.003] * 5), "synthetic", "own_centre", "mean")
    assert steady["source"] == "consensus" and steady["diff"] > 2 * steady["diff_se"]
    # the paper-profile pattern of chapter 04: a mean above the bound carried by two of five seeds
    noisy = consensus_effect(_effect_runs([0.06, 0.05, 0.001, 0.002, 0.001], [0.003] * 5), "synthetic", "own_centre",
                             "mean")
    assert noisy["kl_hct"] > 0.01 and noisy["source"] == "within noise" and noisy["diff"] <= 2 * noisy["diff_se"]
    # one seed (the image sets' runs): a large gain, but no seed noise measured, so not credited
    single_seed = consensus_effect(_effect_runs([0.5], [0.003]), "synthetic", "own_centre", "mean")
    assert single_seed["diff"] > 0.1 and single_seed["diff_se"] != single_seed["diff_se"]
    assert single_seed["source"] == "within noise"


def test_the_notebooks_parameters_cell_is_the_chapters_declaration():
    import jupytext

    from hcvae.book import notebook
    from hcvae.chapters import hct_report

    cell = notebook.parameter_defaults(jupytext.read(notebook.NOTEBOOKS / "04-historical-consensus.md"))
    defaults = hct_report.Params.defaults()
    assert cell == defaults and list(cell) == list(defaults)  # names, order and values
    assert hct_report.Params.from_values().runs == hct_report.CHAPTER_RUNS  # every x̂: the chapter's runs

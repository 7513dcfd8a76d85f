"""The Spherical VAE's objective (v4 eqs. 7-10), its schedule, one tiny training run, and its input checks."""

import math

import numpy as np
import pytest
import torch

from hcvae.methods.clustering import Clustering, feasible_region, fit_kmeans
from hcvae.methods.spherical import boundary_penalty, cluster_aware_loss, interval_penalty, norm_penalty
from hcvae.runs import experiments
from hcvae.runs.spherical_runs import (EmptyFeasibleRegion, SphericalConfig, constraint_metrics, prepare, schedule,
                                  train_spherical)
from hcvae.runs import runner

WCSS, L_COLLAPSE = 0.5, 2.0
@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors gain nothing from threads, and a busy machine makes their spin-waits slow."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


TINY = dict(dataset="digits", n_samples=400, n_clusters=16, epochs=4, batch_size=100, lr=3e-3)


def grad_of(fn, value):
    v = torch.tensor(value, dtype=torch.float64, requires_grad=True)
    fn(v).sum().backward()
    return v.grad


@pytest.mark.parametrize("form", ["squared", "linear"])
@pytest.mark.parametrize("reading", ["per_sample", "per_batch"])
def test_boundary_penalty_is_zero_inside_and_pushes_back_outside(form, reading):
    def penalty(loss):
        return boundary_penalty(loss, WCSS, L_COLLAPSE, reading, form)

    inside = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    assert float(penalty(inside)) == 0.0
    below, above = [0.1, 0.2, 0.3], [2.5, 3.0, 4.0]
    assert float(penalty(torch.tensor(below))) > 0 and float(penalty(torch.tensor(above))) > 0
    assert torch.all(grad_of(penalty, below) < 0)  # gradient descent raises a loss below WCSS
    assert torch.all(grad_of(penalty, above) > 0)  # and lowers one above L_collapse
    assert torch.all(grad_of(penalty, [0.6, 1.0, 1.9]) == 0)


def test_boundary_readings_differ_when_samples_straddle_the_region():
    straddling = torch.tensor([0.1, 3.9])  # each sample outside, their mean (2.0) on the edge
    assert float(boundary_penalty(straddling, WCSS, L_COLLAPSE, "per_batch")) == 0.0
    assert float(boundary_penalty(straddling, WCSS, L_COLLAPSE, "per_sample")) == pytest.approx((0.4**2 + 1.9**2) / 2)


@pytest.mark.parametrize("form", ["squared", "linear"])
def test_norm_penalty_is_zero_in_the_shell_and_pulls_outputs_back(form):
    directions = torch.nn.functional.normalize(torch.randn(6, 5, generator=torch.Generator().manual_seed(0)), dim=1)
    radii = torch.tensor([1.05, 1.5, 1.95, 0.5, 2.5, 3.0])[:, None]
    x_hat = (directions * radii).requires_grad_(True)
    per_sample = interval_penalty(torch.linalg.vector_norm(x_hat, dim=-1), 1.0, 2.0, form)
    assert torch.all(per_sample[:3] == 0) and torch.all(per_sample[3:] > 0)
    norm_penalty(x_hat, 1.0, 2.0, form).backward()
    radial = (x_hat.grad * directions).sum(1)  # gradient along each output's own direction
    assert torch.all(radial[:3] == 0)
    assert radial[3] < 0  # inside r_min: descent moves the output outwards
    assert torch.all(radial[4:] > 0)  # outside r_max: inwards


def test_squared_penalty_is_the_squared_distance_to_the_interval():
    values = torch.tensor([0.0, 0.5, 1.0, 2.5])
    np.testing.assert_allclose(interval_penalty(values, 0.5, 2.0, "squared").numpy(), [0.25, 0.0, 0.0, 0.25])
    np.testing.assert_allclose(interval_penalty(values, 0.5, 2.0, "linear").numpy(), [0.5, 0.0, 0.0, 0.5])


def test_the_collapsed_reconstruction_scores_l_collapse_and_the_ideal_one_wcss():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(c, 0.3, size=(m, 3)) for c, m in ((0, 50), (3, 80), (-2, 30))]).astype(np.float32)
    km = fit_kmeans(x, 3, seed=0)
    region = feasible_region(x, km)
    own = torch.as_tensor(km.means[km.labels])
    collapsed = torch.as_tensor(x.astype(np.float64).mean(0)).expand(x.shape[0], -1)
    assert float(cluster_aware_loss(collapsed, own).mean()) == pytest.approx(region["l_collapse"], rel=1e-9)
    assert float(cluster_aware_loss(torch.as_tensor(x, dtype=torch.float64), own).mean()) == pytest.approx(region["wcss"], rel=1e-6)
    m = constraint_metrics(collapsed, own, region, 1.0, 2.0)
    assert m["cluster_loss"] == pytest.approx(region["l_collapse"], rel=1e-9)
    assert m["boundary_per_batch"] == pytest.approx(0.0, abs=1e-12)  # on the edge, not outside: Theorem 3.4's zero margin
    assert m["boundary_per_sample"] > 0  # each sample's own distance to the mean is not L_collapse


def test_constraint_metrics_count_samples_inside_the_region_and_the_shell():
    own = torch.zeros(4, 2, dtype=torch.float64)
    x_hat = torch.tensor([[0.5, 0.0], [1.0, 0.0], [1.5, 0.0], [0.0, 3.0]], dtype=torch.float64)  # losses 0.25 1 2.25 9
    region = {"wcss": 0.5, "l_collapse": 2.5}
    m = constraint_metrics(x_hat, own, region, r_min=1.0, r_max=2.0)
    assert m["coverage"] == 0.5 and m["below_wcss"] == 0.25 and m["above_l_collapse"] == 0.25
    assert m["norm_satisfaction"] == 0.5


def test_two_stage_schedule_of_v4_section_4_1():
    cfg = SphericalConfig(epochs=10, stage1_fraction=0.2, kl_start=0.1, kl_warmup_fraction=0.5)
    assert cfg.stage1_epochs == 2 and cfg.warmup_epochs == 4
    first = schedule(cfg, 1.5)
    assert first == {"beta": 0.1, "lambda_boundary": 0.0, "lambda_norm": 0.0, "stage": 1}
    assert schedule(cfg, 2.0)["beta"] == pytest.approx(0.1) and schedule(cfg, 2.0)["lambda_boundary"] == cfg.lambda_boundary
    assert schedule(cfg, 4.0)["beta"] == pytest.approx(0.55)
    assert schedule(cfg, 6.0)["beta"] == pytest.approx(1.0) and schedule(cfg, 9.9)["beta"] == 1.0
    single = SphericalConfig(epochs=10, protocol="single", kl_schedule="constant")
    assert single.stage1_epochs == 0 and schedule(single, 0.0)["beta"] == 1.0 and schedule(single, 0.0)["lambda_norm"] > 0


def test_same_seed_same_result_and_sigma2_is_set_on_the_shell_data():
    cfg = SphericalConfig(**TINY, seed=3)
    a, state_a, _ = train_spherical(cfg, progress=False)
    b, state_b, _ = train_spherical(cfg, progress=False)
    assert a["metrics"]["kl"] == b["metrics"]["kl"] and a["metrics"]["coverage"] == b["metrics"]["coverage"]
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    c, _, _ = train_spherical(SphericalConfig(**TINY, seed=4), progress=False)
    assert c["metrics"]["kl"] != a["metrics"]["kl"]
    data = a["data"]
    assert data["lambda_max_shell"] != pytest.approx(data["lambda_max_raw"], rel=0.05)  # the shell changes lambda_max
    assert a["sigma2_decoder"] == pytest.approx(cfg.sigma2_ratio * data["lambda_max_shell"])
    raw = prepare(SphericalConfig(**TINY, sigma2_reference="raw"))
    assert raw["sigma2_decoder"] == pytest.approx(cfg.sigma2_ratio * data["lambda_max_raw"])
    history = a["history"]
    assert [h["beta"] for h in history][0] == pytest.approx(cfg.kl_start)
    assert history[0]["boundary"] >= 0 and "eval_coverage" in history[-1] and "eval_norm_satisfaction" in history[-1]
    assert 0.0 <= a["metrics"]["coverage"] <= 1.0 and math.isfinite(a["metrics"]["neg_elbo"])


def test_run_stores_and_reloads_the_result(store):
    cfg = SphericalConfig(**{**TINY, "epochs": 2})
    first = runner.run(cfg, store)
    again = runner.run(cfg, store)
    assert again["metrics"] == first["metrics"] and again["key"] == first["key"]
    assert first["region"]["nonempty"] and first["config"]["kind"] == "spherical"


def test_an_empty_region_stops_the_run_before_training_and_says_which_k_works(store):
    cfg = SphericalConfig(dataset="digits", n_clusters=10, epochs=2, batch_size=128)
    with pytest.raises(EmptyFeasibleRegion, match=r"WCSS = [\d.]+ >= L_collapse = [\d.]+") as err:
        runner.run(cfg, store)
    message = str(err.value)
    assert "allow_empty_region=True" in message and f"n_clusters={err.value.open_k}" in message
    assert err.value.wcss >= err.value.l_collapse and err.value.open_k > 10
    assert not any(store.root.glob("*/result.json")) if store.root.exists() else True
    allowed = prepare(SphericalConfig(dataset="digits", n_clusters=10, allow_empty_region=True))
    assert not allowed["region"]["nonempty"]
    assert prepare(SphericalConfig(dataset="digits", n_clusters=err.value.open_k))["region"]["nonempty"]


@pytest.mark.parametrize("kwargs, message", [
    (dict(lambda_boundary=-1.0), r"lambda_boundary \(lambda_1, the boundary-penalty weight\) must be a finite number >= 0"),
    (dict(lambda_norm=-0.5), r"lambda_norm \(lambda_2, the norm-penalty weight\) must be a finite number >= 0"),
    (dict(lambda_norm=float("nan")), "lambda_norm"),
    (dict(r_min=2.0, r_max=2.0), r"need r_min < r_max .*got r_min=2.0, r_max=2.0"),
    (dict(r_min=3.0, r_max=1.0), "need r_min < r_max"),
    (dict(boundary_reading="per_epoch"), "unknown boundary_reading 'per_epoch'; allowed values: per_sample, per_batch"),
    (dict(shell_reading="rank"), "unknown shell_reading 'rank'; allowed values: minmax, clip"),
    (dict(penalty_form="cubic"), "unknown penalty_form 'cubic'; allowed values: squared, linear"),
    (dict(protocol="three_stage"), "unknown protocol 'three_stage'; allowed values: two_stage, single"),
    (dict(kl_schedule="cyclic"), "unknown kl_schedule 'cyclic'; allowed values: linear, constant"),
    (dict(sigma2_reference="latent"), "unknown sigma2_reference 'latent'; allowed values: shell, raw"),
    (dict(sigma2_ratio=0.0), "sigma2_ratio"),
    (dict(kl_start=1.5), r"kl_start \(the first KL weight\) must be a finite number >= 0 and <= 1"),
    (dict(stage1_fraction=1.0), "stage1_fraction must be a finite number >= 0 and < 1"),
    (dict(epochs=2, stage1_fraction=0.9), "leaves no second stage"),
    (dict(n_clusters=1), r"n_clusters \(K\) must be None"),
    (dict(allow_empty_region="yes"), "allow_empty_region must be True or False"),
])
def test_bad_configs_fail_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SphericalConfig(**kwargs)


def test_penalties_reject_unknown_readings():
    with pytest.raises(ValueError, match="allowed values: per_sample, per_batch"):
        boundary_penalty(torch.ones(3), WCSS, L_COLLAPSE, "per_cluster")
    with pytest.raises(ValueError, match="allowed values: squared, linear"):
        norm_penalty(torch.ones(3, 2), 1.0, 2.0, "huber")
    with pytest.raises(ValueError, match="same shape"):
        cluster_aware_loss(torch.ones(3, 2), torch.ones(2, 2))


def test_the_ablation_verdict_counts_the_papers_pairwise_orderings():
    from hcvae.chapters import spherical_report as report

    paper_like = {v: {k: (val, 0.0) for k, val in m.items()} for v, m in report.PAPER_TABLE2.items()}
    same = report.pairs_in_order(paper_like, "kl")
    assert same["kept"] == same["of"] == 6 and same["reproduced"] and same["our_order"] == same["paper_order"]
    swapped = {**paper_like, "Norm constraint only": {**paper_like["Norm constraint only"], "kl": (2.0, 0.0)}}
    o = report.pairs_in_order(swapped, "kl")  # norm-only now above boundary-only: one pair broken
    assert o["kept"] == 5 and not o["reproduced"] and o["broken"] == [("Boundary penalty only", "Norm constraint only")]
    tied = {**paper_like, "Full constraints": {**paper_like["Full constraints"], "recon_error": (0.082, 0.0)}}
    assert report.pairs_in_order(tied, "recon_error")["kept"] == 5  # lower is better; a tie breaks the pair
    assert report.pairs_in_order(paper_like, "recon_error")["paper_order"][0] == "Full constraints"


def test_instability_and_settled_epoch():
    from hcvae.chapters import spherical_report as report

    history = [{"epoch": e, "kl": v} for e, v in enumerate([5.0, 1.0, 2.0, 2.0, 2.0, 4.0])]
    assert report.instability(history, "kl", 2) == pytest.approx((0 + 0 + 2) / 3 / 2.5)
    assert report.instability([{"epoch": e, "kl": 1.0} for e in range(4)], "kl", 0) == 0.0
    with pytest.raises(ValueError, match="need at least 2 epochs"):
        report.instability(history, "kl", 5)
    cfg = {"kind": "SphericalConfig", **SphericalConfig(epochs=10).__dict__}
    assert report.settled_epoch(cfg) == 6.0  # 2 first-stage epochs + half of the remaining 8


def test_the_notebooks_parameters_cell_is_the_chapters_declaration():
    import jupytext

    from hcvae.book import notebook
    from hcvae.chapters import spherical_report as report

    cell = notebook.parameter_defaults(jupytext.read(notebook.NOTEBOOKS / "05-spherical-vae.md"))
    defaults = report.Params.defaults()
    assert cell == defaults and list(cell) == list(defaults)  # names, order and values
    p = report.Params.from_values(boundary_reading="per_batch")
    assert p.other_reading == "per_sample" and p.common["boundary_reading"] == "per_batch"

import math

import pytest
import torch

from hcvae.runs import experiments, store as store_mod
from hcvae.runs.baselines import (METHODS, BaselineConfig, decoder_only_loss, encoder_only_steps, kl_weight,
                                  split_parameters, table_configs)
from hcvae.core.models import build_vae
from hcvae.core.objectives import negative_elbo
from hcvae.runs import runner

TINY = dict(dataset="synthetic", n_samples=400, epochs=3, batch_size=100, latent_dim=2, sigma2_ratio=0.5)
EXTRA = {"vanilla": {}, "beta_vae": dict(beta=4.0), "kl_annealing": dict(warmup_epochs=2),
         "em_type": dict(encoder_steps_max=3, encoder_check_every=5)}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    store = store_mod.ResultStore(tmp_path_factory.mktemp("results"))
    return store, {m: runner.run(BaselineConfig(**TINY, method=m, **EXTRA[m]), store=store) for m in METHODS}


def test_each_method_runs_and_stores_a_vae_like_result(runs):
    store, res = runs
    for method, r in res.items():
        assert set(r) >= {"data", "sigma2_decoder", "metrics", "history", "wall_time_s", "method"}
        assert len(r["history"]) == 3 and {"eval_kl", "active_burda", "active_paper"} <= set(r["history"][-1])
        assert r["sigma2_decoder"] == pytest.approx(0.5 * r["data"]["lambda_max"])
        assert math.isfinite(r["metrics"]["neg_elbo"])
        assert runner.run(BaselineConfig(**TINY, method=method, **EXTRA[method]), store=store) == r  # from the store
    assert {r["method"] for r in res.values()} == {"Vanilla VAE", "β-VAE (β=4)", "KL annealing (linear, 2 warm-up epochs)",
                                                  "EM-type VAE"}


def test_beta_one_is_vanilla_and_vanilla_is_the_vae_run(runs):
    _, res = runs
    beta_one, _ = BaselineConfig(**TINY, method="beta_vae", beta=1.0).compute(progress=False)
    assert beta_one["metrics"] == res["vanilla"]["metrics"]
    assert [h["loss"] for h in beta_one["history"]] == [h["loss"] for h in res["vanilla"]["history"]]
    vae, _ = experiments.VAEConfig(**TINY, lr=3e-3, lr_schedule="constant").compute(progress=False)
    assert vae["metrics"] == res["vanilla"]["metrics"]
    assert res["beta_vae"]["metrics"] != res["vanilla"]["metrics"]


def test_kl_weight_schedules():
    assert [kl_weight("linear", t, 4, 10, 1) for t in (0, 1, 2, 4, 9)] == [0.0, 0.25, 0.5, 1.0, 1.0]
    assert kl_weight("linear", 0, 0, 10, 1) == 1.0  # no warm-up: the vanilla weight
    # 8 epochs, 2 cycles of 4: rise over the first 2 epochs of each cycle, then 1
    assert [kl_weight("cyclical", t, 0, 8, 2) for t in (0, 1, 2, 3, 4, 5, 7.5)] == [0.0, 0.5, 1.0, 1.0, 0.0, 0.5, 1.0]
    with pytest.raises(ValueError, match="linear, cyclical"):
        kl_weight("sigmoid", 0, 1, 1, 1)


def test_annealing_run_follows_its_schedule(runs):
    _, res = runs
    weights = [h["kl_weight"] for h in res["kl_annealing"]["history"]]
    # 4 steps per epoch, warm-up 2 epochs: epoch means of t / 2 over t = 0, 0.25, ... then 1
    assert weights == pytest.approx([0.1875, 0.6875, 1.0])
    cyc, _ = BaselineConfig(**{**TINY, "epochs": 4}, method="kl_annealing", schedule="cyclical", n_cycles=2).compute(
        progress=False)
    assert [h["kl_weight"] for h in cyc["history"]] == pytest.approx([0.375, 1.0, 0.375, 1.0])


def _model(architecture="mlp"):
    torch.manual_seed(0)
    shape = (1, 8, 8) if architecture == "conv" else None
    return build_vae(64, 2, 0.5, architecture, shape)


@pytest.mark.parametrize("architecture", ["mlp", "linear", "conv"])
def test_em_steps_move_only_their_network(architecture):
    model = _model(architecture)
    encoder, decoder = split_parameters(model)
    assert len(encoder) + len(decoder) == len(list(model.parameters()))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = torch.rand(32, 64)

    def changed(params, before):
        return [not torch.equal(p, b) for p, b in zip(params, before)]

    enc0, dec0 = [p.detach().clone() for p in encoder], [p.detach().clone() for p in decoder]
    assert encoder_only_steps(model, opt, lambda: x, negative_elbo, max_steps=3, check_every=10) == 3
    assert not any(changed(decoder, dec0)) and all(changed(encoder, enc0))
    enc1, dec1 = [p.detach().clone() for p in encoder], [p.detach().clone() for p in decoder]
    opt.zero_grad(set_to_none=True)
    decoder_only_loss(model, x, negative_elbo)["loss"].backward()
    assert all(p.grad is None for p in encoder)
    opt.step()
    assert not any(changed(encoder, enc1)) and all(changed(decoder, dec1))
    assert all(p.requires_grad for p in model.parameters())


def test_em_inner_loop_stops_when_the_loss_stops_improving():
    model = _model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(8, 64)

    def flat(m, xb):  # a loss that never improves: stop at the second check
        return {"loss": m.encode(xb)[0].sum() * 0.0 + 1.0}

    assert encoder_only_steps(model, opt, lambda: x, flat, max_steps=100, check_every=4) == 8
    values = iter(range(100, 0, -1))

    def falling(m, xb):  # always improving: stop at the cap
        return {"loss": m.encode(xb)[0].sum() * 0.0 + next(values)}

    assert encoder_only_steps(model, opt, lambda: x, falling, max_steps=20, check_every=4) == 20


def test_em_run_records_its_encoder_steps(runs):
    _, res = runs
    assert [h["encoder_steps"] for h in res["em_type"]["history"]] == [3.0, 3.0, 3.0]  # the cap, below one check block
    joint, _ = BaselineConfig(**TINY, method="em_type", encoder_steps_max=3, em_epochs=1).compute(progress=False)
    assert [h["encoder_steps"] for h in joint["history"]] == [3.0, 0.0, 0.0]


def test_same_seed_same_result(runs):
    _, res = runs
    again, _ = BaselineConfig(**TINY, method="em_type", **EXTRA["em_type"]).compute(progress=False)
    assert again["metrics"] == res["em_type"]["metrics"] and again["history"][-1]["loss"] == res["em_type"]["history"][-1]["loss"]
    other, _ = BaselineConfig(**TINY, method="em_type", **EXTRA["em_type"], seed=1).compute(progress=False)
    assert other["metrics"]["neg_elbo"] != res["em_type"]["metrics"]["neg_elbo"]


@pytest.mark.parametrize("kwargs, message", [
    (dict(method="free_bits"), r"method 'free_bits'; allowed values: vanilla, beta_vae, kl_annealing, em_type"),
    (dict(schedule="sigmoid"), r"schedule 'sigmoid'; allowed values: linear, cyclical"),
    (dict(beta=-1.0), r"beta must be a finite number >= 0"),
    (dict(beta=float("nan")), r"beta must be a finite number >= 0"),
    (dict(warmup_epochs=-1), r"warmup_epochs must be an integer >= 0"),
    (dict(n_cycles=0), r"n_cycles must be an integer >= 1"),
    (dict(encoder_steps_max=0), r"encoder_steps_max must be an integer >= 1"),
    (dict(em_epochs=-1), r"em_epochs must be None \(all epochs\) or an integer >= 0"),
    (dict(sigma2_ratio=0.0), r"sigma2_ratio .* > 0"),
    (dict(batch_size=1000), r"batch_size \(1000\) is larger than the data"),
    (dict(dataset="imagenet"), r"dataset"),
])
def test_bad_config_fails_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BaselineConfig(**{**TINY, **kwargs})


@pytest.mark.parametrize("profile", ["quick", "paper"])
def test_profiles_give_every_table_row(profile):
    for dataset in ("synthetic", "digits"):
        table = table_configs(profile, dataset)
        assert list(table)[0] == "Vanilla VAE" and "β-VAE (β=2)" in table and "EM-type VAE" in table
        assert all(len(cfgs) == len(table["Vanilla VAE"]) for cfgs in table.values())
    assert len(table_configs("paper", "synthetic")["Vanilla VAE"]) == 5  # v1 averages over 5 runs
    assert BaselineConfig.from_profile("paper", "synthetic").batch_size == 512

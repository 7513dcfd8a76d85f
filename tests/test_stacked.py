"""Stacked training (hcvae.core.stacked): a model trained in a stack agrees with the same model trained alone, its
numbers do not depend on which models share its stack, and the store, run_all and the sweeps keep one entry per
config."""

import numpy as np
import pytest
import torch

from hcvae.core.data import lambda_max, load_dataset
from hcvae.core.models import build_vae
from hcvae.core.objectives import negative_elbo
from hcvae.core.stacked import check_stackable, train_stacked
from hcvae.core.train import train
from hcvae.runs import experiments
from hcvae.runs.experiments import VAEConfig
from hcvae.runs.store import ResultStore
from hcvae.runs import runner

X = load_dataset("synthetic", 600, seed=0).x
LAM = lambda_max(X)
# Stacked and alone differ only in the order of floating-point operations (a batched product for one per model);
# over two epochs that moves a loss by far less than this
LOSS_RTOL = 1e-5
TINY = dict(dataset="synthetic", n_samples=600, epochs=2, batch_size=64, lr=3e-3, trainer="stacked")


def _model(seed, ratio, arch="mlp", hidden=(256, 128)):
    torch.manual_seed(seed)
    return build_vae(X.shape[1], 4, ratio * LAM, arch, hidden=hidden)


@pytest.mark.parametrize("arch, estimator, schedule", [("mlp", "sample", "cosine"), ("linear", "analytic", "constant")])
def test_a_stacked_model_agrees_with_the_same_model_trained_alone(arch, estimator, schedule):
    cases = [(0, 0.5), (1, 2.0), (2, 0.5)]
    alone = []
    for seed, ratio in cases:
        m = _model(seed, ratio, arch)
        h = train(m, X, epochs=2, batch_size=64, lr=3e-3, seed=seed, lr_schedule=schedule, progress=False,
                  loss_fn=lambda m, xb, **_: negative_elbo(m, xb, recon_estimator=estimator))
        alone.append((m, h))
    stacked = [_model(seed, ratio, arch) for seed, ratio in cases]
    histories = train_stacked(stacked, X, epochs=2, batch_size=64, lr=3e-3, seeds=[s for s, _ in cases],
                              lr_schedule=schedule, recon_estimator=estimator, progress=False)
    for (m, h), m2, h2 in zip(alone, stacked, histories):
        for row, row2 in zip(h, h2):
            for k in ("loss", "nll", "kl"):
                assert row2[k] == pytest.approx(row[k], rel=LOSS_RTOL, abs=1e-9), k
        for a, b in zip(m.parameters(), m2.parameters()):
            assert torch.allclose(a, b, rtol=1e-3, atol=1e-5)


def test_a_models_numbers_do_not_depend_on_its_stack():
    first = [_model(0, 0.5)]
    train_stacked(first, X, epochs=2, batch_size=64, lr=3e-3, seeds=[0], progress=False)
    crowd = [_model(0, 0.5), _model(1, 2.0), _model(5, 0.1), _model(7, 5.0)]
    train_stacked(crowd, X, epochs=2, batch_size=64, lr=3e-3, seeds=[0, 1, 5, 7], progress=False)
    for a, b in zip(first[0].parameters(), crowd[0].parameters()):
        assert torch.allclose(a, b, rtol=0, atol=1e-6)


def test_a_config_gets_the_same_entry_stacked_or_alone(tmp_path):
    configs = [VAEConfig(**TINY, sigma2_ratio=r, seed=s) for r, s in ((0.5, 0), (2.0, 1), (1.0, 0))]
    assert runner.stack_groups(configs) == [configs]
    together = runner.run_all(configs, store=ResultStore(tmp_path / "a", reference=None), progress=False)
    assert [r["provenance"]["stacked_with"] for r in together] == [3, 3, 3]
    for c, r in zip(configs, together):
        alone = runner.run(c, store=ResultStore(tmp_path / "b", reference=None), progress=False)
        for k, v in alone["metrics"].items():
            assert r["metrics"][k] == pytest.approx(v, rel=1e-6, abs=1e-9), k
        assert r["config"] == alone["config"] and r["key"] == alone["key"]


def test_the_trainer_field_at_its_default_keeps_every_key():
    from hcvae.runs.store import canonical_config, config_key

    assert "trainer" not in canonical_config(VAEConfig())
    assert config_key(VAEConfig(trainer="single")) == config_key(VAEConfig())
    assert config_key(VAEConfig(trainer="stacked")) != config_key(VAEConfig())


def test_stacking_refuses_what_does_not_stack():
    with pytest.raises(ValueError, match="only models of one shape stack"):
        check_stackable([_model(0, 1.0), _model(1, 1.0, hidden=(64,))])
    with pytest.raises(ValueError, match="only models of one shape stack"):
        check_stackable([_model(0, 1.0), _model(1, 1.0, arch="linear")])
    with pytest.raises(ValueError, match="one seed per model"):
        train_stacked([_model(0, 1.0)], X, epochs=1, batch_size=64, lr=1e-3, seeds=[0, 1])
    with pytest.raises(ValueError, match="trainer='stacked' trains the mlp and linear VAEs only"):
        VAEConfig(dataset="digits", architecture="conv", trainer="stacked")
    with pytest.raises(ValueError, match="unknown trainer 'fast'; allowed values: single, stacked"):
        VAEConfig(trainer="fast")
    with pytest.raises(ValueError, match="differ only in seed and sigma2_ratio"):
        experiments.train_stack([VAEConfig(**TINY), VAEConfig(**{**TINY, "epochs": 3})])
    with pytest.raises(ValueError, match="configs of one stack"):
        runner.run_stack([VAEConfig(**TINY), VAEConfig(**{**TINY, "lr": 1e-3})])


def test_a_diverging_stack_names_the_model_epoch_and_step():
    from hcvae.core.train import TrainingDiverged

    bad = X.copy()
    bad[100:, 0] = np.nan
    with pytest.raises(TrainingDiverged, match=r"model 0 of the stack \(seed 3\): non-finite loss at epoch 0, step"):
        train_stacked([_model(3, 1.0), _model(4, 1.0)], np.nan_to_num(bad, nan=1e30), epochs=1, batch_size=64,
                      lr=1e-3, seeds=[3, 4], progress=False)


def test_a_sweep_trains_a_stack_on_one_worker_and_stores_each_config(tmp_path):
    from hcvae.runs import sweep

    configs = [VAEConfig(**TINY, sigma2_ratio=r) for r in (0.5, 2.0)] + [VAEConfig(**{**TINY, "trainer": "single"})]
    store = ResultStore(tmp_path, reference=None)
    res = sweep.run_sweep([*configs, configs[0]], store=store, n_workers=1, progress=False)
    assert res.ok and res.n_computed == 4 and res.results[3] == res.results[0]
    assert [r["provenance"].get("stacked_with") for r in res.results[:3]] == [2, 2, None]
    assert all(store.lookup(c)[0] is not None for c in configs)

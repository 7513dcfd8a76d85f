import json
import math

import numpy as np
import pytest

from hcvae.runs import experiments, store as store_mod
from hcvae.runs.experiments import VAEConfig
from hcvae.runs import runner

TINY = dict(dataset="digits", architecture="linear", epochs=2, batch_size=256, n_samples=600)


@pytest.mark.parametrize("kwargs, message", [
    (dict(dataset="cifar"), "unknown dataset 'cifar'; allowed values: synthetic, digits"),
    (dict(architecture="transformer"), "unknown architecture 'transformer'; allowed values: mlp, linear, conv"),
    (dict(sigma2_ratio=0.0), "sigma2_ratio"),
    (dict(sigma2_ratio=-2.0), "sigma2_ratio"),
    (dict(latent_dim=0), "latent_dim must be an integer >= 1"),
    (dict(dataset="digits", batch_size=5000), r"batch_size \(5000\) is larger than the data \(1797 samples\)"),
    (dict(n_samples=100, batch_size=512), r"larger than the data \(100 samples\)"),
    (dict(lr_schedule="warm"), "allowed values: constant, cosine"),
    (dict(recon_estimator="analytic", architecture="mlp"), "needs architecture='linear'"),
    (dict(seed=-1), "seed must be an integer >= 0"),
])
def test_bad_configs_fail_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        VAEConfig(**kwargs)


def test_unknown_profile_names_the_allowed_values(monkeypatch):
    with pytest.raises(ValueError, match="unknown profile 'full'; allowed values: quick, paper"):
        experiments.profile_settings("full")
    monkeypatch.setenv("HCVAE_PROFILE", "huge")
    with pytest.raises(ValueError, match="unknown profile 'huge'"):
        experiments.resolve_profile("quick")


def test_profile_env_overrides_the_notebook_parameter(monkeypatch):
    monkeypatch.delenv("HCVAE_PROFILE", raising=False)
    assert experiments.resolve_profile("quick") == "quick"
    monkeypatch.setenv("HCVAE_PROFILE", "paper")
    assert experiments.resolve_profile("quick") == "paper"


def test_profiles_cover_the_required_ratio_grid():
    required = {0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 5.0}
    for name in experiments.PROFILES:
        assert required <= set(experiments.profile_settings(name)["ratios"])
    assert len(experiments.profile_settings("paper")["seeds"]) >= 3
    paper = VAEConfig.from_profile("paper", "synthetic")
    assert (paper.n_samples, paper.batch_size, paper.lr) == (None, 512, 3e-3)  # v1 §5.1.1 and Appendix B


def test_run_stores_and_reloads(store):
    cfg = VAEConfig(**TINY, sigma2_ratio=0.5)
    first = runner.run(cfg, store=store)
    assert (store.folder(cfg) / "result.json").exists() and (store.folder(cfg) / "weights.pt").exists()
    again = runner.run(cfg, store=store)
    assert again == first
    assert first["sigma2_decoder"] == pytest.approx(0.5 * first["data"]["lambda_max"])
    assert len(first["history"]) == 2 and math.isfinite(first["metrics"]["neg_elbo"])
    weights = store.load_weights(cfg)
    assert weights["decoder.weight"].shape == (64, 8)


def test_same_config_same_numbers(store, tmp_path):
    cfg = VAEConfig(**TINY, sigma2_ratio=0.5, seed=3)
    a = runner.run(cfg, store=store)
    b = runner.run(cfg, store=store_mod.ResultStore(tmp_path / "other"))
    assert a["metrics"] == b["metrics"] and a["history"] == b["history"]
    c = runner.run(VAEConfig(**TINY, sigma2_ratio=0.5, seed=4), store=store)
    assert c["metrics"]["kl"] != a["metrics"]["kl"]


@pytest.mark.parametrize("damage", ["truncate", "garbage", "foreign", "weights"])
def test_corrupt_entry_is_recomputed_not_read(store, damage):
    cfg = VAEConfig(**TINY, sigma2_ratio=0.25)
    good = runner.run(cfg, store=store)
    path = store.folder(cfg) / "result.json"
    if damage == "truncate":
        path.write_text(path.read_text()[:100])
    elif damage == "garbage":
        path.write_bytes(b"\x00\xff not json")
    elif damage == "foreign":
        other = json.loads(path.read_text())
        other["config"]["seed"] = 99
        other["metrics"]["kl"] = -1.0
        path.write_text(json.dumps(other))
    else:
        (store.folder(cfg) / "weights.pt").write_bytes(b"not a state dict")
    with pytest.warns(UserWarning, match="unreadable"):
        again = runner.run(cfg, store=store)
    assert again["metrics"] == good["metrics"]
    assert store.load(cfg)["metrics"] == good["metrics"]


def test_no_temporary_files_left_behind(store):
    runner.run(VAEConfig(**TINY, sigma2_ratio=0.5), store=store)
    assert not [p for p in store.root.rglob("*") if p.name.endswith(".tmp")]


def test_phase_sweep_configs_grid():
    configs = experiments.phase_sweep_configs("quick", datasets=("digits",), seeds=(0, 1))
    settings = experiments.profile_settings("quick")
    assert len(configs) == 2 * len(settings["ratios"]) * 2
    assert {c.architecture for c in configs} == {"mlp", "linear"}
    assert np.allclose(sorted({c.sigma2_ratio for c in configs}), settings["ratios"])

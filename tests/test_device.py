"""The device choice: CPU by default, a device that is unknown or absent refused before any work, the same numbers
whether the CPU is chosen explicitly or left as the default, and the device in the provenance, not the key."""

import pytest
import torch

from hcvae.core import device
from hcvae.runs import experiments, store as store_mod
from hcvae.runs.experiments import VAEConfig
from hcvae.runs import runner

TINY = dict(dataset="digits", architecture="mlp", epochs=2, batch_size=128, n_samples=600)


def test_names_resolve_or_fail_naming_what_is_allowed(monkeypatch):
    monkeypatch.delenv("HCVAE_DEVICE", raising=False)
    assert device.resolve() == torch.device("cpu") == device.resolve("cpu")
    for bad in ("gpu", "cuda:x", "cpu:0", "tpu"):
        with pytest.raises(ValueError, match="allowed values: cpu, cuda, cuda:N, mps"):
            device.resolve(bad)
    monkeypatch.setenv("HCVAE_DEVICE", "cpu")
    assert device.resolve() == torch.device("cpu")
    if torch.cuda.is_available():
        assert device.resolve("cuda").type == "cuda"
    else:
        with pytest.raises(device.DeviceError, match="no CUDA device"):
            device.resolve("cuda")


def test_an_absent_device_fails_before_any_work(tmp_path, monkeypatch):
    absent = f"cuda:{torch.cuda.device_count()}" if torch.cuda.is_available() else "cuda"  # one past the last GPU
    monkeypatch.setattr(VAEConfig, "compute", lambda *a, **k: pytest.fail("started work on an absent device"))
    with pytest.raises(device.DeviceError, match="cuda"):
        runner.run(VAEConfig(**TINY), store=store_mod.ResultStore(tmp_path, reference=None), on=absent)
    monkeypatch.setenv("HCVAE_DEVICE", f"cuda:{torch.cuda.device_count() + 3}")
    with pytest.raises(device.DeviceError):
        runner.run(VAEConfig(**TINY), store=store_mod.ResultStore(tmp_path, reference=None))


@pytest.mark.parametrize("make", [
    lambda: VAEConfig(**TINY),
    lambda: __import__("hcvae.runs.hct", fromlist=["x"]).HCTConfig(
        dataset="digits", n_samples=300, r0=2, n_components=3, epochs_per_round=1, max_refine_epochs=1,
        final_epochs=1, batch_size=100, latent_dim=2, xhat="mean"),
    lambda: __import__("hcvae.runs.spherical_runs", fromlist=["x"]).SphericalConfig(
        dataset="synthetic", n_samples=600, epochs=3, batch_size=100),
    lambda: __import__("hcvae.runs.baselines", fromlist=["x"]).BaselineConfig(
        dataset="digits", method="em_type", n_samples=600, epochs=2, batch_size=100, em_epochs=1),
])
def test_the_device_code_path_gives_the_cpus_numbers(make, tmp_path, monkeypatch):
    monkeypatch.delenv("HCVAE_DEVICE", raising=False)
    config = make()
    default = runner.run(config, store=store_mod.ResultStore(tmp_path / "a", reference=None))
    explicit = runner.run(config, store=store_mod.ResultStore(tmp_path / "b", reference=None), on="cpu")
    drop = {"provenance", "wall_time_s", "em_time_s"}
    assert {k: v for k, v in default.items() if k not in drop} == {k: v for k, v in explicit.items() if k not in drop}
    assert default["provenance"]["device"] == explicit["provenance"]["device"] == "cpu"
    assert default["key"] == store_mod.config_key(config)  # the device is not in the key


def test_the_command_lines_refuse_a_bad_device(tmp_path, capsys):
    from hcvae.book import notebook
    from hcvae.runs import sweep

    with pytest.raises(SystemExit, match="unknown device 'gpu'"):
        notebook.main(["01", "--device", "gpu", "--output-dir", str(tmp_path)])
    with pytest.raises(SystemExit):
        sweep.main(["notebooks/grids/quick/hct_r0.toml", "--device", "gpu"])
    assert "unknown device 'gpu'" in capsys.readouterr().err

import time

import pytest

from hcvae.runs import sweep
from hcvae.runs.experiments import VAEConfig

TINY = dict(dataset="synthetic", n_samples=300, epochs=2, batch_size=100, latent_dim=2)


def _grid(tmp_path, text, name="grid.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_grid_file_gives_every_combination(tmp_path):
    path = _grid(tmp_path, 'kind = "vae"\ndataset = "synthetic"\n[fixed]\nn_samples = 300\nepochs = 2\nbatch_size = 100\n'
                           '[grid]\nsigma2_ratio = [0.5, 2.0]\nseed = [0, 1, 2]\n')
    configs = sweep.load_grid(path)
    assert len(configs) == 6 and {c.seed for c in configs} == {0, 1, 2}
    assert {c.sigma2_ratio for c in configs} == {0.5, 2.0} and all(c.epochs == 2 for c in configs)


def test_grid_with_a_profile_starts_from_its_settings(tmp_path):
    path = _grid(tmp_path, 'kind = "hct"\nprofile = "quick"\ndataset = "digits"\n[grid]\nr0 = [2, 4]\n')
    configs = sweep.load_grid(path)
    assert [c.r0 for c in configs] == [2, 4] and configs[0].batch_size == 128
    assert sweep.load_grid(path, profile="paper")[0].epochs_per_round == 30


@pytest.mark.parametrize("text, message", [
    ('kind = "vae"\n[grid\nseed = [0]\n', r"does not parse as TOML.*line 2"),
    ('kind = "vae"\n[grid]\nseeds = [0, 1]\n', r"line 3: unknown parameter 'seeds'"),
    ('kind = "vae"\n[fixed]\nepochs = 2\n[grid]\nsigma2_ratio = [1.0, -1.0]\n', r"line 5: parameter sigma2_ratio"),
    ('kind = "vae"\n[fixed]\nn_samples = 50\n', r"parameter batch_size \(a default or profile value\)"),
    ('kind = "gan"\n', r"line 1: .*kind.*barrier, baseline, diffusion, gmm, hct, region, spherical, vae"),
    ('kind = "vae"\n[grid]\nseed = 3\n', r"line 3: grid parameter 'seed' must be a non-empty list"),
    ('kind = "vae"\nprofiles = "quick"\n', r"line 2: unknown top-level entry 'profiles'"),
    ('kind = "hct"\n[grid]\nr0 = [24]\n', r"line 3: parameter r0 .*not a power of two"),
])
def test_bad_grid_fails_before_any_point_runs(tmp_path, text, message):
    with pytest.raises(sweep.GridError, match=message):
        sweep.load_grid(_grid(tmp_path, text))


def test_unreachable_scheduler_fails_fast(store):
    start = time.perf_counter()
    with pytest.raises(ConnectionError, match="could not reach the Dask scheduler at 'tcp://127.0.0.1:9'"):
        sweep.run_sweep([VAEConfig(**TINY)], store=store, scheduler="tcp://127.0.0.1:9")
    assert time.perf_counter() - start < 30


def test_two_workers_resume_and_report_failures(store):
    configs = [VAEConfig(**TINY, sigma2_ratio=r, seed=s) for r in (0.5, 2.0) for s in (0, 1)]
    first = sweep.run_sweep(configs[:2], store=store, n_workers=2)  # a sweep interrupted after two points
    assert first.ok and first.n_computed == 2 and first.n_cached == 0
    failing = VAEConfig(dataset="mnist", epochs=1, batch_size=10)  # valid config, but no MNIST files here
    full = sweep.run_sweep([*configs, failing], store=store, n_workers=2)
    assert full.n_cached == 2 and full.n_computed == 2  # only the missing points ran
    assert full.results[:2] == first.results  # read back, not recomputed
    assert all(r is not None for r in full.results[:4]) and full.results[4] is None
    assert [f["index"] for f in full.failures] == [4] and full.failures[0]["config"] == failing
    again = sweep.run_sweep(configs, store=store, n_workers=2)
    assert again.n_computed == 0 and again.results == full.results[:4]


def test_cli_dry_run_lists_points(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HCVAE_RESULTS", str(tmp_path / "results"))
    path = _grid(tmp_path, 'kind = "vae"\n[fixed]\nn_samples = 300\nepochs = 2\nbatch_size = 100\n[grid]\nseed = [0, 1]\n')
    assert sweep.main([str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.count("missing") == 2
    assert sweep.main([str(tmp_path / "nope.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err

"""A VAE run's decoder views (hcvae.runs.views): drawn from its weights, kept beside it, shipped in the reference."""

import numpy as np
import pytest

from hcvae.book import reference
from hcvae.runs import experiments, store as store_mod, views
from hcvae.runs.experiments import VAEConfig
from hcvae.runs import runner

TINY = dict(dataset="digits", architecture="mlp", epochs=2, batch_size=256, n_samples=600, latent_dim=4)


def test_views_come_from_local_weights_are_kept_and_ship_with_the_reference(tmp_path):
    cfg = VAEConfig(**TINY)
    work = store_mod.ResultStore(tmp_path / "work", reference=None)
    runner.run(cfg, store=work)
    got = views.vae_views(cfg, work)
    d = 64
    assert got["x"].shape == (views.N_POINTS, d) and got["recon"].shape == (views.N_POINTS, d)
    assert got["traversal"].shape == (views.N_TRAVERSED, len(views.TRAVERSAL), d)
    assert tuple(got["image_shape"])[-2:] == (8, 8)
    assert (work.folder(cfg) / f"{views.VIEWS}.npz").exists()
    ref = tmp_path / "reference"
    reference.export([store_mod.config_key(cfg)], work, ref)
    assert (ref / f"{store_mod.config_key(cfg)}.{views.VIEWS}.npz").exists()
    fresh = store_mod.ResultStore(tmp_path / "fresh", reference=ref)
    shipped = views.vae_views(cfg, fresh)
    assert all(np.array_equal(shipped[k], got[k]) for k in got)
    (ref / f"{store_mod.config_key(cfg)}.{views.VIEWS}.npz").unlink()
    assert views.vae_views(cfg, store_mod.ResultStore(tmp_path / "fresh2", reference=ref)) is None  # no weights there


def test_a_decoder_that_ignores_z_draws_one_picture_everywhere(tmp_path):
    """The collapsed decoder's signature: every reconstruction and every traversal step is the same row."""
    cfg = VAEConfig(**TINY)
    work = store_mod.ResultStore(tmp_path / "work", reference=None)
    runner.run(cfg, store=work)
    state = work.load_weights(cfg)
    first = next(k for k in state if k.startswith("decoder.") and k.endswith("weight"))
    state[first] = state[first] * 0  # the decoder's first layer no longer reads z
    got = views.compute_views(cfg, state)
    assert np.allclose(got["recon"], got["recon"][0]) and np.allclose(got["traversal"], got["recon"][0], atol=1e-6)
    live = views.compute_views(cfg, work.load_weights(cfg))
    assert not np.allclose(live["recon"], live["recon"][0])  # the trained decoder does read z


def test_views_of_another_version_are_never_served(tmp_path, monkeypatch):
    """Arrays drawn by an older compute_views are named by its VERSION: after a bump they are drawn again."""
    cfg = VAEConfig(**TINY)
    work = store_mod.ResultStore(tmp_path / "work", reference=None)
    runner.run(cfg, store=work)
    views.vae_views(cfg, work)
    monkeypatch.setattr(views, "VIEWS", "views-v999")
    drawn = []
    monkeypatch.setattr(views, "compute_views", lambda c, state: drawn.append(c) or {"x": np.zeros(1)})
    assert views.vae_views(cfg, work)["x"].shape == (1,) and drawn == [cfg]

import numpy as np
import pytest
import torch

from hcvae.core.models import ConvVAE
from hcvae.core.data import load_dataset
from hcvae.core.models import build_vae
from hcvae.core.objectives import negative_elbo
from hcvae.core.train import train
from hcvae.runs import experiments
from hcvae.runs import runner


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 14, 14), (3, 8, 8)])
def test_shapes_round_trip(shape):
    torch.manual_seed(0)
    model = build_vae(int(np.prod(shape)), 5, 0.5, "conv", shape)
    assert isinstance(model, ConvVAE) and model.architecture == "conv" and not model.is_linear
    assert model.input_dim == int(np.prod(shape)) and model.latent_dim == 5
    x = torch.rand(7, model.input_dim)
    x_hat, mu, logvar, z = model(x)
    assert x_hat.shape == x.shape and mu.shape == logvar.shape == z.shape == (7, 5)
    assert float(model.sigma2_decoder) == 0.5
    torch.testing.assert_close(model(x, sample=False)[3], mu)


def test_layers_follow_the_paper():
    model = ConvVAE((1, 14, 14), 8, 1.0)
    convs = [m for m in model.encoder if isinstance(m, torch.nn.Conv2d)]
    deconvs = [m for m in model.decoder if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [c.out_channels for c in convs] == [32, 64] and [d.out_channels for d in deconvs] == [32, 1]
    assert [d.output_padding for d in deconvs] == [(1, 1), (0, 0)]  # 3 -> 7 -> 14
    assert ConvVAE((1, 8, 8), 8, 1.0, channels=(32, 64, 128)).decode(torch.zeros(2, 8)).shape == (2, 64)


@pytest.mark.parametrize("kwargs, message", [
    (dict(image_shape=(1, 2, 2)), "too small for 2 stride-2 conv layers"),
    (dict(image_shape=(8, 8)), "image_shape must be"),
    (dict(latent_dim=0), "latent_dim"),
    (dict(sigma2_decoder=0.0), "sigma2_decoder"),
    (dict(channels=()), "channels"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ConvVAE(**{"image_shape": (1, 8, 8), "latent_dim": 4, "sigma2_decoder": 1.0, **kwargs})


def test_trains_through_the_shared_loop():
    x = load_dataset("digits", n_samples=256).x

    def fit():
        torch.manual_seed(0)
        model = ConvVAE((1, 8, 8), 4, 0.05)
        history = train(model, x, epochs=4, batch_size=64, lr=3e-3, seed=0, progress=False,
                        loss_fn=lambda m, xb, **_: negative_elbo(m, xb))
        return [h["loss"] for h in history]

    losses = fit()
    assert losses[-1] < losses[0]
    assert losses == fit()


def test_runs_as_a_vae_config(store):
    cfg = experiments.VAEConfig(dataset="digits", architecture="conv", sigma2_ratio=0.5, latent_dim=4, epochs=3,
                                batch_size=64, n_samples=300, lr=3e-3)
    res = runner.run(cfg, store=store)
    losses = [h["loss"] for h in res["history"]]
    assert losses[-1] < losses[0] and res["metrics"]["kl"] > 0
    assert "eval_kl" in res["history"][-1]
    again = runner.run(cfg, store=store, force=True)
    assert again["metrics"]["neg_elbo"] == res["metrics"]["neg_elbo"]

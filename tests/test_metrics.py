import math

import numpy as np
import pytest
import torch

from hcvae.core import metrics
from hcvae.core.models import GaussianVAE


def test_active_units_count_both_criteria():
    rng = np.random.default_rng(0)
    mu = np.stack([rng.normal(0, 1, 1000), rng.normal(0, 0.05, 1000), np.zeros(1000)], axis=1)
    logvar = np.log(np.tile([0.2, 0.995, 0.5], (1000, 1)))
    au = metrics.active_units(mu, logvar)
    assert au["active_burda"] == 1  # only dim 0 has Var E[z] > 0.01
    assert au["active_paper"] == 2  # dims 0 and 2 have E sigma^2 < 0.99


def _collapsed_model(dim=5):
    model = GaussianVAE(dim, 3, 1.0, architecture="linear")
    with torch.no_grad():
        model.encoder.weight.zero_()
        model.encoder.bias.zero_()
        model.encoder_logvar.zero_()
    return model


def test_collapsed_model_has_zero_kl_mi_and_active_units():
    x = np.random.default_rng(0).normal(size=(300, 5)).astype(np.float32)
    m = metrics.evaluate(_collapsed_model(), x)
    assert m["kl"] == pytest.approx(0.0, abs=1e-7)
    assert abs(m["mutual_information"]) < 1e-6
    assert m["active_burda"] == 0 and m["active_paper"] == 0


def test_mutual_information_of_an_informative_encoder_is_positive_and_bounded():
    torch.manual_seed(0)
    model = GaussianVAE(5, 3, 1.0, architecture="linear")
    with torch.no_grad():
        model.encoder.weight.copy_(torch.eye(3, 5) * 3)
        model.encoder_logvar.fill_(math.log(0.01))
    x = np.random.default_rng(0).normal(size=(500, 5)).astype(np.float32)
    mi = metrics.mutual_information(model, x, n_samples=500)
    assert 1.0 < mi <= math.log(500) + 1e-9


def test_mse_is_of_the_posterior_mean_reconstruction():
    x = np.random.default_rng(1).normal(size=(200, 5)).astype(np.float32)
    model = _collapsed_model()
    with torch.no_grad():
        model.decoder.bias.copy_(torch.as_tensor(x.mean(0)))
    m = metrics.evaluate(model, x)
    assert m["mse"] == pytest.approx(x.var(0).mean(), rel=1e-4)


def test_fano_bound_known_values():
    import math

    from hcvae.core.metrics import fano_required_information

    assert fano_required_information(1.0, math.log(4), 4) == pytest.approx(math.log(4))  # all right: the full entropy
    assert fano_required_information(0.25, math.log(4), 4) == pytest.approx(0.0, abs=1e-12)  # chance level: nothing
    half = fano_required_information(0.5, math.log(2), 2)
    assert half == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="share must lie in"):
        fano_required_information(1.2, 1.0, 2)


class _Coded(torch.nn.Module):
    """A 1-d code of the sign of x_0 with unit posterior variance, scaled by ``gain``; the decoder lands a code on
    the centre of its sign. Small gain: the posterior mean still carries the label, the sampled code hardly does."""

    latent_dim = 1

    def __init__(self, gain, centres):
        super().__init__()
        self.gain, self.centres = gain, torch.as_tensor(centres, dtype=torch.float32)

    def encode(self, x):
        mu = self.gain * torch.sign(x[:, :1])
        return mu, torch.zeros_like(mu)

    def decode(self, z):
        return torch.where(z > 0, self.centres[1], self.centres[0])


def test_information_check_catches_the_mean_decode_loophole():
    from hcvae.core.metrics import information_check

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 4000)
    centres = np.array([[-5.0, 0.0], [5.0, 0.0]])
    x = (centres[labels] + rng.normal(size=(4000, 2))).astype(np.float32)
    x[:, 0] = np.where(labels == 1, np.abs(x[:, 0]), -np.abs(x[:, 0]))  # the sign of x_0 is the label
    loophole = information_check(_Coded(1e-3, centres), x, centres, labels, seed=0)
    assert loophole["kl"] < 1e-5 and loophole["share_mean"] == 1.0 and 0.4 < loophole["share_sample"] < 0.6
    assert not loophole["bound_holds_mean"] and loophole["bound_holds_sample"]
    assert loophole["required_mean"] == pytest.approx(loophole["label_entropy"])
    honest = information_check(_Coded(10.0, centres), x, centres, labels, seed=0)
    assert honest["share_sample"] > 0.99 and honest["kl"] == pytest.approx(50.0)
    assert honest["bound_holds_sample"] and honest["bound_holds_mean"]

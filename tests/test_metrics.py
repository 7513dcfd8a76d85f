import math

import numpy as np
import pytest
import torch

from hcvae import metrics
from hcvae.models import GaussianVAE


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

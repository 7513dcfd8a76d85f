import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from hcvae.core.models import GaussianVAE
from hcvae.core.objectives import gaussian_nll, kl_standard_normal, negative_elbo


@pytest.mark.parametrize("sigma2", [0.0, -1.0, float("nan"), float("inf")])
def test_non_positive_sigma2_decoder_is_refused(sigma2):
    with pytest.raises(ValueError, match="sigma2_decoder"):
        GaussianVAE(4, 2, sigma2)


def test_latent_dim_below_one_is_refused():
    with pytest.raises(ValueError, match="latent_dim must be an integer >= 1"):
        GaussianVAE(4, 0, 1.0)


def test_unknown_architecture_names_the_allowed_values():
    with pytest.raises(ValueError, match="allowed values: mlp, linear"):
        GaussianVAE(4, 2, 1.0, architecture="conv")


def test_mlp_has_the_paper_layer_sizes():
    m = GaussianVAE(32, 8, 1.0)
    enc = [l.out_features for l in m.encoder if isinstance(l, torch.nn.Linear)]
    dec = [l.out_features for l in m.decoder if isinstance(l, torch.nn.Linear)]
    assert enc == [256, 128, 16] and dec == [128, 256, 32]


def test_gaussian_nll_is_the_exact_log_density():
    rng = np.random.default_rng(0)
    x, mean = rng.normal(size=(5, 7)), rng.normal(size=(5, 7))
    s = 0.37
    expected = [-multivariate_normal(mean[i], s * np.eye(7)).logpdf(x[i]) for i in range(5)]
    got = gaussian_nll(torch.tensor(x), torch.tensor(mean), s)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10)


def test_analytic_kl_matches_monte_carlo():
    torch.manual_seed(0)
    mu, logvar = torch.tensor([[0.7, -1.2, 0.1]], dtype=torch.float64), torch.tensor([[-0.5, 0.8, -2.0]], dtype=torch.float64)
    std = torch.exp(0.5 * logvar)
    z = mu + std * torch.randn(400_000, 3, dtype=torch.float64)
    log_q = (-0.5 * ((z - mu) / std) ** 2 - 0.5 * logvar - 0.5 * math.log(2 * math.pi)).sum(-1)
    log_p = (-0.5 * z ** 2 - 0.5 * math.log(2 * math.pi)).sum(-1)
    mc = (log_q - log_p).mean().item()
    analytic = kl_standard_normal(mu, logvar).sum().item()
    assert analytic == pytest.approx(mc, abs=0.01)


def test_analytic_reconstruction_is_the_expectation_of_the_sampled_one():
    torch.manual_seed(0)
    model = GaussianVAE(6, 3, 0.5, architecture="linear").double()
    with torch.no_grad():
        model.encoder_logvar.copy_(torch.tensor([-0.3, 0.2, -1.0]))
    x = torch.randn(4, 6, dtype=torch.float64)
    analytic = negative_elbo(model, x, recon_estimator="analytic")["nll"].item()
    torch.manual_seed(1)
    sampled = np.mean([negative_elbo(model, x, recon_estimator="sample")["nll"].item() for _ in range(20_000)])
    assert analytic == pytest.approx(sampled, rel=2e-3)


def test_analytic_estimator_needs_a_linear_decoder():
    with pytest.raises(ValueError, match="linear decoder"):
        negative_elbo(GaussianVAE(4, 2, 1.0), torch.zeros(2, 4), recon_estimator="analytic")


def test_beta_weights_only_the_kl():
    torch.manual_seed(0)
    model = GaussianVAE(4, 2, 1.0, architecture="linear")
    x = torch.randn(8, 4)
    a = negative_elbo(model, x, beta=1.0, recon_estimator="analytic")
    b = negative_elbo(model, x, beta=3.0, recon_estimator="analytic")
    assert b["loss"].item() == pytest.approx(a["nll"].item() + 3 * a["kl"].item(), rel=1e-6)
    assert b["neg_elbo"].item() == pytest.approx(a["neg_elbo"].item(), rel=1e-6)

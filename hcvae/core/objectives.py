"""The negative ELBO of a Gaussian VAE, in nats per sample, constants included.

-ELBO(x) = E_q[-log N(x; f(z), sigma'^2 I)] + KL(q(z|x) || N(0, I))      (v1 eq. 1)

with -log N(x; f, s I) = ||x - f||^2 / (2 s) + (N/2) log(2 pi s) for N features.
"""

from __future__ import annotations

import math

import torch

RECON_ESTIMATORS = ("sample", "analytic")


def gaussian_nll(x: torch.Tensor, x_hat: torch.Tensor, sigma2_decoder) -> torch.Tensor:
    """-log N(x; x_hat, sigma2_decoder I) per sample (nats), constants included."""
    sigma2 = torch.as_tensor(sigma2_decoder, dtype=x.dtype)
    sq = (x - x_hat).pow(2).sum(dim=-1)
    return 0.5 * sq / sigma2 + 0.5 * x.shape[-1] * torch.log(2 * math.pi * sigma2)


def kl_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) per latent dimension, shape like ``mu``."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def negative_elbo(model, x: torch.Tensor, beta: float = 1.0, recon_estimator: str = "sample") -> dict:
    """Mean negative ELBO over the batch and its terms.

    ``recon_estimator="sample"`` uses one reparameterised sample (any decoder);
    ``"analytic"`` uses the exact expectation, available for a linear decoder:
    E_q ||x - W z - b||^2 = ||x - W mu - b||^2 + sum_j sigma_j^2 ||W_{:, j}||^2.
    ``beta`` weights the KL term (beta = 1 is the ELBO itself).

    Returns a dict of scalar tensors: ``loss`` (what to minimise), ``nll``
    (expected reconstruction term), ``kl`` and ``neg_elbo`` (nll + kl, whatever beta).
    """
    if recon_estimator not in RECON_ESTIMATORS:
        raise ValueError(f"unknown recon_estimator {recon_estimator!r}; allowed values: {', '.join(RECON_ESTIMATORS)}")
    mu, logvar = model.encode(x)
    if recon_estimator == "analytic":
        if not getattr(model, "is_linear", False):
            raise ValueError("recon_estimator='analytic' needs a linear decoder (architecture='linear'); use 'sample'")
        x_hat = model.decode(mu)
        weight = model.decoder.weight  # (N, n)
        trace = (logvar.exp() * weight.pow(2).sum(dim=0)).sum(dim=-1)
        sq = (x - x_hat).pow(2).sum(dim=-1) + trace
        sigma2 = model.sigma2_decoder
        nll = 0.5 * sq / sigma2 + 0.5 * x.shape[-1] * torch.log(2 * math.pi * sigma2)
    else:
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        nll = gaussian_nll(x, model.decode(z), model.sigma2_decoder)
    kl = kl_standard_normal(mu, logvar).sum(dim=-1)
    nll, kl = nll.mean(), kl.mean()
    return {"loss": nll + beta * kl, "nll": nll, "kl": kl, "neg_elbo": nll + kl}

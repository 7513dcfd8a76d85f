"""What the book measures on a trained VAE.

* KL: E_x KL(q(z|x) || p(z)), summed over latent dimensions, in nats; also per dimension.
* Active units, two criteria, both reported because the paper's text mixes them:
  Burda et al. (2016): Var_x E_q[z_j] > 0.01; the paper's own (v1 §5.1.4):
  E_x[sigma_j^2(x)] < 0.99.
* Reconstruction MSE of the posterior-mean reconstruction f(mu(x)), per feature.
* The negative ELBO (nats per sample) and a mutual-information estimate I(x; z)
  under q (Hoffman & Johnson 2016; the minibatch estimator of He et al. 2019).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .data import check_data
from .objectives import gaussian_nll, kl_standard_normal

BURDA_THRESHOLD = 0.01
PAPER_THRESHOLD = 0.99


@torch.no_grad()
def encode(model, x, batch_size: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means and log-variances of every row of ``x`` (float64 arrays)."""
    x = torch.as_tensor(check_data(x))
    model.eval()
    mus, logvars = [], []
    for i in range(0, x.shape[0], batch_size):
        mu, logvar = model.encode(x[i:i + batch_size])
        mus.append(mu.double())
        logvars.append(logvar.double())
    return torch.cat(mus).numpy(), torch.cat(logvars).numpy()


def active_units(mu: np.ndarray, logvar: np.ndarray) -> dict:
    """Both active-unit counts and the per-dimension statistics behind them."""
    var_mean = mu.var(axis=0)  # Var_x E_q[z_j]
    post_var = np.exp(logvar).mean(axis=0)  # E_x sigma_j^2(x)
    return {
        "active_burda": int((var_mean > BURDA_THRESHOLD).sum()),
        "active_paper": int((post_var < PAPER_THRESHOLD).sum()),
        "var_mean_per_dim": var_mean.tolist(),
        "posterior_var_per_dim": post_var.tolist(),
    }


@torch.no_grad()
def mutual_information(model, x, n_samples: int = 1000, seed: int = 0) -> float:
    """I_q(x; z) = E_x E_q(z|x)[log q(z|x) - log q(z)], q(z) the aggregate posterior of a subsample.

    Bounded above by log(n_samples); reported in nats.
    """
    x = check_data(x)
    rng = np.random.default_rng(seed)
    idx = rng.choice(x.shape[0], size=min(n_samples, x.shape[0]), replace=False)
    mu, logvar = (torch.as_tensor(a) for a in encode(model, x[idx]))
    gen = torch.Generator().manual_seed(seed)
    z = mu + torch.randn(mu.shape, generator=gen, dtype=mu.dtype) * torch.exp(0.5 * logvar)
    const = 0.5 * math.log(2 * math.pi)
    # log q(z_i | x_j) for all i, j: (m, m, n) summed over latent dims
    diff = z[:, None, :] - mu[None, :, :]
    log_q = (-0.5 * diff.pow(2) / logvar.exp()[None] - 0.5 * logvar[None] - const).sum(-1)
    log_q_own = log_q.diagonal()
    log_q_agg = torch.logsumexp(log_q, dim=1) - math.log(mu.shape[0])
    return float((log_q_own - log_q_agg).mean())


@torch.no_grad()
def evaluate(model, x, mc_seed: int = 0, mi_samples: int = 1000) -> dict:
    """Every metric of the book on the rows of ``x`` (floats and per-dimension lists)."""
    x_np = check_data(x)
    mu, logvar = encode(model, x_np)
    kl_dims = kl_standard_normal(torch.as_tensor(mu), torch.as_tensor(logvar)).mean(dim=0).numpy()
    xt = torch.as_tensor(x_np)
    mu_t = torch.as_tensor(mu, dtype=torch.float32)
    lv_t = torch.as_tensor(logvar, dtype=torch.float32)
    x_hat_mean = model.decode(mu_t)
    gen = torch.Generator().manual_seed(mc_seed)
    z = mu_t + torch.randn(mu_t.shape, generator=gen) * torch.exp(0.5 * lv_t)
    nll = gaussian_nll(xt, model.decode(z), model.sigma2_decoder).double().mean().item()
    kl = float(kl_dims.sum())
    return {
        "kl": kl,
        "kl_per_dim": kl_dims.tolist(),
        **active_units(mu, logvar),
        "mse": float((xt - x_hat_mean).pow(2).mean()),
        "nll": nll,
        "neg_elbo": nll + kl,
        "mutual_information": mutual_information(model, x_np, n_samples=mi_samples, seed=mc_seed),
    }

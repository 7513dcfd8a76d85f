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

from hcvae.core import device
from hcvae.core.data import check_data
from hcvae.core.objectives import gaussian_nll, kl_standard_normal

BURDA_THRESHOLD = 0.01
PAPER_THRESHOLD = 0.99


@torch.no_grad()
def encode(model, x, batch_size: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means and log-variances of every row of ``x`` (float64 arrays)."""
    x = torch.as_tensor(check_data(x))
    dev = device.of(model)
    model.eval()
    mus, logvars = [], []
    for i in range(0, x.shape[0], batch_size):
        mu, logvar = model.encode(x[i:i + batch_size].to(dev))
        mus.append(mu.double().cpu())
        logvars.append(logvar.double().cpu())
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
    dev = device.of(model)
    x_hat_mean = model.decode(mu_t.to(dev)).cpu()
    gen = torch.Generator().manual_seed(mc_seed)  # the noise is drawn on the CPU: the same draws on every device
    z = mu_t + torch.randn(mu_t.shape, generator=gen) * torch.exp(0.5 * lv_t)
    nll = gaussian_nll(xt, model.decode(z.to(dev)).cpu(), model.sigma2_decoder.cpu()).double().mean().item()
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


# ---- an information-theoretic check on cluster-aware reconstructions -------------------------------------------


def label_entropy(labels) -> float:
    """H(C) in nats of the empirical distribution of integer ``labels``."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64))
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def fano_required_information(share: float, entropy: float, k: int) -> float:
    """The least I(C; C_hat) in nats with which an estimate C_hat of a K-valued label C (entropy ``entropy``)
    can be right with probability ``share`` (Fano's inequality): H(C) - h(1 - share) - (1 - share) log(K - 1)."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must lie in [0, 1]; got {share!r}")
    if int(k) != k or k < 2:
        raise ValueError(f"k (the number of clusters) must be an integer >= 2; got {k!r}")
    pe = 1.0 - share
    h = 0.0 if pe in (0.0, 1.0) else -(pe * math.log(pe) + (1 - pe) * math.log(1 - pe))
    return max(0.0, entropy - h - pe * math.log(k - 1))


@torch.no_grad()
def information_check(model, x, means, labels, seed: int = 0) -> dict:
    """Does the code carry the cluster information its reconstructions show?

    With C the own-cluster label of x and C_hat the centre nearest to the sampled-decode reconstruction f(z),
    z ~ q(z|x), the chain C - x - z - C_hat gives I(C; C_hat) <= I(x; z) <= E_x KL(q(z|x) || p(z)), while
    Fano's inequality makes an own-centre share p cost at least :func:`fano_required_information` nats. So
    ``required_sample <= kl`` must hold (up to the Monte Carlo error of p, one draw per sample: the check uses
    p minus two standard errors). The posterior-mean decode f(mu(x)) is no channel through z, so its share
    may exceed what the KL allows: ``bound_holds_mean`` False reveals reconstructions that carry the label
    without the code paying for it.
    """
    x = torch.as_tensor(check_data(x))
    means = torch.as_tensor(np.asarray(means), dtype=torch.float32)
    labels = np.asarray(labels)
    mu, logvar = (torch.as_tensor(a) for a in encode(model, x))
    kl = float(kl_standard_normal(mu, logvar).sum(-1).mean())
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(seed), dtype=mu.dtype)
    out = {"kl": kl, "n_clusters": int(means.shape[0]), "label_entropy": label_entropy(labels)}
    n = x.shape[0]
    for name, z in (("sample", mu + eps * torch.exp(0.5 * logvar)), ("mean", mu)):
        dev = device.of(model)
        x_hat = torch.cat([model.decode(z[i:i + 8192].float().to(dev)).cpu() for i in range(0, n, 8192)])
        nearest = torch.cdist(x_hat, means).argmin(dim=1).numpy()
        share = float(np.mean(nearest == labels))
        se = math.sqrt(share * (1 - share) / n)
        required = fano_required_information(share, out["label_entropy"], out["n_clusters"])
        lower = fano_required_information(max(0.0, share - 2 * se), out["label_entropy"], out["n_clusters"])
        out.update({f"share_{name}": share, f"share_se_{name}": se, f"n_centres_hit_{name}": int(np.unique(nearest).size),
                    f"required_{name}": required, f"bound_holds_{name}": bool(lower <= kl + 1e-9)})
    return out

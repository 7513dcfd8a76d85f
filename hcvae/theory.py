"""Closed forms the experiments are checked against.

Linear VAE (Lucas et al., NeurIPS 2019) with fixed decoder variance s = sigma'^2,
latent dimension n and data-covariance eigenvalues lambda_1 >= lambda_2 >= ...:
at the global optimum, latent dimension i (i <= n) is active iff lambda_i > s, and

* posterior variance        sigma_i^2        = min(1, s / lambda_i)
* spread of posterior means Var_x E[z_i|x]   = (1 - s / lambda_i)_+
* KL of that dimension      E_x KL_i         = 1/2 max(0, log(lambda_i / s))

Collapse condition (Li et al.; v1 eq. 4): the collapsed solution q(z|x) = p(z) is
stable when sigma'^2 > lambda_max.
"""

from __future__ import annotations

import numpy as np


def _spectrum(eigenvalues) -> np.ndarray:
    lam = np.sort(np.asarray(eigenvalues, dtype=float).ravel())[::-1]
    if lam.size == 0 or not np.all(np.isfinite(lam)) or lam[-1] < 0:
        raise ValueError("eigenvalues must be a non-empty array of finite, non-negative numbers")
    return lam


def _check_sigma2(sigma2_decoder) -> np.ndarray:
    s = np.asarray(sigma2_decoder, dtype=float)
    if not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise ValueError(f"sigma2_decoder must be finite and > 0; got {sigma2_decoder!r}")
    return s


def linear_vae_optimum(eigenvalues, sigma2_decoder: float, latent_dim: int) -> dict:
    """Per-latent-dimension statistics of the optimal linear VAE, largest eigenvalue first.

    Latent dimensions beyond the number of eigenvalues see no data direction and
    are inactive.
    """
    if int(latent_dim) != latent_dim or latent_dim < 1:
        raise ValueError(f"latent_dim must be an integer >= 1; got {latent_dim!r}")
    s = float(_check_sigma2(sigma2_decoder))
    lam = np.zeros(int(latent_dim))
    top = _spectrum(eigenvalues)[: int(latent_dim)]
    lam[: top.size] = top
    ratio = np.divide(s, lam, out=np.full_like(lam, np.inf), where=lam > 0)
    active = lam > s
    kl = np.where(active, 0.5 * np.log(np.where(active, lam / s, 1.0)), 0.0)
    return {
        "eigenvalue": lam,
        "active": active,
        "posterior_var": np.minimum(1.0, ratio),
        "var_mean": np.clip(1.0 - ratio, 0.0, None),
        "kl_per_dim": kl,
        "kl": float(kl.sum()),
        "active_units": int(active.sum()),
    }


def linear_vae_kl_curve(eigenvalues, sigma2_decoder, latent_dim: int) -> np.ndarray:
    """Total optimal KL (nats) of the linear VAE for each value in ``sigma2_decoder``."""
    lam = _spectrum(eigenvalues)[: int(latent_dim)]
    s = _check_sigma2(sigma2_decoder)
    return 0.5 * np.log(np.maximum(lam[None, :] / s.reshape(-1, 1), 1.0)).sum(axis=1).reshape(s.shape)


def collapse_predicted(sigma2_decoder: float, lambda_max: float) -> bool:
    """Li et al.'s condition (v1 eq. 4): the collapsed solution is stable iff sigma'^2 > lambda_max."""
    return bool(float(_check_sigma2(sigma2_decoder)) > lambda_max)


def predicted_active_units(eigenvalues, sigma2_decoder: float, latent_dim: int) -> int:
    """Number of latent dimensions the linear theory keeps active: #{i <= n : lambda_i > sigma'^2}."""
    return linear_vae_optimum(eigenvalues, sigma2_decoder, latent_dim)["active_units"]

"""Closed forms the experiments are checked against.

Linear VAE (Lucas et al., NeurIPS 2019) with fixed decoder variance s = sigma'^2,
latent dimension n and data-covariance eigenvalues lambda_1 >= lambda_2 >= ...:
at the global optimum, latent dimension i (i <= n) is active iff lambda_i > s, and

* posterior variance        sigma_i^2        = min(1, s / lambda_i)
* spread of posterior means Var_x E[z_i|x]   = (1 - s / lambda_i)_+
* KL of that dimension      E_x KL_i         = 1/2 max(0, log(lambda_i / s))

Collapse condition (Li et al.; v1 eq. 4): the collapsed solution q(z|x) = p(z) is
stable when sigma'^2 > lambda_max.

Diffusion (v1 §7): noise schedules, the critical timestep t_c of v1 eq. 13 (which
exists only when lambda_max < 1, so depends on how the data are scaled), and the
Gaussian references a trained denoiser is compared with.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hcvae.core.validation import check_choice


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


# ---------------------------------------------------------------------------
# Diffusion (v1 §7): noise schedules and the critical timestep t_c (v1 eq. 13)
# ---------------------------------------------------------------------------
#
# Forward process (v1 eq. 12): q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I),
# abar_t = prod_{s <= t} (1 - beta_s), t = 1..T. Arrays below hold timestep t at
# index t - 1.
#
# Data scaling. Eq. 12 keeps Var(x_t) near 1 throughout only for standardised data
# (Var x_0 = I): then abar_t Var x_0 + (1 - abar_t) I = I. Eq. 13 compares the noise
# variance 1 - abar_t, which never exceeds 1, with lambda_max of the data as the
# model sees it; so t_c exists only when lambda_max < 1, and which data sets have a
# t_c depends entirely on how the data are scaled. ``hcvae.runs.diffusion.scale_data``
# offers the scalings one could mean, as named options.

SCHEDULES = ("linear", "cosine", "quadratic", "sigmoid")
CRITICAL_READINGS = ("eq13", "snr")


@dataclass(frozen=True, eq=False)
class NoiseSchedule:
    """A validated noise schedule: ``betas[t - 1]`` is beta_t, t = 1..T."""

    name: str
    betas: np.ndarray

    @property
    def T(self) -> int:
        return int(self.betas.size)

    @property
    def alphas(self) -> np.ndarray:
        return 1.0 - self.betas

    @property
    def alpha_bar(self) -> np.ndarray:
        """abar_t = prod_{s <= t} (1 - beta_s) (v1 eq. 12), strictly decreasing because every beta_t > 0."""
        return np.cumprod(1.0 - self.betas)

    @property
    def noise_variance(self) -> np.ndarray:
        """1 - abar_t, the variance of the noise in x_t (v1 eq. 12; the curve of v1 Figure 6)."""
        return 1.0 - self.alpha_bar


def _check_T(T) -> int:
    if isinstance(T, bool) or int(T) != T or T < 2:
        raise ValueError(f"T (the number of diffusion steps) must be an integer >= 2; got {T!r}")
    return int(T)


def schedule_from_betas(betas, name: str = "custom") -> NoiseSchedule:
    """A :class:`NoiseSchedule` from given betas, after checking them.

    betas must number T >= 2, lie in the open interval (0, 1) (beta_t = 0 adds no
    noise, beta_t = 1 erases x_0 in one step) and be non-decreasing: each step adds
    at least as much noise as the one before, as in every published schedule.
    """
    b = np.asarray(betas, dtype=float)
    if b.ndim != 1:
        raise ValueError(f"betas must be a 1-D array of T values; got shape {b.shape}")
    _check_T(b.size)
    if not np.all(np.isfinite(b)) or np.any(b <= 0) or np.any(b >= 1):
        bad = int(np.flatnonzero(~(np.isfinite(b) & (b > 0) & (b < 1)))[0])
        raise ValueError(f"betas must lie in the open interval (0, 1); beta_{bad + 1} = {b[bad]!r}")
    drops = np.flatnonzero(np.diff(b) < -1e-12 * b[1:])
    if drops.size:
        t = int(drops[0]) + 2
        raise ValueError(f"betas must be monotone (non-decreasing); beta_{t} = {b[t - 1]:.6g} < beta_{t - 1} = {b[t - 2]:.6g}")
    return NoiseSchedule(str(name), b)


def noise_schedule(name: str, T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02,
                   cosine_s: float = 0.008, max_beta: float = 0.999) -> NoiseSchedule:
    """One of the named schedule families, for T steps.

    * ``linear``: beta_t evenly spaced from ``beta_start`` to ``beta_end`` (Ho et al. 2020: 1e-4 to 0.02, T = 1000);
    * ``cosine``: abar_t = f(t) / f(0), f(t) = cos^2(((t / T) + s) / (1 + s) * pi / 2), beta_t clipped at
      ``max_beta`` (Nichol & Dhariwal 2021, s = 0.008);
    * ``quadratic``: sqrt(beta_t) evenly spaced from sqrt(beta_start) to sqrt(beta_end) (Ho et al.'s code);
    * ``sigmoid``: beta_start + (beta_end - beta_start) * sigmoid(u), u evenly spaced in [-6, 6].

    v1 Algorithm 2 generates R different schedules without naming any; these are
    the families ``hcvae.runs.diffusion.generate_schedules`` draws from.
    """
    check_choice("schedule", name, SCHEDULES)
    T = _check_T(T)
    if name == "cosine":
        if not (cosine_s > 0 and np.isfinite(cosine_s)):
            raise ValueError(f"cosine_s must be a finite number > 0; got {cosine_s!r}")
        f = np.cos((np.arange(T + 1) / T + cosine_s) / (1 + cosine_s) * np.pi / 2) ** 2
        betas = np.minimum(1.0 - f[1:] / f[:-1], max_beta)
    else:
        if not 0 < beta_start <= beta_end < 1:
            raise ValueError(f"need 0 < beta_start <= beta_end < 1; got beta_start={beta_start!r}, beta_end={beta_end!r}")
        if name == "linear":
            betas = np.linspace(beta_start, beta_end, T)
        elif name == "quadratic":
            betas = np.linspace(np.sqrt(beta_start), np.sqrt(beta_end), T) ** 2
        else:
            betas = beta_start + (beta_end - beta_start) / (1 + np.exp(-np.linspace(-6, 6, T)))
    return schedule_from_betas(betas, name)


def _check_alpha_bar(alpha_bar) -> np.ndarray:
    a = np.asarray(alpha_bar, dtype=float)
    if a.ndim != 1 or a.size < 2:
        raise ValueError(f"alpha_bar must be a 1-D array of T >= 2 values; got shape {a.shape}")
    if not np.all(np.isfinite(a)) or np.any(a <= 0) or np.any(a > 1):
        raise ValueError("alpha_bar must lie in (0, 1]")
    if np.any(np.diff(a) >= 0):
        raise ValueError("alpha_bar must be strictly decreasing (monotone): every beta_t > 0")
    return a


def critical_timestep(alpha_bar, lambda_max: float, reading: str = "eq13") -> int | None:
    """t_c: the first timestep t (1-based) at which the signal is deemed lost; None if no t <= T qualifies.

    * ``eq13`` (v1 eq. 13 as written): 1 - abar_t >= lambda_max. The noise variance
      never exceeds 1, so t_c exists only when lambda_max < 1: it depends on the
      data's scale (see the module notes above).
    * ``snr``: abar_t * lambda_max <= 1 - abar_t, i.e. the signal variance along the
      top eigenvector, abar_t * lambda_max, no longer exceeds the noise variance. This is the
      VAE condition sigma'^2 > lambda_max written for x_t / sqrt(abar_t) = x_0 + noise of
      variance (1 - abar_t) / abar_t; it exists for any lambda_max once abar_T is
      small enough, and moves with lambda_max when the data are rescaled.
    """
    check_choice("reading", reading, CRITICAL_READINGS)
    a = _check_alpha_bar(alpha_bar)
    if not (np.isfinite(lambda_max) and lambda_max > 0):
        raise ValueError(f"lambda_max must be a finite number > 0; got {lambda_max!r}")
    lost = (1.0 - a >= lambda_max) if reading == "eq13" else (a * lambda_max <= 1.0 - a)
    hits = np.flatnonzero(lost)
    return int(hits[0]) + 1 if hits.size else None


def wiener_gain(eigenvalues, alpha_bar) -> np.ndarray:
    """Gain of the optimal (posterior-mean) x_0 estimate on Gaussian data, per eigen-direction and t.

    For x_0 ~ N(mu, Sigma) and x_t from v1 eq. 12, E[x_0 | x_t] applies to the noisy
    observation x_t / sqrt(abar_t) the gain abar_t lambda_i / (abar_t lambda_i + 1 - abar_t)
    along eigenvector i: 1 for clean data, 1/2 where the signal-to-noise ratio is 1,
    and 0 only in the limit abar_t -> 0. Returns shape (T, number of eigenvalues).
    """
    lam = _spectrum(eigenvalues)
    a = _check_alpha_bar(alpha_bar)[:, None]
    return a * lam[None, :] / (a * lam[None, :] + 1.0 - a)


def gaussian_eps_mmse(eigenvalues, alpha_bar) -> np.ndarray:
    """Per-coordinate MSE of the optimal epsilon predictor on Gaussian data with this spectrum, per t.

    E||eps - E[eps | x_t]||^2 / N = (1/N) sum_i abar_t lambda_i / (abar_t lambda_i + 1 - abar_t):
    the noise is easy to predict where noise dominates, so a schedule that spends
    more of its steps at high noise has a lower epsilon loss whatever the model.
    """
    return wiener_gain(eigenvalues, alpha_bar).mean(axis=1)

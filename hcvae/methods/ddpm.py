"""A small DDPM for low-dimensional data, and v1's Historical Consensus for diffusion (v1 §7, Algorithm 2).

The denoiser is an MLP that predicts the noise eps in
x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps (v1 eq. 12) from x_t and a
sinusoidal embedding of where in the noising it is. Training minimises
||eps - eps_theta(x_t, ...)||^2 (Algorithm 2's loss; averaged over coordinates
here, so that losses compare across data sets) with the book's one training loop,
``hcvae.core.train.train``; sampling is Ho et al.'s ancestral sampler, with any schedule.

Readings of what v1 §7.3 leaves open, each a named option:

* ``conditioning``, how eps_theta(x_t, t, beta) sees the schedule beta:
  ``"timestep"`` (t only: the standard DDPM, blind to the schedule),
  ``"noise_level"`` (the schedule's noise level at t, abar_t^beta, only; t itself is dropped),
  ``"timestep_and_noise_level"`` (both: Algorithm 2's eps_theta(x_t, t, beta), with beta entering
  through the noise level it gives at t, so any schedule, seen or not, can be fed);
* ``cycling``: ``"batch"`` (consecutive minibatches use the schedules in play in turn: Algorithm 2's
  inner loop "for beta in S: sample x_0, update") or ``"epoch"`` (one schedule per pass over the data,
  in turn);
* ``stop_size``: 2 (Algorithm 2: "while |S| > 2", so the last two are never trained on alone) or 1;
  ``final_epochs`` (default 0, as in Algorithm 2) optionally trains on the survivors afterwards;
* ``generator``, how the R schedules are made (Algorithm 2 does not say): ``"families"`` or ``"random"``
  (see :func:`generate_schedules`);
* ``scale_data``'s ``scaling``: what "the data" is when eq. 13 compares noise variance with lambda_max.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hcvae.core.data import check_data, covariance_spectrum
from hcvae.core.theory import NoiseSchedule, SCHEDULES, noise_schedule, schedule_from_betas
from hcvae.core.train import progress_enabled, train, validate_training
from hcvae.core.validation import check_choice

DATA_SCALINGS = ("as_loaded", "unit_total_variance", "unit_mean_variance", "per_feature", "unit_lambda_max",
                 "minus_one_one")
CONDITIONINGS = ("timestep", "noise_level", "timestep_and_noise_level")
CYCLING = ("batch", "epoch")
GENERATORS = ("families", "random")
SAMPLER_VARIANCES = ("beta", "posterior")


# ---------------------------------------------------------------------------
# Data scaling: the lambda_max eq. 13 is compared with depends on it
# ---------------------------------------------------------------------------

def scale_data(x, scaling: str, dtype=np.float32) -> np.ndarray:
    """The data under one of the scalings v1 eq. 13 could mean, as ``dtype``.

    Pass ``dtype=np.float64`` to read lambda_max off the result: in float32, ``unit_lambda_max`` gives
    1 - 1e-8 or so, which the cosine schedule's last noise variance (1 - 2e-9) exceeds.

    * ``as_loaded``: unchanged (the book's synthetic mixture, digits in [0, 1]);
    * ``unit_total_variance``: centred, divided by sqrt(trace Sigma): E||x - mean||^2 = 1, so
      lambda_max becomes the share of variance along the top direction (< 1);
    * ``unit_mean_variance``: centred, divided by sqrt(trace Sigma / N): the average coordinate has
      variance 1, the shape of the spectrum is kept (lambda_max >= 1);
    * ``per_feature``: each feature standardised (constant features stay 0): Var x_0 has unit
      diagonal, the setting in which eq. 12 keeps Var(x_t) near 1 (lambda_max >= 1);
    * ``unit_lambda_max``: centred, divided by sqrt(lambda_max): lambda_max = 1 exactly;
    * ``minus_one_one``: the image convention of Ho et al., min..max of all values onto [-1, 1].
    """
    check_choice("scaling", scaling, DATA_SCALINGS)
    x = check_data(x).astype(np.float64)
    centred = x - x.mean(axis=0)
    if scaling == "as_loaded":
        out = x
    elif scaling == "unit_total_variance":
        out = centred / math.sqrt(centred.var(axis=0).sum())
    elif scaling == "unit_mean_variance":
        out = centred / math.sqrt(centred.var(axis=0).mean())
    elif scaling == "per_feature":
        sd = centred.std(axis=0)
        out = np.divide(centred, sd, out=np.zeros_like(centred), where=sd > 0)
    elif scaling == "unit_lambda_max":
        out = centred / math.sqrt(covariance_spectrum(x)[0])
    else:
        lo, hi = x.min(), x.max()
        out = 2.0 * (x - lo) / (hi - lo) - 1.0 if hi > lo else np.zeros_like(x)
    return out.astype(dtype)


# ---------------------------------------------------------------------------
# Schedules for Algorithm 2
# ---------------------------------------------------------------------------

def resolve_schedule(schedule, T: int = 1000) -> NoiseSchedule:
    """A :class:`~hcvae.core.theory.NoiseSchedule` from a family name, an existing schedule, or an array of betas."""
    if isinstance(schedule, NoiseSchedule):
        return schedule
    if isinstance(schedule, str):
        return noise_schedule(schedule, T)
    return schedule_from_betas(schedule)


def generate_schedules(R: int, T: int = 1000, how: str = "families", seed: int = 0) -> list[NoiseSchedule]:
    """The R noise schedules of v1 Algorithm 2's first line (which names none).

    * ``families``: the families of :data:`hcvae.core.theory.SCHEDULES` in turn at their published settings,
      then again with the final noise rate scaled by 2, 1/2, 4, 1/4, ... (cosine: its offset s scaled
      the same way), so that the first four are linear, cosine, quadratic and sigmoid as published
      (from R = 12 on, the halved rates leave some signal at T: quadratic with beta_T = 0.01 ends at
      abar_T ~ 0.03);
    * ``random``: each schedule a random family with its final noise rate (cosine: its offset s) scaled
      by a factor log-uniform in [1/2, 5/2], so beta_T lies in [0.01, 0.05]; seeded by ``seed``.
    """
    check_choice("generator", how, GENERATORS)
    if isinstance(R, bool) or int(R) != R or R < 1:
        raise ValueError(f"R (the number of noise schedules) must be an integer >= 1; got {R!r}")
    rng = np.random.default_rng(seed)
    out = []
    for i in range(int(R)):
        if how == "families":
            family, k = SCHEDULES[i % len(SCHEDULES)], i // len(SCHEDULES)
            factor = 2.0 ** ((k + 1) // 2 * (1 if k % 2 else -1))  # 1, 2, 1/2, 4, 1/4, ...
        else:
            family, factor = SCHEDULES[rng.integers(len(SCHEDULES))], 10 ** rng.uniform(-0.3, 0.4)
        if family == "cosine":
            s = noise_schedule("cosine", T, cosine_s=0.008 * factor)
            label = f"cosine (s={0.008 * factor:.3g})"
        else:
            s = noise_schedule(family, T, beta_end=0.02 * factor)
            label = f"{family} (beta_T={0.02 * factor:.3g})"
        out.append(NoiseSchedule(label if factor != 1.0 else family, s.betas))
    return out


# ---------------------------------------------------------------------------
# The denoiser
# ---------------------------------------------------------------------------

def sinusoidal_embedding(v: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Transformer-style embedding of scalars ``v`` (shape (b,)) into ``dim`` features (Ho et al. 2020)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    args = v.float()[:, None] * freqs[None, :]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


def noise_level_coordinate(alpha_bar_t: torch.Tensor) -> torch.Tensor:
    """The log signal-to-noise ratio log(abar / (1 - abar)), clipped to [-20, 20] and mapped affinely onto
    [0, 1000], so that a noise-level embedding spans the same frequencies as a timestep embedding for T = 1000."""
    a = alpha_bar_t.double().clamp(1e-12, 1 - 1e-12)
    log_snr = torch.log(a) - torch.log1p(-a)
    return (25.0 * (20.0 - log_snr.clamp(-20.0, 20.0))).float()


class Denoiser(nn.Module):
    """eps_theta(x_t, t, beta): an MLP with residual blocks; the conditioning embedding is added in every block."""

    def __init__(self, dim: int, conditioning: str = "timestep", hidden: int = 128, depth: int = 2, embed_dim: int = 32):
        super().__init__()
        check_choice("conditioning", conditioning, CONDITIONINGS)
        for name, value in (("dim", dim), ("hidden", hidden), ("depth", depth), ("embed_dim", embed_dim)):
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
        if embed_dim % 2:
            raise ValueError(f"embed_dim must be even (cosine and sine halves); got {embed_dim!r}")
        self.dim, self.conditioning, self.embed_dim = int(dim), conditioning, int(embed_dim)
        n_features = embed_dim * (2 if conditioning == "timestep_and_noise_level" else 1)
        self.embed = nn.Sequential(nn.Linear(n_features, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.inp = nn.Linear(dim, hidden)
        self.blocks = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(depth))
        self.out = nn.Linear(hidden, dim)

    def features(self, t: torch.Tensor, alpha_bar_t: torch.Tensor) -> torch.Tensor:
        parts = []
        if self.conditioning in ("timestep", "timestep_and_noise_level"):
            parts.append(sinusoidal_embedding(t, self.embed_dim))
        if self.conditioning in ("noise_level", "timestep_and_noise_level"):
            parts.append(sinusoidal_embedding(noise_level_coordinate(alpha_bar_t), self.embed_dim))
        return torch.cat(parts, dim=1)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, alpha_bar_t: torch.Tensor) -> torch.Tensor:
        """eps_theta for the rows of ``x_t``; ``t`` and ``alpha_bar_t`` hold one value per row, or one per
        equal group of consecutive rows (a sampler passes one per schedule: the embedding runs once per group)."""
        c = self.embed(self.features(t, alpha_bar_t))
        if c.shape[0] != x_t.shape[0]:
            c = c.repeat_interleave(x_t.shape[0] // c.shape[0], dim=0)
        h = self.inp(x_t)
        for block in self.blocks:
            h = h + block(F.silu(h + c))
        return self.out(h)  # a linear path from x_t to eps: near t = T the optimum is eps ~ x_t


def diffuse(x0: torch.Tensor, alpha_bar_t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps (v1 eq. 12, Algorithm 2's forward step); abar_t per row."""
    a = alpha_bar_t[:, None]
    return a.sqrt() * x0 + (1.0 - a).sqrt() * eps


def _alpha_bar_table(schedules: list[NoiseSchedule]) -> torch.Tensor:
    if len({s.T for s in schedules}) != 1:
        raise ValueError(f"all schedules must have the same T; got {sorted({s.T for s in schedules})}")
    return torch.as_tensor(np.stack([s.alpha_bar for s in schedules]), dtype=torch.float32)


def eps_loss(model: Denoiser, x0: torch.Tensor, alpha_bar: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """||eps - eps_theta(x_t, t, beta)||^2, averaged over samples and coordinates (Algorithm 2's loss).

    ``alpha_bar`` is the schedule's abar as a (T,) tensor, ``t`` 1-based timesteps (b,).
    """
    a_t = alpha_bar[t - 1]
    return (eps - model(diffuse(x0, a_t, eps), t, a_t)).pow(2).mean()


@torch.no_grad()
def validation_loss(model: Denoiser, x_val, schedule: NoiseSchedule, draws: int = 4, seed: int = 0) -> float:
    """The eps loss of ``model`` under ``schedule`` on held-out rows, ``draws`` (t, eps) pairs per row.

    The draws come from ``seed`` alone, so every schedule is scored on the same t and eps
    (common random numbers): differences between schedules are not sampling noise.
    """
    x = torch.as_tensor(check_data(x_val, "x_val")).repeat(int(draws), 1)
    gen = torch.Generator().manual_seed(seed)
    t = torch.randint(1, schedule.T + 1, (x.shape[0],), generator=gen)
    eps = torch.randn(x.shape, generator=gen)
    model.eval()
    return float(eps_loss(model, x, torch.as_tensor(schedule.alpha_bar, dtype=torch.float32), t, eps))


def _schedule_loss_fn(alpha_bars: torch.Tensor, active: list[int], cycling: str, steps_per_epoch: int, first_epoch: int):
    """A loss_fn for ``hcvae.core.train.train`` that cycles through the schedules in ``active``."""
    T = alpha_bars.shape[1]

    def loss_fn(m, xb, *, idx, epoch, step):
        turn = (epoch - first_epoch) * steps_per_epoch + step if cycling == "batch" else epoch - first_epoch
        k = active[turn % len(active)]
        t = torch.randint(1, T + 1, (xb.shape[0],))  # the loop seeds torch's global generator
        eps = torch.randn_like(xb)
        loss = eps_loss(m, xb, alpha_bars[k], t, eps)
        return {"loss": loss, "schedule": torch.tensor(float(k))}
    return loss_fn


def train_on_schedules(model: Denoiser, x, schedules: list[NoiseSchedule], active: list[int], *, epochs: int,
                       batch_size: int, lr: float, seed: int, cycling: str = "batch", optimizer=None,
                       first_epoch: int = 0, progress: bool | None = None, desc: str = "DDPM") -> list[dict]:
    """Train ``model`` for ``epochs`` passes over ``x``, cycling through ``schedules[k]`` for k in ``active``."""
    check_choice("cycling", cycling, CYCLING)
    alpha_bars = _alpha_bar_table(schedules)
    steps = check_data(x).shape[0] // batch_size
    return train(model, x, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                 loss_fn=_schedule_loss_fn(alpha_bars, active, cycling, steps, first_epoch),
                 optimizer=optimizer, first_epoch=first_epoch, progress=progress, desc=desc)


# ---------------------------------------------------------------------------
# Sampling and what the denoiser does with x_t
# ---------------------------------------------------------------------------

def _conditioning(schedule: NoiseSchedule, t: int, n: int):
    return torch.full((n,), float(t)), torch.full((n,), float(schedule.alpha_bar[t - 1]))


def _check_clip(clip):
    if clip is None:
        return None
    lo, hi = (float(v) for v in clip)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"clip must be None or a pair (low, high) of finite numbers with low < high; got {clip!r}")
    return lo, hi


@torch.no_grad()
def ancestral_sample(model: Denoiser, schedule, n: int, seed: int = 0, variance: str = "beta", clip=None,
                     progress: bool | None = None) -> np.ndarray:
    """Ho et al.'s ancestral sampler with ``schedule`` (any, not only the one the model was trained on).

    x_T ~ N(0, I); each step draws x_{t-1} from N(mu_t, sigma_t^2 I), no noise at t = 1, where
    mu_t = (x_t - beta_t / sqrt(1 - abar_t) eps_theta) / sqrt(alpha_t), written equivalently through the
    x_0 estimate x0_hat = (x_t - sqrt(1 - abar_t) eps_theta) / sqrt(abar_t) as
    mu_t = sqrt(abar_{t-1}) beta_t / (1 - abar_t) x0_hat + sqrt(alpha_t) (1 - abar_{t-1}) / (1 - abar_t) x_t.
    ``clip=(low, high)`` clips x0_hat into the data's range first, as Ho et al. and Nichol & Dhariwal
    do: without it, a final beta_T near 1 (the cosine schedule's 0.999) multiplies the denoiser's error
    at t = T by 1 / sqrt(1 - beta_T) ~ 32. sigma_t^2 = beta_t (``variance="beta"``) or the posterior
    variance beta_t (1 - abar_{t-1}) / (1 - abar_t) (``"posterior"``).

    ``schedule`` may also be a list of schedules with one T: each then gets ``n`` samples, all drawn in
    one batched pass (returned stacked, shape (number of schedules, n, N)), from one random stream.
    """
    check_choice("variance", variance, SAMPLER_VARIANCES)
    several = isinstance(schedule, (list, tuple))
    group = [resolve_schedule(s) for s in (schedule if several else [schedule])]
    if not group:
        raise ValueError("schedule must be a schedule or a non-empty list of them")
    T = _alpha_bar_table(group).shape[1]  # also checks one T
    clip = _check_clip(clip)
    n = check_positive_int("n", n)
    k = len(group)

    def column(values):  # (k, T) coefficients -> per step a (k * n, 1) column, schedule by schedule
        return torch.as_tensor(np.stack(values), dtype=torch.float32).repeat_interleave(n, dim=0)

    betas = column([s.betas for s in group])
    abar = column([s.alpha_bar for s in group])
    abar_prev = column([np.concatenate([[1.0], s.alpha_bar[:-1]]) for s in group])
    coef_x0 = abar_prev.sqrt() * betas / (1 - abar)
    coef_xt = (1 - betas).sqrt() * (1 - abar_prev) / (1 - abar)
    sigma = (betas if variance == "beta" else betas * (1 - abar_prev) / (1 - abar)).sqrt()
    abar_k = torch.as_tensor(np.stack([s.alpha_bar for s in group]), dtype=torch.float32)  # (k, T)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn((k * n, model.dim), generator=gen)
    bar = None
    if progress_enabled(progress):
        from tqdm.auto import tqdm

        bar = tqdm(total=T, desc=f"sample {', '.join(s.name for s in group)}", leave=False)
    model.eval()
    try:
        for t in range(T, 0, -1):
            i = t - 1
            # one conditioning row per schedule, spread over its n samples inside the model
            eps = model(x, torch.full((k,), float(t)), abar_k[:, i])
            x0_hat = (x - (1 - abar[:, i:i + 1]).sqrt() * eps) / abar[:, i:i + 1].sqrt()
            if clip is not None:
                x0_hat = x0_hat.clamp(*clip)
            x = coef_x0[:, i:i + 1] * x0_hat + coef_xt[:, i:i + 1] * x
            if t > 1:
                x = x + sigma[:, i:i + 1] * torch.randn((k * n, model.dim), generator=gen)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    out = x.numpy().reshape(k, n, model.dim)
    return out if several else out[0]


def x0_gain(model: Denoiser, schedule, x0, timesteps, direction, seed: int = 0) -> dict:
    """How much the denoiser's x_0 estimate depends on x_t, at each of ``timesteps``, two ways.

    x0_hat = (x_t - sqrt(1 - abar_t) eps_theta) / sqrt(abar_t), with x_t drawn from each row of ``x0``
    by v1 eq. 12, and u = ``direction`` (the top eigenvector, the direction eq. 13 is about):

    * ``info``, global: the squared correlation between u^T x_0 and u^T x0_hat over the rows, i.e.
      the share of x_0's variance along u that the estimate recovers (a Gaussian bound on the mutual
      information is -1/2 log(1 - info)). It is the analogue of the VAE's Var_x E[z|x]: 0 when the
      estimate no longer depends on x_t in a way that carries x_0.
    * ``top``, local: u^T G u with G = d x0_hat / d y the Jacobian with respect to the noisy observation
      y = x_t / sqrt(abar_t) = x_0 + noise, G = I - sqrt(1 - abar_t) d eps_theta / d x_t (averaged over
      rows; ``mean`` = trace(G) / N). Clustered data can have small local gain (noise within a cluster is
      removed) while x_t still decides the cluster: then ``info`` stays high.

    On Gaussian data the optimum of both is the Wiener gain of :func:`hcvae.core.theory.wiener_gain`.
    ``reverse_mean`` = u^T (d mu_theta / d x_t) u for the reverse step's mean
    mu_theta(x_t) = (x_t - beta_t / sqrt(1 - abar_t) eps_theta) / sqrt(alpha_t), which stays near
    1 / sqrt(alpha_t) at every t: the one-step reverse kernel never becomes independent of x_t.
    """
    from torch.func import jacrev, vmap

    schedule = resolve_schedule(schedule)
    x0 = torch.as_tensor(check_data(x0, "x0"))
    u = torch.as_tensor(np.asarray(direction, dtype=np.float32))
    if u.shape != (x0.shape[1],) or not torch.isfinite(u).all() or float(u.norm()) == 0:
        raise ValueError(f"direction must be a non-zero vector of length {x0.shape[1]}; got shape {tuple(u.shape)}")
    u = u / u.norm()
    ts = np.asarray(timesteps, dtype=int)
    if ts.ndim != 1 or ts.size == 0 or ts.min() < 1 or ts.max() > schedule.T:
        raise ValueError(f"timesteps must be a non-empty list of integers in 1..{schedule.T}; got {timesteps!r}")
    gen = torch.Generator().manual_seed(seed)
    model.eval()
    out = {"info": [], "top": [], "mean": [], "reverse_mean": []}
    for t in ts:
        a, b = float(schedule.alpha_bar[t - 1]), float(schedule.betas[t - 1])
        x_t = diffuse(x0, torch.full((x0.shape[0],), a), torch.randn(x0.shape, generator=gen))
        tt, aa = _conditioning(schedule, int(t), 1)

        def eps_of(x):
            return model(x[None], tt, aa)[0]
        with torch.no_grad():
            jac = vmap(jacrev(eps_of))(x_t)  # (n, N, N): d eps_theta / d x_t per row
            x0_hat = (x_t - math.sqrt(1 - a) * model(x_t, tt, aa)) / math.sqrt(a)
        r = np.corrcoef((x0 @ u).numpy(), (x0_hat @ u).numpy())[0, 1]
        out["info"].append(float(r * r) if np.isfinite(r) else 0.0)  # a constant estimate carries nothing
        ju = float(torch.einsum("i,nij,j->n", u, jac, u).mean())
        out["top"].append(1.0 - math.sqrt(1 - a) * ju)
        out["mean"].append(1.0 - math.sqrt(1 - a) * float(torch.diagonal(jac, dim1=1, dim2=2).sum(1).mean()) / x0.shape[1])
        out["reverse_mean"].append((1.0 - b / math.sqrt(1 - a) * ju) / math.sqrt(1 - b))
    return {"t": ts, **{k: np.array(v) for k, v in out.items()}}


# ---------------------------------------------------------------------------
# Estimators
# ---------------------------------------------------------------------------

def check_positive_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def _check_model_settings(s) -> None:
    check_choice("conditioning", s.conditioning, CONDITIONINGS)
    check_choice("cycling", s.cycling, CYCLING)
    for name in ("hidden", "depth", "embed_dim", "batch_size"):
        check_positive_int(name, getattr(s, name))
    check_positive_int("T", s.T, 2)
    if not (s.lr > 0 and math.isfinite(s.lr)):
        raise ValueError(f"lr must be a finite number > 0; got {s.lr!r}")


class _Sampler:
    """Sampling and x_0-gain methods shared by the fitted estimators."""

    def _require_fit(self):
        if not hasattr(self, "model_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted yet; call fit(x) first")

    def sample(self, n: int, schedule=None, seed: int = 0, variance: str = "beta", clip=None,
               progress: bool | None = None):
        """``n`` samples by :func:`ancestral_sample` with ``schedule`` (default: the model's own, see the class;
        a list gives ``n`` per schedule, stacked)."""
        self._require_fit()
        if schedule is None:
            schedule = self.default_schedule_
        elif isinstance(schedule, (list, tuple)):
            schedule = [resolve_schedule(s, self.T) for s in schedule]
        else:
            schedule = resolve_schedule(schedule, self.T)
        return ancestral_sample(self.model_, schedule, n, seed=seed, variance=variance, clip=clip, progress=progress)

    def x0_gain(self, x0, timesteps, direction, schedule=None, seed: int = 0) -> dict:
        """:func:`x0_gain` of the fitted denoiser (default schedule as in :meth:`sample`)."""
        self._require_fit()
        schedule = self.default_schedule_ if schedule is None else resolve_schedule(schedule, self.T)
        return x0_gain(self.model_, schedule, x0, timesteps, direction, seed=seed)


class DDPM(_Sampler):
    """An eps-predicting DDPM trained on one schedule, or on a fixed set of them without selection.

    Constructor stores parameters; :meth:`fit` learns ``model_`` (the :class:`Denoiser`), ``history_``
    (one row per epoch), ``schedules_`` and ``default_schedule_``.
    """

    def __init__(self, schedules="linear", T: int = 1000, conditioning: str = "timestep", hidden: int = 128,
                 depth: int = 2, embed_dim: int = 32, epochs: int = 100, batch_size: int = 256, lr: float = 2e-3,
                 cycling: str = "batch", seed: int = 0):
        self.schedules, self.T, self.conditioning = schedules, T, conditioning
        self.hidden, self.depth, self.embed_dim = hidden, depth, embed_dim
        self.epochs, self.batch_size, self.lr, self.cycling, self.seed = epochs, batch_size, lr, cycling, seed

    def fit(self, x, progress: bool | None = None) -> "DDPM":
        _check_model_settings(self)
        raw = [self.schedules] if isinstance(self.schedules, (str, NoiseSchedule)) else list(self.schedules)
        if not raw:
            raise ValueError("schedules must name at least one schedule")
        schedules = [resolve_schedule(s, self.T) for s in raw]
        x = check_data(x)
        validate_training(x.shape[0], self.epochs, self.batch_size, self.lr)
        torch.manual_seed(self.seed)
        self.model_ = Denoiser(x.shape[1], self.conditioning, self.hidden, self.depth, self.embed_dim)
        self.history_ = train_on_schedules(self.model_, x, schedules, list(range(len(schedules))), epochs=self.epochs,
                                           batch_size=self.batch_size, lr=self.lr, seed=self.seed,
                                           cycling=self.cycling, progress=progress, desc="DDPM")
        self.schedules_, self.default_schedule_ = schedules, schedules[0]
        return self


def round_sizes(R: int, stop_size: int = 2) -> list[int]:
    """|S| before each round and after the last: R, R/2, ..., stop_size (Algorithm 2: R = 2^k, halving)."""
    R = check_positive_int("R", R, 2)
    if stop_size not in (1, 2):
        raise ValueError(f"stop_size must be 1 or 2; got {stop_size!r}")
    if R & (R - 1) or R <= stop_size:
        raise ValueError(f"R must be a power of two larger than stop_size={stop_size} (Algorithm 2: R = 2^k); got {R}")
    sizes = [R]
    while sizes[-1] > stop_size:
        sizes.append(sizes[-1] // 2)
    return sizes


def consensus_epochs(R: int, epochs_per_round: int, stop_size: int = 2, final_epochs: int = 0) -> int:
    """Passes over the data Algorithm 2 makes: E per schedule in play, every round, then the final stage."""
    sizes = round_sizes(R, stop_size)
    return epochs_per_round * sum(sizes[:-1]) + final_epochs * sizes[-1]


class HistoricalConsensusDiffusion(_Sampler):
    """v1 Algorithm 2: one denoiser trained on R schedules; after each round the half with the smallest
    validation loss stays, until ``stop_size`` remain.

    Each round makes E = ``epochs_per_round`` passes over the data per schedule in play (Algorithm 2:
    "for epoch = 1 to E, for beta in S: update"), so a round with |S| schedules takes E |S| passes;
    :func:`consensus_epochs` gives the total, for compute-matched baselines. ``schedules`` (a list)
    overrides ``generator``. :meth:`fit` learns ``model_``, ``schedules_``, ``rounds_`` (per round:
    the indices in play, their validation losses, those kept), ``survivors_``, ``history_`` and
    ``default_schedule_`` (the survivor with the smallest final validation loss).
    """

    def __init__(self, R: int = 8, T: int = 1000, generator: str = "families", schedules=None,
                 conditioning: str = "timestep_and_noise_level", epochs_per_round: int = 20, stop_size: int = 2,
                 final_epochs: int = 0, cycling: str = "batch", val_fraction: float = 0.2, val_draws: int = 4,
                 hidden: int = 128, depth: int = 2, embed_dim: int = 32, batch_size: int = 256, lr: float = 2e-3,
                 seed: int = 0):
        self.R, self.T, self.generator, self.schedules = R, T, generator, schedules
        self.conditioning, self.epochs_per_round, self.stop_size = conditioning, epochs_per_round, stop_size
        self.final_epochs, self.cycling, self.val_fraction, self.val_draws = final_epochs, cycling, val_fraction, val_draws
        self.hidden, self.depth, self.embed_dim = hidden, depth, embed_dim
        self.batch_size, self.lr, self.seed = batch_size, lr, seed

    def _validate(self, x, x_val):
        _check_model_settings(self)
        check_choice("generator", self.generator, GENERATORS)
        check_positive_int("epochs_per_round", self.epochs_per_round)
        check_positive_int("final_epochs", self.final_epochs, 0)
        check_positive_int("val_draws", self.val_draws)
        if x_val is None and not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction must lie strictly between 0 and 1; got {self.val_fraction!r}")
        schedules = ([resolve_schedule(s, self.T) for s in self.schedules] if self.schedules is not None
                     else generate_schedules(self.R, self.T, self.generator, self.seed))
        sizes = round_sizes(len(schedules), self.stop_size)
        x = check_data(x)
        if x_val is None:
            perm = np.random.default_rng(self.seed).permutation(x.shape[0])
            n_val = max(1, int(round(self.val_fraction * x.shape[0])))
            x, x_val = x[np.sort(perm[n_val:])], x[np.sort(perm[:n_val])]
        x_val = check_data(x_val, "x_val")
        if x_val.shape[1] != x.shape[1]:
            raise ValueError(f"x_val must have {x.shape[1]} features like x; got {x_val.shape[1]}")
        validate_training(x.shape[0], 1, self.batch_size, self.lr)
        return x, x_val, schedules, sizes

    def fit(self, x, x_val=None, progress: bool | None = None) -> "HistoricalConsensusDiffusion":
        """Run Algorithm 2 on ``x``; validation losses on ``x_val`` (default: ``val_fraction`` of ``x`` held out)."""
        x, x_val, schedules, sizes = self._validate(x, x_val)
        torch.manual_seed(self.seed)
        self.model_ = Denoiser(x.shape[1], self.conditioning, self.hidden, self.depth, self.embed_dim)
        opt = torch.optim.Adam(self.model_.parameters(), lr=self.lr)
        history, rounds, epoch = [], [], 0
        active = list(range(len(schedules)))
        for r, size in enumerate(sizes[1:]):
            epochs = self.epochs_per_round * len(active)
            history += self._train(x, schedules, active, epochs, opt, epoch, self.seed + r, progress, f"Algorithm 2, round {r}")
            epoch += epochs
            losses = [validation_loss(self.model_, x_val, schedules[k], self.val_draws, self.seed) for k in active]
            kept = sorted(active[i] for i in np.argsort(losses, kind="stable")[:size])
            rounds.append({"set": list(active), "val_loss": losses, "kept": kept})
            active = kept
        if self.final_epochs:
            history += self._train(x, schedules, active, self.final_epochs * len(active), opt, epoch, self.seed + 1000,
                                   progress, "Algorithm 2, final")
        final_losses = [validation_loss(self.model_, x_val, schedules[k], self.val_draws, self.seed) for k in active]
        self.schedules_, self.rounds_, self.survivors_, self.history_ = schedules, rounds, active, history
        self.final_val_loss_ = dict(zip(active, final_losses))
        self.default_schedule_ = schedules[active[int(np.argmin(final_losses))]]
        return self

    def _train(self, x, schedules, active, epochs, opt, first_epoch, seed, progress, desc):
        rows = train_on_schedules(self.model_, x, schedules, active, epochs=epochs, batch_size=self.batch_size,
                                  lr=self.lr, seed=seed, cycling=self.cycling, optimizer=opt,
                                  first_epoch=first_epoch, progress=progress, desc=desc)
        return [{**row, "active_set": list(active)} for row in rows]

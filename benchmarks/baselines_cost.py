"""Per-epoch cost of each baseline of v1 Table 1 against vanilla VAE training (printed, never asserted).

The v1 synthetic set (50,000 x 32), sigma'^2 = 2 lambda_max, the MLP, batch 512,
lr 3e-3: a few epochs of each method through the shared training loop, without
the per-epoch evaluation. beta-VAE and KL annealing change only the loss weights,
so they should cost what vanilla costs; EM-type runs an encoder-only inner loop
before every decoder step, so its ratio is about one plus the mean number of
inner steps (printed beside it), for the paper profile's inner loop (He et al.
2019: checks every 15 steps, cap 100) and the quick profile's.

Run with `.venv/bin/python benchmarks/baselines_cost.py`.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from hcvae.core.data import lambda_max, load_dataset
from hcvae.core.models import GaussianVAE
from hcvae.core.train import train
from hcvae.runs.baselines import BaselineConfig, _loss_fn

EPOCHS = 2
COMMON = dict(dataset="synthetic", epochs=EPOCHS, batch_size=512, lr=3e-3)
METHODS = {
    "vanilla": dict(method="vanilla"),
    "beta-VAE (beta=4)": dict(method="beta_vae", beta=4.0),
    "KL annealing (linear)": dict(method="kl_annealing", warmup_epochs=1),
    "KL annealing (cyclical)": dict(method="kl_annealing", schedule="cyclical", n_cycles=2),
    "EM-type (paper: 15 / 100)": dict(method="em_type", encoder_check_every=15, encoder_steps_max=100),
    "EM-type (quick: 5 / 10)": dict(method="em_type", encoder_check_every=5, encoder_steps_max=10),
}


def seconds_per_epoch(config: BaselineConfig, x: np.ndarray, sigma2: float) -> tuple[float, float]:
    """(seconds per epoch, mean encoder-only steps per decoder step) of ``config``'s training on ``x``."""
    torch.manual_seed(0)
    model = GaussianVAE(x.shape[1], config.latent_dim, sigma2)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    loss_fn = _loss_fn(config, torch.as_tensor(x), x.shape[0] // config.batch_size, opt)
    start = time.perf_counter()
    history = train(model, x, epochs=config.epochs, batch_size=config.batch_size, lr=config.lr, optimizer=opt,
                    loss_fn=loss_fn, progress=False)
    inner = float(np.mean([h.get("encoder_steps", 0.0) for h in history]))
    return (time.perf_counter() - start) / config.epochs, inner


def main() -> None:
    x = load_dataset("synthetic").x
    sigma2 = 2 * lambda_max(x)
    seconds_per_epoch(BaselineConfig(**{**COMMON, "epochs": 1}), x[:5120], sigma2)  # warm-up
    times = {name: seconds_per_epoch(BaselineConfig(**COMMON, **kw), x, sigma2) for name, kw in METHODS.items()}
    base = times["vanilla"][0]
    print(f"synthetic 50,000 x 32, batch 512, {EPOCHS} epochs each, torch threads {torch.get_num_threads()}")
    print(f"  vanilla {base:.3f} s/epoch")
    for name, (t, inner) in times.items():
        extra = f"  ({inner:.1f} encoder-only steps per decoder step)" if inner else ""
        print(f"  {name:<27} / vanilla = {t / base:6.2f}x{extra}")


if __name__ == "__main__":
    main()

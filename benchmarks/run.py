"""Speed of the training loop, as ratios (printed, never asserted).

1. hcvae.core.train's in-memory permuted-index batches against a plain
   torch.utils.data.DataLoader loop doing the same number of Adam steps on the
   same model and data (the v1 synthetic data at full size, batch 512).
2. The cost of the per-epoch evaluation callback used by experiments.run.

Run with `make bench`.
"""

from __future__ import annotations

import time

import torch
from torch.utils.data import DataLoader, TensorDataset

from hcvae.core.data import load_dataset
from hcvae.core.models import GaussianVAE
from hcvae.core.objectives import negative_elbo
from hcvae.core.train import train
from hcvae.runs.experiments import epoch_monitor

EPOCHS, BATCH = 3, 512


def _model():
    torch.manual_seed(0)
    return GaussianVAE(32, 8, 7.0)


def dataloader_loop(x: torch.Tensor) -> float:
    model = _model()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    loader = DataLoader(TensorDataset(x), batch_size=BATCH, shuffle=True, drop_last=True)
    start = time.perf_counter()
    for _ in range(EPOCHS):
        for (xb,) in loader:
            loss = negative_elbo(model, xb)["loss"]
            opt.zero_grad()
            loss.backward()
            opt.step()
    return time.perf_counter() - start


def hcvae_loop(x: torch.Tensor, callbacks=()) -> float:
    start = time.perf_counter()
    train(_model(), x.numpy(), epochs=EPOCHS, batch_size=BATCH, lr=3e-3, progress=False, callbacks=callbacks)
    return time.perf_counter() - start


def main() -> None:
    x = torch.as_tensor(load_dataset("synthetic").x)
    hcvae_loop(x[:2048])  # warm-up
    t_loader = min(dataloader_loop(x) for _ in range(2))
    t_hcvae = min(hcvae_loop(x) for _ in range(2))
    t_monitor = min(hcvae_loop(x, callbacks=[epoch_monitor(x[:5000])]) for _ in range(2))
    print(f"synthetic 50,000 x 32, batch {BATCH}, {EPOCHS} epochs, torch threads {torch.get_num_threads()}")
    print(f"  DataLoader loop / hcvae.core.train      = {t_loader / t_hcvae:.2f}x  (hcvae {t_hcvae / EPOCHS:.3f} s/epoch)")
    print(f"  hcvae.core.train with per-epoch monitor = {t_monitor / t_hcvae:.2f}x the time without")


if __name__ == "__main__":
    main()

"""Cost of Historical Consensus Training against vanilla VAE training (printed, never asserted).

Same model, data (the v1 synthetic set, 50,000 x 32) and number of epochs: HCT
with R0 = 16 (3 selection rounds of E epochs, a refinement capped at E epochs,
E final epochs) against plain negative-ELBO training for as many epochs. The EM
fits are timed separately, so the ratio is printed with and without them. v1
§6.2 reports 2-3x for the whole method.

Run with `make bench`.
"""

from __future__ import annotations

import time

import torch

from hcvae.core.data import lambda_max, load_dataset
from hcvae.core.models import GaussianVAE
from hcvae.core.train import train
from hcvae.methods.clustering import fit_gmms
from hcvae.methods.consensus import HCTSettings, historical_consensus

E, R0 = 3, 16


def _model(sigma2):
    torch.manual_seed(0)
    return GaussianVAE(32, 8, sigma2)


def main() -> None:
    x = load_dataset("synthetic").x
    sigma2 = 2 * lambda_max(x)
    start = time.perf_counter()
    clusterings = fit_gmms(x, 8, R0)
    t_em = time.perf_counter() - start
    settings = HCTSettings(epochs_per_round=E, max_refine_epochs=E, final_epochs=E, epsilon=1e-12)
    start = time.perf_counter()
    res = historical_consensus(_model(sigma2), x, clusterings, settings, progress=False)
    t_hct = time.perf_counter() - start
    epochs = len(res["history"])
    start = time.perf_counter()
    train(_model(sigma2), x, epochs=epochs, batch_size=settings.batch_size, lr=settings.lr, progress=False)
    t_vanilla = time.perf_counter() - start
    print(f"synthetic 50,000 x 32, R0 = {R0}, {epochs} epochs each, batch {settings.batch_size}")
    print(f"  vanilla {t_vanilla:.1f} s, HCT {t_hct:.1f} s, EM fits {t_em:.1f} s")
    print(f"  HCT / vanilla             = {t_hct / t_vanilla:.2f}x (EM excluded)")
    print(f"  (HCT + EM) / vanilla      = {(t_hct + t_em) / t_vanilla:.2f}x (EM included)")


if __name__ == "__main__":
    main()

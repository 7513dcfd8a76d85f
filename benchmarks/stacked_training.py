"""Stacked training against one-by-one training of the same configs (printed, never asserted).

Two settings of the phase-transition sweep, whose ratios x seeds of one (data set, architecture) differ only in
seed and sigma'^2:

* the ``paper`` profile's digits MLP sweep (11 ratios x 3 seeds = 33 models, batch 128), timed over a few epochs
  per model, training only;
* the ``quick`` profile's whole sweep (8 ratios, both data sets and architectures: four stacks of 8), each config
  trained and evaluated as ``run`` does it (``train_vae`` one by one against ``train_stack``).

One thread; a ratio is (one-by-one time) / (stacked time) for the same work. Run with `make bench`.
"""

from __future__ import annotations

import time

import torch

from hcvae.core.data import lambda_max, load_dataset
from hcvae.core.models import build_vae
from hcvae.core.stacked import train_stacked
from hcvae.core.train import one_thread, train
from hcvae.runs import experiments
from hcvae.runs.experiments import VAEConfig, phase_sweep_configs
from hcvae.runs import runner

EPOCHS = 5  # per model, for the paper-profile digits sweep


def _digits_paper() -> tuple[float, int]:
    configs = phase_sweep_configs("paper", datasets=("digits",), architectures=("mlp",))
    x = load_dataset("digits").x
    lam = lambda_max(x)

    def models():
        out = []
        for c in configs:
            torch.manual_seed(c.seed)
            out.append(build_vae(x.shape[1], c.latent_dim, c.sigma2_ratio * lam, "mlp"))
        return out

    c0 = configs[0]
    ms = models()
    start = time.perf_counter()
    for c, m in zip(configs, ms):
        train(m, x, epochs=EPOCHS, batch_size=c0.batch_size, lr=c0.lr, seed=c.seed, lr_schedule=c0.lr_schedule,
              progress=False)
    alone = time.perf_counter() - start
    ms = models()
    start = time.perf_counter()
    train_stacked(ms, x, epochs=EPOCHS, batch_size=c0.batch_size, lr=c0.lr, seeds=[c.seed for c in configs],
                  lr_schedule=c0.lr_schedule, progress=False)
    return alone / (time.perf_counter() - start), len(configs)


def _quick_sweep() -> tuple[float, float, float]:
    configs = phase_sweep_configs("quick")
    assert all(c.trainer == "stacked" for c in configs)
    start = time.perf_counter()
    for c in configs:
        experiments.train_vae(VAEConfig(**{**c.__dict__, "trainer": "single"}), progress=False)
    alone = time.perf_counter() - start
    start = time.perf_counter()
    for group in runner.stack_groups(configs):
        experiments.train_stack(group, progress=False)
    stacked = time.perf_counter() - start
    return alone / stacked, alone, stacked


def main() -> None:
    with one_thread():
        ratio, n = _digits_paper()
        print(f"paper profile, digits MLP sweep ({n} models, batch 128, {EPOCHS} epochs each, training only): "
              f"stacked is {ratio:.2f}x faster than one by one")
        ratio, alone, stacked = _quick_sweep()
        print(f"quick profile, the whole phase sweep (train + evaluate per config): one by one {alone:.1f} s, "
              f"stacked {stacked:.1f} s: {ratio:.2f}x")


if __name__ == "__main__":
    main()

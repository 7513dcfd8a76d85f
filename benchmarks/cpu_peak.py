"""How far training is from this CPU's limit: the FLOP rate an epoch reaches as a share of the matmul peak
(printed, never asserted).

1. The peak: single-thread float32 ``torch.mm`` GFLOP/s (2 m n k per product, best of several timings) at the
   training loop's own products, batch 512 through the MLP VAE (encoder [256, 128] to 2 x 8, decoder [128, 256]):
   per linear layer the forward x W^T, the input gradient g W (autograd skips it for the data layer) and the
   weight gradient g^T x, in the layouts autograd uses. "shapes' peak" is their FLOPs over their summed times, so
   the rate the loop's matmuls would reach if nothing else ran; "square peak" is one 2048 x 2048 product.
2. The achieved rate: matmul FLOPs per epoch (counted by torch.utils.flop_counter, forward, backward and the
   per-epoch monitors) over seconds per epoch (benchmarks/epoch_clock.py: epochs after the first, median) of a
   vanilla VAE, an HCT epoch and a Spherical VAE epoch at the paper profile (synthetic 50,000 x 32, batch 512),
   and a vanilla MNIST epoch (60,000 x 196) where ``make data`` prepared it. Each as a fraction of both peaks.
3. Where a vanilla epoch's time goes (torch.profiler, self time of every op, as a share of the profiled epoch's
   wall time): matmuls, elementwise math, the optimiser step, data indexing, other framework work (autograd
   nodes, views, allocation, dtype conversions), and Python: the wall time no op accounts for. The profiler's
   own per-op cost inflates every row but matmuls; the unprofiled epoch time is printed beside it.

One thread throughout, as every stored run computes. Run with `make bench` (about two minutes).
"""

from __future__ import annotations

import statistics
import time
import warnings

import torch

from epoch_clock import epoch_clock
from hcvae.core import image_data
from hcvae.core.data import load_dataset
from hcvae.core.train import one_thread, train
from hcvae.methods.clustering import fit_gmms
from hcvae.methods.consensus import historical_consensus
from hcvae.runs import runner
from hcvae.runs.experiments import VAEConfig, epoch_monitor, train_vae
from hcvae.runs.hct import HCTConfig
from hcvae.runs.spherical_runs import SphericalConfig, train_spherical

BATCH, LATENT, HIDDEN, SQUARE = 512, 8, (256, 128), 2048


# ---- 1. the peaks ----------------------------------------------------------------------------------------------


def seconds_per_mm(a: torch.Tensor, b: torch.Tensor, target_s: float = 0.02, repeats: int = 5) -> float:
    """Best time of one ``a @ b`` over ``repeats`` timings of a loop of at least ``target_s``."""
    def loop(n):
        start = time.perf_counter()
        for _ in range(n):
            torch.mm(a, b)
        return time.perf_counter() - start

    n = 1
    while loop(n) < target_s:
        n *= 4
    return min(loop(n) for _ in range(repeats)) / n


def loop_products(dim: int) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """The matmuls of one training step of the MLP VAE on ``dim`` features, in autograd's layouts."""
    widths = [dim, *HIDDEN, 2 * LATENT], [LATENT, *HIDDEN[::-1], dim]
    out = []
    for net, sizes in zip(("enc", "dec"), widths):
        for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
            x, w, g = torch.randn(BATCH, a), torch.randn(b, a), torch.randn(BATCH, b)
            out.append((f"{net} {a}->{b} forward", x, w.t()))
            if not (net == "enc" and i == 0):  # the data need no gradient
                out.append((f"{net} {a}->{b} input grad", g, w))
            out.append((f"{net} {a}->{b} weight grad", g.t(), x))
    return out


def shapes_peak(dim: int, verbose: bool = False) -> float:
    """GFLOP/s of the loop's products run back to back (their FLOPs over their summed best times)."""
    flops = seconds = 0.0
    for name, a, b in loop_products(dim):
        t = seconds_per_mm(a, b)
        f = 2.0 * a.shape[0] * a.shape[1] * b.shape[1]
        flops, seconds = flops + f, seconds + t
        if verbose:
            print(f"    {name:<26} {a.shape[0]:>4}x{a.shape[1]:<4} @ {b.shape[0]:>4}x{b.shape[1]:<4} "
                  f"{f / t / 1e9:7.1f} GFLOP/s")
    return flops / seconds / 1e9


def square_peak() -> float:
    a, b = torch.randn(SQUARE, SQUARE), torch.randn(SQUARE, SQUARE)
    return 2.0 * SQUARE ** 3 / seconds_per_mm(a, b, target_s=0.0, repeats=3) / 1e9


# ---- 2. the epochs ---------------------------------------------------------------------------------------------


def measure(run, steps: int, epochs: int) -> tuple[float, float]:
    """(matmul FLOPs per epoch, seconds per epoch) of ``run(epochs)``: one counted run, one timed run."""
    with epoch_clock(steps, flops=True) as counted:
        run(max(2, epochs // 2))
    with epoch_clock(steps) as timed:
        run(epochs)
    return statistics.median(counted.flops), timed.per_epoch()


def vanilla(dataset: str):
    return lambda epochs: train_vae(VAEConfig.from_profile("paper", dataset, epochs=epochs), progress=False)


def hct():
    config = HCTConfig.from_profile("paper", "synthetic", epochs_per_round=1, max_refine_epochs=1, final_epochs=1)
    x = load_dataset("synthetic").x
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clusterings = fit_gmms(x, config.k, config.r0, n_jobs=1)

    def run(epochs):  # 3 selection rounds, 1 refinement epoch, 1 final epoch: every stage, whatever ``epochs``
        historical_consensus(runner.prepare(config).model, x, clusterings, config.settings(), progress=False)
    return run


def spherical():
    return lambda epochs: train_spherical(SphericalConfig.from_profile("paper", "synthetic", epochs=epochs),
                                          progress=False)


# ---- 3. the profile --------------------------------------------------------------------------------------------

MATMULS = {"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm"}
INDEXING = {"aten::index", "aten::randperm", "aten::slice", "aten::index_select"}
FRAMEWORK = {"aten::empty", "aten::empty_like", "aten::empty_strided", "aten::as_strided", "aten::view",
             "aten::reshape", "aten::_reshape_alias", "aten::t", "aten::transpose", "aten::expand", "aten::detach",
             "aten::alias", "aten::chunk", "aten::split", "aten::narrow", "aten::select", "aten::stack", "aten::cat",
             "aten::to", "aten::_to_copy", "aten::copy_", "aten::lift_fresh", "aten::unsqueeze", "aten::squeeze",
             "aten::result_type", "aten::item", "aten::_local_scalar_dense", "aten::zeros", "aten::zeros_like",
             "aten::ones_like", "aten::fill_", "aten::zero_", "aten::scalar_tensor", "aten::contiguous",
             "aten::clone", "aten::is_nonzero", "aten::linear", "aten::matmul", "aten::numpy_T"}


def _category(event) -> str:
    parent = event
    while parent is not None:
        if parent.name.startswith("Optimizer.step#"):
            return "optimizer step (Adam)"
        if parent.name.startswith("Optimizer.zero_grad#"):
            return "framework (autograd, views, allocation, conversions)"
        parent = parent.cpu_parent
    if event.name in MATMULS:
        return "matmuls"
    if event.name in INDEXING:
        return "data indexing (randperm, x[idx])"
    if event.name in FRAMEWORK or event.name.startswith("autograd::"):
        return "framework (autograd, views, allocation, conversions)"
    return "elementwise math (and reductions, RNG)"


def profile_vanilla() -> None:
    from torch.profiler import ProfilerActivity, profile

    config = VAEConfig.from_profile("paper", "synthetic")
    setup = runner.prepare(config)
    kw = dict(batch_size=config.batch_size, lr=config.lr, seed=config.seed, progress=False,
              callbacks=[epoch_monitor(setup.x_eval)])
    train(setup.model, setup.data.x, epochs=1, **kw)  # warm-up
    start = time.perf_counter()
    train(setup.model, setup.data.x, epochs=1, **kw)
    plain = time.perf_counter() - start
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        train(setup.model, setup.data.x, epochs=1, **kw)
        wall = (time.perf_counter() - start) * 1e6
    shares: dict[str, float] = {}
    tops: dict[str, dict[str, float]] = {}
    for e in prof.events():
        cat = _category(e)
        shares[cat] = shares.get(cat, 0.0) + e.self_cpu_time_total
        tops.setdefault(cat, {}).setdefault(e.name, 0.0)
        tops[cat][e.name] += e.self_cpu_time_total
    shares["Python (wall time no op accounts for)"] = wall - sum(shares.values())
    print(f"  one vanilla epoch profiled: {wall / 1e6:.2f} s (unprofiled {plain:.2f} s), "
          f"{len(prof.events())} op calls ({len(prof.events()) / (setup.data.n // config.batch_size):.0f} per step)")
    for cat, us in sorted(shares.items(), key=lambda kv: -kv[1]):
        top = sorted(tops.get(cat, {}).items(), key=lambda kv: -kv[1])[:3]
        detail = ", ".join(f"{n.replace('aten::', '')} {t / wall:.0%}" for n, t in top)
        print(f"    {cat:<54} {us / wall:6.1%}  {detail}")


def main() -> None:
    with one_thread():
        print("single-thread float32 matmul peak (torch.mm, batch 512 through the MLP VAE):")
        peak32 = shapes_peak(32, verbose=True)
        sq = square_peak()
        peaks = {32: peak32, 196: None}
        print(f"  shapes' peak, 32 features:  {peak32:7.1f} GFLOP/s")
        print(f"  square peak ({SQUARE} x {SQUARE}): {sq:7.1f} GFLOP/s  (shapes' peak = {peak32 / sq:.2f} of it)")
        print("achieved matmul rate of one epoch (paper profile, batch 512, epochs after the first):")
        runs = [("vanilla VAE, synthetic 50,000 x 32", vanilla("synthetic"), 50_000, 4, 32),
                ("HCT (R0 = 16), synthetic", hct(), 50_000, 5, 32),
                ("Spherical VAE, synthetic", spherical(), 50_000, 4, 32)]
        if image_data.available("mnist"):
            runs.append(("vanilla VAE, MNIST 60,000 x 196", vanilla("mnist"), 60_000, 3, 196))
        fractions = {}
        for name, run, n, epochs, dim in runs:
            if peaks.get(dim) is None:
                peaks[dim] = shapes_peak(dim)
                print(f"  (shapes' peak, {dim} features: {peaks[dim]:.1f} GFLOP/s)")
            flops, seconds = measure(run, n // BATCH, epochs)
            rate = flops / seconds / 1e9
            fractions[name] = rate / peaks[dim]
            print(f"  {name:<36} {flops / 1e9:6.2f} GFLOP/epoch in {seconds:6.3f} s = {rate:6.1f} GFLOP/s: "
                  f"{rate / peaks[dim]:5.1%} of the shapes' peak, {rate / sq:5.1%} of the square peak")
        if not image_data.available("mnist"):
            print(f"  vanilla VAE, MNIST: absent ({image_data.missing_message('mnist')})")
        steps, enc, dec = 50_000 // BATCH, [32, *HIDDEN, 2 * LATENT], [LATENT, *HIDDEN[::-1], 32]
        per_row = [sum(a * b for a, b in zip(s, s[1:])) for s in (enc, dec)]  # multiply-adds per row
        analytic = steps * 2 * BATCH * (3 * sum(per_row) - 32 * HIDDEN[0]) + 2 * runner.EVAL_SAMPLES * per_row[0]
        print(f"  (analytic check, vanilla: {steps} steps x (3 x forward - the data layer's input gradient) + the "
              f"monitor's encoder pass = {analytic / 1e9:.2f} GFLOP)")
        vanilla_fraction = fractions["vanilla VAE, synthetic 50,000 x 32"]
        if vanilla_fraction < 0.5:
            print(f"the vanilla epoch reaches {vanilla_fraction:.1%} (< 1/2) of the shapes' peak: where its time goes")
            profile_vanilla()


if __name__ == "__main__":
    main()

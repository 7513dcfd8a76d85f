"""What would a GPU give? One script, at most 8 minutes, on a bare machine (printed and written as JSON, never
asserted).

For a vanilla VAE, Historical Consensus Training and the Spherical VAE at the ``paper`` profile (synthetic
50,000 x 32, batch 512; a vanilla MNIST VAE, 60,000 x 196, where ``make data`` prepared it), each a short run
(a few epochs; HCT with one epoch per selection round, a short refinement and one final epoch, no collapsed
reference), computed through ``hcvae.runs.runner.compute_entry`` once on ``--device`` and once on the CPU:

* seconds per epoch on each (benchmarks/epoch_clock.py: epochs after the first, median; HCT's evaluations at
  the end of a stage fall in 2 of its 5 counted epochs, which the median leaves out) and their ratio;
* the short runs' final metrics on each, and whether the two agree under the audit's cross-machine rule
  (``hcvae.runs.agreement.compare_cross``, the CPU run as the stored one); with ``--device cpu`` the CPU run is
  simply computed twice, so it must agree (and be bit-identical: printed too).

Then 8 seeds of one ``trainer="stacked"`` VAE config trained one by one on ``--device`` against
``hcvae.runs.experiments.train_stack`` (model-epochs per second each way): whether stacking fills the device.
``train_stack`` computes on the CPU whatever the device (hcvae.core.stacked has no device path), which the
output states.

Measurements are taken in that order, and one is started only while the time spent plus the longest so far fits
``--budget`` seconds (default 420). ``--small`` shrinks every size (2,048 rows, batch 256) so the whole
check runs in well under a minute on a 2-core CPU; ``make bench`` runs it so, with ``--device cpu``.

It needs only torch, numpy, scikit-learn and scipy and this repository (put on ``sys.path`` from the script's
location). It imports only the training path: hcvae.core, hcvae.methods and hcvae.runs' runner, experiments,
hct, spherical_runs, store and agreement. That path imports two optional libraries inside functions:
threadpoolctl (hcvae.core.train.one_thread, hcvae.methods.clustering.fit_gmms, hcvae.runs.kernels) and tqdm
(progress bars, never shown here: progress=False); where either is missing a stub stands in (below).

    python benchmarks/gpu_check.py [--device cuda|cpu] [--small] [--out gpu_check.json] [--budget 420]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.machinery
import json
import os
import sys
import tempfile
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _module(name: str) -> types.ModuleType:
    """An empty module with a spec (torch._dynamo asks importlib.util.find_spec about optional libraries)."""
    mod = types.ModuleType(name)
    mod.__spec__ = importlib.machinery.ModuleSpec(name, None)
    return mod


def _stub_missing_optional_imports() -> list[str]:
    """Stand-ins, in ``sys.modules``, for optional libraries the training path imports but a bare machine may
    lack; returns the names stubbed. Only this script does this; the package itself is left as it is."""
    stubbed = []
    try:
        import threadpoolctl  # noqa: F401
    except ImportError:
        # Without threadpoolctl nothing can cap the BLAS pools at run time, so cap them before numpy loads: what
        # threadpool_limits(1) does around every stored run (torch's own threads are set by one_thread itself).
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(name, "1")
        mod = _module("threadpoolctl")

        class threadpool_limits(contextlib.nullcontext):  # also how scikit-learn's controller is asked
            def __init__(self, limits=None, user_api=None):
                super().__init__()

        class ThreadpoolController:
            def info(self):
                return []

            def limit(self, limits=None, user_api=None):
                return contextlib.nullcontext()

            def wrap(self, limits=None, user_api=None):
                return contextlib.nullcontext()

        mod.threadpool_limits, mod.ThreadpoolController = threadpool_limits, ThreadpoolController
        mod.threadpool_info = lambda: []
        sys.modules["threadpoolctl"] = mod
        stubbed.append("threadpoolctl")
    try:
        import tqdm.auto  # noqa: F401
    except ImportError:
        mod, auto = _module("tqdm"), _module("tqdm.auto")

        class tqdm:  # progress bars are off (progress=False); this only satisfies an import
            def __init__(self, iterable=None, *args, **kwargs):
                self.iterable = iterable

            def __iter__(self):
                return iter(self.iterable or ())

            update = set_postfix = close = lambda self, *a, **k: None

        mod.tqdm = auto.tqdm = tqdm
        mod.auto = auto
        sys.modules["tqdm"], sys.modules["tqdm.auto"] = mod, auto
        stubbed.append("tqdm")
    return stubbed


STUBBED = _stub_missing_optional_imports()  # before numpy, torch or hcvae load
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from epoch_clock import epoch_clock  # noqa: E402
from hcvae.core import device as devices, image_data  # noqa: E402
from hcvae.core.data import dataset_size  # noqa: E402
from hcvae.core.train import one_thread  # noqa: E402
from hcvae.runs.agreement import compare_cross, compare_exact  # noqa: E402
from hcvae.runs.experiments import VAEConfig, train_stack  # noqa: E402
from hcvae.runs.hct import HCTConfig  # noqa: E402
from hcvae.runs.kernels import cpu_model  # noqa: E402
from hcvae.runs.runner import compute_entry  # noqa: E402
from hcvae.runs.spherical_runs import SphericalConfig  # noqa: E402
from hcvae.runs.store import ResultStore, config_dict, provenance  # noqa: E402

SHOWN = ("neg_elbo", "kl", "active_paper", "mse")  # the final metrics the table prints (the JSON has them all)
STACK_SEEDS = 8


def workloads(small: bool) -> list[tuple[str, object]]:
    """(name, config) of every short run, at the paper profile (``small``: tiny sizes)."""
    tiny = dict(n_samples=2048, batch_size=256) if small else {}
    out = [("vanilla VAE, synthetic", VAEConfig.from_profile("paper", "synthetic", epochs=3 if small else 4, **tiny)),
           ("HCT, synthetic", HCTConfig.from_profile("paper", "synthetic", epochs_per_round=1, final_epochs=1,
                                                     max_refine_epochs=2, collapsed_ratio=None, **tiny)),
           ("Spherical VAE, synthetic", SphericalConfig.from_profile("paper", "synthetic", epochs=3 if small else 5,
                                                                     **tiny))]
    if image_data.available("mnist"):
        out.append(("vanilla VAE, MNIST", VAEConfig.from_profile("paper", "mnist", epochs=3 if small else 4, **tiny)))
    return out


def steps_per_epoch(config) -> int:
    n = dataset_size(config.dataset) if config.n_samples is None else min(config.n_samples,
                                                                          dataset_size(config.dataset))
    return n // config.batch_size


def short_run(config, on: str, store: ResultStore) -> tuple[dict, dict]:
    """(the figures of one short run on ``on``, its entry as the store would keep it)."""
    start = time.perf_counter()
    with epoch_clock(steps_per_epoch(config), on) as clock:
        result, _, _ = compute_entry(config, store=store, progress=False, on=on)
    wall = time.perf_counter() - start
    entry = {**result, "config": config_dict(config), "provenance": provenance(config, wall, threads=1, device=on)}
    metrics = {k: v for k, v in result["metrics"].items() if not isinstance(v, list)}
    figures = {"on": on, "seconds_per_epoch": clock.per_epoch(), "epoch_seconds": clock.seconds, "wall_s": wall,
               "epochs": len(result.get("history") or result.get("record", {}).get("history", [])),
               "em_time_s": result.get("em_time_s"), "metrics": metrics}
    return figures, entry


def agreement(cpu_entry: dict, device_entry: dict) -> dict:
    cross = compare_cross(cpu_entry, device_entry)
    return {"rule": cross["rule"], "agree": not cross["mismatches"], "n_mismatches": len(cross["mismatches"]),
            "mismatches": [list(m) for m in cross["mismatches"][:20]], "max_rel": cross["max_rel"],
            "bit_identical": not compare_exact(cpu_entry, device_entry)["mismatches"]}


def stacking(on: str, small: bool) -> dict:
    """8 seeds of one stacked config: one by one on ``on`` against train_stack, as model-epochs per second."""
    tiny = dict(n_samples=2048, batch_size=256) if small else {}
    configs = [VAEConfig.from_profile("paper", "synthetic", epochs=2 if small else 3, seed=s, trainer="stacked",
                                      **tiny) for s in range(STACK_SEEDS)]
    steps, epochs = steps_per_epoch(configs[0]), configs[0].epochs
    start = time.perf_counter()
    with epoch_clock(steps, on) as alone:
        for c in configs:
            compute_entry(dataclasses.replace(c, trainer="single"), progress=False, on=on)
    alone_s = time.perf_counter() - start
    start = time.perf_counter()
    with one_thread(), epoch_clock(steps, "cpu") as stacked:
        out = train_stack(configs, progress=False)
    stacked_s = time.perf_counter() - start
    ran_on = str(next(out[0][2].parameters()).device)
    alone_rate = 1.0 / alone.per_epoch()
    stack_rate = len(configs) / stacked.per_epoch()
    return {"models": len(configs), "epochs": epochs, "one_by_one_on": on, "stack_on": ran_on,
            "one_by_one_s": alone_s, "stacked_s": stacked_s,
            "one_by_one_model_epochs_per_s": alone_rate, "stacked_model_epochs_per_s": stack_rate,
            "stacked_over_one_by_one": stack_rate / alone_rate}


def environment(on: str) -> dict:
    cuda = torch.cuda.is_available()
    return {"python": sys.version.split()[0], "torch": torch.__version__, "cuda": torch.version.cuda,
            "gpu": torch.cuda.get_device_name(0) if cuda else None, "cpu": cpu_model(), "cpu_count": os.cpu_count(),
            "device": on, "stubbed_imports": STUBBED}


def _fmt(v) -> str:
    if v is None:
        return "-"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def print_table(report: dict) -> None:
    env, on = report["environment"], report["environment"]["device"]
    other = "cpu again" if on == "cpu" else "cpu"  # with --device cpu the CPU run is computed twice
    print(f"gpu_check: device {on}{' (' + env['gpu'] + ')' if env['gpu'] else ''}, CPU {env['cpu']} "
          f"({env['cpu_count']} cores, runs on 1 thread), torch {env['torch']}, paper profile"
          f"{' (--small: tiny sizes)' if report['small'] else ''}; stubbed imports: {env['stubbed_imports'] or 'none'}")
    print(f"  s/epoch on {on} and on {other}, their ratio, final metrics ({on} / {other}), the cross-machine rule")
    print(f"  {'run':<26} {on:>9} {other:>9} {'ratio':>7}  " + "  ".join(f"{k:>21}" for k in SHOWN) + "  agreement")
    for name, k in report["kinds"].items():
        dev, cpu = k["runs"].get("device"), k["runs"].get("cpu")
        if dev is None or cpu is None:
            print(f"  {name:<26} skipped ({k.get('skipped', 'time budget')})")
            continue
        shown = "  ".join(f"{_fmt(dev['metrics'].get(m)) + ' / ' + _fmt(cpu['metrics'].get(m)):>21}" for m in SHOWN)
        a = k["agreement"]
        verdict = "agree" if a["agree"] else f"{a['n_mismatches']} differ (first {a['mismatches'][0][0]})"
        print(f"  {name:<26} {dev['seconds_per_epoch']:9.4f} {cpu['seconds_per_epoch']:9.4f} "
              f"{k['cpu_over_device']:6.2f}x  {shown}  {verdict}{', bit-identical' if a['bit_identical'] else ''}")
    s = report.get("stacking")
    if s:
        print(f"  stacking, {s['models']} seeds x {s['epochs']} epochs: one by one on {s['one_by_one_on']} "
              f"{s['one_by_one_model_epochs_per_s']:.2f} model-epochs/s ({s['one_by_one_s']:.1f} s in all), "
              f"train_stack (on {s['stack_on']}) {s['stacked_model_epochs_per_s']:.2f} model-epochs/s "
              f"({s['stacked_s']:.1f} s): stacked / one by one = {s['stacked_over_one_by_one']:.2f}x")
    else:
        print("  stacking: skipped (time budget)")
    print(f"  {report['elapsed_s']:.0f} s in all (budget {report['budget_s']:.0f} s)")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--small", action="store_true", help="tiny sizes (well under a minute on a 2-core CPU)")
    parser.add_argument("--out", default="gpu_check.json")
    parser.add_argument("--budget", type=float, default=420.0, help="seconds; no measurement starts past it")
    args = parser.parse_args(argv)
    on = str(devices.resolve(args.device))
    began, longest = time.perf_counter(), [0.0]
    report = {"small": args.small, "budget_s": args.budget, "environment": environment(on), "kinds": {}}

    def fits() -> bool:
        return time.perf_counter() - began + longest[0] <= args.budget

    def timed(fn, *a):
        start = time.perf_counter()
        out = fn(*a)
        longest[0] = max(longest[0], time.perf_counter() - start)
        return out

    with tempfile.TemporaryDirectory() as root:
        store = ResultStore(root, reference=None)  # holds only HCT's EM fits (CPU work, the same for both runs)
        for name, config in workloads(args.small):
            kind = report["kinds"][name] = {"config": config_dict(config), "runs": {}}
            entries = {}
            for label, where in (("device", on), ("cpu", "cpu")):
                if not fits():
                    kind["skipped"] = "time budget"
                    break
                kind["runs"][label], entries[label] = timed(short_run, config, where, store)
            if len(entries) == 2:
                kind["agreement"] = agreement(entries["cpu"], entries["device"])
                kind["cpu_over_device"] = (kind["runs"]["cpu"]["seconds_per_epoch"]
                                           / kind["runs"]["device"]["seconds_per_epoch"])
        vanilla = report["kinds"]["vanilla VAE, synthetic"]["runs"]
        if len(vanilla) == 2:  # 8 runs like the vanilla one on the device, then about as many epochs on the CPU
            longest[0] = max(longest[0], STACK_SEEDS * (vanilla["device"]["wall_s"] + vanilla["cpu"]["wall_s"]))
        if fits():
            report["stacking"] = timed(stacking, on, args.small)
    report["elapsed_s"] = time.perf_counter() - began
    Path(args.out).write_text(json.dumps(report, indent=1))
    print_table(report)
    print(f"  written to {args.out}")
    return report


if __name__ == "__main__":
    main()

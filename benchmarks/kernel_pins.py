"""What pinning the numerical kernels would cost, and what it would buy (printed, never asserted).

Each pin is an environment variable a library reads when it loads (hcvae.runs.kernels.PIN_VARIABLES), so each
setting runs in a fresh process: one Gaussian-VAE epoch and one HCT epoch at the paper profile's shapes
(synthetic, 50,000 x 32, batch 512, one thread), against the unpinned process. The last column says whether the
pinned process recomputes the audit sample's VAE entries bit for bit. The book applies no pin (README, determinism
policy): no setting made every kind bit-identical, the AVX2 pins cost speed on AVX-512 machines, and nothing pins
an aarch64 machine to x86 kernels.

Run with `make bench` (about two minutes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

SETTINGS = {
    "none": {},
    "torch AVX2": {"ATEN_CPU_CAPABILITY": "avx2"},
    "torch generic": {"ATEN_CPU_CAPABILITY": "default"},
    "MKL AVX2": {"MKL_CBWR": "AVX2"},
    "MKL compatible": {"MKL_CBWR": "COMPATIBLE"},
    "OpenBLAS Haswell": {"OPENBLAS_CORETYPE": "Haswell"},
    "numpy without AVX-512": {"NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR"},
    "all AVX2 pins": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2", "OPENBLAS_CORETYPE": "Haswell",
                      "ONEDNN_MAX_CPU_ISA": "AVX2", "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR"},
    "deterministic algorithms": {"HCVAE_BENCH_DETERMINISTIC": "1"},
}

_CHILD = r"""
import json, os, time
import torch
from hcvae.core.data import load_dataset
from hcvae.core.models import build_vae
from hcvae.core.objectives import negative_elbo
from hcvae.core.train import one_thread, train
from hcvae.runs.kernels import kernel_provenance
if os.environ.get("HCVAE_BENCH_DETERMINISTIC"):
    torch.use_deterministic_algorithms(True)
x = load_dataset("synthetic").x
def epoch_time(epochs=2):
    torch.manual_seed(0)
    model = build_vae(32, 8, 7.0, "mlp", None, (256, 128))
    train(model, x[:4096], epochs=1, batch_size=512, lr=3e-3, progress=False)  # warm-up
    start = time.perf_counter()
    train(model, x, epochs=epochs, batch_size=512, lr=3e-3, progress=False,
          loss_fn=lambda m, xb, **_: negative_elbo(m, xb))
    return (time.perf_counter() - start) / epochs
with one_thread():
    vae = min(epoch_time() for _ in range(2))
k = kernel_provenance()
print(json.dumps({"vae_epoch_s": vae, "torch_isa": k["torch_isa"], "numpy": k["numpy_blas"] + " " + k["numpy_simd"]}))
"""

_AUDIT = r"""
import json
from hcvae.runs import audit
report = audit.audit([audit.AUDIT_SAMPLE_DIR], kinds=["vae", "baseline", "spherical", "hct"], sample=2,
                     rule="exact")
print(json.dumps({"bit_identical": sum(not r["mismatches"] for r in report.rows), "of": len(report.rows)}))
"""


def _child(code: str, env: dict) -> dict:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "HCVAE_PROGRESS": "0", **env})
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    base = _child(_CHILD, {})
    print("kernel pins: one paper-profile VAE epoch (synthetic 50,000 x 32, batch 512, 1 thread) in a fresh process")
    print(f"  unpinned: {base['vae_epoch_s']:.3f} s/epoch, torch {base['torch_isa']}, numpy {base['numpy']}")
    print(f"  {'setting':26s} {'time / unpinned':>16s}  torch ISA")
    for name, env in SETTINGS.items():
        if name == "none":
            continue
        got = _child(_CHILD, env)
        print(f"  {name:26s} {got['vae_epoch_s'] / base['vae_epoch_s']:15.2f}x  {got['torch_isa']}")
    for name in ("none", "all AVX2 pins"):
        got = _child(_AUDIT, SETTINGS[name])
        print(f"  audit sample (vae, baseline, spherical, hct) recomputed with pins '{name}': "
              f"{got['bit_identical']} of {got['of']} entries bit-identical to the stored ones")


if __name__ == "__main__":
    main()

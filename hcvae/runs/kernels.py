"""Which numerical kernels computed a number: the CPU, the vector ISA each library dispatched to, the BLAS, any pins.

Every stored run computes on one thread, so the same machine and the same libraries recompute it bit for bit.
Another processor does not: torch's ATen, MKL, oneDNN, numpy's OpenBLAS and numpy's own ufunc loops each pick
kernels by the CPU's vector extensions (AVX2, AVX-512, NEON...), and kernels of another width round in another
order. Training amplifies those last-digit differences, so a run recomputed on other kernels follows a nearby but
different trajectory. :func:`kernel_provenance` records what was in force when an entry was computed;
:func:`same_kernels` says whether two entries' kernels are the same, which decides the audit's rule
(:mod:`hcvae.runs.audit`): exact equality, or agreement within the seed spread.

The pins below are environment variables the libraries read when they load. The book applies none of them by
default (see the README's determinism policy); they are recorded when set, and the tests use them to emulate
another processor on one machine (:func:`emulation_env`).
"""

from __future__ import annotations

import functools
import os
import platform
import re

# environment variables that select kernels: torch's ATen dispatch, MKL's conditional numerical reproducibility,
# oneDNN's ISA cap, OpenBLAS's core type, numpy's ufunc dispatch
PIN_VARIABLES = ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS", "ONEDNN_MAX_CPU_ISA",
                 "DNNL_MAX_CPU_ISA", "OPENBLAS_CORETYPE", "NPY_DISABLE_CPU_FEATURES")
# what must match for two entries to have run on the same kernels (provenance["kernels"] fields, and libraries)
SIGNATURE = ("machine", "cpu", "torch_isa", "torch_blas", "numpy_blas", "numpy_simd", "pins", "deterministic")


def cpu_model() -> str:
    """The processor's model name (``/proc/cpuinfo``, else :func:`platform.processor`)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _torch_blas() -> str:
    import torch

    config = torch.__config__.show()
    mkl = re.search(r"Math Kernel Library Version ([\w.\-]+)", config)
    if mkl:
        return f"MKL {mkl.group(1)}"
    blas = re.search(r"BLAS_INFO=(\w+)", config)
    return blas.group(1) if blas else "unknown"


def _numpy_blas() -> str:
    from threadpoolctl import threadpool_info

    import numpy  # noqa: F401 (loads numpy's BLAS so that threadpoolctl sees it)

    for lib in threadpool_info():
        if lib.get("user_api") == "blas" and "numpy" in lib.get("filepath", ""):
            return f"{lib.get('internal_api')} {lib.get('version')} {lib.get('architecture') or ''}".strip()
    return "unknown"


def _numpy_simd() -> str:
    """The widest of numpy's dispatch targets this CPU enables (after any NPY_DISABLE_CPU_FEATURES)."""
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:  # numpy < 2
        from numpy.core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    enabled = [f for f in __cpu_dispatch__ if __cpu_features__.get(f)]
    return enabled[-1] if enabled else "baseline"


@functools.lru_cache(maxsize=None)
def kernel_provenance() -> dict:
    """What selects the kernels of this process (recorded in every new entry's provenance as ``kernels``)."""
    import torch

    return {
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "torch_isa": torch.backends.cpu.get_cpu_capability(),
        "torch_blas": _torch_blas(),
        "numpy_blas": _numpy_blas(),
        "numpy_simd": _numpy_simd(),
        "pins": {k: os.environ[k] for k in PIN_VARIABLES if os.environ.get(k)},
        "deterministic": torch.are_deterministic_algorithms_enabled(),
    }


def signature(provenance: dict) -> dict | None:
    """The parts of an entry's provenance that decide its kernels, or None for an entry that did not record them."""
    kernels = (provenance or {}).get("kernels")
    if not isinstance(kernels, dict) or "torch_isa" not in kernels:
        return None
    return {**{k: kernels.get(k) for k in SIGNATURE}, "libraries": (provenance or {}).get("libraries")}


def same_kernels(stored: dict, recomputed: dict) -> bool:
    """Were the two provenances computed on the same kernels and libraries? False when either did not record it."""
    a, b = signature(stored), signature(recomputed)
    return a is not None and a == b


def describe(provenance: dict) -> str:
    """One line: the CPU, torch's ISA, the BLAS and the pins of an entry's provenance."""
    k = (provenance or {}).get("kernels")
    if not isinstance(k, dict) or "torch_isa" not in k:
        return (k if isinstance(k, str) else "kernels not recorded")
    pins = ", ".join(f"{n}={v}" for n, v in k.get("pins", {}).items()) or "no pins"
    return f"{k['cpu']} ({k['machine']}), torch {k['torch_isa']}, {k['torch_blas']}, numpy {k['numpy_blas']} " \
           f"{k['numpy_simd']}, {pins}"


# The note written into entries made before kernels were recorded (python -m hcvae.store note-kernels)
UNRECORDED = ("not recorded: computed before kernel provenance existed, on an x86_64 CPU whose model and vector ISA "
              "were not kept; recomputations of it are compared under the cross-machine rule")


def emulation_env(current: dict | None = None) -> dict:
    """Environment variables that make a fresh process on this machine compute with another kernel set than
    ``current`` (default: this process's), for tests of the cross-machine rule without a second machine: torch's
    generic kernels (or AVX2 where this CPU already runs generic ones), MKL's compatible path, and numpy without
    its widest SIMD targets."""
    current = current or kernel_provenance()
    isa = "avx2" if str(current.get("torch_isa", "")).upper() in ("DEFAULT", "NO AVX") else "default"
    env = {"ATEN_CPU_CAPABILITY": isa, "MKL_CBWR": "COMPATIBLE"}
    if current.get("machine") in ("x86_64", "AMD64"):
        env["NPY_DISABLE_CPU_FEATURES"] = "X86_V4 AVX512_ICL AVX512_SPR"
    return env

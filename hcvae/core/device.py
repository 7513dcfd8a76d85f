"""Where the numbers are computed: the CPU by default, a GPU when asked for and present.

``$HCVAE_DEVICE`` (or ``--device`` on the command lines) names it: ``cpu``, ``cuda``,
``cuda:N`` or ``mps``. A device that is unknown, or not present on this machine, is
refused before any work. While a run computes, :func:`current` is its device: models
are moved there after they are initialised on the CPU (so a seed gives the same
initial weights on every device), training data and the tensors a loss reads live
there, and whatever is stored comes back to the CPU. The device is recorded in each
result's provenance, not in its key: the same config on another device is the same
entry (its numbers may differ in the last digits; the audit's tolerance allows that).
"""

from __future__ import annotations

import contextlib
import os

import torch

KINDS = ("cpu", "cuda", "mps")
_CURRENT = [torch.device("cpu")]


class DeviceError(RuntimeError):
    """A device that this machine does not have."""


def resolve(name: str | None = None) -> torch.device:
    """The device ``name`` names (default ``$HCVAE_DEVICE``, else ``cpu``), checked to exist here."""
    name = (name or os.environ.get("HCVAE_DEVICE") or "cpu").strip()
    kind, _, index = name.partition(":")
    if kind not in KINDS or (index and (kind != "cuda" or not index.isdigit())):
        raise ValueError(f"unknown device {name!r}; allowed values: cpu, cuda, cuda:N, mps")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"device {name!r} asked for, but this machine has no CUDA device torch can use "
                              f"(torch {torch.__version__}); use cpu")
        if index and int(index) >= torch.cuda.device_count():
            raise DeviceError(f"device {name!r} asked for, but this machine has {torch.cuda.device_count()} CUDA "
                              f"device(s): use cuda:0 to cuda:{torch.cuda.device_count() - 1}")
    if kind == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise DeviceError(f"device {name!r} asked for, but this machine has no Apple GPU torch can use; use cpu")
    return torch.device(name)


def current() -> torch.device:
    """The device of the run being computed (the CPU outside one)."""
    return _CURRENT[-1]


@contextlib.contextmanager
def using(device: torch.device):
    """Compute on ``device`` inside the block."""
    _CURRENT.append(torch.device(device))
    try:
        yield _CURRENT[-1]
    finally:
        _CURRENT.pop()


def of(model: torch.nn.Module) -> torch.device:
    """The device a model's parameters (or, without any, its buffers) live on."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")

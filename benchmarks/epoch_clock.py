"""Seconds and matmul FLOPs per training epoch of any run of the package, read off its optimiser steps.

Every training loop here (hcvae.core.train, hcvae.core.stacked) ends a step with ``opt.step()``. A global
post-step hook (``torch.optim.optimizer.register_optimizer_step_post_hook``) stamps the last step of each epoch
(every S-th step, S = steps per epoch). An epoch's cost is the time from the previous epoch's last step to its
own: its steps, its end-of-epoch host transfer and the previous epoch's callbacks, i.e. one full epoch cycle. The
first epoch (warm-up, lazy initialisation) is never counted. On CUDA the hook synchronises at those boundaries
only, so the times are of finished work. Under ``torch.utils.flop_counter.FlopCounterMode`` (``flops=True``: it
slows the run, so count and time in separate runs) the same boundaries split the counted matmul FLOPs
(2 m n k per product, the backward's products included) per epoch.

A helper of benchmarks/cpu_peak.py and benchmarks/gpu_check.py: it imports torch only.
"""

from __future__ import annotations

import contextlib
import statistics
import time

import torch
from torch.optim.optimizer import register_optimizer_step_post_hook


class Clock:
    def __init__(self):
        self.stamps: list[float] = []
        self.counted: list[int] = []

    @property
    def seconds(self) -> list[float]:
        """Seconds of each epoch after the first."""
        return [b - a for a, b in zip(self.stamps, self.stamps[1:])]

    @property
    def flops(self) -> list[int]:
        """Matmul FLOPs of each epoch after the first (only under ``flops=True``)."""
        return [b - a for a, b in zip(self.counted, self.counted[1:])]

    def per_epoch(self) -> float | None:
        """The median seconds per epoch (None with fewer than two epochs)."""
        return statistics.median(self.seconds) if self.seconds else None


@contextlib.contextmanager
def epoch_clock(steps_per_epoch: int, device="cpu", flops: bool = False):
    """Inside the block, every optimiser's steps are stamped as the module docstring says; yields the Clock."""
    from torch.utils.flop_counter import FlopCounterMode

    clock, count = Clock(), [0]
    counter = FlopCounterMode(display=False) if flops else None
    sync = torch.device(device) if str(device).startswith("cuda") else None

    def hook(optimizer, args, kwargs):
        count[0] += 1
        if count[0] % steps_per_epoch == 0:
            if sync is not None:
                torch.cuda.synchronize(sync)
            clock.stamps.append(time.perf_counter())
            if counter is not None:
                clock.counted.append(counter.get_total_flops())

    handle = register_optimizer_step_post_hook(hook)
    try:
        with counter if counter is not None else contextlib.nullcontext():
            yield clock
    finally:
        handle.remove()

"""The one training loop of the book.

Data stay in one in-memory tensor; each epoch is a seeded permutation sliced
into batches (no DataLoader: at these sizes its per-batch overhead dominates,
see ``benchmarks/``). Adam, an optional cosine learning-rate decay, per-epoch
history with callbacks, a progress bar in terminals, and a guard that stops a
run at the first non-finite loss with the epoch, the step and every loss term.
"""

from __future__ import annotations

import math
import os
import sys
from contextlib import contextmanager
from typing import Callable, Iterable

import torch

from hcvae.core import device
from hcvae.core.data import check_data
from hcvae.core.objectives import negative_elbo

LR_SCHEDULES = ("constant", "cosine")


class TrainingDiverged(RuntimeError):
    """A loss term became NaN or infinite; the message names the epoch, step and terms."""


def progress_enabled(progress: bool | None) -> bool:
    if progress is not None:
        return bool(progress)
    env = os.environ.get("HCVAE_PROGRESS")
    if env is not None:
        return env not in ("0", "", "false", "no")
    return sys.stderr.isatty()


@contextmanager
def one_thread():
    """torch and the BLAS libraries on one thread inside the block, restored after.

    Every stored run computes this way: the book's matrices are small, more threads hardly help them (and slow
    them down many times on a busy machine), and a result must not depend on how many cores computed it.
    """
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(threads)


def _check_finite(rows: list[list[float]], names: list[str], epoch: int, steps_per_epoch: int) -> None:
    """Raise :class:`TrainingDiverged` naming the first step of the epoch whose loss terms are not all finite."""
    for step, values in enumerate(rows):
        if not all(math.isfinite(v) for v in values):
            shown = ", ".join(f"{k}={v:.6g}" for k, v in zip(names, values))
            raise TrainingDiverged(
                f"non-finite loss at epoch {epoch}, step {step} (global step {epoch * steps_per_epoch + step}): {shown}; "
                "lower lr, or check the data scale against sigma2_decoder")


def validate_training(n_samples: int, epochs: int, batch_size: int, lr: float, lr_schedule: str = "constant") -> None:
    """Raise a ValueError naming the first bad training parameter."""
    if int(epochs) != epochs or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1; got {epochs!r}")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1; got {batch_size!r}")
    if batch_size > n_samples:
        raise ValueError(f"batch_size ({batch_size}) is larger than the data ({n_samples} samples); use batch_size <= {n_samples}")
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr must be a finite number > 0; got {lr!r}")
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"unknown lr_schedule {lr_schedule!r}; allowed values: {', '.join(LR_SCHEDULES)}")


def train(
    model: torch.nn.Module,
    x,
    *,
    epochs: int,
    batch_size: int = 512,
    lr: float = 1e-3,
    seed: int = 0,
    loss_fn: Callable | None = None,
    callbacks: Iterable[Callable] = (),
    lr_schedule: str = "constant",
    optimizer: torch.optim.Optimizer | None = None,
    first_epoch: int = 0,
    progress: bool | None = None,
    desc: str = "train",
) -> list[dict]:
    """Train ``model`` on the rows of ``x`` and return the per-epoch history.

    ``loss_fn(model, batch, *, idx, epoch, step)`` returns a dict of scalar tensors
    with a ``"loss"`` entry to minimise (default: the negative ELBO); ``idx`` holds
    the batch's row numbers in ``x`` (for losses that need per-sample labels). The
    data are moved to the model's device; the loss terms stay there, and come to the
    host once per epoch (a non-finite one still stops the run, naming its first step).
    Each epoch's history row holds the mean of every term over the epoch's
    batches, then whatever each ``callback(epoch, model)`` returns (a dict, or None).

    Multi-stage training (e.g. v1's rounds) passes the same ``optimizer`` to each
    call, so Adam's state carries over, and ``first_epoch`` so that epochs are
    numbered across stages.
    """
    dev = device.of(model)
    x = torch.as_tensor(check_data(x)).to(dev)
    n = x.shape[0]
    validate_training(n, epochs, batch_size, lr, lr_schedule)
    if loss_fn is None:
        def loss_fn(m, xb, **_):
            return negative_elbo(m, xb)

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    opt = optimizer if optimizer is not None else torch.optim.Adam(model.parameters(), lr=lr)
    steps_per_epoch = n // batch_size  # drop the ragged last batch: equal-size steps
    total = epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total) if lr_schedule == "cosine" else None
    callbacks = list(callbacks)
    history: list[dict] = []

    bar = None
    if progress_enabled(progress):
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs, desc=desc, unit="epoch", leave=False)
    model.train()
    try:
        for epoch in range(first_epoch, first_epoch + epochs):
            perm = torch.randperm(n, generator=gen)
            names, buffer = None, None  # every step's loss terms, kept on the device: one host transfer per epoch
            for step in range(steps_per_epoch):
                idx = perm[step * batch_size:(step + 1) * batch_size].to(dev)
                terms = loss_fn(model, x[idx], idx=idx, epoch=epoch, step=step)
                if buffer is None:
                    names = list(terms)
                    buffer = torch.empty(steps_per_epoch, len(names), dtype=torch.float64, device=dev)
                buffer[step] = torch.stack([torch.as_tensor(terms[k]).detach().reshape(()).to(dev, torch.float64)
                                            for k in names])
                opt.zero_grad(set_to_none=True)
                terms["loss"].backward()
                opt.step()
                if sched is not None:
                    sched.step()
            rows = buffer.tolist()
            _check_finite(rows, names, epoch, steps_per_epoch)
            row = {"epoch": epoch, **{k: sum(r[j] for r in rows) / steps_per_epoch for j, k in enumerate(names)}}
            for cb in callbacks:
                model.eval()
                with torch.no_grad():
                    extra = cb(epoch, model)
                model.train()
                if extra:
                    row.update(extra)
            history.append(row)
            if bar is not None:
                bar.update(1)
                bar.set_postfix({k: f"{v:.3g}" for k, v in row.items() if k in ("loss", "kl")})
    finally:
        if bar is not None:
            bar.close()
        model.eval()
    return history


"""Several same-shape Gaussian VAEs trained as one batched model (a leading model axis, ``torch.baddbmm``).

At batch 128 a small MLP VAE's step is bound by per-call overhead, not by arithmetic, so M models stepping
together cost far less than M models stepping in turn (``benchmarks/stacked_training.py`` prints the ratio).
Each model keeps everything :func:`hcvae.core.train.train` gives it alone: its own initial weights, its own
seeded permutation of the rows each epoch, its own reparameterisation noise (drawn from a generator seeded as
``train`` seeds the global one), its own Adam state (Adam is elementwise, so one optimiser over the stacked
tensors is M optimisers), its own per-epoch history and callbacks. Only the order of floating-point
operations differs (a batched product instead of one per model), so a stacked model agrees with the same model
trained alone to float rounding, amplified by training (the test states the tolerance).

Only the MLP and linear :class:`hcvae.core.models.GaussianVAE` stack, with the plain negative ELBO (beta = 1), and
only models of one shape trained with one schedule: anything else is refused with the reason.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import nn

from hcvae.core.data import check_data
from hcvae.core.models import GaussianVAE
from hcvae.core.objectives import RECON_ESTIMATORS
from hcvae.core.train import TrainingDiverged, _check_finite, progress_enabled, validate_training


def _linears(model: GaussianVAE) -> tuple[list[nn.Linear], list[nn.Linear]]:
    enc = [m for m in model.encoder.modules() if isinstance(m, nn.Linear)]
    dec = [m for m in model.decoder.modules() if isinstance(m, nn.Linear)]
    return enc, dec


def check_stackable(models: Sequence[nn.Module]) -> None:
    """Raise a ValueError saying why ``models`` cannot be trained as one stack."""
    if len(models) < 1:
        raise ValueError("stacked training needs at least one model")
    for i, m in enumerate(models):
        if type(m) is not GaussianVAE:
            raise ValueError(f"model {i} is a {type(m).__name__}; only GaussianVAE (architecture 'mlp' or 'linear') "
                             "stacks")
    first = models[0]
    shape = [tuple(p.shape) for p in first.parameters()]
    for i, m in enumerate(models[1:], start=1):
        if m.architecture != first.architecture:
            raise ValueError(f"model {i} has architecture {m.architecture!r}, model 0 {first.architecture!r}: "
                             "only models of one shape stack")
        other = [tuple(p.shape) for p in m.parameters()]
        if other != shape:
            raise ValueError(f"model {i}'s parameter shapes {other} differ from model 0's {shape}: only models of one "
                             "shape stack")


class _Stack:
    """The stacked parameters of M GaussianVAEs: per linear layer a weight (M, out, in) and a bias (M, 1, out)."""

    def __init__(self, models: Sequence[GaussianVAE]):
        self.models = list(models)
        self.linear = models[0].is_linear
        enc, dec = zip(*(_linears(m) for m in models))
        self.enc = [self._stack([layers[j] for layers in enc]) for j in range(len(enc[0]))]
        self.dec = [self._stack([layers[j] for layers in dec]) for j in range(len(dec[0]))]
        self.logvar = (nn.Parameter(torch.stack([m.encoder_logvar.detach() for m in models]).unsqueeze(1).clone())
                       if self.linear else None)
        self.sigma2 = torch.stack([m.sigma2_decoder.detach() for m in models]).reshape(-1, 1)
        self.latent_dim = models[0].latent_dim

    @staticmethod
    def _stack(layers: list[nn.Linear]) -> tuple[nn.Parameter, nn.Parameter]:
        w = nn.Parameter(torch.stack([l.weight.detach().transpose(0, 1) for l in layers]).clone())  # (M, in, out)
        b = nn.Parameter(torch.stack([l.bias.detach() for l in layers]).unsqueeze(1).clone())  # (M, 1, out)
        return w, b

    def parameters(self) -> list[nn.Parameter]:
        ps = [p for w, b in (*self.enc, *self.dec) for p in (w, b)]
        return ps + ([self.logvar] if self.linear else [])

    @staticmethod
    def _mlp(layers, h):
        for j, (w, b) in enumerate(layers):
            h = torch.baddbmm(b, h, w)
            if j < len(layers) - 1:
                h = torch.relu(h)
        return h

    def encode(self, x):
        if self.linear:
            mu = self._mlp(self.enc, x)
            return mu, self.logvar.expand_as(mu)
        return self._mlp(self.enc, x).chunk(2, dim=-1)

    def decode(self, z):
        return self._mlp(self.dec, z)

    def negative_elbo(self, x, eps, estimator: str) -> dict:
        """Per model (M,): the batch means of the negative ELBO's terms, as :func:`hcvae.core.objectives.negative_elbo`
        computes them for one model."""
        mu, logvar = self.encode(x)
        d = x.shape[-1]
        if estimator == "analytic":
            w = self.dec[0][0]  # (M, latent, input): the linear decoder's weight, transposed
            trace = (logvar.exp() * w.pow(2).sum(dim=-1).unsqueeze(1)).sum(dim=-1)
            sq = (x - self.decode(mu)).pow(2).sum(dim=-1) + trace
        else:
            z = mu + eps * torch.exp(0.5 * logvar)
            sq = (x - self.decode(z)).pow(2).sum(dim=-1)
        nll = 0.5 * sq / self.sigma2 + 0.5 * d * torch.log(2 * math.pi * self.sigma2)
        kl = (0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)).sum(dim=-1)
        nll, kl = nll.mean(dim=1), kl.mean(dim=1)
        return {"loss": nll + kl, "nll": nll, "kl": kl, "neg_elbo": nll + kl}

    @torch.no_grad()
    def write_back(self) -> None:
        """Copy the stacked parameters into each model."""
        for i, m in enumerate(self.models):
            enc, dec = _linears(m)
            for layer, (w, b) in zip([*enc, *dec], [*self.enc, *self.dec]):
                layer.weight.copy_(w[i].transpose(0, 1))
                layer.bias.copy_(b[i, 0])
            if self.linear:
                m.encoder_logvar.copy_(self.logvar[i, 0])


def train_stacked(models: Sequence[GaussianVAE], x, *, epochs: int, batch_size: int, lr: float, seeds: Sequence[int],
                  lr_schedule: str = "constant", recon_estimator: str = "sample",
                  callbacks: Sequence[Sequence[Callable]] | None = None, progress: bool | None = None,
                  desc: str = "stacked") -> list[list[dict]]:
    """Train each of ``models`` on the rows of ``x`` as :func:`hcvae.core.train.train` would with the default loss
    (the negative ELBO, ``recon_estimator`` as there), its seed from ``seeds``, the learning rate and its schedule
    shared, and ``callbacks[i]`` called after every epoch; returns each model's history. The models are updated in
    place. A model's result does not depend on which others share its stack (tested)."""
    models = list(models)
    check_stackable(models)
    seeds = [int(s) for s in seeds]
    if len(seeds) != len(models):
        raise ValueError(f"seeds must give one seed per model: {len(seeds)} seeds for {len(models)} models")
    if recon_estimator not in RECON_ESTIMATORS:
        raise ValueError(f"unknown recon_estimator {recon_estimator!r}; allowed values: {', '.join(RECON_ESTIMATORS)}")
    if recon_estimator == "analytic" and not models[0].is_linear:
        raise ValueError("recon_estimator='analytic' needs a linear decoder (architecture='linear'); use 'sample'")
    callbacks = [list(c) for c in (callbacks or [[] for _ in models])]
    if len(callbacks) != len(models):
        raise ValueError(f"callbacks must give one list per model: {len(callbacks)} for {len(models)} models")
    x = torch.as_tensor(check_data(x))
    n = x.shape[0]
    validate_training(n, epochs, batch_size, lr, lr_schedule)
    stack = _Stack(models)
    opt = torch.optim.Adam(stack.parameters(), lr=lr)
    perm_gens = [torch.Generator().manual_seed(s) for s in seeds]  # as train(): one for the permutations
    noise_gens = [torch.Generator().manual_seed(s) for s in seeds]  # and the global one for the noise
    steps = n // batch_size
    # the schedule depends only on the step, so one scheduler over the stack is each model's own
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps) if lr_schedule == "cosine" else None
    m_count, latent = len(models), stack.latent_dim
    histories: list[list[dict]] = [[] for _ in models]
    bar = None
    if progress_enabled(progress):
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs, desc=desc, unit="epoch", leave=False)
    names = ["loss", "nll", "kl", "neg_elbo"]
    try:
        for epoch in range(epochs):
            perms = torch.stack([torch.randperm(n, generator=g) for g in perm_gens])  # (M, n)
            buffer = torch.empty(steps, len(names), m_count, dtype=torch.float64)
            for step in range(steps):
                idx = perms[:, step * batch_size:(step + 1) * batch_size]
                eps = (None if recon_estimator == "analytic" else
                       torch.stack([torch.randn(batch_size, latent, generator=g) for g in noise_gens]))
                terms = stack.negative_elbo(x[idx], eps, recon_estimator)
                buffer[step] = torch.stack([terms[k].detach().double() for k in names])
                opt.zero_grad(set_to_none=True)
                terms["loss"].sum().backward()  # each model's parameters see only their own loss
                opt.step()
                if sched is not None:
                    sched.step()
            stack.write_back()
            for i, model in enumerate(models):
                rows = buffer[:, :, i].tolist()
                try:
                    _check_finite(rows, names, epoch, steps)
                except TrainingDiverged as err:
                    raise TrainingDiverged(f"model {i} of the stack (seed {seeds[i]}): {err}") from None
                row = {"epoch": epoch, **{k: sum(r[j] for r in rows) / steps for j, k in enumerate(names)}}
                for cb in callbacks[i]:
                    model.eval()
                    with torch.no_grad():
                        extra = cb(epoch, model)
                    if extra:
                        row.update(extra)
                histories[i].append(row)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        for m in models:
            m.eval()
    return histories

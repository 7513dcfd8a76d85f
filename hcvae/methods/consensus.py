"""Historical Consensus Training (v1 §4.2, Algorithm 1).

Stage 1, selection: start from R0 = 2^k clusterings; each round trains E epochs on
L_VAE + beta * L_C, cycling through the clusterings still in play (v1 eq. 7),
scores each by ell_C (v1 eq. 8; on a fixed evaluation subset of ``eval_samples``
rows, as tracked each epoch) and keeps the best half, until two
remain. Stage 2, refinement: alternate between the last two until
max(ell_a, ell_b) < epsilon (v1 eq. 9) or an epoch cap is hit; the floor reached
is recorded either way. Stage 3: train on the better of the two alone for
E_final epochs (v1 §4.2.3).

Readings of what the text leaves open, each a named option of :class:`HCTSettings`:

* ``reading``: ``"min_k"`` (v1 eq. 8, distance to the nearest centre) or
  ``"own_centre"`` (v4 eq. 7, distance to the centre of the sample's own cluster);
* ``cycling``: ``"batch"`` (consecutive batches use the clusterings in turn) or
  ``"epoch"`` (one clustering per epoch, in turn);
* ``beta_schedule``: ``"constant"`` or ``"annealed"`` (linear from ``beta`` to
  ``beta_final`` over Stage 1, then constant; v1 Appendix B gives only
  "1.0 -> 4.0 (annealed)");
* ``keep_ratio``: 1/2 (v1), or 1/3 and 2/3 (the ablation of v1 §5.5.3).

* ``xhat``: which reconstruction x_hat(x) enters ell_C (v1 eq. 8 does not say):
  ``"sample"``, the decode f(z) of the reparameterised draw z ~ q(z|x) that the
  reconstruction term already computes (the usual meaning of x_hat in a VAE;
  no extra decoder pass), or ``"mean"``, the posterior-mean decode f(mu(x)).
  The mean decode lets a decoder satisfy ell_C by amplifying tiny differences in
  mu while the KL stays near zero; through the sampled decode the latent noise
  forbids that, and landing each x_hat on its own centre needs the code to carry
  the cluster identity, which costs KL (:func:`information_check`). The same
  reading is used in training, in the end-of-round scores and in the tracked
  ell_C (for the sampled decode with a fixed noise draw, so scores are repeatable).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

from hcvae.core import device
from hcvae.core.data import check_data
from hcvae.core.metrics import active_units
from hcvae.core.objectives import gaussian_nll, kl_standard_normal
from hcvae.core.train import train, validate_training
from hcvae.core.validation import check_choice
from hcvae.methods.clustering import READINGS, check_clusterings

CYCLING = ("batch", "epoch")
BETA_SCHEDULES = ("constant", "annealed")
XHATS = ("sample", "mean")  # which reconstruction enters the clustering loss; see the module docstring


@dataclass(frozen=True)
class HCTSettings:
    """Hyper-parameters of Algorithm 1; defaults from v1 Appendix B where it gives them."""

    epochs_per_round: int = 30  # E
    epsilon: float = 1e-4  # refinement threshold (Appendix B; §4.2.2 says 1e-5)
    max_refine_epochs: int = 100  # Stage 2 stops here if epsilon is not reached
    final_epochs: int = 30  # E_final
    beta: float = 1.0
    beta_final: float = 4.0
    beta_schedule: str = "constant"
    keep_ratio: float = 0.5
    reading: str = "min_k"
    cycling: str = "batch"
    batch_size: int = 512
    lr: float = 3e-3
    seed: int = 0
    eval_samples: int = 5000  # subset on which every ell_C, KL and active units are tracked each epoch
    xhat: str = "sample"

    def __post_init__(self):
        for name in ("epochs_per_round", "max_refine_epochs"):
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
        if int(self.final_epochs) != self.final_epochs or self.final_epochs < 0:
            raise ValueError(f"final_epochs must be an integer >= 0; got {self.final_epochs!r}")
        if not (self.epsilon > 0 and math.isfinite(self.epsilon)):
            raise ValueError(f"epsilon must be a finite number > 0; got {self.epsilon!r}")
        for name in ("beta", "beta_final"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")
        if not 0 < self.keep_ratio < 1:
            raise ValueError(f"keep_ratio must lie strictly between 0 and 1; got {self.keep_ratio!r}")
        check_choice("beta_schedule", self.beta_schedule, BETA_SCHEDULES)
        check_choice("reading", self.reading, READINGS)
        check_choice("cycling", self.cycling, CYCLING)
        check_choice("xhat", self.xhat, XHATS)
        if int(self.eval_samples) != self.eval_samples or self.eval_samples < 2:
            raise ValueError(f"eval_samples must be an integer >= 2; got {self.eval_samples!r}")


def selection_sizes(r0: int, keep_ratio: float = 0.5) -> list[int]:
    """|S_0|, |S_1|, ..., 2: the size of the set after each selection round (v1 §4.2.1, §4.4)."""
    if int(r0) != r0 or r0 < 2:
        raise ValueError(f"R0 (the number of clusterings) must be an integer >= 2; got {r0!r}")
    r0 = int(r0)
    if keep_ratio == 0.5 and r0 & (r0 - 1):
        halves, n = [], r0
        while n % 2 == 0 and n > 2:
            n //= 2
            halves.append(n)
        raise ValueError(
            f"R0 = {r0} is not a power of two: halving gives {', '.join(map(str, halves)) or 'nothing'} and never "
            "exactly 2 clusterings (v1 §4.4); use 2, 4, 8, 16, 32, ... or another keep_ratio")
    sizes = [r0]
    while sizes[-1] > 2:
        n = sizes[-1]
        sizes.append(min(n - 1, max(2, round(n * keep_ratio))))
    return sizes


def clustering_loss_batch(x_hat: torch.Tensor, means: torch.Tensor, labels: torch.Tensor | None, reading: str) -> torch.Tensor:
    """ell_C of a batch as a differentiable tensor: v1 eq. 8 (min_k) or v4 eq. 7 (own_centre)."""
    if reading == "min_k":
        return torch.cdist(x_hat, means).pow(2).min(dim=1).values.mean()
    return (x_hat - means[labels]).pow(2).sum(dim=1).mean()


def clustering_losses_stacked(x_hat: torch.Tensor, means: torch.Tensor, labels: torch.Tensor | None,
                              reading: str) -> torch.Tensor:
    """ell_C of one batch under W clusterings at once: ``means`` (W, K, D), ``labels`` (W, batch) -> (W,)."""
    if reading == "min_k":
        return torch.cdist(x_hat.unsqueeze(0).expand(means.shape[0], -1, -1), means).pow(2).min(dim=2).values.mean(dim=1)
    own = means[torch.arange(means.shape[0]).unsqueeze(1), labels]  # (W, batch, D): each sample's own centre
    return (x_hat.unsqueeze(0) - own).pow(2).sum(dim=2).mean(dim=1)


@torch.no_grad()
def reconstruct(model, x: torch.Tensor, xhat: str, seed: int = 0) -> torch.Tensor:
    """x_hat(x) under reading ``xhat``: f(mu(x)), or f(z) with z drawn from q(z|x) by a generator seeded with
    ``seed`` (the same draw on every call: end-of-round scores compare clusterings on common noise)."""
    check_choice("xhat", xhat, XHATS)
    mu, logvar = model.encode(x.to(device.of(model)))
    if xhat == "mean":
        return model.decode(mu)
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(seed), dtype=mu.dtype).to(mu.device)
    return model.decode(mu + eps * torch.exp(0.5 * logvar))


class _Clusterings:
    """The clusterings as stacked tensors, with ell_C of any model on any rows, every clustering in one pass."""

    CHUNK = 8192  # rows per evaluation pass: bounds the (W, rows, D) own-centre tensor

    def __init__(self, clusterings, reading: str, xhat: str = "sample", seed: int = 0, on=torch.device("cpu")):
        self.reading, self.xhat, self.seed = reading, xhat, seed
        ks = {c.n_clusters for c in clusterings}
        self.stacked = len(ks) == 1
        self.means_list = [torch.as_tensor(c.means, dtype=torch.float32, device=on) for c in clusterings]
        self.labels_list = [torch.as_tensor(c.labels, dtype=torch.long, device=on) for c in clusterings]
        if self.stacked:
            self.means, self.labels = torch.stack(self.means_list), torch.stack(self.labels_list)

    def __len__(self):
        return len(self.means_list)

    def loss(self, i: int, x_hat: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        return clustering_loss_batch(x_hat, self.means_list[i], self.labels_list[i][idx], self.reading)

    def _losses(self, x_hat: torch.Tensor, idx: torch.Tensor, which: list[int]) -> torch.Tensor:
        if not self.stacked:
            return torch.stack([self.loss(i, x_hat, idx) for i in which])
        w = torch.as_tensor(which, dtype=torch.long)
        return clustering_losses_stacked(x_hat, self.means[w], self.labels[w][:, idx], self.reading)

    @torch.no_grad()
    def all_losses(self, model, x: torch.Tensor, idx: torch.Tensor, which=None) -> np.ndarray:
        return self.losses_of(reconstruct(model, x[idx], self.xhat, self.seed), idx, which)

    @torch.no_grad()
    def losses_of(self, x_hat: torch.Tensor, idx: torch.Tensor, which=None) -> np.ndarray:
        """ell_C of the reconstructions ``x_hat`` of rows ``idx`` under the clusterings ``which`` (default: all)."""
        which = list(range(len(self)) if which is None else which)
        idx = idx.to(x_hat.device)
        total = torch.zeros(len(which), dtype=torch.float64, device=x_hat.device)
        for start in range(0, len(idx), self.CHUNK):
            part = slice(start, start + self.CHUNK)
            total += self._losses(x_hat[part], idx[part], which).double() * x_hat[part].shape[0]
        return (total / len(idx)).cpu().numpy()


def _beta_at(settings: HCTSettings, epoch: int, anneal_epochs: int) -> float:
    if settings.beta_schedule == "constant" or anneal_epochs == 0:
        return settings.beta
    t = min(1.0, epoch / anneal_epochs)
    return settings.beta + t * (settings.beta_final - settings.beta)


class _Trainer:
    """Training on L_VAE + beta * L_C with a given set of clusterings in play, one history row per epoch."""

    def __init__(self, model, x, clusterings, settings: HCTSettings, anneal_epochs: int, callbacks=(), progress=None):
        self.x_np = check_data(x)
        self.clusterings = check_clusterings(self.x_np, clusterings)
        validate_training(self.x_np.shape[0], 1, settings.batch_size, settings.lr)
        self.model, self.settings, self.anneal_epochs = model, settings, anneal_epochs
        self.callbacks, self.progress = list(callbacks), progress
        self.x = torch.as_tensor(self.x_np)
        n = self.x.shape[0]
        self.cl = _Clusterings(self.clusterings, settings.reading, settings.xhat, settings.seed, device.of(model))
        self.all_rows = torch.arange(n)
        self.eval_idx = torch.as_tensor(np.sort(np.random.default_rng(settings.seed).permutation(n)[: settings.eval_samples]))
        self.opt = torch.optim.Adam(model.parameters(), lr=settings.lr)
        self.history: list[dict] = []
        self.epoch = 0

    def scores(self, which) -> np.ndarray:
        """ell_C (v1 eq. 8) of the current model for the clusterings ``which``, on the evaluation subset: the
        values the monitor recorded after the last epoch, so ranking and the refinement check cost no pass."""
        return np.asarray(self.history[-1]["ell"])[list(which)]

    def full_scores(self, which) -> np.ndarray:
        """ell_C of the current model over the whole data (one pass), for the clusterings ``which``."""
        return self.cl.all_losses(self.model, self.x, self.all_rows, which)

    def _loss_fn(self, active: list[int]):
        settings, cl = self.settings, self.cl

        def loss_fn(m, xb, *, idx, epoch, step):
            turn = step if settings.cycling == "batch" else epoch
            k = active[turn % len(active)]
            beta = _beta_at(settings, epoch, self.anneal_epochs)
            mu, logvar = m.encode(xb)  # one encoder pass for both terms
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            if settings.xhat == "mean" and beta > 0:  # f(z) and f(mu) in one decoder call
                both = m.decode(torch.cat([z, mu]))
                x_hat, x_c = both[: len(xb)], both[len(xb):]
            else:  # the sampled decode: ell_C reuses the reconstruction term's f(z)
                x_hat = x_c = m.decode(z)
            nll = gaussian_nll(xb, x_hat, m.sigma2_decoder).mean()
            kl = kl_standard_normal(mu, logvar).sum(-1).mean()
            if beta > 0:
                l_c = cl.loss(k, x_c, idx)
            else:  # vanilla: no clustering term in the loss; its ell_C is logged only
                with torch.no_grad():
                    l_c = cl.loss(k, m.decode(mu) if settings.xhat == "mean" else x_hat, idx)
            return {"loss": nll + kl + beta * l_c, "nll": nll, "kl": kl, "neg_elbo": nll + kl, "l_c": l_c,
                    "beta": torch.tensor(beta)}
        return loss_fn

    def _monitor(self, stage: str, round_: int, active: list[int]):
        on = device.of(self.model)
        x_eval = self.x[self.eval_idx].to(on)
        eps = torch.randn((len(self.eval_idx), self.model.latent_dim),
                          generator=torch.Generator().manual_seed(self.settings.seed)).to(on)  # reconstruct()'s draw

        def monitor(ep, m):
            mu, logvar = m.encode(x_eval)  # one encoder pass for KL, active units and every ell_C
            units = active_units(mu.double().cpu().numpy(), logvar.double().cpu().numpy())
            kl = float(kl_standard_normal(mu.double(), logvar.double()).sum(-1).mean())
            z = mu if self.settings.xhat == "mean" else mu + eps * torch.exp(0.5 * logvar)
            return {"stage": stage, "round": round_, "active_set": list(active), "eval_kl": kl,
                    "active_burda": units["active_burda"], "active_paper": units["active_paper"],
                    "ell": self.cl.losses_of(m.decode(z), self.eval_idx).tolist()}
        return monitor

    def run_epochs(self, active: list[int], epochs: int, stage: str, round_: int, seed: int) -> None:
        rows = train(self.model, self.x_np, epochs=epochs, batch_size=self.settings.batch_size, lr=self.settings.lr,
                     seed=seed, loss_fn=self._loss_fn(active), optimizer=self.opt, first_epoch=self.epoch,
                     progress=self.progress, callbacks=[self._monitor(stage, round_, active), *self.callbacks],
                     desc=f"HCT {stage} {round_}")
        self.history.extend(rows)
        self.epoch += epochs


def historical_consensus(model, x, clusterings, settings: HCTSettings = HCTSettings(), progress: bool | None = None,
                         callbacks=(), on_stage_end=None) -> dict:
    """Run Algorithm 1 on ``model`` and return its full record.

    Returns a dict with ``history`` (one row per epoch: stage, round, the set in
    play, every loss term, beta, KL and active units on the evaluation subset, and
    ell_C on *every* clustering, discarded ones included, plus whatever each
    ``callback(epoch, model)`` returns), ``rounds`` (per selection round: the set,
    the scores on the evaluation subset, what was kept), ``refinement`` (epochs used, whether
    epsilon was reached, the floor of max(ell_a, ell_b) and its trajectory, all on the
    evaluation subset, and ``final_full``, epsilon_T over the whole data),
    ``final_clustering`` and ``sizes``. ``on_stage_end(stage, model)``, if given, is
    called after Stage 1 (``"select"``), Stage 2 (``"refine"``) and Stage 3
    (``"final"``); what it returns is kept under ``record["stage_end"][stage]``
    (v1 Table 1 reports the model at each of these points).
    """
    sizes = selection_sizes(len(list(clusterings)), settings.keep_ratio)
    run = _Trainer(model, x, clusterings, settings, (len(sizes) - 1) * settings.epochs_per_round, callbacks, progress)

    # Stage 1: power-of-two selection
    active = list(range(len(run.clusterings)))
    rounds = []
    for t, size in enumerate(sizes[1:]):
        run.run_epochs(active, settings.epochs_per_round, "select", t, settings.seed + t)
        scores = run.scores(active)
        kept = [active[i] for i in np.argsort(scores, kind="stable")[:size]]
        rounds.append({"round": t, "set": list(active), "scores": scores.tolist(), "kept": sorted(kept)})
        active = sorted(kept)
    stage_end = {}

    def end_of(stage):
        if on_stage_end is not None:
            stage_end[stage] = on_stage_end(stage, model)

    end_of("select")

    # Stage 2: consensus refinement on the last two, until max(ell_a, ell_b) < epsilon or the cap
    trajectory, reached = [], False
    for r in range(settings.max_refine_epochs):
        run.run_epochs(active, 1, "refine", len(rounds), settings.seed + 1000 + r)
        worst = float(run.scores(active).max())
        trajectory.append(worst)
        if worst < settings.epsilon:
            reached = True
            break
    refinement = {"epochs": len(trajectory), "reached": reached, "epsilon": settings.epsilon,
                  "floor": min(trajectory), "final": trajectory[-1], "trajectory": trajectory,
                  # epsilon_T of Theorem 4.4 over the whole data (the trajectory is on the evaluation subset)
                  "final_full": float(run.full_scores(active).max())}
    end_of("refine")

    # Stage 3: the better of the two alone
    final = active[int(np.argmin(run.scores(active)))]
    if settings.final_epochs:
        run.run_epochs([final], settings.final_epochs, "final", len(rounds) + 1, settings.seed + 2000)
    end_of("final")
    return {"history": run.history, "rounds": rounds, "refinement": refinement, "final_clustering": final,
            "sizes": sizes, "settings": asdict(settings), "stage_end": stage_end}


def fixed_set_training(model, x, clusterings, active, epochs: int, settings: HCTSettings = HCTSettings(),
                       progress: bool | None = None, callbacks=(), stage: str = "fixed") -> dict:
    """The controls of the HCT chapter: train on L_VAE + beta * L_C with the clusterings ``active`` for ``epochs``,
    with no selection and no refinement, recording the same per-epoch history as :func:`historical_consensus`.

    One clustering from the start is the "no consensus" control; ``beta = 0`` is vanilla VAE training, with
    ell_C of every clustering still tracked.
    """
    if int(epochs) != epochs or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1; got {epochs!r}")
    run = _Trainer(model, x, clusterings, settings, int(epochs), callbacks, progress)
    active = sorted(int(i) for i in active)
    if not active or active[0] < 0 or active[-1] >= len(run.clusterings):
        raise ValueError(f"active must list clusterings among 0..{len(run.clusterings) - 1}; got {active!r}")
    run.run_epochs(active, int(epochs), stage, 0, settings.seed)
    return {"history": run.history, "final_scores": run.scores(range(len(run.clusterings))).tolist(),
            "active": active, "settings": asdict(settings)}


def parameter_distance(model_a, model_b) -> float:
    """Euclidean distance between two models' parameter vectors (v1 Figure 2 right: distance to a collapsed model)."""
    a = torch.nn.utils.parameters_to_vector(model_a.parameters()).detach()
    b = torch.nn.utils.parameters_to_vector(model_b.parameters()).detach().to(a.device)
    if a.shape != b.shape:
        raise ValueError(f"the models have {a.numel()} and {b.numel()} parameters: they must share an architecture")
    return float((a - b).norm())


@torch.no_grad()
def reconstruction_landing(model, x, clustering, xhat: str = "mean", seed: int = 0) -> dict:
    """Where the reconstructions x_hat (posterior-mean decode, or sampled decode with a draw seeded by ``seed``)
    land: how many distinct centres of ``clustering`` they are nearest to, and the share of samples whose
    reconstruction is nearest to their own cluster's centre.

    A collapsed decoder lands every sample on one point, hence on one centre.
    """
    x = check_data(x)
    check_clusterings(x, [clustering])
    x_hat = reconstruct(model, torch.as_tensor(x), xhat, seed).cpu()
    nearest = torch.cdist(x_hat, torch.as_tensor(clustering.means, dtype=torch.float32)).argmin(dim=1).numpy()
    return {"n_centres_hit": int(np.unique(nearest).size), "n_centres": clustering.n_clusters,
            "own_centre_share": float(np.mean(nearest == clustering.labels))}


def retention_matrix(record: dict) -> np.ndarray:
    """R0 x (rounds + 1) booleans: is clustering i still in play before round t (last column: after selection)?
    (v1 Figure 7.)"""
    rounds = record["rounds"]
    r0 = record["sizes"][0]
    matrix = np.zeros((r0, len(rounds) + 1), dtype=bool)
    for t, rnd in enumerate(rounds):
        matrix[rnd["set"], t] = True
    if rounds:
        matrix[rounds[-1]["kept"], len(rounds)] = True
    return matrix


def discarded_at(record: dict) -> dict[int, int]:
    """For every clustering dropped by the selection, the round that dropped it."""
    return {c: rnd["round"] for rnd in record["rounds"] for c in rnd["set"] if c not in rnd["kept"]}

"""Chapter 05, the Spherical VAE trained (v4 §3.3-4.1): its analyses, every number it shows, its ledger rows.

The analyses live in :mod:`hcvae.chapters.spherical_analyses` and are importable from here: which configs the
chapter runs, v4's published numbers, and the rules that turn measurements into verdicts.

* v4 Table 2 (the constraint ablation) as published, and :func:`ablation_configs` for ours;
* :func:`pairs_in_order`: how many of the paper's pairwise orderings of the four variants a
  measurement keeps (the verdict rule of the ablation);
* :func:`instability`: the epoch-to-epoch movement of a per-epoch quantity (v4 Figure 1);
* :func:`penalty_sweep`: KL and negative ELBO against lambda_1.

The chapter: :data:`chapter` returns a :class:`SphericalChapter` whose fields the notebook glues and plots, and
:func:`claims` are its rows of the claims ledger, measured from the same result. The page calls the same steps, in
the order :func:`compute` calls them: :func:`feasible_k`, :func:`ablation_runs`, :func:`anchors`,
:func:`summaries`, :func:`orders`, :func:`control`, :func:`dynamics`, :func:`sweep`, :func:`comparison`,
:func:`forced_run`, then :func:`tables` and :func:`sentences`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hcvae.chapters.base import Chapter, Parameters, parameter
from hcvae.chapters.baselines_plan import k_for  # chapter 06's choice of K for a set's region
from hcvae.chapters.ledger import Claim, Measurement, combine, not_comparable, setting_differs
from hcvae.chapters import numbers
from hcvae.chapters.numbers import fmt as _fmt
from hcvae.chapters.spherical_analyses import (ABLATION_VARIANTS, CONTROL, CONTROL_OVERRIDES,  # noqa: F401
                                              PAPER_TABLE2, PLAIN, TABLE2_METRICS, ablation_configs, instability,
                                              paper_pairs, pairs_in_order, penalty_sweep, seeds_of, settled_epoch,
                                              summarise, table2_metrics, variant_name)
from hcvae.chapters import user_sets
from hcvae.chapters.user_sets import check_sizes, datasets_parameter, resolve_params
from hcvae.core import image_data
from hcvae.core.data import true_clusters
from hcvae.core.validation import Integer, ListOf, Options, Real
from hcvae.methods.consensus import XHATS
from hcvae.runs import runner, spherical_runs
from hcvae.runs.experiments import VAEConfig
from hcvae.runs.profiles import IMAGE_SETS, USER, profile_settings
from hcvae.runs.spherical_runs import EmptyFeasibleRegion, SphericalConfig


# ---- the chapter -----------------------------------------------------------------------------------------------

CHAPTER = "05-spherical-vae"


@dataclass(frozen=True)
class Params(user_sets.SharedComponents, Parameters):
    """Chapter 05's parameters (its notebook's ``parameters`` cell holds the same defaults)."""

    PAGE = CHAPTER
    IMAGE_SETTING = ("spherical", "image_datasets")

    seed: int = parameter(0, Integer(0), "first training seed; the profile sets how many follow it")
    datasets: list = datasets_parameter()
    sigma2_ratio: float = parameter(2.0, Real(0.0), "sigma'^2 / lambda_max of the shell data: a violating condition "
                                    "(v4 §4.1)")
    boundary_reading: str = parameter("per_sample", Options("per_sample", "per_batch"), "the reading of v4 eq. 8, "
                                      "which does not say which")
    lambda_boundary: float = parameter(100.0, Real(0.0, strict=False), "lambda_1 of the full method")
    lambda_norm: float = parameter(100.0, Real(0.0, strict=False), "lambda_2, also held fixed while lambda_1 is swept")
    kl_bound: float = parameter(0.01, Real(0.0), "the collapse bound in nats; v1 §5.2 calls D_KL < 0.01 complete "
                                "collapse")
    n_components: int | None = parameter(None, Integer(2, none="chosen by BIC"), "K for your own data sets; None: "
                                         "chosen by BIC")
    image_datasets: list | None = parameter(None, ListOf(Options(*IMAGE_SETS), empty=True, none="the profile's"),
                                            "the papers' image sets of the section on them, each at the K that opens "
                                            "its region (None: the profile's)")

    def __post_init__(self):  # a file too small for a batch or for K is refused before any work; files become names
        check_sizes(self.datasets, [profile_settings(self.profile)["spherical"][USER]["batch_size"]],
                    k=self.n_components)
        resolve_params(self)

    @property
    def seeds(self) -> list[int]:
        return seeds_of(self.profile, self.seed)

    @property
    def common(self) -> dict:
        """The settings every run of the chapter shares."""
        return dict(sigma2_ratio=self.sigma2_ratio, boundary_reading=self.boundary_reading,
                    lambda_boundary=self.lambda_boundary, lambda_norm=self.lambda_norm)

    @property
    def other_reading(self) -> str:
        """The reading of eq. 8 the ablation runs beside the chosen one."""
        return "per_batch" if self.boundary_reading == "per_sample" else "per_sample"


@dataclass(frozen=True)
class ImageParams(Params):
    """The section on the papers' image sets: the chapter's values, on the sets that train, over the profile's image
    seeds (counted from ``seed``) instead of its seeds; each of its runs costs minutes, not seconds."""

    @property
    def seeds(self) -> list[int]:
        return [self.seed + i for i in range(len(profile_settings(self.profile)["spherical"]["image_seeds"]))]


@dataclass
class Region:
    """Where the feasible region exists: the K each data set trains with, and digits at K = 10."""

    k_used: dict  # data set -> K the chapter trains with
    empty: dict | None  # digits at K = 10: wcss, l_collapse, open_k, message; None when the region is not empty
    moved: dict = field(default_factory=dict)  # your data set -> the same, where its region is empty at its K


@dataclass
class Control:
    """The full method beside the cluster-pull control, per (data set, x̂)."""

    by_run: dict  # (data set, x̂, run) -> KL, −ELBO, own-centre share f(z), nats it needs, f(μ) within KL
    region_adds: dict  # (data set, x̂) -> the full method's KL minus the control's


@dataclass
class Dynamics:
    """v4 Figure 1: training with and without the norm constraint."""

    runs: dict  # data set -> {"without norm constraint": runs, "with norm constraint": runs}
    marks: dict  # data set -> {"penalties start": epoch, "β reaches 1": epoch}
    measured: dict  # data set -> run -> instability of KL and boundary penalty, final KL, norm satisfaction, ‖x̂‖
    holds: dict  # data set -> does v4's claim hold (by the rule of the page)?


@dataclass
class Sweep:
    """KL and negative ELBO against λ₁, beside a plain VAE on the shell data."""

    results: dict  # data set -> the λ₁ sweep's runs
    sweeps: dict  # data set -> penalty_sweep
    plain_results: dict  # data set -> a plain VAE on the shell data, per seed
    plain_elbo: dict
    plain_kl: dict
    dial: dict  # data set -> is KL a dial of λ₁?
    costly: dict  # data set -> does the penalty cost ELBO against the plain VAE?


@dataclass
class SphericalChapter:
    """Everything chapter 05 shows, computed once from the stored runs, section by section: the tables (header,
    rows), the runs the figures draw, and every sentence the chapter prints (``texts``), each built from the
    numbers."""

    params: Params
    region: Region
    ablation: dict  # data set -> variant -> runs
    anchors: dict  # data set -> the full method's region, with its anchor points
    summaries: dict  # data set -> summarise(...)
    orders: dict  # (data set, metric, x̂) -> pairs_in_order
    control: Control
    dynamics: Dynamics
    sweep: Sweep
    comparison: dict  # data set -> model -> the data it sees, its runs, their λ_max
    forced: dict | None  # digits trained at K = 10 against an empty region (None where the region is not empty)
    tables: dict  # name -> (header, rows)
    texts: dict  # name -> sentence
    findings: dict  # name -> sentence
    images: "ImageSection | None" = None  # the section on the papers' image sets (None inside it)


@dataclass
class ImageSection:
    """The chapter again on the papers' image sets (:func:`image_section`)."""

    datasets: list  # the image sets asked for
    k_used: dict  # image set -> the K it trains at, the first that opens its region (chapter 06's choice)
    refused: dict  # image set -> why the method cannot train on it: no K of the search opens its region
    chapter: "SphericalChapter | None"  # the chapter's steps on the sets that train (None: none does)


def _mean(results, key) -> float:
    return float(np.mean([r["metrics"][key] for r in results]))


def _configs(p: Params, ds: str, k_used: dict, **overrides) -> list[SphericalConfig]:
    """One config per seed of a run on ``ds`` with the chapter's settings and ``overrides``."""
    return [SphericalConfig.from_profile(p.profile, ds, seed=s, n_clusters=k_used[ds], **{**p.common, **overrides})
            for s in p.seeds]


# ---- the chapter's steps, in the order its page calls them -------------------------------------------------------


def _refusal(err: EmptyFeasibleRegion) -> dict:
    assert err.wcss >= err.l_collapse  # the refusal is an invariant: it names an empty region
    return {"wcss": err.wcss, "l_collapse": err.l_collapse, "open_k": err.open_k,
            "message": f"{type(err).__name__}: {err}"}


def feasible_k(p: Params) -> Region:
    """The K each data set trains with: its true number of clusters, except digits at K = 10, where the method
    refuses an empty region and names the K that opens it (checked without training or asking the store). Your
    data set and an image set of ``make data`` train at their K (``n_components``, chosen by BIC, or the ten classes),
    or, if the region is empty there, at the K that opens it (no K opens it: the method's refusal, raised)."""
    yours = p.components
    k_used = {ds: yours[ds] if ds in yours else true_clusters(ds) for ds in p.datasets}
    moved = {}
    # an image set, like your data, trains at the first K that opens its region (chapter 06 chooses so too)
    for ds in [*yours, *(ds for ds in p.datasets if ds in image_data.NAMES)]:
        try:
            spherical_runs.prepare(SphericalConfig.from_profile(p.profile, ds, seed=p.seeds[0], n_clusters=k_used[ds],
                                                                **p.common))
        except EmptyFeasibleRegion as err:
            if err.open_k is None:
                raise
            moved[ds] = _refusal(err)
            k_used[ds] = err.open_k
    empty = None
    if "digits" in p.datasets:
        try:  # the check run() makes before training
            spherical_runs.prepare(SphericalConfig.from_profile(p.profile, "digits", seed=p.seeds[0], **p.common))
        except EmptyFeasibleRegion as err:
            empty = _refusal(err)
            if err.open_k is not None:
                k_used["digits"] = err.open_k
    return Region(k_used, empty, moved)


def ablation_plan(p: Params, region: Region) -> dict:
    """Data set -> variant -> its configs, one per seed: v4 Table 2's four variants, two of them under the other
    reading of eq. 8, all four with the mean decode, and the cluster-pull control under both x̂."""
    k, other = region.k_used, p.other_reading
    out = {}
    for ds in p.datasets:
        a = ablation_configs(p.profile, ds, p.seeds, n_clusters=k[ds], **p.common)
        a.update(ablation_configs(p.profile, ds, p.seeds, {f"{v}, {other} reading": ABLATION_VARIANTS[v]
                                                           for v in ("Boundary penalty only", "Full constraints")},
                                  n_clusters=k[ds], **{**p.common, "boundary_reading": other}))
        a.update(ablation_configs(p.profile, ds, p.seeds,
                                  {variant_name(v, "mean"): o for v, o in ABLATION_VARIANTS.items()},
                                  n_clusters=k[ds], **{**p.common, "xhat": "mean"}))
        for x in XHATS:
            a.update(ablation_configs(p.profile, ds, p.seeds, {variant_name(CONTROL, x): CONTROL_OVERRIDES},
                                      n_clusters=k[ds], **{**p.common, "xhat": x}))
        out[ds] = a
    return out


def ablation_runs(p: Params, region: Region, store=None, progress: bool | None = None) -> dict:
    """Data set -> variant -> its stored runs (:func:`ablation_plan`)."""
    return {ds: {name: runner.run_all(cfgs, store=store, progress=progress) for name, cfgs in a.items()}
            for ds, a in ablation_plan(p, region).items()}


def anchors(ablation: dict) -> dict:
    """Data set -> the region the full method trains against (its first seed's), with the constraint metrics of
    Theorem 3.4's two anchor points, the collapsed and the ideal reconstruction."""
    return {ds: by_variant["Full constraints"][0]["region"] for ds, by_variant in ablation.items()}


def summaries(ablation: dict) -> dict:
    """Data set -> variant -> Table 2's metrics, active units and −ELBO, (mean, std) over seeds."""
    return {ds: summarise(by_variant) for ds, by_variant in ablation.items()}


def orders(p: Params, summ: dict) -> dict:
    """(data set, metric, x̂) -> how many of v4 Table 2's pairwise orderings our means keep (:func:`pairs_in_order`)."""
    return {(ds, metric, x): pairs_in_order({v: summ[ds][variant_name(v, x)] for v in PAPER_TABLE2}, metric)
            for x in XHATS for ds in p.datasets for metric in TABLE2_METRICS}


def control(p: Params, ablation: dict) -> Control:
    """The full method beside the cluster-pull control (eq. 7's loss alone), with chapter 04's information check."""
    by_run = {}
    for ds in p.datasets:
        for x in XHATS:
            for v in ("Full constraints", CONTROL):
                rs = ablation[ds][variant_name(v, x)]
                info = [r["information"] for r in rs]
                by_run[(ds, x, v)] = {"kl": _mean(rs, "kl"), "neg_elbo": _mean(rs, "neg_elbo"),
                                      "share": float(np.mean([i["share_sample"] for i in info])),
                                      "required": float(np.mean([i["required_sample"] for i in info])),
                                      "within": f"{sum(i['bound_holds_mean'] for i in info)}/{len(info)}"}
    adds = {(ds, x): by_run[(ds, x, "Full constraints")]["kl"] - by_run[(ds, x, CONTROL)]["kl"]
            for ds in p.datasets for x in XHATS}
    return Control(by_run, adds)


def dynamics(p: Params, ablation: dict) -> Dynamics:
    """How much the evaluation KL and the boundary penalty move from epoch to epoch once β has reached 1, without
    and with the norm constraint ("boundary penalty only" against "full constraints")."""
    runs = {ds: {"without norm constraint": ablation[ds]["Boundary penalty only"],
                 "with norm constraint": ablation[ds]["Full constraints"]} for ds in p.datasets}
    full = {ds: ablation[ds]["Full constraints"] for ds in p.datasets}
    settled = {ds: settled_epoch(full[ds][0]["config"]) for ds in p.datasets}
    marks = {ds: {"penalties start": full[ds][0]["schedule"]["stage1_epochs"], "β reaches 1": settled[ds]}
             for ds in p.datasets}
    measured, holds = {}, {}
    for ds in p.datasets:
        measured[ds] = {label: {
            "kl": float(np.mean([instability(r["history"], "eval_kl", settled[ds]) for r in results])),
            "boundary": float(np.mean([instability(r["history"], "boundary", settled[ds]) for r in results])),
            "final_kl": _mean(results, "kl"), "norm_sat": _mean(results, "norm_satisfaction"),
            "norm": _mean(results, "output_norm_mean")} for label, results in runs[ds].items()}
        without, with_ = measured[ds]["without norm constraint"], measured[ds]["with norm constraint"]
        holds[ds] = bool(without["kl"] > with_["kl"] and without["boundary"] > with_["boundary"]
                         and with_["final_kl"] > without["final_kl"])
    return Dynamics(runs, marks, measured, holds)


def sweep_plan(p: Params, region: Region) -> dict:
    """Data set -> ("sweep" and "plain" -> configs): the full method over the profile's λ₁ grid, and the plain VAE."""
    grid = [float(v) for v in profile_settings(p.profile)["spherical"]["lambda_boundary_grid"]]
    return {ds: {"sweep": [c for lam in grid for c in _configs(p, ds, region.k_used, lambda_boundary=lam)],
                 "plain": _configs(p, ds, region.k_used, **PLAIN)} for ds in p.datasets}


def sweep(p: Params, region: Region, store=None, progress: bool | None = None) -> Sweep:
    """The full method over the profile's λ₁ grid (λ₂ fixed), and a plain VAE on the same shell data and σ'²."""
    planned = sweep_plan(p, region)
    results = {ds: runner.run_all(c["sweep"], store=store, progress=progress) for ds, c in planned.items()}
    plain = {ds: runner.run_all(c["plain"], store=store, progress=progress) for ds, c in planned.items()}
    sweeps = {ds: penalty_sweep(rs) for ds, rs in results.items()}
    plain_elbo = {ds: _mean(rs, "neg_elbo") for ds, rs in plain.items()}
    plain_kl = {ds: _mean(rs, "kl") for ds, rs in plain.items()}
    dial = {ds: bool(sw["kl"][-1] > 2 * sw["kl"][0]) for ds, sw in sweeps.items()}
    costly = {ds: bool(sw["neg_elbo"][-1] > plain_elbo[ds]) for ds, sw in sweeps.items()}
    return Sweep(results, sweeps, plain, plain_elbo, plain_kl, dial, costly)


def comparison_plan(p: Params, region: Region) -> dict:
    """Data set -> ("raw_vae" and "raw_ref" -> configs): the vanilla VAE on the raw data, and the full method with
    σ'² from the raw λ_max."""
    training = profile_settings(p.profile)["spherical"]
    return {ds: {"raw_vae": [VAEConfig.from_profile(p.profile, ds, sigma2_ratio=p.sigma2_ratio, seed=s, **training[ds])
                             for s in p.seeds],
                 "raw_ref": _configs(p, ds, region.k_used, sigma2_reference="raw")} for ds in p.datasets}


def all_configs(p: Params, region: Region) -> list:
    """Every run the chapter's steps read for ``p`` and ``region`` (the forced run aside), without duplicates."""
    nested = [*ablation_plan(p, region).values(), *sweep_plan(p, region).values(),
              *comparison_plan(p, region).values()]
    seen = {}
    for cfgs in (c for group in nested for c in group.values()):
        for c in cfgs:
            seen.setdefault(runner.config_key(c), c)
    return list(seen.values())


def comparison(p: Params, region: Region, ablation: dict, sw: Sweep, store=None, progress: bool | None = None) -> dict:
    """Data set -> model -> (the data it sees, its runs, λ_max of those data), at equal σ'²/λ_max of the data each
    model sees: a vanilla VAE on the raw data, the plain VAE and the full method on the shell data, and the full
    method with σ'² set from the raw λ_max."""
    planned = comparison_plan(p, region)
    raw_vae = {ds: runner.run_all(c["raw_vae"], store=store, progress=progress) for ds, c in planned.items()}
    raw_ref = {ds: runner.run_all(c["raw_ref"], store=store, progress=progress) for ds, c in planned.items()}
    out = {}
    for ds in p.datasets:
        full = ablation[ds]["Full constraints"]
        lam_raw, lam_shell = full[0]["data"]["lambda_max_raw"], full[0]["data"]["lambda_max_shell"]
        out[ds] = {"vanilla VAE": ("raw", raw_vae[ds], lam_raw), "plain VAE": ("shell", sw.plain_results[ds], lam_shell),
                   "full method": ("shell", full, lam_shell),
                   "full method, σ'² from raw λ_max": ("shell", raw_ref[ds], lam_shell)}
    return out


def forced_run(p: Params, region: Region, store=None, progress: bool | None = None) -> dict | None:
    """Digits at K = 10 trained anyway (``allow_empty_region=True``, first seed); None where the region is open."""
    if "digits" not in p.datasets or region.empty is None:
        return None
    forced = runner.run(SphericalConfig.from_profile(p.profile, "digits", seed=p.seeds[0], allow_empty_region=True,
                                                     **p.common), store=store, progress=progress)
    assert forced["metrics"]["coverage"] == 0.0  # no loss lies in an empty interval
    return forced


def table2_verdict(ds: str, order: dict) -> str:
    """The verdict of one of v4 Table 2's orderings on ``ds`` (:func:`pairs_in_order`): the paper names no data set,
    so the book's are compared; on your own data set it is "not comparable (your data)"."""
    differs = setting_differs({"dataset": ds}, {})
    if differs:
        return not_comparable(differs)
    return "reproduced" if order["reproduced"] else "not reproduced"


def tables(p: Params, anchor: dict, summ: dict, order: dict, ctrl: Control, dyn: Dynamics, sw: Sweep,
           compare: dict) -> dict:
    """The chapter's tables, (header, rows) each."""
    out = {}
    out["anchor"] = (["data", "reconstruction", "WCSS", "L_collapse", "cluster-aware loss", "coverage",
                      "boundary, per sample", "boundary, per batch", "mean ‖x̂‖", "norm satisfaction", "norm penalty"],
                     [(ds, point, region["wcss"], region["l_collapse"], m["cluster_loss"], m["coverage"],
                       m["boundary_per_sample"], m["boundary_per_batch"], m["output_norm_mean"], m["norm_satisfaction"],
                       m["norm_penalty"])
                      for ds, region in anchor.items() for point in ("collapsed", "ideal")
                      for m in [region["reference"][point]]])

    def pm(stat, digits=3):
        return numbers.pm(*stat, len(p.seeds), digits)

    rows = []
    for ds in p.datasets:
        for name, s in summ[ds].items():
            paper = PAPER_TABLE2.get(name)
            rows.append((ds, name, paper and paper["kl"], pm(s["kl"]), paper and paper["coverage"], pm(s["coverage"]),
                         paper and paper["norm_satisfaction"], pm(s["norm_satisfaction"]),
                         paper and paper["recon_error"], pm(s["recon_error"]), pm(s["active"], 2), pm(s["neg_elbo"], 4)))
    out["ablation"] = (["data", "variant", "KL, v4", "KL, ours", "coverage, v4", "coverage, ours", "norm sat., v4",
                        "norm sat., ours", "recon. error, v4", "recon. error (MSE), ours", "active units", "−ELBO"], rows)
    out["order"] = (["data", "x̂", "metric", "paper's order (best first)", "our order", "pairs kept", "verdict"],
                    [(ds, x, metric, " > ".join(o["paper_order"]), " > ".join(o["our_order"]), f"{o['kept']} of {o['of']}",
                      table2_verdict(ds, o))
                     for x in XHATS for ds in p.datasets for metric in TABLE2_METRICS for o in [order[(ds, metric, x)]]])
    out["control"] = (["data", "x̂", "run", "KL", "−ELBO", "own-centre share f(z)", "nats it needs",
                       "f(μ) share within KL (seeds)"],
                      [(*key, c["kl"], c["neg_elbo"], c["share"], c["required"], c["within"])
                       for key, c in ctrl.by_run.items()])
    out["dynamics"] = (["data", "run", "KL instability", "boundary-penalty instability", "final KL",
                        "final norm satisfaction", "final mean ‖x̂‖"],
                       [(ds, label, m["kl"], m["boundary"], m["final_kl"], m["norm_sat"], m["norm"])
                        for ds, by_label in dyn.measured.items() for label, m in by_label.items()])
    out["sweep"] = (["data", "smallest λ₁", "KL there", "largest λ₁", "KL there", "lowest KL", "highest KL",
                     "−ELBO, plain VAE", "−ELBO at largest λ₁", "KL is", "costs ELBO"],
                    [(ds, _fmt(s["lambda_boundary"][0]), s["kl"][0], _fmt(s["lambda_boundary"][-1]), s["kl"][-1],
                      float(s["kl"].min()), float(s["kl"].max()), sw.plain_elbo[ds], float(s["neg_elbo"][-1]),
                      "a dial" if sw.dial[ds] else "not a dial", "yes" if sw.costly[ds] else "no")
                     for ds, s in sw.sweeps.items()])
    out["compare"] = (["data", "model", "data it sees", "λ_max of those data", "σ'²", "σ'²/λ_max seen", "KL",
                       "active units"],
                      [(ds, label, seen, lam, rs[0]["sigma2_decoder"], rs[0]["sigma2_decoder"] / lam, _mean(rs, "kl"),
                        _mean(rs, "active_burda")) for ds, models in compare.items()
                       for label, (seen, rs, lam) in models.items()])
    return out


def sentences(p: Params, region: Region, anchor: dict, summ: dict, order: dict, ctrl: Control, dyn: Dynamics,
              sw: Sweep, compare: dict, forced: dict | None) -> tuple[dict, dict]:
    """The chapter's computed sentences: ``(texts, findings)``, each name -> Markdown."""
    datasets, empty, k_used, other = list(p.datasets), region.empty, region.k_used, p.other_reading
    defaults = SphericalConfig()
    k_text = ", ".join(f"{ds}: K = {k}" for ds, k in k_used.items())
    full_kl = {ds: summ[ds]["Full constraints"]["kl"][0] for ds in datasets}
    none_kl = {ds: summ[ds]["No constraints"]["kl"][0] for ds in datasets}
    alone = {v: [ds for ds in datasets if summ[ds][v]["kl"][0] >= p.kl_bound]
             for v in ("Boundary penalty only", f"Boundary penalty only, {other} reading", "Norm constraint only")}
    drift = {ds: dyn.measured[ds]["without norm constraint"]["norm"] for ds in datasets}
    lambda_ratio = {ds: models["full method"][1][0]["data"]["lambda_max_raw"]
                    / models["full method"][1][0]["data"]["lambda_max_shell"] for ds, models in compare.items()}
    vanilla_collapsed = all(_mean(compare[ds][model][1], "kl") < p.kl_bound
                            for model in ("vanilla VAE", "plain VAE") for ds in datasets)
    n_reproduced = sum(o["reproduced"] for o in order.values())
    texts = {
        "profile": f"`{p.profile}`", "boundary_reading": f"`{p.boundary_reading}`",
        "shell_reading": f"`{defaults.shell_reading}`",
        "k_used": k_text,
        "empty": (
            f"At K = 10, WCSS = {empty['wcss']:.3f} ≥ L_collapse = {empty['l_collapse']:.3f}. The smallest K that "
            f"opens the region is {empty['open_k']}, and the rest of the chapter trains digits there ({k_text}). The "
            "last section trains at K = 10 anyway, with `allow_empty_region=True`, to see what the penalty does to an "
            "empty interval." if empty is not None else
            "In this build the region at K = 10 is *not* empty on digits (or digits are not run), unlike chapter 03's "
            "finding: the chapter keeps K = 10."),
        "ideal_coverage": ", ".join(f"{_fmt(r['reference']['ideal']['coverage'])} on {ds}" for ds, r in anchor.items()),
        "ideal_below": ", ".join(f"{_fmt(r['reference']['ideal']['below_wcss'])} on {ds}" for ds, r in anchor.items()),
        "region_width": ", ".join(f"{_fmt((r['l_collapse'] - r['wcss']) / r['tss'])} on {ds} (K = {k_used[ds]})"
                                  for ds, r in anchor.items()),
        "other_reading": f"`{other}`",
        "region_adds": "; ".join(f"{_fmt(v)} nats on {ds} (x̂ {x})" for (ds, x), v in ctrl.region_adds.items()),
        "full_kl_list": ", ".join(f"{_fmt(v)} nats on {ds}" for ds, v in full_kl.items()),
        "none_kl_list": ", ".join(f"{_fmt(v)} on {ds}" for ds, v in none_kl.items()),
        "which_component": "; ".join(f"{v.lower()} keeps KL at or above {p.kl_bound:g} nats on "
                                     + (", ".join(dss) if dss else "no data set") for v, dss in alone.items()) + ".",
        "drift": "; ".join(f"on {ds} the mean output norm ends at {_fmt(v)}, "
                           + ("inside r_min" if v < defaults.r_min else "above r_max" if v > defaults.r_max else
                              "within the shell") for ds, v in drift.items()),
        "dynamics_verdicts": "; ".join(f"{ds}: {'holds' if h else 'does not hold'}" for ds, h in dyn.holds.items()),
        "kl_range": "; ".join(f"on {ds}, from {_fmt(s['kl'].min())} to {_fmt(s['kl'].max())} nats"
                              for ds, s in sw.sweeps.items()),
        "lambda_ratio": ", ".join(f"{_fmt(v)} on {ds}" for ds, v in lambda_ratio.items()),
        "vanilla_collapsed": "both collapse" if vanilla_collapsed else "not both collapse",
        "n_dial": str(sum(sw.dial.values())), "n_costly": str(sum(sw.costly.values())),
        "n_datasets": str(len(datasets)), "n_orders_reproduced": str(n_reproduced), "n_orders": str(len(order)),
        "n_pairs": str(len(paper_pairs("kl"))),
    }
    if forced is not None:
        fm, fr = forced["metrics"], forced["region"]
        texts["forced"] = (
            f"Trained anyway (first seed): KL = {_fmt(fm['kl'])} nats, mean cluster-aware loss {_fmt(fm['cluster_loss'])} "
            f"against L_collapse = {_fmt(fr['l_collapse'])} and WCSS = {_fmt(fr['wcss'])} (the penalty's least value is "
            f"at {_fmt((fr['l_collapse'] + fr['wcss']) / 2)}), coverage {_fmt(fm['coverage'])}, norm satisfaction "
            f"{_fmt(fm['norm_satisfaction'])}. With K = {k_used['digits']} the full method reached KL = "
            f"{_fmt(full_kl['digits'])} nats. "
            + ("So the model stays away from collapse even where Theorem 3.4's condition fails: what holds it there "
               "is not the region." if fm["kl"] >= p.kl_bound else "Without a region the model collapses."))
    else:
        texts["forced"] = "Digits at K = 10 have a region in this build, or are not among its data sets."
    findings = {
        "empty": (f"On digits at K = 10 the feasible region is empty (WCSS {_fmt(empty['wcss'])} ≥ L_collapse "
                  f"{_fmt(empty['l_collapse'])}); the method refuses to train and names K = {empty['open_k']}, the "
                  "smallest K that opens it." if empty is not None else
                  "On digits at K = 10 the feasible region is not empty in this build."),
        "ablation": (f"v4 Table 2's ordering of its four variants holds in {n_reproduced} of {len(order)} (data set, "
                     f"metric, x̂) cases ({sum(o['reproduced'] for k, o in order.items() if k[2] == 'sample')} of "
                     f"{sum(k[2] == 'sample' for k in order)} with v4's sampled x̂). Over the cluster-pull control, "
                     "the shell and region change the KL by " + "; ".join(
                         f"{'+' if v >= 0 else '−'}{_fmt(abs(v))} nats on {ds} (x̂ {x})"
                         for (ds, x), v in ctrl.region_adds.items()) + " (negative: the plain cluster pull keeps more). "
                     f"The full method keeps KL at {texts['full_kl_list']} at σ'²/λ_max = {p.sigma2_ratio:g}, "
                     f"where the unconstrained variant has {', '.join(_fmt(v) for v in none_kl.values())}."),
        "dynamics": ("v4 Figure 1's claim (less movement of KL and boundary penalty, and more final KL, with the norm "
                     "constraint) " + "; ".join(f"{'holds' if h else 'does not hold'} on {ds}"
                                                for ds, h in dyn.holds.items()) + "."),
        "dial": ("Across the λ₁ grid the KL runs " + "; ".join(
            f"from {_fmt(s['kl'].min())} to {_fmt(s['kl'].max())} nats on {ds}" for ds, s in sw.sweeps.items())
            + f". It is a dial by our rule on {sum(sw.dial.values())} of {len(datasets)} data sets, and the penalty "
            f"costs ELBO against a plain VAE on {sum(sw.costly.values())} of them."),
        "ratio": (f"At σ'²/λ_max = {p.sigma2_ratio:g} of the data each model sees, a vanilla VAE on raw data and a "
                  f"plain VAE on shell data {texts['vanilla_collapsed']}; the shell divides λ_max by "
                  f"{texts['lambda_ratio']}."),
    }
    return texts, findings


def image_region(p: Params, store=None) -> tuple[Region, dict]:
    """Before any training: the K each image set trains at, the first from its number of classes that opens the
    region (:func:`hcvae.chapters.baselines_plan.k_for`, read from stored region runs, so that a build needs no
    image file), and the sets where no K of the search opens it, with the reason."""
    found = {ds: k_for(p.profile, ds, store) for ds in p.images}
    k_used = {ds: k for ds, k in found.items() if isinstance(k, int)}
    refused = {ds: why for ds, why in found.items() if not isinstance(why, int)}
    return Region(k_used, None), refused


def image_section(p: Params, store=None, progress: bool | None = None) -> ImageSection:
    """The chapter's steps (:func:`ablation_runs` to :func:`sentences`) on the image sets that have a region, at
    their K and on the profile's image seeds; a set without one is reported, not trained. An image set whose runs
    are neither stored nor computable (its file absent) stops here with the `make data` command."""
    q, region, refused = image_plan(p, store)
    user_sets.check_image_runs(all_configs(q, region), store if store is not None else runner.ResultStore())
    return ImageSection(list(p.images), region.k_used, refused,
                        _steps(q, region, store, progress) if q.datasets else None)


def image_plan(p: Params, store=None) -> tuple[ImageParams, Region, dict]:
    """The section's parameters (the sets that train), their region and the refused sets (:func:`image_region`)."""
    region, refused = image_region(p, store)
    q = ImageParams(**{**p.as_dict(), "datasets": [ds for ds in p.images if ds in region.k_used], "image_datasets": []})
    return q, region, refused


def _steps(p: Params, region: Region, store=None, progress: bool | None = None) -> SphericalChapter:
    """The chapter's steps after the region, in the order its page calls them."""
    ablation = ablation_runs(p, region, store, progress)
    anchor, summ = anchors(ablation), summaries(ablation)
    order, ctrl, dyn = orders(p, summ), control(p, ablation), dynamics(p, ablation)
    sw = sweep(p, region, store, progress)
    compare = comparison(p, region, ablation, sw, store, progress)
    forced = forced_run(p, region, store, progress)
    table = tables(p, anchor, summ, order, ctrl, dyn, sw, compare)
    texts, findings = sentences(p, region, anchor, summ, order, ctrl, dyn, sw, compare, forced)
    return SphericalChapter(p, region, ablation, anchor, summ, order, ctrl, dyn, sw, compare, forced, table, texts,
                            findings)


def image_texts(images: ImageSection) -> dict:
    """The sentences of the section on the image sets, each name -> Markdown (``image_`` before the chapter's
    names for its tables)."""
    ch = images.chapter
    texts = {
        "image_sets": ", ".join(images.datasets) or ("none: the quick profile runs no image set, and "
                                                     "`image_datasets` chooses them"),
        "image_k": ", ".join(f"K = {k} on {ds}" for ds, k in images.k_used.items()) or "none here",
        "image_seeds": ", ".join(map(str, ch.params.seeds)) if ch else "none",
        "image_refused": " ".join(f"On {ds}, {why}." for ds, why in images.refused.items())
        or ("Every image set of this build has a region at some K of the search." if images.datasets else ""),
    }
    if ch is None:
        texts["image_summary"] = "No image set of this build trains."
        return texts
    full = {ds: ch.summaries[ds]["Full constraints"]["kl"][0] for ds in ch.params.datasets}
    kept = {ds: sum(ch.orders[(ds, m, "sample")]["reproduced"] for m in TABLE2_METRICS) for ds in ch.params.datasets}
    texts["image_summary"] = (
        "With v4's sampled x̂ the full method keeps KL at " + ", ".join(f"{_fmt(v)} nats on {ds}" for ds, v in full.items())
        + f" (v4 Table 2: {PAPER_TABLE2['Full constraints']['kl']}); v4 Table 2's ordering of its four variants holds "
        "on " + ", ".join(f"{n} of {len(TABLE2_METRICS)} metrics on {ds}" for ds, n in kept.items()) + ". "
        + ch.findings["dynamics"] + " " + ch.findings["dial"] + " " + ch.findings["ratio"])
    return texts


def compute(p: Params, store=None, progress: bool | None = None) -> SphericalChapter:
    """The chapter, step by step as its page shows it, then its section on the papers' image sets."""
    ch = _steps(p, feasible_k(p), store, progress)
    ch.images = image_section(p, store, progress)
    return ch


# ---- the ledger's rows ------------------------------------------------------------------------------------------


def _table2_order(metric: str):
    def measure(profile: str):
        parts, verdicts = [], {}
        for x in XHATS:
            ok = []
            for part in _parts(chapter(profile)):
                for ds in part.params.datasets:
                    o = part.orders[(ds, metric, x)]
                    ok.append(o["reproduced"])
                    parts.append(f"x̂ {x}, {ds} (K = {part.region.k_used[ds]}): {o['kept']} of {o['of']} pairwise "
                                 "orderings kept")
            verdicts[f"x̂ {x}"] = "reproduced" if all(ok) else "not reproduced"
        return Measurement("; ".join(parts), combine(verdicts), verdicts)
    return measure


def _parts(ch: SphericalChapter) -> list:
    """The chapter and its section on the image sets, where that trains any."""
    return [ch] + ([ch.images.chapter] if ch.images is not None and ch.images.chapter is not None else [])


def _table2_full_kl(profile: str):
    # v4 Table 2 names no data set; its full-method KL (2.51) is v4 Table 1's MNIST entry at 2 lambda_max
    ch = chapter(profile)
    kls = {(ds, x): part.summaries[ds][variant_name("Full constraints", x)]["kl"][0]
           for part in _parts(ch) for ds in part.params.datasets for x in XHATS}
    mnist = ch.images.refused.get("mnist") if ch.images is not None else None
    run = sorted({ds for ds, _ in kls})
    why = not_comparable("v4 Table 2's data set is not named; its 2.51 is v4 Table 1's MNIST entry, and this "
                         f"chapter trains {', '.join(run)}, not MNIST"
                         + (f" (on MNIST {mnist})" if mnist else " (chapter 06 tries the Spherical VAE on MNIST)"))
    return Measurement(", ".join(f"{ds}, x̂ {x}: KL {_fmt(kl)}" for (ds, x), kl in kls.items()) + f" — {why}",
                       "not comparable")


def _claims() -> list:
    """Chapter 05's rows of the claims ledger (v4 Table 2), measured from :data:`chapter`."""
    conditions = "σ'² = 2λ_max of the shell data, per-sample boundary reading"
    return [
        Claim("v4-table2-kl", "v4", "Table 2", "order of the four constraint variants by KL",
              "full > boundary only > norm only > none", conditions,
              "every pairwise ordering of the paper's numbers kept by our means, on every data set trained", CHAPTER,
              _table2_order("kl")),
        Claim("v4-table2-coverage", "v4", "Table 2", "order of the variants by feasible-region coverage",
              "full > boundary only > norm only > none", "as above",
              "every pairwise ordering kept, on every data set trained", CHAPTER, _table2_order("coverage")),
        Claim("v4-table2-norm", "v4", "Table 2", "order of the variants by norm satisfaction",
              "full > norm only > boundary only > none", "as above",
              "every pairwise ordering kept, on every data set trained", CHAPTER, _table2_order("norm_satisfaction")),
        Claim("v4-table2-recon", "v4", "Table 2", "order of the variants by reconstruction error",
              "full < none < boundary only < norm only", "as above",
              "every pairwise ordering kept, on every data set trained", CHAPTER, _table2_order("recon_error")),
        Claim("v4-table2-full-kl", "v4", "Table 2", "KL with full constraints", "2.51", "as above",
              "within a factor 2 on every data set trained", CHAPTER, _table2_full_kl),
    ]


# The chapter: chapter(profile, **params) -> SphericalChapter, cached per process; its ledger rows and the stored
# runs they read (the ablation's)
chapter = Chapter(Params, compute, claims=_claims,
                  runs=lambda ch: [r for part in _parts(ch) for by_variant in part.ablation.values()
                                   for rs in by_variant.values() for r in rs])
claims, runs = chapter.claims, chapter.runs

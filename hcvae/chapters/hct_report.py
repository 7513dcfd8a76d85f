"""Chapter 04, Historical Consensus Training (v1 §5.3-5.4): its runs, every number it shows, its ledger rows.

:data:`chapter` is the single source of the chapter: it reads (or computes) the stored runs and returns a
:class:`HCTChapter` whose fields the notebook glues and plots; :func:`claims` are the chapter's rows of the claims
ledger, measured from the same result; :func:`runs` the stored results they read. The page calls the same steps,
in the order :func:`compute` calls them: :func:`stored_runs`, then one analysis per section (:func:`settings`,
:func:`trajectories`, :func:`methods`, :func:`memory`, :func:`consensus`, :func:`final_models`,
:func:`information`, :func:`separation`, :func:`epsilon_stage`, :func:`table1`, :func:`appendix_b`), then
:func:`tables` and :func:`sentences`.

Two ambiguous passages are named options, and every number is given under each:
the reading of ell_C (v1 eq. 8's nearest centre, ``min_k``, or v4 eq. 7's own
centre) and which reconstruction x_hat enters it (``sample``, the reparameterised
decode the likelihood term sees, or ``mean``, f(mu(x)); :mod:`hcvae.methods.consensus`).
For every HCT run the single-clustering control runs under the same reading and
x_hat, so "HCT minus single" isolates what consensus adds over the clustering
term itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hcvae.chapters.base import Chapter, Parameters, parameter
from hcvae.chapters.hct_summaries import (PAPER_TABLE1_SETTING, PAPER_TABLE1_SYNTHETIC, SOURCE_TEXT,  # noqa: F401
                                          consensus_effect, discarded_memory, distance_trend, final_metrics_rows,
                                          resolved_gain, run_key, runs_of, table1_rows)
from hcvae.chapters.ledger import Claim, Measurement, combine
from hcvae.chapters.numbers import fmt as _fmt
from hcvae.chapters.rules import COLLAPSE_KL
from hcvae.chapters import user_sets
from hcvae.chapters.user_sets import check_sizes, datasets_parameter, resolve_params
from hcvae.core import user_data
from hcvae.core.data import dataset_size
from hcvae.core.validation import Boolean, Integer, ListOf, Options, Real
from hcvae.methods.consensus import XHATS, selection_sizes
from hcvae.runs.hct import HCTConfig
from hcvae.runs.profiles import IMAGE_SETS, USER, profile_settings
from hcvae.runs.runner import run_all
from hcvae.runs.store import ResultStore

CHAPTER = "04-historical-consensus"
READINGS = ("min_k", "own_centre")
METHOD_READINGS = (("hct", "min_k"), ("hct", "own_centre"), ("single", "min_k"), ("single", "own_centre"),
                   ("vanilla", "min_k"))
# (method, reading, x_hat): Algorithm 1 and its controls under both readings of ell_C and of x_hat (vanilla trains
# the same either way: x_hat only chooses on which reconstruction its ell_C is tracked)
CHAPTER_RUNS = tuple((m, r, x) for x in XHATS for m, r in METHOD_READINGS)

PAPER_ACTIVE_OF_48 = (2, 5)  # v1 §5.4: "only 2-5 of 48 latent dimensions" stay active in the baselines
BUILTIN = ("synthetic", "digits")


@dataclass(frozen=True)
class Params(user_sets.SharedComponents, Parameters):
    """Chapter 04's parameters (its notebook's ``parameters`` cell holds the same defaults)."""

    PAGE = CHAPTER
    IMAGE_SETTING = ("hct", "image_datasets")

    datasets: list = datasets_parameter()
    seeds: list | None = parameter(None, ListOf(Integer(0), none="the profile's"), "training seeds; None: the "
                                   "profile's Table 1 seeds (five in the paper profile, as v1 averages five runs)")
    sigma2_ratio: float = parameter(2.0, Real(0.0), "sigma'^2 / lambda_max, the violating condition of v1 §5.4")
    collapsed_ratio: float = parameter(10.0, Real(0.0), "sigma'^2 / lambda_max of the collapsed reference (v1 §5.3)")
    epsilons: list = parameter([1e-4, 1e-5], ListOf(Real(0.0)), "refinement thresholds to compare the floor with "
                               "(Appendix B and §4.2.2)")
    em_init: str = parameter("kmeans", Options("kmeans", "random_from_data"), "how EM starts (kmeans: "
                             "scikit-learn's default)")
    xhats: list = parameter(list(XHATS), ListOf(Options(*XHATS)), "which reconstructions enter ell_C: f(z), "
                            "z ~ q(z|x), and/or f(mu(x))")
    appendix_b: bool = parameter(True, Boolean(), "also run v1 Appendix B's MLP (48 latents) at the ablation scale")
    n_components: int | None = parameter(None, Integer(2, none="chosen by BIC"), "K for your own data sets; None: "
                                         "chosen by BIC")
    image_datasets: list | None = parameter(None, ListOf(Options(*IMAGE_SETS), empty=True, none="the profile's"),
                                            "the papers' image sets of the section on them, each at its true K, the "
                                            "number of classes (None: the profile's)")

    def __post_init__(self):  # a file too small for a batch or for K is refused before any work; files become names
        check_sizes(self.datasets, [profile_settings(self.profile)["hct"][USER]["batch_size"]], k=self.n_components)
        resolve_params(self)

    @property
    def runs(self) -> tuple:
        """(method, reading, x_hat) of every run per data set and seed, for the chosen x_hats."""
        return tuple((m, r, x) for x in self.xhats for m, r in METHOD_READINGS)

    @property
    def image_xhats(self) -> tuple:
        """The x̂ of the image runs: the profile's, among the chosen ``xhats``."""
        return tuple(x for x in profile_settings(self.profile)["hct"]["image_xhats"] if x in self.xhats)


def chapter_configs(profile: str, datasets=BUILTIN, seeds=None, runs=CHAPTER_RUNS, **overrides) -> list[HCTConfig]:
    """Every run of the chapter: data set x (method, reading, x_hat) x seed, with ``profile``'s HCT settings.

    ``seeds=None`` takes the seeds of the baselines' Table 1 rows (v1 averages five runs: five in the ``paper``
    profile), so that this chapter's Table 1 and chapter 06's rest on the same runs.
    """
    seeds = profile_settings(profile)["baselines"]["seeds"] if seeds is None else tuple(seeds)
    return [HCTConfig.from_profile(profile, ds, method=m, reading=r, xhat=x, seed=int(s), **overrides)
            for ds in datasets for m, r, x in runs for s in seeds]


def appendix_b_configs(profile: str, xhats=XHATS, **overrides) -> list[HCTConfig]:
    """Chapter 04's main comparison with v1 Appendix B's MLP at the profile's reduced scale (synthetic data)."""
    s = dict(profile_settings(profile)["hct_appendix_b"])
    seeds = s.pop("seeds")
    runs = [(m, r, x) for x in xhats for m, r in METHOD_READINGS if m != "vanilla"] + [("vanilla", "min_k", xhats[0])]
    return [HCTConfig(dataset="synthetic", method=m, reading=r, xhat=x, seed=int(seed), **{**s, **overrides})
            for m, r, x in runs for seed in seeds]


# ---- the chapter -----------------------------------------------------------------------------------------------


@dataclass
class Information:
    """The information check of the final models (each vanilla run counted once)."""

    mean_loophole: int  # final models whose f(μ) landings need more nats than the KL
    sample_violations: int  # final models whose f(z) landings break the bound (none can, up to Monte Carlo error)
    n_final: int


@dataclass
class Separation:
    """v1 Figure 2 right in numbers: the parameter distance to the collapsed reference."""

    by_method: dict  # (data set, method label, x̂) -> final distance (mean), runs it grew in, runs, final KL (mean)
    ref_kl: dict  # data set -> the collapsed reference's KL (mean over its runs)
    grew_collapsed: int  # runs whose distance grew and that ended collapsed


@dataclass
class EpsilonStage:
    """The ε stage and Theorem 4.4 in training, per HCT run."""

    runs: list  # one dict per HCT run: its refinement, ε_T, δ, final KL
    contradictions: int  # runs with ε_T < δ that collapsed all the same

    @property
    def n_hct(self) -> int:
        return len(self.runs)


@dataclass
class ImageRuns:
    """The section on the papers' image sets: Algorithm 1 and its controls at K = 10, on the profile's image seeds."""

    datasets: list  # the image sets run
    results: list  # their stored runs: set x (method, reading, x̂) x seed
    finals: list  # final_metrics_rows of those runs
    stages: list  # per (set, reading, x̂) of HCT: KL at the end of each stage and final active units, seed mean
    consensus: list  # consensus_effect per (set, reading, x̂)

    @property
    def n_seeds(self) -> int:
        return len({r["config"]["seed"] for r in self.results})

    def k(self, dataset: str) -> int:
        """The number of mixture components of ``dataset``'s clusterings, as its runs record it."""
        return next(r["clusterings"]["n_components"] for r in self.results if r["config"]["dataset"] == dataset)


@dataclass
class HCTChapter:
    """Everything chapter 04 shows, computed once from the stored runs, section by section."""

    params: Params
    results: list  # the stored runs: data set x (method, reading, x̂) x seed
    trajectories: dict  # (reading, x̂) -> record of the first data set's first seed
    methods: dict  # x̂ -> data set -> label -> result (the KL and distance figures)
    memory: dict  # (data set, reading, x̂, seed) of each HCT run -> discarded_memory
    consensus: list  # consensus_effect per (data set, reading, x̂)
    finals: list  # final_metrics_rows
    information: Information
    separation: Separation
    epsilon: EpsilonStage
    table1: dict  # (reading, x̂) -> table1_rows
    appendix_b: list  # the stored runs with Appendix B's MLP ([] when not run)
    images: ImageRuns  # the section on the papers' image sets
    tables: dict  # name -> (header, rows)
    texts: dict  # name -> sentence
    findings: list  # the chapter's findings, in order

    @property
    def n_runs(self) -> int:
        return len(self.results)

    @property
    def n_seeds(self) -> int:
        return len({r["config"]["seed"] for r in self.results})


def _label(method: str, reading: str, xhat: str | None = None) -> str:
    base = "vanilla" if method == "vanilla" else f"{method}, {reading.replace('_', '-')}"
    return base if xhat is None else f"{base}, x̂ {xhat}"


def _pick(results: list, ds: str, method: str, reading: str, xhat: str, seed: int | None = None) -> dict:
    """The run of (data set, method, reading, x̂) at ``seed`` (default: the first seed)."""
    seed = min(r["config"]["seed"] for r in results) if seed is None else seed
    return next(r for r in results if run_key(r) == (ds, method, reading, xhat) and r["config"]["seed"] == seed)


# ---- the chapter's steps, in the order its page calls them -------------------------------------------------------


def configs(p: Params) -> list[HCTConfig]:
    """Every run of the chapter for ``p``: data set x (method, reading, x̂) x seed; your data sets with their K."""
    k = p.components
    return [c for ds in p.datasets
            for c in chapter_configs(p.profile, (ds,), p.seeds, runs=p.runs, sigma2_ratio=p.sigma2_ratio,
                                     collapsed_ratio=p.collapsed_ratio, em_init=p.em_init,
                                     **({"n_components": k[ds]} if ds in k else {}))]


def image_configs(p: Params) -> list[HCTConfig]:
    """The runs of the section on the image sets: each set x (method, reading, x̂) x the profile's image seeds."""
    seeds = profile_settings(p.profile)["hct"]["image_seeds"]
    runs = tuple((m, r, x) for x in p.image_xhats for m, r in METHOD_READINGS)
    return chapter_configs(p.profile, p.images, seeds, runs=runs, sigma2_ratio=p.sigma2_ratio,
                           collapsed_ratio=p.collapsed_ratio, em_init=p.em_init)


def check_images(p: Params, store=None) -> None:
    """Before any work: an image set whose runs are neither stored nor computable (its prepared file absent) is
    refused with the command that prepares it."""
    user_sets.check_image_runs(image_configs(p), store if store is not None else ResultStore())


def stored_runs(p: Params, store=None, progress: bool | None = None) -> list[dict]:
    """The stored result of every run: read from the store or the reference, trained if neither has it. The image
    sets' runs are checked first (:func:`check_images`), so that a missing one stops the chapter before any work."""
    check_images(p, store)
    return run_all(configs(p), store=store, progress=progress)


def settings(p: Params, results: list) -> dict:
    """Data set -> the config of its first HCT run (the settings every run of that data set shares)."""
    return {ds: _pick(results, ds, "hct", "min_k", p.xhats[0])["config"] for ds in p.datasets}


def r0_24_error() -> str:
    """Why Appendix B's R₀ = 24 cannot be halved down to two: the package's own refusal, quoted."""
    try:
        selection_sizes(24)
        return ""
    except ValueError as err:
        return str(err).split(": ", 1)[1].split(" (v1")[0]


def trajectories(p: Params, results: list) -> dict:
    """(reading, x̂) -> the record of the first data set's first-seed HCT run (v1 Figures 2 left, 3 and 7)."""
    return {(rd, x): _pick(results, p.datasets[0], "hct", rd, x)["record"] for rd in READINGS for x in p.xhats}


def methods(p: Params, results: list) -> dict:
    """x̂ -> data set -> method label -> the first seed's run: HCT, single and vanilla side by side."""
    return {x: {ds: {_label(m, rd): _pick(results, ds, m, rd, x) for m, rd in METHOD_READINGS} for ds in p.datasets}
            for x in p.xhats}


def memory(results: list) -> dict:
    """(data set, reading, x̂, seed) of every HCT run -> ℓ_C of its round-0 discards (:func:`discarded_memory`)."""
    return {(ds, rd, x, r["config"]["seed"]): discarded_memory(r["record"])
            for r in results for ds, m, rd, x in [run_key(r)] if m == "hct"}


def consensus(p: Params, results: list) -> list[dict]:
    """HCT minus the single-clustering control per (data set, reading, x̂) (:func:`consensus_effect`)."""
    return [consensus_effect(results, ds, rd, x) for ds in p.datasets for rd in READINGS for x in p.xhats]


def final_models(results: list) -> list[dict]:
    """Per (data set, method, reading, x̂): the final models' metrics over seeds (:func:`final_metrics_rows`)."""
    return final_metrics_rows(results)


def information(p: Params, results: list) -> Information:
    """The information check over the final models, each vanilla run counted once (under the first x̂)."""
    counted = [r for r in results if r["config"]["method"] != "vanilla" or r["config"].get("xhat") == p.xhats[0]]
    return Information(sum(not r["information"]["bound_holds_mean"] for r in counted),
                       sum(not r["information"]["bound_holds_sample"] for r in counted), len(counted))


def separation(p: Params, results: list) -> Separation:
    """The distance to the collapsed reference per (data set, method, x̂), and in how many runs it grew."""
    by_method, ref_kl = {}, {}
    for ds in p.datasets:
        for x in p.xhats:
            for m, rd in METHOD_READINGS:
                rs = runs_of(results, ds, m, rd, x)
                trends = [distance_trend(r["record"]) for r in rs]
                by_method[(ds, _label(m, rd), x)] = {
                    "distance": float(np.mean([t["last"] for t in trends])), "grew": sum(t["grew"] for t in trends),
                    "runs": len(rs), "kl": float(np.mean([r["metrics"]["kl"] for r in rs]))}
        ref_kl[ds] = float(np.mean([r["collapsed_reference"]["kl"] for r in results if r["config"]["dataset"] == ds]))
    grew = sum(distance_trend(r["record"])["grew"] and r["metrics"]["kl"] < COLLAPSE_KL for r in results)
    return Separation(by_method, ref_kl, grew)


def epsilon_stage(p: Params, results: list) -> EpsilonStage:
    """Per HCT run: the refinement it made, the floor of max ℓ it reached against each ε, ε_T against δ, and
    whether it collapsed anyway."""
    runs, contradictions = [], 0
    for r in results:
        if r["config"]["method"] != "hct":
            continue
        ds, _, rd, x = run_key(r)
        ref, kl = r["record"]["refinement"], r["metrics"]["kl"]
        is_collapsed = kl < COLLAPSE_KL
        contradictions += bool(r["epsilon_t_below_delta"] and is_collapsed)
        runs.append({"dataset": ds, "reading": rd, "xhat": x, "seed": r["config"]["seed"], "epochs": ref["epochs"],
                     "reached": ref["reached"], "floor": ref["floor"], "below": [ref["floor"] < e for e in p.epsilons],
                     "epsilon_t": r["epsilon_t"], "delta": r["delta"], "condition": r["epsilon_t_below_delta"],
                     "kl": kl, "collapsed": is_collapsed})
    return EpsilonStage(runs, contradictions)


def table1(p: Params, results: list) -> dict:
    """(reading, x̂) -> v1 Table 1's synthetic rows beside ours (:func:`table1_rows`), on the synthetic data and on
    each of your data sets (their rows named so, each "not comparable (your data)"); empty without either."""
    compared = [ds for ds in p.datasets if ds == "synthetic" or user_data.is_name(ds)]
    if not compared:
        return {}
    return {(rd, x): [{**t, "row": t["row"] if ds == "synthetic" else f"{t['row']}, {ds}", "dataset": ds}
                      for ds in compared for t in table1_rows(results, ds, rd, x)]
            for rd in READINGS for x in p.xhats}


def appendix_b(p: Params, store=None, progress: bool | None = None) -> list[dict]:
    """The main comparison with v1 Appendix B's MLP at the ablation scale (synthetic data); [] when not asked for."""
    if not p.appendix_b:
        return []
    return run_all(appendix_b_configs(p.profile, tuple(p.xhats), sigma2_ratio=p.sigma2_ratio,
                                      collapsed_ratio=p.collapsed_ratio, em_init=p.em_init),
                   store=store, progress=progress)


STAGES = ("select", "refine", "final")  # v1 Table 1's pre-refinement, post-refinement and final single-cluster rows


def image_runs(p: Params, store=None, progress: bool | None = None) -> ImageRuns:
    """The section on the image sets: their stored runs (read from the reference, or trained where the prepared files
    are here), the final models, HCT's KL per stage, and HCT minus single."""
    results = run_all(image_configs(p), store=store, progress=progress)
    stages = []
    for ds in p.images:
        for rd in READINGS:
            for x in p.image_xhats:
                rs = runs_of(results, ds, "hct", rd, x)
                ends = {st: [r["record"]["stage_end"][st] for r in rs] for st in STAGES}
                stages.append({"dataset": ds, "reading": rd, "xhat": x, "seeds": len(rs),
                               **{f"kl_{st}": float(np.mean([e["kl"] for e in ends[st]])) for st in STAGES},
                               "active_final": float(np.mean([e["active_burda"] for e in ends["final"]])),
                               "refine_epochs": float(np.mean([r["record"]["refinement"]["epochs"] for r in rs])),
                               "reached": sum(r["record"]["refinement"]["reached"] for r in rs)})
    cons = [consensus_effect(results, ds, rd, x) for ds in p.images for rd in READINGS for x in p.image_xhats]
    return ImageRuns(list(p.images), results, final_metrics_rows(results), stages, cons)


def _consensus_rows(cons: list) -> list:
    return [(c["dataset"], c["reading"], c["xhat"], c["seeds"], c["kl_hct"], c["kl_single"], c["diff"], c["diff_se"],
             c["elbo_paid_hct"], c["elbo_paid_single"], c["source"]) for c in cons]


CONSENSUS_HEADER = ["data", "reading", "x̂", "seeds", "KL HCT", "KL single", "HCT − single", "± se",
                    "−ELBO paid vs vanilla (HCT)", "(single)", "where the KL comes from"]


def image_tables(im: ImageRuns) -> dict:
    """The section's tables: the final models, HCT per stage, HCT minus single (none without an image set)."""
    if not im.results:
        return {}
    shown = [f for f in im.finals if f["method"] != "vanilla" or f["xhat"] == im.finals[0]["xhat"]]
    return {
        "image_final": (["data", "method", "reading", "x̂", "seeds", "KL", "active (Burda)", "active (v1)", "−ELBO",
                         "centres hit", "of", "collapsed seeds"],
                        [(f["dataset"], f["method"], f["reading"], f["xhat"] if f["method"] != "vanilla" else "-",
                          f["seeds"], f["kl"], f["active_burda"], f["active_paper"], f"{f['neg_elbo']:.3f}",
                          f["centres_hit"], f["n_centres"], f["collapsed_seeds"]) for f in shown]),
        "image_stages": (["data", "reading", "x̂", "seeds", "KL pre-refinement", "KL post-refinement",
                          "KL final single-cluster", "active (Burda), final", "refinement epochs", "ε reached (runs)"],
                         [(t["dataset"], t["reading"], t["xhat"], t["seeds"], t["kl_select"], t["kl_refine"],
                           t["kl_final"], t["active_final"], t["refine_epochs"], f"{t['reached']}/{t['seeds']}")
                          for t in im.stages]),
        "image_consensus": (CONSENSUS_HEADER, _consensus_rows(im.consensus)),
    }


def image_findings(p: Params, im: ImageRuns) -> list:
    """One sentence per image set: every method's final KL, and where HCT's KL comes from under each reading."""
    by = {(f["dataset"], f["method"], f["reading"], f["xhat"]): f for f in im.finals}
    out = []
    for ds in im.datasets:
        for x in p.image_xhats:
            kls = ", ".join(f"{_label(m, rd)} {_fmt(by[(ds, m, rd if m != 'vanilla' else '-', x)]['kl'])}"
                            for m, rd in METHOD_READINGS)
            why = "; ".join(f"{c['reading'].replace('_', '-')}: {SOURCE_TEXT[c['source']]}" for c in im.consensus
                            if c["dataset"] == ds and c["xhat"] == x)
            out.append(f"{ds} (K = {im.k(ds)}, {im.n_seeds} seed(s), x̂ {x}), final KL in nats at σ'² = "
                       f"{p.sigma2_ratio:g}·λ_max — {kls}. Where HCT's KL comes from, {why}.")
    return out


def tables(p: Params, setting: dict, mem: dict, cons: list, finals: list, sep: Separation, eps: EpsilonStage,
           t1: dict, ab: list) -> dict:
    """The chapter's tables, (header, rows) each; v1 Table 1 is one table per (reading, x̂), ``table1_<reading>_<x̂>``."""
    out = {}
    rows = []
    for ds, c in setting.items():
        sizes = selection_sizes(c["r0"], c["keep_ratio"])
        rows.append((ds, c["n_samples"] or dataset_size(ds), c["sigma2_ratio"], c["r0"], " → ".join(map(str, sizes)),
                     c["epochs_per_round"], c["max_refine_epochs"], c["final_epochs"],
                     f"{c['beta']:g} → {c['beta_final']:g} ({c['beta_schedule']})", c["epsilon"], c["batch_size"],
                     c["latent_dim"]))
    out["settings"] = (["data", "samples", "σ'²/λ_max", "R₀", "set sizes", "E", "refinement cap", "E_final", "β", "ε",
                        "batch", "latent dim"], rows)
    out["memory"] = (["data", "reading", "x̂", "seed", "dropped in round 0", "their ℓ_C when dropped",
                      "their ℓ_C at the end", "ℓ_C of the last two at the end"],
                     [(*key, len(m["dropped_round0"]), m["dropped_at_drop"], m["dropped_at_end"], m["kept_at_end"])
                      for key, m in mem.items()])
    out["distance"] = (["data", "method", "x̂", "final distance (mean)", "runs whose distance grew", "runs",
                        "final KL (mean)"],
                       [(*key, d["distance"], d["grew"], d["runs"], d["kl"]) for key, d in sep.by_method.items()])
    out["eps"] = (["data", "reading", "x̂", "seed", "refinement epochs", "ε reached", "floor of max ℓ",
                   *(f"floor < {e:g}" for e in p.epsilons), "ε_T (all data)", "δ", "ε_T < δ", "final KL", "collapsed"],
                  [(e["dataset"], e["reading"], e["xhat"], e["seed"], e["epochs"],
                    "yes" if e["reached"] else "no (cap)", e["floor"], *("yes" if b else "no" for b in e["below"]),
                    e["epsilon_t"], e["delta"], "yes" if e["condition"] else "no", e["kl"],
                    "yes" if e["collapsed"] else "no") for e in eps.runs])
    shown = [f for f in finals if f["method"] != "vanilla" or f["xhat"] == p.xhats[0]]
    out["final"] = (["data", "method", "reading", "x̂", "seeds", "KL", "± sd", "active (Burda)", "active (v1)", "MSE",
                     "−ELBO", "MI", "centres hit", "of", "collapsed seeds"],
                    [(f["dataset"], f["method"], f["reading"], f["xhat"] if f["method"] != "vanilla" else "-",
                      f["seeds"], f["kl"], f["kl_sd"], f["active_burda"], f["active_paper"], f["mse"],
                      f"{f['neg_elbo']:.3f}", f["mutual_information"], f["centres_hit"], f["n_centres"],
                      f["collapsed_seeds"]) for f in shown])
    out["information"] = (["data", "method", "reading", "x̂", "KL", "own-centre share f(z)", "nats it needs",
                           "bound holds (seeds)", "own-centre share f(μ)", "nats it would need", "within KL (seeds)"],
                          [(f["dataset"], f["method"], f["reading"], f["xhat"] if f["method"] != "vanilla" else "-",
                            f["kl"], f["share_sample"], f["required_sample"], f"{f['bound_sample']}/{f['seeds']}",
                            f["share_mean"], f["required_mean"], f"{f['bound_mean']}/{f['seeds']}") for f in shown])
    out["consensus"] = (CONSENSUS_HEADER, _consensus_rows(cons))
    for (rd, x), t_rows in t1.items():
        out[f"table1_{rd}_{x}"] = (["row", "paper KL", "our KL", "paper active", "our active (v1)",
                                    "our active (Burda)", "seeds", "verdict"],
                                   [(t["row"], t["paper_kl"], t["kl"], t["paper_active"], t["active_paper"],
                                     t["active_burda"], t["seeds"], t["verdict"]) for t in t_rows])
    if ab:
        out["appendix_b"] = (["method", "reading", "x̂", "seeds", "KL", "active (v1) of 48", "active (Burda) of 48",
                              "−ELBO", "own-centre share f(z)"],
                             [(f["method"], f["reading"], f["xhat"] if f["method"] != "vanilla" else "-", f["seeds"],
                               f["kl"], f["active_paper"], f["active_burda"], f"{f['neg_elbo']:.3f}", f["share_sample"])
                              for f in final_metrics_rows(ab)])
    return out


def sentences(p: Params, cons: list, finals: list, info: Information, sep: Separation, eps: EpsilonStage, t1: dict,
              ab: list) -> tuple[dict, list]:
    """The chapter's computed sentences: ``(texts, findings)``, texts by name, the findings in order."""
    paper = PAPER_TABLE1_SYNTHETIC
    texts = {
        "profile": f"`{p.profile}`",
        "paper_hct_kl": " / ".join(f"{v['kl']:g}" for k, v in paper.items() if k.startswith("Ours")),
        "paper_vanilla_kl": f"{paper['Vanilla VAE']['kl']:g}",
        "r0_24_error": r0_24_error(),
        "ref_kl": ", ".join(f"{_fmt(v, 2)} nats on {ds}" for ds, v in sep.ref_kl.items()),
        "distance_verdict": (
            f"grew over training in {sep.grew_collapsed} run(s) that ended collapsed (KL < 0.01): a growing distance "
            "to one collapsed model does not show that a model avoids collapse" if sep.grew_collapsed else
            "grew only in runs that did not collapse: on these runs it does separate"),
        "eps_verdict": (f"In {eps.contradictions} of {eps.n_hct} HCT runs the theorem's condition ε_T < δ holds and "
                        "the model has collapsed all the same: the trained counterpart of chapter 02's finding."
                        if eps.contradictions else f"No HCT run ({eps.n_hct} in all) collapsed while ε_T < δ held."),
    }
    for (rd, x), rows in t1.items():
        reproduced = sum(t["verdict"] == "reproduced" for t in rows)
        texts[f"table1_{rd}_{x}"] = f"**{rd} reading, x̂ {x}** ({reproduced} of {len(rows)} rows reproduced)"

    by = {(f["dataset"], f["method"], f["reading"], f["xhat"]): f for f in finals}
    findings = []
    for ds in p.datasets:
        parts = []
        for x in p.xhats:
            kls = ", ".join(f"{_label(m, rd)} {_fmt(by[(ds, m, rd if m != 'vanilla' else '-', x)]['kl'])}"
                            for m, rd in METHOD_READINGS)
            parts.append(f"x̂ {x}: {kls}")
        findings.append(f"Final KL on {ds} (nats, mean over seeds) at σ'² = {p.sigma2_ratio:g}·λ_max — "
                        + "; ".join(parts) + ".")
    for c in cons:
        findings.append(f"{c['dataset']}, {c['reading'].replace('_', '-')} reading, x̂ {c['xhat']}: "
                        f"{SOURCE_TEXT[c['source']]} (HCT {_fmt(c['kl_hct'])} nats, single {_fmt(c['kl_single'])}, "
                        f"difference {_fmt(c['diff'])} ± {_fmt(c['diff_se'])} se); the negative ELBO paid against "
                        f"vanilla: {_fmt(c['elbo_paid_hct'])} nats for HCT, {_fmt(c['elbo_paid_single'])} for single.")
    findings.append(f"The information check: in {info.mean_loophole} of {info.n_final} final models the "
                    "posterior-mean reconstructions land on their own centres more often than the KL allows any "
                    "reconstruction drawn through the code to (the mean-decode loophole); the sampled-decode share "
                    f"broke the bound in {info.sample_violations} (it cannot, up to its Monte Carlo error).")
    findings.append(f"Theorem 4.4's condition ε_T < δ held while the model collapsed in {eps.contradictions} of "
                    f"{eps.n_hct} HCT runs.")
    for (rd, x), all_rows in t1.items():
        for ds in dict.fromkeys(t["dataset"] for t in all_rows):
            rows = [t for t in all_rows if t["dataset"] == ds]
            where = "" if ds == "synthetic" else f" beside {ds}"
            findings.append(f"v1 Table 1 (synthetic){where}, {rd.replace('_', '-')} reading, x̂ {x}: "
                            + " / ".join(t["verdict"] for t in rows[1:]) + " for the pre-refinement / "
                            f"post-refinement / final rows; vanilla: {rows[0]['verdict']} (paper "
                            f"{rows[0]['paper_kl']:g}, ours {_fmt(rows[0]['kl'])}).")
    findings.append(f"The parameter distance to the collapsed reference grew in {sep.grew_collapsed} run(s) that "
                    "ended collapsed.")
    if ab:
        rows_b = final_metrics_rows(ab)
        most = max(rows_b, key=lambda f: f["active_paper"])
        findings.append(f"With v1 Appendix B's MLP (48 latents) at the ablation scale, at most "
                        f"{_fmt(most['active_paper'])} of 48 units stay active by v1's criterion "
                        f"({_label(most['method'], most['reading'], most['xhat'])}), beside v1's "
                        f"{PAPER_ACTIVE_OF_48[0]}–{PAPER_ACTIVE_OF_48[1]}; largest final KL "
                        f"{_fmt(max(f['kl'] for f in rows_b))} nats.")
    return texts, findings


def compute(p: Params, store=None, progress: bool | None = None) -> HCTChapter:
    """The chapter, step by step as its page shows it."""
    results = stored_runs(p, store, progress)
    setting, traj, meth = settings(p, results), trajectories(p, results), methods(p, results)
    mem, cons, finals = memory(results), consensus(p, results), final_models(results)
    info, sep, eps, t1 = information(p, results), separation(p, results), epsilon_stage(p, results), table1(p, results)
    ab, im = appendix_b(p, store, progress), image_runs(p, store, progress)
    table = {**tables(p, setting, mem, cons, finals, sep, eps, t1, ab), **image_tables(im)}
    texts, findings = sentences(p, cons, finals, info, sep, eps, t1, ab)
    return HCTChapter(p, results, traj, meth, mem, cons, finals, info, sep, eps, t1, ab, im, table, texts,
                      findings + image_findings(p, im))


# ---- the ledger's rows -------------------------------------------------------------------------------------------


def _readings(ch: HCTChapter):
    return [(rd, x) for rd in READINGS for x in ch.params.xhats]


def _reading_name(rd: str, x: str) -> str:
    return f"{rd}, x̂ {x}"


def _table1_measure(index: int):
    def measure(profile: str) -> Measurement:
        ch = chapter(profile)
        if not ch.table1:
            return Measurement("the synthetic data were not run", "not testable here")
        verdicts, parts, notes = {}, [], []
        for rd, x in _readings(ch):
            row = ch.table1[(rd, x)][index]
            v = row["verdict"]
            verdicts[_reading_name(rd, x)] = ("not comparable" if v.startswith("not comparable") else
                                              "reproduced" if v == "reproduced" else "not reproduced")
            parts.append(f"{_reading_name(rd, x)}: KL {_fmt(row['kl'])} ({v})")
            notes += [f"{_reading_name(rd, x)}: {n}" for n in row["margins"]]
        if index == 0:  # vanilla trains the same under every reading
            first = ch.table1[_readings(ch)[0]][0]
            v = verdicts[_reading_name(*_readings(ch)[0])]
            return Measurement(f"KL {_fmt(first['kl'])} ({first['verdict']})", v, margins=tuple(first["margins"]))
        return Measurement("; ".join(parts), combine(verdicts), verdicts, margins=tuple(notes))
    return measure


def _memory(profile: str) -> Measurement:
    ch = chapter(profile)
    verdicts, parts = {}, []
    for rd, x in _readings(ch):
        mems = [discarded_memory(r["record"]) for r in ch.results if run_key(r)[1:] == ("hct", rd, x)]
        kept = sum(m["dropped_at_end"] <= m["dropped_at_drop"] for m in mems)
        verdicts[_reading_name(rd, x)] = "reproduced" if kept == len(mems) else "not reproduced"
        parts.append(f"{_reading_name(rd, x)}: ℓ_C of round-0 discards did not rise in {kept} of {len(mems)} runs")
    return Measurement("; ".join(parts), combine(verdicts), verdicts)


def _separation(profile: str) -> Measurement:
    ch = chapter(profile)
    verdicts, parts = {}, []
    for rd, x in _readings(ch):
        hct = [r for r in ch.results if run_key(r)[1:] == ("hct", rd, x)]
        grew = sum(distance_trend(r["record"])["grew"] for r in hct)
        verdicts[_reading_name(rd, x)] = "reproduced" if grew == len(hct) and not ch.separation.grew_collapsed else "not reproduced"
        parts.append(f"{_reading_name(rd, x)}: grew in {grew} of {len(hct)}")
    return Measurement("; ".join(parts) + f"; it also grew in {ch.separation.grew_collapsed} run(s) that ended collapsed",
                       combine(verdicts), verdicts)


def _theorem_in_training(profile: str) -> Measurement:
    ch = chapter(profile)
    verdicts, parts = {}, []
    for rd, x in _readings(ch):
        hct = [r for r in ch.results if run_key(r)[1:] == ("hct", rd, x)]
        bad = sum(bool(r["epsilon_t_below_delta"]) and r["metrics"]["kl"] < COLLAPSE_KL for r in hct)
        verdicts[_reading_name(rd, x)] = "not reproduced" if bad else "reproduced"
        parts.append(f"{_reading_name(rd, x)}: {bad} of {len(hct)}")
    return Measurement("ε_T < δ and yet collapsed (KL < 0.01) — " + "; ".join(parts), combine(verdicts), verdicts)


def _consensus(profile: str) -> Measurement:
    ch = chapter(profile)
    verdicts, parts = {}, []
    for c in [*ch.consensus, *ch.images.consensus]:
        name = f"{c['dataset']}, {_reading_name(c['reading'], c['xhat'])}"
        verdicts[name] = "reproduced" if resolved_gain(c["kl_hct"], c["diff"], c["diff_se"]) else "not reproduced"
        parts.append(f"{name}: HCT − single = {_fmt(c['diff'])} nats ({c['source']})")
    return Measurement("; ".join(parts), combine(verdicts), verdicts)


def _claims() -> list[Claim]:
    """Chapter 04's rows of the claims ledger; each is measured from :data:`chapter` in the given profile."""
    return [
        Claim("table1-vanilla", "v1", "Table 1, Synthetic", "KL of a vanilla VAE at σ'² = 2λ_max", "0.32",
              "synthetic, 50,000 samples, averaged over runs", "within a factor 2 and on the same side of 0.01; "
              "not comparable unless the run's setting is the paper's", CHAPTER, _table1_measure(0)),
        Claim("table1-pre", "v1", "Table 1, Synthetic", "KL of HCT before refinement", "2.67", "σ'² = 2λ_max",
              "within a factor 2 and on the same side of 0.01", CHAPTER, _table1_measure(1)),
        Claim("table1-post", "v1", "Table 1, Synthetic", "KL of HCT after refinement", "2.59", "σ'² = 2λ_max",
              "within a factor 2 and on the same side of 0.01", CHAPTER, _table1_measure(2)),
        Claim("table1-final", "v1", "Table 1, Synthetic", "KL after final single-clustering training", "2.64",
              "σ'² = 2λ_max", "within a factor 2 and on the same side of 0.01", CHAPTER, _table1_measure(3)),
        Claim("hct-consensus", "v1", "§4.2-4.3", "what consensus over many clusterings adds over one clustering",
              "the historical barrier of many clusterings prevents collapse", "HCT against the single-clustering "
              "control under the same reading and x̂, paired by seed",
              "HCT's final KL > 0.01 and exceeds single's by more than 10 % of it and 2 standard errors", CHAPTER,
              _consensus),
        Claim("figure2-memory", "v1", "§5.3, Figure 2 left", "ℓ_C on clusterings discarded in round 0", "remains low",
              "HCT runs", "their ℓ_C at the end is no higher than when they were dropped, in every run", CHAPTER, _memory),
        Claim("figure2-separation", "v1", "§5.3, Figure 2 right", "parameter distance to a model at σ'² = 10λ_max",
              "increases, confirming separation from collapse", "HCT runs",
              "it grows in every HCT run and in no run that ends collapsed", CHAPTER, _separation),
        Claim("theorem-4.4-training", "v1", "Theorem 4.4", "collapse when ε_T < δ", "excluded", "HCT runs",
              "no HCT run has ε_T < δ and final KL < 0.01", CHAPTER, _theorem_in_training),
    ]


# The chapter: chapter(profile, **params) -> HCTChapter, cached per process; its ledger rows and the stored runs
# they read
chapter = Chapter(Params, compute, claims=_claims, runs=lambda ch: [*ch.results, *ch.appendix_b, *ch.images.results])
claims, runs = chapter.claims, chapter.runs

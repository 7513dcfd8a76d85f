"""Chapter 01, the phase transition (v1 §3.2; Li et al.): the sweep's tables, the measured threshold, the trained
linear VAE against its closed form, and the chapter's ledger rows.

:data:`chapter` is the single source of every number the chapter shows (:class:`PhaseChapter`), computed by the
named steps its page calls in the same order (:func:`compute`); :func:`claims` are its rows of the claims ledger,
measured from the same result; :func:`runs` the stored results they read."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np

from hcvae.chapters.numbers import and_list, fmt
from hcvae.chapters.base import Chapter, Parameters, parameter
from hcvae.core.models import MLP_ARCHITECTURES
from hcvae.chapters import user_sets
from hcvae.chapters.user_sets import check_sizes, datasets_parameter, resolve_params
from hcvae.chapters.ledger import Claim, Measurement
from hcvae.chapters.rules import COLLAPSE_KL, margins
from hcvae.core.data import load_dataset
from hcvae.core.theory import linear_vae_kl_curve, linear_vae_optimum
from hcvae.core.validation import Integer, ListOf, Options, Real
from hcvae.runs import experiments, runner
from hcvae.runs.experiments import VAEConfig
from hcvae.runs.profiles import IMAGE_SETS, profile_settings
from hcvae.runs.store import ResultStore
from hcvae.runs.views import vae_views

CHAPTER = "01-phase-transition"


# ---- the analyses, on stored results ------------------------------------------------------------------------


def sweep_table(results: list[dict]) -> dict:
    """Group sweep results by (dataset, architecture) and ratio.

    Returns {(dataset, architecture): {"ratio": array, "kl_mean", "kl_std", "kl_runs"
    (list of per-seed arrays), "active_burda_mean", "active_paper_mean",
    "neg_elbo_mean", "mse_mean", "lambda_max", "n_seeds"}} with ratios ascending.
    """
    groups: dict = defaultdict(lambda: defaultdict(list))
    lam = {}
    for res in results:
        cfg = res["config"]
        key = (cfg["dataset"], cfg["architecture"])
        groups[key][cfg["sigma2_ratio"]].append(res["metrics"])
        lam[key] = res["data"]["lambda_max"]
    table = {}
    for key, by_ratio in groups.items():
        ratios = np.array(sorted(by_ratio))
        def stat(name, fn):
            return np.array([fn([m[name] for m in by_ratio[r]]) for r in ratios])
        table[key] = {
            "ratio": ratios,
            "kl_mean": stat("kl", np.mean),
            "kl_std": stat("kl", np.std),
            "kl_runs": [np.array([m["kl"] for m in by_ratio[r]]) for r in ratios],
            "active_burda_mean": stat("active_burda", np.mean),
            "active_paper_mean": stat("active_paper", np.mean),
            "neg_elbo_mean": stat("neg_elbo", np.mean),
            "mse_mean": stat("mse", np.mean),
            "mi_mean": stat("mutual_information", np.mean),
            "lambda_max": lam[key],
            "n_seeds": min(len(v) for v in by_ratio.values()),
        }
    return table


THRESHOLD_VERDICTS = {
    "consistent": "consistent with σ'² = λ_max",
    "early": "collapses below λ_max (earlier than predicted)",
    "late": "KL survives above λ_max (later than predicted)",
    "never": "no collapse anywhere on the grid",
}


def measured_threshold(ratios, kl, kl_bound: float = COLLAPSE_KL) -> dict:
    """Bracket the measured collapse threshold on the ratio grid.

    ``upper``: the smallest ratio from which every larger ratio has KL < kl_bound;
    ``lower``: the grid point just below it (the largest ratio still above the
    bound), or None if even the smallest ratio collapsed. The theory (Li et al.)
    predicts a transition at ratio 1, i.e. ``lower < 1 <= upper``; ``verdict`` is
    "consistent", "early" (upper < 1), "late" (lower >= 1) or "never" (no ratio
    collapsed), with a sentence for each in ``THRESHOLD_VERDICTS``.
    """
    ratios, kl = np.asarray(ratios, float), np.asarray(kl, float)
    order = np.argsort(ratios)
    ratios, kl = ratios[order], kl[order]
    collapsed = kl < kl_bound
    i = len(ratios)  # walk down from the largest ratio while runs stay collapsed
    while i > 0 and collapsed[i - 1]:
        i -= 1
    upper = float(ratios[i]) if i < len(ratios) else None
    lower = float(ratios[i - 1]) if i > 0 else None
    if upper is None:
        verdict = "never"
    elif upper < 1.0:
        verdict = "early"
    elif lower is not None and lower >= 1.0:
        verdict = "late"
    else:
        verdict = "consistent"
    return {"lower": lower, "upper": upper, "kl_bound": kl_bound, "verdict": verdict,
            "consistent_with_theory": verdict == "consistent"}


def linear_vs_closed_form(result: dict) -> dict:
    """Per-latent-dimension statistics of a trained linear VAE beside the closed form.

    The optimum is identified only up to a permutation (and sign) of latent
    dimensions, so both sides are sorted, largest first.
    """
    m = result["metrics"]
    theory = linear_vae_optimum(result["data"]["spectrum"], result["sigma2_decoder"], result["config"]["latent_dim"])
    trained = {
        "var_mean": np.sort(m["var_mean_per_dim"])[::-1],
        "posterior_var": np.sort(m["posterior_var_per_dim"]),
        "kl_per_dim": np.sort(m["kl_per_dim"])[::-1],
    }
    return {
        "trained": trained,
        "theory": {k: np.asarray(theory[k]) for k in ("var_mean", "posterior_var", "kl_per_dim", "eigenvalue")},
        "kl_trained": float(m["kl"]),
        "kl_theory": theory["kl"],
        "active_trained": int(m["active_burda"]),
        "active_theory": theory["active_units"],
        "max_abs_error": {k: float(np.max(np.abs(trained[k] - theory[k]))) for k in trained},
    }


def closed_form_agreement(results: list[dict], kl_atol: float, kl_rtol: float) -> dict:
    """Does every trained linear VAE's total KL lie within kl_atol + kl_rtol * KL_theory of the closed form?"""
    rows = []
    for res in results:
        if res["config"]["architecture"] != "linear":
            continue
        cmp = linear_vs_closed_form(res)
        err = abs(cmp["kl_trained"] - cmp["kl_theory"])
        rows.append({
            "dataset": res["config"]["dataset"], "ratio": res["config"]["sigma2_ratio"], "seed": res["config"]["seed"],
            "kl_trained": cmp["kl_trained"], "kl_theory": cmp["kl_theory"], "abs_error": err,
            "within": err <= kl_atol + kl_rtol * cmp["kl_theory"],
        })
    if not rows:
        raise ValueError("no linear-VAE results to compare with the closed form")
    return {"rows": rows, "all_within": all(r["within"] for r in rows),
            "max_abs_error": max(r["abs_error"] for r in rows), "kl_atol": kl_atol, "kl_rtol": kl_rtol}


def mlp_vs_linear_below(table: dict, dataset: str) -> dict:
    """At ratios below 1: on how many does the MLP VAE's mean KL exceed the linear VAE's?"""
    mlp, lin = table[(dataset, "mlp")], table[(dataset, "linear")]
    common = [r for r in mlp["ratio"] if r < 1.0 and r in set(lin["ratio"])]
    kl_m = {r: k for r, k in zip(mlp["ratio"], mlp["kl_mean"])}
    kl_l = {r: k for r, k in zip(lin["ratio"], lin["kl_mean"])}
    more = [r for r in common if kl_m[r] > kl_l[r]]
    return {"n_ratios": len(common), "n_mlp_more": len(more), "ratios": common}


def longer_training_configs(profile: str, thresholds: dict, epochs_factor: int, seeds) -> list:
    """Configs that retrain, ``epochs_factor`` times longer, every (data set, model) that collapsed
    below lambda_max, at its first collapsed ratio: is the early collapse a matter of training time?
    """
    if int(epochs_factor) != epochs_factor or epochs_factor < 2:
        raise ValueError(f"epochs_factor must be an integer >= 2; got {epochs_factor!r}")
    configs = []
    for (ds, arch), th in sorted(thresholds.items()):
        if th["verdict"] != "early":
            continue
        base = VAEConfig.from_profile(profile, ds, architecture=arch)
        configs += [VAEConfig.from_profile(profile, ds, architecture=arch, sigma2_ratio=th["upper"], seed=int(s),
                                           epochs=int(epochs_factor) * base.epochs) for s in seeds]
    return configs


PROBE_HEADER = ["data", "model", "ratio", "seed", "epochs", "KL", "closed-form KL", "outcome"]


def longer_training_rows(results: list[dict], kl_bound: float = COLLAPSE_KL) -> list[tuple]:
    """One row per longer run (see :data:`PROBE_HEADER`): did it leave collapse?"""
    rows = []
    for r in results:
        c = r["config"]
        outcome = "escaped collapse" if r["metrics"]["kl"] >= kl_bound else "still collapsed"
        rows.append((c["dataset"], c["architecture"], c["sigma2_ratio"], c["seed"], c["epochs"],
                     r["metrics"]["kl"], linear_vae_optimum(r["data"]["spectrum"], r["sigma2_decoder"], c["latent_dim"])["kl"],
                     outcome))
    return rows


# ---- the chapter's parameters and result ----------------------------------------------------------------------


@dataclass(frozen=True)
class Params(Parameters):
    """Chapter 01's parameters (its notebook's ``parameters`` cell holds the same defaults)."""

    PAGE = CHAPTER
    IMAGE_SETTING = ("phase_images", "datasets")

    seed: int = parameter(0, Integer(0), "first training seed; the profile sets how many follow it")
    datasets: list = datasets_parameter()
    kl_bound: float = parameter(COLLAPSE_KL, Real(0.0), "the collapse bound in nats; v1 §5.2 calls D_KL < 0.01 "
                                "complete collapse")
    above_ratio: float = parameter(1.5, Real(0.0), "every run at this sigma'^2 / lambda_max or above must stay under "
                                   "kl_bound")
    kl_atol: float = parameter(0.05, Real(0.0, strict=False), "linear VAE vs closed form: the allowed KL error is "
                               "kl_atol + kl_rtol * KL_theory (nats)")
    kl_rtol: float = parameter(0.05, Real(0.0, strict=False), "the closed-form tolerance, relative")
    probe_epochs_factor: int = parameter(4, Integer(1), "retrain early-collapsing models this many times longer")
    image_datasets: list | None = parameter(None, ListOf(Options(*IMAGE_SETS), empty=True, none="the profile's"),
                                            "the papers' image sets of the section on them (None: the profile's)")

    def __post_init__(self):  # a file too small for a batch is refused before any work; files become names
        settings = profile_settings(self.profile)
        check_sizes(self.datasets, [settings[("user", arch)]["batch_size"] for arch in MLP_ARCHITECTURES])
        resolve_params(self)

    @property
    def seeds(self) -> list:
        """The training seeds: ``seed`` and as many after it as the profile runs."""
        return [self.seed + i for i in range(len(profile_settings(self.profile)["seeds"]))]

    @property
    def image_seeds(self) -> list:
        """The image section's seeds: the first of :attr:`seeds`, as many as the profile's ``phase_images`` says."""
        return self.seeds[:profile_settings(self.profile)["phase_images"]["n_seeds"]]



@dataclass
class Sweep:
    """The sweep's stored runs (data set x model x ratio x seed) and what is read straight off them."""

    configs: list  # VAEConfig, in run order
    results: list  # the stored results, in the same order
    table: dict  # (data set, architecture) -> the sweep's means per ratio (sweep_table)
    spectra: dict  # data set -> covariance spectrum (largest first)

    @property
    def latent_dim(self) -> int:
        return self.configs[0].latent_dim


@dataclass
class Probes:
    """The early collapses retrained longer (:func:`longer_training_configs`), one row each (:data:`PROBE_HEADER`)."""

    configs: list
    results: list
    rows: list

    @property
    def n_escaped(self) -> int:
        return sum(row[-1] == "escaped collapse" for row in self.rows)


@dataclass
class Above:
    """The runs at or above the chapter's ``above_ratio``: how many, their largest KL, how many kept KL >= bound."""

    n_runs: int
    max_kl: float
    n_kept: int


@dataclass
class ImageSweep:
    """The section on the papers' image sets: both models over the sweep's ratios, on the image seeds."""

    datasets: list
    configs: list
    results: list
    table: dict  # sweep_table of the image runs
    spectra: dict  # data set -> covariance spectrum of what its runs trained on
    thresholds: dict  # (data set, architecture) -> measured_threshold
    agreement: dict | None  # closed_form_agreement of the linear runs (None without an image set)
    above: Above


@dataclass
class PhaseChapter:
    """Everything chapter 01 shows, computed once from the stored runs, in the sections its page explains."""

    params: Params
    sweep: Sweep
    thresholds: dict  # (data set, architecture) -> measured_threshold
    probes: Probes
    above: Above
    agreement: dict  # closed_form_agreement at the chapter's tolerances
    below: dict  # data set -> mlp_vs_linear_below
    views: dict  # result key -> the run's decoder views (hcvae.runs.views), or None
    images: ImageSweep  # the section on the papers' image sets
    tables: dict  # name -> (header, rows)
    numbers: dict  # name -> a number the prose quotes (and formats)
    texts: dict  # name -> sentence
    findings: dict  # name -> sentence

    @property
    def n_views(self) -> int:
        return sum(v is not None for v in self.views.values())

    @property
    def n_consistent(self) -> int:
        return sum(th["consistent_with_theory"] for th in self.thresholds.values())

    @property
    def n_outside(self) -> int:
        return sum(not r["within"] for r in self.agreement["rows"])


# ---- the chapter's steps, in the order its page calls them -------------------------------------------------------


def image_configs(p: Params) -> list[VAEConfig]:
    """The runs of the section on the image sets: each set x MLP and linear x the profile's ratios x image seeds."""
    return experiments.phase_sweep_configs(p.profile, datasets=tuple(p.images), seeds=p.image_seeds)


def sweep_runs(p: Params, store=None, progress: bool | None = None) -> tuple[list, list]:
    """The sweep's configs (data set x MLP and linear x the profile's ratios x seeds) and their stored results: read
    from the store or the reference, trained if neither has them. The image section's runs are checked first, so
    that one neither stored nor computable (its prepared file absent) stops the chapter before any work."""
    store = store if store is not None else ResultStore()
    user_sets.check_image_runs(image_configs(p), store)
    configs = experiments.phase_sweep_configs(p.profile, datasets=tuple(p.datasets), seeds=p.seeds)
    return configs, runner.run_all(configs, store=store, progress=progress)


def synthetic_design() -> dict:
    """What the synthetic mixture is made of (v1 §5.1.1 and our choices): its generator's settings."""
    meta = load_dataset("synthetic").meta
    return {key: meta[key] for key in ("n_samples", "n_components", "dim", "mean_scale", "variance_floor",
                                       "variance_threshold")}


def spectra(results: list, datasets) -> dict:
    """Data set -> the covariance spectrum its runs were trained on (largest eigenvalue first)."""
    return {ds: np.asarray(next(r for r in results if r["config"]["dataset"] == ds)["data"]["spectrum"])
            for ds in datasets}


def thresholds(table: dict, kl_bound: float) -> dict:
    """(data set, architecture) -> the measured collapse threshold of its mean KL (:func:`measured_threshold`)."""
    return {key: measured_threshold(row["ratio"], row["kl_mean"], kl_bound) for key, row in table.items()}


def probes(p: Params, thresholds: dict, store=None, progress: bool | None = None) -> Probes:
    """Every (data set, model) that collapsed below λ_max, retrained ``probe_epochs_factor`` times longer at its first
    collapsed ratio: did it leave collapse?"""
    configs = longer_training_configs(p.profile, thresholds, p.probe_epochs_factor, p.seeds)
    results = runner.run_all(configs, store=store, progress=progress)
    return Probes(configs, results, longer_training_rows(results, p.kl_bound))


def above_threshold(results: list, above_ratio: float, kl_bound: float) -> Above:
    """The runs at σ'²/λ_max >= ``above_ratio``: their number, largest KL and how many stay at or above the bound."""
    above = [r for r in results if r["config"]["sigma2_ratio"] >= above_ratio]
    return Above(len(above), max((r["metrics"]["kl"] for r in above), default=float("nan")),
                 sum(r["metrics"]["kl"] >= kl_bound for r in above))


def mlp_vs_linear(table: dict, datasets) -> dict:
    """Data set -> :func:`mlp_vs_linear_below`."""
    return {ds: mlp_vs_linear_below(table, ds) for ds in datasets}


def decoder_views(configs: list, results: list, store=None) -> dict:
    """Result key -> the run's decoder views (reconstructions, latent traversal), or None where the store holds
    neither them nor the run's weights (:func:`hcvae.runs.views.vae_views`)."""
    return {r["key"]: vae_views(c, store) for c, r in zip(configs, results)}


def image_sweep(p: Params, store=None, progress: bool | None = None) -> ImageSweep:
    """The section on the image sets: their stored runs (read from the reference, or trained where the prepared files
    are present) and what the sweep's own analyses read off them."""
    configs = image_configs(p)
    results = runner.run_all(configs, store=store, progress=progress)
    table = sweep_table(results)
    has_linear = any(r["config"]["architecture"] == "linear" for r in results)
    return ImageSweep(list(p.images), configs, results, table, spectra(results, p.images), thresholds(table, p.kl_bound),
                      closed_form_agreement(results, p.kl_atol, p.kl_rtol) if has_linear else None,
                      above_threshold(results, p.above_ratio, p.kl_bound))


THRESHOLD_HEADER = ["data", "model", "last ratio with KL ≥ bound", "closed-form KL there", "collapsed from ratio",
                    "verdict"]


def _threshold_rows(thresholds: dict, spectra: dict, latent_dim: int) -> list:
    rows = []
    for (ds, arch), th in sorted(thresholds.items()):
        kl_linear = (None if th["lower"] is None
                     else float(linear_vae_kl_curve(spectra[ds], th["lower"] * spectra[ds][0], latent_dim)))
        rows.append((ds, arch, th["lower"], kl_linear, th["upper"], THRESHOLD_VERDICTS[th["verdict"]]))
    return rows


def tables(thresholds: dict, spectra: dict, latent_dim: int, probes: Probes) -> dict:
    """The chapter's tables, (header, rows) each: the measured thresholds, and the longer retraining."""
    return {"threshold": (THRESHOLD_HEADER, _threshold_rows(thresholds, spectra, latent_dim)),
            "probe": (PROBE_HEADER, probes.rows)}


def image_tables(im: ImageSweep) -> dict:
    """The image section's tables (none without an image set): each set's data and λ_max, the measured thresholds,
    and the linear VAE against its closed form per set."""
    if not im.results:
        return {}
    data = {r["config"]["dataset"]: r["data"] for r in im.results}
    latent_dim = im.configs[0].latent_dim
    closed = [(ds, sum(r["dataset"] == ds for r in im.agreement["rows"]),
               sum(r["within"] for r in im.agreement["rows"] if r["dataset"] == ds),
               max(r["abs_error"] for r in im.agreement["rows"] if r["dataset"] == ds))
              for ds in im.datasets] if im.agreement else []
    return {
        "image_lambda": (["data", "images", "pixels", "λ_max", "λ_2", "closed-form active units at σ'² = λ_max/2"],
                         [(ds, data[ds]["n"], data[ds]["dim"], float(im.spectra[ds][0]), float(im.spectra[ds][1]),
                           linear_vae_optimum(im.spectra[ds], 0.5 * im.spectra[ds][0], latent_dim)["active_units"])
                          for ds in im.datasets]),
        "image_threshold": (THRESHOLD_HEADER, _threshold_rows(im.thresholds, im.spectra, latent_dim)),
        "image_closed_form": (["data", "linear runs", "within tolerance", "largest |KL − KL*| (nats)"], closed),
    }


def image_findings(p: Params, im: ImageSweep) -> list:
    """One sentence per image set: where each model's KL vanishes, and whether the linear VAE met its closed form."""
    out = []
    for ds in im.datasets:
        brackets = "; ".join(
            f"the {arch} VAE's between {fmt(th['lower'])} and {fmt(th['upper'])}·λ_max "
            f"({THRESHOLD_VERDICTS[th['verdict']]})" if th["lower"] is not None and th["upper"] is not None else
            f"the {arch} VAE: {THRESHOLD_VERDICTS[th['verdict']]}"
            for (d, arch), th in sorted(im.thresholds.items()) if d == ds)
        rows = [r for r in (im.agreement or {"rows": []})["rows"] if r["dataset"] == ds]
        n_in = sum(r["within"] for r in rows)
        seeds = len(p.image_seeds)
        out.append(f"On {ds} (λ_max = {fmt(float(im.spectra[ds][0]))}, {seeds} seed{'s' if seeds > 1 else ''}), "
                   f"KL vanishes on the grid: {brackets}. The linear VAE lands within the closed-form tolerance in "
                   f"{n_in} of {len(rows)} runs" + ("." if n_in == len(rows) else
                                                     f" (largest miss {fmt(max(r['abs_error'] for r in rows))} nats)."))
    return out


def quoted_numbers(p: Params, design: dict, spectra: dict, above: Above, agreement: dict) -> dict:
    """The numbers the page's prose quotes, each formatted where it is quoted."""
    return {
        "n_seeds": len(p.seeds), "kl_bound": p.kl_bound, "probe_epochs_factor": p.probe_epochs_factor,
        "above_ratio": p.above_ratio, "kl_atol": p.kl_atol, "kl_rtol": p.kl_rtol,
        **{f"syn_{name}": design[key] for name, key in [
            ("n", "n_samples"), ("k", "n_components"), ("dim", "dim"), ("mean_scale", "mean_scale"),
            ("var_floor", "variance_floor"), ("var_threshold", "variance_threshold")]},
        **{f"lambda_max_{ds}": float(s[0]) for ds, s in spectra.items()},
        **{f"lambda_2_{ds}": float(s[1]) for ds, s in spectra.items()},
        "n_above": above.n_runs, "max_kl_above": above.max_kl,
        "closed_form_max_error": agreement["max_abs_error"], "closed_form_n": len(agreement["rows"]),
    }


def sentences(p: Params, thresholds: dict, probes: Probes, above: Above, agreement: dict,
              below: dict) -> tuple[dict, dict]:
    """The chapter's computed sentences: ``(texts, findings)``, each name -> Markdown."""
    n_consistent = sum(th["consistent_with_theory"] for th in thresholds.values())
    n_outside = sum(not r["within"] for r in agreement["rows"])
    texts = {
        "profile": f"`{p.profile}`",
        "probe_summary": (f"{probes.n_escaped} of {len(probes.rows)} longer runs end above the collapse bound."
                          if probes.results else
                          "No pair collapsed below λ_max on this profile's grid, so there is nothing to retrain."),
        "above_verdict": (f"all of them end with KL below {p.kl_bound:g} nats, as the theory predicts"
                          if not above.n_kept else
                          f"{above.n_kept} of them end with KL at or above {p.kl_bound:g} nats, against the theory's "
                          "prediction: **not reproduced**"),
        "closed_form_verdict": ("inside" if not n_outside else f"**outside** (in {n_outside} run(s); the training "
                                "loop did not reach the optimum there)"),
    }
    findings = {
        "threshold": (f"The collapse threshold σ'² = λ_max is reproduced in {n_consistent} of {len(thresholds)} "
                      "(data set, model) pairs: the measured bracket contains ratio 1 "
                      + ("in every one." if n_consistent == len(thresholds) else
                         "only where the table above says so.")
                      + " A grid can only place the transition between two of its points."),
        "probe": (f"Retrained {p.probe_epochs_factor} times longer, {probes.n_escaped} of {len(probes.rows)} "
                  "early-collapsed runs left collapse." if probes.rows else
                  "No model collapsed below λ_max, so no longer retraining was needed."),
        "closed_form": ("The linear VAE reaches the closed form of Lucas et al. in every run, within the stated "
                        "tolerance." if agreement["all_within"] else
                        "The linear VAE misses its closed form in some runs."),
        "mlp": " ".join(f"On {ds}, the MLP VAE's mean KL exceeds the linear VAE's at {b['n_mlp_more']} of the "
                        f"{b['n_ratios']} ratios below 1." for ds, b in below.items())
               + f" At σ'²/λ_max ≥ {p.above_ratio:g} "
               + ("every run of both models has collapsed." if not above.n_kept else
                  f"{above.n_kept} run(s) have not collapsed."),
    }
    return texts, findings


def compute(p: Params, store=None, progress: bool | None = None) -> PhaseChapter:
    """The chapter, step by step as its page shows it."""
    configs, results = sweep_runs(p, store, progress)
    design, spectra_ = synthetic_design(), spectra(results, p.datasets)
    sweep = Sweep(configs, results, sweep_table(results), spectra_)
    thresholds_ = thresholds(sweep.table, p.kl_bound)
    probes_ = probes(p, thresholds_, store, progress)
    above = above_threshold(results, p.above_ratio, p.kl_bound)
    agreement = closed_form_agreement(results, p.kl_atol, p.kl_rtol)
    below = mlp_vs_linear(sweep.table, p.datasets)
    views = decoder_views(configs, results, store)
    im = image_sweep(p, store, progress)
    table = {**tables(thresholds_, spectra_, sweep.latent_dim, probes_), **image_tables(im)}
    numbers = quoted_numbers(p, design, spectra_, above, agreement)
    texts, findings = sentences(p, thresholds_, probes_, above, agreement, below)
    findings["images"] = " ".join(image_findings(p, im)) or "No image set in this build."
    return PhaseChapter(p, sweep, thresholds_, probes_, above, agreement, below, views, im, table, numbers, texts,
                        findings)


# ---- the ledger's rows ------------------------------------------------------------------------------------------


def _threshold(profile: str):
    ch = chapter(profile)  # the sweep's (data set, model) settings, and the image section's
    every, table = {**ch.thresholds, **ch.images.thresholds}, {**ch.sweep.table, **ch.images.table}
    parts = [f"{ds} {arch}: ({th['lower']}, {th['upper']}] {THRESHOLD_VERDICTS[th['verdict']]}"
             for (ds, arch), th in sorted(every.items())]
    ok = all(th["verdict"] == "consistent" for th in every.values())
    notes = tuple(f"{ds} {arch}, ratio {r:g}: {n}" for (ds, arch), row in sorted(table.items())
                  for r, kl in zip(row["ratio"], row["kl_mean"]) for n in margins(float(kl), what="mean KL"))
    brackets = Counter((th["lower"], th["upper"]) for th in every.values())
    n_ok = sum(th["verdict"] == "consistent" for th in every.values())
    # the most common bracket by its count, the others by the settings they hold, so each bracket says where it is
    common, _ = brackets.most_common(1)[0]

    def where(bracket, n):
        if bracket == common:
            return f"in {n} of {len(every)} (data set, model) settings"
        return "for " + and_list(f"{ds} {arch}" for (ds, arch), th in sorted(every.items())
                                 if (th["lower"], th["upper"]) == bracket)

    headline = ("on the grid, KL vanishes "
                + and_list(f"between {fmt_bound(lo)} and {fmt_bound(hi)}·λ_max {where((lo, hi), n)}"
                           for (lo, hi), n in brackets.most_common())
                + f"; the bracket contains λ_max in {n_ok} of {len(every)}")
    return Measurement("; ".join(parts), "reproduced" if ok else "not reproduced", margins=notes, headline=headline)


def fmt_bound(ratio) -> str:
    """A bracket's end on the ratio grid; None where the grid has none (KL never vanished, or never stayed)."""
    return "—" if ratio is None else f"{ratio:g}"


def _closed_form(profile: str):
    ch = chapter(profile)  # the chapter's own tolerances (kl_atol + kl_rtol * KL*), over the sweep and the image section
    rows = [*ch.agreement["rows"], *(ch.images.agreement["rows"] if ch.images.agreement else [])]
    missed = sorted({r["dataset"] for r in rows if not r["within"]})
    return Measurement(f"largest |KL − KL*| = {fmt(max(r['abs_error'] for r in rows))} nats over {len(rows)} runs"
                       + (f"; outside the tolerance on {', '.join(missed)}" if missed else ""),
                       "reproduced" if not missed else "not reproduced")


def _claims() -> list:
    """Chapter 01's rows of the claims ledger, measured from :data:`chapter`."""
    defaults = Params.defaults()
    images = profile_settings("paper")["phase_images"]
    n = images["n_seeds"]
    on_images = (f" (the paper profile adds {', '.join(images['datasets'])} on {n} seed{'s' if n > 1 else ''})"
                 if images["datasets"] else "")
    return [
        Claim("phase-threshold", "v1", "§3.2, eq. 4 (Li et al.)", "σ'²/λ_max at which KL vanishes", "1",
              "Gaussian VAE, fixed decoder variance; synthetic and digits, MLP and linear" + on_images,
              "the measured bracket (last ratio with mean KL ≥ 0.01, first ratio from which all stay below) contains 1 "
              "for every (data set, model)", CHAPTER, _threshold),
        Claim("linear-closed-form", "v1", "§3.2 (Lucas et al. 2019)", "KL of the trained linear VAE", "the closed form",
              "every ratio, every data set of the sweep and of the image section",
              f"|KL − KL*| ≤ {defaults['kl_atol']:g} + {defaults['kl_rtol']:.0%} of KL* for every run", CHAPTER,
              _closed_form),
    ]


# The chapter: chapter(profile, **params) -> PhaseChapter, cached per process; its ledger rows and the stored runs
# they read (the sweep and the longer retraining)
chapter = Chapter(Params, compute, claims=_claims,
                  runs=lambda ch: [*ch.sweep.results, *ch.probes.results, *ch.images.results])
claims, runs = chapter.claims, chapter.runs

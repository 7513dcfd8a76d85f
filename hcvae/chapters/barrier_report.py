"""Chapter 02, v1's historical barrier (Theorem 4.4, Lemma 4.3), checked without training.

:func:`chapter` is the single source of every number the chapter shows (:class:`BarrierChapter`): the R₀ EM
clusterings of each data set under two EM starts, how different they are, δ (v1 Appendix A), whether δ bounds every
constant reconstruction under both readings of ℓ_C, and Lemma 4.3's nesting on a family of reconstructions.
:func:`claims` are its rows of the claims ledger, measured from the same result. Each (data set, EM start) is a
stored run (:class:`hcvae.runs.barrier_runs.BarrierConfig`): its EM fits cost about a minute at the paper profile's
50,000 synthetic samples, and the book reads them from the shipped reference.
"""

from __future__ import annotations

from dataclasses import dataclass

from hcvae.core.data import BUILTIN_DATASETS
from hcvae.chapters.ledger import Claim, Measurement, combine
from hcvae.chapters.base import Chapter, Parameters, parameter, per_dataset_counts
from hcvae.chapters.numbers import and_list, fmt as _fmt
from hcvae.chapters.user_sets import (KeyedComponents, check_files, check_image_runs, datasets_parameter,
                                      resolve_params)
from hcvae.core import image_data
from hcvae.core.data import true_clusters
from hcvae.core.validation import Integer, ListOf, Mapping, Options, Real
from hcvae.methods import clustering
from hcvae.methods.clustering import INIT_PARAMS, READINGS
from hcvae.runs.barrier_runs import BarrierConfig
from hcvae.runs.profiles import IMAGE_SETS, profile_settings
from hcvae.runs.runner import run
from hcvae.runs.store import ResultStore

CHAPTER = "02-historical-barrier"
DEFAULT_INIT = "kmeans"  # scikit-learn's default EM start: the ledger's setting
BUILTIN = BUILTIN_DATASETS


@dataclass(frozen=True)
class Params(KeyedComponents, Parameters):
    """Chapter 02's parameters (its notebook's ``parameters`` cell holds the same defaults)."""

    PAGE = CHAPTER
    IMAGE_SETTING = ("barrier_images",)

    seed: int = parameter(0, Integer(0), "first EM seed; the R0 runs use seed, seed + 1, ...")
    datasets: list = datasets_parameter()
    n_components: dict = parameter({"synthetic": 8, "digits": 10}, Mapping(), "K of every mixture, per data set (a "
                                   "data file by its path; one without a K gets the K of lowest BIC)",
                                   extra=per_dataset_counts((*BUILTIN, *image_data.NAMES), files=True))
    r0: int | None = parameter(None, Integer(2, none="the profile's"), "number of EM clusterings; None: the "
                               "profile's (16 in the paper profile, v1 §5.5.1)")
    init_alternative: str = parameter("random_from_data", Options(*INIT_PARAMS),
                                      "a more random EM start, beside scikit-learn's default kmeans")
    ari_same: float = parameter(0.99, Real(0.0, high=1.0), "two clusterings with at least this adjusted Rand index "
                                "count as one solution")
    image_datasets: list | None = parameter(None, ListOf(Options(*IMAGE_SETS), empty=True, none="the profile's"),
                                            "the papers' image sets of the section on them, each at its true K, the "
                                            "number of classes, with the default EM start (None: the profile's)")

    def __post_init__(self):  # files too small for K are refused before any work; then files become names
        check_files(self.datasets, self.n_components)
        resolve_params(self, keyed=("n_components",))
        self.check_components()

    @property
    def r0_used(self) -> int:
        return profile_settings(self.profile)["clusterings"]["r0"] if self.r0 is None else self.r0

    @property
    def inits(self) -> list:
        return [DEFAULT_INIT, self.init_alternative]


@dataclass
class BarrierChapter:
    """Everything chapter 02 shows. Keys: ``results`` (the stored runs), ``diversities``, ``deltas`` by (data set,
    EM start); ``checks`` and ``nesting`` by (data set, EM start, reading)."""

    params: Params
    results: dict  # -> the stored BarrierConfig run
    diversities: dict  # -> clustering.diversity
    deltas: dict  # -> barrier.delta_summary
    checks: dict  # -> barrier.delta_bounds_collapse
    nesting: dict  # -> barrier.lemma_4_3's rounds
    tables: dict  # name -> (header, rows)
    texts: dict  # name -> sentence
    findings: dict  # name -> sentence
    images: ImageBarrier  # the section on the papers' image sets

    def n_counterexamples(self, key) -> int:
        return sum(len(r["counterexamples"]) > 0 for r in self.nesting[key])


# ---- the chapter's steps, in the order its page calls them -------------------------------------------------------


def configs(p: Params) -> dict:
    """(data set, EM start) -> the stored run of its R₀ EM clusterings and v1 §4.3's checks of them."""
    n_samples = profile_settings(p.profile)["clusterings"]["n_samples"]
    k = p.components
    return {(ds, init): BarrierConfig(dataset=ds, n_samples=n_samples[ds], n_components=k[ds],
                                      r0=p.r0_used, init_params=init, first_seed=p.seed)
            for ds in p.datasets for init in p.inits}


def image_configs(p: Params) -> dict:
    """The image section's runs: (image set, the default EM start) -> its R₀ clusterings at the number of classes,
    on as many rows as the profile clusters (the whole set in the paper profile: the EM fits HCT starts from)."""
    n_samples = profile_settings(p.profile)["clusterings"]["n_samples"]
    return {(ds, DEFAULT_INIT): BarrierConfig(dataset=ds, n_samples=n_samples[ds], n_components=true_clusters(ds),
                                              r0=p.r0_used, init_params=DEFAULT_INIT, first_seed=p.seed)
            for ds in p.images}


def em_fits(p: Params, store=None) -> dict:
    """The stored run of every (data set, EM start): read from the store or the reference, fitted if neither has it.
    The image section's runs are checked first, so that one neither stored nor computable stops before any work."""
    check_image_runs(list(image_configs(p).values()), store if store is not None else ResultStore())
    return {key: run(config, store=store) for key, config in configs(p).items()}


@dataclass
class ImageBarrier:
    """The section on the papers' image sets: the chapter's checks on each set's R₀ EM clusterings at K = 10."""

    datasets: list
    results: dict  # (image set, EM start) -> the stored BarrierConfig run
    diversities: dict
    deltas: dict
    checks: dict  # (image set, EM start, reading) -> barrier.delta_bounds_collapse
    nesting: dict


def image_barrier(p: Params, store=None) -> ImageBarrier:
    """The section on the image sets: their stored runs (read from the reference, or fitted where the prepared files
    are present), and the chapter's own analyses of them."""
    results = {key: run(c, store=store) for key, c in image_configs(p).items()}
    return ImageBarrier(list(p.images), results, diversities(results, p.ari_same), deltas(results),
                        collapsed_checks(results), nesting(results))


def image_tables(im: ImageBarrier) -> dict:
    """The image section's tables, the chapter's four on the image sets (none without an image set)."""
    if not im.results:
        return {}
    return {f"image_{name}": t for name, t in tables(im.diversities, im.deltas, im.checks, im.nesting).items()}


def image_findings(p: Params, im: ImageBarrier) -> str:
    """δ on each image set, and whether it bounds every collapsed output under each reading."""
    if not im.results:
        return "No image set in this build."
    parts = []
    for ds in im.datasets:
        d = im.deltas[(ds, DEFAULT_INIT)]
        held = ", ".join(f"{rd}: {'holds' if im.checks[(ds, DEFAULT_INIT, rd)]['holds'] else 'fails'} (lowest "
                         f"{_fmt(im.checks[(ds, DEFAULT_INIT, rd)]['lowest']['historical_loss'])})" for rd in READINGS)
        parts.append(f"{ds} (K = {true_clusters(ds)}): δ = {_fmt(d['delta'])} ({d['delta'] / d['lambda_max']:.2f} "
                     f"λ_max), {im.diversities[(ds, DEFAULT_INIT)]['n_distinct']} distinct solution(s) of "
                     f"{p.r0_used}; Theorem 4.4 {held}")
    return "On the papers' image sets, with the default EM start: " + "; ".join(parts) + "."


def diversities(results: dict, ari_same: float) -> dict:
    """How different the R₀ clusterings of each (data set, EM start) are (:func:`clustering.diversity_of`)."""
    return {key: clustering.diversity_of(r["diversity"]["centre_distance"], r["diversity"]["ari"],
                                         r["fits"]["log_likelihood"], ari_same) for key, r in results.items()}


def deltas(results: dict) -> dict:
    """δ = min_C δ_C of each (data set, EM start) (v1 Appendix A), with its scale."""
    return {key: r["delta"] for key, r in results.items()}


def collapsed_checks(results: dict) -> dict:
    """(data set, EM start, reading) -> does δ bound every constant reconstruction (Theorem 4.4)?"""
    return {(*key, reading): r["checks"][reading] for key, r in results.items() for reading in READINGS}


def nesting(results: dict) -> dict:
    """(data set, EM start, reading) -> Lemma 4.3's halving rounds on a family of reconstructions."""
    return {(*key, reading): r["nesting"][reading] for key, r in results.items() for reading in READINGS}


def tables(divs: dict, dels: dict, checks: dict, nest: dict) -> dict:
    """The chapter's four tables, (header, rows) each."""
    out = {
        "diversity": (["data", "EM start", "distinct solutions", "lowest ARI", "mean matched-centre distance",
                       "best log-lik / sample", "worst log-lik / sample"],
                      [(ds, init, d["n_distinct"], d["min_ari"], d["mean_centre_distance"],
                        float(d["log_likelihood"].max()), float(d["log_likelihood"].min()))
                       for (ds, init), d in divs.items()]),
        "delta": (["data", "EM start", "δ = min_C δ_C", "max_C δ_C", "λ_max", "TSS (total variance)", "δ / λ_max"],
                  [(ds, init, d["delta"], d["max"], d["lambda_max"], d["tss"], d["delta"] / d["lambda_max"])
                   for (ds, init), d in dels.items()]),
        "candidates": (["data", "EM start", "reading", "δ", "data mean", "best centre", "best constant",
                        "δ bounds all"],
                       [(ds, init, reading, c["delta"], *[x["historical_loss"] for x in c["candidates"]],
                         "holds" if c["holds"] else "fails") for (ds, init, reading), c in checks.items()]),
    }
    rows = []
    for key, rounds in nest.items():
        n_counter = sum(len(r["counterexamples"]) > 0 for r in rounds)
        rows.append((*key, len(rounds), n_counter, "fails" if n_counter else "holds on this family"))
    out["nesting"] = (["data", "EM start", "reading", "rounds", "rounds with a counterexample", "F_{t+1} ⊂ F_t"], rows)
    return out


def _on(values: dict, fmt=str) -> str:
    """"a on synthetic and b on digits" from {data set: value}."""
    return and_list(f"{fmt(v)} on {ds}" for ds, v in values.items())


def sentences(p: Params, divs: dict, dels: dict, checks: dict, table: dict) -> tuple[dict, dict]:
    """The chapter's computed sentences: ``(texts, findings)``, each name -> Markdown."""
    r0, alt, datasets = p.r0_used, p.init_alternative, list(p.datasets)
    default = {ds: divs[(ds, DEFAULT_INIT)]["n_distinct"] for ds in datasets}
    other = {ds: divs[(ds, alt)]["n_distinct"] for ds in datasets}
    delta_default = {ds: dels[(ds, DEFAULT_INIT)] for ds in datasets}
    n_fail = sum(row[-1] == "fails" for row in table["nesting"][1])

    def holds(reading):
        return {ds: "holds" if checks[(ds, DEFAULT_INIT, reading)]["holds"] else "fails" for ds in datasets}

    def lowest(reading):
        return {ds: checks[(ds, DEFAULT_INIT, reading)]["lowest"]["historical_loss"] for ds in datasets}

    def n_held(reading):
        keys = [key for key in checks if key[2] == reading]
        return f"{sum(checks[key]['holds'] for key in keys)} of {len(keys)}"

    texts = {
        "profile": f"`{p.profile}`", "r0": str(r0), "ari_same": f"{p.ari_same:g}",
        "distinct": (f"With the default start, the {r0} runs give "
                     f"{_on({ds: f'{n} distinct solution(s)' for ds, n in default.items()})}; starting from `{alt}` "
                     f"gives {_on(other)}."),
        "likelihood": ("The best log-likelihood per sample is " + _on(
            {ds: f"{divs[(ds, DEFAULT_INIT)]['log_likelihood'].max():.4g} with the default start against "
                 f"{divs[(ds, alt)]['log_likelihood'].max():.4g} with `{alt}`" for ds in datasets}) + "."),
        "delta": ("With the default EM start, δ is " + _on(
            {ds: f"{_fmt(d['delta'])} ({d['delta'] / d['lambda_max']:.2f} λ_max)" for ds, d in delta_default.items()})
            + ": the squared distance from the data mean to the nearest cluster centre."),
        "holds_min_k": (f"Under v1's own **min_k** reading, Theorem 4.4 {_on(holds('min_k'))} (default EM start): the "
                        f"lowest historical loss of a collapsed reconstruction is {_on(lowest('min_k'), _fmt)}, against "
                        f"δ of {_on({ds: d['delta'] for ds, d in delta_default.items()}, _fmt)}."),
        "holds_own_centre": (f"there the theorem {_on(holds('own_centre'))}, with lowest historical losses "
                             f"{_on(lowest('own_centre'), _fmt)}."),
        "nesting_fail": str(n_fail), "nesting_total": str(len(table["nesting"][1])),
    }
    findings = {
        "diversity": f"Default EM gives {_on({ds: f'{n} distinct of {r0}' for ds, n in default.items()})}; "
                     f"`{alt}` starts give {_on(other)}.",
        "min_k": (f"Under v1's min_k reading (eq. 8), δ bounds every collapsed solution in {n_held('min_k')} "
                  "(data set, EM start) settings; where it does not, a constant decoder output scores below δ, so "
                  "Theorem 4.4 as stated does not exclude collapse."),
        "own": (f"Under the own-centre reading (v4 eq. 7), δ bounds every collapsed solution in {n_held('own_centre')} "
                "settings."),
        "nesting": f"Lemma 4.3's nesting fails on a family of reconstructions in {n_fail} of "
                   f"{len(table['nesting'][1])} settings.",
    }
    return texts, findings


def compute(p: Params, store=None, progress: bool | None = None) -> BarrierChapter:
    """The chapter, step by step as its page shows it."""
    results = em_fits(p, store)
    divs, dels = diversities(results, p.ari_same), deltas(results)
    checks, nest = collapsed_checks(results), nesting(results)
    table = tables(divs, dels, checks, nest)
    texts, findings = sentences(p, divs, dels, checks, table)
    im = image_barrier(p, store)
    table.update(image_tables(im))
    findings["images"] = image_findings(p, im)
    return BarrierChapter(p, results, divs, dels, checks, nest, table, texts, findings, im)


# ---- the ledger's rows ------------------------------------------------------------------------------------------


def _theorem_4_4(profile: str):
    ch = chapter(profile)
    verdicts, parts = {}, []
    checks = {**ch.checks, **ch.images.checks}  # the chapter's data sets, and the image section's at K = 10
    for reading in READINGS:
        held = {ds: checks[(ds, DEFAULT_INIT, reading)]["holds"] for ds in [*ch.params.datasets, *ch.images.datasets]}
        verdicts[reading] = "reproduced" if all(held.values()) else "not reproduced"
        parts.append(f"{reading}: δ bounds every collapsed output on " + ", ".join(ds for ds, h in held.items() if h)
                     if any(held.values()) else f"{reading}: fails on every data set")
    return Measurement("; ".join(parts) + " (default EM start)", combine(verdicts), verdicts)


def _lemma_4_3(profile: str):
    ch = chapter(profile)
    nest = {**ch.nesting, **ch.images.nesting}
    keys = [key for key in nest if key[1] == DEFAULT_INIT]
    failing = sum(any(len(r["counterexamples"]) > 0 for r in nest[key]) for key in keys)
    return Measurement(f"a counterexample to F_(t+1) ⊂ F_t in {failing} of {len(keys)} (data set, reading) settings "
                       "(default EM start)", "not reproduced" if failing else "reproduced")


def _claims() -> list:
    """Chapter 02's rows of the claims ledger (v1 Theorem 4.4, Lemma 4.3), measured from :data:`chapter`."""
    return [
        Claim("theorem-4.4", "v1", "Theorem 4.4, Appendix A", "historical loss of any collapsed solution", "≥ δ > 0",
              "R₀ EM clusterings (16 in the paper profile), default EM start; the image sets at K = 10 where the "
              "profile has them", "every constant output found scores ≥ δ, on every data set", CHAPTER, _theorem_4_4),
        Claim("lemma-4.3", "v1", "Lemma 4.3", "nesting of the feasible regions", "F_(t+1) ⊂ F_t",
              "halving rounds", "no reconstruction of the tested family lies in F_(t+1) but not in F_t", CHAPTER,
              _lemma_4_3),
    ]


# The chapter: chapter(profile, **params) -> BarrierChapter, cached per process; its ledger rows and the stored runs
# they read (EM fits, no training; each with ``wall_time_s``)
chapter = Chapter(Params, compute, claims=_claims,
                  runs=lambda ch: [*ch.results.values(), *ch.images.results.values()])
claims, runs = chapter.claims, chapter.runs

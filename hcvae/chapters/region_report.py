"""Chapter 03, v4's feasible region [WCSS, L_collapse] (v4 §3.2–3.4), put to numbers without training.

:data:`chapter` is the single source of every number the chapter shows (:class:`RegionChapter`), computed by the
named steps its page calls in the same order (:func:`compute`): λ_max before and after each shell transform,
TSS = WCSS + L_collapse (v4 eq. 6) over every K, where WCSS < L_collapse (Theorem 3.4's condition) holds, the
theorem's two anchor points and the reconstructions between them. :func:`claims` are its rows of the claims ledger,
measured from the same result. Every K-means fit is a stored run (:class:`hcvae.runs.region_runs.RegionConfig`, one
per data set, transform and K), read from the shipped reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hcvae.core.data import BUILTIN_DATASETS
from hcvae.chapters.numbers import fmt
from hcvae.chapters.base import Chapter, ParameterError, Parameters, parameter, per_dataset_counts
from hcvae.chapters.ledger import Claim, Measurement
from hcvae.core.data import lambda_max, load_dataset
from hcvae.chapters.user_sets import (KeyedComponents, check_files, check_image_runs, datasets_parameter,
                                      resolve_params)
from hcvae.core import image_data
from hcvae.core.data import true_clusters
from hcvae.core.validation import Anything, Integer, ListOf, Mapping, Options, Real
from hcvae.methods import feasible
from hcvae.methods.spherical import SHELL_READINGS
from hcvae.runs import region_runs
from hcvae.runs.profiles import IMAGE_SETS, profile_settings
from hcvae.runs.region_runs import RegionConfig, shell_transformed
from hcvae.runs.runner import run
from hcvae.runs.store import ResultStore

CHAPTER = "03-feasible-region"
NO_SHELL = "none (centred only)"
BUILTIN = BUILTIN_DATASETS


def shell_name(reading: str, r_min: float, r_max: float) -> str:
    return f"{reading} [{r_min:g}, {r_max:g}]"


def _shells(name: str, value: list) -> None:
    for shell in value:
        ok = (isinstance(shell, (list, tuple)) and len(shell) == 3 and shell[0] in SHELL_READINGS
              and all(isinstance(r, (int, float)) and not isinstance(r, bool) for r in shell[1:])
              and 0 <= shell[1] < shell[2])
        if not ok:
            raise ParameterError(f"parameter {name!r} must be a list of [reading, r_min, r_max] with reading one "
                                 f"of {', '.join(SHELL_READINGS)} and 0 <= r_min < r_max; got {shell!r}")


@dataclass(frozen=True)
class Params(KeyedComponents, Parameters):
    """Chapter 03's parameters (its notebook's ``parameters`` cell holds the same defaults)."""

    PAGE = CHAPTER
    IMAGE_SETTING = ("region_images",)

    seed: int = parameter(0, Integer(0), "the K-means seed")
    datasets: list = datasets_parameter()
    n_components: dict = parameter({"synthetic": 8, "digits": 10}, Mapping(), "the true number of components or "
                                   "classes, per data set (a data file by its path; one without a K gets the K of "
                                   "lowest BIC)", extra=per_dataset_counts((*BUILTIN, *image_data.NAMES), files=True))
    k_values: list = parameter([2, 4, 6, 8, 10, 12, 16, 20], ListOf(Integer(1)), "the K of the curves")
    shells: list = parameter([["minmax", 1.0, 2.0], ["clip", 1.0, 2.0], ["minmax", 1.0, 1.1], ["minmax", 0.1, 2.0]],
                             ListOf(Anything(), unique=False), "[reading, r_min, r_max] per shell", extra=_shells)
    n_init: int = parameter(4, Integer(1), "K-means restarts per fit")
    identity_rtol: float = parameter(1e-9, Real(0.0), "tolerance of TSS - WCSS - L_collapse, relative to TSS")
    image_datasets: list | None = parameter(None, ListOf(Options(*IMAGE_SETS), empty=True, none="the profile's"),
                                            "the papers' image sets of the section on them, each at its true K, the "
                                            "number of classes (None: the profile's)")

    def __post_init__(self):  # files too small for a K of the curves are refused before any work; files become names
        check_files(self.datasets, self.n_components, self.k_values)
        resolve_params(self, keyed=("n_components",))
        self.check_components()

    @property
    def default_shell(self) -> str:
        """The first shell: the one the anchors, the probes and the ledger read."""
        return shell_name(*self.shells[0])

    @property
    def ks(self) -> list:
        """The K of the curves: ``k_values`` and every data set's true K (always on the curve)."""
        return sorted(set(self.k_values) | set(self.components.values()))

    @property
    def transforms(self) -> list:
        """The transforms' names: centred only, then each shell."""
        return [NO_SHELL] + [shell_name(*s) for s in self.shells]

    @property
    def keys(self) -> list:
        """(data set, transform name), every data set centred only first, then each data set under each shell."""
        return [(ds, NO_SHELL) for ds in self.datasets] + [(ds, shell_name(*s)) for ds in self.datasets
                                                           for s in self.shells]


@dataclass
class ImageRegions:
    """The section on the papers' image sets: the curves over K under every transform, the region at K = 10."""

    datasets: list
    results: list  # the stored RegionConfig runs
    curves: dict  # "data set, transform" -> as RegionChapter.curves
    regions: dict  # "data set, transform" -> the region at the set's true K (the number of classes)
    worst_identity: float | None  # None without an image set


@dataclass
class RegionChapter:
    """Everything chapter 03 shows. ``curves`` and ``regions`` are keyed "data set, transform"; ``anchors`` and
    ``probes`` by data set (on the first shell, K at the true number)."""

    params: Params
    raw: dict  # data set -> raw samples
    transformed: dict  # (data set, transform) -> samples
    lambdas: dict  # (data set, transform) -> λ_max and norms after the transform
    curves: dict  # feasible.region_curve
    regions: dict  # feasible.region_at the true K
    anchors: dict  # feasible.anchor_points, with the losses of the shrunk reconstructions ("shrunk": {a: loss})
    probes: dict  # feasible.reconstruction_probes
    worst_identity: float  # the largest |TSS − WCSS − L_collapse| / TSS over every curve point
    tables: dict  # name -> (header, rows)
    texts: dict  # name -> sentence
    findings: dict  # name -> sentence
    results: list  # the stored RegionConfig runs read
    images: ImageRegions  # the section on the papers' image sets

    @property
    def default_shell(self) -> str:
        return self.params.default_shell


# ---- the chapter's steps, in the order its page calls them -------------------------------------------------------


def raw_data(p: Params, store=None) -> dict:
    """Data set -> its samples, as many as the profile clusters. The image section's runs are checked first, so that
    one neither stored nor computable (its prepared file absent) stops the chapter before any work."""
    check_image_runs([c for by_k in image_configs(p).values() for c in by_k.values()],
                     store if store is not None else ResultStore())
    n_samples = profile_settings(p.profile)["clusterings"]["n_samples"]
    return {ds: load_dataset(ds, n_samples[ds], seed=0).x for ds in p.datasets}


def transformed(p: Params, raw: dict) -> dict:
    """(data set, transform) -> the samples centred only, and centred then mapped onto each shell."""
    out = {(ds, NO_SHELL): shell_transformed(raw[ds], region_runs.NO_SHELL) for ds in p.datasets}
    out.update({(ds, shell_name(*s)): shell_transformed(raw[ds], s[0], s[1], s[2]) for ds in p.datasets
                for s in p.shells})
    return out


def lambdas(raw: dict, shelled: dict) -> dict:
    """(data set, transform) -> λ_max after the transform, its ratio to the raw data's, the smallest and largest
    norm, and the norm of the transformed mean."""
    out = {}
    for (ds, name), xs in shelled.items():
        norms = np.linalg.norm(xs, axis=1)
        out[(ds, name)] = {"lambda_max": lambda_max(xs), "ratio": lambda_max(xs) / lambda_max(raw[ds]),
                           "min_norm": float(norms.min()), "max_norm": float(norms.max()),
                           "mean_norm": float(np.linalg.norm(xs.mean(0)))}
    return out


def configs(p: Params) -> tuple[dict, dict]:
    """The stored runs: (data set, transform) -> {K: RegionConfig} for the curves, and data set -> the run at the
    true K on the first shell that also measures the anchors and probes."""
    n_samples = profile_settings(p.profile)["clusterings"]["n_samples"]
    common = dict(seed=p.seed, n_init=p.n_init)
    transforms = {NO_SHELL: dict(shell=region_runs.NO_SHELL, r_min=None, r_max=None)}
    transforms.update({shell_name(*s): dict(shell=s[0], r_min=float(s[1]), r_max=float(s[2])) for s in p.shells})
    curves = {(ds, name): {k: RegionConfig(dataset=ds, n_samples=n_samples[ds], k=k, **transforms[name], **common)
                           for k in p.ks} for ds, name in p.keys}
    first = dict(shell=p.shells[0][0], r_min=float(p.shells[0][1]), r_max=float(p.shells[0][2]))
    anchors = {ds: RegionConfig(dataset=ds, n_samples=n_samples[ds], k=p.components[ds], probes=True, **first,
                                **common) for ds in p.datasets}
    return curves, anchors


def image_configs(p: Params) -> dict:
    """The image section's runs: (image set, transform) -> {K: RegionConfig}, over ``k_values`` and the set's true K,
    on as many rows as the profile clusters (the whole set in the paper profile)."""
    n_samples = profile_settings(p.profile)["clusterings"]["n_samples"]
    transforms = {NO_SHELL: dict(shell=region_runs.NO_SHELL, r_min=None, r_max=None)}
    transforms.update({shell_name(*s): dict(shell=s[0], r_min=float(s[1]), r_max=float(s[2])) for s in p.shells})
    return {(ds, name): {k: RegionConfig(dataset=ds, n_samples=n_samples[ds], k=k, seed=p.seed, n_init=p.n_init,
                                         **transforms[name])
                         for k in sorted(set(p.k_values) | {true_clusters(ds)})}
            for ds in p.images for name in p.transforms}


def image_regions(p: Params, store=None) -> ImageRegions:
    """The section on the image sets: their stored K-means fits (read from the reference, or fitted where the prepared
    files are present), the curves, and the region at each set's true K."""
    fits = {key: {k: run(c, store=store) for k, c in by_k.items()} for key, by_k in image_configs(p).items()}
    curvs = curves(fits)
    return ImageRegions(list(p.images), [r for by_k in fits.values() for r in by_k.values()], curvs,
                        regions(curvs, {ds: true_clusters(ds) for ds in p.images}),
                        worst_identity(curvs) if curvs else None)


REGION_HEADER = ["data, transform", "smallest K with WCSS < L_collapse", "WCSS at true K", "L_collapse at true K",
                 "width / TSS at true K", "region at true K"]


def _region_rows(regs: dict) -> list:
    return [(key, r["smallest_open_k"], r["wcss"], r["l_collapse"], r["width_over_tss"],
             "non-empty" if r["nonempty"] else "EMPTY") for key, r in regs.items()]


def image_tables(im: ImageRegions) -> dict:
    """The image section's region table, as the chapter's (none without an image set)."""
    return {"image_region": (REGION_HEADER, _region_rows(im.regions))} if im.regions else {}


def image_findings(p: Params, im: ImageRegions) -> str:
    """Where the region is empty on the image sets at K = 10, on every transform and on the default shell."""
    if not im.regions:
        return "No image set in this build."
    empty = [key for key, r in im.regions.items() if not r["nonempty"]]
    on_default = {key.split(",")[0]: r for key, r in im.regions.items() if key.endswith(p.default_shell)}
    return (f"On the papers' image sets at K = 10 (the number of classes), WCSS < L_collapse fails in {len(empty)} "
            f"of {len(im.regions)} settings ({'; '.join(empty) or 'none'}); on the shell {p.default_shell}, "
            + "; ".join(f"{ds}: WCSS {fmt(r['wcss'])} vs L_collapse {fmt(r['l_collapse'])}"
                        + (f", first open at K = {r['smallest_open_k']}" if r["smallest_open_k"] else
                           ", open at no K of the grid") for ds, r in on_default.items())
            + f". TSS = WCSS + L_collapse holds there to a relative {im.worst_identity:.0e}.")


def curve_fits(p: Params, store=None) -> dict:
    """(data set, transform) -> {K: the stored K-means fit}: read from the store or the reference, fitted if neither
    has it."""
    return {key: {k: run(c, store=store) for k, c in by_k.items()} for key, by_k in configs(p)[0].items()}


def curves(fits: dict) -> dict:
    """"data set, transform" -> TSS, WCSS, L_collapse, the identity's error and the region's width, per K."""
    return {f"{ds}, {name}": {q: np.array([r["region"][q] for r in by_k.values()])
                              for q in ("k", "tss", "wcss", "l_collapse", "identity_error", "width")}
            for (ds, name), by_k in fits.items()}


def worst_identity(curves: dict) -> float:
    """The largest |TSS − WCSS − L_collapse| / TSS over every curve point (v4 eq. 6)."""
    return max(float(np.max(np.abs(c["identity_error"]) / c["tss"])) for c in curves.values())


def regions(curves: dict, n_components: dict) -> dict:
    """"data set, transform" -> the feasible region at the data set's true K (:func:`feasible.region_at`)."""
    return {key: feasible.region_at(c, n_components[key.split(",")[0]]) for key, c in curves.items()}


def anchor_fits(p: Params, store=None) -> dict:
    """Data set -> the stored fit at its true K on the first shell, with Theorem 3.4's anchors and the probes."""
    return {ds: run(c, store=store) for ds, c in configs(p)[1].items()}


def anchors(fits: dict) -> dict:
    """Data set -> the losses of the collapsed and the ideal model beside L_collapse and WCSS, and of the shrunk
    reconstructions ("shrunk": {a: loss})."""
    out = {}
    for ds, stored in fits.items():
        a = dict(stored["anchors"])
        a["shrunk"] = {float(alpha): loss for alpha, loss in a["shrunk"].items()}
        out[ds] = a
    return out


def probes(fits: dict) -> dict:
    """Data set -> other reconstructions, their cluster-aware loss and where it lies against the region."""
    return {ds: stored["probes"] for ds, stored in fits.items()}


def tables(p: Params, lams: dict, regs: dict, anchs: dict, probs: dict) -> dict:
    """The chapter's four tables, (header, rows) each."""
    return {
        "lambda": (["data", "transform", "λ_max", "λ_max / λ_max(raw)", "smallest norm", "largest norm",
                    "‖mean‖ after"],
                   [(ds, name, v["lambda_max"], v["ratio"], v["min_norm"], v["max_norm"], v["mean_norm"])
                    for (ds, name), v in lams.items()]),
        "region": (REGION_HEADER, _region_rows(regs)),
        "anchor": (["data", "shell", "collapsed model's loss", "L_collapse", "ideal model's loss", "WCSS"],
                   [(ds, p.default_shell, a["collapsed_loss"], a["l_collapse"], a["ideal_loss"], a["wcss"])
                    for ds, a in anchs.items()]),
        "probe": (["data", "reconstruction", "cluster-aware loss", "position"],
                  [(ds, q["name"], q["loss"], q["position"]) for ds in probs for q in probs[ds]]),
    }


def sentences(p: Params, curvs: dict, regs: dict, anchs: dict, table: dict, worst: float) -> tuple[dict, dict]:
    """The chapter's computed sentences: ``(texts, findings)``, each name -> Markdown."""
    empty = [key for key, r in regs.items() if not r["nonempty"]]
    empty_list = ", ".join(empty) or "none"
    n_centre_below = sum(1 for r in table["probe"][1] if r[1] == "own cluster centre" and r[3] == "below WCSS")
    texts = {
        "profile": f"`{p.profile}`", "worst_identity": f"{worst:.1e}",
        "n_identity": str(sum(len(c["k"]) for c in curvs.values())), "n_empty": str(len(empty)),
        "n_settings": str(len(regs)), "empty_list": empty_list, "default_shell": f"`{p.default_shell}`",
        "n_centre_below": str(n_centre_below),
    }
    findings = {
        "identity": (f"TSS = WCSS + L_collapse (v4 eq. 6) holds to a relative {worst:.0e} on every data set, "
                     "transform and K."),
        "region": (f"At the true number of clusters, WCSS < L_collapse (Theorem 3.4's condition) fails in {len(empty)} "
                   f"of {len(regs)} settings ({empty_list})."),
        "anchor": ("The collapsed reconstruction scores " + "; ".join(
            f"{a['collapsed_loss']:.6g} against L_collapse = {a['l_collapse']:.6g} on {ds}" for ds, a in anchs.items())
            + ": the edge of the region, so Theorem 3.4 excludes it only under a strict inequality, with no margin."),
    }
    return texts, findings


def compute(p: Params, store=None, progress: bool | None = None) -> RegionChapter:
    """The chapter, step by step as its page shows it (K-means fits only: ``progress`` has nothing to report)."""
    raw = raw_data(p, store)
    shelled = transformed(p, raw)
    lams = lambdas(raw, shelled)
    fits = curve_fits(p, store)
    curvs = curves(fits)
    worst, regs = worst_identity(curvs), regions(curvs, p.components)
    stored = anchor_fits(p, store)
    anchs, probs = anchors(stored), probes(stored)
    im = image_regions(p, store)
    table = {**tables(p, lams, regs, anchs, probs), **image_tables(im)}
    texts, findings = sentences(p, curvs, regs, anchs, table, worst)
    findings["images"] = image_findings(p, im)
    results = [r for by_k in fits.values() for r in by_k.values()] + list(stored.values()) + im.results
    return RegionChapter(p, raw, shelled, lams, curvs, regs, anchs, probs, worst, table, texts, findings, results,
                         im)


# ---- the ledger's rows ------------------------------------------------------------------------------------------


def _identity(profile: str):
    ch = chapter(profile)
    rtol = ch.params.identity_rtol
    worst = max(ch.worst_identity, ch.images.worst_identity or 0.0)
    return Measurement(f"largest |TSS − WCSS − L_collapse| / TSS = {worst:.1e} over every data set, "
                       "transform and K", "reproduced" if worst < rtol else "not reproduced")


def _region_nonempty(profile: str):
    ch = chapter(profile)  # the chapter's data sets at their K, and the image section's at K = 10
    at_default = {key: r for key, r in {**ch.regions, **ch.images.regions}.items() if key.endswith(ch.default_shell)}
    parts = [f"{key.split(',')[0]}: WCSS {fmt(r['wcss'])} vs L_collapse {fmt(r['l_collapse'])}"
             for key, r in at_default.items()]
    ok = all(r["nonempty"] for r in at_default.values())
    return Measurement("; ".join(parts) + f" (shell {ch.default_shell}, K = true number)",
                       "reproduced" if ok else "not reproduced")


def _claims() -> list:
    """Chapter 03's rows of the claims ledger (v4 eq. 6, Theorem 3.4), measured from :data:`chapter`."""
    return [
        Claim("tss-identity", "v4", "eq. 6", "TSS − WCSS − L_collapse", "0", "K-means on shell-transformed data",
              "relative error < 1e-9", CHAPTER, _identity),
        Claim("region-nonempty", "v4", "Theorem 3.4", "WCSS < L_collapse (a non-empty feasible region)", "holds",
              "the paper's data sets at their true K (the image sets at K = 10 where the profile has them)",
              "WCSS < L_collapse on every data set", CHAPTER,
              _region_nonempty),
    ]


# The chapter: chapter(profile, **params) -> RegionChapter, cached per process; its ledger rows and the stored runs
# they read (K-means fits, no training; each with ``wall_time_s``)
chapter = Chapter(Params, compute, claims=_claims, runs=lambda ch: list(ch.results))
claims, runs = chapter.claims, chapter.runs

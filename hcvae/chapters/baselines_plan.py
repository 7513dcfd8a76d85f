"""Which runs make each row of chapter 06's tables and sweep: the rows as configs, the seeds, and a cost to order them.

The baselines' configs come from :func:`hcvae.runs.baselines.table_configs`, HCT's from
:func:`hcvae.chapters.hct_report.chapter_configs` and the Spherical VAE's from
:meth:`hcvae.runs.spherical_runs.SphericalConfig.from_profile`, so the runs the chapters on HCT and the Spherical
VAE store are the same configs, read and not recomputed. :func:`plan` lays out every row of the chapter;
:func:`k_for`, :func:`spherical_conv_error` and :func:`check_images_present` are what it needs to know first (the
Spherical VAE's K, whether it takes the conv architecture, whether an image set's runs can be had at all).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hcvae.chapters import hct_report
from hcvae.chapters.baselines_paper import CONV_BASELINES, SPHERICAL, STAGES, SWEEP_ROWS
from hcvae.core import image_data
from hcvae.core.data import TRUE_CLUSTERS
from hcvae.methods.consensus import XHATS
from hcvae.runs import baselines
from hcvae.runs.hct import HCTConfig
from hcvae.runs.profiles import profile_settings
from hcvae.runs.region_runs import RegionConfig
from hcvae.runs.runner import run
from hcvae.runs.spherical_runs import SphericalConfig, build_model, k_search_max


@dataclass(frozen=True)
class Row:
    """One row of a table: its configs (one per seed) and where each result's metrics are read."""

    name: str
    configs: tuple = ()
    stage: str | None = None  # key of an HCT result's record["stage_end"]; None: the final model's metrics
    kind: str = "baseline"  # "baseline", "hct" or "spherical"
    unavailable: str | None = None  # why this method cannot run here (the row then has no configs)
    paper_row: str | None = None  # the papers' row it is compared with (default: ``name``)
    reading: str | None = None  # "min_k, x̂ sample" etc. for HCT and the Spherical VAE: which reading it runs

    @property
    def compared_with(self) -> str:
        return self.paper_row or self.name


def baseline_row_name(config: baselines.BaselineConfig) -> str:
    """Our row name of a baseline config (the papers' names; the KL-annealing schedule is in the settings table)."""
    if config.method == "beta_vae":
        return f"β-VAE (β={config.beta:g})"
    return {"vanilla": "Vanilla VAE", "kl_annealing": "KL annealing", "em_type": "EM-type VAE"}[config.method]


def baseline_rows(profile: str, dataset: str, ratio: float, seeds, architecture: str = "mlp",
                  names=None) -> list[Row]:
    """v1 Table 1's baseline rows (or those named in ``names``) at ``ratio``, one config per seed."""
    table = baselines.table_configs(profile, dataset, seeds, sigma2_ratio=float(ratio), architecture=architecture)
    rows = [Row(baseline_row_name(cfgs[0]), tuple(cfgs)) for cfgs in table.values()]
    return [r for r in rows if names is None or r.name in names]


def hct_configs(profile: str, dataset: str, ratio: float, seeds, reading: str = "min_k",
                architecture: str = "mlp", xhat: str = "sample", **overrides) -> list[HCTConfig]:
    """Algorithm 1's runs at ``ratio``: chapter 04's configs (so they are shared), K the data set's true number."""
    return hct_report.chapter_configs(profile, (dataset,), seeds, runs=(("hct", reading, xhat),),
                                      sigma2_ratio=float(ratio), architecture=architecture, **overrides)


V1_READING = ("min_k", "sample")  # v1's own reading: ℓ_C through min_k (v1 eq. 8), x_hat sampled from the decoder


def n_further_seeds(reading: str | None, xhat: str, n_reading_seeds: int | None = None,
                    n_xhat_seeds: int | None = None) -> int | None:
    """How many of a column's seeds a row under (``reading``, ``xhat``) runs on, None for all: v1's own reading
    (None stands for min_k, the Spherical VAE having no ℓ_C) runs on all; an ℓ_C other than min_k on
    ``n_reading_seeds``, an x̂ other than the sample on ``n_xhat_seeds``, the fewer where both differ."""
    counts = ([n_reading_seeds] if (reading or V1_READING[0]) != V1_READING[0] else []) + \
             ([n_xhat_seeds] if xhat != V1_READING[1] else [])
    counts = [n for n in counts if n is not None]
    return min(counts) if counts else None


def further_seeds(reading: str | None, xhat: str, seeds, n_reading_seeds: int | None = None,
                  n_xhat_seeds: int | None = None) -> tuple:
    """The seeds of a row run under (``reading``, ``xhat``): the first :func:`n_further_seeds` of ``seeds``."""
    return tuple(seeds)[:n_further_seeds(reading, xhat, n_reading_seeds, n_xhat_seeds)]


def reading_name(reading: str | None, xhat: str) -> str:
    """The suffix of a row run under a non-default reading: "" for v1's min_k with the sampled x_hat."""
    parts = [] if reading in (None, "min_k") else [reading.replace("_", "-")]
    parts += [] if xhat == "sample" else [f"x̂ {xhat}"]
    return "".join(f", {p}" for p in parts)


def hct_rows(profile: str, dataset: str, ratio: float, seeds, readings=("min_k", "own_centre"),
             architecture: str = "mlp", xhats=XHATS, n_reading_seeds=None, n_xhat_seeds=None,
             **overrides) -> list[Row]:
    """Three rows per (reading, x_hat), one per stage of Algorithm 1 (v1 Table 1's "Ours" rows); the same runs feed
    all three, and each is compared with the paper's row of its stage. Readings other than v1's own run on the
    first seeds :func:`further_seeds` gives."""
    rows = []
    for reading in readings:
        for xhat in xhats:
            run_seeds = further_seeds(reading, xhat, seeds, n_reading_seeds, n_xhat_seeds)
            configs = tuple(hct_configs(profile, dataset, ratio, run_seeds, reading, architecture, xhat, **overrides))
            suffix = reading_name(reading, xhat)
            rows += [Row(f"HCT{suffix} ({label})", configs, stage=key, kind="hct", paper_row=f"HCT ({label})",
                         reading=f"{reading}, x̂ {xhat}") for label, key in STAGES]
    return rows


def spherical_configs(profile: str, dataset: str, ratio: float, seeds, n_clusters: int | None,
                      architecture: str = "mlp", xhat: str = "sample") -> list[SphericalConfig]:
    """The full method of v4 at ``ratio``: chapter 05's "Full constraints" configs (shared)."""
    common = dict(sigma2_ratio=float(ratio), n_clusters=n_clusters, architecture=architecture, xhat=xhat)
    return [SphericalConfig.from_profile(profile, dataset, seed=int(s), **common) for s in seeds]


def spherical_rows(profile: str, dataset: str, ratio: float, seeds, n_clusters: int | str | None,
                   xhats=XHATS, n_xhat_seeds=None) -> list[Row]:
    """The Spherical VAE's rows; ``n_clusters`` is K (None: the true number), or the reason no K opens the
    feasible region (the rows then say why they cannot run). An x_hat other than the sampled one runs on the
    first ``n_xhat_seeds`` of ``seeds`` (None: all)."""
    if isinstance(n_clusters, str):
        return [Row(SPHERICAL + reading_name(None, x), kind="spherical", unavailable=n_clusters, paper_row=SPHERICAL,
                    reading=f"x̂ {x}") for x in xhats]
    return [Row(SPHERICAL + reading_name(None, x),
                tuple(spherical_configs(profile, dataset, ratio, further_seeds(None, x, seeds, None, n_xhat_seeds),
                                        n_clusters, xhat=x)),
                kind="spherical", paper_row=SPHERICAL, reading=f"x̂ {x}") for x in xhats]


def seed_plan(profile: str) -> dict:
    """Seeds per kind of run: {"main": ..., "other": ..., "conv": ...}, each {"baseline", "hct", "spherical"}.

    At the main ratio every method gets the baselines' seeds (v1 averages five runs per row: five in the
    ``paper`` profile); elsewhere and for the conv table: the baselines entry's ``other_seeds`` and ``conv_seeds``.
    """
    b = profile_settings(profile)["baselines"]
    main = {kind: tuple(b["seeds"]) for kind in ("baseline", "hct", "spherical")}
    return {"main": main, "other": {k: tuple(v) for k, v in b["other_seeds"].items()},
            "conv": {k: tuple(v) for k, v in b["conv_seeds"].items()}}


def table_rows(profile: str, dataset: str, ratio: float, seeds: dict, n_clusters: int | None,
               readings=("min_k", "own_centre"), xhats=XHATS, n_reading_seeds: int | None = None,
               n_xhat_seeds: int | None = None) -> list[Row]:
    """Every row of v1/v4 Table 1 for ``dataset`` at ``ratio``: baselines, HCT's stages, the Spherical VAE (HCT
    under ``readings`` of ℓ_C, both methods under the ``xhats`` readings of x̂; an ℓ_C other than min_k on the
    first ``n_reading_seeds`` of their seeds, an x̂ other than the sample on the first ``n_xhat_seeds``; None:
    all)."""
    return (baseline_rows(profile, dataset, ratio, seeds["baseline"])
            + hct_rows(profile, dataset, ratio, seeds["hct"], readings, xhats=xhats, n_reading_seeds=n_reading_seeds,
                       n_xhat_seeds=n_xhat_seeds)
            + spherical_rows(profile, dataset, ratio, seeds["spherical"], n_clusters, xhats=xhats,
                             n_xhat_seeds=n_xhat_seeds))


def conv_rows(profile: str, dataset: str, ratio: float, seeds: dict, n_clusters: int | None,
              spherical_error: str | None) -> list[Row]:
    """v1 Table 2's rows with ``architecture="conv"``, and the Spherical VAE: as a row that says why it cannot run
    when ``spherical_error`` is given, else trained with HCT's seeds."""
    rows = baseline_rows(profile, dataset, ratio, seeds["baseline"], architecture="conv", names=CONV_BASELINES)
    rows += hct_rows(profile, dataset, ratio, seeds["hct"], readings=("min_k",), architecture="conv", xhats=("sample",),
                     collapsed_ratio=None)  # Table 2 has no distance to a collapsed model: no reference run
    if spherical_error is not None or isinstance(n_clusters, str):
        rows.append(Row(SPHERICAL, kind="spherical", unavailable=spherical_error or n_clusters))
    else:
        rows.append(Row(SPHERICAL, tuple(spherical_configs(profile, dataset, ratio, seeds["hct"], n_clusters,
                                                           architecture="conv")), kind="spherical"))
    return rows


def plan(profile: str, datasets, n_clusters: dict, conv_datasets=(), spherical_conv_error: str | None = None,
         table_ratios=None, sweep_ratios=None, seeds=None, image_datasets=(), image_table_ratios=None) -> dict:
    """Every row of the chapter: {"tables": {(dataset, ratio): [Row]}, "sweeps": {dataset: {ratio: [Row]}},
    "conv": {dataset: [Row]}, "main_ratio": ...}. Ratios default to the profile's baselines entry; the first
    table ratio is the main one (both readings of HCT there; min_k elsewhere). ``seeds``: None for the
    profile's :func:`seed_plan`, or one list used by every run. ``image_datasets`` get tables at
    ``image_table_ratios`` (default: the profile's ``image_table_ratios``), with HCT under the profile's
    ``image_readings`` and both methods under its ``image_xhats`` (an ℓ_C other than min_k on the first
    ``image_reading_seeds`` of their seeds, an x̂ other than the sample on the first ``image_xhat_seeds``) at the
    main ratio, under ``image_other_tables`` (its ``n_seeds`` first seeds of each kind, its ``readings`` of ℓ_C and
    ``xhats``) at the others, and no sweep."""
    b = profile_settings(profile)["baselines"]
    table_ratios = tuple(float(r) for r in (b["table_ratios"] if table_ratios is None else table_ratios))
    sweep_ratios = tuple(float(r) for r in (b["sweep_ratios"] if sweep_ratios is None else sweep_ratios))
    if not table_ratios:
        raise ValueError("need at least one table ratio (the first is the main table's)")
    if seeds is None:
        seeds = seed_plan(profile)
    else:
        same = tuple(int(s) for s in seeds)
        if not same:
            raise ValueError("seeds must be None (the profile's) or a non-empty list of seeds")
        seeds = {group: {kind: same for kind in ("baseline", "hct", "spherical")} for group in ("main", "other", "conv")}
    main = table_ratios[0]

    def rows_at(ds, ratio):
        at_main = math.isclose(ratio, main)
        return table_rows(profile, ds, ratio, seeds["main" if at_main else "other"], n_clusters.get(ds),
                          readings=("min_k", "own_centre") if at_main else ("min_k",))

    tables = {(ds, r): rows_at(ds, r) for ds in datasets for r in table_ratios}
    image_ratios = tuple(float(r) for r in (b["image_table_ratios"] if image_table_ratios is None
                                            else image_table_ratios))
    if image_datasets and (not image_ratios or not math.isclose(image_ratios[0], main)):
        raise ValueError(f"the image sets' table ratios must start with the main ratio {main:g}; got {image_ratios}")
    # the image columns run v1's own reading (min_k, sampled x̂) unless the profile names more: each HCT run of
    # Algorithm 1's schedule on 60,000 images costs 12 to 30 CPU-minutes, so further readings may get fewer seeds
    n_image = b["image_seeds"]  # None: the tables' seeds; n: their first n (the image columns' compute budget)
    image_seeds = {group: {kind: tuple(s)[:n_image] for kind, s in by.items()} for group, by in seeds.items()}
    away = b["image_other_tables"]  # away from the main ratio: fewer seeds and readings (v4 Table 1's 5 lambda_max)
    away_seeds = {kind: s[:away["n_seeds"]] for kind, s in image_seeds["other"].items()}  # [:None] keeps them all

    def image_rows(ds, r):
        if math.isclose(r, main):
            return table_rows(profile, ds, r, image_seeds["main"], n_clusters.get(ds),
                              readings=tuple(b["image_readings"]), xhats=tuple(b["image_xhats"]),
                              n_reading_seeds=b["image_reading_seeds"], n_xhat_seeds=b["image_xhat_seeds"])
        return table_rows(profile, ds, r, away_seeds, n_clusters.get(ds), readings=tuple(away["readings"]),
                          xhats=tuple(away["xhats"]))

    tables.update({(ds, r): image_rows(ds, r) for ds in image_datasets for r in image_ratios})
    sweeps = {ds: {r: [row for row in (tables.get((ds, r)) or rows_at(ds, r)) if row.name in SWEEP_ROWS]
                   for r in sweep_ratios} for ds in datasets}
    conv = {ds: conv_rows(profile, ds, main, (image_seeds if ds in image_datasets else seeds)["conv"],
                          n_clusters.get(ds), spherical_conv_error)
            for ds in conv_datasets if ds in datasets or ds in image_datasets}
    return {"tables": tables, "sweeps": sweeps, "conv": conv, "main_ratio": main, "table_ratios": table_ratios,
            "sweep_ratios": sweep_ratios, "seeds": seeds}


def plan_configs(chapter_plan: dict) -> list:
    """The distinct configs of a :func:`plan`, costliest first (so two workers finish together)."""
    rows = [row for rs in chapter_plan["tables"].values() for row in rs]
    rows += [row for by_ratio in chapter_plan["sweeps"].values() for rs in by_ratio.values() for row in rs]
    rows += [row for rs in chapter_plan["conv"].values() for row in rs]
    configs = list(dict.fromkeys(c for row in rows for c in row.configs))
    return sorted(configs, key=estimated_cost, reverse=True)


def estimated_cost(config) -> float:
    """A rough cost (samples x epoch-equivalents) to order runs; not a measurement."""
    n = config.data_size
    conv = 2.5 if getattr(config, "architecture", "mlp") == "conv" else 1.0
    if isinstance(config, HCTConfig):
        return n * config.budget * 3 * conv
    epochs = config.epochs
    if isinstance(config, baselines.BaselineConfig) and config.method == "em_type":
        alternating = config.epochs if config.em_epochs is None else min(config.em_epochs, config.epochs)
        epochs += alternating * config.encoder_steps_max / 2
    if isinstance(config, SphericalConfig):
        epochs *= 1.5
    return n * epochs * conv


# ---- what the plan needs to know first --------------------------------------------------------------------------


def check_images_present(profile: str, images: list, store) -> None:
    """Before any work: an image set whose runs are neither stored nor computable (its prepared data absent) is
    refused with the command that installs it."""
    for name in images:
        if image_data.available(name):
            continue
        probe = baseline_rows(profile, name, 2.0, profile_settings(profile)["baselines"]["seeds"][:1],
                              names=("Vanilla VAE",))[0].configs[0]
        if store.lookup(probe)[0] is None:
            raise FileNotFoundError(image_data.missing_message(name))


def k_for(profile: str, dataset: str, store=None) -> int | str:
    """The Spherical VAE's K as chapter 05 chooses it: the true number, or the smallest K up to four times it that
    opens the region; where none does, the reason, in words (its rows then cannot run). Each K's clustering is a
    stored region run (:class:`hcvae.runs.region_runs.RegionConfig`, the run's own K-means settings), so a build
    reads the answer from the reference instead of refitting K-means on the image sets, whose files it may not
    have."""
    k = TRUE_CLUSTERS[dataset]
    c = spherical_configs(profile, dataset, 2.0, [0], k)[0]
    k_max = k_search_max(k, c.data_size)  # the range of the search the run's own error suggests
    for kk in range(k, k_max + 1):
        region = run(RegionConfig(dataset=dataset, n_samples=c.n_samples, shell=c.shell_reading, r_min=c.r_min,
                                  r_max=c.r_max, k=kk, seed=c.kmeans_seed, n_init=c.kmeans_n_init),
                     store=store, progress=False)["region"]
        if region["nonempty"]:
            return kk
    return (f"the feasible region [WCSS, L_collapse] is empty on {dataset}'s shell for every K from {k} to "
            f"{k_max} (WCSS ≥ L_collapse), so v4 Theorem 3.4's condition fails and the method has no region "
            "to train in")


def spherical_conv_error(profile: str, dataset: str, n_clusters) -> str | None:
    """Does the Spherical VAE accept the conv architecture? Its model builder says: None, or why not."""
    try:
        build_model(spherical_configs(profile, dataset, 2.0, [0], n_clusters, architecture="conv")[0], input_dim=2,
                    sigma2_decoder=1.0)
    except ValueError as err:
        return str(err)
    return None

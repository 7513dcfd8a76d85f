"""Chapter 06, the baselines: v1 Tables 1 and 2, v4 Table 1 and v1 Figure 5 rebuilt from stored runs.

:data:`chapter` is the single source of every number the chapter shows (:class:`BaselinesChapter`), computed in
the steps its page calls: :func:`plan_chapter` (every row of every table as configs), :func:`read_runs` (each run
read from the store or computed on Dask), :func:`overview` (the settings and seeds tables), :func:`tables` (ours
beside the papers' numbers, with verdicts), :func:`curves` (KL against σ'²/λ_max) and :func:`sentences`.
:func:`claims` are its rows of the claims ledger, read in the synthetic data's column. Nothing here trains, and no
config module imports this one, so it is outside the result store's code hash: editing it re-runs nothing.

The chapter's other modules: :mod:`~hcvae.chapters.baselines_paper` (the papers' numbers, typed once, and
:func:`paper_number`), :mod:`~hcvae.chapters.baselines_plan` (rows, plan, seeds, costs),
:mod:`~hcvae.chapters.baselines_tables` (from stored results to table rows, Markdown, verdict counts, curves) and
:mod:`~hcvae.chapters.baselines_text` (the computed sentences).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from hcvae.chapters import hct_report
from hcvae.chapters.base import Chapter, Parameters, parameter, scheduler_address
from hcvae.chapters.baselines_paper import CONV_PAPER_COLUMN, SPHERICAL, paper_points
from hcvae.chapters.baselines_plan import (check_images_present, k_for, plan, plan_configs, reading_name,
                                           spherical_conv_error)
from hcvae.chapters.baselines_tables import (beta_vanilla_pairs, ms_ssim_library, ratio_curves, short_verdict, table,
                                             verdict_counts)
from hcvae.chapters.baselines_text import sentences
from hcvae.chapters.ledger import across_datasets, Claim, Measurement, combine
from hcvae.chapters.numbers import fmt
from hcvae.chapters.rules import collapsed, margins
from hcvae.core.validation import Integer, ListOf, Options, Real, Text
from hcvae.methods.consensus import XHATS
from hcvae.runs import sweep
from hcvae.runs.profiles import IMAGE_SETS
from hcvae.runs.store import ResultStore

CHAPTER = "06-baselines"
BUILTIN = ("synthetic", "digits")


@dataclass(frozen=True)
class Params(Parameters):
    """Chapter 06's parameters (its notebook's ``parameters`` cell holds the same defaults)."""

    PAGE = CHAPTER
    IMAGE_SETTING = ("baselines", "image_datasets")

    datasets: list = parameter(list(BUILTIN), ListOf(Options(*BUILTIN)), "the data sets to run",
                               files_in="image_datasets")
    image_datasets: list | None = parameter(None, ListOf(Options(*IMAGE_SETS), empty=True, none="the profile's"),
                                            "the papers' image sets to add (None: the profile's)")
    table_ratios: list | None = parameter(None, ListOf(Real(0.0), none="the profile's"), "ratios of the tables")
    sweep_ratios: list | None = parameter(None, ListOf(Real(0.0), none="the profile's"), "ratios of the sweep")
    seeds: list | None = parameter(None, ListOf(Integer(0), none="the profile's"),
                                   "training seeds (None: the profile's)")
    scheduler: str | None = parameter(None, Text(none="a local cluster"), "a Dask scheduler address",
                                      extra=scheduler_address)
    n_workers: int = parameter(2, Integer(1), "local Dask workers")


# ---- the steps' results ----------------------------------------------------------------------------------------


@dataclass
class ChapterPlan:
    """What the chapter runs: its data sets, what the Spherical VAE can do on them, and every row as configs."""

    datasets: list  # the built-in data sets, then the image sets
    images: list  # the image sets among them (their runs stored, or their files present)
    k_used: dict  # data set -> the Spherical VAE's K (chapter 05's choice), or why no K opens the region
    spherical_conv_error: str | None  # why the Spherical VAE takes no conv architecture (None: it does)
    rows: dict  # :func:`hcvae.chapters.baselines_plan.plan`: "tables", "sweeps", "conv", ratios, "seeds"
    configs: list  # every distinct run, costliest first

    @property
    def main_ratio(self) -> float:
        return self.rows["main_ratio"]

    @property
    def other_ratios(self) -> list:
        return [r for r in self.rows["table_ratios"] if r != self.main_ratio]


@dataclass
class Runs:
    """The stored result of every planned run, and how this execution got them."""

    results: dict  # config -> stored result
    n_cached: int
    n_computed: int
    wall_time_s: float


@dataclass
class Tables:
    """The tables: per row, ours (mean ± sd over seeds) beside the papers' numbers, and the verdict."""

    mlp: dict  # (data set, ratio) -> :func:`table` rows (v1 Table 1, v4 Table 1)
    conv: dict  # data set -> :func:`table` rows of the conv VAE (v1 Table 2)
    counts: dict  # verdict -> rows, over every table
    main_counts: dict  # verdict -> rows, the main ratio's tables
    ms_ssim_library: str | None  # a maintained MS-SSIM library installed here, or None

    def row(self, dataset: str, ratio: float, name: str) -> dict:
        return next(r for r in self.mlp[(dataset, ratio)] if r["row"] == name)


@dataclass
class Curves:
    """KL against σ'²/λ_max (v1 Figure 5), the papers' points beside it, and what it shows."""

    by_dataset: dict  # data set -> :func:`ratio_curves`
    paper_points: dict  # data set -> :func:`hcvae.chapters.baselines_paper.paper_points`
    kept_above: dict  # data set -> the methods whose mean KL stays above 0.01 at some ratio above 1
    beta_pairs: dict  # data set -> :func:`beta_vanilla_pairs` (β = 2 at r against vanilla at 2r)


@dataclass
class BaselinesChapter:
    """Everything chapter 06 shows, computed once from the stored runs (``texts``: every sentence and Markdown
    table, by the name the notebook glues it under)."""

    params: Params
    plan: ChapterPlan
    runs: Runs
    overview: dict  # "settings", "seeds" -> (header, rows)
    tables: Tables
    curves: Curves
    texts: dict  # glue name -> Markdown
    findings: list


# ---- the chapter's steps, in the order its page calls them -------------------------------------------------------


def plan_chapter(p: Params, store=None) -> ChapterPlan:
    """Every row of the chapter as configs. First, before any work: each image set's runs stored or its files
    present (else the command that installs it), the Spherical VAE's K per data set, and whether it takes the
    conv architecture (its model builder says)."""
    store = store if store is not None else ResultStore()
    images = p.images
    check_images_present(p.profile, images, store)
    datasets = list(p.datasets) + images
    k_used = {ds: k_for(p.profile, ds, store) for ds in datasets}
    conv_datasets = [ds for ds in datasets if ds in CONV_PAPER_COLUMN]
    conv_error = spherical_conv_error(p.profile, conv_datasets[0], k_used[conv_datasets[0]]) if conv_datasets else None
    rows = plan(p.profile, p.datasets, k_used, conv_datasets, conv_error, table_ratios=p.table_ratios,
                sweep_ratios=p.sweep_ratios, seeds=p.seeds, image_datasets=images)
    return ChapterPlan(datasets, images, k_used, conv_error, rows, plan_configs(rows))


def read_runs(p: Params, chapter_plan: ChapterPlan, store=None, progress: bool | None = None) -> Runs:
    """Every planned run, read from the store (or the shipped reference) or computed on Dask (``p.scheduler``,
    ``p.n_workers``); a failed run stops the chapter."""
    configs = chapter_plan.configs
    res = sweep.run_sweep(configs, store=store, scheduler=p.scheduler, n_workers=p.n_workers, progress=progress)
    if not res.ok:
        raise RuntimeError(f"{len(res.failures)} run(s) failed; the first: {res.failures[0]['config']}: "
                           f"{res.failures[0]['error']}")
    return Runs(dict(zip(configs, res.results)), res.n_cached, res.n_computed, res.wall_time_s)


KINDS = (("baseline", "baselines"), ("hct", "HCT"), ("spherical", "Spherical VAE"))


def overview(chapter_plan: ChapterPlan, runs: Runs) -> dict:
    """The settings per data set and the seeds per kind of run: (header, rows) each."""
    rows, main, k_used = chapter_plan.rows, chapter_plan.main_ratio, chapter_plan.k_used
    setting_rows = []
    for ds in chapter_plan.datasets:
        at_main = rows["tables"][(ds, main)]
        base = next(r for r in at_main if r.name == "Vanilla VAE").configs[0]
        em = next(r for r in at_main if r.name == "EM-type VAE").configs[0]
        hct = next(r for r in at_main if r.kind == "hct").configs[0]
        sph = next(r for r in at_main if r.kind == "spherical")
        setting_rows.append((ds, base.data_size, base.epochs, base.batch_size, base.lr, base.warmup_epochs,
                             f"{em.encoder_check_every} / {em.encoder_steps_max}",
                             "all" if em.em_epochs is None else f"first {min(em.em_epochs, em.epochs)} of {em.epochs}",
                             hct.budget, sph.configs[0].epochs if sph.configs else "—",
                             "none opens the region" if isinstance(k_used[ds], str) else k_used[ds]))
    seeds = rows["seeds"]
    seed_rows = [[label, ", ".join(map(str, seeds["main"][kind])), ", ".join(map(str, seeds["other"][kind])),
                  ", ".join(map(str, seeds["conv"].get(kind, seeds["conv"]["hct"])))]
                 for kind, label in KINDS]
    header = ["runs", f"seeds at {main:g}·λ_max", "seeds at other ratios", "seeds, conv table"]
    away = [rs for (ds, r), rs in rows["tables"].items() if ds in chapter_plan.images and r != main]
    if away:  # the image sets' tables away from the main ratio run fewer seeds (read off their configs)
        header.append("seeds, image sets at other ratios")
        for row, (kind, _) in zip(seed_rows, KINDS):
            run_seeds = sorted({c.seed for rs in away for r in rs if r.kind == kind for c in r.configs})
            row.append(", ".join(map(str, run_seeds)) or "—")
    return {
        "settings": (["data", "samples", "epochs (baselines)", "batch", "lr", "KL warm-up epochs",
                      "EM-type inner check / cap", "EM-type alternates", "HCT epochs (all stages)",
                      "Spherical VAE epochs", "Spherical VAE K"], setting_rows),
        "seeds": (header, [tuple(r) for r in seed_rows])}


def tables(chapter_plan: ChapterPlan, runs: Runs) -> Tables:
    """Every table's rows (:func:`table`), the verdicts counted over all of them and over the main ratio's."""
    main, results = chapter_plan.main_ratio, runs.results
    mlp = {key: table(rows, results, *key) for key, rows in chapter_plan.rows["tables"].items()}
    conv = {ds: table(rows, results, ds, main, "conv") for ds, rows in chapter_plan.rows["conv"].items()}
    counts = verdict_counts(*mlp.values(), *conv.values())
    main_counts = verdict_counts(*(mlp[(ds, main)] for ds in chapter_plan.datasets))
    return Tables(mlp, conv, counts, main_counts, ms_ssim_library())


def curves(chapter_plan: ChapterPlan, runs: Runs) -> Curves:
    """KL against σ'²/λ_max per method and data set of the sweep, the papers' points (every data set's column),
    which methods stay above the collapse bound at some ratio above 1, and the β = 2 / vanilla pairs."""
    by_dataset = {ds: ratio_curves(by_ratio, runs.results) for ds, by_ratio in chapter_plan.rows["sweeps"].items()}
    survive = {ds: {name: [r for r, m in zip(c["ratios"], c["mean"]) if not collapsed(m)] for name, c in by.items()}
               for ds, by in by_dataset.items()}
    kept_above = {ds: [name for name, rs in by.items() if any(r > 1 for r in rs)] for ds, by in survive.items()}
    return Curves(by_dataset, {ds: paper_points(ds) for ds in chapter_plan.datasets}, kept_above,
                  {ds: beta_vanilla_pairs(by, beta=2) for ds, by in by_dataset.items()})


def compute(p: Params, store=None, progress: bool | None = None) -> BaselinesChapter:
    """The chapter, step by step as its page shows it."""
    chapter_plan = plan_chapter(p, store)
    runs = read_runs(p, chapter_plan, store, progress)
    settings = overview(chapter_plan, runs)
    tabs, sweep_curves = tables(chapter_plan, runs), curves(chapter_plan, runs)
    texts, findings = sentences(p, chapter_plan, runs, tabs, sweep_curves)
    return BaselinesChapter(p, chapter_plan, runs, settings, tabs, sweep_curves, texts, findings)


# ---- the ledger's rows ------------------------------------------------------------------------------------------

# the papers' own columns: the claims are read there (digits stands in for MNIST at another scale, and the
# *_train sets are not v1's counts: their rows stay in the tables, not in the ledger)
LEDGER_DATASETS = ("synthetic", "mnist", "fashion_mnist", "cifar10")


def _tables(profile: str) -> dict:
    """{data set: {ratio: table rows}} of the ledger's data sets this build has tables for."""
    ch = chapter(profile)
    out: dict = {}
    for (ds, ratio), rows in sorted(ch.tables.mlp.items()):
        if ds in LEDGER_DATASETS:
            out.setdefault(ds, {})[ratio] = rows
    return out


def _baseline_rows(profile: str):
    parts, verdicts, notes = [], {}, []
    for ds, by_ratio in _tables(profile).items():
        rows = [r for r in by_ratio.get(2.0, []) if r["kind"] == "baseline" and r["row"] != "Vanilla VAE"
                and r["verdict"] is not None]
        if not rows:
            continue
        parts += [f"{ds}, {r['row']}: KL {fmt(r['kl'])} vs {r['paper']['kl']:g} ({r['verdict']})" for r in rows]
        notes += [f"{ds}, {r['row']}: {n}" for r in rows for n in r.get("margins", [])]
        short = {short_verdict(r["verdict"]) for r in rows}
        verdicts[ds] = ("not comparable" if "not comparable" in short else
                        "reproduced" if short == {"reproduced"} else "not reproduced")
    if not parts:
        return Measurement("no table at 2·λ_max in this build", "not testable here")
    return Measurement("; ".join(parts), across_datasets(verdicts), verdicts, margins=tuple(notes))


def _violating_conditions(profile: str):
    """v1 §5.7 under each reading of ℓ_C (min_k, v1 eq. 8; own_centre, v4 eq. 7) and of x̂ the tables hold, per
    data set: a reading not run on a data set (the image columns run only some) has no verdict there."""
    parts, by_reading, notes, main_kl = [], {}, [], {}
    for ds, by_ratio in _tables(profile).items():
        for reading, x in itertools.product(hct_report.READINGS, XHATS):
            ok, label = [], f"{reading}, x̂ {x}"
            for ratio, rows in by_ratio.items():
                named = {r["row"]: r for r in rows if r.get("seeds")}
                hct = named.get(f"HCT{reading_name(reading, x)} (final single-cluster)")
                vanilla = named.get("Vanilla VAE")
                if hct is None or vanilla is None:
                    continue
                main_kl.setdefault((ds, label), hct["kl"])  # at the data set's first (main) table ratio
                ok.append(not collapsed(hct["kl"]) and collapsed(vanilla["kl"]))
                parts.append(f"{ds}, {label}, {ratio:g}·λ_max: HCT final KL {fmt(hct['kl'])}, vanilla "
                             f"{fmt(vanilla['kl'])}")
                notes += [f"{ds}, {label}, {ratio:g}·λ_max: {n}" for n in margins(hct["kl"], what="HCT's final KL")
                          + margins(vanilla["kl"], what="vanilla's KL")]
            if ok:
                by_reading[f"{ds}, {label}"] = "reproduced" if all(ok) else "not reproduced"
    if not parts:
        return Measurement("no HCT and vanilla rows at the table ratios of this profile", "not testable here")
    return Measurement("; ".join(parts), _verdict(by_reading), by_reading, margins=tuple(notes),
                       headline=_violating_headline(by_reading, main_kl))


def _violating_headline(by_reading: dict, main_kl: dict) -> str:
    """v1 §5.7 in one clause per reading: the data sets where HCT keeps KL while vanilla collapses (with HCT's final
    KL at the main ratio), then those where it does not."""
    clauses = []
    for label in dict.fromkeys(key.partition(", ")[2] for key in by_reading):
        held = [ds for (ds, lb) in main_kl if lb == label and by_reading[f"{ds}, {label}"] == "reproduced"]
        failed = [ds for (ds, lb) in main_kl if lb == label and ds not in held]
        text = ", ".join(f"{ds} (final KL {fmt(main_kl[(ds, label)])})" for ds in held) or "no data set"
        clauses.append(f"{label}: {text}" + (f", but not {', '.join(failed)}" if held and failed else ""))
    return "where HCT keeps KL > 0.01 and vanilla collapses — " + "; ".join(clauses)


def _verdict(by_reading: dict) -> str:
    """Per reading across the data sets (:func:`across_datasets`), then across the readings (:func:`combine`)."""
    readings: dict = {}
    for key, v in by_reading.items():
        ds, _, reading = key.partition(", ")
        readings.setdefault(reading, {})[ds] = v
    return combine({reading: across_datasets(by_ds) for reading, by_ds in readings.items()})


def _spherical_table1(profile: str):
    parts, by_reading, notes = [], {}, []
    for ds, by_ratio in _tables(profile).items():
        for x in XHATS:
            rows = [(ratio, r) for ratio, rs in by_ratio.items() for r in rs
                    if r["row"] == SPHERICAL + reading_name(None, x) and r.get("verdict") is not None]
            if not rows:
                continue
            short = {short_verdict(r["verdict"]) for _, r in rows}
            by_reading[f"{ds}, x̂ {x}"] = ("not comparable" if "not comparable" in short else
                                          "reproduced" if short == {"reproduced"} else "not reproduced")
            parts += [f"{ds}, x̂ {x}, {ratio:g}·λ_max: KL {fmt(r['kl'])} vs {r['paper']['kl']:g} ({r['verdict']})"
                      for ratio, r in rows]
            notes += [f"{ds}, x̂ {x}, {ratio:g}·λ_max: {n}" for ratio, r in rows for n in r.get("margins", [])]
    if not parts:
        return Measurement("no Spherical-VAE row with a paper number at this profile's ratios", "not testable here")
    return Measurement("; ".join(parts), _verdict(by_reading), by_reading, margins=tuple(notes))


def _claims() -> list:
    """Chapter 06's rows of the claims ledger (v1 Table 1, v1 §5.7, v4 Table 1), measured from :data:`chapter`
    in every column of the papers this build has (:data:`LEDGER_DATASETS`)."""
    return [
        Claim("table1-baselines", "v1", "Table 1", "KL of β-VAE, KL annealing and EM-type at σ'² = 2λ_max",
              "0.22–0.51 (not collapsed)", "averaged over 5 runs",
              "every row: within a factor 2 and on the same side of 0.01 (both collapsed also counts)", CHAPTER,
              _baseline_rows),
        Claim("figure5-violating", "v1", "§5.7, Figure 5", "KL under σ'² = 2λ_max and 5λ_max",
              "HCT keeps non-zero KL while vanilla collapses completely", "every data set of Table 1",
              "at every table ratio: HCT's final KL > 0.01 and vanilla's ≤ 0.01", CHAPTER, _violating_conditions),
        Claim("v4-table1-spherical", "v4", "Table 1", "KL of the Spherical VAE", "the printed value per ratio",
              "full constraints", "within a factor 2 and on the same side of 0.01 at every ratio with a printed value",
              CHAPTER, _spherical_table1),
    ]


def _ledger_runs(ch: BaselinesChapter) -> list[dict]:
    """The stored results chapter 06's ledger rows read (the ledger's data sets' tables), costliest first."""
    configs = {c for (ds, _), rows in ch.plan.rows["tables"].items() if ds in LEDGER_DATASETS for row in rows
               for c in row.configs}
    return [ch.runs.results[c] for c in ch.plan.configs if c in configs]


# The chapter: chapter(profile, **params) -> BaselinesChapter, cached per process (the image sets present and
# $HCVAE_DATA_DIR are part of the key); its ledger rows and the stored runs they read
chapter = Chapter(Params, compute, claims=_claims, runs=_ledger_runs)
claims, runs = chapter.claims, chapter.runs

"""The claims ledger: every quantitative claim of both papers the book tests, with its measurement and verdict.

Each :class:`hcvae.chapters.ledger.Claim` states where the paper makes it, the quantity,
the claimed value and conditions, the chapter that shows the evidence, and the
verdict rule, written before any run. Its ``measure(profile)`` recomputes the
measurement from the result store (runs are shared with the chapters, so nothing
is trained twice). The ledger is this module's claims followed by those of the
chapter modules in :data:`CHAPTER_MODULES` (whose ``chapter()`` is the single
source of their numbers); :func:`ledger` measures every claim and refuses a row
without a measurement or a verdict. Where a reading of the text decides, a
measurement carries the verdict of each reading.
"""

from __future__ import annotations

import functools


import numpy as np

from hcvae.chapters import ablations, baselines_report, diffusion_report, hct_report, phase, spherical_report
from hcvae.chapters.ledger import Claim, Measurement, VERDICTS, combine
from hcvae.methods.consensus import XHATS

# The chapter modules whose claims() join the ledger (each measured from its chapter() result), in book order.
CHAPTER_MODULES = (phase, hct_report, spherical_report, baselines_report, ablations, diffusion_report)


def _fmt(x: float) -> str:
    return f"{x:.3g}"


# ---- chapter 02: the historical barrier, without training --------------------------------------------------


@functools.lru_cache(maxsize=None)
def _fits(profile: str):
    from hcvae.methods.clustering import fit_gmms
    from hcvae.core.data import load_dataset
    from hcvae.core.data import TRUE_CLUSTERS
    from hcvae.runs.profiles import profile_settings

    settings = profile_settings(profile)["clusterings"]
    fits = {}
    for ds in ("synthetic", "digits"):
        x = load_dataset(ds, settings["n_samples"][ds], seed=0).x
        fits[ds] = (x, fit_gmms(x, TRUE_CLUSTERS[ds], settings["r0"]))
    return fits


def _theorem_4_4(profile: str) -> Measurement:
    from hcvae.methods.barrier import delta_bounds_collapse
    from hcvae.methods.clustering import READINGS

    verdicts, parts = {}, []
    for reading in READINGS:
        held = {ds: delta_bounds_collapse(x, cls, reading)["holds"] for ds, (x, cls) in _fits(profile).items()}
        verdicts[reading] = "reproduced" if all(held.values()) else "not reproduced"
        parts.append(f"{reading}: δ bounds every collapsed output on " + ", ".join(ds for ds, h in held.items() if h)
                     if any(held.values()) else f"{reading}: fails on every data set")
    return Measurement("; ".join(parts) + " (default EM start)", combine(verdicts))


def _lemma_4_3(profile: str) -> Measurement:
    from hcvae.methods.barrier import lemma_4_3
    from hcvae.methods.clustering import READINGS

    settings, failing = 0, 0
    for x, cls in _fits(profile).values():
        for reading in READINGS:
            settings += 1
            failing += any(r["counterexamples"] for r in lemma_4_3(x, cls, reading))
    return Measurement(f"a counterexample to F_(t+1) ⊂ F_t in {failing} of {settings} (data set, reading) settings",
                       "not reproduced" if failing else "reproduced")


# ---- chapter 03: v4's feasible region ----------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _regions():
    from hcvae.methods.clustering import feasible_region, fit_kmeans
    from hcvae.core.data import load_dataset
    from hcvae.core.data import TRUE_CLUSTERS
    from hcvae.methods.spherical import ShellTransform

    out = {}
    for ds in ("synthetic", "digits"):
        xs = ShellTransform(1.0, 2.0, "minmax").fit_transform(load_dataset(ds).x)
        out[ds] = feasible_region(xs, fit_kmeans(xs, TRUE_CLUSTERS[ds], seed=0, n_init=4))
    return out


def _identity(profile: str) -> Measurement:
    err = max(abs(r["identity_error"]) / r["tss"] for r in _regions().values())
    return Measurement(f"largest |TSS − WCSS − L_collapse| / TSS = {err:.1e}", "reproduced" if err < 1e-9 else "not reproduced")


def _region_nonempty(profile: str) -> Measurement:
    regions = _regions()
    parts = [f"{ds}: WCSS {_fmt(r['wcss'])} vs L_collapse {_fmt(r['l_collapse'])}" for ds, r in regions.items()]
    ok = all(r["wcss"] < r["l_collapse"] for r in regions.values())
    return Measurement("; ".join(parts) + " (shell minmax [1, 2], K = true number)", "reproduced" if ok else "not reproduced")


def tradeoff(profile: str, ratio: float = 2.0) -> dict:
    """Every method's final (KL, negative ELBO) per seed at ``ratio`` (v1's violating condition), per data set:
    {"raw": {method: [(kl, neg_elbo), ...]}, "raw_reference": vanilla's mean −ELBO, "shell": {...},
    "shell_reference": the plain VAE's on the shell data}. The Spherical VAE trains on shell data, so its
    likelihood is compared with a plain VAE on the same data, not with the raw-data methods."""
    from hcvae.runs import baselines, experiments

    hct, sph = hct_report.chapter(profile), spherical_report.chapter(profile)
    out = {}
    for ds in hct.params["datasets"]:
        raw: dict = {}
        for r in hct.results:
            c = r["config"]
            if c["dataset"] != ds or c["method"] == "vanilla":
                continue
            raw.setdefault(f"{c['method'].upper() if c['method'] == 'hct' else c['method']}, "
                           f"{c['reading'].replace('_', '-')}, x̂ {c['xhat']}", []).append(r)
        table = baselines.table_configs(profile, ds, sigma2_ratio=float(ratio))
        for label, cfgs in table.items():
            raw[label.split(" (")[0] if label.startswith("KL annealing") else label] = \
                experiments.run_all(cfgs, progress=False)
        variants = sph.ablation_results[ds]
        for x in XHATS:
            raw[f"cluster pull, x̂ {x}"] = variants[spherical_report.variant_name(spherical_report.CONTROL, x)]
        shell = {f"Spherical VAE, x̂ {x}": variants[spherical_report.variant_name("Full constraints", x)]
                 for x in XHATS}
        plain = sph.plain_results[ds]
        shell["plain VAE on the shell data"] = plain
        points = {name: [(r["metrics"]["kl"], r["metrics"]["neg_elbo"]) for r in rs] for name, rs in raw.items()}
        vanilla = points.get("Vanilla VAE", [])
        out[ds] = {"raw": points, "raw_reference": float(np.mean([p[1] for p in vanilla])) if vanilla else None,
                   "shell": {n: [(r["metrics"]["kl"], r["metrics"]["neg_elbo"]) for r in rs] for n, rs in shell.items()},
                   "shell_reference": float(np.mean([r["metrics"]["neg_elbo"] for r in plain]))}
    return out


# ---- the ledger --------------------------------------------------------------------------------------------

CLAIMS: list[Claim] = [
    Claim("theorem-4.4", "v1", "Theorem 4.4, Appendix A", "historical loss of any collapsed solution", "≥ δ > 0",
          "R₀ EM clusterings (16 in the paper profile), default EM start",
          "every constant output found scores ≥ δ, on both data sets", "02-historical-barrier", _theorem_4_4),
    Claim("lemma-4.3", "v1", "Lemma 4.3", "nesting of the feasible regions", "F_(t+1) ⊂ F_t",
          "halving rounds", "no reconstruction of the tested family lies in F_(t+1) but not in F_t",
          "02-historical-barrier", _lemma_4_3),
    Claim("tss-identity", "v4", "eq. 6", "TSS − WCSS − L_collapse", "0", "K-means on shell-transformed data",
          "relative error < 1e-9", "03-feasible-region", _identity),
    Claim("region-nonempty", "v4", "Theorem 3.4", "WCSS < L_collapse (a non-empty feasible region)", "holds",
          "the paper's data sets at their true K", "WCSS < L_collapse on both data sets", "03-feasible-region",
          _region_nonempty),
]


def all_claims() -> list[Claim]:
    """This module's claims, then each chapter module's, with ids checked unique."""
    claims = sorted([*CLAIMS, *(c for module in CHAPTER_MODULES for c in module.claims())], key=lambda c: c.chapter)
    ids = [c.id for c in claims]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ValueError(f"claim id(s) {', '.join(dup)} appear twice in the ledger")
    return claims


def ledger(profile: str, claims=None) -> list[dict]:
    """Measure every claim; each row holds the claim's fields, the measured value and the verdict."""
    rows = []
    for c in (all_claims() if claims is None else claims):
        m = c.measure(profile)
        if not isinstance(m, Measurement) or not m.value:
            raise ValueError(f"claim {c.id!r} has no measurement")
        if m.verdict not in VERDICTS:
            raise ValueError(f"claim {c.id!r} has verdict {m.verdict!r}; allowed: {', '.join(VERDICTS)}")
        rows.append({"id": c.id, "paper": c.paper, "where": c.where, "quantity": c.quantity, "claimed": c.claimed,
                     "conditions": c.conditions, "rule": c.rule, "chapter": c.chapter, "measured": m.value,
                     "verdict": m.verdict, "by_reading": dict(m.by_reading)})
    return rows


def runs_used(profile: str) -> list[dict]:
    """Every stored run the ledger's measurements read (for the report's compute summary)."""
    runs = []
    for module in CHAPTER_MODULES:
        runs += module.runs(profile)
    return runs


def verdict_counts(rows: list[dict]) -> dict:
    return {v: sum(r["verdict"] == v for r in rows) for v in VERDICTS}

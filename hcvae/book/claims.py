"""The claims ledger: every quantitative claim of both papers the book tests, with its measurement and verdict.

Each :class:`hcvae.chapters.ledger.Claim` states where the paper makes it, the quantity,
the claimed value and conditions, the chapter that shows the evidence, and the
verdict rule, written before any run. Its ``measure(profile)`` recomputes the
measurement from the result store (runs are shared with the chapters, so nothing
is trained twice). The ledger is the claims of the chapter modules in
:data:`hcvae.chapters.pages.CHAPTERS`, each measured from its chapter's ``chapter()``, the single
source of that chapter's numbers (so a verdict is computed once, where the
chapter computes it); :func:`ledger` measures every claim and refuses a row
without a measurement or a verdict. Where a reading of the text decides, a
measurement carries the verdict of each reading.
"""

from __future__ import annotations

import numpy as np

from hcvae.chapters import hct_report, spherical_report
from hcvae.chapters.pages import CHAPTERS
from hcvae.chapters.ledger import Claim, Measurement, VERDICTS, combine  # noqa: F401 (the ledger's types)
from hcvae.methods.consensus import XHATS
from hcvae.runs import baselines, runner



def _fmt(x: float) -> str:
    return f"{x:.3g}"


def tradeoff(profile: str, ratio: float = 2.0) -> dict:
    """Every method's final (KL, negative ELBO) per seed at ``ratio`` (v1's violating condition), per data set:
    {"raw": {method: [(kl, neg_elbo), ...]}, "raw_reference": vanilla's mean −ELBO, "shell": {...},
    "shell_reference": the plain VAE's on the shell data}. The Spherical VAE trains on shell data, so its
    likelihood is compared with a plain VAE on the same data, not with the raw-data methods."""
    hct, sph = hct_report.chapter(profile), spherical_report.chapter(profile)
    out = {}
    for ds in hct.params.datasets:
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
                runner.run_all(cfgs, progress=False)
        variants = sph.ablation[ds]
        for x in XHATS:
            raw[f"cluster pull, x̂ {x}"] = variants[spherical_report.variant_name(spherical_report.CONTROL, x)]
        shell = {f"Spherical VAE, x̂ {x}": variants[spherical_report.variant_name("Full constraints", x)]
                 for x in XHATS}
        plain = sph.sweep.plain_results[ds]
        shell["plain VAE on the shell data"] = plain
        points = {name: [(r["metrics"]["kl"], r["metrics"]["neg_elbo"]) for r in rs] for name, rs in raw.items()}
        vanilla = points.get("Vanilla VAE", [])
        out[ds] = {"raw": points, "raw_reference": float(np.mean([p[1] for p in vanilla])) if vanilla else None,
                   "shell": {n: [(r["metrics"]["kl"], r["metrics"]["neg_elbo"]) for r in rs] for n, rs in shell.items()},
                   "shell_reference": float(np.mean([r["metrics"]["neg_elbo"] for r in plain]))}
    return out


# ---- the ledger --------------------------------------------------------------------------------------------

def all_claims() -> list[Claim]:
    """Every chapter module's claims in chapter order, with ids checked unique."""
    claims = sorted((c for chapter in CHAPTERS.values() for c in chapter.claims()), key=lambda c: c.chapter)
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
                     "verdict": m.verdict, "by_reading": dict(m.by_reading), "margins": list(m.margins)})
    return rows


def runs_used(profile: str) -> list[dict]:
    """Every stored run the ledger's measurements read (for the report's compute summary)."""
    runs = []
    for chapter in CHAPTERS.values():
        runs += chapter.runs(profile)
    return runs


def verdict_counts(rows: list[dict]) -> dict:
    return {v: sum(r["verdict"] == v for r in rows) for v in VERDICTS}

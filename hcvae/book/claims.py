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

import re

import numpy as np

from hcvae.chapters import hct_report, spherical_report
from hcvae.chapters.pages import CHAPTERS
from hcvae.chapters.ledger import (MARKS, Claim, Measurement, VERDICTS, across_datasets,  # noqa: F401 (the
                                   combine)  # ledger's types)
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
                     "conditions": c.conditions, "rule": c.rule, "chapter": c.chapter, "measured": m.value, "headline": m.headline,
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


# ---- the answer at a glance ----------------------------------------------------------------------------------

READING_ORDER = ("min_k, x̂ sample", "min_k, x̂ mean", "own_centre, x̂ sample", "own_centre, x̂ mean", "min_k",
                 "own_centre", "x̂ sample", "x̂ mean")
DATASET_ORDER = ("synthetic", "digits", "mnist", "fashion_mnist", "cifar10")


def _split(key: str) -> tuple[str | None, str | None]:
    """A by-reading key as (data set, reading): "synthetic, min_k, x̂ sample" -> ("synthetic", "min_k, x̂ sample");
    a data set alone -> (data set, None); a key without a data set in front -> (None, key)."""
    if key in DATASET_ORDER:
        return key, None
    head, _, rest = key.partition(", ")
    return (head, rest) if rest and head in DATASET_ORDER else (None, key)


def scoreboard(rows: list[dict]) -> dict:
    """Every claim against every data set and every reading it was measured under: {"datasets": the data sets some
    claim names, "columns": readings in a fixed order, "rows": [{"id", "label", "chapter", "verdict", "by_dataset":
    {data set: verdict}, "cells": {reading: verdict}}]}; a reading measured on several data sets (or a data set
    under several readings) gets their combined verdict (:func:`hcvae.chapters.ledger.across_datasets` over data
    sets, :func:`hcvae.chapters.ledger.combine` over readings)."""
    datasets, columns, out = [], [], []
    for r in rows:
        by_reading, by_dataset = {}, {}
        for key, verdict in r["by_reading"].items():
            ds, reading = _split(key)
            if reading is not None:
                by_reading.setdefault(reading, {})[key] = verdict
            if ds is not None:
                by_dataset.setdefault(ds, {})[key] = verdict
        cells = {reading: across_datasets(v) for reading, v in by_reading.items()}
        columns += [c for c in cells if c not in columns]
        datasets += [d for d in by_dataset if d not in datasets]
        out.append({"id": r["id"], "label": f"{r['paper']} {r['where']}: {r['quantity']}", "chapter": r["chapter"],
                    "verdict": r["verdict"], "cells": cells,
                    "by_dataset": {ds: combine(v) for ds, v in by_dataset.items()}})
    order = [c for c in READING_ORDER if c in columns] + sorted(c for c in columns if c not in READING_ORDER)
    return {"datasets": [d for d in DATASET_ORDER if d in datasets], "columns": order, "rows": out}


_VERDICT_NOTE = re.compile(r" \((?:not comparable|reproduced|not reproduced)\b.*$")
_DIFFERS = re.compile(r"the setting differs: (.*)$")


HEADLINE_CHARS = 140  # a measurement this short is shown whole; a longer one by its first clause


def headline(row: dict) -> str:
    """Our number under the book's default reading: the claim's own headline where its measurement gives one, else
    the measurement without the verdict notes the ledger's verdict column repeats, whole where it is short and by
    its first clause (the book's default reading, or the first data set) and "…" where it is not; every clause is
    in the report's detail."""
    if row.get("headline"):
        return row["headline"]
    clauses = [_VERDICT_NOTE.sub("", c) for c in row["measured"].split("; ")]
    whole = "; ".join(clauses)
    return whole if len(whole) <= HEADLINE_CHARS else clauses[0] + "; …"


def differs(row: dict) -> str:
    """How a not-comparable row's setting differs from the paper's ("samples 5000 (the paper: 50000)"), or ""."""
    m = _DIFFERS.search(row["measured"].split("; ")[0])
    if not m:
        return ""
    text = m.group(1)
    while text.count(")") > text.count("("):  # the closing brackets of the notes around it
        text = text[:-1]
    return text


def compact_rows(rows: list[dict]) -> tuple[list, list]:
    """The compact ledger (header, rows): the claim, the paper's number, ours under the default reading, the
    verdict as its mark and word, and the verdicts under the other readings as marks (:data:`MARKS`)."""
    board = {b["id"]: b for b in scoreboard(rows)["rows"]}
    out = []
    for r in rows:
        cells = board[r["id"]]["cells"]
        marks = "; ".join(f"{MARKS[v]} {reading}" for reading, v in cells.items())
        verdict = f"{MARKS[r['verdict']]} {r['verdict']}" + (" (at the threshold)" if r["margins"] else "")
        out.append((f"{r['paper']} {r['where']}: {r['quantity']}", r["claimed"], headline(r), verdict, marks or "—"))
    return ["claim", "the paper", "ours (default reading)", "verdict", "under each reading"], out


# each verdict as the predicate of "the claim is ...", for the intro's sentences
VERDICT_PREDICATES = {
    "reproduced": "reproduced",
    "not reproduced": "not reproduced",
    "depends on reading": "reproduced under some readings of the text and not under others",
    "not comparable": "not comparable",
    "not testable here": "not testable here",
}


def _verdict_phrase(row: dict) -> str:
    """The verdict and our number in a sentence: "**verdict**: headline", the verdict as the predicate of "is"
    (:data:`VERDICT_PREDICATES`), with how the setting differs where the row is not comparable."""
    why = differs(row)
    first = headline(row).removesuffix("; …")
    return f"**{VERDICT_PREDICATES[row['verdict']]}**: {first}" + (
        f", on a setting other than the paper's ({why})" if row["verdict"] == "not comparable" and why else "")


def findings(rows: list[dict]) -> str:
    """The book's answer in a few sentences, from the ledger: the counts, then the headline claims of the theory both
    papers rest on, of v1 (HCT keeps KL where a vanilla VAE collapses) and of v4 (the Spherical VAE's KL)."""
    counts = verdict_counts(rows)
    by_id = {r["id"]: r for r in rows}

    def counted(verdict: str, one: str, many: str) -> str:  # the verb agrees with the count
        n = counts[verdict]
        return f"{n} {one if n == 1 else many}"

    parts = [f"Of the {len(rows)} claims of both papers this book tests, "
             f"{counted('reproduced', 'reproduces', 'reproduce')}, {counted('not reproduced', 'does not', 'do not')}, "
             f"{counted('depends on reading', 'depends', 'depend')} on how an ambiguous passage is read, and "
             f"{counted('not comparable', 'was', 'were')} measured on another setting than the paper's"
             + (f" ({counts['not testable here']} cannot be tested here)" if counts["not testable here"] else "") + "."]
    theory = by_id.get("phase-threshold")
    if theory:
        parts.append(f"The phase transition both papers rest on is {_verdict_phrase(theory)}.")
    v1 = by_id.get("figure5-violating")
    if v1:
        parts.append("v1's headline, that Historical Consensus Training keeps the KL up at σ'² = 2·λ_max where a "
                     f"vanilla VAE collapses, is {_verdict_phrase(v1)}.")
    v4 = by_id.get("v4-table1-spherical")
    if v4:
        parts.append(f"v4's Spherical VAE against its Table 1 is {_verdict_phrase(v4)}.")
    return " ".join(parts)


def dataset_counts(rows: list[dict]) -> tuple[list, list]:
    """Per data set a claim was measured on (the scoreboard's data-set cells), how many claims reproduce, do not,
    depend on the reading or are not comparable there (header, rows)."""
    board = scoreboard(rows)
    out = []
    for ds in board["datasets"]:
        cells = [r["by_dataset"][ds] for r in board["rows"] if ds in r["by_dataset"]]
        out.append((ds, len(cells), *(sum(c == v for c in cells) for v in VERDICTS)))
    return ["data set", "claims measured there", *VERDICTS], out

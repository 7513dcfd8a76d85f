"""From chapter 06's stored results to its tables and curves: rows beside the paper's numbers, with verdicts.

* :func:`table`: per row of a :func:`hcvae.chapters.baselines_plan.plan`, our mean ± sd over seeds of every
  metric, the paper's numbers (:func:`hcvae.chapters.baselines_paper.paper_number`) and the verdict
  (:func:`hcvae.chapters.rules.kl_verdict`, fixed before any run; "not comparable" where the setting differs);
* :func:`markdown`: one MyST table of those rows (the chapter's one table formatter; the settings and seeds tables
  are plain (header, rows) that the page formats); :func:`verdict_counts`;
* :func:`ratio_curves` (v1 Figure 5) and :func:`beta_vanilla_pairs`, the β-VAE's loss identity read off them;
* :func:`ms_ssim_library`: whether a maintained MS-SSIM library is installed (v1 Table 2's third column).
"""

from __future__ import annotations

import importlib.util
from collections import Counter

import numpy as np

from hcvae.chapters.baselines_paper import COLUMN_NAMES, PAPER_SIZES, paper_number
from hcvae.chapters.baselines_plan import Row
from hcvae.chapters.ledger import not_comparable, setting_differs
from hcvae.chapters.numbers import downloadable, mean_sd
from hcvae.chapters.rules import AT_THRESHOLD, kl_verdict, margins
from hcvae.core.data import TRUE_CLUSTERS

METRICS = ("kl", "active_burda", "active_paper", "mse", "neg_elbo")
VERDICTS = ("reproduced", "same side of 0.01 only", "not reproduced", "not comparable")
MS_SSIM_LIBRARIES = ("pytorch_msssim", "piq", "torchmetrics")  # maintained libraries that compute MS-SSIM


def metrics_of(result: dict, stage: str | None = None) -> dict:
    """The table's metrics of one stored result: the final model's, or an HCT stage's (record["stage_end"])."""
    m = result["record"]["stage_end"][stage] if stage is not None else result["metrics"]
    missing = [k for k in METRICS if k not in m]
    if missing:
        raise KeyError(f"the result has no {', '.join(missing)}" + (f" at stage {stage!r}" if stage else ""))
    return {k: float(m[k]) for k in METRICS}


def summarise(per_seed: list[dict]) -> dict:
    """{metric: (mean, standard deviation over seeds)} and "n"; the sd is the population one (0 for one seed)."""
    if not per_seed:
        raise ValueError("no runs to summarise")
    out = {k: (float(np.mean([m[k] for m in per_seed])), float(np.std([m[k] for m in per_seed]))) for k in METRICS}
    out["n"] = len(per_seed)
    return out


def table(rows: list[Row], results: dict, dataset: str, ratio: float, architecture: str = "mlp") -> list[dict]:
    """One table: per row, our mean ± sd over seeds of every metric, the paper's numbers and the verdict.

    ``results`` maps each config to its stored result. A row that cannot run has its reason in ``note``.
    """
    out = []
    for row in rows:
        paper = paper_number(row.compared_with, dataset, ratio, architecture)
        entry = {"row": row.name, "kind": row.kind, "dataset": dataset, "ratio": float(ratio), "reading": row.reading,
                 "architecture": architecture, "paper": paper, "note": row.unavailable}
        if row.unavailable is not None:
            out.append({**entry, "seeds": 0, "verdict": None})
            continue
        per_seed = [metrics_of(results[c], row.stage) for c in row.configs]
        s = summarise(per_seed)
        verdict = kl_verdict(s["kl"][0], None if paper is None else paper["kl"])
        differs = None
        if paper is not None:
            ours = {"dataset": COLUMN_NAMES.get(dataset, dataset), "n_samples": results[row.configs[0]]["data"]["n"]}
            theirs = {"dataset": COLUMN_NAMES[paper["column"]], "n_samples": PAPER_SIZES[paper["column"]]}
            if row.kind == "spherical":  # v4 clusters into the data set's classes: another K is another setting
                ours["K"], theirs["K"] = row.configs[0].k, TRUE_CLUSTERS.get(paper["column"])
            differs = setting_differs(ours, theirs)
        if differs:
            verdict = not_comparable(differs)
        notes = margins(s["kl"][0], paper["kl"]) if verdict is not None and not differs else []
        out.append({**entry, "seeds": s.pop("n"), "runs": [m["kl"] for m in per_seed],
                    "per_seed": {k: [m[k] for m in per_seed] for k in METRICS}, **{k: v[0] for k, v in s.items()},
                    **{f"{k}_sd": v[1] for k, v in s.items()}, "verdict": verdict, "setting_differs": differs,
                    "margins": notes})
    return out


def _pm(runs: list[float], digits: int = 3):
    return mean_sd(runs, digits)


def cells(rows: list[dict], ms_ssim: bool = False) -> tuple[list, list]:
    """A compact table of :func:`table` rows (header, rows): ours (mean ± sd over seeds) beside the paper's, KL
    then active units (Burda's count / v1's), MSE, −ELBO, verdict. The papers' numbers print as printed; which
    table and column they come from is :func:`sources`, and why a row is not comparable :func:`differences`."""
    header = ["method", "KL, ours", "KL, paper", "active units, ours (Burda / v1)", "active, paper", "MSE, ours",
              "−ELBO, ours", "verdict"]
    if ms_ssim:
        header.insert(5, "MS-SSIM, paper")
    out = []
    for r in rows:
        p = r["paper"]
        paper_kl = "—" if p is None else f"{p['kl']:.2f}"
        paper_active = "—" if p is None else f"{p['active']:g}"
        if r["note"] is not None:
            row = [r["row"], f"cannot run: {r['note']}", paper_kl, "—", paper_active, "—", "—", "—"]
        else:
            per = r["per_seed"]
            verdict = r["verdict"] or "no paper number"
            verdict = ("not comparable" if r.get("setting_differs") else verdict) + (
                f" ({AT_THRESHOLD})" if r.get("margins") else "")
            row = [r["row"], _pm(per["kl"]), paper_kl,
                   f"{_pm(per['active_burda'], 2).split(' (')[0]} / {_pm(per['active_paper'], 2).split(' (')[0]}",
                   paper_active, _pm(per["mse"]), _pm(per["neg_elbo"], 4), verdict]
        if ms_ssim:
            row.insert(5, "—" if p is None or "ms_ssim" not in p else f"{p['ms_ssim']:.2f}")
        out.append(tuple(row))
    return header, out


def sources(rows: list[dict]) -> str:
    """Where the rows' paper numbers come from, e.g. "v1 Table 1 (CIFAR-10 column)"."""
    seen = dict.fromkeys(f"{r['paper']['source']} ({COLUMN_NAMES[r['paper']['column']]} column)"
                         for r in rows if r["paper"] is not None)
    return "; ".join(seen) or "no paper number"


def differences(rows: list[dict]) -> str:
    """Why the rows marked "not comparable" are not: each distinct difference of setting once."""
    return "; ".join(dict.fromkeys(r["setting_differs"] for r in rows if r.get("setting_differs")))


def markdown(name: str, rows: list[dict], ms_ssim: bool = False) -> str:
    """:func:`cells` as a MyST table with its CSV link (``name``.csv), the paper's sources and, where some row's
    setting differs from the paper's, how, beneath it."""
    text = downloadable(name, *cells(rows, ms_ssim)) + f"\n\nPaper numbers: {sources(rows)}."
    why = differences(rows)
    return text + (f" Not comparable: {why}." if why else "")


def short_verdict(verdict: str) -> str:
    """A verdict without its explanation ("not comparable (the setting differs: ...)" -> "not comparable")."""
    return "not comparable" if verdict.startswith("not comparable") else verdict


def verdict_counts(*tables: list[dict]) -> dict:
    """How many rows got each verdict, over every table given (rows without a paper number are not counted)."""
    counts = Counter(short_verdict(r["verdict"]) for t in tables for r in t if r["verdict"] is not None)
    return {v: counts.get(v, 0) for v in VERDICTS}


def ratio_curves(rows_by_ratio: dict, results: dict) -> dict:
    """KL against sigma'^2 / lambda_max per method (v1 Figure 5): {row name: {"ratios", "mean", "sd", "runs"}},
    ratios ascending; ``rows_by_ratio`` maps a ratio to its rows."""
    curves: dict = {}
    for ratio in sorted(rows_by_ratio):
        for row in rows_by_ratio[ratio]:
            if row.unavailable is not None:
                continue
            kls = [metrics_of(results[c], row.stage)["kl"] for c in row.configs]
            c = curves.setdefault(row.name, {"ratios": [], "mean": [], "sd": [], "runs": []})
            c["ratios"].append(float(ratio))
            c["mean"].append(float(np.mean(kls)))
            c["sd"].append(float(np.std(kls)))
            c["runs"].append(kls)
    return curves


def beta_vanilla_pairs(curves: dict, beta: int = 2) -> list[dict]:
    """The loss identity of a fixed-variance β-VAE, checked on a KL-against-ratio sweep.

    ‖x − x̂‖²/(2σ'²) + β·KL is β times the vanilla loss at decoder variance β·σ'² (up to a constant), so the
    β-VAE at ratio r and a vanilla VAE at β·r share their optimum. For every r of the sweep with β·r also in it:
    {"ratio", "kl_beta", "kl_vanilla", "agree"}, where ``agree`` applies the tables' rule (:func:`kl_verdict`)
    to the two KL values. ``curves`` is :func:`ratio_curves` output; empty without both rows.
    """
    b, v = curves.get(f"β-VAE (β={beta})"), curves.get("Vanilla VAE")
    if b is None or v is None:
        return []
    vanilla_at = dict(zip(v["ratios"], v["mean"]))
    return [{"ratio": r, "kl_beta": kl, "kl_vanilla": vanilla_at[beta * r],
             "agree": kl_verdict(kl, vanilla_at[beta * r]) == "reproduced"}
            for r, kl in zip(b["ratios"], b["mean"]) if beta * r in vanilla_at]


def ms_ssim_library() -> str | None:
    """The first maintained MS-SSIM library importable here, or None."""
    return next((name for name in MS_SSIM_LIBRARIES if importlib.util.find_spec(name) is not None), None)

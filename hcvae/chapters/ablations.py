"""Chapter 07, the sensitivity claims of both papers, and how the ablation chapter reads its sweeps.

Each claim is a shape over one swept parameter; its verdict rule is fixed here,
before any run, and computed from the mean final KL per value (v1 measures
"performance" by final KL). Where every point collapsed (mean KL < 0.01) there is
no ordering to compare and the verdict says so.

:data:`chapter` is the single source of every number the chapter shows (:class:`AblationsChapter`): the grid files
(:func:`grids`), every point of them run or read through the result store on Dask (:func:`run_grids`), the mean
final KL per value (:func:`summaries`), each claim's verdict (:func:`verdicts`), the chapter's tables and its
sentences; :func:`claims` are its rows of the claims ledger, measured from the same result.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hcvae.chapters.numbers import fmt
from hcvae.chapters.base import Chapter, ParameterError, Parameters, parameter, scheduler_address
from hcvae.chapters.ledger import Claim, Measurement, combine
from hcvae.chapters.rules import COLLAPSE_KL
from hcvae.core.validation import Integer, Text
from hcvae.runs import sweep
from hcvae.runs.hct import HCTConfig
from hcvae.runs.store import ROOT

SATURATION_TOL = 0.1  # relative change of KL counted as "saturated"

CLAIMS = {
    "r0": "v1 §5.5.1: final KL improves with R0 up to 16, then saturates",
    "epsilon": "v1 §5.5.2: the smallest epsilon (1e-5) gives the best final KL",
    "keep_ratio": "v1 §5.5.3: keeping 1/2 each round performs best",
    "beta": "v1 Appendix C.2: the best beta lies in [2, 3]",
    "r_min": "v4 §4.4: an intermediate inner radius balances region width and reconstruction (values lost)",
    "lambda_boundary": "v4 §4.4: the penalty weight enforces the constraint without destabilising training (values lost)",
}


def reading_of(config: dict) -> str:
    """The readings an HCT run makes of the ambiguous text: "min_k, x̂ sample" etc. (entries made before the x_hat
    option decoded the posterior mean)."""
    return f"{config['reading']}, x̂ {config.get('xhat', 'mean')}"


def summarise(results: list[dict], param: str, group=reading_of, metric=lambda r: r["metrics"]["kl"]) -> dict:
    """{group value: {"values": sorted param values, "mean": ..., "sd": ..., "n": ...}} of ``metric`` over seeds;
    ``group`` is a config field, a function of the config dict, or None (one group, "-")."""
    out: dict = {}
    for r in results:
        c = r["config"]
        key = "-" if group is None else group(c) if callable(group) else c.get(group, "-")
        out.setdefault(key, {}).setdefault(c[param], []).append(metric(r))
    summary = {}
    for key, by_value in out.items():
        values = sorted(by_value)
        arrays = [np.asarray(by_value[v], dtype=float) for v in values]
        summary[key] = {"values": values, "mean": [float(a.mean()) for a in arrays],
                        "sd": [float(a.std()) for a in arrays], "n": [int(a.size) for a in arrays]}
    return summary


def _best(curve) -> tuple[float, float]:
    i = int(np.argmax(curve["mean"]))
    return curve["values"][i], curve["mean"][i]


def verdict(param: str, curve: dict) -> str:
    """The computed verdict of the claim on ``param`` for one curve of :func:`summarise`."""
    values, kl = curve["values"], np.asarray(curve["mean"])
    if kl.max() < COLLAPSE_KL:
        return f"not reproduced: every point collapsed (largest mean KL {fmt(kl.max(), 2)} < {COLLAPSE_KL})"
    best_value, best_kl = _best(curve)
    flat = kl.max() - kl.min() <= SATURATION_TOL * kl.max()
    if param in ("epsilon", "keep_ratio", "beta") and flat:
        return f"not reproduced: no effect (mean KL {fmt(kl.min())} to {fmt(kl.max())}, within {SATURATION_TOL:.0%})"
    if param == "r0":
        if 16 not in values or 32 not in values:
            return "not testable on this grid (needs R0 = 16 and 32)"
        k = dict(zip(values, kl))
        improves = k[16] > k[min(values)]
        saturates = abs(k[32] - k[16]) <= SATURATION_TOL * max(k[16], COLLAPSE_KL)
        return ("reproduced" if improves and saturates else "not reproduced") + \
            f": KL({min(values)}) = {fmt(k[min(values)])}, KL(16) = {fmt(k[16])}, KL(32) = {fmt(k[32])}"
    if param == "epsilon":
        ok = best_value == min(values)
        return ("reproduced" if ok else "not reproduced") + f": best epsilon {best_value:g} (KL {fmt(best_kl)})"
    if param == "keep_ratio":
        ok = abs(best_value - 0.5) < 1e-9
        return ("reproduced" if ok else "not reproduced") + f": best ratio {fmt(best_value)} (KL {fmt(best_kl)})"
    if param == "beta":
        ok = 2.0 <= best_value <= 3.0
        return ("reproduced" if ok else "not reproduced") + f": best beta {best_value:g} (KL {fmt(best_kl)})"
    return f"no numerical claim (the paper's figure was lost): best value {best_value:g} (KL {fmt(best_kl)})"


# ---- the chapter's parameters -----------------------------------------------------------------------------------

CHAPTER = "07-ablations"
GRIDS = {"r0": "hct_r0.toml", "epsilon": "hct_epsilon.toml", "keep_ratio": "hct_keep_ratio.toml", "beta": "hct_beta.toml",
         "r_min": "spherical_r_min.toml", "lambda_boundary": "spherical_lambda.toml"}
V1_PARAMS = ("r0", "epsilon", "keep_ratio", "beta")
V4_PARAMS = ("r_min", "lambda_boundary")
V4_NAMES = {"r_min": "inner radius r_min", "lambda_boundary": "boundary weight λ₁"}


def _grid_folder(name: str, value) -> None:
    if not Path(value).is_dir():
        raise ParameterError(f"parameter {name!r} must be an existing folder or None; {value!r} is not a folder")


@dataclass(frozen=True)
class Params(Parameters):
    """Chapter 07's parameters (its notebook's ``parameters`` cell holds the same defaults)."""

    PAGE = CHAPTER

    grid_dir: str | None = parameter(None, Text(none=True), "folder of the grid files; None: notebooks/grids/<profile>",
                                     extra=_grid_folder)
    scheduler: str | None = parameter(None, Text(none=True), "a Dask scheduler address, e.g. 'tcp://10.0.0.5:8786'; "
                                      "None: a local cluster", extra=scheduler_address)
    n_workers: int = parameter(2, Integer(1), "local Dask workers (ignored with a scheduler)")

    @property
    def grid_folder(self) -> Path:
        """The folder the grid files are read from."""
        return Path(self.grid_dir) if self.grid_dir else ROOT / "notebooks" / "grids" / self.profile


@dataclass
class Sweep:
    """The sweep's points: the grids, their results, and what this execution read from the store or computed."""

    grid_dir: Path  # the folder the grids were read from
    grids: dict  # param -> configs
    results: dict  # param -> results, in the grid's order
    n_points: int
    n_unique: int
    n_cached: int
    n_computed: int
    wall_time_s: float


@dataclass
class AblationsChapter:
    """Everything chapter 07 shows, computed once from the stored sweeps."""

    params: Params
    sweep: Sweep
    summaries: dict  # param -> summarise(...) (v1: one curve per reading; v4: one curve)
    verdicts: dict  # (param, reading) -> verdict text
    tables: dict  # "v1", "eps", "v4" -> (header, rows)
    texts: dict  # name -> a sentence (Markdown) or a number the page quotes
    findings: list  # one line per (claim, reading)


# ---- the chapter's steps, in the order its page calls them -------------------------------------------------------


def grids(p: Params) -> dict:
    """param -> the configs of its grid file (:data:`GRIDS`); every point is validated before anything runs."""
    return {param: sweep.load_grid(p.grid_folder / name, profile=p.profile) for param, name in GRIDS.items()}


def run_grids(p: Params, grids: dict, store=None, progress: bool | None = None) -> Sweep:
    """Every distinct point of the grids, read from the result store or run on Dask (a local cluster, or
    ``p.scheduler``'s); a failed point stops the chapter, naming it."""
    unique = list(dict.fromkeys(c for configs in grids.values() for c in configs))  # shared points run once
    res = sweep.run_sweep(unique, store=store, scheduler=p.scheduler, n_workers=p.n_workers, progress=progress)
    if not res.ok:
        raise RuntimeError(f"{len(res.failures)} point(s) failed; the first: {res.failures[0]['config']}: "
                           f"{res.failures[0]['error']}")
    by_config = dict(zip(unique, res.results))
    results = {param: [by_config[c] for c in configs] for param, configs in grids.items()}
    return Sweep(p.grid_folder, grids, results, sum(len(c) for c in grids.values()), len(unique), res.n_cached,
                 res.n_computed, res.wall_time_s)


def summaries(results: dict) -> dict:
    """param -> the mean final KL (± sd over seeds) per value: v1's one curve per reading, v4's one curve."""
    out = {param: summarise(results[param], param) for param in V1_PARAMS}
    out.update({param: summarise(results[param], param, group=None) for param in V4_PARAMS})
    return out


def verdicts(summaries: dict) -> dict:
    """(param, reading) -> the verdict of the claim on ``param`` (:func:`verdict`); v4's under reading "-"."""
    out = {(param, reading): verdict(param, curve) for param in V1_PARAMS
           for reading, curve in summaries[param].items()}
    out.update({(param, "-"): verdict(param, summaries[param]["-"]) for param in V4_PARAMS})
    return out


def tables(results: dict, summaries: dict, verdicts: dict) -> dict:
    """The chapter's three tables, (header, rows) each: v1's claims, the floor refinement reached beside each ε,
    and v4's two sweeps."""
    v1_rows = []
    for param in V1_PARAMS:
        for reading, curve in summaries[param].items():
            shape = ", ".join(f"{x:g}: {fmt(m)}" for x, m in zip(curve["values"], curve["mean"]))
            v1_rows.append((CLAIMS[param], reading, shape, verdicts[(param, reading)]))
    floor = summarise(results["epsilon"], "epsilon", metric=lambda r: r["record"]["refinement"]["floor"])
    reached = summarise(results["epsilon"], "epsilon", metric=lambda r: float(r["record"]["refinement"]["reached"]))
    eps_rows = [(reading, eps, f, r) for reading in floor
                for eps, f, r in zip(floor[reading]["values"], floor[reading]["mean"], reached[reading]["mean"])]
    v4_rows = []
    for param in V4_PARAMS:
        kl = summaries[param]["-"]
        cov = summarise(results[param], param, group=None, metric=lambda r: r["metrics"]["coverage"])["-"]
        norm = summarise(results[param], param, group=None, metric=lambda r: r["metrics"]["norm_satisfaction"])["-"]
        for i, value in enumerate(kl["values"]):
            v4_rows.append((V4_NAMES[param], value, kl["mean"][i], kl["sd"][i], cov["mean"][i], norm["mean"][i]))
    return {"v1": (["claim", "reading", "mean final KL per value", "verdict"], v1_rows),
            "eps": (["reading", "ε", "floor reached (mean)", "share of runs reaching ε"], eps_rows),
            "v4": (["parameter", "value", "final KL", "± sd", "coverage", "norm satisfaction"], v4_rows)}


def _protocol(c) -> str:
    return f"{c.data_size:,} samples, {c.epochs_per_round} epochs per round and a refinement cap of {c.max_refine_epochs}"


def sentences(p: Params, points: Sweep, verdicts: dict) -> tuple[dict, list]:
    """The chapter's computed texts (name -> Markdown, or a number the page quotes as it is) and its findings, one
    line per (claim, reading)."""
    findings = [f"{CLAIMS[param]} — {reading}: {v}" for (param, reading), v in verdicts.items()]
    v1 = [v for (param, _), v in verdicts.items() if param in V1_PARAMS]
    texts = {
        "profile": f"`{p.profile}`", "grid_dir": f"`{points.grid_dir}`",
        "n_points": points.n_points, "n_unique": points.n_unique, "n_cached": points.n_cached,
        "n_computed": points.n_computed, "sweep_time": f"{points.wall_time_s:.0f} s",
        "grid_protocol": " or ".join(sorted({_protocol(c) for param in V1_PARAMS for c in points.grids[param]})),
        "chapter04_protocol": _protocol(HCTConfig.from_profile(p.profile, "synthetic")),
        "n_v1_reproduced": sum(v.startswith("reproduced") for v in v1), "n_v1_claims": len(v1),
        "v4_r_min": verdicts[("r_min", "-")], "v4_lambda": verdicts[("lambda_boundary", "-")],
        "findings": "\n".join(f"* {line}" for line in findings),
    }
    return texts, findings


def compute(p: Params, store=None, progress: bool | None = None) -> AblationsChapter:
    """The chapter, step by step as its page shows it."""
    points = run_grids(p, grids(p), store, progress)
    curves = summaries(points.results)
    judged = verdicts(curves)
    texts, findings = sentences(p, points, judged)
    return AblationsChapter(p, points, curves, judged, tables(points.results, curves, judged), texts, findings)


# ---- the ledger's rows ------------------------------------------------------------------------------------------


def _claim_measure(param: str):
    def measure(profile: str):
        ch = chapter(profile)
        texts = {reading: v for (p, reading), v in ch.verdicts.items() if p == param}
        verdicts = {rd: ("reproduced" if v.startswith("reproduced") else
                         "not testable here" if v.startswith("not testable") else "not reproduced")
                    for rd, v in texts.items()}
        return Measurement("; ".join(f"{rd}: {v}" for rd, v in texts.items()), combine(verdicts), verdicts)
    return measure


def _claims() -> list:
    """Chapter 07's rows of the claims ledger (v1's sensitivity claims), measured from :data:`chapter`."""
    return [
        Claim("ablation-r0", "v1", "§5.5.1, Figure 4 left", "final KL against R₀", "improves up to 16, then saturates",
              "HCT, synthetic", "KL(16) > KL(2) and |KL(32) − KL(16)| ≤ 10 %", CHAPTER, _claim_measure("r0")),
        Claim("ablation-epsilon", "v1", "§5.5.2, Figure 4 right", "final KL against ε", "best at 10⁻⁵",
              "HCT, synthetic", "the smallest ε has the largest mean KL, and KL varies by more than 10 %", CHAPTER,
              _claim_measure("epsilon")),
        Claim("ablation-keep", "v1", "§5.5.3", "final KL against the kept fraction", "best at ½", "HCT, synthetic",
              "½ has the largest mean KL, and KL varies by more than 10 %", CHAPTER, _claim_measure("keep_ratio")),
        Claim("ablation-beta", "v1", "Appendix C.2, Figure 8", "final KL against β", "best in [2, 3]", "HCT, synthetic",
              "the β with the largest mean KL lies in [2, 3], and KL varies by more than 10 %", CHAPTER,
              _claim_measure("beta")),
    ]


# The chapter: chapter(profile, **params) -> AblationsChapter, cached per process; its ledger rows and the stored
# results they read (the v1 grids')
chapter = Chapter(Params, compute, claims=_claims,
                  runs=lambda ch: [r for param in V1_PARAMS for r in ch.sweep.results[param]])
claims, runs = chapter.claims, chapter.runs

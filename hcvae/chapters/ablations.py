"""The sensitivity claims of both papers, and how the ablation chapter reads its sweeps.

Each claim is a shape over one swept parameter; its verdict rule is fixed here,
before any run, and computed from the mean final KL per value (v1 measures
"performance" by final KL). Where every point collapsed (mean KL < 0.01) there is
no ordering to compare and the verdict says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hcvae.chapters.rules import COLLAPSE_KL

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
        return f"not reproduced: every point collapsed (largest mean KL {kl.max():.2g} < {COLLAPSE_KL})"
    best_value, best_kl = _best(curve)
    flat = kl.max() - kl.min() <= SATURATION_TOL * kl.max()
    if param in ("epsilon", "keep_ratio", "beta") and flat:
        return f"not reproduced: no effect (mean KL {kl.min():.3g} to {kl.max():.3g}, within {SATURATION_TOL:.0%})"
    if param == "r0":
        if 16 not in values or 32 not in values:
            return "not testable on this grid (needs R0 = 16 and 32)"
        k = dict(zip(values, kl))
        improves = k[16] > k[min(values)]
        saturates = abs(k[32] - k[16]) <= SATURATION_TOL * max(k[16], COLLAPSE_KL)
        return ("reproduced" if improves and saturates else "not reproduced") + \
            f": KL({min(values)}) = {k[min(values)]:.3g}, KL(16) = {k[16]:.3g}, KL(32) = {k[32]:.3g}"
    if param == "epsilon":
        ok = best_value == min(values)
        return ("reproduced" if ok else "not reproduced") + f": best epsilon {best_value:g} (KL {best_kl:.3g})"
    if param == "keep_ratio":
        ok = abs(best_value - 0.5) < 1e-9
        return ("reproduced" if ok else "not reproduced") + f": best ratio {best_value:.3g} (KL {best_kl:.3g})"
    if param == "beta":
        ok = 2.0 <= best_value <= 3.0
        return ("reproduced" if ok else "not reproduced") + f": best beta {best_value:g} (KL {best_kl:.3g})"
    return f"no numerical claim (the paper's figure was lost): best value {best_value:g} (KL {best_kl:.3g})"


# ---- the chapter -----------------------------------------------------------------------------------------------

CHAPTER = "07-ablations"
GRIDS = {"r0": "hct_r0.toml", "epsilon": "hct_epsilon.toml", "keep_ratio": "hct_keep_ratio.toml", "beta": "hct_beta.toml",
         "r_min": "spherical_r_min.toml", "lambda_boundary": "spherical_lambda.toml"}
V1_PARAMS = ("r0", "epsilon", "keep_ratio", "beta")
V4_PARAMS = ("r_min", "lambda_boundary")
V4_NAMES = {"r_min": "inner radius r_min", "lambda_boundary": "boundary weight λ₁"}


def _grid_folder(param, value) -> None:
    from pathlib import Path

    from hcvae.chapters.params import ParameterError

    if value is not None and not Path(value).is_dir():
        raise ParameterError(f"parameter {param.name!r} must be an existing folder or None; {value!r} is not a folder")


def _parameters():
    from hcvae.chapters.params import Param, profile_param, scheduler_param, workers_param

    return (profile_param(), Param("grid_dir", "str", "a folder of grid files", none=True, extra=_grid_folder),
            scheduler_param(), workers_param())


DEFAULTS = dict(profile="quick", grid_dir=None, scheduler=None, n_workers=2)


@dataclass
class AblationsChapter:
    """Everything chapter 07 shows, computed once from the stored sweeps."""

    profile: str
    params: dict
    grid_dir: object  # the folder the grids were read from
    grids: dict  # param -> configs
    results: dict  # param -> results, in the grid's order
    n_points: int
    n_unique: int
    n_cached: int
    n_computed: int
    sweep_time_s: float
    hct_protocols: list
    summaries: dict  # param -> summarise(...) (v1: one curve per reading; v4: one curve)
    verdicts: dict  # (param, reading) -> verdict text
    v1_table: tuple
    eps_table: tuple
    v4_table: tuple

    @property
    def n_v1_reproduced(self) -> int:
        return sum(v.startswith("reproduced") for (p, _), v in self.verdicts.items() if p in V1_PARAMS)

    @property
    def n_v1_claims(self) -> int:
        return sum(p in V1_PARAMS for p, _ in self.verdicts)

    @property
    def findings(self) -> list[str]:
        return [f"{CLAIMS[p]} — {reading}: {v}" for (p, reading), v in self.verdicts.items()]


_CACHE: dict = {}


def chapter(profile: str = "quick", *, grid_root=None, store=None, progress: bool | None = None,
            **params) -> AblationsChapter:
    """Chapter 07 for ``profile`` and its parameters (:data:`DEFAULTS`): the grid files of ``grid_dir`` (default:
    ``grid_root/<profile>``, where ``grid_root`` is the repository's ``notebooks/grids``), every point run or read
    through the store on Dask; cached per process."""
    import json
    from pathlib import Path

    from hcvae.chapters.params import check
    from hcvae.runs.store import ROOT, ResultStore

    p = check(_parameters(), {**DEFAULTS, "profile": profile, **params})
    grid_dir = Path(p["grid_dir"]) if p["grid_dir"] else Path(grid_root or ROOT / "notebooks" / "grids") / p["profile"]
    store = store if store is not None else ResultStore()
    key = (json.dumps(p, sort_keys=True), str(grid_dir), str(store.root), str(store.reference))
    if key not in _CACHE:
        _CACHE[key] = _chapter(p, grid_dir, store, progress)
    return _CACHE[key]


def _protocol(c) -> str:
    return f"{c.data_size:,} samples, {c.epochs_per_round} epochs per round and a refinement cap of {c.max_refine_epochs}"


def _chapter(p: dict, grid_dir, store, progress) -> AblationsChapter:
    from hcvae.runs import sweep

    grids = {param: sweep.load_grid(grid_dir / name, profile=p["profile"]) for param, name in GRIDS.items()}
    unique = list(dict.fromkeys(c for configs in grids.values() for c in configs))  # every point validated first
    res = sweep.run_sweep(unique, store=store, scheduler=p["scheduler"], n_workers=p["n_workers"], progress=progress)
    if not res.ok:
        raise RuntimeError(f"{len(res.failures)} point(s) failed; the first: {res.failures[0]['config']}: "
                           f"{res.failures[0]['error']}")
    by_config = dict(zip(unique, res.results))
    results = {param: [by_config[c] for c in configs] for param, configs in grids.items()}
    summaries = {param: summarise(results[param], param) for param in V1_PARAMS}
    summaries.update({param: summarise(results[param], param, group=None) for param in V4_PARAMS})
    verdicts, v1_rows = {}, []
    for param in V1_PARAMS:
        for reading, curve in summaries[param].items():
            verdicts[(param, reading)] = verdict(param, curve)
            shape = ", ".join(f"{x:g}: {m:.3g}" for x, m in zip(curve["values"], curve["mean"]))
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
        verdicts[(param, "-")] = verdict(param, kl)
    return AblationsChapter(
        p["profile"], p, grid_dir, grids, results, sum(len(c) for c in grids.values()), len(unique), res.n_cached,
        res.n_computed, res.wall_time_s, sorted({_protocol(c) for param in V1_PARAMS for c in grids[param]}), summaries,
        verdicts, (["claim", "reading", "mean final KL per value", "verdict"], v1_rows),
        (["reading", "ε", "floor reached (mean)", "share of runs reaching ε"], eps_rows),
        (["parameter", "value", "final KL", "± sd", "coverage", "norm satisfaction"], v4_rows))


# ---- the ledger's rows ------------------------------------------------------------------------------------------


def _claim_measure(param: str):
    def measure(profile: str):
        from hcvae.chapters.ledger import Measurement, combine

        ch = chapter(profile)
        texts = {reading: v for (p, reading), v in ch.verdicts.items() if p == param}
        verdicts = {rd: ("reproduced" if v.startswith("reproduced") else
                         "not testable here" if v.startswith("not testable") else "not reproduced")
                    for rd, v in texts.items()}
        return Measurement("; ".join(f"{rd}: {v}" for rd, v in texts.items()), combine(verdicts), verdicts)
    return measure


def claims() -> list:
    """Chapter 07's rows of the claims ledger (v1's sensitivity claims), measured from :func:`chapter`."""
    from hcvae.chapters.ledger import Claim

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


def runs(profile: str) -> list[dict]:
    """The stored results chapter 07's ledger rows read."""
    return [r for param in V1_PARAMS for r in chapter(profile).results[param]]

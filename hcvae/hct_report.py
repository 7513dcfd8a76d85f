"""What the Historical Consensus Training chapter runs and how it reads the results (v1 §5.3-5.4).

Choosing configs and summarising stored results changes no result, so this
module is outside the result store's code hash (the HCT runs hash
:mod:`hcvae.hct` and what it imports).
"""

from __future__ import annotations

import numpy as np

from .consensus import discarded_at
from .hct import HCTConfig
from .profiles import profile_settings

# (method, reading) of the chapter's runs: Algorithm 1 and its controls under both readings of ell_C
CHAPTER_RUNS = (("hct", "min_k"), ("hct", "own_centre"), ("single", "min_k"), ("single", "own_centre"), ("vanilla", "min_k"))

# v1 Table 1, Synthetic column: KL (nats) and active units (of 48 latent dimensions, threshold 0.005)
PAPER_TABLE1_SYNTHETIC = {
    "Vanilla VAE": {"kl": 0.32, "active": 5.1},
    "Ours (pre-refinement)": {"kl": 2.67, "active": 5},
    "Ours (post-refinement)": {"kl": 2.59, "active": 4},
    "Ours (final single-cluster)": {"kl": 2.64, "active": 4},
}
COLLAPSE_KL = 0.01  # v1 §5.4: "far above the collapse threshold of 0.01"


def chapter_configs(profile: str, datasets=("synthetic", "digits"), seeds=None, runs=CHAPTER_RUNS, **overrides) -> list[HCTConfig]:
    """Every run of the chapter: data set x (method, reading) x seed, with ``profile``'s HCT settings.

    ``seeds=None`` takes the seeds of the baselines' Table 1 rows (v1 averages five runs: five in the ``paper``
    profile), so that this chapter's Table 1 and chapter 06's rest on the same runs.
    """
    seeds = profile_settings(profile)["baselines"]["seeds"] if seeds is None else tuple(seeds)
    return [HCTConfig.from_profile(profile, ds, method=m, reading=r, seed=int(s), **overrides)
            for ds in datasets for m, r in runs for s in seeds]


def final_metrics_rows(results: list[dict]) -> list[dict]:
    """Per (data set, method, reading): mean and spread over seeds of the final model's metrics."""
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        c = r["config"]
        groups.setdefault((c["dataset"], c["method"], c["reading"] if c["method"] != "vanilla" else "-"), []).append(r)
    rows = []
    for (ds, method, reading), rs in groups.items():
        m = {k: np.array([r["metrics"][k] for r in rs], dtype=float)
             for k in ("kl", "active_burda", "active_paper", "mse", "neg_elbo", "mutual_information")}
        rows.append({
            "dataset": ds, "method": method, "reading": reading, "seeds": len(rs),
            **{k: float(v.mean()) for k, v in m.items()}, **{f"{k}_sd": float(v.std()) for k, v in m.items()},
            "centres_hit": float(np.mean([r["landing"]["n_centres_hit"] for r in rs])),
            "n_centres": rs[0]["landing"]["n_centres"],
            "collapsed_seeds": int(sum(r["metrics"]["kl"] < COLLAPSE_KL for r in rs)),
        })
    return rows


def table1_rows(results: list[dict], dataset: str = "synthetic", reading: str = "min_k") -> list[dict]:
    """v1 Table 1's Synthetic rows beside ours (mean over seeds), with the verdict rules fixed here:

    * ``same_side``: our KL and the paper's lie on the same side of the 0.01 collapse threshold;
    * ``within_2x``: our KL is within a factor 2 of the paper's.
    """
    def mean_over(rs, get):
        return float(np.mean([get(r) for r in rs])) if rs else float("nan")

    hct = [r for r in results if r["config"]["dataset"] == dataset and r["config"]["method"] == "hct"
           and r["config"]["reading"] == reading]
    vanilla = [r for r in results if r["config"]["dataset"] == dataset and r["config"]["method"] == "vanilla"]
    ours = {
        "Vanilla VAE": (vanilla, lambda r: r["metrics"]),
        "Ours (pre-refinement)": (hct, lambda r: r["record"]["stage_end"]["select"]),
        "Ours (post-refinement)": (hct, lambda r: r["record"]["stage_end"]["refine"]),
        "Ours (final single-cluster)": (hct, lambda r: r["record"]["stage_end"]["final"]),
    }
    rows = []
    for name, paper in PAPER_TABLE1_SYNTHETIC.items():
        rs, get = ours[name]
        kl = mean_over(rs, lambda r: get(r)["kl"])
        same_side = (kl > COLLAPSE_KL) == (paper["kl"] > COLLAPSE_KL)
        within = paper["kl"] / 2 <= kl <= 2 * paper["kl"]
        verdict = "reproduced" if same_side and within else ("same side of 0.01 only" if same_side else "not reproduced")
        rows.append({"row": name, "paper_kl": paper["kl"], "kl": kl, "paper_active": paper["active"],
                     "active_paper": mean_over(rs, lambda r: get(r)["active_paper"]),
                     "active_burda": mean_over(rs, lambda r: get(r)["active_burda"]),
                     "seeds": len(rs), "same_side": bool(same_side), "within_2x": bool(within), "verdict": verdict})
    return rows


def discarded_memory(record: dict) -> dict:
    """v1 Figure 2 left in numbers: ell_C of the clusterings dropped in round 0, at the end of that round and at
    the end of training, beside the last two's; "memory" holds if the dropped ones stay as low as the kept ones."""
    history = record["history"]
    ell = np.array([h["ell"] for h in history])
    dropped0 = [c for c, rnd in discarded_at(record).items() if rnd == 0]
    kept = record["rounds"][-1]["kept"] if record["rounds"] else []
    end0 = max(i for i, h in enumerate(history) if h["stage"] == "select" and h["round"] == 0)
    return {"dropped_round0": dropped0, "kept": kept,
            "dropped_at_drop": float(ell[end0, dropped0].mean()) if dropped0 else float("nan"),
            "dropped_at_end": float(ell[-1, dropped0].mean()) if dropped0 else float("nan"),
            "kept_at_end": float(ell[-1, kept].mean()) if kept else float("nan")}


def distance_trend(record: dict) -> dict:
    """v1 Figure 2 right in numbers: distance to the collapsed reference at the first and last epoch, and
    whether it grew over the whole run (the paper: "increases as training progresses")."""
    d = np.array([h["dist_collapsed"] for h in record["history"]])
    return {"first": float(d[0]), "last": float(d[-1]), "max": float(d.max()), "grew": bool(d[-1] > d[0]),
            "monotone_share": float(np.mean(np.diff(d) >= 0)) if d.size > 1 else float("nan")}

"""Analysis of the phase-transition sweep (v1 §3.2; Li et al.): tables, the measured
threshold, and the trained linear VAE against its closed form."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from hcvae.core.theory import linear_vae_optimum

# v1 §5.2 calls D_KL < 0.01 "collapses completely"; the book uses the same bound.
COLLAPSE_KL = 0.01


def sweep_table(results: list[dict]) -> dict:
    """Group sweep results by (dataset, architecture) and ratio.

    Returns {(dataset, architecture): {"ratio": array, "kl_mean", "kl_std", "kl_runs"
    (list of per-seed arrays), "active_burda_mean", "active_paper_mean",
    "neg_elbo_mean", "mse_mean", "lambda_max", "n_seeds"}} with ratios ascending.
    """
    groups: dict = defaultdict(lambda: defaultdict(list))
    lam = {}
    for res in results:
        cfg = res["config"]
        key = (cfg["dataset"], cfg["architecture"])
        groups[key][cfg["sigma2_ratio"]].append(res["metrics"])
        lam[key] = res["data"]["lambda_max"]
    table = {}
    for key, by_ratio in groups.items():
        ratios = np.array(sorted(by_ratio))
        def stat(name, fn):
            return np.array([fn([m[name] for m in by_ratio[r]]) for r in ratios])
        table[key] = {
            "ratio": ratios,
            "kl_mean": stat("kl", np.mean),
            "kl_std": stat("kl", np.std),
            "kl_runs": [np.array([m["kl"] for m in by_ratio[r]]) for r in ratios],
            "active_burda_mean": stat("active_burda", np.mean),
            "active_paper_mean": stat("active_paper", np.mean),
            "neg_elbo_mean": stat("neg_elbo", np.mean),
            "mse_mean": stat("mse", np.mean),
            "mi_mean": stat("mutual_information", np.mean),
            "lambda_max": lam[key],
            "n_seeds": min(len(v) for v in by_ratio.values()),
        }
    return table


THRESHOLD_VERDICTS = {
    "consistent": "consistent with σ'² = λ_max",
    "early": "collapses below λ_max (earlier than predicted)",
    "late": "KL survives above λ_max (later than predicted)",
    "never": "no collapse anywhere on the grid",
}


def measured_threshold(ratios, kl, kl_bound: float = COLLAPSE_KL) -> dict:
    """Bracket the measured collapse threshold on the ratio grid.

    ``upper``: the smallest ratio from which every larger ratio has KL < kl_bound;
    ``lower``: the grid point just below it (the largest ratio still above the
    bound), or None if even the smallest ratio collapsed. The theory (Li et al.)
    predicts a transition at ratio 1, i.e. ``lower < 1 <= upper``; ``verdict`` is
    "consistent", "early" (upper < 1), "late" (lower >= 1) or "never" (no ratio
    collapsed), with a sentence for each in ``THRESHOLD_VERDICTS``.
    """
    ratios, kl = np.asarray(ratios, float), np.asarray(kl, float)
    order = np.argsort(ratios)
    ratios, kl = ratios[order], kl[order]
    collapsed = kl < kl_bound
    i = len(ratios)  # walk down from the largest ratio while runs stay collapsed
    while i > 0 and collapsed[i - 1]:
        i -= 1
    upper = float(ratios[i]) if i < len(ratios) else None
    lower = float(ratios[i - 1]) if i > 0 else None
    if upper is None:
        verdict = "never"
    elif upper < 1.0:
        verdict = "early"
    elif lower is not None and lower >= 1.0:
        verdict = "late"
    else:
        verdict = "consistent"
    return {"lower": lower, "upper": upper, "kl_bound": kl_bound, "verdict": verdict,
            "consistent_with_theory": verdict == "consistent"}


def linear_vs_closed_form(result: dict) -> dict:
    """Per-latent-dimension statistics of a trained linear VAE beside the closed form.

    The optimum is identified only up to a permutation (and sign) of latent
    dimensions, so both sides are sorted, largest first.
    """
    m = result["metrics"]
    theory = linear_vae_optimum(result["data"]["spectrum"], result["sigma2_decoder"], result["config"]["latent_dim"])
    trained = {
        "var_mean": np.sort(m["var_mean_per_dim"])[::-1],
        "posterior_var": np.sort(m["posterior_var_per_dim"]),
        "kl_per_dim": np.sort(m["kl_per_dim"])[::-1],
    }
    return {
        "trained": trained,
        "theory": {k: np.asarray(theory[k]) for k in ("var_mean", "posterior_var", "kl_per_dim", "eigenvalue")},
        "kl_trained": float(m["kl"]),
        "kl_theory": theory["kl"],
        "active_trained": int(m["active_burda"]),
        "active_theory": theory["active_units"],
        "max_abs_error": {k: float(np.max(np.abs(trained[k] - theory[k]))) for k in trained},
    }


def closed_form_agreement(results: list[dict], kl_atol: float, kl_rtol: float) -> dict:
    """Does every trained linear VAE's total KL lie within kl_atol + kl_rtol * KL_theory of the closed form?"""
    rows = []
    for res in results:
        if res["config"]["architecture"] != "linear":
            continue
        cmp = linear_vs_closed_form(res)
        err = abs(cmp["kl_trained"] - cmp["kl_theory"])
        rows.append({
            "dataset": res["config"]["dataset"], "ratio": res["config"]["sigma2_ratio"], "seed": res["config"]["seed"],
            "kl_trained": cmp["kl_trained"], "kl_theory": cmp["kl_theory"], "abs_error": err,
            "within": err <= kl_atol + kl_rtol * cmp["kl_theory"],
        })
    if not rows:
        raise ValueError("no linear-VAE results to compare with the closed form")
    return {"rows": rows, "all_within": all(r["within"] for r in rows),
            "max_abs_error": max(r["abs_error"] for r in rows), "kl_atol": kl_atol, "kl_rtol": kl_rtol}


def mlp_vs_linear_below(table: dict, dataset: str) -> dict:
    """At ratios below 1: on how many does the MLP VAE's mean KL exceed the linear VAE's?"""
    mlp, lin = table[(dataset, "mlp")], table[(dataset, "linear")]
    common = [r for r in mlp["ratio"] if r < 1.0 and r in set(lin["ratio"])]
    kl_m = {r: k for r, k in zip(mlp["ratio"], mlp["kl_mean"])}
    kl_l = {r: k for r, k in zip(lin["ratio"], lin["kl_mean"])}
    more = [r for r in common if kl_m[r] > kl_l[r]]
    return {"n_ratios": len(common), "n_mlp_more": len(more), "ratios": common}


def longer_training_configs(profile: str, thresholds: dict, epochs_factor: int, seeds) -> list:
    """Configs that retrain, ``epochs_factor`` times longer, every (data set, model) that collapsed
    below lambda_max, at its first collapsed ratio: is the early collapse a matter of training time?
    """
    from hcvae.runs.experiments import VAEConfig

    if int(epochs_factor) != epochs_factor or epochs_factor < 2:
        raise ValueError(f"epochs_factor must be an integer >= 2; got {epochs_factor!r}")
    configs = []
    for (ds, arch), th in sorted(thresholds.items()):
        if th["verdict"] != "early":
            continue
        base = VAEConfig.from_profile(profile, ds, architecture=arch)
        configs += [VAEConfig.from_profile(profile, ds, architecture=arch, sigma2_ratio=th["upper"], seed=int(s),
                                           epochs=int(epochs_factor) * base.epochs) for s in seeds]
    return configs


PROBE_HEADER = ["data", "model", "ratio", "seed", "epochs", "KL", "closed-form KL", "outcome"]


def longer_training_rows(results: list[dict], kl_bound: float = COLLAPSE_KL) -> list[tuple]:
    """One row per longer run (see :data:`PROBE_HEADER`): did it leave collapse?"""
    rows = []
    for r in results:
        c = r["config"]
        outcome = "escaped collapse" if r["metrics"]["kl"] >= kl_bound else "still collapsed"
        rows.append((c["dataset"], c["architecture"], c["sigma2_ratio"], c["seed"], c["epochs"],
                     r["metrics"]["kl"], linear_vae_optimum(r["data"]["spectrum"], r["sigma2_decoder"], c["latent_dim"])["kl"],
                     outcome))
    return rows

"""Chapter 03, v4's feasible region [WCSS, L_collapse] (v4 §3.2–3.4), put to numbers without training.

:func:`chapter` is the single source of every number the chapter shows (:class:`RegionChapter`): λ_max before and
after each shell transform, TSS = WCSS + L_collapse (v4 eq. 6) over every K, where WCSS < L_collapse (Theorem 3.4's
condition) holds, the theorem's two anchor points and the reconstructions between them. :func:`claims` are its rows
of the claims ledger, measured from the same result. Every K-means fit is a stored run
(:class:`hcvae.runs.region_runs.RegionConfig`, one per data set, transform and K), read from the shipped reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hcvae.runs import runner

CHAPTER = "03-feasible-region"
NO_SHELL = "none (centred only)"


def _shells(param, value: list) -> None:
    from hcvae.chapters.params import ParameterError
    from hcvae.methods.spherical import SHELL_READINGS

    for shell in value:
        ok = (isinstance(shell, (list, tuple)) and len(shell) == 3 and shell[0] in SHELL_READINGS
              and all(isinstance(r, (int, float)) and not isinstance(r, bool) for r in shell[1:])
              and 0 <= shell[1] < shell[2])
        if not ok:
            raise ParameterError(f"parameter {param.name!r} must be a list of [reading, r_min, r_max] with reading one "
                                 f"of {', '.join(SHELL_READINGS)} and 0 <= r_min < r_max; got {shell!r}")


def _parameters():
    from hcvae.chapters.params import Param, components_param, datasets_param, profile_param

    return (profile_param(), Param("seed", "int", "the K-means seed", low=0), datasets_param(("synthetic", "digits")),
            components_param(), Param("k_values", "int", "the K of the curves", low=1, many=True),
            Param("shells", "any", "[reading, r_min, r_max] per shell", many=True, unique=False, extra=_shells),
            Param("n_init", "int", "K-means restarts", low=1),
            Param("identity_rtol", "float", "tolerance of the TSS identity", low=0.0, low_open=True))


DEFAULTS = dict(profile="quick", seed=0, datasets=["synthetic", "digits"], n_components={"synthetic": 8, "digits": 10},
                k_values=[2, 4, 6, 8, 10, 12, 16, 20],
                shells=[["minmax", 1.0, 2.0], ["clip", 1.0, 2.0], ["minmax", 1.0, 1.1], ["minmax", 0.1, 2.0]],
                n_init=4, identity_rtol=1e-9)


def shell_name(reading: str, r_min: float, r_max: float) -> str:
    return f"{reading} [{r_min:g}, {r_max:g}]"


@dataclass
class RegionChapter:
    """Everything chapter 03 shows. ``curves`` and ``regions`` are keyed "data set, transform"; ``anchors`` and
    ``probes`` by data set (on the first shell, K at the true number)."""

    profile: str
    params: dict
    raw: dict  # data set -> raw samples
    transformed: dict  # (data set, transform) -> samples
    curves: dict  # feasible.region_curve
    regions: dict  # feasible.region_at the true K
    anchors: dict  # feasible.anchor_points, with the losses of the shrunk reconstructions ("shrunk": {a: loss})
    probes: dict  # feasible.reconstruction_probes
    worst_identity: float  # the largest |TSS − WCSS − L_collapse| / TSS over every curve point
    tables: dict  # name -> (header, rows)
    texts: dict  # name -> sentence
    findings: dict  # name -> sentence
    results: list  # the stored RegionConfig runs read

    @property
    def default_shell(self) -> str:
        return shell_name(*self.params["shells"][0])


_CACHE: dict = {}


def chapter(profile: str = "quick", **params) -> RegionChapter:
    """Chapter 03 for ``profile`` and its parameters (:data:`DEFAULTS`); cached per process."""
    import json

    from hcvae.chapters.params import check

    p = check(_parameters(), {**DEFAULTS, "profile": profile, **params})
    key = json.dumps(p, sort_keys=True)
    if key not in _CACHE:
        _CACHE[key] = _chapter(p)
    return _CACHE[key]


def _configs(p: dict, ks: list) -> tuple[dict, dict]:
    """The stored runs of checked parameters ``p``: (data set, transform name) -> {K: RegionConfig} for the curves,
    and data set -> the run at the true K on the first shell that also measures the anchors and probes."""
    from hcvae.runs.profiles import profile_settings
    from hcvae.runs.region_runs import NO_SHELL as NONE, RegionConfig

    n_samples = profile_settings(p["profile"])["clusterings"]["n_samples"]
    common = dict(seed=p["seed"], n_init=p["n_init"])
    transforms = [(NO_SHELL, dict(shell=NONE, r_min=None, r_max=None))]
    transforms += [(shell_name(*s), dict(shell=s[0], r_min=float(s[1]), r_max=float(s[2]))) for s in p["shells"]]
    curves = {(ds, name): {k: RegionConfig(dataset=ds, n_samples=n_samples[ds], k=k, **shell, **common) for k in ks}
              for ds in p["datasets"] for name, shell in transforms}
    first = transforms[1][1]
    anchors = {ds: RegionConfig(dataset=ds, n_samples=n_samples[ds], k=p["n_components"][ds], probes=True, **first,
                                **common) for ds in p["datasets"]}
    return curves, anchors


def _chapter(p: dict) -> RegionChapter:
    from hcvae.chapters.params import ParameterError
    from hcvae.core.data import lambda_max, load_dataset
    from hcvae.methods import feasible
    from hcvae.runs import experiments
    from hcvae.runs.profiles import profile_settings
    from hcvae.runs.region_runs import NO_SHELL as NONE, shell_transformed

    datasets, k_true = list(p["datasets"]), p["n_components"]
    missing = [ds for ds in datasets if ds not in k_true]
    if missing:
        raise ParameterError(f"parameter 'n_components' names no K for {', '.join(missing)}; give one per data set")
    settings = profile_settings(p["profile"])["clusterings"]
    raw = {ds: load_dataset(ds, settings["n_samples"][ds], seed=0).x for ds in datasets}
    transformed = {(ds, NO_SHELL): shell_transformed(raw[ds], NONE) for ds in datasets}
    transformed.update({(ds, shell_name(*s)): shell_transformed(raw[ds], s[0], s[1], s[2])
                        for ds in datasets for s in p["shells"]})
    ks = sorted(set(p["k_values"]) | {k_true[ds] for ds in datasets})  # the true K is always on the curve
    configs, anchor_configs = _configs(p, ks)

    lambda_rows = []
    for (ds, name), xs in transformed.items():
        norms = np.linalg.norm(xs, axis=1)
        lambda_rows.append((ds, name, lambda_max(xs), lambda_max(xs) / lambda_max(raw[ds]), float(norms.min()),
                            float(norms.max()), float(np.linalg.norm(xs.mean(0)))))

    runs = {key: {k: runner.run(c) for k, c in configs[key].items()} for key in transformed}
    curves = {f"{ds}, {name}": {q: np.array([r["region"][q] for r in by_k.values()])
                                 for q in ("k", "tss", "wcss", "l_collapse", "identity_error", "width")}
              for (ds, name), by_k in runs.items()}
    worst_identity = max(float(np.max(np.abs(c["identity_error"]) / c["tss"])) for c in curves.values())
    regions = {key: feasible.region_at(c, k_true[key.split(",")[0]]) for key, c in curves.items()}
    region_rows = [(key, r["smallest_open_k"], r["wcss"], r["l_collapse"], r["width_over_tss"],
                    "non-empty" if r["nonempty"] else "EMPTY") for key, r in regions.items()]
    empty = [key for key, r in regions.items() if not r["nonempty"]]

    default = shell_name(*p["shells"][0])
    anchors, probes, anchor_rows, probe_rows = {}, {}, [], []
    results = [r for by_k in runs.values() for r in by_k.values()]
    for ds, config in anchor_configs.items():
        stored = runner.run(config)
        results.append(stored)
        a = dict(stored["anchors"])
        a["shrunk"] = {float(alpha): loss for alpha, loss in a["shrunk"].items()}
        anchors[ds] = a
        anchor_rows.append((ds, default, a["collapsed_loss"], a["l_collapse"], a["ideal_loss"], a["wcss"]))
        probes[ds] = stored["probes"]
        probe_rows += [(ds, q["name"], q["loss"], q["position"]) for q in probes[ds]]
    n_centre_below = sum(1 for r in probe_rows if r[1] == "own cluster centre" and r[3] == "below WCSS")

    tables = {
        "lambda": (["data", "transform", "λ_max", "λ_max / λ_max(raw)", "smallest norm", "largest norm",
                    "‖mean‖ after"], lambda_rows),
        "region": (["data, transform", "smallest K with WCSS < L_collapse", "WCSS at true K", "L_collapse at true K",
                    "width / TSS at true K", "region at true K"], region_rows),
        "anchor": (["data", "shell", "collapsed model's loss", "L_collapse", "ideal model's loss", "WCSS"], anchor_rows),
        "probe": (["data", "reconstruction", "cluster-aware loss", "position"], probe_rows),
    }
    empty_list = ", ".join(empty) or "none"
    texts = {
        "profile": f"`{p['profile']}`", "worst_identity": f"{worst_identity:.1e}",
        "n_identity": str(sum(len(c["k"]) for c in curves.values())), "n_empty": str(len(empty)),
        "n_settings": str(len(regions)), "empty_list": empty_list, "default_shell": f"`{default}`",
        "n_centre_below": str(n_centre_below),
    }
    findings = {
        "identity": (f"TSS = WCSS + L_collapse (v4 eq. 6) holds to a relative {worst_identity:.0e} on every data set, "
                     "transform and K."),
        "region": (f"At the true number of clusters, WCSS < L_collapse (Theorem 3.4's condition) fails in {len(empty)} "
                   f"of {len(regions)} settings ({empty_list})."),
        "anchor": ("The collapsed reconstruction scores " + "; ".join(
            f"{a['collapsed_loss']:.6g} against L_collapse = {a['l_collapse']:.6g} on {ds}" for ds, a in anchors.items())
            + ": the edge of the region, so Theorem 3.4 excludes it only under a strict inequality, with no margin."),
    }
    return RegionChapter(p["profile"], p, raw, transformed, curves, regions, anchors, probes, worst_identity, tables,
                         texts, findings, results)


# ---- the ledger's rows ------------------------------------------------------------------------------------------


def _identity(profile: str):
    from hcvae.chapters.ledger import Measurement

    ch = chapter(profile)
    rtol = ch.params["identity_rtol"]
    return Measurement(f"largest |TSS − WCSS − L_collapse| / TSS = {ch.worst_identity:.1e} over every data set, "
                       "transform and K", "reproduced" if ch.worst_identity < rtol else "not reproduced")


def _region_nonempty(profile: str):
    from hcvae.chapters.ledger import Measurement

    ch = chapter(profile)
    at_default = {key: r for key, r in ch.regions.items() if key.endswith(ch.default_shell)}
    parts = [f"{key.split(',')[0]}: WCSS {r['wcss']:.3g} vs L_collapse {r['l_collapse']:.3g}"
             for key, r in at_default.items()]
    ok = all(r["nonempty"] for r in at_default.values())
    return Measurement("; ".join(parts) + f" (shell {ch.default_shell}, K = true number)",
                       "reproduced" if ok else "not reproduced")


def claims() -> list:
    """Chapter 03's rows of the claims ledger (v4 eq. 6, Theorem 3.4), measured from :func:`chapter`."""
    from hcvae.chapters.ledger import Claim

    return [
        Claim("tss-identity", "v4", "eq. 6", "TSS − WCSS − L_collapse", "0", "K-means on shell-transformed data",
              "relative error < 1e-9", CHAPTER, _identity),
        Claim("region-nonempty", "v4", "Theorem 3.4", "WCSS < L_collapse (a non-empty feasible region)", "holds",
              "the paper's data sets at their true K", "WCSS < L_collapse on both data sets", CHAPTER,
              _region_nonempty),
    ]


def runs(profile: str) -> list[dict]:
    """The stored runs the ledger's chapter-03 rows read (K-means fits, no training; each with ``wall_time_s``)."""
    return list(chapter(profile).results)

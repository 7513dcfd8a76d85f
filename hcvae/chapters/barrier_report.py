"""Chapter 02, v1's historical barrier (Theorem 4.4, Lemma 4.3), checked without training.

:func:`chapter` is the single source of every number the chapter shows (:class:`BarrierChapter`): the R₀ EM
clusterings of each data set under two EM starts, how different they are, δ (v1 Appendix A), whether δ bounds every
constant reconstruction under both readings of ℓ_C, and Lemma 4.3's nesting on a family of reconstructions.
:func:`claims` are its rows of the claims ledger, measured from the same result. Each (data set, EM start) is a
stored run (:class:`hcvae.runs.barrier_runs.BarrierConfig`): its EM fits cost about a minute at the paper profile's
50,000 synthetic samples, and the book reads them from the shipped reference.
"""

from __future__ import annotations

from dataclasses import dataclass

CHAPTER = "02-historical-barrier"
DEFAULT_INIT = "kmeans"  # scikit-learn's default EM start: the ledger's setting


def _parameters():
    from hcvae.chapters.params import Param, components_param, datasets_param, profile_param
    from hcvae.methods.clustering import INIT_PARAMS

    return (profile_param(), Param("seed", "int", "the first seed", low=0), datasets_param(("synthetic", "digits")),
            components_param(),
            Param("r0", "int", "EM clusterings", low=2, none=True),
            Param("init_alternative", "str", "the other EM start", INIT_PARAMS),
            Param("ari_same", "float", "ARI above which two clusterings count as one", low=0.0, low_open=True, high=1.0))


DEFAULTS = dict(profile="quick", seed=0, datasets=["synthetic", "digits"], n_components={"synthetic": 8, "digits": 10},
                r0=None, init_alternative="random_from_data", ari_same=0.99)


@dataclass
class BarrierChapter:
    """Everything chapter 02 shows. Keys: ``results`` (the stored runs), ``diversities``, ``deltas`` by (data set,
    EM start); ``checks`` and ``nesting`` by (data set, EM start, reading)."""

    profile: str
    params: dict
    r0: int
    inits: list  # the default EM start, then the alternative
    results: dict  # -> the stored BarrierConfig run
    diversities: dict  # -> clustering.diversity
    deltas: dict  # -> barrier.delta_summary
    checks: dict  # -> barrier.delta_bounds_collapse
    nesting: dict  # -> barrier.lemma_4_3's rounds
    tables: dict  # name -> (header, rows)
    texts: dict  # name -> sentence
    findings: dict  # name -> sentence

    def n_counterexamples(self, key) -> int:
        return sum(len(r["counterexamples"]) > 0 for r in self.nesting[key])


_CACHE: dict = {}


def chapter(profile: str = "quick", **params) -> BarrierChapter:
    """Chapter 02 for ``profile`` and its parameters (:data:`DEFAULTS`); cached per process."""
    import json

    from hcvae.chapters.params import check

    p = check(_parameters(), {**DEFAULTS, "profile": profile, **params})
    key = json.dumps(p, sort_keys=True)
    if key not in _CACHE:
        _CACHE[key] = _chapter(p)
    return _CACHE[key]


def _configs(p: dict, r0: int) -> dict:
    """(data set, EM start) -> the stored run of its R₀ clusterings, for checked parameters ``p``."""
    from hcvae.runs.barrier_runs import BarrierConfig
    from hcvae.runs.profiles import profile_settings

    n_samples = profile_settings(p["profile"])["clusterings"]["n_samples"]
    return {(ds, init): BarrierConfig(dataset=ds, n_samples=n_samples[ds], n_components=p["n_components"][ds], r0=r0,
                                      init_params=init, first_seed=p["seed"])
            for ds in p["datasets"] for init in (DEFAULT_INIT, p["init_alternative"])}


def _fmt(x, digits: int = 3) -> str:
    return f"{x:.{digits}g}"


def _on(values: dict, fmt=str) -> str:
    """"a on synthetic and b on digits" from {data set: value}."""
    parts = [f"{fmt(v)} on {ds}" for ds, v in values.items()]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _chapter(p: dict) -> BarrierChapter:
    from hcvae.chapters.params import ParameterError
    from hcvae.methods import clustering
    from hcvae.runs import experiments
    from hcvae.runs.profiles import profile_settings

    profile, datasets = p["profile"], list(p["datasets"])
    settings = profile_settings(profile)["clusterings"]
    r0 = settings["r0"] if p["r0"] is None else p["r0"]
    inits = [DEFAULT_INIT, p["init_alternative"]]
    k = p["n_components"]
    missing = [ds for ds in datasets if ds not in k]
    if missing:
        raise ParameterError(f"parameter 'n_components' names no K for {', '.join(missing)}; give one per data set")
    results = {(ds, init): experiments.run(config) for (ds, init), config in _configs(p, r0).items()}
    diversities = {key: clustering.diversity_of(r["diversity"]["centre_distance"], r["diversity"]["ari"],
                                                r["fits"]["log_likelihood"], p["ari_same"]) for key, r in results.items()}
    deltas = {key: r["delta"] for key, r in results.items()}
    checks = {(*key, reading): r["checks"][reading] for key, r in results.items() for reading in clustering.READINGS}
    nesting = {(*key, reading): r["nesting"][reading] for key, r in results.items() for reading in clustering.READINGS}

    tables = {
        "diversity": (["data", "EM start", "distinct solutions", "lowest ARI", "mean matched-centre distance",
                       "best log-lik / sample", "worst log-lik / sample"],
                      [(ds, init, d["n_distinct"], d["min_ari"], d["mean_centre_distance"],
                        float(d["log_likelihood"].max()), float(d["log_likelihood"].min()))
                       for (ds, init), d in diversities.items()]),
        "delta": (["data", "EM start", "δ = min_C δ_C", "max_C δ_C", "λ_max", "TSS (total variance)", "δ / λ_max"],
                  [(ds, init, d["delta"], d["max"], d["lambda_max"], d["tss"], d["delta"] / d["lambda_max"])
                   for (ds, init), d in deltas.items()]),
        "candidates": (["data", "EM start", "reading", "δ", "data mean", "best centre", "best constant",
                        "δ bounds all"],
                       [(ds, init, reading, c["delta"], *[x["historical_loss"] for x in c["candidates"]],
                         "holds" if c["holds"] else "fails") for (ds, init, reading), c in checks.items()]),
    }
    nesting_rows = []
    for key, rounds in nesting.items():
        n_counter = sum(len(r["counterexamples"]) > 0 for r in rounds)
        nesting_rows.append((*key, len(rounds), n_counter, "fails" if n_counter else "holds on this family"))
    tables["nesting"] = (["data", "EM start", "reading", "rounds", "rounds with a counterexample", "F_{t+1} ⊂ F_t"],
                         nesting_rows)
    n_fail = sum(row[-1] == "fails" for row in nesting_rows)

    alt = p["init_alternative"]
    default = {ds: diversities[(ds, DEFAULT_INIT)]["n_distinct"] for ds in datasets}
    other = {ds: diversities[(ds, alt)]["n_distinct"] for ds in datasets}
    delta_default = {ds: deltas[(ds, DEFAULT_INIT)] for ds in datasets}

    def holds(reading):
        return {ds: "holds" if checks[(ds, DEFAULT_INIT, reading)]["holds"] else "fails" for ds in datasets}

    def lowest(reading):
        return {ds: checks[(ds, DEFAULT_INIT, reading)]["lowest"]["historical_loss"] for ds in datasets}

    texts = {
        "profile": f"`{profile}`", "r0": str(r0), "ari_same": f"{p['ari_same']:g}",
        "distinct": (f"With the default start, the {r0} runs give "
                     f"{_on({ds: f'{n} distinct solution(s)' for ds, n in default.items()})}; starting from `{alt}` "
                     f"gives {_on(other)}."),
        "likelihood": ("The best log-likelihood per sample is " + _on(
            {ds: f"{diversities[(ds, DEFAULT_INIT)]['log_likelihood'].max():.4g} with the default start against "
                 f"{diversities[(ds, alt)]['log_likelihood'].max():.4g} with `{alt}`" for ds in datasets}) + "."),
        "delta": ("With the default EM start, δ is " + _on(
            {ds: f"{_fmt(d['delta'])} ({d['delta'] / d['lambda_max']:.2f} λ_max)" for ds, d in delta_default.items()})
            + ": the squared distance from the data mean to the nearest cluster centre."),
        "holds_min_k": (f"Under v1's own **min_k** reading, Theorem 4.4 {_on(holds('min_k'))} (default EM start): the "
                        f"lowest historical loss of a collapsed reconstruction is {_on(lowest('min_k'), _fmt)}, against "
                        f"δ of {_on({ds: d['delta'] for ds, d in delta_default.items()}, _fmt)}."),
        "holds_own_centre": (f"there the theorem {_on(holds('own_centre'))}, with lowest historical losses "
                             f"{_on(lowest('own_centre'), _fmt)}."),
        "nesting_fail": str(n_fail), "nesting_total": str(len(nesting_rows)),
    }

    def n_held(reading):
        keys = [key for key in checks if key[2] == reading]
        return f"{sum(checks[key]['holds'] for key in keys)} of {len(keys)}"

    findings = {
        "diversity": f"Default EM gives {_on({ds: f'{n} distinct of {r0}' for ds, n in default.items()})}; "
                     f"`{alt}` starts give {_on(other)}.",
        "min_k": (f"Under v1's min_k reading (eq. 8), δ bounds every collapsed solution in {n_held('min_k')} "
                  "(data set, EM start) settings; where it does not, a constant decoder output scores below δ, so "
                  "Theorem 4.4 as stated does not exclude collapse."),
        "own": (f"Under the own-centre reading (v4 eq. 7), δ bounds every collapsed solution in {n_held('own_centre')} "
                "settings."),
        "nesting": f"Lemma 4.3's nesting fails on a family of reconstructions in {n_fail} of {len(nesting_rows)} settings.",
    }
    return BarrierChapter(profile, p, r0, inits, results, diversities, deltas, checks, nesting, tables, texts,
                          findings)


# ---- the ledger's rows ------------------------------------------------------------------------------------------


def _theorem_4_4(profile: str):
    from hcvae.chapters.ledger import Measurement, combine
    from hcvae.methods.clustering import READINGS

    ch = chapter(profile)
    verdicts, parts = {}, []
    for reading in READINGS:
        held = {ds: ch.checks[(ds, DEFAULT_INIT, reading)]["holds"] for ds in ch.params["datasets"]}
        verdicts[reading] = "reproduced" if all(held.values()) else "not reproduced"
        parts.append(f"{reading}: δ bounds every collapsed output on " + ", ".join(ds for ds, h in held.items() if h)
                     if any(held.values()) else f"{reading}: fails on every data set")
    return Measurement("; ".join(parts) + " (default EM start)", combine(verdicts), verdicts)


def _lemma_4_3(profile: str):
    from hcvae.chapters.ledger import Measurement

    ch = chapter(profile)
    keys = [key for key in ch.nesting if key[1] == DEFAULT_INIT]
    failing = sum(ch.n_counterexamples(key) > 0 for key in keys)
    return Measurement(f"a counterexample to F_(t+1) ⊂ F_t in {failing} of {len(keys)} (data set, reading) settings "
                       "(default EM start)", "not reproduced" if failing else "reproduced")


def claims() -> list:
    """Chapter 02's rows of the claims ledger (v1 Theorem 4.4, Lemma 4.3), measured from :func:`chapter`."""
    from hcvae.chapters.ledger import Claim

    return [
        Claim("theorem-4.4", "v1", "Theorem 4.4, Appendix A", "historical loss of any collapsed solution", "≥ δ > 0",
              "R₀ EM clusterings (16 in the paper profile), default EM start",
              "every constant output found scores ≥ δ, on both data sets", CHAPTER, _theorem_4_4),
        Claim("lemma-4.3", "v1", "Lemma 4.3", "nesting of the feasible regions", "F_(t+1) ⊂ F_t",
              "halving rounds", "no reconstruction of the tested family lies in F_(t+1) but not in F_t", CHAPTER,
              _lemma_4_3),
    ]


def runs(profile: str) -> list[dict]:
    """The stored runs the ledger's chapter-02 rows read (EM fits, no training; each with ``wall_time_s``)."""
    return list(chapter(profile).results.values())

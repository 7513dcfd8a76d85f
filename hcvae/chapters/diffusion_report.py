"""What the diffusion chapter (v1 §7) computes and how it reads the results, and its rows of the claims ledger.

The training, the x_0-gain study and the sampling study of each data set are one
stored run, :class:`hcvae.runs.diffusion.DiffusionChapterConfig` (its weights file
holds the denoisers' state dicts and the samples the figure shows), so a page that
needs the chapter's numbers (the chapter itself, the reproduction report) reads
them from the result store instead of retraining. This module only chooses the
configs and reads the results: no config class is defined here and no config
module imports it, so it is outside the store's code hash, and editing a verdict
rule or its wording never invalidates a stored run.

:func:`chapter` returns every table, number and verdict the chapter shows (cached
per process); :func:`claims` the ledger rows of predictions 1-4 of v1 §7.4, each
measured by the chapter's own verdict rule; :func:`runs` the stored results read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from hcvae.chapters import diffusion_rules
from hcvae.core import theory
from hcvae.core.data import load_dataset
from hcvae.methods import ddpm
from hcvae.runs import diffusion
from hcvae.runs.diffusion import DiffusionChapterConfig
from hcvae.runs import runner

CHAPTER = "08-diffusion"
DATASETS = ("synthetic", "digits")
SCALINGS = ddpm.DATA_SCALINGS
READINGS = ("eq13", "snr")  # t_c by v1 eq. 13 as written, and where the SNR along the top direction is 1

# The chapter's parameters (its ``parameters`` cell has the same defaults; a test checks it).
DEFAULTS = dict(seed=0, datasets=DATASETS, schedules=theory.SCHEDULES, scalings=SCALINGS, train_schedule="linear",
                independence_tol=0.1, z_margin=2.0, floor_margin=1.0, clip_x0=False, settings={})

def _settings_names(param, value: dict) -> None:
    from dataclasses import fields

    from hcvae.chapters.params import ParameterError

    names = {f.name for f in fields(DiffusionChapterConfig)} - {"dataset"}
    unknown = sorted(set(value) - names)
    if unknown:
        raise ParameterError(f"parameter {param.name!r}: unknown setting(s) {', '.join(unknown)}; allowed: "
                             f"{', '.join(sorted(names))}")


def _parameters():
    from hcvae.chapters.params import Param, datasets_param, profile_param

    return (profile_param(), Param("seed", "int", "the first seed", low=0), datasets_param(DATASETS),
            Param("schedules", "str", "the sampling family", theory.SCHEDULES, many=True),
            Param("scalings", "str", "data scalings of the t_c table", SCALINGS, many=True),
            Param("train_schedule", "str", "the single-schedule DDPMs' schedule", theory.SCHEDULES),
            Param("independence_tol", "float", "prediction 1's tolerance", low=0.0, low_open=True, high=1.0),
            Param("z_margin", "float", "standard errors that count", low=0.0, low_open=True),
            Param("floor_margin", "float", "floors that count as degradation", low=0.0),
            Param("clip_x0", "bool", "clip x_0 estimates"),
            Param("settings", "dict", "overrides of the profile's settings", extra=_settings_names))


P3_BASELINES = ("DDPM, timestep", "DDPM, t + noise level")


@dataclass
class DiffusionChapter:
    """Everything chapter 08 shows, computed once from the stored runs (:func:`chapter`). Tables are
    (header, rows); ``*_text``, ``*_note`` and ``*_reading`` fields are sentences the chapter prints."""

    profile: str
    params: dict
    configs: list  # one DiffusionChapterConfig per data set
    results: dict  # data set -> stored result
    settings: dict  # the profile's settings, with n_generated, gain_points and the model names
    family: list  # the sampling family of noise schedules
    T: int
    gain_points: int
    # where t_c is (v1 eq. 13, and SNR = 1)
    tc_rows: list
    tc_table: tuple
    as_loaded: dict
    with_tc: dict
    n_with_tc: int
    n_tc_rows: int
    with_tc_text: str
    levels: dict
    # the denoisers and Algorithm 2's selection
    n_train: dict
    total_epochs: int
    round_sizes: list
    rounds_note: str
    extra_models: str
    alg2_schedules: str
    selection_records: dict
    rounds_table: tuple
    n_easiest: int
    n_rounds: int
    selection_reading: str
    # predictions 1 and 2
    studies: dict
    p1_table: tuple
    p1_verdicts: list
    p1_by_reading: dict
    p1_n_indep: int
    p1_verdict: str
    min_reverse: float
    half_rows: list
    closer: dict
    n_half: int
    p2_reading: str
    p1_width: str
    # sampling: predictions 3 and 4
    own: dict
    real: dict
    floors: dict
    reports: dict
    samples: dict
    test_rows: dict
    unseen: list
    n_generated: int
    unseen_note: str
    p3_table: tuple
    p3_verdicts: list
    p3_verdict: str
    p3_counts: str
    p4_table: tuple
    degradation: dict
    alg2_ok: list
    p4_verdict: str
    p4_controls: dict
    p4_controls_text: str
    p4_reading: str
    own_acc_range: tuple
    cosine_beta_T: float
    cosine_gain: float
    cosine_blown: list
    cosine_note: str
    findings: dict  # finding_tc, finding_p1, ... -> sentence

def fmt_t(t) -> str:
    return "—" if t is None else str(t)


def configs(profile: str, seed: int = 0, datasets=DATASETS, schedules=theory.SCHEDULES, train_schedule: str = "linear",
            clip_x0: bool = False, settings: dict | None = None) -> list[DiffusionChapterConfig]:
    """One stored run per data set, with ``profile``'s settings overridden by ``settings``."""
    return [DiffusionChapterConfig.from_profile(profile, ds, seed=int(seed), schedules=tuple(schedules),
                                                train_schedule=train_schedule, clip_x0=bool(clip_x0), **(settings or {}))
            for ds in datasets]


def _as_arrays(gain: dict) -> dict:
    """A stored gain study with its curves and references as arrays again (what the plots and verdicts read)."""
    curve = {k: np.asarray(v) for k, v in gain["curve"].items()}
    return {**gain, "curve": curve, "wiener_top": np.asarray(gain["wiener_top"]),
            "wiener_mean": np.asarray(gain["wiener_mean"])}


_CACHE: dict = {}


def chapter(profile: str = "quick", *, store=None, progress: bool | None = None, **params) -> DiffusionChapter:
    """Everything the chapter shows, for ``profile`` and the chapter's parameters (see :data:`DEFAULTS`).

    Stored runs are read, missing ones computed; the result is cached per process (per profile, parameters
    and store), so the ledger's four claims and the chapter share one computation.
    """
    from hcvae.chapters.params import check
    from hcvae.runs.store import ResultStore

    p = check(_parameters(), {**DEFAULTS, "profile": profile, **params})
    del p["profile"]
    p = {k: (tuple(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v) for k, v in p.items()}
    store = store if store is not None else ResultStore()
    key = (profile, json.dumps(p, sort_keys=True, default=str), str(store.root), str(store.reference))
    if key not in _CACHE:
        with diffusion.one_thread():
            _CACHE[key] = _chapter(profile, p, store, progress)
    return _CACHE[key]


def _chapter(profile: str, p: dict, store, progress) -> DiffusionChapter:
    from hcvae.runs import experiments

    cfgs = configs(profile, p["seed"], p["datasets"], p["schedules"], p["train_schedule"], p["clip_x0"], p["settings"])
    results = {c.dataset: runner.run(c, store=store, progress=progress) for c in cfgs}
    samples = {c.dataset: store.load_arrays(c) for c in cfgs}
    settings = cfgs[0].settings | {"n_generated": cfgs[0].n_generated, "gain_points": cfgs[0].gain_points,
                                   "models": cfgs[0].model_names}
    T = settings["T"]
    family = [theory.noise_schedule(name, T) for name in p["schedules"]]
    ch = {"profile": profile, "params": p, "configs": cfgs, "results": results, "settings": settings,
          "family": family, "T": T,
          "gain_points": min(settings["gain_points"], *(r["n_test"] for r in results.values()))}
    ch.update(_critical_timesteps(p, family))
    ch.update(_denoisers(cfgs, results))
    ch.update(_selection(results))
    ch.update(_prediction_1_2(results, p["independence_tol"], T))
    ch.update(_sampling(cfgs, results, samples, p["datasets"]))
    ch.update(_prediction_3(ch["own"], ch["real"], p["z_margin"]))
    ch.update(_prediction_4(results, ch["floors"], settings["models"], p["z_margin"], p["floor_margin"], T))
    ch.update(_findings(ch, p))
    return DiffusionChapter(**ch)


# ---- where t_c is --------------------------------------------------------------------------------------------

def _critical_timesteps(p: dict, family) -> dict:
    full = {ds: load_dataset(ds).x for ds in p["datasets"]}
    tc_rows = diffusion.critical_timestep_rows(full, p["scalings"], family)
    as_loaded = {r["data"]: r for r in tc_rows if r["scaling"] == "as_loaded"}
    with_tc = {ds: [r["scaling"] for r in tc_rows if r["data"] == ds and any(v is not None for v in r["eq13"].values())]
               for ds in p["datasets"]}
    return {
        "tc_rows": tc_rows,
        "tc_table": (["data", "scaling", "λ_max", *[s.name for s in family]],
                     [(r["data"], r["scaling"], r["lambda_max"],
                       *[f"{fmt_t(r['eq13'][s.name])} / {fmt_t(r['snr'][s.name])}" for s in family]) for r in tc_rows]),
        "as_loaded": as_loaded, "with_tc": with_tc, "n_with_tc": sum(len(v) for v in with_tc.values()),
        "n_tc_rows": len(tc_rows),
        "with_tc_text": "; ".join(f"{ds}: {', '.join(f'`{s}`' for s in v) or 'none'}" for ds, v in with_tc.items()),
        "levels": {f"{r['data']}, {r['scaling']}": r["lambda_max"] for r in tc_rows
                   if r["scaling"] in ("as_loaded", "unit_total_variance")},
    }


# ---- the denoisers and Algorithm 2's selection -----------------------------------------------------------------

def _denoisers(cfgs, results) -> dict:
    c = cfgs[0]
    sizes = ddpm.round_sizes(c.R)
    rounds_note = (f"Algorithm 2 trains {len(sizes) - 1} round(s), on {', then '.join(map(str, sizes[:-1]))} schedules, "
                   f"and returns the model as it stands when {sizes[-1]} remain"
                   + (": with one round it *is* the model trained on all R schedules at once, and its selection only "
                      "names which schedule it is sampled with." if len(sizes) == 2 else "."))
    extra = (" This profile also runs Algorithm 2 with a denoiser blind to the schedule, ε_θ(x_t, t) "
             "(**Algorithm 2, timestep only**)." if "Algorithm 2, timestep only" in c.model_names else
             " (The `paper` profile also runs Algorithm 2 with a denoiser blind to the schedule.)")
    return {"n_train": {ds: r["n_train"] for ds, r in results.items()},
            "total_epochs": ddpm.consensus_epochs(c.R, c.epochs_per_round), "round_sizes": sizes,
            "rounds_note": rounds_note, "extra_models": extra,
            "alg2_schedules": ", ".join(f"`{s.name}`" for s in ddpm.generate_schedules(c.R, c.T))}


def _selection(results) -> dict:
    records, rows, n_easiest, n_rounds = {}, [], 0, 0
    for ds, res in results.items():
        alg2 = res["models"]["Algorithm 2"]
        names, mmse = alg2["schedules"], alg2["gaussian_eps_mmse"]
        records[ds] = (alg2["rounds"], names, mmse)
        for r, rnd in enumerate(alg2["rounds"]):
            easiest = sorted(sorted(rnd["set"], key=lambda k: mmse[names[k]])[: len(rnd["kept"])])
            n_easiest += easiest == rnd["kept"]
            n_rounds += 1
            rows.append((ds, r, ", ".join(names[k] for k in rnd["kept"]),
                         ", ".join(names[k] for k in rnd["set"] if k not in rnd["kept"]),
                         "yes" if easiest == rnd["kept"] else "no"))
    reading = ("The selection ranks the schedules at least as much as it ranks the model's fit to them."
               if n_easiest == n_rounds else
               "In the other rounds the model's fit changed the ranking the schedules alone would give.")
    return {"selection_records": records, "rounds_table": (["data", "round", "kept", "discarded",
                                                            "kept = lowest Gaussian ε-MMSE"], rows),
            "n_easiest": n_easiest, "n_rounds": n_rounds, "selection_reading": reading}


# ---- predictions 1 and 2 ----------------------------------------------------------------------------------------

def _distances(half: int, t13, tsnr) -> dict:
    """{reading: |t where the recovered share halves − that reading's t_c|}, for the readings with a t_c."""
    return {r: abs(half - t) for r, t in (("eq13", t13), ("snr", tsnr)) if t is not None}


def _prediction_1_2(results, tol: float, T: int) -> dict:
    studies = {ds: _as_arrays(r["gain"]) for ds, r in results.items()}
    rows, verdicts, by_reading = [], [], {rd: [] for rd in READINGS}
    for ds, st in studies.items():
        c = st["curve"]
        half = diffusion_rules.first_below(c, 0.5)
        for reading in READINGS:
            v = diffusion_rules.independence_verdict(c, st["t_c"][reading], tol)
            wiener = None if v["t_c"] is None else float(st["wiener_top"][v["t_c"] - 1])
            rows.append((ds, st["lambda_max"], reading, fmt_t(v["t_c"]), v["gain_at_t_c"], wiener, v["max_gain_after"],
                         fmt_t(v["t_below_tol"]), fmt_t(half), diffusion_rules.gain_at(c, v["t_c"], "top"), v["verdict"]))
            if v["t_c"] is not None:
                verdicts.append(v["verdict"])
                by_reading[reading].append(v["verdict"])
    n_indep = sum(v == "independent after t_c" for v in verdicts)
    p1_verdict = "supported" if verdicts and n_indep == len(verdicts) else "not supported"

    half_rows = [(ds, diffusion_rules.first_below(st["curve"], 0.5), st["t_c"]["eq13"], st["t_c"]["snr"])
                 for ds, st in studies.items()]
    closer = {"eq13": 0, "snr": 0}
    for _, half, t13, tsnr in half_rows:
        if half is not None:
            dist = _distances(half, t13, tsnr)
            closer[min(dist, key=dist.get)] += 1
    n_half = sum(h is not None for _, h, _, _ in half_rows)
    if closer["snr"] > closer["eq13"]:
        p2_reading = ("λ_max does locate the decline, through the signal-to-noise ratio ᾱ_t λ_max/(1 − ᾱ_t), "
                      "whose ᾱ_t eq. 13 drops.")
    elif closer["eq13"] > closer["snr"]:
        p2_reading = "Here eq. 13 locates the decline better than the signal-to-noise reading."
    else:
        p2_reading = "The two readings tie." if closer["snr"] else "Neither reading can be compared: the gain never halves."

    widths = []
    for ds, st in studies.items():
        hi, lo = diffusion_rules.first_below(st["curve"], 0.9), diffusion_rules.first_below(st["curve"], 0.1)
        widths.append(f"on {ds}, the recovered share falls from 0.9 to 0.1 between t = {hi} and t = {lo}, "
                      f"{(lo - hi) / T:.0%} of the {T} steps" if hi is not None and lo is not None
                      else f"on {ds}, it does not fall from 0.9 to below 0.1 within the {T} steps")
    width_text = "; ".join(widths)
    return {
        "studies": studies,
        "p1_table": (["data", "λ_max", "reading", "t_c", "recovered share at t_c", "Gaussian optimum at t_c",
                      "largest share from t_c on", f"share < {tol:g} from t", "share < 1/2 from t", "local gain at t_c",
                      "verdict"], rows),
        "p1_verdicts": verdicts, "p1_by_reading": by_reading, "p1_n_indep": n_indep, "p1_verdict": p1_verdict,
        "min_reverse": min(float(st["curve"]["reverse_mean"].min()) for st in studies.values()),
        "half_rows": half_rows, "closer": closer, "n_half": n_half, "p2_reading": p2_reading,
        "p1_width": width_text[0].upper() + width_text[1:] + ".",
    }


# ---- sampling: predictions 3 and 4 -------------------------------------------------------------------------------

def _sampling(cfgs, results, stored, datasets) -> dict:
    own, samples, test_rows = {}, {}, {}
    for c in cfgs:
        res, ds = results[c.dataset], c.dataset
        own[ds] = {m: res["reports"][m][info["own_schedule"]] for m, info in res["models"].items()}
        samples[ds] = {m: stored[ds][m] for m in res["models"]}
        x = load_dataset(ds, c.n_samples, seed=0).x
        test_rows[ds] = x[diffusion.split_rows(len(x), seed=c.seed)[0]]
    unseen = results[datasets[0]]["unseen"]
    return {"own": own, "real": {ds: r["real"] for ds, r in results.items()},
            "floors": {ds: r["floor"] for ds, r in results.items()},
            "reports": {ds: r["reports"] for ds, r in results.items()}, "samples": samples, "test_rows": test_rows,
            "unseen": unseen, "n_generated": cfgs[0].n_generated,
            "unseen_note": (f", and with {len(unseen)} random schedules no model was trained on "
                            f"({', '.join(f'`{s}`' for s in unseen)})" if unseen
                            else " (no unseen random schedules in this profile)")}


def _prediction_3(own: dict, real: dict, z_margin: float) -> dict:
    rows, verdicts = [], []
    for ds, reps in own.items():
        a = reps["Algorithm 2"]
        for base in P3_BASELINES:
            b = reps[base]
            margin = z_margin * float(np.hypot(a["entropy_se"], b["entropy_se"]))
            v = diffusion_rules.compare_verdict(a["entropy"], b["entropy"], margin)
            verdicts.append(v)
            rows.append((ds, base, b["entropy"], a["entropy"], real[ds]["entropy"], margin, b["variance_ratio"],
                         a["variance_ratio"], f"{a['covered']} / {b['covered']} of {a['n_labels']}", v))
    counts = ", ".join(f"{verdicts.count(v)} {v}" for v in ("better", "worse", "no measurable difference") if v in verdicts)
    return {"p3_table": (["data", "baseline", "baseline entropy", "Algorithm 2 entropy", "held-out data", "margin",
                          "baseline variance ratio", "Algorithm 2 variance ratio", "modes covered (Alg. 2 / baseline)",
                          "Algorithm 2 is"], rows),
            "p3_verdicts": verdicts, "p3_verdict": diffusion_rules.overall_verdict(verdicts), "p3_counts": counts}


def _prediction_4(results, floors, model_names, z_margin: float, floor_margin: float, T: int) -> dict:
    rows, degradation = [], {}
    for ds, res in results.items():
        for m, info in res["models"].items():
            reps, own_name = res["reports"][m], info["own_schedule"]
            d_energy = diffusion_rules.transfer_degradation({s: r["energy"] for s, r in reps.items()}, own_name,
                                                      floor_margin * floors[ds])
            se = {s: z_margin * float(np.hypot(r["c2st_se"], reps[own_name]["c2st_se"])) for s, r in reps.items()}
            d_c2st = diffusion_rules.transfer_degradation({s: r["c2st"] for s, r in reps.items()}, own_name, se)
            degradation[(ds, m)] = {"degrades": d_energy["degrades"] or d_c2st["degrades"], "energy": d_energy,
                                    "c2st": d_c2st}
            rows.append((ds, m, own_name, d_energy["own_value"], d_energy["worst"], d_energy["excess"] / floors[ds],
                         d_c2st["own_value"], d_c2st["worst"], d_c2st["worst_value"],
                         "degrades" if degradation[(ds, m)]["degrades"] else "no degradation"))
    datasets = list(results)
    n = len(datasets)
    alg2_ok = [not degradation[(ds, "Algorithm 2")]["degrades"] for ds in datasets]
    p4_verdict = "supported" if all(alg2_ok) else "not supported"
    controls = {m: sum(not degradation[(ds, m)]["degrades"] for ds in datasets) for m in model_names if m != "Algorithm 2"}
    noise_level_ok = controls.get("DDPM, noise level", 0) == n
    same_net_ok = controls.get("DDPM, t + noise level", 0)
    text = ""
    if all(alg2_ok) and same_net_ok < n:
        text = f"Algorithm 2's own denoiser trained on one schedule degrades on {n - same_net_ok} of {n} data sets. "
        if "DDPM, all R schedules" in controls:
            multi_ok = controls["DDPM, all R schedules"]
            text += ("Trained on all R schedules at once, with no selection, it degrades on none: training on several "
                     "schedules removes the degradation, the selection adds nothing measurable. " if multi_ok == n else
                     f"Trained on all R schedules at once without selection it still degrades on {n - multi_ok}: "
                     "the selection adds something. ")
    text += ("The DDPM told only the noise level transfers without degradation on every data set after training on one "
             "schedule, with no selection: conditioning on the noise level is enough to get there."
             if noise_level_ok else
             "The DDPM told only the noise level does not transfer on every data set, so conditioning alone is not "
             "enough here.")
    own_acc = [r[6] for r in rows]
    cosine_beta_T = float(theory.noise_schedule("cosine", T).betas[-1])
    blown = [(ds, m) for ds in datasets for m, reps in results[ds]["reports"].items()
             if "cosine" in reps and reps["cosine"]["variance_ratio"] > 10]
    cosine_note = (f"Sampled with `cosine`, the samples' variance exceeds ten times the data's for {len(blown)} of "
                   f"{sum(len(r['models']) for r in results.values())} (data set, model) pairs"
                   + (": " + "; ".join(f"{ds}, {m}" for ds, m in blown) + "." if blown else ".")
                   + (" Algorithm 2 trained on `cosine` in its first round and is among them."
                      if any(m == "Algorithm 2" for _, m in blown) else ""))
    return {"p4_table": (["data", "model", "own schedule", "distance, own", "worst schedule (distance)",
                          "its excess / floor", "accuracy, own", "worst schedule (accuracy)", "its accuracy", "verdict"],
                         rows),
            "degradation": degradation, "alg2_ok": alg2_ok, "p4_verdict": p4_verdict, "p4_controls": controls,
            "p4_controls_text": "; ".join(f"{m}: {k} of {n}" for m, k in controls.items()), "p4_reading": text,
            "own_acc_range": (min(own_acc), max(own_acc)), "cosine_beta_T": cosine_beta_T,
            # beta_T / sqrt(1 - abar_T) / sqrt(alpha_T), abar_T ~ 0
            "cosine_gain": float(cosine_beta_T / np.sqrt(1 - cosine_beta_T)), "cosine_blown": blown,
            "cosine_note": cosine_note}


# ---- what the chapter found ------------------------------------------------------------------------------------

def _findings(ch: dict, p: dict) -> dict:
    ts = p["train_schedule"]
    tc = ("Eq. 13 has a critical timestep only when λ_max < 1: in "
          f"{ch['n_with_tc']} of {ch['n_tc_rows']} (data set, scaling) pairs, and in none under per-feature "
          "standardisation, the scaling eq. 12 presumes. As loaded, "
          + ", ".join(f"{ds} (λ_max {r['lambda_max']:.3g}) has "
                      + (f"t_c = {r['eq13'][ts]} on the {ts} schedule" if r["eq13"][ts] else "none")
                      for ds, r in ch["as_loaded"].items()) + ".")
    p1 = (f"Prediction 1 is {ch['p1_verdict']}: the share of x_0 that the denoiser's estimate recovers from x_t stays "
          f"below {p['independence_tol']:g} from t_c on in {ch['p1_n_indep']} of {len(ch['p1_verdicts'])} cases. "
          + ch["p1_width"] + f" The reverse step itself always follows x_t (gain ≥ {ch['min_reverse']:.2f}).")
    p2 = (f"The recovered share halves nearer the SNR = 1 timestep than eq. 13's in {ch['closer']['snr']} of "
          f"{ch['n_half']} data sets. " + ch["p2_reading"])
    sel = (f"Algorithm 2 kept the schedules an ideal Gaussian denoiser finds easiest in {ch['n_easiest']} of "
           f"{ch['n_rounds']} rounds. " + ("The ε loss it selects on measures the schedule at least as much as the model."
                                          if ch["n_easiest"] == ch["n_rounds"] else ""))
    p3 = f"Prediction 3 (more diverse samples) is {ch['p3_verdict']} ({', '.join(ch['p3_verdicts'])})."
    p4 = (f"Prediction 4 (no degradation under other schedules) is {ch['p4_verdict']} for Algorithm 2 "
          f"({sum(ch['alg2_ok'])} of {len(ch['alg2_ok'])} data sets). " + ch["p4_reading"])
    return {"findings": {"finding_tc": tc, "finding_p1": p1, "finding_p2": p2, "finding_selection": sel,
                         "finding_p3": p3, "finding_p4": p4}}


# ---- the ledger -----------------------------------------------------------------------------------------------

# The chapter's verdicts in the ledger's terms (claims.VERDICTS).
LEDGER_VERDICT = {"supported": "reproduced", "not supported": "not reproduced", "contradicted": "not reproduced",
                  "mixed": "not reproduced"}


def _p1_by_reading(ch: DiffusionChapter) -> dict:
    """Prediction 1 per reading of t_c: reproduced when the share stays below the tolerance from t_c on for every
    data set that has that t_c; not testable when no data set has one."""
    out = {}
    for reading, verdicts in ch.p1_by_reading.items():
        out[reading] = ("not testable here" if not verdicts else
                        "reproduced" if all(v == "independent after t_c" for v in verdicts) else "not reproduced")
    return out


def _p2_by_reading(ch: DiffusionChapter) -> dict:
    """Prediction 2 per reading of t_c: reproduced when that reading's t_c is the nearer one to where the recovered
    share halves on every data set where it halves (a reading without a t_c there is not the nearer)."""
    out = {}
    for reading in READINGS:
        if not ch.n_half:
            out[reading] = "not testable here"
            continue
        nearer = []
        for _, half, t13, tsnr in ch.half_rows:
            if half is None:
                continue
            dist = _distances(half, t13, tsnr)
            nearer.append(reading in dist and dist[reading] <= min(dist.values()))
        out[reading] = "reproduced" if all(nearer) else "not reproduced"
    return out


def _combine(per: dict) -> str:
    """One verdict from the per-reading ones: the paper's own t_c (eq. 13) first; "depends on reading" when the
    claim holds only with the SNR = 1 timestep."""
    if per["eq13"] == "reproduced":
        return "reproduced"
    if per["snr"] == "reproduced":
        return "depends on reading"
    return "not reproduced" if "not reproduced" in per.values() else "not testable here"


def measure_p1(profile: str, ch: DiffusionChapter | None = None):
    from hcvae.chapters.ledger import Measurement

    ch = chapter(profile) if ch is None else ch
    per = _p1_by_reading(ch)
    parts = [f"{rd}: {sum(v == 'independent after t_c' for v in ch.p1_by_reading[rd])} of "
             f"{len(ch.p1_by_reading[rd])} data sets with a t_c" for rd in READINGS]
    largest = [r[6] for r in ch.p1_table[1] if r[6] is not None]
    return Measurement(f"chapter: {ch.p1_verdict}; recovered share < {ch.params['independence_tol']:g} from t_c "
                       f"on in {'; '.join(parts)}"
                       + (f"; largest share from t_c on {min(largest):.2g} to {max(largest):.2g}" if largest else "")
                       + f"; the reverse step's own gain on x_t is ≥ {ch.min_reverse:.2f} at every t", _combine(per))


def measure_p2(profile: str, ch: DiffusionChapter | None = None):
    from hcvae.chapters.ledger import Measurement

    ch = chapter(profile) if ch is None else ch
    per = _p2_by_reading(ch)
    halves = "; ".join(f"{ds}: halves at t = {fmt_t(h)}, eq. 13 t_c {fmt_t(t13)}, SNR = 1 t_c {fmt_t(tsnr)}"
                       for ds, h, t13, tsnr in ch.half_rows)
    return Measurement(f"nearer to the halving point: SNR = 1 in {ch.closer['snr']}, eq. 13 in "
                       f"{ch.closer['eq13']} of {ch.n_half} data sets ({halves})", _combine(per))


def measure_p3(profile: str, ch: DiffusionChapter | None = None):
    from hcvae.chapters.ledger import Measurement

    ch = chapter(profile) if ch is None else ch
    return Measurement(f"chapter: {ch.p3_verdict}; label entropy of Algorithm 2 against "
                       f"{' and '.join(P3_BASELINES)}: {ch.p3_counts} (of {len(ch.p3_verdicts)} comparisons)",
                       LEDGER_VERDICT[ch.p3_verdict])


def measure_p4(profile: str, ch: DiffusionChapter | None = None):
    from hcvae.chapters.ledger import Measurement

    ch = chapter(profile) if ch is None else ch
    worst = []
    for ds, ok in zip(ch.results, ch.alg2_ok):
        d = ch.degradation[(ds, "Algorithm 2")]
        worst.append(f"{ds}: {'no degradation' if ok else 'degrades'} (worst distance {d['energy']['worst']} at "
                     f"{d['energy']['excess'] / ch.floors[ds]:.3g} floors, worst accuracy {d['c2st']['worst']} "
                     f"{d['c2st']['worst_value']:.3g} vs own {d['c2st']['own_value']:.3g})")
    return Measurement(f"chapter: {ch.p4_verdict}; Algorithm 2 without degradation on {sum(ch.alg2_ok)} of "
                       f"{len(ch.alg2_ok)} data sets; " + "; ".join(worst), LEDGER_VERDICT[ch.p4_verdict])


CONDITIONS = ("small ε-predicting MLP DDPMs (T = 1000) on the synthetic mixture and digits as loaded, "
              "compute-matched; ancestral sampling, x̂_0 not clipped")


def claims() -> list:
    """The ledger rows of v1 §7.4's predictions 1-4, as the chapter tests them."""
    from hcvae.chapters.ledger import Claim

    tol, z, floor = DEFAULTS["independence_tol"], DEFAULTS["z_margin"], DEFAULTS["floor_margin"]
    baselines = " and ".join(P3_BASELINES)
    return [
        Claim("diffusion-p1", "v1", "§7.4, prediction 1; eq. 13",
              "dependence of the denoiser's x_0 estimate on x_t from t_c on: the share of x_0's variance along the top "
              "eigenvector that it recovers, corr²(uᵀx_0, uᵀx̂_0)",
              "for t > t_c the reverse process becomes independent of x_t",
              CONDITIONS + "; the standard DDPM, linear schedule; t_c by eq. 13 and by SNR = 1",
              f"per reading of t_c: the share stays below {tol:g} at every measured t ≥ t_c on every data set that has "
              "that t_c (not testable if none has); reproduced if it holds with eq. 13's t_c, depends on reading if "
              "only with the SNR = 1 one", CHAPTER, measure_p1),
        Claim("diffusion-p2", "v1", "§7.4, prediction 2; eq. 13", "where the denoiser stops recovering x_0",
              "t_c is set by λ_max, 1 − ᾱ_{t_c} = λ_max",
              CONDITIONS + "; the standard DDPM, linear schedule",
              "per reading (eq. 13 as written; SNR ᾱ_t λ_max/(1 − ᾱ_t) = 1): its t_c is the nearer of the two to the "
              "first timestep where the recovered share is below ½, on every data set where it falls that far; "
              "reproduced if eq. 13's is, depends on reading if only the SNR one is", CHAPTER, measure_p2),
        Claim("diffusion-p3", "v1", "§7.4, prediction 3; Algorithm 2", "label entropy of the samples (modes hit)",
              "Algorithm 2 gives more diverse samples",
              CONDITIONS + "; every model sampled with its own schedule; labels from a logistic-regression classifier",
              f"Algorithm 2's entropy exceeds that of each of {baselines} by more than {z:g} combined bootstrap "
              "standard errors, on every data set", CHAPTER, measure_p3),
        Claim("diffusion-p4", "v1", "§7.4, prediction 4; Algorithm 2",
              "quality of Algorithm 2's samples under other schedules than its own", "no degradation",
              CONDITIONS + "; sampled with the four published schedules (and, in the paper profile, two unseen "
                           "random ones)",
              f"on no data set does another schedule raise the sliced energy distance to held-out data by more than "
              f"{floor:g} real-vs-real floor, or the two-sample test accuracy by more than {z:g} combined standard "
              "errors", CHAPTER, measure_p4),
    ]


def runs(profile: str) -> list[dict]:
    """The stored results the ledger's diffusion rows read (each with ``wall_time_s``)."""
    return list(chapter(profile).results.values())


def denoisers(config: DiffusionChapterConfig, store=None) -> dict:
    """The trained denoisers of a stored run, rebuilt from their state dicts: ``{model name: Denoiser}``."""
    from hcvae.runs.store import ResultStore

    store = store if store is not None else ResultStore()
    state = store.load_weights(config)["denoisers"]
    dim = load_dataset(config.dataset, config.n_samples, seed=0).dim
    out = {}
    for name, sd in state.items():
        net = ddpm.Denoiser(dim, diffusion.MODEL_SPECS[name]["conditioning"], config.hidden, config.depth)
        net.load_state_dict(sd)
        out[name] = net.eval()
    return out

"""What chapter 08 prints: its tables and its computed sentences, written from the sections
:mod:`hcvae.chapters.diffusion_report` computes (the page's static prose stays in its notebook)."""

from __future__ import annotations

from hcvae.chapters.numbers import fmt
from hcvae.chapters.diffusion_rules import first_below


def fmt_t(t) -> str:
    """A timestep, or a dash where there is none."""
    return "—" if t is None else str(t)


def tables(p, runs, tc, sel, p1, samp,
           p3, p4) -> dict:
    """The chapter's five tables, (header, rows) each: t_c, Algorithm 2's rounds, predictions 1, 3 and 4."""
    family, floors = runs.family, samp.floors
    return {
        "tc": (["data", "scaling", "λ_max", *[s.name for s in family]],
               _tc_rows(tc.rows, family)),
        "rounds": (["data", "round", "kept", "discarded", "kept = lowest Gaussian ε-MMSE"],
                   [(ds, r, kept, discarded, "yes" if easiest else "no")
                    for ds, r, kept, discarded, easiest in sel.rounds]),
        "p1": (["data", "λ_max", "reading", "t_c", "recovered share at t_c", "Gaussian optimum at t_c",
                "largest share from t_c on", f"share < {p.independence_tol:g} from t", "share < 1/2 from t",
                "local gain at t_c", "verdict"],
               [(c["data"], c["lambda_max"], c["reading"], fmt_t(c["t_c"]), c["gain_at_t_c"], c["wiener"],
                 c["max_gain_after"], fmt_t(c["t_below_tol"]), fmt_t(c["half"]), c["local_gain"], c["verdict"])
                for c in p1.cases]),
        "p3": (["data", "baseline", "baseline entropy", "Algorithm 2 entropy", "held-out data", "margin",
                "baseline variance ratio", "Algorithm 2 variance ratio", "modes covered (Alg. 2 / baseline)",
                "Algorithm 2 is"],
               [(c["data"], c["baseline"], c["base"]["entropy"], c["alg2"]["entropy"], c["real_entropy"], c["margin"],
                 c["base"]["variance_ratio"], c["alg2"]["variance_ratio"],
                 f"{c['alg2']['covered']} / {c['base']['covered']} of {c['alg2']['n_labels']}", c["verdict"])
                for c in p3.comparisons]),
        "p4": (["data", "model", "own schedule", "distance, own", "worst schedule (distance)", "its excess / floor",
                "accuracy, own", "worst schedule (accuracy)", "its accuracy", "verdict"],
               [(ds, m, d["energy"]["own"], d["energy"]["own_value"], d["energy"]["worst"],
                 d["energy"]["excess"] / floors[ds], d["c2st"]["own_value"], d["c2st"]["worst"],
                 d["c2st"]["worst_value"], "degrades" if d["degrades"] else "no degradation")
                for (ds, m), d in p4.degradation.items()]),
    }


def _training_texts(runs, train) -> dict:
    sizes = train.round_sizes
    return {
        "rounds_note": (f"Algorithm 2 trains {len(sizes) - 1} round(s), on {', then '.join(map(str, sizes[:-1]))} "
                        f"schedules, and returns the model as it stands when {sizes[-1]} remain"
                        + (": with one round it *is* the model trained on all R schedules at once, and its selection "
                           "only names which schedule it is sampled with." if len(sizes) == 2 else ".")),
        "alg2_schedules": ", ".join(f"`{s}`" for s in train.alg2_schedules),
        "extra_models": (" This profile also runs Algorithm 2 with a denoiser blind to the schedule, ε_θ(x_t, t) "
                         "(**Algorithm 2, timestep only**)." if "Algorithm 2, timestep only" in runs.settings["models"]
                         else " (The `paper` profile also runs Algorithm 2 with a denoiser blind to the schedule.)"),
    }


def _p2_reading(p2) -> str:
    closer = p2.closer
    if closer["snr"] > closer["eq13"]:
        return ("λ_max does locate the decline, through the signal-to-noise ratio ᾱ_t λ_max/(1 − ᾱ_t), "
                "whose ᾱ_t eq. 13 drops.")
    if closer["eq13"] > closer["snr"]:
        return "Here eq. 13 locates the decline better than the signal-to-noise reading."
    return "The two readings tie." if closer["snr"] else "Neither reading can be compared: the gain never halves."


def _p1_width(p1, T: int) -> str:
    widths = []
    for ds, st in p1.studies.items():
        hi, lo = first_below(st["curve"], 0.9), first_below(st["curve"], 0.1)
        widths.append(f"on {ds}, the recovered share falls from 0.9 to 0.1 between t = {hi} and t = {lo}, "
                      f"{(lo - hi) / T:.0%} of the {T} steps" if hi is not None and lo is not None
                      else f"on {ds}, it does not fall from 0.9 to below 0.1 within the {T} steps")
    text = "; ".join(widths)
    return text[0].upper() + text[1:] + "."


def _p4_reading(p4) -> str:
    n = len(p4.alg2_ok)
    controls = p4.controls
    same_net_ok = controls.get("DDPM, t + noise level", 0)
    text = ""
    if all(p4.alg2_ok) and same_net_ok < n:
        text = f"Algorithm 2's own denoiser trained on one schedule degrades on {n - same_net_ok} of {n} data sets. "
        if "DDPM, all R schedules" in controls:
            multi_ok = controls["DDPM, all R schedules"]
            text += ("Trained on all R schedules at once, with no selection, it degrades on none: training on several "
                     "schedules removes the degradation, the selection adds nothing measurable. " if multi_ok == n else
                     f"Trained on all R schedules at once without selection it still degrades on {n - multi_ok}: "
                     "the selection adds something. ")
    text += ("The DDPM told only the noise level transfers without degradation on every data set after training on one "
             "schedule, with no selection: conditioning on the noise level is enough to get there."
             if controls.get("DDPM, noise level", 0) == n else
             "The DDPM told only the noise level does not transfer on every data set, so conditioning alone is not "
             "enough here.")
    return text


def _cosine_note(p4) -> str:
    blown = p4.cosine_blown
    return (f"Sampled with `cosine`, the samples' variance exceeds ten times the data's for {len(blown)} of "
            f"{p4.n_pairs} (data set, model) pairs"
            + (": " + "; ".join(f"{ds}, {m}" for ds, m in blown) + "." if blown else ".")
            + (" Algorithm 2 trained on `cosine` in its first round and is among them."
               if any(m == "Algorithm 2" for _, m in blown) else ""))


def _tc_rows(rows, family) -> list:
    return [(r["data"], r["scaling"], r["lambda_max"],
             *[f"{fmt_t(r['eq13'][s.name])} / {fmt_t(r['snr'][s.name])}" for s in family]) for r in rows]


def image_tables(images, family) -> dict:
    """The t_c table on the papers' image sets, as the chapter's (none without an image set)."""
    if not images.rows:
        return {}
    return {"tc_images": (["data", "scaling", "λ_max", *[s.name for s in family]], _tc_rows(images.rows, family))}


def image_finding(p, images) -> str:
    """Where eq. 13 has a t_c on the image sets, as loaded and under the other scalings their spectra give."""
    if not images.rows:
        return "No image set in this build."
    ts = p.train_schedule
    loaded = [r for r in images.rows if r["scaling"] == "as_loaded"]
    return (f"On the papers' image sets, eq. 13 has a t_c in {images.n_with_tc} of {len(images.rows)} (data set, "
            "scaling) pairs" + (". As loaded, " + ", ".join(
                f"{r['data']} (λ_max {fmt(r['lambda_max'])}) has "
                + (f"t_c = {r['eq13'][ts]} on the {ts} schedule" if r["eq13"][ts] else "none") for r in loaded)
                if loaded else "") + ".")


def sentences(p, runs, tc, train, sel, p1,
              p2, samp, p3, p4) -> tuple[dict, dict]:
    """The chapter's computed texts (name -> Markdown, or a number the page quotes and formats itself) and its
    findings (name -> sentence)."""
    counts = ", ".join(f"{p3.verdicts.count(v)} {v}" for v in ("better", "worse", "no measurable difference")
                       if v in p3.verdicts)
    unseen = samp.unseen
    texts = {
        "profile": f"`{p.profile}`", "T": runs.T,
        # where t_c is
        **{f"lambda_max_{ds}": r["lambda_max"] for ds, r in tc.as_loaded.items()},
        "with_tc": "; ".join(f"{ds}: {', '.join(f'`{s}`' for s in v) or 'none'}" for ds, v in tc.with_tc.items()),
        "n_with_tc": tc.n_with_tc, "n_tc_rows": len(tc.rows),
        # the denoisers and Algorithm 2's selection
        **{f"n_train_{ds}": n for ds, n in train.n_train.items()},
        **{key: runs.settings[key] for key in ("hidden", "depth", "R", "epochs_per_round")},
        "total_epochs": train.total_epochs, **_training_texts(runs, train),
        "selection_reading": ("The selection ranks the schedules at least as much as it ranks the model's fit to them."
                              if sel.n_easiest == sel.n_rounds else
                              "In the other rounds the model's fit changed the ranking the schedules alone would give."),
        "n_easiest": sel.n_easiest, "n_rounds": sel.n_rounds,
        # predictions 1 and 2
        "gain_points": runs.gain_points, "p1_verdict": f"**{p1.verdict}**", "p1_n_indep": p1.n_indep,
        "p1_n": len(p1.verdicts), "independence_tol": p.independence_tol, "min_reverse": p1.min_reverse,
        "n_closer_snr": p2.closer["snr"], "n_closer_eq13": p2.closer["eq13"], "n_half": p2.n_half,
        "p2_reading": _p2_reading(p2), "p1_width": _p1_width(p1, runs.T),
        # sampling, predictions 3 and 4
        "n_generated": samp.n_generated,
        "unseen_note": (f", and with {len(unseen)} random schedules no model was trained on "
                        f"({', '.join(f'`{s}`' for s in unseen)})" if unseen
                        else " (no unseen random schedules in this profile)"),
        "clip_state": "on (into the training data's range)" if p.clip_x0 else "off",
        "p3_verdict": f"**{p3.verdict}**", "p3_counts": counts, "z_margin": p.z_margin, "p3_n": len(p3.verdicts),
        "floor_table": ", ".join(f"{ds} {fmt(f)}" for ds, f in samp.floors.items()),
        "own_acc_range": "{:.2f} to {:.2f}".format(*p4.own_acc_range), "p4_verdict": f"**{p4.verdict}**",
        "p4_alg2_ok": sum(p4.alg2_ok), "n_datasets": len(p4.alg2_ok),
        "p4_controls": "; ".join(f"{m}: {k} of {len(p4.alg2_ok)}" for m, k in p4.controls.items()),
        "p4_reading": _p4_reading(p4), "floor_margin": p.floor_margin, "cosine_beta_T": p4.cosine_beta_T,
        "cosine_gain": p4.cosine_gain, "cosine_note": _cosine_note(p4),
    }
    ts = p.train_schedule
    findings = {
        "tc": ("Eq. 13 has a critical timestep only when λ_max < 1: in "
               f"{tc.n_with_tc} of {len(tc.rows)} (data set, scaling) pairs, and in none under per-feature "
               "standardisation, the scaling eq. 12 presumes. As loaded, "
               + ", ".join(f"{ds} (λ_max {fmt(r['lambda_max'])}) has "
                           + (f"t_c = {r['eq13'][ts]} on the {ts} schedule" if r["eq13"][ts] else "none")
                           for ds, r in tc.as_loaded.items()) + "."),
        "p1": (f"Prediction 1 is {p1.verdict}: the share of x_0 that the denoiser's estimate recovers from x_t stays "
               f"below {p.independence_tol:g} from t_c on in {p1.n_indep} of {len(p1.verdicts)} cases. "
               + texts["p1_width"] + f" The reverse step itself always follows x_t (gain ≥ {p1.min_reverse:.2f})."),
        "p2": (f"The recovered share halves nearer the SNR = 1 timestep than eq. 13's in {p2.closer['snr']} of "
               f"{p2.n_half} data sets. " + texts["p2_reading"]),
        "selection": (f"Algorithm 2 kept the schedules an ideal Gaussian denoiser finds easiest in {sel.n_easiest} of "
                      f"{sel.n_rounds} rounds. "
                      + ("The ε loss it selects on measures the schedule at least as much as the model."
                         if sel.n_easiest == sel.n_rounds else "")),
        "p3": f"Prediction 3 (more diverse samples) is {p3.verdict} ({', '.join(p3.verdicts)}).",
        "p4": (f"Prediction 4 (no degradation under other schedules) is {p4.verdict} for Algorithm 2 "
               f"({sum(p4.alg2_ok)} of {len(p4.alg2_ok)} data sets). " + texts["p4_reading"]),
    }
    return texts, findings

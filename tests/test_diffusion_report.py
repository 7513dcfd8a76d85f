"""The diffusion chapter's stored runs, its report module and its claims-ledger rows, on a tiny setting."""

import json
import math
from dataclasses import replace

import pytest
import torch

from hcvae.book import claims
from hcvae.chapters import diffusion_report as report
from hcvae.methods import ddpm
from hcvae.runs import diffusion, experiments
from hcvae.runs.diffusion import DiffusionChapterConfig
from hcvae.runs.profiles import profile_settings
from hcvae.runs import runner

# Small enough that both data sets train, study and sample in a few seconds on one core.
TINY = dict(n_samples=400, T=100, hidden=16, depth=1, batch_size=64, R=4, epochs_per_round=1, n_generated=60,
            gain_points=40, gain_grid=6)


@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory):
    from hcvae.runs.store import ResultStore

    return ResultStore(tmp_path_factory.mktemp("results"))


@pytest.fixture(scope="module")
def tiny(tiny_store):
    return report.chapter("quick", store=tiny_store, settings=TINY, progress=False)


def numbers_in(result: dict) -> dict:
    """A stored result without what differs between two computations of the same config."""
    drop = {"wall_time_s", "provenance"}
    return {k: v for k, v in result.items() if k not in drop}


# --- the stored run --------------------------------------------------------------------------------------------

def test_config_keeps_lists_as_text_so_it_equals_its_stored_json():
    cfg = DiffusionChapterConfig.from_profile("quick", "digits", **TINY)
    assert cfg.model_names == profile_settings("quick")["diffusion"]["models"] and isinstance(cfg.models, str)
    assert cfg.schedule_names == ("linear", "cosine", "quadratic", "sigmoid")
    assert DiffusionChapterConfig(schedules=["linear", "cosine"]) == DiffusionChapterConfig(schedules="linear; cosine")
    assert DiffusionChapterConfig.from_profile("quick", "digits").n_samples is None
    assert DiffusionChapterConfig.from_profile("paper", "synthetic").n_samples == 6000


@pytest.mark.parametrize("overrides, message", [
    (dict(dataset="imagenet"), "dataset 'imagenet'"),
    (dict(R=6), "R must be a power of two"),
    (dict(models=["DDPM, timestep", "Algorithm 2"]), "missing DDPM, t \\+ noise level"),
    (dict(models=["DDPM, timestep", "DDPM, t + noise level", "Algorithm 2", "GAN"]), "model 'GAN'"),
    (dict(schedules=["linear", "exponential"]), "schedule 'exponential'"),
    (dict(lr=0.0), "lr must be"),
    (dict(clip_x0="yes"), "clip_x0"),
    (dict(seed=-1), "seed must be an integer >= 0"),
])
def test_bad_config_names_the_parameter(overrides, message):
    with pytest.raises(ValueError, match=message):
        DiffusionChapterConfig(**overrides)


def test_from_profile_rejects_an_unknown_setting():
    with pytest.raises(ValueError, match="unknown setting.*epochs"):
        DiffusionChapterConfig.from_profile("quick", "digits", epochs=3)
    with pytest.raises(ValueError, match="unknown parameter.*tolerance"):
        report.chapter("quick", tolerance=0.2)


def tiny_params(**values) -> report.Params:
    return report.Params.from_values(settings=TINY, **values)


def test_the_chapter_reads_its_runs_from_the_store(tiny, tiny_store, monkeypatch):
    cfgs = report.configs(tiny_params())
    assert [c.dataset for c in cfgs] == ["synthetic", "digits"]
    monkeypatch.setattr(DiffusionChapterConfig, "compute", lambda *a, **k: pytest.fail("recomputed a stored run"))
    for c in cfgs:
        stored = runner.run(c, store=tiny_store)
        assert stored == tiny.runs.results[c.dataset] and stored["wall_time_s"] > 0
        weights, samples = tiny_store.load_weights(c), tiny_store.load_arrays(c)
        assert set(weights["denoisers"]) == set(samples) == set(c.model_names)
        assert samples["Algorithm 2"].shape == (TINY["n_generated"], tiny.sampling.test_rows[c.dataset].shape[1])


def test_the_named_steps_make_the_chapter(tiny, tiny_store):
    """The page calls the steps one by one; they give what the chapter object holds."""
    p = tiny_params()
    runs = report.stored_runs(p, tiny_store, progress=False)
    assert runs.results == tiny.runs.results and runs.T == TINY["T"]
    p1 = report.prediction_1(runs.results, p.independence_tol)
    assert p1.verdict == tiny.p1.verdict and p1.cases == tiny.p1.cases
    assert report.prediction_2(p1.studies) == tiny.p2
    samp = report.sampling(runs)
    assert report.prediction_3(samp.own, samp.real, p.z_margin) == tiny.p3
    assert report.prediction_4(runs, samp.floors, p.z_margin, p.floor_margin) == tiny.p4
    assert report.selection(runs.results) == tiny.selection and report.training(runs) == tiny.training


def test_stored_denoisers_reproduce_the_stored_gain_curve(tiny, tiny_store):
    cfg = report.configs(tiny_params())[1]
    res = tiny.runs.results["digits"]
    net = report.denoisers(cfg, tiny_store)["DDPM, timestep"]
    x = tiny.sampling.test_rows["digits"][: TINY["gain_points"]]
    curve = ddpm.x0_gain(net, diffusion.noise_schedule("linear", TINY["T"]), x, res["gain"]["curve"]["t"],
                              _top_direction(cfg), seed=cfg.seed)
    assert curve["info"] == pytest.approx(res["gain"]["curve"]["info"], abs=1e-5)


def _top_direction(cfg):
    import numpy as np

    from hcvae.core.data import load_dataset

    x = load_dataset(cfg.dataset, cfg.n_samples, seed=0).x
    train = diffusion.split_rows(len(x), seed=cfg.seed)[2]
    return np.linalg.eigh(np.cov(x[train].T.astype(np.float64), bias=True))[1][:, -1]


def test_same_seed_same_numbers_and_another_seed_differs(tiny, tmp_path):
    from hcvae.runs.store import ResultStore

    cfg = report.configs(tiny_params(datasets=["synthetic"]))[0]
    again = runner.run(cfg, store=ResultStore(tmp_path / "again"))  # computed afresh
    assert numbers_in(again) == numbers_in(tiny.runs.results["synthetic"])
    other = runner.run(report.configs(tiny_params(seed=1, datasets=["synthetic"]))[0],
                       store=ResultStore(tmp_path / "other"))
    assert other["floor"] != again["floor"]


def test_chapter_numbers_are_consistent(tiny):
    from hcvae.chapters import diffusion_rules

    # each verdict follows from the per-case verdicts it summarises
    p1, p3, p4, results = tiny.p1, tiny.p3, tiny.p4, tiny.runs.results
    assert (p1.verdict == "supported") == (0 < p1.n_indep == len(p1.verdicts))
    assert p1.n_indep == sum(v == "independent after t_c" for v in p1.verdicts)
    assert p3.verdict == diffusion_rules.overall_verdict(p3.verdicts)
    assert (p4.verdict == "supported") == all(p4.alg2_ok)
    assert p4.alg2_ok == [not p4.degradation[(ds, "Algorithm 2")]["degrades"] for ds in results]
    assert len(p3.verdicts) == 2 * len(report.P3_BASELINES)
    assert p1.n_indep <= len(p1.verdicts) <= 2 * len(results)
    assert tiny.p2.closer["snr"] + tiny.p2.closer["eq13"] == tiny.p2.n_half
    assert tiny.training.total_epochs == TINY["epochs_per_round"] * 4  # R = 4 schedules, one round (4 -> 2)
    headers, rows = tiny.tables["p4"]
    assert all(len(r) == len(headers) for r in rows) and len(rows) == 2 * len(tiny.runs.settings["models"])
    assert all(math.isfinite(f) and f > 0 for f in tiny.sampling.floors.values())
    for name, (headers, rows) in tiny.tables.items():
        assert rows and all(len(r) == len(headers) for r in rows), name


# --- the ledger rows -------------------------------------------------------------------------------------------

def test_claims_are_measured_with_valid_verdicts(tiny, monkeypatch):
    monkeypatch.setattr(report.Chapter, "__call__", lambda self, profile="quick", **_: tiny)
    rows = claims.ledger("quick", report.claims())
    assert [r["id"] for r in rows] == ["diffusion-p1", "diffusion-p2", "diffusion-p3", "diffusion-p4"]
    for r in rows:
        assert r["chapter"] == "08-diffusion" and r["paper"] == "v1" and r["where"].startswith("§7.4")
        assert r["rule"] and r["claimed"] and r["measured"] and r["verdict"] in claims.VERDICTS
    assert not {r["id"] for r in rows} & {c.id for c in claims.all_claims() if c.chapter != "08-diffusion"}
    runs = report.runs("quick")
    assert len(runs) == 2 and all(r["wall_time_s"] > 0 for r in runs)


@pytest.mark.parametrize("chapter_verdict, ledger", [("supported", "reproduced"), ("not supported", "not reproduced"),
                                                     ("contradicted", "not reproduced"), ("mixed", "not reproduced")])
def test_chapter_verdicts_map_onto_the_ledger(tiny, chapter_verdict, ledger):
    assert report.measure_p3("quick", replace(tiny, p3=replace(tiny.p3, verdict=chapter_verdict))).verdict == ledger


def test_prediction_2_depends_on_the_reading_when_only_the_snr_timestep_locates_the_decline(tiny):
    def with_halves(n_half, half_rows=()):
        return replace(tiny, p2=replace(tiny.p2, n_half=n_half, half_rows=list(half_rows)))

    snr_only = with_halves(2, [("a", 300, None, 310), ("b", 200, 400, 190)])
    assert report.measure_p2("quick", snr_only).verdict == "depends on reading"
    eq13 = with_halves(1, [("a", 300, 305, 250), ("b", None, 400, 190)])
    assert report.measure_p2("quick", eq13).verdict == "reproduced"
    mixed = with_halves(2, [("a", 300, 305, 250), ("b", 200, 400, 190)])
    assert report.measure_p2("quick", mixed).verdict == "not reproduced"
    assert report.measure_p2("quick", with_halves(0)).verdict == "not testable here"


def test_prediction_1_per_reading_of_t_c(tiny):
    indep, dep = "independent after t_c", "still depends on x_t after t_c"

    def verdict(by_reading):
        return report.measure_p1("quick", replace(tiny, p1=replace(tiny.p1, by_reading=by_reading))).verdict

    assert verdict({"eq13": [indep], "snr": [dep, indep]}) == "reproduced"  # the paper's t_c holds; the earlier
    # SNR one is a stronger claim
    assert verdict({"eq13": [dep], "snr": [indep]}) == "depends on reading"
    assert verdict({"eq13": [], "snr": [indep]}) == "depends on reading"
    assert verdict({"eq13": [], "snr": []}) == "not testable here"
    assert verdict({"eq13": [], "snr": [dep]}) == "not reproduced"
    assert verdict({"eq13": [indep], "snr": [indep]}) == "reproduced"


# --- the notebook and the report agree ---------------------------------------------------------------------------

def test_the_notebooks_parameters_cell_is_the_declaration():
    import jupytext

    from hcvae.book import notebook

    path = notebook.NOTEBOOKS / f"{report.Params.PAGE}.md"
    assert notebook.parameter_defaults(jupytext.read(path)) == report.Params.defaults()
    assert list(notebook.parameter_defaults(jupytext.read(path))) == list(report.Params.defaults())


def test_notebook_glues_the_reports_verdicts(tiny, tiny_store, tmp_path, monkeypatch):
    """The chapter run by papermill (tiny settings, the same store) shows the verdicts the ledger reads."""
    import nbformat

    from hcvae.book import notebook

    monkeypatch.setenv("HCVAE_RESULTS", str(tiny_store.root))
    entries = sorted(tiny_store.root.iterdir())
    out = notebook.run(["08-diffusion", "-p", "settings", json.dumps(TINY), "-o", str(tmp_path)])
    assert sorted(tiny_store.root.iterdir()) == entries  # the kernel read the stored runs, computed nothing
    glued = {}
    for cell in nbformat.read(out, 4).cells:
        for o in cell.get("outputs", []):
            if "scrapbook" in o.get("metadata", {}):
                data = o["data"]
                glued[o["metadata"]["scrapbook"]["name"]] = data.get("application/papermill.record/text/markdown",
                                                                     data.get("application/papermill.record/text/plain"))
    for key, section in (("p1_verdict", tiny.p1), ("p3_verdict", tiny.p3), ("p4_verdict", tiny.p4)):
        assert glued[key] == f"**{section.verdict}**"
        assert f"chapter: {section.verdict};" in getattr(report, f"measure_{key[:2]}")("quick", tiny).value
    assert int(glued["n_closer_snr"]) == tiny.p2.closer["snr"] and int(glued["n_closer_eq13"]) == tiny.p2.closer["eq13"]
    for name, value in tiny.texts.items():  # every sentence and number the page quotes is the chapter's
        assert glued[name] == str(value), name
    assert f"SNR = 1 in {glued['n_closer_snr']}, eq. 13 in {glued['n_closer_eq13']}" in report.measure_p2("quick", tiny).value

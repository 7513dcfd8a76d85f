"""The papers' image sets as a data set of chapters 01-05: taken when `make data` prepared them, refused before any
work with the command that prepares them when it did not, their K the ten classes. The files are small fakes
written here, accepted by replacing the recorded hashes (the real packages are never needed)."""

import numpy as np
import pytest

from hcvae.book import notebook
from hcvae.chapters import barrier_report, baselines_report, hct_report, phase, region_report, spherical_report
from hcvae.chapters.base import ParameterError
from hcvae.chapters import diffusion_text
from hcvae.core import data, image_data, theory
from hcvae.runs import profiles
from hcvae.runs.store import ResultStore

CHAPTERS = {"01": phase, "02": barrier_report, "03": region_report, "04": hct_report, "05": spherical_report}


@pytest.fixture
def no_data(tmp_path, monkeypatch):
    monkeypatch.setenv("HCVAE_DATA_DIR", str(tmp_path / "no-data"))
    return tmp_path / "no-data"


def _prepared_mnist(arrays: dict, tmp_path, monkeypatch) -> dict:
    """``arrays`` written as the prepared ``mnist.npz`` of a data folder, with the hashes that accept them."""
    folder = tmp_path / "data"
    folder.mkdir()
    np.savez(folder / "mnist.npz", source=np.array("fake@0"), **arrays)
    monkeypatch.setenv("HCVAE_DATA_DIR", str(folder))
    monkeypatch.setitem(image_data.DECODED_SHA256, "mnist", {k: image_data.array_sha256(v) for k, v in arrays.items()})
    return arrays


@pytest.fixture
def fake_mnist(tmp_path, monkeypatch):
    """A prepared ``mnist.npz`` of 400 + 100 random 28x28 images, and the hashes that accept it."""
    rng = np.random.default_rng(0)
    arrays = {"train_images": rng.integers(0, 256, (400, 28, 28), dtype=np.uint8),
              "train_labels": rng.integers(0, 10, 400, dtype=np.uint8),
              "test_images": rng.integers(0, 256, (100, 28, 28), dtype=np.uint8),
              "test_labels": rng.integers(0, 10, 100, dtype=np.uint8)}
    return _prepared_mnist(arrays, tmp_path, monkeypatch)


@pytest.mark.parametrize("chapter", sorted(CHAPTERS))
def test_an_image_set_not_prepared_is_refused_with_make_data(no_data, chapter):
    with pytest.raises(ParameterError) as err:
        CHAPTERS[chapter].Params.from_values(datasets=["mnist"])
    text = str(err.value)
    assert text.startswith("parameter 'datasets'") and "make data" in text and str(no_data) in text, text
    assert "\n" not in text


@pytest.mark.parametrize("module", [phase, barrier_report, region_report, hct_report, spherical_report,
                                    baselines_report], ids=lambda m: m.CHAPTER)
def test_a_sections_image_sets_are_the_chosen_ones_or_the_profiles_at_its_setting(module, monkeypatch):
    chosen = module.Params.from_values(profile="paper", image_datasets=["cifar10"])
    assert chosen.images == ["cifar10"]
    default = module.Params.from_values(profile="paper")
    assert default.images == ["mnist", "fashion_mnist", "cifar10"]  # the paper profile measures all three
    setting = profiles._PROFILE_SETTINGS["paper"]
    for key in module.Params.IMAGE_SETTING[:-1]:
        setting = setting[key]
    monkeypatch.setitem(setting, module.Params.IMAGE_SETTING[-1], ("fashion_mnist",))
    assert default.images == ["fashion_mnist"]  # read from the profile when asked, not fixed at construction


def test_a_chapter_without_an_image_section_says_so():
    from hcvae.chapters import diffusion_report

    with pytest.raises(AttributeError, match="no section on the image sets"):
        diffusion_report.Params.from_values().images


def test_the_command_line_refuses_it_before_a_kernel_starts(no_data, tmp_path, monkeypatch):
    from hcvae.runs import runner

    monkeypatch.setattr(notebook, "execute", lambda *a, **k: pytest.fail("a kernel was started"))
    monkeypatch.setattr(runner, "run", lambda *a, **k: pytest.fail("a run was started"))
    with pytest.raises(SystemExit) as err:
        notebook.main(["03", "-p", "datasets", '["fashion_mnist"]', "--output-dir", str(tmp_path / "out")])
    text = str(err.value)
    assert text.startswith("error: parameter 'datasets'") and "python -m hcvae.data --only fashion_mnist" in text


@pytest.mark.parametrize("chapter", sorted(CHAPTERS))
def test_a_prepared_image_set_is_taken_with_its_ten_classes(fake_mnist, chapter):
    p = CHAPTERS[chapter].Params.from_values(datasets=["mnist", "synthetic"])
    assert p.datasets == ["mnist", "synthetic"]
    if chapter in ("02", "03"):  # chapters that key K by data set: the classes where none is given
        assert p.components == {"mnist": 10, "synthetic": 8} and p.k_chosen == {}
        given = CHAPTERS[chapter].Params.from_values(datasets=["mnist"], n_components={"mnist": 12})
        assert given.components == {"mnist": 12}


def test_chapter_03_measures_a_prepared_image_set(fake_mnist, tmp_path):
    """The region chapter on the fake MNIST: every run is on it, at its pooled 14x14 rows, K = 10 among the curves."""
    store = ResultStore(tmp_path / "results", reference=None)
    ch = region_report.chapter("quick", datasets=["mnist"], store=store)
    assert {r["config"]["dataset"] for r in ch.results} == {"mnist"}
    assert 10 in ch.params.ks and list(ch.anchors) == ["mnist"]
    x = data.load_dataset("mnist").x
    assert x.shape == (400, 196)  # v1 §5.1.1's MNIST: the training images, 2x2-pooled to 14x14
    pooled = fake_mnist["train_images"].reshape(400, 14, 2, 14, 2).mean(axis=(2, 4)).reshape(400, -1) / 255
    np.testing.assert_allclose(x, pooled, rtol=1e-6)


def test_chapter_04s_image_section_stops_before_any_work_without_its_runs_or_files(no_data, tmp_path, monkeypatch):
    """An image set of chapter 04's section whose runs are not stored and whose files are absent: refused first,
    with the command that prepares it, before the chapter's other runs start."""
    monkeypatch.setattr(hct_report, "run_all", lambda *a, **k: pytest.fail("a run was started"))
    p = hct_report.Params.from_values(image_datasets=["mnist"], appendix_b=False)
    with pytest.raises(FileNotFoundError) as err:
        hct_report.stored_runs(p, store=ResultStore(tmp_path / "results", reference=None))
    assert "make data" in str(err.value) and str(no_data) in str(err.value)


def test_chapter_04s_image_section_runs_hct_and_its_controls_at_k_10(fake_mnist, tmp_path):
    """The section on the fake MNIST: every (method, reading) at the profile's image seeds, K = 10 clusterings,
    its tables with a row per HCT reading and per final model, a finding naming the set."""
    store = ResultStore(tmp_path / "results", reference=None)
    p = hct_report.Params.from_values(image_datasets=["mnist"], appendix_b=False)
    im = hct_report.image_runs(p, store=store)
    keys = {(r["config"]["method"], r["config"]["reading"], r["config"]["xhat"]) for r in im.results}
    assert keys == {(m, rd, x) for m, rd in hct_report.METHOD_READINGS for x in p.image_xhats}
    assert {r["config"]["dataset"] for r in im.results} == {"mnist"}
    assert {r["clusterings"]["n_components"] for r in im.results} == {10}
    t = hct_report.image_tables(im)
    assert [row[:3] for row in t["image_stages"][1]] == [("mnist", rd, "sample") for rd in hct_report.READINGS]
    assert len(t["image_final"][1]) == len(hct_report.METHOD_READINGS)
    assert [c["source"] for c in im.consensus] and all(c["source"] in hct_report.SOURCE_TEXT for c in im.consensus)
    (finding,) = hct_report.image_findings(p, im)
    assert finding.startswith("mnist (K = 10, 1 seed(s), x̂ sample)") and im.k("mnist") == 10
    assert hct_report.image_tables(hct_report.ImageRuns([], [], [], [], [])) == {}


def test_chapter_01s_image_section_stops_before_any_work_without_its_runs_or_files(no_data, tmp_path, monkeypatch):
    """An image set of chapter 01's section whose runs are not stored and whose files are absent: refused before the
    sweep's first run, with the command that prepares it."""
    from hcvae.runs import runner

    monkeypatch.setattr(runner, "run_all", lambda *a, **k: pytest.fail("a run was started"))
    p = phase.Params.from_values(image_datasets=["mnist"])
    with pytest.raises(FileNotFoundError) as err:
        phase.sweep_runs(p, store=ResultStore(tmp_path / "results", reference=None))
    assert "make data" in str(err.value) and str(no_data) in str(err.value)


def test_chapter_01s_image_section_sweeps_both_models_over_the_grid(fake_mnist, tmp_path):
    """The section on the fake MNIST: both models at every ratio of the grid on the image seeds, the spectrum of the
    pooled rows, a threshold per model, every linear run set against its closed form, and a finding naming the set."""
    from hcvae.core.models import MLP_ARCHITECTURES
    from hcvae.runs.profiles import profile_settings

    store = ResultStore(tmp_path / "results", reference=None)
    p = phase.Params.from_values(image_datasets=["mnist"])
    im = phase.image_sweep(p, store=store)
    ratios = profile_settings("quick")["ratios"]
    assert sorted((r["config"]["architecture"], r["config"]["sigma2_ratio"]) for r in im.results) == \
        sorted((a, r) for a in MLP_ARCHITECTURES for r in ratios)
    assert {r["config"]["seed"] for r in im.results} == set(p.image_seeds) == {0}
    assert set(im.thresholds) == {("mnist", a) for a in MLP_ARCHITECTURES}
    assert len(im.agreement["rows"]) == len(ratios)
    t = phase.image_tables(im)
    (row,) = t["image_lambda"][1]
    assert row[:3] == ("mnist", 400, 196) and row[3] >= row[4] > 0
    x = data.load_dataset("mnist").x
    assert row[3] == pytest.approx(np.linalg.eigvalsh(np.cov(x, rowvar=False, bias=True))[-1], rel=1e-6)
    assert [r[:2] for r in t["image_threshold"][1]] == sorted(("mnist", a) for a in MLP_ARCHITECTURES)
    (closed,) = t["image_closed_form"][1]
    assert closed[:2] == ("mnist", len(ratios)) and 0 <= closed[2] <= len(ratios)
    (finding,) = phase.image_findings(p, im)
    assert finding.startswith("On mnist (λ_max = ") and f"in {closed[2]} of {len(ratios)} runs" in finding
    empty = phase.ImageSweep([], [], [], {}, {}, {}, None, phase.above_threshold([], 1.5, 0.01))
    assert phase.image_tables(empty) == {} and phase.image_findings(p, empty) == []


@pytest.mark.parametrize("scaling", ["as_loaded", "unit_total_variance", "unit_mean_variance", "unit_lambda_max"])
def test_lambda_max_from_the_spectrum_is_that_of_the_scaled_data(scaling):
    from hcvae.chapters import diffusion_report
    from hcvae.core.data import covariance_spectrum
    from hcvae.methods.ddpm import scale_data
    from hcvae.runs.diffusion import _lambda_max64

    x = np.random.default_rng(1).gamma(2.0, 0.1, (500, 20)) @ np.random.default_rng(2).random((20, 20))
    assert diffusion_report.spectrum_lambda_max(covariance_spectrum(x), scaling) == \
        pytest.approx(_lambda_max64(scale_data(x, scaling, np.float64)), rel=1e-9)


def test_lambda_max_from_the_spectrum_refuses_a_scaling_it_cannot_give():
    from hcvae.chapters import diffusion_report

    with pytest.raises(ValueError, match="scaling must be one of as_loaded, .*; got 'per_feature'"):
        diffusion_report.spectrum_lambda_max([2.0, 1.0], "per_feature")


def test_chapter_08s_image_t_c_reads_chapter_01s_runs_and_refuses_without_them(fake_mnist, tmp_path, monkeypatch):
    """t_c on the fake MNIST from the spectrum of chapter 01's first run on it: λ_max as loaded is the pooled rows',
    eq. 13's t_c the first step whose noise variance reaches it; without the run or the files, refused first."""
    from hcvae.chapters import diffusion_report

    store = ResultStore(tmp_path / "results", reference=None)
    p = diffusion_report.Params.from_values(image_datasets=["mnist"])
    family = [theory.noise_schedule(name, 1000) for name in p.schedules]
    im = diffusion_report.image_critical_timesteps(p, family, store=store)
    assert im.datasets == ["mnist"] and [r["scaling"] for r in im.rows] == list(diffusion_report.SPECTRUM_SCALINGS)
    assert im.omitted == ["per_feature", "minus_one_one"]
    loaded = im.rows[0]
    x = data.load_dataset("mnist").x
    assert loaded["lambda_max"] == pytest.approx(np.linalg.eigvalsh(np.cov(x, rowvar=False, bias=True))[-1], rel=1e-6)
    for s in family:
        t = loaded["eq13"][s.name]
        assert t is not None and s.noise_variance[t - 1] >= loaded["lambda_max"] > s.noise_variance[t - 2]
    assert "in 2 of 4 (data set, scaling) pairs" in diffusion_text.image_finding(p, im)  # unit_mean/lambda_max: none
    monkeypatch.setenv("HCVAE_DATA_DIR", str(tmp_path / "no-data"))
    with pytest.raises(FileNotFoundError, match="make data"):
        diffusion_report.image_critical_timesteps(p, family, store=ResultStore(tmp_path / "other", reference=None))
    monkeypatch.setattr(diffusion_report.runner, "run", lambda *a, **k: pytest.fail("a run was started"))
    with pytest.raises(FileNotFoundError, match="make data"):  # the chapter's first step refuses it, before any run
        diffusion_report.stored_runs(p, store=ResultStore(tmp_path / "other", reference=None))


def test_chapter_03s_image_section_stops_before_any_work_without_its_runs_or_files(no_data, tmp_path, monkeypatch):
    monkeypatch.setattr(region_report, "load_dataset", lambda *a, **k: pytest.fail("data were loaded"))
    p = region_report.Params.from_values(image_datasets=["cifar10"])
    with pytest.raises(FileNotFoundError) as err:
        region_report.raw_data(p, store=ResultStore(tmp_path / "results", reference=None))
    assert "make data" in str(err.value) and "cifar10" in str(err.value)


def test_chapter_03s_image_section_fits_every_transform_and_k_with_the_ten_classes(fake_mnist, tmp_path):
    """The section on the fake MNIST: a curve per transform over k_values and K = 10, the region read at K = 10, the
    identity on every fit, a table row per transform and a finding naming the default shell."""
    store = ResultStore(tmp_path / "results", reference=None)
    p = region_report.Params.from_values(image_datasets=["mnist"], k_values=[2, 4], shells=[["minmax", 1.0, 2.0]])
    im = region_report.image_regions(p, store=store)
    assert list(im.curves) == [f"mnist, {name}" for name in p.transforms]
    assert all(list(c["k"]) == [2, 4, 10] for c in im.curves.values()) and len(im.results) == 6
    assert {r["k"] for r in im.regions.values()} == {10} and im.worst_identity < p.identity_rtol
    (header, rows) = region_report.image_tables(im)["image_region"]
    assert header == region_report.REGION_HEADER and [row[0] for row in rows] == list(im.curves)
    finding = region_report.image_findings(p, im)
    assert finding.startswith("On the papers' image sets at K = 10") and "mnist: WCSS " in finding
    empty = region_report.ImageRegions([], [], {}, {}, None)
    assert region_report.image_tables(empty) == {} and region_report.image_findings(p, empty).startswith("No image")


def test_chapter_02s_image_section_stops_before_any_work_without_its_runs_or_files(no_data, tmp_path, monkeypatch):
    monkeypatch.setattr(barrier_report, "run", lambda *a, **k: pytest.fail("a run was started"))
    p = barrier_report.Params.from_values(image_datasets=["fashion_mnist"])
    with pytest.raises(FileNotFoundError) as err:
        barrier_report.em_fits(p, store=ResultStore(tmp_path / "results", reference=None))
    assert "make data" in str(err.value) and "fashion_mnist" in str(err.value)


def test_chapter_02s_image_section_checks_the_barrier_at_k_10(fake_mnist, tmp_path):
    """The section on the fake MNIST: one run at K = 10 with the default EM start, δ and the candidates under both
    readings, its four tables and a finding naming the set."""
    store = ResultStore(tmp_path / "results", reference=None)
    p = barrier_report.Params.from_values(image_datasets=["mnist"], r0=2)
    im = barrier_report.image_barrier(p, store=store)
    assert list(im.results) == [("mnist", barrier_report.DEFAULT_INIT)]
    (cfg,) = barrier_report.image_configs(p).values()
    assert cfg.n_components == 10 and cfg.r0 == 2 and cfg.init_params == "kmeans"
    assert set(im.checks) == {("mnist", "kmeans", rd) for rd in barrier_report.READINGS}
    t = barrier_report.image_tables(im)
    assert sorted(t) == ["image_candidates", "image_delta", "image_diversity", "image_nesting"]
    assert [row[:2] for row in t["image_delta"][1]] == [("mnist", "kmeans")] and t["image_delta"][1][0][2] > 0
    finding = barrier_report.image_findings(p, im)
    assert finding.startswith("On the papers' image sets, with the default EM start: mnist (K = 10): δ = ")
    assert all(f"{rd}: " in finding for rd in barrier_report.READINGS)
    empty = barrier_report.ImageBarrier([], {}, {}, {}, {}, {})
    assert barrier_report.image_tables(empty) == {} and barrier_report.image_findings(p, empty).startswith("No image")


def test_chapter_05s_image_section_stops_before_any_work_without_its_runs_or_files(no_data, tmp_path, monkeypatch):
    """An image set of chapter 05's section whose clusterings and runs are not stored and whose files are absent:
    refused before the first training run, with the command that prepares it."""
    from hcvae.runs import runner

    monkeypatch.setattr(runner, "run_all", lambda *a, **k: pytest.fail("a training run was started"))
    p = spherical_report.Params.from_values(image_datasets=["mnist"])
    with pytest.raises(FileNotFoundError) as err:
        spherical_report.image_section(p, store=ResultStore(tmp_path / "results", reference=None))
    assert "make data" in str(err.value) and str(no_data) in str(err.value)


def test_chapter_05s_image_section_reports_a_set_without_a_region_and_trains_none(monkeypatch):
    """A set where no K of the search opens the region (chapter 06's k_for gives the reason) is reported with that
    reason and not trained; the section's sentences say so."""
    from hcvae.runs import runner

    monkeypatch.setattr(spherical_report, "k_for", lambda profile, ds, store=None: "the region is empty for every K")
    monkeypatch.setattr(runner, "run_all", lambda *a, **k: pytest.fail("a training run was started"))
    p = spherical_report.Params.from_values(image_datasets=["mnist"])
    im = spherical_report.image_section(p)
    assert im.chapter is None and im.k_used == {} and im.refused == {"mnist": "the region is empty for every K"}
    texts = spherical_report.image_texts(im)
    assert texts["image_refused"] == "On mnist, the region is empty for every K."
    assert texts["image_summary"] == "No image set of this build trains."


@pytest.fixture
def clustered_mnist(tmp_path, monkeypatch):
    """A prepared ``mnist.npz`` of 400 + 100 images: ten random templates, one per label, with a little noise, so
    that K-means at the ten classes finds clusters tight enough to open the region."""
    rng = np.random.default_rng(0)
    templates = rng.integers(0, 256, (10, 28, 28))

    def images(labels):
        noisy = templates[labels] + rng.normal(0.0, 8.0, (len(labels), 28, 28))
        return np.clip(noisy, 0, 255).astype(np.uint8)

    train_labels, test_labels = np.arange(400, dtype=np.uint8) % 10, np.arange(100, dtype=np.uint8) % 10
    arrays = {"train_images": images(train_labels), "train_labels": train_labels,
              "test_images": images(test_labels), "test_labels": test_labels}
    return _prepared_mnist(arrays, tmp_path, monkeypatch)


def test_chapter_05s_image_section_runs_the_chapter_at_the_k_that_opens_the_region(clustered_mnist, tmp_path):
    """The section on clustered fake MNIST: its K the ten classes (the region opens there), every step of the
    chapter on the profile's image seeds, its tables with rows for the set, and sentences naming it."""
    store = ResultStore(tmp_path / "results", reference=None)
    p = spherical_report.Params.from_values(image_datasets=["mnist"])
    im = spherical_report.image_section(p, store=store)
    ch = im.chapter
    assert im.refused == {} and im.k_used == {"mnist": 10} and ch.params.datasets == ["mnist"]
    seeds = [p.seed + i for i in range(len(spherical_report.profile_settings("quick")["spherical"]["image_seeds"]))]
    assert ch.params.seeds == seeds
    full = ch.ablation["mnist"]["Full constraints"]
    assert [r["config"]["seed"] for r in full] == seeds and {r["config"]["n_clusters"] for r in full} == {10}
    assert {row[0] for row in ch.tables["ablation"][1]} == {"mnist"}
    assert len(ch.tables["order"][1]) == len(spherical_report.XHATS) * len(spherical_report.TABLE2_METRICS)
    texts = spherical_report.image_texts(im)
    assert "nats on mnist" in texts["image_summary"] and texts["image_k"] == "K = 10 on mnist"
    assert texts["image_refused"].startswith("Every image set")

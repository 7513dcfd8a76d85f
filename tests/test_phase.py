from pathlib import Path

import jupytext
import pytest

from hcvae.book import notebook, tables
from hcvae.chapters import phase
from hcvae.chapters.base import ParameterError
from hcvae.runs.profiles import profile_settings
from hcvae.runs.store import ResultStore

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("kl, lower, upper, verdict", [
    ([2.0, 0.5, 0.001, 0.0, 0.0], 0.5, 1.0, "consistent"),
    ([2.0, 0.001, 0.001, 0.001, 0.0], 0.25, 0.5, "early"),
    ([2.0, 0.5, 0.1, 0.001, 0.0], 1.0, 2.0, "late"),  # theory: no KL left at ratio 1 itself
    ([0.001, 0.0, 0.0, 0.0, 0.0], None, 0.25, "early"),
    ([2.0, 0.5, 0.1, 0.05, 0.02], 5.0, None, "never"),
    ([0.001, 2.0, 0.001, 0.0, 0.0], 0.5, 1.0, "consistent"),  # a collapsed run below a surviving one does not count
])
def test_measured_threshold(kl, lower, upper, verdict):
    th = phase.measured_threshold([0.25, 0.5, 1.0, 2.0, 5.0], kl, kl_bound=0.01)
    assert (th["lower"], th["upper"], th["verdict"]) == (lower, upper, verdict)
    assert th["consistent_with_theory"] == (verdict == "consistent")


def test_markdown_table():
    text = tables.markdown_table(["a", "b"], [(1.23456, None), ("x", 2)])
    assert text.splitlines() == ["| a | b |", "|---|---|", "| 1.23 | — |", "| x | 2 |"]


def test_longer_training_configs_only_for_early_collapse():
    thresholds = {
        ("digits", "mlp"): {"verdict": "early", "upper": 0.9},
        ("digits", "linear"): {"verdict": "consistent", "upper": 1.0},
    }
    configs = phase.longer_training_configs("quick", thresholds, 4, seeds=[0, 1])
    assert [(c.dataset, c.architecture, c.sigma2_ratio, c.seed) for c in configs] == [
        ("digits", "mlp", 0.9, 0), ("digits", "mlp", 0.9, 1)]
    from hcvae.runs.experiments import VAEConfig
    assert configs[0].epochs == 4 * VAEConfig.from_profile("quick", "digits", "mlp").epochs
    with pytest.raises(ValueError, match="epochs_factor"):
        phase.longer_training_configs("quick", thresholds, 1, seeds=[0])


def test_the_notebooks_parameters_cell_is_the_chapters_declaration():
    defaults = notebook.parameter_defaults(jupytext.read(ROOT / "notebooks" / f"{phase.CHAPTER}.md"))
    assert defaults == phase.Params.defaults() and list(defaults) == list(phase.Params.defaults())


def test_parameters_are_read_as_attributes_and_checked_before_any_work():
    p = phase.Params.from_values(seed=3, datasets=("digits",))
    assert p.datasets == ["digits"] and p.seeds == [3 + i for i in range(len(profile_settings("quick")["seeds"]))]
    for values, message in [(dict(kl_bound=0), "'kl_bound' must be a number > 0; got 0"),
                            (dict(kl_rtol=-0.1), "'kl_rtol' must be a number >= 0; got -0.1"),
                            (dict(probe_epochs_factor=1.5), "'probe_epochs_factor' must be an integer >= 1; got 1.5"),
                            (dict(datasets=["faces"]), "'datasets' must be a non-empty list, each one of synthetic"),
                            (dict(epochs=3), "unknown parameter(s) epochs")]:
        with pytest.raises(ParameterError, match=message.replace("(", r"\(").replace(")", r"\)")):
            phase.Params.from_values(**values)


def test_sentences_say_when_runs_above_the_threshold_keep_their_kl():
    p = phase.Params.from_values()
    results = [{"config": {"sigma2_ratio": r}, "metrics": {"kl": kl}} for r, kl in [(0.5, 1.0), (1.5, 0.001), (2.0, 0.5)]]
    above = phase.above_threshold(results, p.above_ratio, p.kl_bound)
    assert (above.n_runs, above.max_kl, above.n_kept) == (2, 0.5, 1)
    agreement = {"rows": [{"within": True}, {"within": False}], "all_within": False}
    thresholds = {("digits", "mlp"): {"consistent_with_theory": True}, ("digits", "linear"): {"consistent_with_theory": False}}
    texts, findings = phase.sentences(p, thresholds, phase.Probes([], [], []), above, agreement,
                                      {"digits": {"n_mlp_more": 1, "n_ratios": 2}})
    assert texts["above_verdict"].endswith("**not reproduced**") and "1 run(s) have not collapsed" in findings["mlp"]
    assert texts["closed_form_verdict"].startswith("**outside** (in 1 run(s)")
    assert "nothing to retrain" in texts["probe_summary"] and "no longer retraining" in findings["probe"]
    assert "reproduced in 1 of 2" in findings["threshold"] and "only where the table" in findings["threshold"]


def test_the_chapter_is_its_steps_on_the_stored_runs(tmp_path):
    """From the shipped reference (nothing computed): the result holds what each step returns, in page order."""
    store = ResultStore(tmp_path / "results", reference=ROOT / "book" / "reference")
    ch = phase.chapter("quick", store=store, datasets=["digits"])
    assert isinstance(ch.params, phase.Params) and ch.params.datasets == ["digits"]
    configs, results = phase.sweep_runs(ch.params, store)
    assert [r["key"] for r in results] == [r["key"] for r in ch.sweep.results] and configs == ch.sweep.configs
    assert {ds for ds, _ in ch.thresholds} == {"digits"} and list(ch.sweep.spectra) == ["digits"]
    assert ch.tables["threshold"] == phase.tables(ch.thresholds, ch.sweep.spectra, ch.sweep.latent_dim,
                                                   ch.probes)["threshold"]
    assert ch.numbers["closed_form_n"] == len(ch.agreement["rows"]) and ch.numbers["n_above"] == ch.above.n_runs
    assert ch.numbers["lambda_max_digits"] == float(ch.sweep.spectra["digits"][0])
    assert ch.numbers["n_seeds"] == len(ch.params.seeds) and ch.numbers["kl_bound"] == ch.params.kl_bound
    assert set(ch.texts) == {"profile", "probe_summary", "above_verdict", "closed_form_verdict"}
    assert set(ch.findings) == {"threshold", "probe", "closed_form", "mlp", "images"}
    assert ch.images.results == [] and ch.findings["images"] == "No image set in this build."  # quick runs none
    assert phase.chapter("quick", store=store, datasets=["digits"]) is ch  # computed once per process
    assert not list((tmp_path / "results").rglob("*.json")), "a run was computed"


def test_the_threshold_headline_names_the_settings_outside_the_common_bracket(monkeypatch):
    from types import SimpleNamespace

    def th(lower, upper, verdict):
        return {"lower": lower, "upper": upper, "verdict": verdict}

    fake = SimpleNamespace(
        thresholds={("digits", "mlp"): th(0.75, 0.9, "early"), ("synthetic", "mlp"): th(0.9, 1.0, "consistent"),
                    ("synthetic", "linear"): th(0.9, 1.0, "consistent")},
        images=SimpleNamespace(thresholds={("mnist", "linear"): th(0.9, 1.0, "consistent"),
                                           ("mnist", "mlp"): th(0.75, 0.9, "early"),
                                           ("cifar10", "mlp"): th(1.0, 1.25, "late")}, table={}),
        sweep=SimpleNamespace(table={}))
    monkeypatch.setattr(phase, "chapter", lambda profile: fake)
    m = phase._threshold("quick")
    assert m.headline == ("on the grid, KL vanishes between 0.9 and 1·λ_max in 3 of 6 (data set, model) settings, "
                          "between 0.75 and 0.9·λ_max for digits mlp and mnist mlp and between 1 and 1.25·λ_max for "
                          "cifar10 mlp; the bracket contains λ_max in 3 of 6")
    assert m.verdict == "not reproduced"

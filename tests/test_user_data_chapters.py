"""Your own data through chapters 02-05: a .npy file as a data set, checked before any work, run under its content
name; K taken from ``n_components`` or chosen by BIC (and the page says which); a paper comparison on it says
"not comparable (your data)" (chapters 01's tests: tests/test_user_data.py)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from hcvae.book import notebook
from hcvae.chapters import barrier_report, hct_report, region_report, spherical_report, user_sets
from hcvae.chapters.base import ParameterError
from hcvae.chapters.ledger import not_comparable, setting_differs
from hcvae.core import user_data
from tests.test_user_data import _glued
from hcvae.runs.store import ResultStore

NOT_COMPARABLE = "not comparable (your data)"


@pytest.fixture
def data(tmp_path, monkeypatch):
    """A 300 x 5 array of three well-separated clusters in ``tmp_path/x.npy``; the data folder and the store there."""
    monkeypatch.setenv("HCVAE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HCVAE_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("HCVAE_RUN_LOG", str(tmp_path / "runs.log"))
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=4.0, size=(3, 5))
    np.save(tmp_path / "x.npy", np.concatenate([c + rng.normal(size=(100, 5)) for c in centres]))
    path = str(tmp_path / "x.npy")
    return path, user_data.register(path), ResultStore(tmp_path / "results", reference=None)


def _note_says_bic(params, name, k):
    note = user_sets.k_note(params.k_chosen)
    assert f"For {name} no K was given (`n_components`), so K = {k} was chosen by BIC" in note, note


# ---- chapter 02 ------------------------------------------------------------------------------------------------


def test_chapter_02_runs_on_your_file_with_k_by_bic(data):
    path, name, store = data
    ch = barrier_report.chapter("quick", datasets=[path], store=store)
    assert ch.params.datasets == [name] and ch.params.components == {name: 3} and list(ch.params.k_chosen) == [name]
    _note_says_bic(ch.params, name, 3)
    assert {key[0] for key in ch.results} == {name}
    assert all(r["config"]["dataset"] == name and r["config"]["n_components"] == 3 for r in ch.results.values())
    assert name in ch.texts["distinct"]


def test_chapter_02_takes_your_k_by_the_files_path(data):
    path, name, _ = data
    p = barrier_report.Params.from_values(datasets=[path], n_components={path: 4})
    assert p.n_components == {name: 4} and p.k_chosen == {} and p.components == {name: 4}
    assert {c.n_components for c in barrier_report.configs(p).values()} == {4}
    assert user_sets.k_note(p.k_chosen) == ""  # the page glues "Every K was given." instead


def test_chapter_02_keeps_its_own_data_sets_and_their_error(data):
    path, _, _ = data
    p = barrier_report.Params.from_values()
    assert p.components == {"synthetic": 8, "digits": 10} and p.k_chosen == {}
    with pytest.raises(ParameterError, match="'n_components' names no K for digits"):
        barrier_report.Params.from_values(datasets=[path, "digits"], n_components={"synthetic": 8})
    with pytest.raises(ParameterError, match="gives a K for elsewhere.npy, which is not among"):
        barrier_report.Params.from_values(datasets=[path], n_components={"elsewhere.npy": 3})
    with pytest.raises(ParameterError, match="must map data sets"):
        barrier_report.Params.from_values(datasets=[path], n_components={"x.csv": 3})


def test_chapter_02s_page_names_your_file_and_how_k_was_chosen(data, tmp_path):
    """Through the command line a user types: the about table and the K note are glued on the page."""
    path, name, _ = data
    env = {**os.environ, "HCVAE_RESULTS": str(tmp_path / "results")}
    proc = subprocess.run([sys.executable, "-m", "hcvae.notebook", "02", "-p", "datasets", json.dumps([path]),
                           "--output-dir", str(tmp_path / "out")], capture_output=True, text=True, env=env,
                          cwd=notebook.ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    glued = _glued(proc.stdout.strip().splitlines()[-1].removeprefix("wrote "))
    assert "x.npy" in glued["about_data"] and name in glued["about_data"] and "300 × 5" in glued["about_data"]
    assert "K = 3 was chosen by BIC" in glued["k_note"] and name in glued["k_note"]
    assert name in glued["distinct"]


# ---- chapter 03 ------------------------------------------------------------------------------------------------


def test_chapter_03_runs_on_your_file_with_k_by_bic(data):
    path, name, store = data
    ch = region_report.chapter("quick", datasets=[path], store=store)
    assert ch.params.datasets == [name] and ch.params.components == {name: 3}
    _note_says_bic(ch.params, name, 3)
    assert {r["config"]["dataset"] for r in ch.results} == {name}
    assert 3 in ch.params.ks and all(key.startswith(f"{name}, ") for key in ch.regions)
    assert list(ch.anchors) == [name]


def test_chapter_03_takes_your_k_by_the_files_path(data):
    path, name, _ = data
    p = region_report.Params.from_values(datasets=[path], n_components={path: 5}, k_values=[2, 4])
    assert p.components == {name: 5} and p.k_chosen == {} and p.ks == [2, 4, 5]
    curves, anchors = region_report.configs(p)
    assert anchors[name].k == 5 and set(curves[(name, region_report.NO_SHELL)]) == {2, 4, 5}


# ---- chapter 04 ------------------------------------------------------------------------------------------------


def test_chapter_04_trains_on_your_file_and_table_1_is_not_comparable(data):
    path, name, store = data
    ch = hct_report.chapter("quick", datasets=[path], xhats=["sample"], appendix_b=False, store=store)
    assert ch.params.datasets == [name] and ch.params.components == {name: 3}
    _note_says_bic(ch.params, name, 3)
    assert {(r["config"]["dataset"], r["config"]["n_components"]) for r in ch.results} == {(name, 3)}
    for rows in ch.table1.values():  # v1 Table 1's synthetic rows beside ours on your data
        assert len(rows) == 4 and all(t["verdict"] == NOT_COMPARABLE for t in rows), rows
        assert all(t["row"].endswith(f", {name}") for t in rows)
    assert any(f"beside {name}" in f and NOT_COMPARABLE in f for f in ch.findings)
    assert ch.tables["settings"][1][0][:2] == (name, 300)


def test_chapter_04_takes_your_k_and_leaves_its_own_data_sets_configs_alone(data):
    path, name, _ = data
    p = hct_report.Params.from_values(datasets=[path, "synthetic"], n_components=4, xhats=["sample"])
    assert p.k_chosen == {} and p.components == {name: 4}
    ks = {(c.dataset, c.n_components) for c in hct_report.configs(p)}
    assert ks == {(name, 4), ("synthetic", None)}  # the book's data sets: no K passed, their configs as before
    own = hct_report.Params.from_values()
    assert hct_report.configs(own) == hct_report.chapter_configs(
        "quick", ("synthetic", "digits"), None, sigma2_ratio=2.0, collapsed_ratio=10.0, em_init="kmeans")


# ---- chapter 05 ------------------------------------------------------------------------------------------------


def test_chapter_05_trains_on_your_file_and_table_2_is_not_comparable(data):
    path, name, store = data
    ch = spherical_report.chapter("quick", datasets=[path], store=store)
    assert ch.params.datasets == [name] and ch.region.k_used == {name: 3} and ch.region.moved == {}
    _note_says_bic(ch.params, name, 3)
    runs = [r for rs in ch.ablation[name].values() for r in rs]
    assert {(r["config"]["dataset"], r["config"]["n_clusters"]) for r in runs} == {(name, 3)}
    verdicts = {row[-1] for row in ch.tables["order"][1]}
    assert verdicts == {NOT_COMPARABLE}
    assert f"{name}: K = 3" in ch.texts["k_used"]


def test_chapter_05_takes_your_k_and_leaves_its_own_data_sets_configs_alone(data):
    path, name, _ = data
    p = spherical_report.Params.from_values(datasets=[path, "synthetic"], n_components=4)
    assert p.k_chosen == {} and p.components == {name: 4}
    region = spherical_report.feasible_k(p)
    assert region.k_used == {name: 4, "synthetic": 8}
    assert {c.n_clusters for c in spherical_report._configs(p, name, region.k_used)} == {4}
    assert spherical_report.feasible_k(spherical_report.Params.from_values()).k_used["synthetic"] == 8


def test_the_ledger_says_your_data_is_not_comparable():
    assert setting_differs({"dataset": "user-0123456789abcdef", "n_samples": 300}, {"dataset": "synthetic"}) \
        == user_sets.YOUR_DATA
    assert not_comparable(user_sets.YOUR_DATA) == NOT_COMPARABLE
    assert not_comparable(setting_differs({"dataset": "digits"}, {"dataset": "synthetic"})) == \
        "not comparable (the setting differs: data set digits (the paper: synthetic))"


# ---- a bad file, refused before a kernel starts ---------------------------------------------------------------


@pytest.mark.parametrize("chapter, n, extra, message", [
    ("02", 8, {"n_components": "K"}, "8 samples is fewer than K = 10 clusters"),
    ("02", 2, {}, "2 samples is too few to choose K by BIC"),
    ("03", 15, {}, "15 samples is fewer than K = 20 clusters"),
    ("04", 50, {}, "50 samples is fewer than the batch size 128"),
    ("04", 200, {"n_components": 300}, "200 samples is fewer than K = 300 clusters"),
    ("05", 50, {}, "50 samples is fewer than the batch size 128"),
])
def test_a_too_small_file_is_refused_in_one_line_before_any_work(tmp_path, monkeypatch, chapter, n, extra, message):
    from hcvae.runs import runner

    monkeypatch.setenv("HCVAE_DATA_DIR", str(tmp_path / "data"))
    path = tmp_path / "small.npy"
    np.save(path, np.random.default_rng(0).normal(size=(n, 3)))
    argv = [chapter, "-p", "datasets", json.dumps([str(path)])]
    for key, value in extra.items():  # chapters 02 and 03 key K by data set: "K" stands for {the file: 10}
        argv += ["-p", key, json.dumps({str(path): 10} if value == "K" else value)]
    monkeypatch.setattr(notebook, "execute", lambda *a, **k: pytest.fail("a kernel was started"))
    monkeypatch.setattr(runner, "run", lambda *a, **k: pytest.fail("a run was started"))
    with pytest.raises(SystemExit) as err:
        notebook.main([*argv, "--output-dir", str(tmp_path / "out")])
    text = str(err.value)
    assert text.startswith("error: parameter ") and message in text and str(path) in text and "\n" not in text, text
    assert not (tmp_path / "data" / "user").exists()  # nothing registered



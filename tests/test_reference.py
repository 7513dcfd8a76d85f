"""The shipped reference of the paper profile (and the quick one below it): it covers every chapter, stays small,
and its tools work. That the quick reference covers the quick book is checked by the build itself
(tests/test_book.py)."""

import json

import pytest

from hcvae.book import reference
from hcvae.runs import audit, experiments, store as store_mod
from hcvae.runs.experiments import VAEConfig
from hcvae.runs import runner

TINY = dict(dataset="digits", architecture="linear", epochs=2, batch_size=256, n_samples=600)


@pytest.fixture
def tiny_reference(tmp_path, monkeypatch):
    """A reference folder with one chapter ("01") of two runs, and a scratch store that computed them."""
    work = store_mod.ResultStore(tmp_path / "work", reference=None)
    configs = [VAEConfig(**TINY, seed=s) for s in (0, 1)]
    keys = [store_mod.config_key(c) for c in configs]
    for c in configs:
        runner.run(c, store=work)
    ref = tmp_path / "reference"
    assert reference.export(keys, work, ref) == 2 and reference.export(keys, work, ref) == 0
    monkeypatch.setattr(reference, "chapters", lambda: {"01": reference.ROOT / "notebooks" / "01-phase-transition.md"})
    manifest = {"01": {"keys": keys, "fingerprint": reference.fingerprint("01"), "recorded": "2026-01-01T00:00:00Z",
                       "compute_s": 1.0}}
    (ref / reference.MANIFEST).write_text(json.dumps(manifest))
    return ref, work, configs, keys


def test_coverage_names_missing_runs_and_stale_chapters(tiny_reference, monkeypatch):
    ref, _, _, keys = tiny_reference
    assert reference.coverage(ref) == []
    (ref / f"{keys[1]}.json.gz").unlink()
    problems = reference.coverage(ref)
    assert len(problems) == 1 and keys[1] in problems[0] and "1 requested run(s) not in the reference" in problems[0]
    monkeypatch.setattr(reference, "fingerprint", lambda chapter: "something else")
    assert any("python -m hcvae.reference record 01" in p for p in reference.coverage(ref))


def test_the_diff_reports_the_largest_change_per_metric(tiny_reference):
    ref, work, configs, keys = tiny_reference
    redo = store_mod.ResultStore(work.root.parent / "redo", reference=None)
    for c in configs:
        runner.run(c, store=redo, force=True)
    out = reference.diff(redo.root, ref, with_ledger=False)
    assert out["compared"] == 2 and out["missing"] == 0 and out["largest"][1] == 0.0
    path = redo.folder(configs[0]) / "result.json"
    entry = json.loads(path.read_text())
    entry["metrics"]["kl"] *= 1.5
    path.write_text(json.dumps(entry))
    out = reference.diff(redo.root, ref, with_ledger=False)
    assert out["largest"][0] == "metrics.kl" and out["largest"][1] == pytest.approx(0.5)


def test_reproduce_and_diff_can_take_one_chapter(tiny_reference, monkeypatch):
    ref, work, configs, keys = tiny_reference
    monkeypatch.setattr(reference, "chapters", lambda: {"01": reference.ROOT / "notebooks" / "01-phase-transition.md",
                                                        "02": reference.ROOT / "notebooks" / "02-historical-barrier.md"})
    manifest = json.loads((ref / reference.MANIFEST).read_text())
    manifest["02"] = {**manifest["01"], "keys": keys[1:]}
    (ref / reference.MANIFEST).write_text(json.dumps(manifest))
    assert reference.reference_configs(ref) == configs
    assert reference.reference_configs(ref, only=["02"]) == configs[1:]
    out = reference.diff(work.root, ref, with_ledger=False, only=["02"])
    assert out["chapters"] == ["02"] and out["missing"] == 0
    with pytest.raises(ValueError, match="unknown chapter '09'"):
        reference.reference_configs(ref, only=["09"])


def test_the_reference_serves_a_fresh_store_without_training(tiny_reference, tmp_path, monkeypatch):
    ref, _, configs, _ = tiny_reference
    monkeypatch.setattr(VAEConfig, "compute", lambda *a, **k: pytest.fail("trained a run the reference holds"))
    monkeypatch.setenv("HCVAE_NO_COMPUTE", "1")
    fresh = store_mod.ResultStore(tmp_path / "fresh", reference=ref)
    assert all(runner.run(c, store=fresh)["key"] == store_mod.config_key(c) for c in configs)
    with pytest.raises(runner.MissingRun, match="neither the store"):
        runner.run(VAEConfig(**TINY, seed=9), store=fresh)


def test_audit_reads_a_reference_folder(tiny_reference):
    ref, _, _, _ = tiny_reference
    report = audit.audit([ref], kinds=["vae"], sample=1)
    assert report.ok and len(report.rows) == 1


def test_the_shipped_reference_is_current_small_and_readable():
    """Every chapter of the book, the report included, is recorded in ``book/reference`` with a current
    fingerprint and every run its paper build requests, so a fresh ``make book`` computes nothing; each entry
    reads, and the whole stays under the size budget. A change of parameters, profile or configs that the
    reference does not cover fails here, naming the chapter and the command that records it again."""
    manifest = reference.read_manifest()
    assert set(manifest) == set(reference.chapters()), "chapters without a reference"
    problems = reference.coverage()
    assert problems == [], "\n".join(problems)
    info = reference.info()
    shipped = sum(p.stat().st_size for p in reference.REFERENCE_DIR.rglob("*") if p.is_file())  # quick/ included
    assert 0 < info["bytes"] <= shipped <= reference.MAX_BYTES
    # a chapter's entries: the runs it requested and the EM fits its HCT runs were trained from (shipped so that
    # another reading of those runs starts from them instead of refitting)
    keys = {k for row in manifest.values() for k in (*row["keys"], *row.get("fits", ()))}
    assert info["n_entries"] == len(keys), "the reference holds entries no chapter requested (or misses some)"
    for key in sorted(keys)[:: max(1, len(keys) // 20)]:
        entry = reference.ReferenceFolder(reference.REFERENCE_DIR).read(key)
        assert store_mod.config_key(store_mod.config_from_dict(entry["config"])) == key


def test_the_reference_exports_as_one_tidy_table(tmp_path):
    """One row per shipped run: config columns and final metrics, readable back with the csv module."""
    import csv

    n = reference.export_csv(tmp_path / "runs.csv", profile="quick")
    rows = list(csv.DictReader(open(tmp_path / "runs.csv")))
    assert n == len(rows) == len(list(reference.ReferenceFolder(reference.REFERENCE_DIR / "quick").keys())) > 0
    vae = next(r for r in rows if r["kind"] == "vae")
    assert float(vae["metrics.kl"]) >= 0 and vae["config.dataset"] in ("synthetic", "digits")
    assert reference.main(["export", str(tmp_path / "again.csv"), "--profile", "quick"]) == 0


def test_the_book_has_a_citation_file():
    import yaml

    cff = yaml.safe_load((reference.ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["title"].startswith("hcvae") and cff["references"]


def test_reproducing_a_chapter_with_image_runs_refuses_before_any_work_without_the_data(tmp_path):
    """Chapter 06's paper runs include MNIST's: with no prepared files, `reproduce --chapter 06` stops at once with
    the `make data` command, and its store stays empty."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "HCVAE_DATA_DIR": str(tmp_path / "no-data"), "HCVAE_RESULTS": str(tmp_path / "store")}
    proc = subprocess.run([sys.executable, "-m", "hcvae.reference", "reproduce", "--chapter", "06"], env=env,
                          capture_output=True, text=True, cwd=reference.ROOT, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("reproduce: ") and "make data" in line and str(tmp_path / "no-data") in line
    assert not any((tmp_path / "store").glob("**/result.json"))


def test_recording_ships_the_em_fits_an_hct_run_starts_from_so_a_new_seed_need_not_refit(tmp_path, monkeypatch):
    from hcvae.runs.gmm_runs import GMMFitsConfig
    from hcvae.runs.hct import HCTConfig

    work = store_mod.ResultStore(tmp_path / "work", reference=None)
    hct = HCTConfig(dataset="digits", n_samples=400, n_components=10, r0=2)
    entries = [{"config": store_mod.config_dict(hct)}, {"config": store_mod.config_dict(VAEConfig(**TINY))}]
    assert reference.local_fits(entries, work) == []  # nothing to ship before the fits are stored here
    runner.run(hct.fits_config(), store=work)
    fits_key = store_mod.config_key(hct.fits_config())
    assert reference.local_fits(entries, work) == [fits_key]  # the VAE run has no fits
    ref = tmp_path / "reference"
    assert reference.export([fits_key], work, ref) == 1
    monkeypatch.setattr(GMMFitsConfig, "compute", lambda *a, **k: pytest.fail("refitted fits the reference ships"))
    fresh = store_mod.ResultStore(tmp_path / "fresh", reference=ref)
    means = fresh.load_arrays(hct.fits_config())["means"]
    assert runner.run(hct.fits_config(), store=fresh)["key"] == fits_key and means.shape[:2] == (2, 10)

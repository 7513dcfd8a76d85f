"""Every notebook of the book, as the strict quick build executed it (the session fixture ``quick_book``): each ran
every cell without an error, and a chapter with a chapter module shows exactly what its ``chapter()`` returns.

The build is the one execution of the notebooks in ``make test``: this file reads what it left in
``_build/jupyter_execute`` (the executed notebooks and their glued values), instead of running each notebook a
second time under nbval. (``pytest --nbval-lax notebooks book`` still runs them under nbval, by hand.)
"""

import json
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [*(f"notebooks/{p.stem}" for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.md"))),
         "book/reproduction-report", "book/computed"]


@pytest.fixture(autouse=True)
def _read_what_the_build_read(monkeypatch):
    """The chapter modules below read the runs the build read: the local store over the shipped reference."""
    monkeypatch.setenv("HCVAE_REFERENCE", str(ROOT / "book" / "reference"))


def _executed(quick_book, page: str) -> Path:
    return quick_book.html.parent / "jupyter_execute" / f"{page}.ipynb"


def _glued(quick_book, page: str) -> dict:
    """Name -> the glued value's markdown (or plain text) as the page shows it."""
    path = quick_book.html.parent / "jupyter_execute" / f"{page}.glue.json"
    out = {}
    for name, o in json.loads(path.read_text()).items():
        data = o["data"]
        out[name] = data.get("text/markdown", data.get("text/plain"))
    return out


@pytest.mark.parametrize("page", PAGES)
def test_every_cell_ran_without_error(quick_book, page):
    nb = nbformat.read(_executed(quick_book, page), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count for c in code), f"{page}: a cell did not run"
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{page}: {errors[0].get('ename')}: {errors[0].get('evalue')}"


def test_chapter_04_shows_what_its_chapter_module_computes(quick_book):
    from hcvae.book import tables
    from hcvae.chapters import hct_report

    glued = _glued(quick_book, "notebooks/04-historical-consensus")
    ch = hct_report.chapter("quick")  # the same runs, read from the store the build filled
    assert int(glued["n_runs"]) == ch.n_runs and int(glued["n_seeds"]) == ch.n_seeds
    for name in ("settings_table", "memory_table", "consensus_table", "information_table", "eps_table", "final_table",
                 "distance_table", "appendix_b_table"):
        assert glued[name] == tables.markdown_table(*getattr(ch, name)), name
    assert int(glued["mean_loophole"]) == ch.mean_loophole and int(glued["sample_violations"]) == ch.sample_bound_violations
    assert glued["findings"] == "\n".join(f"* {f}" for f in ch.findings)
    assert glued["eps_verdict"] == ch.eps_verdict and glued["distance_verdict"] == ch.distance_verdict


def test_chapter_08_shows_what_its_chapter_module_computes(quick_book):
    from hcvae.chapters import diffusion_report

    glued = _glued(quick_book, "notebooks/08-diffusion")
    ch = diffusion_report.chapter("quick")
    for key in ("p1_verdict", "p3_verdict", "p4_verdict"):
        assert glued[key] == f"**{getattr(ch, key)}**", key
    assert int(glued["n_closer_snr"]) == ch.closer["snr"] and int(glued["n_closer_eq13"]) == ch.closer["eq13"]


def test_the_report_shows_the_ledger(quick_book):
    from hcvae.book import claims

    glued = _glued(quick_book, "book/reproduction-report")
    rows = claims.ledger("quick")
    assert int(glued["n_claims"]) == len(rows)
    counts = claims.verdict_counts(rows)
    for verdict, n in counts.items():
        assert int(glued[f"n_{verdict.replace(' ', '_')}"]) == n, verdict


def test_chapter_01_shows_what_its_chapter_module_computes(quick_book):
    from hcvae.book import tables
    from hcvae.chapters import phase

    glued = _glued(quick_book, "notebooks/01-phase-transition")
    ch = phase.chapter("quick")
    assert glued["threshold_table"] == tables.markdown_table(*ch.threshold_table)
    assert int(glued["n_above"]) == ch.n_above and int(glued["closed_form_n"]) == len(ch.agreement["rows"])
    for name in ("threshold", "probe", "closed_form", "mlp"):
        assert glued[f"finding_{name}"] == ch.findings[name], name
    assert glued["above_verdict"] == ch.findings["above"]


def test_chapter_07_shows_what_its_chapter_module_computes(quick_book):
    from hcvae.book import tables
    from hcvae.chapters import ablations

    glued = _glued(quick_book, "notebooks/07-ablations")
    ch = ablations.chapter("quick")
    for name in ("v1_table", "eps_table", "v4_table"):
        assert glued[name] == tables.markdown_table(*getattr(ch, name)), name
    assert int(glued["n_unique"]) == ch.n_unique and int(glued["n_v1_reproduced"]) == ch.n_v1_reproduced
    assert glued["findings"] == "\n".join(f"* {line}" for line in ch.findings)


def test_chapter_05_shows_what_its_chapter_module_computes(quick_book):
    from hcvae.book import tables
    from hcvae.chapters import spherical_report

    glued = _glued(quick_book, "notebooks/05-spherical-vae")
    ch = spherical_report.chapter("quick")
    for name, table in ch.tables.items():
        assert glued[f"{name}_table"] == tables.markdown_table(*table), name
    for name, text in ch.texts.items():
        assert glued[name] == text, name
    for name, text in ch.findings.items():
        assert glued[f"finding_{name}"] == text, name


def test_chapter_06_shows_what_its_chapter_module_computes(quick_book):
    from hcvae.book import tables
    from hcvae.chapters import baselines_report

    glued = _glued(quick_book, "notebooks/06-baselines")
    ch = baselines_report.chapter("quick")
    # how many runs the build read or computed, and its wall time, describe that execution, not the chapter
    execution = {"n_cached", "n_computed", "sweep_time"}
    for name, text in ch.texts.items():
        if name not in execution:
            assert glued[name] == text, name
    assert int(glued["n_cached"]) + int(glued["n_computed"]) == int(glued["n_configs"]) == len(ch.configs)
    for name, table in ch.overview.items():
        assert glued[f"{name}_table"] == tables.markdown_table(*table), name
    assert ch.texts["findings"] == "\n".join(f"* {f}" for f in ch.findings)


@pytest.mark.parametrize("page, module", [("notebooks/02-historical-barrier", "barrier_report"),
                                          ("notebooks/03-feasible-region", "region_report")])
def test_chapters_02_and_03_show_what_their_chapter_modules_compute(quick_book, page, module):
    import importlib

    from hcvae.book import tables

    glued = _glued(quick_book, page)
    ch = importlib.import_module(f"hcvae.chapters.{module}").chapter("quick")
    for name, table in ch.tables.items():
        assert glued[f"{name}_table"] == tables.markdown_table(*table), name
    for name, text in ch.texts.items():
        assert glued[name] == text, name
    for name, text in ch.findings.items():
        assert glued[f"finding_{name}"] == text, name

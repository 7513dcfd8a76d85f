"""Every notebook of the book, as the quick book executed it (the session fixture ``quick_book``): nbval ran every
cell of every page without an error, and a chapter with a chapter module shows exactly what its ``chapter()``
returns.

nbval's run is the one execution of the notebooks in ``make test`` (tests/quick_book.py); the strict book build
renders what it executed, and this file reads what both left: nbval's report, the notebooks it executed and the
glued values the build rendered (``_build/jupyter_execute/*.glue.json``).
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
    return quick_book.executed / f"{page}.ipynb"


def _glued(quick_book, page: str) -> dict:
    """Name -> the glued value's markdown (or plain text) as the page shows it."""
    path = quick_book.html.parent / "jupyter_execute" / f"{page}.glue.json"
    out = {}
    for name, o in json.loads(path.read_text()).items():
        data = o["data"]
        out[name] = data.get("text/markdown", data.get("text/plain"))
    return out


# glued values that describe one execution (how many runs it read or computed, its wall time), not the chapter
EXECUTION = {"n_cached", "n_computed", "sweep_time"}


def _assert_glued(glued: dict, texts=None, tables=None, findings=None, skip=()) -> None:
    """Each sentence, table and finding a chapter module computed is glued on its page exactly as computed."""
    from hcvae.book import tables as book_tables

    for name, table in (tables or {}).items():
        assert glued[f"{name}_table"] == book_tables.glued(f"{name}_table", table), name
    for name, value in (texts or {}).items():
        if name not in skip:
            assert glued[name] == str(value), name
    for name, text in (findings or {}).items():
        assert glued[f"finding_{name}"] == text, name


def test_every_page_passes_nbval(quick_book):
    """nbval executed every code cell of every page, and none raised: a failure is named as nbval names it
    (``notebooks/NN-....md::Cell k``), with the error it reported."""
    import xml.etree.ElementTree as ET

    assert quick_book.nbval.exists(), "nbval did not run (see the quick build's log)"
    cases = list(ET.parse(quick_book.nbval).getroot().iter("testcase"))
    def page_of(case) -> str:  # "notebooks.01-phase-transition.md" -> "01-phase-transition"
        return case.get("classname", "").removesuffix(".md").rsplit(".", 1)[-1]

    failed = [(f"{page_of(c)}.md::{c.get('name')}", (bad.get("message") or "")[:500])
              for c in cases for bad in [*c.findall("failure"), *c.findall("error")]]
    assert not failed, "\n".join(f"{name}: {message}" for name, message in failed)
    ran = {page_of(c) for c in cases}
    assert len(cases) >= 3 * len(PAGES) and {Path(p).name for p in PAGES} <= ran, sorted(ran)


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
    assert {"settings", "memory", "consensus", "information", "eps", "final", "distance", "appendix_b"} <= set(ch.tables)
    _assert_glued(glued, ch.texts, ch.tables)
    assert glued["table1"] == "\n\n".join(f"{ch.texts[f'table1_{rd}_{x}']}\n\n"
                                           f"{tables.downloadable(f'table1_{rd}_{x}', *ch.tables[f'table1_{rd}_{x}'])}" for rd, x in ch.table1)
    assert int(glued["mean_loophole"]) == ch.information.mean_loophole
    assert int(glued["sample_violations"]) == ch.information.sample_violations
    assert int(glued["n_final"]) == ch.information.n_final
    assert glued["findings"] == "\n".join(f"* {f}" for f in ch.findings)


def test_chapter_08_shows_what_its_chapter_module_computes(quick_book):
    from hcvae.chapters import diffusion_report

    glued = _glued(quick_book, "notebooks/08-diffusion")
    ch = diffusion_report.chapter("quick")
    _assert_glued(glued, ch.texts, ch.tables, ch.findings)  # the texts hold the numbers the prose formats too
    for key, section in (("p1_verdict", ch.p1), ("p3_verdict", ch.p3), ("p4_verdict", ch.p4)):
        assert glued[key] == f"**{section.verdict}**", key
    assert int(glued["n_closer_snr"]) == ch.p2.closer["snr"] and int(glued["n_closer_eq13"]) == ch.p2.closer["eq13"]


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
    assert glued["threshold_table"] == tables.glued("threshold_table", ch.tables["threshold"])
    probe_rows = ch.tables["probe"][1]  # the longer runs' table follows their sentence, where there are any
    assert glued["probe_summary"] == ch.texts["probe_summary"] + (
        "\n\n" + tables.downloadable("probe", *ch.tables["probe"]) if probe_rows else "")
    for name, value in ch.numbers.items():  # numbers the prose formats: glued as themselves
        assert glued[name] == repr(value), name
    assert int(glued["n_above"]) == ch.above.n_runs and int(glued["closed_form_n"]) == len(ch.agreement["rows"])
    _assert_glued(glued, ch.texts, findings=ch.findings, skip={"probe_summary"})


def test_chapter_07_shows_what_its_chapter_module_computes(quick_book):
    from hcvae.chapters import ablations

    glued = _glued(quick_book, "notebooks/07-ablations")
    ch = ablations.chapter("quick")
    _assert_glued(glued, ch.texts, ch.tables, skip=EXECUTION)
    assert int(glued["n_cached"]) + int(glued["n_computed"]) == int(glued["n_unique"]) == ch.sweep.n_unique
    assert int(glued["n_v1_reproduced"]) == sum(v.startswith("reproduced") for (p, _), v in ch.verdicts.items()
                                                if p in ablations.V1_PARAMS)
    assert glued["findings"] == "\n".join(f"* {line}" for line in ch.findings)


def test_chapter_05_shows_what_its_chapter_module_computes(quick_book):
    from hcvae.chapters import spherical_report

    glued = _glued(quick_book, "notebooks/05-spherical-vae")
    ch = spherical_report.chapter("quick")
    assert int(glued["n_seeds"]) == len(ch.params.seeds)
    _assert_glued(glued, ch.texts, ch.tables, ch.findings)


def test_chapter_06_shows_what_its_chapter_module_computes(quick_book):
    from hcvae.chapters import baselines_report

    glued = _glued(quick_book, "notebooks/06-baselines")
    ch = baselines_report.chapter("quick")
    _assert_glued(glued, ch.texts, ch.overview, skip=EXECUTION)
    assert int(glued["n_cached"]) + int(glued["n_computed"]) == int(glued["n_configs"]) == len(ch.plan.configs)
    assert ch.texts["findings"] == "\n".join(f"* {f}" for f in ch.findings)


@pytest.mark.parametrize("page, module", [("notebooks/02-historical-barrier", "barrier_report"),
                                          ("notebooks/03-feasible-region", "region_report")])
def test_chapters_02_and_03_show_what_their_chapter_modules_compute(quick_book, page, module):
    import importlib


    glued = _glued(quick_book, page)
    ch = importlib.import_module(f"hcvae.chapters.{module}").chapter("quick")
    _assert_glued(glued, ch.texts, ch.tables, ch.findings)

"""The book builds strictly (-W -n: any warning fails) in the quick profile, widgets and all, with no CDN.

The build itself is the session fixture ``quick_book`` (tests/conftest.py), shared with the reader's test
(tests/test_reader.py)."""

import re

import pytest


def test_book_builds_without_warnings(quick_book):
    log = quick_book.log
    if log is None:
        pytest.skip("$HCVAE_QUICK_BOOK names a build without its build.log")
    assert quick_book.returncode == 0, log[-6000:]
    warnings = [line for line in log.splitlines() if "WARNING:" in line]  # Sphinx's; not the kernel's "WARNING |"
    assert not warnings, warnings
    html = quick_book.html
    page = (html / "notebooks" / "01-phase-transition.html").read_text()
    assert "application/vnd.jupyter.widget-state+json" in page  # the explorer's state is in the static page
    scripts = [s.split("?")[0] for s in re.findall(r"<script[^>]*src=\"([^\"]+)\"", page)]
    assert any(s.endswith("widgets/embed-amd.mjs") for s in scripts)
    assert not [s for s in scripts if s.startswith(("http:", "https:", "//"))], scripts
    assert "consistent with" in page or "collapses below" in page or "survives above" in page  # a computed verdict
    assert "quick" in page
    for name in ("book/intro", "book/rerun", "book/references"):
        assert (html / f"{name}.html").exists(), name


def test_the_quick_build_trained_nothing_the_quick_reference_is_current(quick_book):
    """The quick build reads every run from ``book/reference/quick`` (or a local store): a run it had to train means
    the quick reference is stale (a kind's VERSION moved, or a chapter asks for new runs), and ``make test`` would
    pay for the training on every fresh machine."""
    from hcvae.runs import store as store_mod

    if quick_book.log is None:
        pytest.skip("$HCVAE_QUICK_BOOK names a build without its build.log")
    counts = store_mod.summary(quick_book.runs_log)
    assert counts["reference"] + counts["local"] > 0, "the build logged no run requests"
    assert counts["computed"] == 0, (
        f"the quick build trained {counts['computed']} run(s) the quick reference lacks: record it again with "
        "`python -m hcvae.reference record --profile quick 01 02 03 04 05 06 07 08 report` and commit book/reference/quick")

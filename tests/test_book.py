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

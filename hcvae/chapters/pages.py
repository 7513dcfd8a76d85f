"""The book's pages that compute: one :class:`hcvae.chapters.base.Chapter` per chapter, in book order, and the
report's parameters. The claims ledger walks :data:`CHAPTERS`; the command line and each page's first cell check
their values against the page's declared :class:`hcvae.chapters.base.Parameters`."""

from __future__ import annotations

from dataclasses import dataclass

from hcvae.chapters import (ablations, baselines_report, barrier_report, diffusion_report, hct_report, phase,
                            region_report, spherical_report)
from hcvae.chapters.base import Chapter, Parameters

# chapter id -> its Chapter, in book order
CHAPTERS: dict[str, Chapter] = {
    "01": phase.chapter, "02": barrier_report.chapter, "03": region_report.chapter, "04": hct_report.chapter,
    "05": spherical_report.chapter, "06": baselines_report.chapter, "07": ablations.chapter,
    "08": diffusion_report.chapter,
}


@dataclass(frozen=True)
class ReportParams(Parameters):
    """The reproduction report's parameters: the profile it reads."""

    PAGE = "reproduction-report"


@dataclass(frozen=True)
class NoParams(Parameters):
    """A page without parameters (how the book was computed): only the profile of the build it describes."""

    PAGE = "computed"


def params_of(page: str) -> type[Parameters]:
    """The declared parameters of ``page``: a chapter id (``"01"``), its stem (``"01-phase-transition"``),
    ``"report"`` (or the report's stem) or ``"computed"``."""
    key = page[:2] if page[:2].isdigit() else ("report" if "report" in page else "computed" if "computed" in page
                                               else page)
    if key in CHAPTERS:
        return CHAPTERS[key].Params
    if key == "report":
        return ReportParams
    if key == "computed":
        return NoParams
    raise ValueError(f"no page {page!r}; known: {', '.join([*CHAPTERS, 'report', 'computed'])}")

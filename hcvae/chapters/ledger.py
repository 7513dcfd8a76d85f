"""The types of the claims ledger, in a module every chapter module can import (it imports no chapter).

A :class:`Claim` states where a paper makes it, the quantity, the claimed value
and conditions, the chapter that shows the evidence and the verdict rule, written
before any run; its ``measure(profile)`` returns a :class:`Measurement` with one of
:data:`VERDICTS`. Where the text is ambiguous, a measurement carries one verdict
per reading (``by_reading``) and :func:`combine` makes the claim's verdict from
them. :mod:`hcvae.book.claims` walks the chapter modules' ``claims()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from hcvae.chapters.user_sets import YOUR_DATA
from hcvae.core import user_data

VERDICTS = ("reproduced", "not reproduced", "depends on reading", "not comparable", "not testable here")
# the short mark of each verdict (the compact ledger, the scoreboard)
MARKS = {"reproduced": "✓", "not reproduced": "✗", "depends on reading": "±", "not comparable": "≠",
         "not testable here": "·"}


@dataclass(frozen=True)
class Measurement:
    value: str  # what we measured, in words and numbers
    verdict: str  # one of VERDICTS
    by_reading: dict = field(default_factory=dict)  # reading -> verdict, where a reading decides
    # measurements the verdict reads that lie within the cross-machine spread of a threshold it compares them with
    # (hcvae.chapters.rules.margins): on another processor this verdict may flip, and the ledger says so
    margins: tuple = ()
    # the result in one clause a newcomer can read (the report's answer, the intro); "" where the first clause of
    # ``value`` (the book's default reading) says it
    headline: str = ""


@dataclass(frozen=True)
class Claim:
    id: str
    paper: str  # "v1" or "v4"
    where: str  # section, table or figure
    quantity: str
    claimed: str
    conditions: str
    rule: str  # the verdict rule, fixed before the run
    chapter: str  # the notebook with the evidence
    measure: Callable[[str], Measurement]


def combine(verdicts: dict) -> str:
    """One verdict from per-reading verdicts: the common one; "depends on reading" when the claim reproduces
    under one reading and not under another; otherwise the weakest present."""
    distinct = set(verdicts.values())
    if len(distinct) == 1:
        return distinct.pop()
    if "reproduced" in distinct and "not reproduced" in distinct:
        return "depends on reading"
    for v in ("not reproduced", "not comparable", "not testable here", "reproduced"):
        if v in distinct:
            return v
    return "not testable here"


def across_datasets(verdicts: dict) -> str:
    """One verdict from per-data-set verdicts: a paper number is compared only where the setting is the paper's,
    so "not comparable" data sets drop out while any comparable one is left; the claim then reproduces where it
    reproduces on every comparable data set, and not where it fails on any."""
    comparable = {d: v for d, v in verdicts.items() if v != "not comparable"}
    if not comparable:
        return "not comparable"
    distinct = set(comparable.values())
    if distinct == {"reproduced"}:
        return "reproduced"
    for v in ("not reproduced", "depends on reading", "not testable here"):
        if v in distinct:
            return v
    return combine(comparable)


def setting_differs(ours: dict, paper: dict) -> str | None:
    """None when a run's setting is the paper's, else the differences in words, e.g. "data set digits (the paper:
    synthetic)". Keys compared: whatever ``paper`` names (data set, sigma'^2/lambda_max, samples, ...). A run on a
    user's own data set (``user-<hash>``, :mod:`hcvae.core.user_data`) differs by that alone: :data:`YOUR_DATA`."""
    if user_data.is_name(ours.get("dataset")):
        return YOUR_DATA
    names = {"dataset": "data set", "sigma2_ratio": "σ'²/λ_max", "n_samples": "samples", "scale": "scale"}
    diffs = []
    for key, want in paper.items():
        have = ours.get(key)
        same = (abs(float(have) - float(want)) <= 1e-9 * max(1.0, abs(float(want)))
                if isinstance(want, (int, float)) and isinstance(have, (int, float)) else have == want)
        if not same:
            diffs.append(f"{names.get(key, key)} {have:g} (the paper: {want:g})" if isinstance(want, (int, float))
                         and isinstance(have, (int, float)) else f"{names.get(key, key)} {have} (the paper: {want})")
    return "; ".join(diffs) or None


def not_comparable(why: str) -> str:
    """The verdict of a row whose setting is not the paper's (``why``: :func:`setting_differs`'s words); on a user's
    own data set it reads exactly "not comparable (your data)"."""
    if why == YOUR_DATA:
        return f"not comparable ({YOUR_DATA})"
    return f"not comparable (the setting differs: {why})"

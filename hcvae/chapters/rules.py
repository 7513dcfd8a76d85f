"""The book's thresholds and verdict rules, declared once, and the margin a verdict needs to hold on another CPU.

* :data:`COLLAPSE_KL`: v1 §5.2 calls a KL below 0.01 nats complete collapse; every chapter uses that bound.
* :func:`kl_verdict`: our KL against a paper's, the rule of v1 Table 1's rows in chapters 04 and 06.
* :data:`CROSS_MACHINE_RTOL` and :func:`margins`: a recomputation on another processor moves a trained run's final
  KL by up to this share (measured: 40 paper-profile runs recomputed with other kernels moved their final KLs
  above 0.005 nats by 1.0% at the median, 3.8% at the 90th percentile and 10% at most; the shipped diff,
  ``book/reference/diff.json``, holds that comparison and a test keeps this constant above what it measured).
  A verdict read off a measurement that close to a threshold could flip on another machine, so it says so.
"""

from __future__ import annotations

from hcvae.chapters.numbers import fmt

import math

COLLAPSE_KL = 0.01  # nats; v1 §5.2: "D_KL < 0.01" is complete collapse
FACTOR = 2.0  # "within a factor 2" of the paper's KL
CROSS_MACHINE_RTOL = 0.10
KL_VERDICTS = ("reproduced", "same side of 0.01 only", "not reproduced")


def collapsed(kl: float, bound: float = COLLAPSE_KL) -> bool:
    """KL at or below the bound: the collapsed side (the papers print two decimals, so their "0.01" counts)."""
    return kl <= bound


def kl_verdict(kl: float, paper_kl: float | None) -> str | None:
    """The verdict on a row from our mean KL and the paper's, fixed before the runs:

    * ``"reproduced"``: both collapsed (KL <= 0.01), or both above 0.01 and ours within a factor 2 of the paper's;
    * ``"same side of 0.01 only"``: both above 0.01, ours more than a factor 2 away;
    * ``"not reproduced"``: one collapsed and the other not;
    * None: the papers print no number for this row.
    """
    if paper_kl is None:
        return None
    if not (math.isfinite(kl) and math.isfinite(paper_kl)):
        raise ValueError(f"KL values must be finite; got ours {kl!r}, the paper's {paper_kl!r}")
    if collapsed(kl) != collapsed(paper_kl):
        return "not reproduced"
    if collapsed(kl):
        return "reproduced"
    return "reproduced" if paper_kl / FACTOR <= kl <= FACTOR * paper_kl else "same side of 0.01 only"


def near(value: float, threshold: float, rtol: float = CROSS_MACHINE_RTOL) -> bool:
    """Does ``value`` lie within the cross-machine spread of ``threshold``?"""
    return math.isfinite(value) and abs(value - threshold) <= rtol * max(abs(threshold), abs(value))


def margins(kl: float, paper_kl: float | None = None, bound: float = COLLAPSE_KL, what: str = "KL") -> list[str]:
    """The thresholds a KL verdict reads that ``kl`` sits within :data:`CROSS_MACHINE_RTOL` of, in words: the
    collapse bound, and with a paper number the edges of the factor-2 band around it (empty: the verdict holds on
    any machine the reproduction was checked on)."""
    notes = []
    if near(kl, bound):
        notes.append(f"{what} {fmt(kl)} is within ±{CROSS_MACHINE_RTOL:.0%} of the {bound:g} collapse bound")
    if paper_kl is not None and not collapsed(paper_kl):
        for edge, side in ((paper_kl / FACTOR, "lower"), (paper_kl * FACTOR, "upper")):
            if near(kl, edge):
                notes.append(f"{what} {fmt(kl)} is within ±{CROSS_MACHINE_RTOL:.0%} of the {side} edge {fmt(edge)} of "
                             f"the factor-{FACTOR:g} band around the paper's {paper_kl:g}")
    return notes


AT_THRESHOLD = "at the threshold"  # how a table marks a verdict with margins

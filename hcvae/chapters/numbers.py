"""How the book writes a number, declared once: every table and sentence of the chapters formats through here."""

from __future__ import annotations


def fmt(x, digits: int = 3) -> str:
    """``x`` to ``digits`` significant figures (Python's ``g`` format)."""
    return f"{x:.{digits}g}"


def span(values, digits: int = 2) -> str:
    """"a–b", the smallest and largest of ``values`` with ``digits`` decimals (as the papers print their KLs)."""
    return f"{min(values):.{digits}f}–{max(values):.{digits}f}"

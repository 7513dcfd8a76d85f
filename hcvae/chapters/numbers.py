"""How the book writes a number, declared once: every table and sentence of the chapters formats through here.

* a measured quantity (:func:`fmt`): three significant figures (3.60, 0.00442), and ``≈0 (< 1e-4)`` where its
  magnitude is below :data:`FLOOR` (a collapsed KL prints as ``1.79e-07`` or ``-4.51e-08`` otherwise: the same
  finding, as noise); a whole number, and anything from 1,000 up, without decimals (8; 12,346);
* a mean over seeds (:func:`mean_sd`): ``mean ± sd (n seeds)``;
* a setting (a ratio σ'²/λ_max, a learning rate) prints as given, with Python's ``g`` format, and the papers'
  numbers as the papers printed them: neither goes through here.

Each formatted value is a :class:`Shown`: the text, which is a ``str`` (so it joins sentences and table cells
unchanged), carrying the exact value in ``.exact``, which a table's CSV keeps (:func:`hcvae.book.tables.csv_text`).
"""

from __future__ import annotations

import math

import numpy as np

FLOOR = 1e-4  # below it a measurement is indistinguishable from 0 at the book's collapse bound of 0.01 nats
ZERO = "≈0 (< 1e-4)"  # FLOOR as a reader writes it


class Shown(str):
    """A number's text with its exact value (``.exact``: the ``repr`` of the number, or of the mean and sd)."""

    exact: str

    def __new__(cls, text: str, exact: str):
        s = super().__new__(cls, text)
        s.exact = exact
        return s


def _text(x: float, digits: int) -> str:
    if not math.isfinite(x):
        return str(x)
    if abs(x) < FLOOR:
        return "0" if x == 0 else ZERO
    if abs(x) >= 1000 or x == int(x):  # a count (active units, clusters hit) reads as one: 8, not 8.00
        return f"{x:,.0f}"
    return f"{x:#.{digits}g}".rstrip(".")  # "#": 3.60, not 3.6 — every number shows its significant figures


def fmt(x, digits: int = 3) -> Shown:
    """A measured quantity: ``digits`` significant figures, ``≈0 (< 1e-4)`` below :data:`FLOOR`."""
    x = float(x)
    return Shown(_text(x, digits), repr(x))


def mean_sd(values, digits: int = 3, unit: str = "seed") -> Shown:
    """``mean ± sd (n seeds)`` of ``values`` (sample sd, ddof=1): :func:`pm` of their summary."""
    v = np.asarray(list(values), dtype=float)
    if v.size == 0:
        return Shown("—", "")
    return pm(float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0, v.size, digits, unit)


def pm(mean: float, sd: float, n: int, digits: int = 3, unit: str = "seed") -> Shown:
    """``mean ± sd (n seeds)``; one seed: ``mean (1 seed)``; a mean and sd both below :data:`FLOOR`:
    ``≈0 (< 1e-4, n seeds)``."""
    count = f"{n} {unit}{'s' if n != 1 else ''}"
    exact = repr(mean) if n == 1 else f"{mean!r} ± {sd!r} ({count})"
    if abs(mean) < FLOOR and sd < FLOOR and mean != 0:
        return Shown(f"≈0 (< 1e-4, {count})", exact)
    if n == 1:
        return Shown(f"{_text(mean, digits)} ({count})", exact)
    return Shown(f"{_text(mean, digits)} ± {_text(sd, 2) if sd >= FLOOR or sd == 0 else '< 1e-4'} ({count})", exact)


def span(values, digits: int = 2) -> str:
    """"a–b", the smallest and largest of ``values`` with ``digits`` decimals (as the papers print their KLs)."""
    return f"{min(values):.{digits}f}–{max(values):.{digits}f}"


def and_list(parts) -> str:
    """"a", "a and b", "a, b and c": ``parts`` as one English list."""
    parts = list(parts)
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


# ---- tables ----------------------------------------------------------------------------------------------------

def _cell(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, (float, np.floating)):
        return fmt(v)
    return str(v).replace("|", "\\|")  # a | inside a cell (as in |KL − KL*|) cannot split it


def _exact(v) -> str:
    if v is None:
        return ""
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    return getattr(v, "exact", None) or str(v)


def markdown_table(header: list[str], rows: list[tuple]) -> str:
    """A MyST/GFM table: a float cell through :func:`fmt`, None as an em dash."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def csv_text(header: list[str], rows: list[tuple]) -> str:
    """The table as CSV, every number exact (a float's ``repr``, a :class:`Shown`'s ``.exact``)."""
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([_exact(v) for v in row] for row in rows)
    return buf.getvalue()


def csv_link(name: str, header: list[str], rows: list[tuple]) -> str:
    """An HTML link that downloads the table as ``<name>.csv`` (:func:`csv_text`), the file inside the link itself:
    the built book needs no server and no file beside the page."""
    import base64

    data = base64.b64encode(csv_text(header, rows).encode()).decode()
    return (f'<a class="hcvae-csv" download="{name}.csv" href="data:text/csv;charset=utf-8;base64,{data}">'
            f"⤓ {name}.csv</a>")


def downloadable(name: str, header: list[str], rows: list[tuple]) -> str:
    """:func:`markdown_table` with its :func:`csv_link` beneath it."""
    return markdown_table(header, rows) + "\n\n" + csv_link(name, header, rows)

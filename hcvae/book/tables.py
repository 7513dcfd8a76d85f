"""Tables as the book prints them: MyST/GFM markdown from a header and rows (the chapter modules return both)."""

from __future__ import annotations


def markdown_table(header: list[str], rows: list[tuple]) -> str:
    """A MyST/GFM table; floats to 3 significant digits, None as an em dash, and any ``|`` inside a cell
    escaped (as in |KL − KL*|), so that it cannot split the cell."""
    def cell(v):
        if v is None:
            return "—"
        if isinstance(v, float):
            return f"{v:.3g}"
        return str(v).replace("|", "\\|")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)

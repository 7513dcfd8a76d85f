"""Tables as the book prints them (:mod:`hcvae.chapters.numbers` writes them; the chapter modules return a header
and rows), each with a link that downloads it as CSV with its numbers exact."""

from __future__ import annotations

from hcvae.chapters.numbers import csv_link, csv_text, downloadable, markdown_table  # noqa: F401


def glued(name: str, value):
    """What a chapter's notebook glues under ``name``: a (header, rows) table as :func:`downloadable`, any other
    value (a sentence, a number) unchanged."""
    return downloadable(name, *value) if isinstance(value, tuple) else value


def show(name: str, value) -> None:
    """Glue ``value`` under ``name`` for a page's prose: a (header, rows) table as :func:`downloadable` Markdown, a
    sentence as Markdown, anything else (a number, a figure) as it is."""
    from IPython.display import Markdown
    from myst_nb import glue

    value = glued(name, value)
    glue(name, Markdown(value) if isinstance(value, str) else value, display=False)

"""Tables as the book prints them (:mod:`hcvae.chapters.numbers` writes them; the chapter modules return a header
and rows), each with a link that downloads it as CSV with its numbers exact."""

from __future__ import annotations

from hcvae.chapters.numbers import csv_link, csv_text, downloadable, markdown_table  # noqa: F401


def glued(name: str, value):
    """What a chapter's notebook glues under ``name``: a (header, rows) table as :func:`downloadable`, any other
    value (a sentence, a number) unchanged."""
    return downloadable(name, *value) if isinstance(value, tuple) else value


# myst-nb's key for a value glued without display (myst_nb.ext.glue.GLUE_PREFIX; a test holds the two equal)
GLUE_PREFIX = "application/papermill.record/"


def glue(name: str, variable, display: bool = True) -> None:
    """``myst_nb.glue``, output for output, without its import: that module imports nbformat and so jsonschema,
    whose format checkers compile their grammars at import (about 6 s in every chapter's kernel)."""
    import IPython
    from IPython.display import display as ipy_display

    mimebundle, metadata = IPython.core.formatters.format_display_data(variable)
    prefix = "" if display else GLUE_PREFIX
    metadata["scrapbook"] = dict(name=name, mime_prefix=prefix)
    ipy_display({prefix + k: v for k, v in mimebundle.items()}, raw=True, metadata=metadata)


def show(name: str, value) -> None:
    """Glue ``value`` under ``name`` for a page's prose: a (header, rows) table as :func:`downloadable` Markdown, a
    sentence as Markdown, anything else (a number, a figure) as it is."""
    from IPython.display import Markdown

    value = glued(name, value)
    glue(name, Markdown(value) if isinstance(value, str) else value, display=False)

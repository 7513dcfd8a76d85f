"""The declared parameters of every page of the book, as the command line and the pages check them.

:func:`check_parameters` is what ``python -m hcvae.notebook`` calls on the command line's values before papermill
starts, and what the report's first cell calls on its own namespace (a chapter's first cell builds its
``Params`` instead): the same checks and messages either way. Each chapter declares its parameters once, in its
chapter module (:mod:`hcvae.chapters.pages`).
"""

from __future__ import annotations

from hcvae.chapters.base import ParameterError  # noqa: F401 (what the checks raise)
from hcvae.chapters.pages import params_of


def schema(page: str):
    """The declared :class:`hcvae.chapters.base.Parameters` of ``page`` (a chapter id, a stem, ``"report"``)."""
    return params_of(page)


def check_parameters(page: str, namespace: dict, partial: bool = False) -> dict:
    """The values of ``page``'s parameters found in ``namespace`` (a notebook's globals, or the CLI's values),
    checked; raises :class:`hcvae.chapters.base.ParameterError` naming the first bad one and what it allows.
    ``partial``: check only the names given (the command line)."""
    params = params_of(page)
    if partial:  # the values given, with the others at their defaults: cross-field checks run too
        checked = params.check(dict(namespace), partial=True)
        params.from_values(**checked)
        return checked
    return params.check({f.name: namespace[f.name] for f in params.declared() if f.name in namespace})

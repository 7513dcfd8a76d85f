"""The declared parameters of every page of the book that has a ``parameters`` cell.

:func:`check_parameters` is what a notebook's first hidden cell calls on its own
namespace, and what ``python -m hcvae.notebook`` calls on the command line's
values before papermill starts: the same checks and messages either way
(:mod:`hcvae.chapters.params`). Each chapter's schema is declared by its chapter
module, the single source of that chapter; the report and the computed page take
only the profile.
"""

from __future__ import annotations

from hcvae.chapters.params import ParameterError, check, profile_param

def _p01():
    from hcvae.chapters.phase import PARAMETERS

    return PARAMETERS


def _p02():
    from hcvae.chapters.barrier_report import Params

    return Params


def _p03():
    from hcvae.chapters.region_report import _parameters

    return _parameters()


def _p04():
    from hcvae.chapters.hct_report import PARAMETERS

    return PARAMETERS


def _p05():
    from hcvae.chapters.spherical_report import _parameters

    return _parameters()


def _p06():
    from hcvae.chapters.baselines_report import _parameters

    return _parameters()


def _p07():
    from hcvae.chapters.ablations import _parameters

    return _parameters()


def _p08():
    from hcvae.chapters.diffusion_report import _parameters

    return _parameters()


# page -> its schema, built on use (a page's check imports only what that page needs)
SCHEMAS = {"01": _p01, "02": _p02, "03": _p03, "04": _p04, "05": _p05, "06": _p06, "07": _p07, "08": _p08,
           "report": lambda: (profile_param(),), "computed": lambda: ()}


def schema(page: str) -> tuple:
    """The parameters of ``page``: a chapter id (``"01"``), stem (``"01-phase-transition"``), ``"report"``."""
    key = page[:2] if page[:2].isdigit() else ("report" if "report" in page else "computed" if "computed" in page else page)
    if key not in SCHEMAS:
        raise ValueError(f"no parameter schema for page {page!r}; known: {', '.join(SCHEMAS)}")
    return SCHEMAS[key]()


def check_parameters(page: str, namespace: dict, partial: bool = False) -> dict:
    """The values of ``page``'s parameters found in ``namespace`` (a notebook's globals, or the CLI's values),
    checked; raises :class:`hcvae.chapters.params.ParameterError` naming the first bad one and what it allows."""
    params = schema(page)
    if isinstance(params, type):  # a chapter's declared Parameters
        names = [f.name for f in params.declared()]
        if partial:
            return params.check(dict(namespace), partial=True)
        return params.check({n: namespace[n] for n in names if n in namespace})
    names = [p.name for p in params]
    if partial:
        return check(params, dict(namespace), partial=True)
    missing = [n for n in names if n not in namespace]
    if missing:
        raise ParameterError(f"missing parameter(s) {', '.join(missing)}")
    return check(params, {n: namespace[n] for n in names})

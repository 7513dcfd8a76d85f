"""The declared parameters of every page of the book that has a ``parameters`` cell.

:func:`check_parameters` is what a notebook's first hidden cell calls on its own
namespace, and what ``python -m hcvae.notebook`` calls on the command line's
values before papermill starts: the same checks and messages either way
(:mod:`hcvae.chapters.params`). A chapter module that is the single source of its
chapter declares its own ``PARAMETERS`` (chapter 04: :mod:`hcvae.chapters.hct_report`);
the others are declared here.
"""

from __future__ import annotations

from hcvae.chapters.params import Param, ParameterError, check, datasets_param, profile_param

BUILTIN = ("synthetic", "digits")
IMAGES = ("mnist", "fashion_mnist", "cifar10")


def _settings(param: Param, value: dict) -> None:
    from dataclasses import fields

    from hcvae.runs.diffusion import DiffusionChapterConfig

    names = {f.name for f in fields(DiffusionChapterConfig)} - {"dataset"}
    unknown = sorted(set(value) - names)
    if unknown:
        raise ParameterError(f"parameter {param.name!r}: unknown setting(s) {', '.join(unknown)}; allowed: "
                             f"{', '.join(sorted(names))}")


def _seed() -> Param:
    return Param("seed", "int", "the first seed", low=0)


def _p01():
    from hcvae.chapters.phase import PARAMETERS

    return PARAMETERS


def _p02():
    from hcvae.chapters.barrier_report import _parameters

    return _parameters()


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
    from hcvae.methods.ddpm import DATA_SCALINGS
    from hcvae.core.theory import SCHEDULES

    return (profile_param(), _seed(), datasets_param(BUILTIN),
            Param("schedules", "str", "the sampling family", SCHEDULES, many=True),
            Param("scalings", "str", "data scalings of the t_c table", DATA_SCALINGS, many=True),
            Param("train_schedule", "str", "the single-schedule DDPMs' schedule", SCHEDULES),
            Param("independence_tol", "float", "prediction 1's tolerance", low=0.0, low_open=True, high=1.0),
            Param("z_margin", "float", "standard errors that count", low=0.0, low_open=True),
            Param("floor_margin", "float", "floors that count as degradation", low=0.0),
            Param("clip_x0", "bool", "clip x_0 estimates"),
            Param("settings", "dict", "overrides of the profile's settings", extra=_settings))


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
    names = [p.name for p in params]
    if partial:
        return check(params, dict(namespace), partial=True)
    missing = [n for n in names if n not in namespace]
    if missing:
        raise ParameterError(f"missing parameter(s) {', '.join(missing)}")
    return check(params, {n: namespace[n] for n in names})

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


def _components(param: Param, value: dict) -> None:
    bad = {k: v for k, v in value.items() if k not in BUILTIN or isinstance(v, bool) or not isinstance(v, int) or v < 1}
    if bad or not value:
        raise ParameterError(f"parameter {param.name!r} must map data sets ({', '.join(BUILTIN)}) to integers >= 1; "
                             f"got {value!r}")


def _shells(param: Param, value: list) -> None:
    from hcvae.methods.spherical import SHELL_READINGS

    for shell in value:
        ok = (isinstance(shell, (list, tuple)) and len(shell) == 3 and shell[0] in SHELL_READINGS
              and all(isinstance(r, (int, float)) and not isinstance(r, bool) for r in shell[1:])
              and 0 <= shell[1] < shell[2])
        if not ok:
            raise ParameterError(f"parameter {param.name!r} must be a list of [reading, r_min, r_max] with reading one "
                                 f"of {', '.join(SHELL_READINGS)} and 0 <= r_min < r_max; got {shell!r}")


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
    from hcvae.methods.clustering import INIT_PARAMS

    return (profile_param(), _seed(), datasets_param(BUILTIN),
            Param("n_components", "dict", "K per data set", extra=_components),
            Param("r0", "int", "EM clusterings", low=2, none=True),
            Param("init_alternative", "str", "the other EM start", INIT_PARAMS),
            Param("ari_same", "float", "ARI above which two clusterings count as one", low=0.0, low_open=True, high=1.0))


def _p03():
    return (profile_param(), _seed(), datasets_param(BUILTIN),
            Param("n_components", "dict", "K per data set", extra=_components),
            Param("k_values", "int", "the K of the curves", low=1, many=True),
            Param("shells", "any", "[reading, r_min, r_max] per shell", many=True, unique=False, extra=_shells),
            Param("n_init", "int", "K-means restarts", low=1),
            Param("identity_rtol", "float", "tolerance of the TSS identity", low=0.0, low_open=True))


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

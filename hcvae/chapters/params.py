"""Declared parameters of a chapter: types, ranges, allowed values, scalar or list, checked before any work.

Each chapter module declares its ``PARAMETERS`` (a tuple of :class:`Param`); its
notebook's first hidden cell calls :func:`check` on the values of the
``parameters`` cell, and ``python -m hcvae.notebook`` checks the values given on
its command line against the same schema before papermill starts. So a raw
papermill run, a direct Jupyter run and the CLI refuse the same bad values with
the same message, which names the parameter and what is allowed.

Values that papermill passes as text (``-p seed abc``) are refused, not coerced:
a float where an integer is required (``seed 7.5``) is an error, not seed 7.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass


from hcvae.chapters.base import ParameterError  # noqa: E402 (one error class for both declarations)


@dataclass(frozen=True)
class Param:
    """One parameter: ``kind`` is "int", "float", "str", "bool", "dict" or "any" (checked by ``extra`` alone);
    ``many`` for a list."""

    name: str
    kind: str
    doc: str = ""
    allowed: tuple | None = None  # for "str": the allowed values
    low: float | None = None  # inclusive bounds for numbers
    high: float | None = None
    low_open: bool = False  # exclude ``low`` itself
    many: bool = False  # a list of such values (non-empty unless ``empty``)
    none: bool = False  # None is allowed (e.g. "the profile's seeds")
    unique: bool = True  # list values must not repeat
    empty: bool = False  # an empty list is allowed
    extra: object = None  # a function(value) raising ParameterError for what a type cannot say

    def describe(self) -> str:
        what = {"int": "an integer", "float": "a number", "str": "a name", "bool": "True or False",
                "dict": "a mapping", "any": "a value"}[self.kind]
        if self.allowed is not None:
            what = "one of " + ", ".join(map(str, self.allowed))
        if self.low is not None or self.high is not None:
            parts = []
            if self.low is not None:
                parts.append(f"{'>' if self.low_open else '>='} {self.low:g}")
            if self.high is not None:
                parts.append(f"<= {self.high:g}")
            what += " " + " and ".join(parts)
        if self.many:
            what = f"a {'' if self.empty else 'non-empty '}list, each {what}"
        if self.none:
            what += ", or None"
        return what

    def _fail(self, value, why: str = "") -> ParameterError:
        return ParameterError(f"parameter {self.name!r} must be {self.describe()}; got {value!r}{why}")

    def _one(self, value, whole):
        k = self.kind
        if k == "any":
            return value
        if k == "bool":
            if not isinstance(value, bool):
                raise self._fail(whole)
            return value
        if k == "dict":
            if not isinstance(value, dict):
                raise self._fail(whole)
            return value
        if k == "str":
            if not isinstance(value, str):
                raise self._fail(whole)
            if self.allowed is not None and value not in self.allowed:
                raise self._fail(whole, _data_hint(value))
            return value
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise self._fail(whole)
        if k == "int":
            if isinstance(value, float):
                if not value.is_integer():
                    raise self._fail(whole, " (not a whole number)")
                raise self._fail(whole, " (write it without a decimal point)")
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise self._fail(whole)
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            raise self._fail(whole)
        if self.high is not None and value > self.high:
            raise self._fail(whole)
        return value

    def check(self, value):
        """The checked value (lists as lists), or :class:`ParameterError`."""
        if value is None:
            if self.none:
                return None
            raise self._fail(value)
        if self.many:
            if isinstance(value, tuple):
                value = list(value)
            if not isinstance(value, list):
                hint = ""
                if isinstance(value, (str, int, float)):
                    hint = (f" (a list is written [{value!r}]; papermill's -p passes text, so give lists with "
                            f"-y \"{self.name}: [...]\")")
                raise self._fail(value, hint)
            if not value and not self.empty:
                raise self._fail(value, " (the list is empty)")
            out = [self._one(v, value) for v in value]
            if self.unique and len(set(map(repr, out))) != len(out):
                raise self._fail(value, " (values repeat)")
        else:
            out = self._one(value, value)
        if self.extra is not None:
            self.extra(self, out)
        return out


def _data_hint(value) -> str:
    """For a data set read from local files that a parameter does not take: whether its files are here."""
    from hcvae.core.data import FILE_DATASETS

    if value not in FILE_DATASETS:
        return ""
    from hcvae.core.image_data import available

    if not available(value):
        from hcvae.core.image_data import missing_message

        return f" ({value} is read from local files, which are absent: {missing_message(value)})"
    return f" ({value}'s files are present, but this parameter takes only the values listed)"


def check(schema, values: dict, *, partial: bool = False) -> dict:
    """Every value of ``values`` checked against ``schema``; unknown names are refused. ``partial``: names of the
    schema may be missing (the CLI checks only what it is given)."""
    by_name = {p.name: p for p in schema}
    unknown = sorted(set(values) - set(by_name))
    if unknown:
        raise ParameterError(f"unknown parameter(s) {', '.join(unknown)}; allowed: {', '.join(by_name)}")
    missing = [n for n in by_name if n not in values]
    if missing and not partial:
        raise ParameterError(f"missing parameter(s) {', '.join(missing)}")
    return {name: by_name[name].check(value) for name, value in values.items()}


def profile_param() -> Param:
    from hcvae.runs.profiles import PROFILES

    return Param("profile", "str", "quick (minutes, used by the tests) or paper (the full reproduction)", PROFILES)


def datasets_param(allowed=("synthetic", "digits")) -> Param:
    return Param("datasets", "str", "the data sets to run", tuple(allowed), many=True)


def seeds_param(none: bool = True) -> Param:
    return Param("seeds", "int", "training seeds (None: the profile's)", low=0, many=True, none=none)


def ratio_param(name: str = "sigma2_ratio") -> Param:
    return Param(name, "float", "sigma'^2 / lambda_max", low=0.0, low_open=True)


def _scheduler_address(param: Param, value) -> None:
    if value is not None and "://" not in value:
        raise ParameterError(f"parameter {param.name!r} must be a Dask scheduler address such as 'tcp://10.0.0.5:8786', "
                             f"or None for a local cluster; got {value!r}")


def scheduler_param() -> Param:
    return Param("scheduler", "str", "a Dask scheduler address", none=True, extra=_scheduler_address)


def workers_param() -> Param:
    return Param("n_workers", "int", "local Dask workers", low=1)


def components_param(allowed=("synthetic", "digits")) -> Param:
    """``n_components``: K per data set, a dict of integers >= 1."""
    def _components(param: Param, value: dict) -> None:
        bad = {k: v for k, v in value.items()
               if k not in allowed or isinstance(v, bool) or not isinstance(v, int) or v < 1}
        if bad or not value:
            raise ParameterError(f"parameter {param.name!r} must map data sets ({', '.join(allowed)}) to integers "
                                 f">= 1; got {value!r}")

    return Param("n_components", "dict", "K per data set", extra=_components)

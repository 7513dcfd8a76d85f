"""What every chapter shares: its declared parameters and the machinery around its one computation.

**Parameters, declared once.** A chapter's parameters are a frozen dataclass deriving from :class:`Parameters`;
each field is declared with :func:`parameter`: its default, its constraint (:mod:`hcvae.core.validation`, the
style the configs use), a line of documentation and, where a type cannot say it, an ``extra`` check. That one
declaration is the page's schema and defaults, what ``python -m hcvae.notebook --list`` prints, and the checks the
command line and the notebook's first cell make (:meth:`Parameters.check`), before any work, with one message per
bad value ("parameter 'seed' must be an integer >= 0; got -1"). A test keeps each notebook's ``parameters`` cell
equal to the declaration.

**One chapter.** :class:`Chapter` ties a page to its parameters, its computation ``compute(params, store,
progress)``, its rows of the claims ledger and the stored runs they read; calling it checks the values, computes
once per process and parameters (and store), and returns the chapter's typed result.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Callable, ClassVar

from hcvae.core.validation import Anything, Constraint, Options
from hcvae.core import image_data, user_data
from hcvae.core.data import FILE_DATASETS
from hcvae.runs.profiles import profile_settings
from hcvae.runs.store import ResultStore


class ParameterError(ValueError):
    """A chapter parameter with a bad value; the message names it and what is allowed."""


def parameter(default, constraint: Constraint, doc: str = "", extra: Callable | None = None,
              files_in: str | None = None):
    """A declared parameter: its default, its constraint, what it means, and an ``extra(name, value)`` check that
    raises :class:`ParameterError` for what the constraint cannot say. ``files_in``: the parameter that takes the
    data sets read from prepared files, which this one refuses (its error then names it). Lists and dicts are
    copied per instance."""
    meta = {"constraint": constraint, "doc": doc, "extra": extra, "files_in": files_in}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: json.loads(json.dumps(default)), metadata=meta)
    return field(default=default, metadata=meta)


def describe(constraint: Constraint) -> str:
    """What a parameter allows, as its error message says it."""
    return constraint.describe() + (", or None" if constraint.none else "")


def _data_hint(value, files_in: str | None = None) -> str:
    """For a data set read from prepared files that a parameter does not take: the parameter that does
    (``files_in``), else whether the files are here."""

    if not isinstance(value, str) or value not in FILE_DATASETS:
        return ""
    if files_in is not None:
        return f" ({value} is one of the papers' image sets: name it in {files_in!r} instead)"

    if not image_data.available(value):
        return f" ({value} is read from local files, which are absent: {image_data.missing_message(value)})"
    return f" ({value}'s files are present, but this parameter takes only the values listed)"


def per_dataset_counts(allowed, files: bool = False) -> Callable:
    """An ``extra`` check for a mapping of data sets (of ``allowed``) to integers >= 1, e.g. K per data set.
    ``files``: a data file's path (``.npy``/``.npz``) or a registered user data set's name (``user-<hash>``) is a
    key too (:mod:`hcvae.core.user_data`)."""
    def known(k) -> bool:
        return k in allowed or (files and (user_data.is_path(k) or user_data.is_name(k)))

    def check(name: str, value: dict) -> None:
        bad = {k: v for k, v in value.items()
               if not known(k) or isinstance(v, bool) or not isinstance(v, int) or v < 1}
        if bad or not value:
            also = " (a data file by its path, too)" if files else ""
            raise ParameterError(f"parameter {name!r} must map data sets ({', '.join(allowed)}) to integers >= 1"
                                 f"{also}; got {value!r}")
    return check


def scheduler_address(name: str, value: str) -> None:
    """An ``extra`` check: a Dask scheduler's address (None, checked by the constraint, means a local cluster)."""
    if "://" not in value:
        raise ParameterError(f"parameter {name!r} must be a Dask scheduler address such as 'tcp://10.0.0.5:8786', "
                             f"or None for a local cluster; got {value!r}")


def check_value(name: str, constraint: Constraint, value, extra: Callable | None = None,
                files_in: str | None = None):
    """``value`` checked against ``constraint`` (lists as lists); raises :class:`ParameterError`."""
    if isinstance(value, tuple):
        value = list(value)
    if value is None:
        if not constraint.none:
            raise ParameterError(f"parameter {name!r} must be {describe(constraint)}; got None")
        return None
    reason = constraint.problem(value)
    if reason is not None:
        hint = ""
        if isinstance(value, list) and hasattr(constraint, "item"):  # the hint of an item refused without a reason
            hint = next((_data_hint(v, files_in) for v in value if constraint.item.problem(v) == ""), "")
        elif reason == "":
            hint = _data_hint(value, files_in)
        reason = reason.replace('"NAME: ', f'"{name}: ')  # the papermill hint names the parameter
        raise ParameterError(f"parameter {name!r} must be {describe(constraint)}; got {value!r}{reason}{hint}")
    value = constraint.convert(value)
    if extra is not None:
        extra(name, value)
    return value


@dataclass(frozen=True)
class Parameters:
    """Base of a chapter's parameters: every chapter runs in a profile."""

    PAGE: ClassVar[str] = ""  # the notebook stem, e.g. "01-phase-transition"
    # Where the profile's settings list the image sets of the chapter's section on them (keys, outermost first);
    # empty for a chapter with no such section. Read by :attr:`images`.
    IMAGE_SETTING: ClassVar[tuple] = ()

    profile: str = parameter("quick", Options("quick", "paper"),
                             "quick (minutes, used by the tests) or paper (the full reproduction)")

    @classmethod
    def declared(cls) -> list:
        """The declared fields, in order."""
        return [f for f in dataclasses.fields(cls) if "constraint" in f.metadata]

    @classmethod
    def defaults(cls) -> dict:
        """Every parameter's default value, in order (what the notebook's parameters cell holds)."""
        out = {}
        for f in cls.declared():
            out[f.name] = f.default_factory() if f.default is dataclasses.MISSING else f.default
        return out

    @classmethod
    def check(cls, values: dict, partial: bool = False) -> dict:
        """``values`` checked, in declaration order; unknown names are refused, and missing ones unless
        ``partial`` (the command line checks only what it is given)."""
        declared = {f.name: f for f in cls.declared()}
        unknown = sorted(set(values) - set(declared))
        if unknown:
            raise ParameterError(f"unknown parameter(s) {', '.join(unknown)}; allowed: {', '.join(declared)}")
        missing = [n for n in declared if n not in values]
        if missing and not partial:
            raise ParameterError(f"missing parameter(s) {', '.join(missing)}")
        return {name: check_value(name, f.metadata["constraint"], values[name], f.metadata["extra"],
                                  f.metadata["files_in"])
                for name, f in declared.items() if name in values}

    @classmethod
    def from_values(cls, **values) -> "Parameters":
        """The parameters with ``values`` over the defaults, checked."""
        return cls(**cls.check({**cls.defaults(), **values}))

    @classmethod
    def listing(cls) -> list[str]:
        """One line per parameter: name, default, what it allows, what it means (``--list``)."""
        return [f"  {f.name} = {value!r}: {describe(f.metadata['constraint'])}"
                + (f" ({f.metadata['doc']})" if f.metadata["doc"] else "")
                for f, value in zip(cls.declared(), cls.defaults().values())]

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in self.declared()}

    @property
    def images(self) -> list:
        """The image sets of the section on them: ``image_datasets``, or the profile's (at ``IMAGE_SETTING``)
        where it is None."""
        if not self.IMAGE_SETTING:
            raise AttributeError(f"{type(self).__name__} has no section on the image sets")
        chosen = self.image_datasets
        if chosen is None:
            chosen = profile_settings(self.profile)
            for key in self.IMAGE_SETTING:
                chosen = chosen[key]
        return list(chosen)

    def key(self) -> str:
        """The canonical text of the values (the cache key of a chapter's result)."""
        return json.dumps(self.as_dict(), sort_keys=True, default=str)


class Chapter:
    """A chapter: its page, its :class:`Parameters`, ``compute(params, store, progress) -> result``, its ledger rows
    (``claims()`` -> list of :class:`hcvae.chapters.ledger.Claim`) and ``runs(result)``, the stored results those
    rows read. Calling it returns the result, computed once per process for the same parameters and store."""

    def __init__(self, params: type[Parameters], compute: Callable, claims: Callable = list,
                 runs: Callable | None = None):
        self.Params, self._compute, self._claims, self._runs = params, compute, claims, runs
        self._cache: dict = {}

    @property
    def page(self) -> str:
        return self.Params.PAGE

    def __call__(self, profile: str = "quick", *, store=None, progress: bool | None = None, **values):

        p = self.Params.from_values(profile=profile, **values)
        store = store if store is not None else ResultStore()
        key = (p.key(), str(store.root), str(store.reference), os.environ.get("HCVAE_DATA_DIR"))
        if key not in self._cache:
            self._cache[key] = self._compute(p, store, progress)
        return self._cache[key]

    def claims(self) -> list:
        return self._claims()

    def runs(self, profile: str) -> list[dict]:
        return [] if self._runs is None else self._runs(self(profile))

    def clear(self) -> None:
        """Forget the computed results (tests that change the store under a chapter call it)."""
        self._cache.clear()


__all__ = ["Anything", "Chapter", "ParameterError", "Parameters", "check_value", "describe", "parameter",
           "per_dataset_counts", "scheduler_address"]

"""Declared constraints, checked in one place: each error names the parameter and what is allowed.

scikit-learn's ``_parameter_constraints`` style: a config class or a chapter's parameters declare one constraint
per field (:class:`Options`, :class:`Integer`, :class:`Real`, :class:`Boolean`, :class:`ListOf`, :class:`Mapping`),
and :func:`validate_constraints` checks them in the order declared. Every constraint has

* ``problem(value)``: None when the value is allowed, else a reason to append to the message ("" for none);
* ``describe()``: what is allowed, as a phrase ("an integer >= 1", "one of quick, paper");
* ``check(name, value)``: raise ValueError with the configs' one-line message.

Chapters render the same constraint as "parameter 'seed' must be an integer >= 0; got -1"
(:mod:`hcvae.chapters.base`).
"""

from __future__ import annotations

import abc
import math


def check_choice(name: str, value, allowed) -> None:
    """Raise ValueError unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; allowed values: {', '.join(map(str, allowed))}")


class Constraint(abc.ABC):
    """What a field allows. ``none``: None is allowed too (then ``none`` says what None means, or True)."""

    none: str | bool | None = None

    @abc.abstractmethod
    def problem(self, value) -> str | None:
        """None when ``value`` is allowed; else the reason it is not ("" when the description says it all)."""

    @abc.abstractmethod
    def describe(self) -> str:
        """What the constraint allows, in words (the error message's "must be ...")."""

    def convert(self, value):
        """An allowed value in its canonical type (a real number as a float, a tuple as a list)."""
        return value

    def allows(self, value) -> bool:
        return (value is None and bool(self.none)) or (value is not None and self.problem(value) is None)

    def check(self, name: str, value) -> None:
        if value is None and self.none:
            return
        reason = None if value is None else self.problem(value)
        if value is None or reason is not None:
            what = f"None ({self.none}) or " if isinstance(self.none, str) else ""
            raise ValueError(f"{name} must be {what}{self.describe()}; got {value!r}{reason or ''}")


class Options(Constraint):
    """One of ``values``: "unknown NAME 'x'; allowed values: a, b"."""

    def __init__(self, *values, none: str | bool | None = None):
        self.values, self.none = tuple(values), none

    def problem(self, value):
        try:
            return None if value in self.values else ""
        except TypeError:  # an unhashable value (a list) is not one of them either
            return ""

    def describe(self) -> str:
        return "one of " + ", ".join(map(str, self.values))

    def check(self, name: str, value) -> None:
        if value is None and self.none:
            return
        check_choice(name, value, self.values)


class Integer(Constraint):
    """An integer (not a bool) of at least ``low`` (and at most ``high``); None too when ``none``."""

    def __init__(self, low: int, high: int | None = None, none: str | bool | None = None):
        self.low, self.high, self.none = low, high, none

    def problem(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return ""
        if isinstance(value, float):
            return " (not a whole number)" if not value.is_integer() else " (write it without a decimal point)"
        if value < self.low or (self.high is not None and value > self.high):
            return ""
        return None

    def describe(self) -> str:
        return f"an integer >= {self.low}" + (f" and <= {self.high}" if self.high is not None else "")


class Real(Constraint):
    """A finite real number (not a bool) above ``low`` (or at least it, ``strict=False``), at most ``high``; None too
    when ``none``. ``what`` follows the name in the configs' message, e.g. " (sigma2_decoder / lambda_max)"."""

    def __init__(self, low: float = 0.0, strict: bool = True, high: float | None = None, high_strict: bool = False,
                 what: str = "", none: str | bool | None = None):
        self.low, self.strict, self.high, self.high_strict, self.what, self.none = low, strict, high, high_strict, what, none

    def problem(self, value):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        ok = ok and (value > self.low if self.strict else value >= self.low)
        ok = ok and (self.high is None or (value < self.high if self.high_strict else value <= self.high))
        return None if ok else ""

    def convert(self, value):
        return None if value is None else float(value)

    def describe(self) -> str:
        bound = f"{'>' if self.strict else '>='} {self.low:g}"
        if self.high is not None:
            bound += f" and {'<' if self.high_strict else '<='} {self.high:g}"
        return f"a number {bound}"

    def check(self, name: str, value) -> None:
        if value is None and self.none:
            return
        if value is None or self.problem(value) is not None:
            raise ValueError(f"{name}{self.what} must be a finite {self.describe().removeprefix('a ')}; got {value!r}")


class Boolean(Constraint):
    def __init__(self, none: str | bool | None = None):
        self.none = none

    def problem(self, value):
        return None if isinstance(value, bool) else ""

    def describe(self) -> str:
        return "True or False"


class Text(Constraint):
    """Any text (what it must name is checked by ``extra`` where one is declared)."""

    def __init__(self, none: str | bool | None = None):
        self.none = none

    def problem(self, value):
        return None if isinstance(value, str) else ""

    def describe(self) -> str:
        return "a name"


class ListOf(Constraint):
    """A list (or tuple) whose every item satisfies ``item``; non-empty unless ``empty``; no repeats if ``unique``."""

    def __init__(self, item: Constraint, unique: bool = True, empty: bool = False, none: str | bool | None = None):
        self.item, self.unique, self.empty, self.none = item, unique, empty, none

    def problem(self, value):
        if not isinstance(value, (list, tuple)):
            if isinstance(value, (str, int, float)):
                return (f" (a list is written [{value!r}]; papermill's -p passes text, so give lists with "
                        "-y \"NAME: [...]\")")
            return ""
        if not value and not self.empty:
            return " (the list is empty)"
        for v in value:
            reason = self.item.problem(v)
            if reason is not None:
                return reason
        if self.unique and len(set(map(repr, value))) != len(value):
            return " (values repeat)"
        return None

    def convert(self, value):
        return None if value is None else [self.item.convert(v) for v in value]

    def describe(self) -> str:
        return f"a {'' if self.empty else 'non-empty '}list, each {self.item.describe()}"


class Mapping(Constraint):
    """A dict (what its keys and values must be is checked by ``extra``)."""

    def __init__(self, none: str | bool | None = None):
        self.none = none

    def problem(self, value):
        return None if isinstance(value, dict) else ""

    def describe(self) -> str:
        return "a mapping"


class Anything(Constraint):
    """Any value; what it must be is checked by ``extra`` alone."""

    def __init__(self, none: str | bool | None = None):
        self.none = none

    def problem(self, value):
        return None

    def describe(self) -> str:
        return "a value"


def validate_constraints(obj, constraints: dict) -> None:
    """Check every field of ``obj`` named in ``constraints`` (in the dict's order); the first bad one raises."""
    for name, constraint in constraints.items():
        constraint.check(name, getattr(obj, name))

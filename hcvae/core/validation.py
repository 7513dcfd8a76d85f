"""Shared argument checks: each error names the parameter and what is allowed."""

from __future__ import annotations

import math


def check_choice(name: str, value, allowed) -> None:
    """Raise ValueError unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; allowed values: {', '.join(map(str, allowed))}")


# ---- declared constraints (scikit-learn's ``_parameter_constraints`` style) ----------------------------------


class Options:
    """One of ``values``: "unknown NAME 'x'; allowed values: a, b"."""

    def __init__(self, *values):
        self.values = tuple(values)

    def check(self, name: str, value) -> None:
        check_choice(name, value, self.values)


class Integer:
    """An integer (not a bool) of at least ``low``; None too when ``none`` (then ``none`` says what None means)."""

    def __init__(self, low: int, none: str | None = None):
        self.low, self.none = low, none

    def check(self, name: str, value) -> None:
        if value is None and self.none is not None:
            return
        if isinstance(value, bool) or not isinstance(value, int) or value < self.low:
            what = f"None ({self.none}) or " if self.none else ""
            raise ValueError(f"{name} must be {what}an integer >= {self.low}; got {value!r}")


class Real:
    """A finite real number (not a bool) above ``low`` (or at least it, ``strict=False``), at most ``high``; None too
    when ``none``. ``what`` follows the name in the message, e.g. " (sigma2_decoder / lambda_max)"."""

    def __init__(self, low: float = 0.0, strict: bool = True, high: float | None = None, high_strict: bool = False,
                 what: str = "", none: bool = False):
        self.low, self.strict, self.high, self.high_strict, self.what, self.none = low, strict, high, high_strict, what, none

    def check(self, name: str, value) -> None:
        if value is None and self.none:
            return
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        ok = ok and (value > self.low if self.strict else value >= self.low)
        ok = ok and (self.high is None or (value < self.high if self.high_strict else value <= self.high))
        if not ok:
            bound = f"{'>' if self.strict else '>='} {self.low:g}"
            if self.high is not None:
                bound += f" and {'<' if self.high_strict else '<='} {self.high:g}"
            raise ValueError(f"{name}{self.what} must be a finite number {bound}; got {value!r}")


class Boolean:
    def check(self, name: str, value) -> None:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be True or False; got {value!r}")


def validate_constraints(obj, constraints: dict) -> None:
    """Check every field of ``obj`` named in ``constraints`` (in the dict's order); the first bad one raises."""
    for name, constraint in constraints.items():
        constraint.check(name, getattr(obj, name))

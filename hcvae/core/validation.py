"""Shared argument checks: each error names the parameter and what is allowed."""

from __future__ import annotations


def check_choice(name: str, value, allowed) -> None:
    """Raise ValueError unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; allowed values: {', '.join(map(str, allowed))}")

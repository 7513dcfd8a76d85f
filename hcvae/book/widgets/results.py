"""Stored results as an explorer's grid: one tuple of config values per result, and the options of each control."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def label(v) -> str:
    """A control's label for the value ``v``: a number in ``g`` format (6 significant figures), else its text.
    A label names a setting (a ratio, an epsilon), not a measurement: no measurement floor, no padded zeros."""
    return format(v, ".6g") if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) else str(v)


def index_results(results: Sequence[dict], keys: Sequence[str], key_of: dict | None = None) -> tuple[dict, list]:
    """{tuple of the results' values of ``keys``: result} and the keys: ``keys``, plus any other config key whose
    value differs between results that share the values of ``keys`` (so that every result gets its own tuple;
    keys that merely follow from ``keys``, such as per-data-set epochs, are not added). ``key_of`` maps a key to
    a function of the config dict, for derived keys."""
    key_of = key_of or {}
    results = list(results)
    if not results:
        raise ValueError("no results to explore")

    def get(c, k):
        return key_of[k](c) if k in key_of else c.get(k)

    keys = list(keys)
    groups: dict[tuple, list] = {}
    for r in results:
        groups.setdefault(tuple(hashable(get(r["config"], k)) for k in keys), []).append(r["config"])
    for k in sorted({k for r in results for k in r["config"]} - set(keys) - {"kind"}):
        if any(len({repr(c.get(k)) for c in group}) > 1 for group in groups.values()):
            keys.append(k)
    index: dict[tuple, dict] = {}
    for r in results:
        t = tuple(hashable(get(r["config"], k)) for k in keys)
        if t in index:
            raise ValueError(f"two results share {dict(zip(keys, t))}")
        index[t] = r
    return index, keys


def hashable(v):
    """A config value as a dict key (lists as tuples)."""
    return tuple(v) if isinstance(v, list) else v


def options_of(index: dict, position: int, label=label) -> list:
    """The sorted (label, value) options of the key at ``position`` of ``index``'s tuples."""
    values = sorted({t[position] for t in index}, key=sort_key)
    return [(label(v), v) for v in values]


def sort_key(v):
    """Numbers first, by value, then text."""
    return (0, float(v), "") if isinstance(v, (int, float)) and not isinstance(v, bool) else (1, 0.0, str(v))

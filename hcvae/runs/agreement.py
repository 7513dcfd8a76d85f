"""When a recomputed result agrees with a stored one: the determinism policy's two rules.

**Same kernels, exact.** An entry recomputed with the same libraries on the same
CPU, vector ISA, BLAS and pins (:func:`hcvae.runs.kernels.same_kernels`) must
reproduce every stored number bit for bit, per-step histories included.

**Other kernels, the seed spread.** Kernels of another processor round in another
order, and training amplifies the last digits, so a run recomputed elsewhere
follows a nearby trajectory, not the same one. Such a recomputation agrees when

* the entry has the same structure: every number it stores is there, and each
  list has its length (a training history one row per epoch);
* the first row of every training history agrees within :data:`ATOL` +
  :data:`EARLY_RTOL`·|x| (a count such as active units within one): before training
  amplifies them, kernels differ in the last digits only, while a change of
  algorithm (another learning rate, another loss) moves the very first epoch;
* every final measurement (anything outside a per-step series) lies within
  ``ATOL + RTOL·|x| + SPREAD_K · s · max(|x|, |y|)``, where ``s`` is the seed
  spread of that quantity: its coefficient of variation across the seeds of the
  entry's own config where the reference holds several, else the 90th percentile
  of it over the kind's seed groups (:func:`seed_spread`, stored in
  ``hcvae/runs/seed_spread.json``). ``ATOL`` is the floor for quantities at
  collapse: a KL of 3e-5 against 2.6e-5 is one finding.

Not compared under this rule: per-step values after the first epoch, single
latent dimensions (two runs' dimensions need not correspond; their totals are
compared), flags read off a threshold (the number behind each is compared), and
Algorithm 1's discrete choices (which clusterings each round keeps; the model
they lead to is compared). The rule that applied is printed with every audit
row and used by ``python -m hcvae.reference diff``.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from collections import defaultdict
from pathlib import Path
from hcvae.runs.kernels import same_kernels

RULES = ("exact", "cross-machine")
ATOL = 1e-3  # nats, units, squared errors: below this two final measurements are one finding
RTOL = 1e-4  # quantities no training touches (data spectra, closed forms) differ in the last digits only
EARLY_RTOL = 1e-2  # the first epoch of a history, before training amplifies anything (with the ATOL floor)
SPREAD_K = 2.0  # a cross-machine change may be as large as twice the seed spread (two seeds differ by ~1.4 sd)
SPREAD_FILE = Path(__file__).resolve().parent / "seed_spread.json"
# bookkeeping: what identifies or times a run, not what it measured
NOT_MEASURED = frozenset({"provenance", "wall_time_s", "em_time_s", "key", "version", "config", "has_weights",
                          "has_arrays", "code_version", "time_s", "seconds"})
_SERIES = re.compile(r"(?:^|\.)(history|trajectory)\[(\d+)\]")
# Algorithm 1's discrete choices (which clusterings a round keeps, in what order, the final one) and a series that
# starts after them: on other kernels the scores they are chosen by move, and a near-tie can go the other way. The
# measurements of the model they lead to are compared; the choices themselves only on the same kernels.
_CHOICES = re.compile(r"(?:^|\.)(rounds|final_clustering|active|trajectory)(?:\[|\.|$)")
# per-latent-dimension lists: the dimensions of two runs need not correspond, so they are compared through their
# totals (KL, active units), not element by element, under the cross-machine rule
_PER_DIM = re.compile(r"_per_dim(?:\[|\.|$)")
# history columns measured against another trained model (the distance to HCT's collapsed reference): that model
# was trained on the same other kernels, so they move from the first epoch on
_NOT_EARLY = ("dist_collapsed",)
_INDEX = re.compile(r"\[\d+\]")


def numbers_in(obj, path=""):
    """Every value of a JSON tree, as ``(path, value)`` (numbers as floats); timing and bookkeeping keys are skipped.
    A list's length is reported too, as ``path.__len__``, so that a change of length is a change of a number."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in NOT_MEASURED or k.endswith("_time_s") or k.endswith("_seconds"):
                continue
            yield from numbers_in(v, f"{path}.{k}" if path else str(k))
    elif isinstance(obj, list):
        yield f"{path}.__len__", float(len(obj))
        for i, v in enumerate(obj):
            yield from numbers_in(v, f"{path}[{i}]")
    elif isinstance(obj, bool) or obj is None or isinstance(obj, str):
        yield path, obj
    elif isinstance(obj, (int, float)):
        yield path, float(obj)


def pattern(path: str) -> str:
    """A path with its list indices replaced by ``[*]``: the quantity, whichever dimension or row."""
    return _INDEX.sub("[*]", path)


def series_position(path: str) -> int | None:
    """The row of a per-step series a path lies in (``history[3].kl`` -> 3), or None for a final measurement."""
    m = _SERIES.search(path)
    return int(m.group(2)) if m else None


def _kind(result: dict) -> str:
    return (result.get("config") or {}).get("kind", "")


# ---- the rules -----------------------------------------------------------------------------------------------


def compare_exact(stored: dict, recomputed: dict) -> dict:
    """Every number identical (NaN equals NaN): ``{"rule", "max_rel", "mismatches": [(path, stored, new)]}``."""
    a, b = dict(numbers_in(stored)), dict(numbers_in(recomputed))
    mismatches, max_rel = [], 0.0
    for path in sorted(set(a) | set(b)):
        x, y = a.get(path, "<missing>"), b.get(path, "<missing>")
        if isinstance(x, float) and isinstance(y, float):
            if math.isnan(x) and math.isnan(y):
                continue
            max_rel = max(max_rel, _rel(x, y))
            if x != y:
                mismatches.append((path, x, y))
        elif x != y:
            mismatches.append((path, x, y))
    return {"rule": "exact", "max_rel": max_rel, "mismatches": mismatches}


def compare_cross(stored: dict, recomputed: dict, spread: dict | None = None) -> dict:
    """The cross-machine rule (module docstring); ``spread``: :func:`load_spread`'s table (default: the shipped one).
    ``mismatches`` name the path, the stored and the recomputed value; ``max_rel`` is over final measurements."""
    spread = load_spread() if spread is None else spread
    table = spread.get("kinds", {}).get(_kind(stored), {})
    own = spread.get("groups", {}).get(group_id(stored.get("config") or {}), {})
    a, b = dict(numbers_in(stored)), dict(numbers_in(recomputed))
    mismatches, max_rel = [], 0.0
    for path in sorted(set(a) | set(b)):
        row = series_position(path)
        if (row is not None and (row > 0 or "trajectory[" in path or path.endswith(_NOT_EARLY))) \
                or _CHOICES.search(path) or _PER_DIM.search(path):
            continue  # per-step values after the first epoch, discrete choices, single latent dimensions
        x, y = a.get(path, "<missing>"), b.get(path, "<missing>")
        if isinstance(x, bool) and isinstance(y, bool):
            continue  # a flag read off a threshold (inside the region?): the number it is read from is compared
        if not (isinstance(x, float) and isinstance(y, float)):
            if x != y:
                mismatches.append((path, x, y))
            continue
        if math.isnan(x) and math.isnan(y):
            continue
        counts = x.is_integer() and y.is_integer() and not path.endswith(".__len__")
        if row == 0:  # a count (active units) may step by one where a dimension sits at its threshold
            ok = abs(x - y) <= max(ATOL + EARLY_RTOL * abs(x), 1.0 if counts else 0.0)
        else:
            max_rel = max(max_rel, _rel(x, y))
            s = max(table.get(pattern(path), 0.0), own.get(pattern(path), 0.0))
            ok = abs(x - y) <= max(tolerance(x, y, s), 1.0 if counts and s > 0 else 0.0)
        if not ok:
            mismatches.append((path, x, y))
    return {"rule": "cross-machine", "max_rel": max_rel, "mismatches": mismatches}


def compare_arrays(stored: dict, recomputed: dict, rule: str) -> list:
    """Mismatches between the arrays stored beside two entries (``arrays.npz``): under the exact rule every element,
    under the cross-machine rule their names and shapes (arrays hold samples and fits that other kernels move, and
    the numbers the book reads from them are in the result, which the rule compares)."""
    import numpy as np

    out = []
    for name in sorted(set(stored) | set(recomputed)):
        a, b = stored.get(name), recomputed.get(name)
        if a is None or b is None or np.shape(a) != np.shape(b):
            out.append((f"arrays.{name}.shape", None if a is None else list(np.shape(a)),
                        None if b is None else list(np.shape(b))))
        elif rule == "exact" and not (np.asarray(a).dtype == np.asarray(b).dtype
                                      and np.array_equal(a, b, equal_nan=True)):
            diff = np.flatnonzero(np.asarray(a).ravel() != np.asarray(b).ravel())
            out.append((f"arrays.{name}[{int(diff[0]) if diff.size else 0}]", f"{diff.size} elements differ", None))
    return out


def final_changes(stored: dict, recomputed: dict, spread: dict | None = None):
    """``(path, stored, recomputed, seed spread)`` of every final measurement the cross-machine rule compares
    (numbers outside per-step series, single latent dimensions and discrete choices): what a reproduction on
    other kernels moved, with the spread each is held to."""
    spread = load_spread() if spread is None else spread
    table = spread.get("kinds", {}).get(_kind(stored), {})
    own = spread.get("groups", {}).get(group_id(stored.get("config") or {}), {})
    b = dict(numbers_in(recomputed))
    for path, x in numbers_in(stored):
        y = b.get(path)
        if (series_position(path) is not None or _CHOICES.search(path) or _PER_DIM.search(path)
                or path.endswith(".__len__") or isinstance(x, bool) or not isinstance(x, float)
                or not isinstance(y, float) or path.split(".")[0] in NOT_MEASURED):
            continue
        yield path, x, y, max(table.get(pattern(path), 0.0), own.get(pattern(path), 0.0))


def tolerance(x: float, y: float, s: float) -> float:
    """How far a final measurement may move on other kernels, given its seed spread ``s`` (a relative spread)."""
    return ATOL + RTOL * abs(x) + SPREAD_K * s * max(abs(x), abs(y))


def compare(stored: dict, recomputed: dict, spread: dict | None = None) -> dict:
    """The rule the two entries' kernels call for (:func:`hcvae.runs.kernels.same_kernels`), applied."""

    if same_kernels(stored.get("provenance") or {}, recomputed.get("provenance") or {}):
        return compare_exact(stored, recomputed)
    return compare_cross(stored, recomputed, spread)


def _rel(x: float, y: float) -> float:
    if math.isnan(x) and math.isnan(y):
        return 0.0
    rel = abs(x - y) / max(abs(x), 1e-12)
    return rel if math.isfinite(rel) else 0.0


# ---- the seed spread -------------------------------------------------------------------------------------------


def group_id(config: dict) -> str:
    """The id of a config's seed group: a hash of the config without its seed."""
    import hashlib

    rest = {k: v for k, v in config.items() if k != "seed"}
    return hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()[:16]


def seed_groups(results) -> dict:
    """Results that differ only in their seed, grouped: ``{(kind, config without seed): [result, ...]}``."""
    groups: dict = defaultdict(list)
    for r in results:
        config = dict(r.get("config") or {})
        if "seed" not in config:
            continue  # a kind without a seed (a deterministic fit) has no seed spread
        config.pop("seed")
        groups[(config.get("kind"), json.dumps(config, sort_keys=True))].append(r)
    return {k: v for k, v in groups.items() if len(v) >= 2}


def seed_spread(results, quantile: float = 0.9) -> dict:
    """The coefficient of variation (sd across seeds / mean magnitude) of each final measurement, over groups of
    results that differ only in their seed: ``{"kinds": {kind: {quantity: its quantile over the kind's groups}},
    "groups": {group id: {quantity: the group's own, where above its kind's}}}``. Groups whose mean magnitude is
    below :data:`ATOL` (collapsed quantities) are left to the absolute floor."""
    cvs: dict = defaultdict(lambda: defaultdict(list))
    own: dict = defaultdict(dict)
    for (kind, _), members in seed_groups(results).items():
        gid = group_id(members[0]["config"])
        values: dict = defaultdict(list)
        for r in members:
            for path, v in numbers_in(r):
                if isinstance(v, float) and math.isfinite(v) and (series_position(path) is None
                                                                    or path.endswith(".__len__")):
                    values[path].append(v)
        for path, vs in values.items():
            if len(vs) < 2:
                continue
            scale = statistics.fmean(abs(v) for v in vs)
            if scale >= ATOL:
                cv = statistics.stdev(vs) / scale
                cvs[kind][pattern(path)].append(cv)
                own[(kind, gid)][pattern(path)] = max(cv, own[(kind, gid)].get(pattern(path), 0.0))
    kinds = {kind: {p: _round(_quantile(v, quantile)) for p, v in sorted(by.items())} for kind, by in sorted(cvs.items())}
    groups = {}
    for (kind, gid), by in sorted(own.items()):
        above = {p: _round(v) for p, v in sorted(by.items()) if v > kinds[kind].get(p, 0.0)}
        if above:
            groups[gid] = above
    return {"kinds": kinds, "groups": groups}


def _round(x: float) -> float:
    return float(f"{x:.3g}")


def _quantile(values: list, q: float) -> float:
    values = sorted(values)
    return float(values[min(len(values) - 1, int(q * len(values)))])


def load_spread(path: Path = SPREAD_FILE) -> dict:
    """The shipped seed-spread table (``{"kinds": {kind: {quantity: spread}}, "sources": ...}``); empty if absent."""
    path = Path(path)
    return json.loads(path.read_text()) if path.exists() else {"kinds": {}}


def nonzero_spread(spread: dict, kind: str) -> int:
    return sum(v > 0 for v in spread.get("kinds", {}).get(kind, {}).values())

"""Keeping the store honest: the audit, the lock and the migration of entries made before versioned keys.

* :func:`audit` recomputes a sample of stored entries per kind and compares every
  stored number (metrics, histories, tables; not timings or provenance) within
  :data:`RTOL` / :data:`ATOL`, naming the entry and the first number that moved.
* :func:`check_lock` compares each kind's ``VERSION`` and code closure with
  ``hcvae/store.lock.json``; :func:`write_lock` re-locks a kind, which is allowed
  after a ``VERSION`` bump, or after the audit of that kind passed.
* :func:`migrate` re-keys the entries of a store filled before versioned keys
  (folders named by a bare hash) from the config each holds; nothing recomputes.

The audit sample that ``make test`` recomputes lives in ``tests/audit/``: a few
of the cheapest ``quick``-profile entries per kind, in the reference's format.
"""

from __future__ import annotations

import gzip
import json
import math
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from hcvae.runs import store as store_mod
from hcvae.runs.closure import closure

# Every run computes on one thread (see hcvae.runs.experiments.run), so the same machine and libraries recompute
# bit for bit; these tolerances absorb another CPU's or library build's last digits, amplified by training.
RTOL = 1e-3
ATOL = 1e-6
AUDIT_SAMPLE_DIR = store_mod.ROOT / "tests" / "audit"
_SKIP = {"provenance", "wall_time_s", "em_time_s", "key", "version", "config", "has_weights", "has_arrays",
         "code_version", "time_s", "seconds"}


def numbers_in(obj, path=""):
    """Every number in a JSON tree, as (path, value); timing and bookkeeping keys are skipped."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in _SKIP or k.endswith("_time_s") or k.endswith("_seconds"):
                continue
            yield from numbers_in(v, f"{path}.{k}" if path else str(k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from numbers_in(v, f"{path}[{i}]")
    elif isinstance(obj, bool) or obj is None or isinstance(obj, str):
        yield path, obj
    elif isinstance(obj, (int, float)):
        yield path, float(obj)


def compare(stored: dict, recomputed: dict, rtol: float = RTOL, atol: float = ATOL) -> dict:
    """``{"max_rel": largest relative change, "mismatches": [(path, stored, recomputed), ...]}``."""
    a, b = dict(numbers_in(stored)), dict(numbers_in(recomputed))
    mismatches, max_rel = [], 0.0
    for path in sorted(set(a) | set(b)):
        x, y = a.get(path, "<missing>"), b.get(path, "<missing>")
        if isinstance(x, float) and isinstance(y, float):
            if math.isnan(x) and math.isnan(y):
                continue
            diff = abs(x - y)
            rel = diff / max(abs(x), 1e-12)
            if math.isfinite(rel):
                max_rel = max(max_rel, rel)
            if not diff <= atol + rtol * abs(x):
                mismatches.append((path, x, y))
        elif x != y:
            mismatches.append((path, x, y))
    return {"max_rel": max_rel, "mismatches": mismatches}


def _source_entries(source: Path):
    """``(key, result)`` of a store folder (``<key>/result.json``) or a reference folder (``<key>.json.gz``)."""
    source = Path(source)
    if any(source.glob("*.json.gz")):
        yield from store_mod.reference_entries(source)
    else:
        yield from store_mod.ResultStore(source, reference=None).entries()


def _wall_time(result: dict) -> float:
    prov = result.get("provenance") or {}
    return float(prov.get("wall_time_s") or result.get("wall_time_s") or math.inf)


@dataclass
class AuditReport:
    rows: list = field(default_factory=list)  # per entry: kind, key, max_rel, mismatches, seconds

    @property
    def ok(self) -> bool:
        return all(not r["mismatches"] for r in self.rows)

    def kinds(self) -> set:
        return {r["kind"] for r in self.rows}

    def lines(self) -> list[str]:
        out = []
        for r in self.rows:
            status = "ok" if not r["mismatches"] else "MISMATCH"
            out.append(f"{status:8s} {r['key']}  largest relative change {r['max_rel']:.2e}  ({r['seconds']:.1f} s)")
            for path, x, y in r["mismatches"][:5]:
                out.append(f"         {path}: stored {x!r}, recomputed {y!r}")
            if len(r["mismatches"]) > 5:
                out.append(f"         ... and {len(r['mismatches']) - 5} more")
        return out


def audit(sources=(AUDIT_SAMPLE_DIR,), kinds=None, sample: int = 2, rtol: float = RTOL, atol: float = ATOL,
          progress: bool | None = None) -> AuditReport:
    """Recompute the ``sample`` cheapest entries per kind (of the current ``VERSION``) found in ``sources``.

    Entries of another ``VERSION`` are skipped: their kind's code says it no longer computes them.
    """
    from hcvae.runs.experiments import compute_entry

    kinds = tuple(kinds or store_mod.KIND_CLASSES)
    for k in kinds:
        store_mod.kind_class(k)  # unknown kinds fail before any work
    candidates: dict[str, dict] = {k: {} for k in kinds}
    for source in sources:
        for key, result in _source_entries(source):
            kind = (result.get("config") or {}).get("kind")
            if kind in candidates and result.get("version") == store_mod.kind_class(kind).VERSION:
                candidates[kind].setdefault(key, result)
    report = AuditReport()
    for kind in kinds:
        chosen = sorted(candidates[kind].items(), key=lambda kv: (_wall_time(kv[1]), kv[0]))[:sample]
        for key, stored in chosen:
            config = store_mod.config_from_dict(stored["config"])
            start = time.perf_counter()
            # runs the entry needs (HCT's collapsed reference VAE) are recomputed too, in a scratch store: read
            # from a store they would not be audited, and they must not land in the user's results/
            with tempfile.TemporaryDirectory() as tmp:
                fresh, _, _ = compute_entry(config, store=store_mod.ResultStore(tmp, reference=None),
                                            progress=progress)
            cmp = compare(stored, fresh, rtol, atol)
            report.rows.append({"kind": kind, "key": key, "max_rel": cmp["max_rel"], "mismatches": cmp["mismatches"],
                                "seconds": time.perf_counter() - start})
    return report


# ---- the lock ------------------------------------------------------------------------------------------------


def current_lock() -> dict:
    """What the lock file would hold for the code as it is: per kind, its VERSION and closure."""
    out = {}
    for kind, spec in store_mod.KIND_CLASSES.items():
        cls = store_mod.kind_class(kind)
        c = closure(cls.__module__)
        out[kind] = {"class": spec, "version": cls.VERSION, "closure": c["hash"], "modules": c["modules"]}
    return out


def read_lock(path: Path = store_mod.LOCK_FILE) -> dict:
    return json.loads(Path(path).read_text()) if Path(path).exists() else {}


def check_lock(path: Path = store_mod.LOCK_FILE) -> list[str]:
    """One message per kind whose VERSION or code closure no longer matches the lock (empty: all match)."""
    locked, now = read_lock(path), current_lock()
    problems = []
    for kind, cur in now.items():
        old = locked.get(kind)
        if old is None:
            problems.append(f"kind {kind!r} is not in {path.name}: run `python -m hcvae.store lock --kind {kind}`")
            continue
        if cur["version"] < old["version"]:
            problems.append(f"kind {kind!r}: VERSION went down from {old['version']} to {cur['version']}")
        elif cur["closure"] != old["closure"] or cur["version"] != old["version"]:
            changed = sorted(m for m in set(cur["modules"]) | set(old["modules"])
                             if cur["modules"].get(m) != old["modules"].get(m))
            if cur["version"] > old["version"]:
                problems.append(f"kind {kind!r}: VERSION is {cur['version']}, the lock says {old['version']}: run "
                                f"`python -m hcvae.store lock --kind {kind}` to record the bump")
            else:
                problems.append(
                    f"kind {kind!r}: its code changed since the lock ({', '.join(changed)}) but "
                    f"{store_mod.KIND_CLASSES[kind].split(':')[1]}.VERSION is still {cur['version']}. If behaviour "
                    f"changed, bump VERSION (its results are then recomputed) and run `python -m hcvae.store lock "
                    f"--kind {kind}`; if it is a refactor, run `python -m hcvae.store lock --kind {kind}`, which "
                    "re-locks only after the audit of that kind passes")
    return problems


def write_lock(kinds=None, path: Path = store_mod.LOCK_FILE, audit_sources=(AUDIT_SAMPLE_DIR,), sample: int = 2,
               progress: bool | None = None) -> list[str]:
    """Re-lock ``kinds`` (default: every kind whose lock is out of date); returns what it did, line by line.

    A kind whose VERSION went up is re-locked at once, and its audit sample recomputed under the new VERSION.
    A kind whose code changed at the same VERSION is re-locked only if its audit passes; otherwise
    :class:`RuntimeError` names the entries and numbers that moved, and nothing is written.
    """
    locked, now = read_lock(path), current_lock()
    kinds = list(kinds) if kinds else [k for k in now if locked.get(k, {}).get("closure") != now[k]["closure"]
                                       or locked.get(k, {}).get("version") != now[k]["version"]]
    done = []
    for kind in kinds:
        old = locked.get(kind)
        if old is not None and now[kind]["version"] == old["version"] and now[kind]["closure"] != old["closure"]:
            report = audit(audit_sources, kinds=[kind], sample=sample, progress=progress)
            if not report.rows:
                raise RuntimeError(f"no entry of kind {kind!r} at VERSION {now[kind]['version']} to audit in "
                                   f"{', '.join(map(str, audit_sources))}; compute some first")
            if not report.ok:
                raise RuntimeError(f"the audit of kind {kind!r} failed, so its code change is not a refactor: bump "
                                   "its VERSION instead.\n" + "\n".join(report.lines()))
            done.append(f"{kind}: audit passed on {len(report.rows)} entries; re-locked")
        elif old is not None and now[kind]["version"] > old["version"]:
            n = refresh_audit_sample(kind, old["version"], progress=progress)
            done.append(f"{kind}: VERSION {old['version']} -> {now[kind]['version']}; {n} audit entries recomputed")
        else:
            done.append(f"{kind}: locked")
        locked[kind] = now[kind]
    text = json.dumps(locked, indent=1, sort_keys=True) + "\n"
    store_mod.atomic_write(Path(path), lambda f: f.write(text.encode()))
    return done


# ---- the audit sample --------------------------------------------------------------------------------------


def write_reference_entry(folder: Path, key: str, result: dict, arrays: dict | None = None) -> Path:
    """One entry in the reference's format: ``<key>.json.gz`` (and ``<key>.npz``); returns the JSON file."""
    folder = Path(folder)
    data = gzip.compress(json.dumps(result, separators=(",", ":"), allow_nan=True).encode(), compresslevel=9, mtime=0)
    path = folder / f"{key}.json.gz"
    store_mod.atomic_write(path, lambda f: f.write(data))
    if arrays:
        blob = store_mod.npz_bytes(arrays)
        store_mod.atomic_write(folder / f"{key}.npz", lambda f: f.write(blob))
    return path


def audit_sample_configs() -> list:
    """The audit sample: one of the cheapest ``quick``-profile runs of each kind (the Gaussian VAE under both
    trainers); the diffusion chapter's run shrunk further (fewer samples, steps and epochs; every model kept),
    since its quick run alone would cost half the audit; chapters 02 and 03's EM and K-means fits on a few hundred
    digits."""
    from hcvae.runs.barrier_runs import BarrierConfig
    from hcvae.runs.baselines import BaselineConfig
    from hcvae.runs.diffusion import DiffusionChapterConfig
    from hcvae.runs.experiments import VAEConfig
    from hcvae.runs.hct import HCTConfig
    from hcvae.runs.region_runs import RegionConfig
    from hcvae.runs.spherical_runs import SphericalConfig

    return [VAEConfig.from_profile("quick", "synthetic", sigma2_ratio=2.0, trainer="single"),
            VAEConfig.from_profile("quick", "synthetic", sigma2_ratio=2.0, trainer="stacked"),
            HCTConfig.from_profile("quick", "digits", sigma2_ratio=2.0),
            SphericalConfig.from_profile("quick", "synthetic"),
            BaselineConfig.from_profile("quick", "synthetic", method="vanilla"),
            DiffusionChapterConfig.from_profile("quick", "digits", n_samples=800, T=200, epochs_per_round=4,
                                                n_generated=100, gain_points=50, gain_grid=10),
            BarrierConfig(dataset="digits", n_samples=400, n_components=10, r0=4),
            RegionConfig(dataset="digits", n_samples=400, k=10, probes=True)]


def build_audit_sample(folder: Path = AUDIT_SAMPLE_DIR, progress: bool | None = None) -> list[Path]:
    """(Re)write the audit sample from :func:`audit_sample_configs` with the code as it is."""
    return [add_to_audit_sample(c, folder, progress) for c in audit_sample_configs()]


def add_to_audit_sample(config, folder: Path = AUDIT_SAMPLE_DIR, progress: bool | None = None) -> Path:
    """Compute ``config`` (in a scratch store) and write its entry into the audit sample."""
    import tempfile

    from hcvae.runs.experiments import run

    with tempfile.TemporaryDirectory() as tmp:
        scratch = store_mod.ResultStore(tmp, reference=None)
        result = run(config, store=scratch, progress=progress)
        arrays = scratch.load_arrays(config) if result.get("has_arrays") else None
    return write_reference_entry(folder, store_mod.config_key(config), result, arrays)


def refresh_audit_sample(kind: str, old_version: int, folder: Path = AUDIT_SAMPLE_DIR, progress=None) -> int:
    """Recompute the audit-sample entries of ``kind`` made under ``old_version`` with the current code."""
    n = 0
    for key, result in list(store_mod.reference_entries(folder)):
        if result.get("config", {}).get("kind") == kind and result.get("version") == old_version:
            add_to_audit_sample(store_mod.config_from_dict(result["config"]), folder, progress)
            (Path(folder) / f"{key}.json.gz").unlink()
            (Path(folder) / f"{key}.npz").unlink(missing_ok=True)
            n += 1
    return n


# ---- migration of entries made before versioned keys ---------------------------------------------------------

LEGACY_VERSION = 1  # what every kind computed before versioned keys: entries of kinds now past it are ignored
LEGACY_KINDS = {"VAEConfig": "vae", "HCTConfig": "hct", "SphericalConfig": "spherical", "BaselineConfig": "baseline",
                "DiffusionChapterConfig": "diffusion"}


def _is_legacy(folder: Path) -> bool:
    return folder.is_dir() and "-v" not in folder.name and (folder / "result.json").exists()


def needs_migration(root: Path) -> bool:
    root = Path(root)
    return root.exists() and any(_is_legacy(p) for p in root.iterdir())


def migrate(root: Path, prune: bool = False) -> dict:
    """Re-key every legacy entry under ``root`` from the config it holds (no recomputation).

    Legacy keys hashed the code too, so one config may have several legacy entries made by different code: the
    most recent is kept, the others are left in place (``prune=True`` deletes them). A diffusion entry's samples
    move from its weights file into ``arrays.npz``.
    """
    import torch

    root = Path(root)
    legacy = sorted((p for p in root.iterdir() if _is_legacy(p)), key=lambda p: (p / "result.json").stat().st_mtime,
                    reverse=True) if root.exists() else []
    counts = {"migrated": 0, "stale": 0, "unreadable": 0}
    for folder in legacy:
        try:
            old = json.loads((folder / "result.json").read_text())
            cfg = dict(old["config"])
            cfg["kind"] = LEGACY_KINDS[cfg["kind"]]
            config = store_mod.config_from_dict(cfg)
        except (OSError, ValueError, KeyError, TypeError):
            counts["unreadable"] += 1
            continue
        new = root / store_mod.config_key(config, LEGACY_VERSION)
        if (new / "result.json").exists():
            counts["stale"] += 1
            if prune:
                shutil.rmtree(folder, ignore_errors=True)
            continue
        state, arrays = None, None
        if old.get("has_weights") and (folder / "weights.pt").exists():
            state = torch.load(folder / "weights.pt", weights_only=True)
            if isinstance(state, dict) and "samples" in state and "denoisers" in state:
                arrays = {name: t.numpy() for name, t in state["samples"].items()}
                state = {"denoisers": state["denoisers"]}
        result = {k: v for k, v in old.items() if k not in ("key", "code_version", "config", "has_weights")}
        prov = {"migrated_from": folder.name, "code_version": old.get("code_version"),
                "wall_time_s": old.get("wall_time_s"), "created": time.strftime(
                    "%Y-%m-%dT%H:%M:%SZ", time.gmtime((folder / "result.json").stat().st_mtime))}
        store_mod.ResultStore(root, reference=None).save(config, result, state_dict=state, arrays=arrays,
                                                          provenance_=prov, version=LEGACY_VERSION)
        shutil.rmtree(folder, ignore_errors=True)
        counts["migrated"] += 1
    return counts


def main(argv=None) -> int:
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m hcvae.store", description="Audit, lock and migrate the result store.")
    sub = parser.add_subparsers(dest="command", required=True)
    a = sub.add_parser("audit", help="recompute a sample of stored entries per kind and compare every number")
    a.add_argument("--kind", action="append", choices=list(store_mod.KIND_CLASSES))
    a.add_argument("--sample", type=int, default=2, help="entries per kind (the cheapest first; default 2)")
    a.add_argument("--root", action="append", help="a store or reference folder (default: tests/audit)")
    a.add_argument("--rtol", type=float, default=RTOL)
    a.add_argument("--atol", type=float, default=ATOL)
    lk = sub.add_parser("lock", help="re-lock kinds after a VERSION bump, or after their audit passes")
    lk.add_argument("--kind", action="append", choices=list(store_mod.KIND_CLASSES))
    sub.add_parser("check", help="does the lock match the code?")
    sub.add_parser("sample", help="rewrite the audit sample (tests/audit) with the code as it is")
    m = sub.add_parser("migrate", help="re-key entries made before versioned keys")
    m.add_argument("--root", default=None)
    m.add_argument("--prune", action="store_true", help="delete legacy entries superseded by a newer one")
    s = sub.add_parser("summary", help="count the run requests of a $HCVAE_RUN_LOG file by source")
    s.add_argument("log")
    args = parser.parse_args(argv)

    if args.command == "audit":
        if args.sample < 1:
            parser.error("--sample must be >= 1")
        sources = [Path(r) for r in args.root] if args.root else [AUDIT_SAMPLE_DIR]
        for src in sources:
            if not src.exists():
                parser.error(f"--root {src} does not exist")
        report = audit(sources, kinds=args.kind, sample=args.sample, rtol=args.rtol, atol=args.atol)
        print("\n".join(report.lines()))
        print(f"audit: {len(report.rows)} entries of {len(report.kinds())} kinds, "
              f"{sum(1 for r in report.rows if r['mismatches'])} mismatched (rtol {args.rtol:g}, atol {args.atol:g})")
        return 0 if report.ok and report.rows else 1
    if args.command == "lock":
        try:
            for line in write_lock(args.kind):
                print(line)
        except RuntimeError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        return 0
    if args.command == "sample":
        for path in build_audit_sample():
            print(f"wrote {path}")
        return 0
    if args.command == "check":
        problems = check_lock()
        print("\n".join(problems) if problems else "the lock matches the code")
        return 1 if problems else 0
    if args.command == "migrate":
        root = Path(args.root) if args.root else store_mod.default_root()
        print(json.dumps(migrate(root, prune=args.prune)))
        return 0
    counts = store_mod.summary(args.log)
    print(f"runs: {counts['reference']} read from the reference, {counts['local']} from the local store, "
          f"{counts['computed']} computed")
    return 0

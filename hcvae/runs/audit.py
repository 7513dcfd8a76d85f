"""Keeping the store honest: the audit, the lock and the migration of entries made before versioned keys.

* :func:`audit` recomputes a sample of stored entries per kind and compares every
  stored number (metrics, histories, tables; not timings or provenance) under the
  determinism policy of :mod:`hcvae.runs.agreement`: bit for bit when the entry was
  computed on the same kernels as the recomputation, within the seed spread of its
  kind when not. Each row names the rule that applied, the entry and the first
  numbers that moved.
* :func:`check_lock` compares each kind's ``VERSION`` and code closure with
  ``hcvae/store.lock.json``; :func:`write_lock` re-locks a kind, which is allowed
  after a ``VERSION`` bump, or after the audit of that kind passed.
* ``python -m hcvae.store migrate`` re-keys the entries of a store filled before versioned keys
  (:mod:`hcvae.runs.migrate`).

The audit sample that ``make test`` recomputes lives in ``tests/audit/``: a few
of the cheapest ``quick``-profile entries per kind, in the reference's format.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from hcvae.runs import agreement
from hcvae.runs import store as store_mod
from hcvae.runs.agreement import numbers_in  # noqa: F401 (the audit's view of an entry, used by the reference diff)
from hcvae.runs import kernels
from hcvae.runs.closure import closure
from hcvae.runs.kinds import KINDS
from hcvae.runs.layout import Reference, ReferenceFolder
from hcvae.core.train import progress_enabled
from hcvae.runs.barrier_runs import BarrierConfig
from hcvae.runs.baselines import BaselineConfig
from hcvae.runs.diffusion import DiffusionChapterConfig
from hcvae.runs.experiments import VAEConfig
from hcvae.runs.gmm_runs import GMMFitsConfig
from hcvae.runs.hct import HCTConfig
from hcvae.runs.migrate import migrate
from hcvae.runs.region_runs import RegionConfig
from hcvae.runs.runner import compute_entry, run
from hcvae.runs.spherical_runs import SphericalConfig

AUDIT_SAMPLE_DIR = store_mod.ROOT / "tests" / "audit"
RULES = ("auto", *agreement.RULES)  # auto: exact on the same kernels, the cross-machine rule otherwise


def compare(stored: dict, recomputed: dict, rule: str = "auto", spread: dict | None = None) -> dict:
    """``{"rule", "max_rel": largest relative change, "mismatches": [(path, stored, recomputed), ...]}`` under
    ``rule`` (``auto``: the one the two entries' kernels call for)."""
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; allowed values: {', '.join(RULES)}")
    if rule == "exact":
        return agreement.compare_exact(stored, recomputed)
    if rule == "cross-machine":
        return agreement.compare_cross(stored, recomputed, spread)
    return agreement.compare(stored, recomputed, spread)


def _source_entries(source: Path):
    """``(key, result)`` of a store folder (``<key>/result.json``) or a reference folder (``<key>.json.gz``)."""
    folder = ReferenceFolder(source)
    if folder.keys():
        yield from folder.entries()
    else:
        yield from store_mod.ResultStore(source, reference=None).entries()


def _stored_arrays(source: Path, key: str) -> dict:
    """The arrays stored beside entry ``key`` of a reference folder (``<key>.npz``) or a store (``<key>/arrays.npz``)."""
    shipped = ReferenceFolder(source).read_arrays(key)
    if shipped is not None:
        return shipped
    local = Path(source) / key / "arrays.npz"
    return store_mod.read_npz(local) if local.exists() else {}


def _wall_time(result: dict) -> float:
    prov = result.get("provenance") or {}
    return float(prov.get("wall_time_s") or result.get("wall_time_s") or math.inf)


@dataclass
class AuditReport:
    rows: list = field(default_factory=list)  # per entry: kind, key, rule, max_rel, mismatches, seconds

    @property
    def ok(self) -> bool:
        return all(not r["mismatches"] for r in self.rows)

    def kinds(self) -> set:
        return {r["kind"] for r in self.rows}

    def lines(self) -> list[str]:
        out = []
        for r in self.rows:
            status = "ok" if not r["mismatches"] else "MISMATCH"
            out.append(f"{status:8s} {r['key']}  {r['rule']} rule, largest relative change {r['max_rel']:.2e}  "
                       f"({r['seconds']:.1f} s)")
            for path, x, y in r["mismatches"][:5]:
                out.append(f"         {path}: stored {x!r}, recomputed {y!r}")
            if len(r["mismatches"]) > 5:
                out.append(f"         ... and {len(r['mismatches']) - 5} more")
        return out


def audit(sources=(AUDIT_SAMPLE_DIR,), kinds=None, sample: int = 2, rule: str = "auto",
          progress: bool | None = None) -> AuditReport:
    """Recompute the ``sample`` cheapest entries per kind (of the current ``VERSION``) found in ``sources`` and
    compare each under ``rule`` (:data:`RULES`; ``auto``: exact when the entry's provenance names this process's
    kernels, the cross-machine rule of :mod:`hcvae.runs.agreement` otherwise).

    Entries of another ``VERSION`` are skipped: their kind's code says it no longer computes them.
    """
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; allowed values: {', '.join(RULES)}")

    kinds = tuple(kinds or KINDS)
    for k in kinds:
        store_mod.kind_class(k)  # unknown kinds fail before any work
    candidates: dict[str, dict] = {k: {} for k in kinds}
    origin: dict = {}
    for source in sources:
        for key, result in _source_entries(source):
            kind = (result.get("config") or {}).get("kind")
            if kind in candidates and result.get("version") == store_mod.kind_class(kind).VERSION:
                candidates[kind].setdefault(key, result)
                origin.setdefault(key, Path(source))
    report = AuditReport()
    for kind in kinds:
        chosen = sorted(candidates[kind].items(), key=lambda kv: (_wall_time(kv[1]), kv[0]))[:sample]
        for key, stored in chosen:
            config = store_mod.config_from_dict(stored["config"])
            start = time.perf_counter()
            # runs the entry needs (HCT's collapsed reference VAE) are recomputed too, in a scratch store: read
            # from a store they would not be audited, and they must not land in the user's results/
            with tempfile.TemporaryDirectory() as tmp:
                fresh, _, fresh_arrays = compute_entry(config, store=store_mod.ResultStore(tmp, reference=None),
                                                       progress=progress)
            fresh["provenance"] = store_mod.provenance(config, None, threads=1)  # the kernels it recomputed on
            cmp = compare(stored, fresh, rule)
            if stored.get("has_arrays"):
                cmp["mismatches"] += agreement.compare_arrays(_stored_arrays(origin[key], key), fresh_arrays or {},
                                                              cmp["rule"])
            report.rows.append({"kind": kind, "key": key, "rule": cmp["rule"], "max_rel": cmp["max_rel"],
                                "mismatches": cmp["mismatches"], "seconds": time.perf_counter() - start,
                                "stored_kernels": kernels.describe(stored.get("provenance") or {}),
                                "kernels": kernels.describe(fresh["provenance"])})
    return report


# ---- the lock ------------------------------------------------------------------------------------------------


def current_lock() -> dict:
    """What the lock file would hold for the code as it is: per kind, its VERSION and closure."""
    out = {}
    for kind, cls in KINDS.items():
        spec = f"{cls.__module__}:{cls.__name__}"
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
                    f"{KINDS[kind].__name__}.VERSION is still {cur['version']}. If behaviour "
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
    """One entry in the reference's format (:class:`hcvae.runs.layout.ReferenceFolder`); returns the JSON file."""
    return ReferenceFolder(folder).write(key, result, arrays)


def audit_sample_configs() -> list:
    """The audit sample: one of the cheapest ``quick``-profile runs of each kind (the Gaussian VAE under both
    trainers); the diffusion chapter's run shrunk further (fewer samples, steps and epochs; every model kept),
    since its quick run alone would cost half the audit; chapters 02 and 03's EM and K-means fits on a few hundred
    digits, and the EM fits HCT and chapter 02 share, on the same rows."""

    return [VAEConfig.from_profile("quick", "synthetic", sigma2_ratio=2.0, trainer="single"),
            VAEConfig.from_profile("quick", "synthetic", sigma2_ratio=2.0, trainer="stacked"),
            HCTConfig.from_profile("quick", "digits", sigma2_ratio=2.0),
            SphericalConfig.from_profile("quick", "synthetic"),
            BaselineConfig.from_profile("quick", "synthetic", method="vanilla"),
            DiffusionChapterConfig.from_profile("quick", "digits", n_samples=800, T=200, epochs_per_round=4,
                                                n_generated=100, gain_points=50, gain_grid=10),
            BarrierConfig(dataset="digits", n_samples=400, n_components=10, r0=4),
            RegionConfig(dataset="digits", n_samples=400, k=10, probes=True),
            GMMFitsConfig(dataset="digits", n_samples=400, n_components=10, r0=4)]


def build_audit_sample(folder: Path = AUDIT_SAMPLE_DIR, progress: bool | None = None) -> list[Path]:
    """(Re)write the audit sample from :func:`audit_sample_configs` with the code as it is."""
    return [add_to_audit_sample(c, folder, progress) for c in audit_sample_configs()]


def add_to_audit_sample(config, folder: Path = AUDIT_SAMPLE_DIR, progress: bool | None = None) -> Path:
    """Compute ``config`` (in a scratch store) and write its entry into the audit sample."""
    import tempfile


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
            ReferenceFolder(folder).remove(key)
            add_to_audit_sample(store_mod.config_from_dict(result["config"]), folder, progress)
            n += 1
    return n


# ---- the seed spread and kernel notes ------------------------------------------------------------------------


def seed_siblings(seeds: int = 5, progress: bool | None = None) -> list[dict]:
    """The audit sample's configs that have a seed, computed under seeds ``0 .. seeds-1`` (in a scratch store): the
    seed spread of exactly the runs the audit recomputes."""
    import dataclasses



    siblings = [dataclasses.replace(config, seed=seed) for config in audit_sample_configs()
                if "seed" in {f.name for f in dataclasses.fields(config)} for seed in range(seeds)]
    if progress_enabled(progress):
        from tqdm.auto import tqdm

        siblings = tqdm(siblings, desc="seed siblings", unit="run")
    out = []
    for sibling in siblings:
        with tempfile.TemporaryDirectory() as tmp:
            result, _, _ = compute_entry(sibling, store=store_mod.ResultStore(tmp, reference=None), progress=False)
        out.append({**result, "config": store_mod.config_dict(sibling)})
    return out


def write_spread(seeds: int = 5, reference: Path = store_mod.REFERENCE_DIR, progress: bool | None = None) -> dict:
    """Measure the seed spread (:func:`hcvae.runs.agreement.seed_spread`) over the shipped reference (both
    profiles) and the audit sample's seed siblings, and write it to ``hcvae/runs/seed_spread.json``."""
    results = [r for layer in Reference(reference).layers() for _, r in layer.entries()]
    siblings = seed_siblings(seeds, progress)
    table = {**agreement.seed_spread(results + siblings),
             "sources": {"reference_entries": len(results), "audit_sample_seed_siblings": len(siblings),
                         "seed_groups": len(agreement.seed_groups(results + siblings)),
                         "statistic": "90th percentile over seed groups of sd across seeds / mean magnitude"},
             "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    text = json.dumps(table, indent=1, sort_keys=True) + "\n"
    store_mod.atomic_write(agreement.SPREAD_FILE, lambda f: f.write(text.encode()))
    return table


def note_unrecorded_kernels(folder: Path) -> int:
    """Write :data:`hcvae.runs.kernels.UNRECORDED` into the provenance of every entry of a reference folder that
    records no kernels (nothing is recomputed); returns how many were noted."""
    n = 0
    for key, result in list(store_mod.reference_entries(folder)):
        prov = result.get("provenance") or {}
        if "kernels" in prov:
            continue
        result["provenance"] = {**prov, "kernels": kernels.UNRECORDED}
        write_reference_entry(folder, key, result)
        n += 1
    return n


def main(argv=None) -> int:
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m hcvae.store", description="Audit, lock and migrate the result store.")
    sub = parser.add_subparsers(dest="command", required=True)
    a = sub.add_parser("audit", help="recompute a sample of stored entries per kind and compare every number")
    a.add_argument("--kind", action="append", choices=list(KINDS))
    a.add_argument("--sample", type=int, default=2, help="entries per kind (the cheapest first; default 2)")
    a.add_argument("--root", action="append", help="a store or reference folder (default: tests/audit)")
    a.add_argument("--rule", default="auto", choices=RULES,
                   help="auto (default): exact on the entry's own kernels, the seed-spread rule on others")
    lk = sub.add_parser("lock", help="re-lock kinds after a VERSION bump, or after their audit passes")
    lk.add_argument("--kind", action="append", choices=list(KINDS))
    sub.add_parser("check", help="does the lock match the code?")
    sub.add_parser("sample", help="rewrite the audit sample (tests/audit) with the code as it is")
    sp = sub.add_parser("spread", help="measure each kind's seed spread (the cross-machine rule's tolerances)")
    sp.add_argument("--seeds", type=int, default=5, help="seeds of each audit-sample config (default 5)")
    nk = sub.add_parser("note-kernels", help="note in entries made before kernel provenance that it is unknown")
    nk.add_argument("--root", action="append", required=True, help="a reference folder (<key>.json.gz files)")
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
        report = audit(sources, kinds=args.kind, sample=args.sample, rule=args.rule)
        print(f"recomputing on: {kernels.describe({'kernels': kernels.kernel_provenance()})}")
        print("\n".join(report.lines()))
        rules = {r: sum(row["rule"] == r for row in report.rows) for r in agreement.RULES}
        print(f"audit: {len(report.rows)} entries of {len(report.kinds())} kinds, "
              f"{sum(1 for r in report.rows if r['mismatches'])} mismatched ("
              + ", ".join(f"{n} under the {r} rule" for r, n in rules.items() if n) + ")")
        return 0 if report.ok and report.rows else 1
    if args.command == "spread":
        if args.seeds < 2:
            parser.error("--seeds must be >= 2")
        table = write_spread(seeds=args.seeds, progress=True)
        print(f"wrote {agreement.SPREAD_FILE}: " + ", ".join(
            f"{k} {agreement.nonzero_spread(table, k)} quantities" for k in table["kinds"]))
        return 0
    if args.command == "note-kernels":
        for root in args.root:
            if not Path(root).is_dir():
                parser.error(f"--root {root} is not a folder")
            print(f"{root}: noted {note_unrecorded_kernels(Path(root))} entries")
        return 0
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

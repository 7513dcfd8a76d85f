"""The shipped reference: every ``paper``-profile result the book renders, recorded chapter by chapter.

``book/reference/`` holds one ``<key>.json.gz`` per result (and ``<key>.npz`` where a
chapter renders arrays), read-only beneath the local store (:mod:`hcvae.runs.store`), and
``manifest.json``: per chapter, the keys its ``paper`` build requested, a fingerprint of
the inputs that decide those requests, when it was recorded and what it cost.

Command line::

    python -m hcvae.reference record 04        # run chapter 04 in the paper profile (computing what is missing),
                                               # then copy what it requested into the reference
    python -m hcvae.reference coverage         # is every requested key shipped, and every fingerprint current?
    python -m hcvae.reference reproduce        # recompute every reference run, ignoring the reference (Dask);
                                               # --chapter 02 for one chapter's runs (diff takes --chapter too)
    python -m hcvae.reference diff             # compare that recomputation with the reference
    python -m hcvae.reference info             # size, entries, compute time
    python -m hcvae.reference export runs.csv  # every shipped run as one tidy table (config columns, final metrics)
    python -m hcvae.reference record --profile quick 01 02 ...
                                               # the same for the quick profile, into book/reference/quick/
                                               # (what `make test`'s book build reads instead of training)

A chapter's fingerprint hashes its code cells (syntax trees: prose, comments and layout
do not count), the ``paper`` profile's settings and grid files, and the modules of the
runs and chapters layers it reaches (configs, profiles, the functions that list configs;
for the report, the ledger): what decides which runs it asks for. A change of the
numerics bumps a kind's VERSION instead (the lock test), which moves its keys. When it moves, the
chapter may request runs the reference lacks, and ``coverage`` says which chapter to
record again (recording reads everything already shipped, so it costs minutes unless
new runs are needed).
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from hcvae.runs.kinds import KINDS
from hcvae.runs.layout import Reference, ReferenceFolder
from hcvae.book.notebook import execute
from hcvae.core import device, image_data
from hcvae.runs import agreement, kernels, profiles, store as store_mod
from hcvae.runs.agreement import numbers_in
from hcvae.runs.closure import imports_of, module_hash, module_path
from hcvae.runs.sweep import run_sweep

ROOT = store_mod.ROOT
REFERENCE_DIR = store_mod.REFERENCE_DIR
MANIFEST = "manifest.json"
DIFF_FILE = "diff.json"
# what the reference may not exceed, compressed (the size is checked by the tests)
MAX_BYTES = 40 * 2**20
# the profiles a reference is recorded for ("paper": the book; "quick": the book `make test` builds)
PROFILES = ("paper", "quick")
# modules that only draw or present: editing them never changes which runs a chapter requests
# The code that decides WHICH runs a chapter asks for: the configs and their defaults, the profiles, the chapter
# modules that list configs, and the ledger (for the report). Numerics (core, methods) change what a run computes,
# which bumps its kind's VERSION (the lock test) and so its key; figures and explorers change nothing stored.
_DECIDES = ("hcvae.runs.", "hcvae.chapters.", "hcvae.book.claims")
_NOT_DECIDING = {"hcvae.runs.store", "hcvae.runs.closure", "hcvae.runs.audit", "hcvae.runs.sweep"}


def chapters() -> dict[str, Path]:
    """Chapter id -> source: ``01`` ... for ``notebooks/NN-*.md``, ``report`` for the reproduction report."""
    out = {p.name[:2]: p for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.md"))}
    out["report"] = ROOT / "book" / "reproduction-report.md"
    return out


def chapter_path(chapter: str) -> Path:
    known = chapters()
    matches = [c for c in known if c == chapter or known[c].stem == chapter or known[c].stem.startswith(chapter)]
    if len(matches) != 1:
        raise ValueError(f"unknown chapter {chapter!r}; allowed values: {', '.join(known)}")
    return known[matches[0]]


def chapter_id(chapter: str) -> str:
    path = chapter_path(chapter)
    return "report" if path.name == "reproduction-report.md" else path.name[:2]


# ---- fingerprints ----------------------------------------------------------------------------------------------


def _code_cells(path: Path) -> list[str]:
    import jupytext

    nb = jupytext.read(path)
    out = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        try:
            out.append(ast.dump(ast.parse(source), annotate_fields=False, include_attributes=False))
        except SyntaxError:
            out.append(cell.source)
    return out


def _imported_modules(cells: list[str], path: Path) -> set[str]:
    import jupytext

    found = set()
    for cell in jupytext.read(path).cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse("\n".join(l for l in cell.source.splitlines() if not l.lstrip().startswith(("%", "!"))))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("hcvae"))
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hcvae"):
                found.add(node.module)
                found.update(f"{node.module}.{a.name}" for a in node.names)
    return {m for m in found if m != "hcvae" and store_mod_path(m)}


def store_mod_path(name: str) -> bool:

    return module_path(name) is not None


def _deciding_modules(start: str) -> dict:
    """The modules of ``start``'s import closure that decide which runs are requested, with their hashes. The walk
    goes through deciding modules only: a presentation module (widgets, plots, the parameter table of every
    chapter) decides no run, so what it imports does not couple one chapter's fingerprint to another's modules."""

    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name not in seen and name not in _NOT_DECIDING and name.startswith(_DECIDES):
            seen.add(name)
            todo.extend(imports_of(name))
    return {m: module_hash(m) for m in sorted(seen) if m.startswith(_DECIDES)}


def _profile_settings(profile: str) -> str:

    return repr(profiles.profile_settings(profile))


def profile_reference(profile: str, reference: Path = REFERENCE_DIR) -> Path:
    """Where ``profile``'s results ship: the paper profile's at the top of ``reference``, the quick one's below."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; allowed values: {', '.join(PROFILES)}")
    return Reference(reference).profile(profile).path


def fingerprint(chapter: str, profile: str = "paper") -> str:
    """A hash of what decides the runs ``chapter`` requests in ``profile`` (module docstring)."""
    path = chapter_path(chapter)
    cells = _code_cells(path)
    modules: dict = {}
    for m in sorted(_imported_modules(cells, path)):
        modules.update(_deciding_modules(m))
    grids = sorted((p.name, p.read_text()) for p in (ROOT / "notebooks" / "grids" / profile).glob("*.toml"))
    settings = _profile_settings(profile)
    payload = json.dumps({"cells": cells, "modules": modules, "settings": settings, "grids": grids},
                         sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


# ---- the manifest ----------------------------------------------------------------------------------------------


def read_manifest(reference: Path = REFERENCE_DIR) -> dict:
    path = Path(reference) / MANIFEST
    return json.loads(path.read_text()) if path.exists() else {}


def _write_json(path: Path, data) -> None:
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    store_mod.atomic_write(Path(path), lambda f: f.write(text.encode()))


def execute_chapter(chapter: str, profile: str, log: Path, output_dir: Path, env_extra: dict | None = None) -> Path:
    """Execute ``chapter`` in ``profile`` in a fresh kernel, logging every run request to ``log``."""

    env = {"HCVAE_RUN_LOG": str(log), "HCVAE_PROFILE": profile, **(env_extra or {})}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return execute(chapter_path(chapter), {"profile": profile}, Path(output_dir))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _logged(log: Path) -> list[dict]:
    rows = []
    if Path(log).exists():
        for line in Path(log).read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
    return rows


def export(keys, store: store_mod.ResultStore, reference: Path = REFERENCE_DIR) -> int:
    """Copy the entries ``keys`` from the local store into the reference (JSON gzipped, arrays beside, and arrays
    derived from their weights, e.g. ``<key>.views-v1.npz``); returns how many entries were new."""
    import shutil

    shipped = ReferenceFolder(reference)
    shipped.path.mkdir(parents=True, exist_ok=True)
    new = 0
    for key in keys:
        folder = store.root / key
        for derived in sorted(folder.glob("*.npz")) if folder.exists() else []:  # e.g. a decoder's views
            name = derived.name.removesuffix(".npz")
            if name != "arrays" and not shipped.derived_file(key, name).exists():
                shutil.copyfile(derived, shipped.derived_file(key, name))
        if shipped.has(key):
            continue
        result = json.loads((folder / "result.json").read_text())
        arrays = store_mod.read_npz(folder / "arrays.npz") if (folder / "arrays.npz").exists() else None
        shipped.write(key, result, arrays)
        new += 1
    return new


def record(chapter: str, reference: Path = REFERENCE_DIR, output_dir: Path | None = None,
           profile: str = "paper") -> dict:
    """Run ``chapter`` in ``profile``, then ship what it requested; returns its manifest row."""
    cid = chapter_id(chapter)
    reference = profile_reference(profile, reference)
    store = store_mod.ResultStore()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "runs.log"
        execute_chapter(cid, profile, log, Path(output_dir or ROOT / "runs"))
        rows = [r for r in _logged(log) if not r.get("nested")]
    keys = sorted({r["key"] for r in rows})
    new = export([r["key"] for r in rows if r["source"] in ("local", "computed")], store, reference)
    new += _copy_from_other_layer(keys, reference)
    entries = {k: ReferenceFolder(reference).read(k) for k in keys}
    fits = local_fits(entries.values(), store)
    new += export(fits, store, reference)
    manifest = read_manifest(reference)
    manifest[cid] = {
        "keys": keys, "fingerprint": fingerprint(cid, profile), "recorded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "compute_s": sum(float((e.get("provenance") or {}).get("wall_time_s") or 0.0) for e in entries.values()),
        "record_wall_s": time.perf_counter() - start, "computed": sum(r["source"] == "computed" for r in rows),
        "fits": sorted(set(fits) | set((manifest.get(cid) or {}).get("fits", []))),
    }
    _write_json(Path(reference) / MANIFEST, manifest)
    manifest[cid]["new"] = new
    return manifest[cid]


def local_fits(entries, store: store_mod.ResultStore) -> list[str]:
    """The keys of the EM fits (a config's ``fits_config()``) that the requested ``entries`` were trained from and
    that the local ``store`` holds. They ship beside the runs although the book never reads them: a new seed or
    reading of an HCT run then starts from them instead of refitting (about an hour for MNIST's R0 = 16 fits)."""
    keys = []
    for entry in entries:
        config = store_mod.config_from_dict(entry["config"])
        fits = config.fits_config() if callable(getattr(config, "fits_config", None)) else None
        if fits is not None and (store.folder(fits) / "result.json").exists():
            keys.append(store_mod.config_key(fits))
    return sorted(set(keys))


def _copy_from_other_layer(keys, reference: Path) -> int:
    """Copy into ``reference`` the entries it lacks that the other profile's layer ships (a config both profiles
    request, read from there while recording), so each profile's folder is complete on its own."""
    import shutil

    target, copied = ReferenceFolder(reference), 0
    for key in keys:
        if target.has(key):
            continue
        layer = Reference(REFERENCE_DIR).find(key)
        if layer is not None:
            for path in layer.files(key):  # the JSON, its arrays and what was derived from its weights
                shutil.copyfile(path, target.path / path.name)
            copied += 1
    return copied


def coverage(reference: Path = REFERENCE_DIR) -> list[str]:
    """Problems that would make a fresh ``make book`` compute: unrecorded chapters, stale fingerprints, keys the
    reference misses (named), unreadable files. Empty when the reference covers the paper book."""
    manifest = read_manifest(reference)
    problems = []
    for cid in chapters():
        row = manifest.get(cid)
        if row is None:
            problems.append(f"chapter {cid} has no reference: run `python -m hcvae.reference record {cid}`")
            continue
        if row["fingerprint"] != fingerprint(cid):
            problems.append(f"chapter {cid}: what decides its paper-profile runs changed since its reference was "
                            f"recorded (code cells, profile settings, grids or the code it imports); run `python -m "
                            f"hcvae.reference record {cid}` (it reads what is shipped and computes only what is new)")
        missing = [k for k in row["keys"] if not ReferenceFolder(reference).has(k)]
        if missing:
            problems.append(f"chapter {cid}: {len(missing)} requested run(s) not in the reference: {', '.join(missing[:10])}"
                            + (" ..." if len(missing) > 10 else ""))
    return problems


def info(reference: Path = REFERENCE_DIR) -> dict:
    """Size, entry count, compute time and provenance of the reference (for the "How this book was computed" page)."""
    folder = ReferenceFolder(reference)
    manifest = read_manifest(reference)
    entries = [result for _, result in folder.entries()]
    provs = [e.get("provenance") or {} for e in entries]
    libs = sorted({json.dumps(p.get("libraries"), sort_keys=True) for p in provs if p.get("libraries")})
    created = sorted(p["created"] for p in provs if p.get("created"))
    return {
        "n_entries": len(entries),
        "bytes": sum(p.stat().st_size for p in folder.path.glob("*") if p.name.endswith((".json.gz", ".npz"))),
        "compute_s": sum(float(p.get("wall_time_s") or 0.0) for p in provs),
        "by_kind": {k: sum(1 for e in entries if e["config"]["kind"] == k) for k in KINDS},
        "chapters": {c: {"n": len(r["keys"]), "compute_s": r["compute_s"], "recorded": r["recorded"],
                         "record_wall_s": r.get("record_wall_s")} for c, r in sorted(manifest.items())},
        "machines": sorted({f"{p.get('machine')}, {p.get('cpu_count')} CPUs" for p in provs if p.get("machine")}),
        "libraries": [json.loads(x) for x in libs],
        "commits": sorted({p["commit"][:10] for p in provs if p.get("commit")}),
        "first": created[0] if created else None, "last": created[-1] if created else None,
    }


# ---- make reproduce and the diff -------------------------------------------------------------------------------


def reference_configs(reference: Path = REFERENCE_DIR, only=None) -> list:
    """The configs of every result the manifest lists (of chapters ``only``, default all), in chapter order, without
    repeats."""
    manifest, seen, out = read_manifest(reference), set(), []
    for cid in (chapters() if only is None else [chapter_id(c) for c in only]):
        for key in manifest.get(cid, {}).get("keys", []):
            if key not in seen:
                seen.add(key)
                out.append(store_mod.config_from_dict(ReferenceFolder(reference).read(key)["config"]))
    return out


def check_image_data(configs) -> None:
    """Before any work: every image data set the ``configs`` train on is prepared here, else a FileNotFoundError
    whose one line names it and the ``make data`` command (recomputing ignores the reference, so its runs need
    the files)."""
    needed = dict.fromkeys(getattr(c, "dataset", None) for c in configs)
    for name in needed:
        if name in image_data.NAMES and not image_data.available(name):
            raise FileNotFoundError(image_data.missing_message(name))


def reproduce(scheduler: str | None = None, n_workers: int | None = None, reference: Path = REFERENCE_DIR,
              on: str | None = None, only=None):
    """Recompute every reference run (of chapters ``only``, default all) into the local store, ignoring the
    reference (resumable: stored points are read, not recomputed), on a local Dask cluster or ``scheduler``."""

    configs = reference_configs(reference, only)
    check_image_data(configs)
    store = store_mod.ResultStore(reference=None)
    return run_sweep(configs, store=store, scheduler=scheduler, n_workers=n_workers, progress=True, on=on)


def _ledger_rows(env: dict) -> list[dict]:
    """The ledger in the paper profile, measured in a fresh process with ``env`` (which store it reads)."""
    import subprocess

    code = ("import json; from hcvae.book import claims; "
            "print(json.dumps([{k: r[k] for k in ('id', 'verdict', 'measured', 'margins')} for r in claims.ledger('paper')]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env, "HCVAE_NO_COMPUTE": "1", "HCVAE_PROGRESS": "0"}, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"measuring the ledger failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def diff(root: Path | None = None, reference: Path = REFERENCE_DIR, with_ledger: bool = True, only=None) -> dict:
    """Compare the recomputed entries under ``root`` (default: the local store) with the reference.

    First, whether they were computed on the reference's kernels (:mod:`hcvae.runs.kernels`): on other kernels
    every trained number is expected to move, within the seed spread (:mod:`hcvae.runs.agreement`). Then, per
    kind, how far the final measurements moved against that spread, how many entries agree under the policy's
    rule, and per metric the largest relative change; last, per claim, the reference verdict beside the new one,
    which is the pass/fail criterion (of chapters ``only``, default all)."""

    root = Path(root) if root is not None else store_mod.default_root()
    manifest = read_manifest(reference)
    chosen = manifest if only is None else {chapter_id(c): manifest.get(chapter_id(c), {"keys": []}) for c in only}
    keys = sorted({k for row in chosen.values() for k in row["keys"]})
    spread = agreement.load_spread()
    per_metric: dict[str, float] = {}
    by_kind: dict[str, dict] = {}
    machines = {"reference": set(), "recomputed": set()}
    compared, missing, same_kernels = 0, [], 0
    kl_changes = []  # final KLs above collapse: what hcvae.chapters.rules.CROSS_MACHINE_RTOL must cover
    for key in keys:
        local = root / key / "result.json"
        if not local.exists():
            missing.append(key)
            continue
        ref = ReferenceFolder(reference).read(key)
        new = json.loads(local.read_text())
        if (new.get("provenance") or {}).get("migrated_from") is None and new.get("provenance") == ref.get("provenance"):
            continue  # the same computation (a copy of the reference), not a recomputation
        compared += 1
        rp, np_ = ref.get("provenance") or {}, new.get("provenance") or {}
        machines["reference"].add(kernels.describe(rp))
        machines["recomputed"].add(kernels.describe(np_))
        same = kernels.same_kernels(rp, np_)
        same_kernels += same
        verdict = agreement.compare_exact(ref, new) if same else agreement.compare_cross(ref, new, spread)
        kind = (ref.get("config") or {}).get("kind", "?")
        k = by_kind.setdefault(kind, {"entries": 0, "agree": 0, "measurements": 0, "moved": 0, "rel": [],
                                      "in_spread": []})
        k["entries"] += 1
        k["agree"] += not verdict["mismatches"]
        for path, x, y in _metric_changes(ref, new):
            per_metric[path.split("[")[0]] = max(per_metric.get(path.split("[")[0], 0.0), _rel(x, y))
        for path, x, y, s_ in agreement.final_changes(ref, new, spread):
            k["measurements"] += 1
            if (path == "metrics.kl" or path.endswith(".kl") and "stage_end" in path) and max(abs(x), abs(y)) >= 0.005:
                kl_changes.append(_rel(x, y))
            if x != y:
                k["moved"] += 1
                k["rel"].append(_rel(x, y))
                if s_ > 0 and max(abs(x), abs(y)) >= agreement.ATOL:
                    k["in_spread"].append(abs(x - y) / (s_ * max(abs(x), abs(y))))
    for k in by_kind.values():
        rel, z = sorted(k.pop("rel")), sorted(k.pop("in_spread"))
        k["relative_change"] = _quantiles(rel)
        k["in_seed_spreads"] = _quantiles(z)  # |change| in units of the seed spread (sd across seeds)
    out = {"compared": compared, "missing": len(missing), "metrics": dict(sorted(per_metric.items())),
           "chapters": sorted(chosen), "same_kernels": same_kernels,
           "kernels": {side: sorted(v) for side, v in machines.items()}, "by_kind": dict(sorted(by_kind.items())),
           "final_kl_relative_change": _quantiles(sorted(kl_changes)),
           "largest": max(per_metric.items(), key=lambda kv: kv[1]) if per_metric else None,
           "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if with_ledger and compared:
        old = {r["id"]: r for r in _ledger_rows({"HCVAE_RESULTS": tempfile.mkdtemp(), "HCVAE_REFERENCE": str(reference)})}
        # the recomputed runs first; a run not recomputed (a partial reproduction) is read from the reference
        new = {r["id"]: r for r in _ledger_rows({"HCVAE_RESULTS": str(root), "HCVAE_REFERENCE": str(reference)})}
        out["claims"] = [{"id": cid, "reference": old[cid]["verdict"], "recomputed": new[cid]["verdict"],
                          "flipped": old[cid]["verdict"] != new[cid]["verdict"],
                          "at_threshold": bool(old[cid].get("margins") or new[cid].get("margins"))}
                         for cid in old if cid in new]
        out["flipped"] = sum(c["flipped"] for c in out["claims"])
    return out


def _quantiles(values: list) -> dict:
    """Median, 95th percentile and maximum of ``values`` (sorted), or Nones."""
    if not values:
        return {"n": 0, "median": None, "p95": None, "max": None}
    return {"n": len(values), "median": values[len(values) // 2], "p95": values[min(len(values) - 1,
                                                                                    int(0.95 * len(values)))],
            "max": values[-1]}


# an entry's bookkeeping: what identifies or times a run, not what it measured
_NOT_MEASURED = ("provenance", "wall_time_s", "config", "key", "version", "has_weights", "has_arrays")


def _metric_changes(ref: dict, new: dict):
    """(path, reference value, recomputed value) for every number the entry measured (any depth; every kind keeps
    its numbers under its own names: ``metrics`` for a VAE, ``reports`` and ``real`` for the diffusion chapter...)."""

    a = {p: v for p, v in numbers_in(ref) if p.split(".")[0].split("[")[0] not in _NOT_MEASURED
         and not p.endswith(".__len__")}
    b = dict(numbers_in(new))
    for path, x in a.items():
        y = b.get(path)
        if isinstance(x, float) and isinstance(y, float):
            yield path, x, y


def _rel(x: float, y: float) -> float:
    import math

    if math.isnan(x) and math.isnan(y):
        return 0.0
    return abs(x - y) / max(abs(x), 1e-12)


def diff_lines(out: dict) -> list[str]:
    """What ``diff`` prints: the kernels first, then per kind the agreement and the spread of changes, then claims."""
    lines = [f"compared {out['compared']} recomputed runs with the reference ({out['missing']} not recomputed)"]
    if out["compared"] and out["same_kernels"] < out["compared"]:
        lines.append(f"{out['compared'] - out['same_kernels']} of them were recomputed on other kernels than the "
                     "reference's: every trained number is expected to move in its last digits, amplified by "
                     "training; they are judged by the cross-machine rule (final measurements within twice the "
                     "seed spread of their kind)")
        lines += [f"  reference:  {k}" for k in out["kernels"]["reference"]]
        lines += [f"  recomputed: {k}" for k in out["kernels"]["recomputed"]]
    for kind, k in out.get("by_kind", {}).items():
        rel, z = k["relative_change"], k["in_seed_spreads"]
        text = (f"{kind}: {k['agree']} of {k['entries']} entries agree under the policy's rule; {k['moved']} of "
                f"{k['measurements']} final measurements moved")
        if rel["n"]:
            text += f" (relative change: median {rel['median']:.2g}, 95th percentile {rel['p95']:.2g}, max {rel['max']:.2g}"
            text += (f"; in seed spreads: median {z['median']:.2g}, 95th percentile {z['p95']:.2g}, max {z['max']:.2g})"
                     if z["n"] else ")")
        lines.append(text)
    if out["largest"] and out["largest"][1] == 0:
        lines.append(f"every one of {len(out['metrics'])} measured quantities is identical")
    elif out["largest"]:
        lines.append(f"largest relative change: {out['largest'][1]:.3g} in {out['largest'][0]}")
    for c in out.get("claims", []):
        mark = " (at the threshold: within the cross-machine spread)" if c.get("at_threshold") else ""
        lines.append(f"{'FLIPPED' if c['flipped'] else 'same   '} {c['id']}: {c['reference']} -> {c['recomputed']}{mark}")
    return lines


def export_rows(reference: Path = REFERENCE_DIR, profile: str = "paper") -> list[dict]:
    """The shipped runs of ``profile`` as tidy rows: the key and kind, every config field (``config.*``), every
    scalar final metric (``metrics.*``), and the run's wall time and date (one row per run; a field a kind lacks
    is empty)."""
    rows = []
    for key, entry in Reference(reference).profile(profile).entries():
        config = entry.get("config") or {}
        prov = entry.get("provenance") or {}
        row = {"key": key, "kind": config.get("kind"), "version": entry.get("version")}
        row.update({f"config.{k}": v if not isinstance(v, (list, dict)) else json.dumps(v)
                    for k, v in config.items() if k != "kind"})
        row.update({f"metrics.{k}": v for k, v in (entry.get("metrics") or {}).items()
                    if isinstance(v, (int, float)) and not isinstance(v, bool)})
        row.update({"wall_time_s": prov.get("wall_time_s"), "created": prov.get("created")})
        rows.append(row)
    return rows


def export_csv(path: Path, reference: Path = REFERENCE_DIR, profile: str = "paper") -> int:
    """Write :func:`export_rows` to ``path`` as CSV (columns: key, kind, version, the config fields, the metrics,
    wall time, date); returns the number of runs."""
    import csv

    rows = export_rows(reference, profile)
    fixed = ["key", "kind", "version"]
    columns = fixed + sorted({c for r in rows for c in r if c.startswith("config.")}) \
        + sorted({c for r in rows for c in r if c.startswith("metrics.")}) + ["wall_time_s", "created"]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    store_mod.atomic_write(Path(path), lambda f: f.write(text.getvalue().encode()))
    return len(rows)


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m hcvae.reference", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("record", help="run a chapter in the paper profile and ship what it requested")
    r.add_argument("chapter", nargs="+", help=f"chapter ids: {', '.join(chapters())}")
    r.add_argument("--profile", default="paper", choices=PROFILES,
                   help="paper (default: book/reference) or quick (book/reference/quick, read by make test)")
    sub.add_parser("coverage", help="does the reference cover every chapter's paper-profile runs?")
    rep = sub.add_parser("reproduce", help="recompute every reference run, ignoring the reference")
    rep.add_argument("--scheduler", default=os.environ.get("SCHEDULER") or None)
    rep.add_argument("--workers", type=int, default=None)
    rep.add_argument("--device", default=os.environ.get("DEVICE") or None, help="cpu (default), cuda, cuda:N or mps")
    rep.add_argument("--chapter", action="append", help=f"only this chapter's runs (repeatable): {', '.join(chapters())}")
    d = sub.add_parser("diff", help="compare the recomputation (local store) with the reference")
    d.add_argument("--root", default=None)
    d.add_argument("--chapter", action="append", help="only this chapter's runs (repeatable)")
    d.add_argument("--no-ledger", action="store_true", help="compare metrics only, not the claims' verdicts")
    sub.add_parser("info", help="size, entries and compute time of the reference")
    ex = sub.add_parser("export", help="every shipped run as one tidy CSV table (config columns, final metrics)")
    ex.add_argument("path", help="the CSV file to write, e.g. runs.csv")
    ex.add_argument("--profile", default="paper", choices=PROFILES)
    args = parser.parse_args(argv)
    for c in getattr(args, "chapter", None) or []:  # record, reproduce and diff: unknown chapters before any work
        try:
            chapter_path(c)
        except ValueError as err:
            parser.error(str(err))

    if args.command == "record":
        for c in args.chapter:
            row = record(c, profile=args.profile)
            print(f"chapter {chapter_id(c)} ({args.profile}): {len(row['keys'])} runs ({row['computed']} computed, {row['new']} newly "
                  f"shipped), {row['record_wall_s'] / 60:.1f} min")
        return 0
    if args.command == "coverage":
        problems = coverage()
        print("\n".join(problems) if problems else "the reference covers every chapter")
        return 1 if problems else 0
    if args.command == "reproduce":
        if args.workers is not None and args.workers < 1:
            parser.error("--workers must be >= 1")

        try:
            device.resolve(args.device)
        except (ValueError, device.DeviceError) as err:
            parser.error(str(err))
        try:
            res = reproduce(args.scheduler, args.workers, on=args.device, only=args.chapter)
        except FileNotFoundError as err:
            print(f"reproduce: {err}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("\ninterrupted: every finished run is stored; run `make reproduce` again to resume", file=sys.stderr)
            return 130
        print(f"{len(res.configs)} runs: {res.n_cached} already stored, {res.n_computed} computed, "
              f"{len(res.failures)} failed ({res.wall_time_s / 60:.1f} min)")
        return 1 if res.failures else 0
    if args.command == "diff":
        out = diff(Path(args.root) if args.root else None, with_ledger=not args.no_ledger, only=args.chapter)
        _write_json(REFERENCE_DIR / DIFF_FILE, out)
        print("\n".join(diff_lines(out)))
        return 1 if out.get("flipped") else 0
    if args.command == "export":
        n = export_csv(Path(args.path), profile=args.profile)
        print(f"wrote {args.path}: {n} runs of the {args.profile} profile")
        return 0
    print(json.dumps(info(), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

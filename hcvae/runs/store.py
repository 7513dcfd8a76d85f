"""The result store: one entry per (kind, config, version), a shipped reference beneath it, an audit and a lock.

**Key.** ``<kind>-<hash of the canonical config>-v<VERSION>``: the config's kind
(its class's ``KIND``), the config itself, and the kind's explicit algorithm
version (its class's ``VERSION``), nothing else. A config field added later,
whose neutral value reproduces what was computed before it existed, is listed in
the class's ``ADDED_FIELDS`` and left out of the key at that value, so adding an
option re-keys nothing. Integers in float fields are keyed as floats.

**Entry.** ``results/<key>/result.json`` holds the result, the full config and
its provenance (package version and git commit, library versions, CPU count,
threads, device, the kernels in force (CPU model, vector ISA, BLAS, pins: see
:mod:`hcvae.runs.kernels`), wall time, and the code-closure hash of :mod:`hcvae.runs.closure`);
beside it, optionally, ``weights.pt`` (a state dict read with
``weights_only=True``) and ``arrays.npz`` (arrays a chapter renders from).
Files are written to a temporary name and renamed, weights and arrays first and
the JSON last: an entry exists only once complete. An entry that does not
parse or does not match its key is reported and recomputed, never half-read.

**Sharing.** Files are written with mode 0644 (folders with the process's umask,
usually 0755): a store on a cluster file system is readable by the group and by
other users' workers; make it group-writable with ``umask 002`` if several users
compute into it. One process computes a key at a time: :meth:`ResultStore.computing`
holds ``<key>.lock`` (owner's process id and host) while it trains; another process
asking for the same key waits for it and reads its result, and a lock whose
process has died (same host), or that is older than :data:`STALE_LOCK_S`, is
taken over.

**Reference.** The ``paper`` profile's results ship in ``book/reference/`` as
``<key>.json.gz`` (and ``<key>.npz``), read-only, and the ``quick`` profile's in
``book/reference/quick/`` (so ``make test`` renders the quick book without
training): :meth:`ResultStore.load` tries the local store first, then the
reference (its top level, then ``quick/``). Keys do not collide across profiles:
a profile's settings are part of every config. A corrupt reference file is
reported naming the file and never served.

**Lock.** ``hcvae/store.lock.json`` records each kind's ``VERSION`` and the hash
of its code closure; ``tests/test_store_lock.py`` fails when they disagree with
the code and says what to do (bump ``VERSION`` if behaviour changed; if it is a
refactor, ``python -m hcvae.store lock``, which runs the audit first).

**Command line**::

    python -m hcvae.store audit [--kind K] [--sample N] [--root DIR]   # recompute a sample, compare every number
    python -m hcvae.store lock [--kind K]                              # re-lock (after a VERSION bump or a passed audit)
    python -m hcvae.store check                                        # does the lock match the code?
    python -m hcvae.store migrate [--root DIR]                         # re-key entries made before versioned keys
    python -m hcvae.store summary LOG                                  # where the runs of a build came from
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import platform
import subprocess
import tempfile
import time
import warnings
from dataclasses import asdict, fields, is_dataclass
from pathlib import Path

from hcvae import __version__
from hcvae.runs.config import KINDS
from hcvae.runs.layout import (QUICK_SUBDIR, Reference, ReferenceFolder, StoreError, atomic_write,  # noqa: F401
                               npz_bytes, read_npz)
from hcvae.runs.closure import closure
from hcvae.runs.kernels import kernel_provenance

ROOT = Path(__file__).resolve().parents[2]
REFERENCE_DIR = ROOT / "book" / "reference"
LOCK_FILE = Path(__file__).resolve().parent / "store.lock.json"

STALE_LOCK_S = 48 * 3600  # a lock from another host older than this is taken to be stale


def kind_class(kind: str):
    """The config class of ``kind``, as it registered itself (:data:`hcvae.runs.config.KINDS`; every kind is
    registered once :mod:`hcvae.runs.kinds` is imported)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; allowed values: {', '.join(KINDS)}")
    return KINDS[kind]


def kind_of(config) -> tuple[str, int]:
    """``(KIND, VERSION)`` of a stored config's class."""
    cls = type(config)
    kind, version = getattr(cls, "KIND", None), getattr(cls, "VERSION", None)
    if not (is_dataclass(config) and isinstance(kind, str) and isinstance(version, int)):
        raise TypeError(f"{cls.__name__} is not a stored config: it needs to be a dataclass with class attributes "
                        "KIND (str) and VERSION (int)")
    return kind, version


def _as_float_field(annotation) -> bool:
    return "float" in str(annotation) and "int" not in str(annotation).replace("float", "")


def config_dict(config) -> dict:
    """Every field of ``config`` (JSON-ready), with its kind."""
    kind, _ = kind_of(config)
    d = asdict(config)
    for f in fields(config):
        v = d[f.name]
        if _as_float_field(f.type) and isinstance(v, int) and not isinstance(v, bool):
            d[f.name] = float(v)
    return {"kind": kind, **json.loads(json.dumps(d, default=str))}


def canonical_config(config) -> dict:
    """:func:`config_dict` without the fields of ``ADDED_FIELDS`` that hold their neutral value."""
    d = config_dict(config)
    for name, neutral in getattr(type(config), "ADDED_FIELDS", {}).items():
        if name in d and d[name] == json.loads(json.dumps(neutral)):
            del d[name]
    return d


def config_key(config, version: int | None = None) -> str:
    """The entry's key; ``version`` (default: the kind's current ``VERSION``) is for entries of older code."""
    kind, current = kind_of(config)
    version = current if version is None else version
    payload = json.dumps(canonical_config(config), sort_keys=True)
    return f"{kind}-{hashlib.sha256(payload.encode()).hexdigest()[:20]}-v{int(version)}"


def config_from_dict(d: dict, cls=None):
    """The config a stored ``config`` dict describes (fields it lacks take their ``ADDED_FIELDS`` value); ``cls``:
    its class, where the caller knows it (else the kind's registered class)."""
    d = dict(d)
    kind = d.pop("kind")
    cls = cls if cls is not None else kind_class(kind)
    added = getattr(cls, "ADDED_FIELDS", {})
    names = {f.name for f in fields(cls)}
    values = {**{k: v for k, v in added.items() if k not in d}, **d}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"stored {kind} config has field(s) {', '.join(unknown)} that {cls.__name__} does not know")
    return cls(**values)


# ---- provenance ----------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _git() -> dict:
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no", "hcvae"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit or None, "dirty": bool(dirty) if commit else None}


@functools.lru_cache(maxsize=None)
def _libraries() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("torch", "numpy", "scikit-learn", "dask"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def provenance(config, wall_time_s: float | None, threads: int | None = None, device: str = "cpu") -> dict:
    """Where and how an entry was computed; kept in the entry, never in its key. ``kernels`` names the CPU, the
    vector ISA torch dispatched to, the BLAS libraries and any kernel pins in force
    (:func:`hcvae.runs.kernels.kernel_provenance`): what decides whether a recomputation must match bit for bit."""

    kind, _ = kind_of(config)
    if threads is None:
        import torch

        threads = torch.get_num_threads()
    return {
        "hcvae": __version__, **_git(), "libraries": _libraries(),
        "machine": platform.machine(), "platform": platform.platform(), "cpu_count": os.cpu_count(),
        "threads": threads, "device": device, "kernels": kernel_provenance(), "wall_time_s": wall_time_s,
        "closure": closure(type(config).__module__)["hash"],
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


# ---- files ---------------------------------------------------------------------------------------------------


def default_root() -> Path:
    """``$HCVAE_RESULTS`` if set, else ``results/`` at the repository root."""
    env = os.environ.get("HCVAE_RESULTS")
    return Path(env) if env else ROOT / "results"


def check_root(root: Path) -> None:
    """Raise :class:`StoreError` when ``root`` exists but is not a folder (e.g. ``$HCVAE_RESULTS=/etc/hostname``)."""
    if root.exists() and not root.is_dir():
        raise StoreError(f"the result store {root} is not a folder (it is a file); point $HCVAE_RESULTS at a "
                         "writable folder")


def default_reference() -> Path | None:
    """``$HCVAE_REFERENCE`` if set (empty: no reference), else ``book/reference/``."""
    env = os.environ.get("HCVAE_REFERENCE")
    if env is not None:
        return Path(env) if env else None
    return REFERENCE_DIR


def log_request(config, source: str, nested: bool) -> None:
    """Append one line per run request to ``$HCVAE_RUN_LOG`` (``make book`` sums them up; see :func:`summary`)."""
    path = os.environ.get("HCVAE_RUN_LOG")
    if not path:
        return
    line = json.dumps({"key": config_key(config), "source": source, "nested": nested,
                       "config": config_dict(config)}) + "\n"
    with open(path, "a") as f:  # one short write per line: atomic for appends on a local file system
        f.write(line)


_NOTED: set = set()


def is_legacy(folder: Path) -> bool:
    """An entry folder made before versioned keys (named by a bare hash)."""
    return folder.is_dir() and "-v" not in folder.name and (folder / "result.json").exists()


def needs_migration(root: Path) -> bool:
    root = Path(root)
    return root.is_dir() and any(is_legacy(p) for p in root.iterdir())


class ResultStore:
    """Load and save experiment results by config: a local folder over a read-only reference."""

    def __init__(self, root: str | os.PathLike | None = None, reference: str | os.PathLike | None | bool = True):
        self.root = Path(root) if root is not None else default_root()
        check_root(self.root)
        if reference is True:
            reference = default_reference()
        self.reference = Path(reference) if reference else None
        self.layers = Reference(self.reference) if self.reference is not None else None

    def folder(self, config, version: int | None = None) -> Path:
        return self.root / config_key(config, version)

    def reference_folder(self, config) -> ReferenceFolder | None:
        """The reference folder that holds ``config`` (its top level, else ``quick/``); None if neither does."""
        return None if self.layers is None else self.layers.find(config_key(config))

    # -- reading

    def _check(self, result: dict, config, where) -> dict:
        key = config_key(config)
        if result.get("key") != key:
            raise ValueError(f"the entry's key {result.get('key')!r} is not {key!r}")
        if canonical_config(config_from_dict(result["config"], type(config))) != canonical_config(config):
            raise ValueError("the entry's config does not match its key")
        return result

    def _load_local(self, config) -> dict | None:
        path = self.folder(config) / "result.json"
        if not path.exists():
            return None
        try:
            result = self._check(json.loads(path.read_text()), config, path)
            if result.get("has_weights"):
                self.load_weights(config)
            if result.get("has_arrays"):
                read_npz(self.folder(config) / "arrays.npz")
        except Exception as err:  # corrupt, truncated or foreign entry: recompute rather than trust it
            warnings.warn(f"result store entry {path.parent} is unreadable ({err}); recomputing it", stacklevel=3)
            return None
        return result

    def _load_reference(self, config) -> dict | None:
        folder = self.reference_folder(config)
        if folder is None:
            return None
        key = config_key(config)
        try:
            result = self._check(folder.read(key), config, folder.json_file(key))
            if result.get("has_arrays"):
                read_npz(folder.arrays_file(key))
        except Exception as err:
            warnings.warn(f"reference file {folder.json_file(key)} is corrupt or truncated ({type(err).__name__}: "
                          f"{err}); it is not served, the run is computed instead", stacklevel=3)
            return None
        return result

    def note_legacy_once(self) -> None:
        """Say, once per process and folder, that it holds entries made before versioned keys (they are not read)."""
        if self.root in _NOTED:
            return
        _NOTED.add(self.root)
        if needs_migration(self.root):
            print(f"note: {self.root} holds result-store entries made before versioned keys; they are not read. "
                  "`python -m hcvae.store migrate` re-keys them (nothing recomputes)")

    def lookup(self, config) -> tuple[dict | None, str | None]:
        """``(result, "local" | "reference")``, or ``(None, None)`` when neither layer has ``config``."""
        self.note_legacy_once()
        result = self._load_local(config)
        if result is not None:
            return result, "local"
        result = self._load_reference(config)
        if result is not None:
            return result, "reference"
        self._note_other_versions(config)
        return None, None

    def load(self, config) -> dict | None:
        """The stored result of ``config`` (local store first, then the reference), or None."""
        return self.lookup(config)[0]

    def _note_other_versions(self, config) -> None:
        key = config_key(config)
        stem = key.rsplit("-v", 1)[0]
        local = [p.name for p in self.root.glob(f"{stem}-v*") if p.is_dir()] if self.root.exists() else []
        shipped = [k for layer in (self.layers.layers() if self.layers else []) for k in layer.keys(f"{stem}-v*")]
        others = sorted({name.rsplit("-v", 1)[1] for name in local + shipped} - {key.rsplit("-v", 1)[1]})
        if others:
            kind, version = kind_of(config)
            print(f"note: {kind} entry {stem} exists under VERSION {', '.join(others)} only; ignored "
                  f"({type(config).__name__}.VERSION is now {version}), recomputing")

    def has_weights(self, config) -> bool:
        return (self.folder(config) / "weights.pt").exists()

    def load_weights(self, config) -> dict:
        """The stored state dict of ``config``'s model (read with ``weights_only=True``; local store only)."""
        import torch

        path = self.folder(config) / "weights.pt"
        if not path.exists():
            raise FileNotFoundError(f"no weights for {config_key(config)} in {self.root} (the reference ships results "
                                    "without weights): recompute the run locally")
        return torch.load(path, weights_only=True)

    def load_arrays(self, config) -> dict:
        """The arrays stored beside ``config``'s result (local store first, then the reference)."""
        local = self.folder(config) / "arrays.npz"
        if local.exists():
            return read_npz(local)
        folder = self.reference_folder(config)
        arrays = None if folder is None else folder.read_arrays(config_key(config))
        if arrays is None:
            raise FileNotFoundError(f"no arrays stored for {config_key(config)}")
        return arrays

    # -- derived arrays: drawn from a run's weights after it trained (e.g. a decoder's reconstructions), never part
    # of its result or key. Local: ``<entry>/<name>.npz``; in the reference: ``<key>.<name>.npz`` beside its JSON.

    def _derived_reference_file(self, config, name: str) -> Path | None:
        folder = self.reference_folder(config)
        return None if folder is None else folder.derived_file(config_key(config), name)

    def load_derived(self, config, name: str) -> dict | None:
        """The arrays ``name`` derived from ``config``'s run (local store first, then the reference), or None."""
        for path in (self.folder(config) / f"{name}.npz", self._derived_reference_file(config, name)):
            if path is not None and path.exists():
                try:
                    return read_npz(path)
                except (OSError, ValueError, EOFError) as err:
                    warnings.warn(f"{path} is unreadable ({type(err).__name__}: {err}); it is not served", stacklevel=2)
        return None

    def save_derived(self, config, name: str, arrays: dict) -> None:
        """Keep ``arrays`` derived from ``config``'s stored run beside it (atomically)."""
        folder = self.folder(config)
        if not (folder / "result.json").exists():
            raise StoreError(f"no local entry {folder.name} to keep {name!r} beside")
        data = npz_bytes(arrays)
        atomic_write(folder / f"{name}.npz", lambda f: f.write(data))

    # -- writing

    def check_writable(self) -> None:
        """Raise :class:`StoreError` unless a result can be written under the root (checked before training)."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".write-check.", suffix=".tmp")
            os.close(fd)
            os.unlink(tmp)
        except OSError as err:
            raise StoreError(f"the result store {self.root} is not writable ({err.strerror or err}); fix its "
                             "permissions or point $HCVAE_RESULTS at a writable folder") from None

    def lock_path(self, config) -> Path:
        return self.root / f"{config_key(config)}.lock"

    @contextlib.contextmanager
    def computing(self, config, poll_s: float = 2.0, note=print):
        """Hold ``config``'s lock while computing it; yields the stored result if another process finished it while
        this one waited (then there is nothing to compute), else None."""
        import socket

        path, me = self.lock_path(config), {"pid": os.getpid(), "host": socket.gethostname()}
        announced = False
        while True:
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = _lock_owner(path)
                if owner is None or _stale(owner, me):
                    path.unlink(missing_ok=True)
                    continue
                if not announced:
                    note(f"waiting: process {owner.get('pid')} on {owner.get('host')} is computing {config_key(config)}")
                    announced = True
                time.sleep(poll_s)
                done = self._load_local(config)
                if done is not None:
                    yield done
                    return
                continue
            with os.fdopen(fd, "w") as f:
                json.dump({**me, "started": time.time()}, f)
            break
        try:
            yield None
        finally:
            path.unlink(missing_ok=True)

    def save(self, config, result: dict, state_dict: dict | None = None, arrays: dict | None = None,
             provenance_: dict | None = None, version: int | None = None) -> dict:
        """Write an entry (``version``: only to file a migrated entry of older code under its own version)."""
        import torch

        folder = self.folder(config, version)
        version = kind_of(config)[1] if version is None else version
        result = {**result, "key": config_key(config, version), "version": version, "config": config_dict(config),
                  "has_weights": state_dict is not None, "has_arrays": bool(arrays),
                  "provenance": provenance_ if provenance_ is not None else provenance(config, result.get("wall_time_s"))}
        if state_dict is not None:
            atomic_write(folder / "weights.pt", lambda f: torch.save(state_dict, f))
        if arrays:
            data = npz_bytes(arrays)
            atomic_write(folder / "arrays.npz", lambda f: f.write(data))
        text = json.dumps(result, indent=1, allow_nan=True).encode()
        atomic_write(folder / "result.json", lambda f: f.write(text))
        return json.loads(text)

    def entries(self):
        """Every readable local entry: ``(key, result dict)``."""
        if not self.root.exists():
            return
        for path in sorted(self.root.glob("*/result.json")):
            try:
                yield path.parent.name, json.loads(path.read_text())
            except (OSError, ValueError):
                continue


def _lock_owner(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # vanished, or half-written by its owner a moment ago: look again


def _stale(owner: dict, me: dict) -> bool:
    """Is the lock's owner gone? On this host: its process no longer runs; elsewhere: the lock is very old."""
    if owner.get("host") == me["host"]:
        try:
            os.kill(int(owner.get("pid", -1)), 0)
        except ProcessLookupError:
            return True
        except (PermissionError, ValueError, OverflowError):
            return False
        return False
    return time.time() - float(owner.get("started", 0)) > STALE_LOCK_S


def reference_entries(reference: Path | None = None):
    """Every entry of a reference folder: ``(key, result dict)``; a corrupt file raises naming it."""
    yield from ReferenceFolder(reference or REFERENCE_DIR).entries()


def summary(log_path) -> dict:
    """Counts of run requests by source in a ``$HCVAE_RUN_LOG`` file: top-level requests and nested ones."""
    counts = {"reference": 0, "local": 0, "computed": 0}
    seen = set()
    path = Path(log_path)
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            ident = (row["key"], row["source"])
            if ident in seen:
                continue
            seen.add(ident)
            counts[row["source"]] = counts.get(row["source"], 0) + 1
    return counts


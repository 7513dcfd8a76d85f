"""The shipped reference on disk: one object owns its file layout and reads and writes it.

A reference folder holds, per result key,

* ``<key>.json.gz``: the result, its config and provenance (gzipped JSON, written deterministically);
* ``<key>.npz``: the arrays stored beside it, where the kind keeps any (``arrays.npz`` in the local store);
* ``<key>.<name>.npz``: arrays derived from the run's weights after it trained (a decoder's views).

``book/reference/`` is the ``paper`` profile's folder and ``book/reference/quick/`` the ``quick`` profile's
(:class:`Reference`); the store reads the top level first, then ``quick/``. A file that does not parse raises
:class:`LayoutError` naming it; nothing is half-read.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np

JSON, ARRAYS = ".json.gz", ".npz"
QUICK_SUBDIR = "quick"  # the quick profile's results, one level below the paper profile's


class StoreError(RuntimeError):
    """The store cannot be used as asked (unwritable, a corrupt reference file, an unknown kind...)."""


class LayoutError(StoreError):
    """A reference file that is corrupt or truncated (its path is in the message)."""


def atomic_write(path: Path, write) -> None:
    """``write(file)`` into a temporary file beside ``path``, then rename it there (mode 0644)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def npz_bytes(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    return buf.getvalue()


def read_npz(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def read_entry(path: Path) -> dict:
    """The result in a ``<key>.json.gz`` file; :class:`LayoutError` naming the file if it does not parse."""
    try:
        with gzip.open(path, "rt") as f:
            return json.load(f)
    except (OSError, ValueError, EOFError) as err:
        raise LayoutError(f"reference file {path} is corrupt or truncated ({type(err).__name__}: {err})") from None


class ReferenceFolder:
    """One folder of shipped results (module docstring)."""

    def __init__(self, path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"ReferenceFolder({str(self.path)!r})"

    def json_file(self, key: str) -> Path:
        return self.path / f"{key}{JSON}"

    def arrays_file(self, key: str) -> Path:
        return self.path / f"{key}{ARRAYS}"

    def derived_file(self, key: str, name: str) -> Path:
        return self.path / f"{key}.{name}{ARRAYS}"

    def has(self, key: str) -> bool:
        return self.json_file(key).exists()

    def read(self, key: str) -> dict:
        return read_entry(self.json_file(key))

    def read_arrays(self, key: str) -> dict | None:
        path = self.arrays_file(key)
        return read_npz(path) if path.exists() else None

    def write(self, key: str, result: dict, arrays: dict | None = None) -> Path:
        """Write one entry (its arrays first, the JSON last: the entry exists only once complete)."""
        if arrays:
            blob = npz_bytes(arrays)
            atomic_write(self.arrays_file(key), lambda f: f.write(blob))
        data = gzip.compress(json.dumps(result, separators=(",", ":"), allow_nan=True).encode(), compresslevel=9,
                             mtime=0)
        atomic_write(self.json_file(key), lambda f: f.write(data))
        return self.json_file(key)

    def files(self, key: str) -> list[Path]:
        """Every file of ``key``: its JSON, its arrays and what was derived from its weights."""
        return sorted(self.path.glob(f"{key}.*"))

    def remove(self, key: str) -> None:
        for path in self.files(key):
            path.unlink()

    def keys(self, pattern: str = "*") -> list[str]:
        """The keys of the folder's entries (those matching a glob ``pattern`` of keys)."""
        return [p.name.removesuffix(JSON) for p in sorted(self.path.glob(f"{pattern}{JSON}"))] \
            if self.path.exists() else []

    def entries(self):
        """Every entry: ``(key, result)``; a corrupt file raises :class:`LayoutError` naming it."""
        for key in self.keys():
            yield key, self.read(key)

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.glob("*") if p.is_file()) if self.path.exists() else 0


class Reference:
    """The shipped reference: the ``paper`` profile's folder at ``root``, the ``quick`` profile's below it."""

    def __init__(self, root):
        self.root = Path(root)
        self.paper = ReferenceFolder(self.root)
        self.quick = ReferenceFolder(self.root / QUICK_SUBDIR)

    def layers(self) -> list[ReferenceFolder]:
        """Where a key is looked for, in order."""
        return [self.paper, self.quick]

    def find(self, key: str) -> ReferenceFolder | None:
        """The folder that holds ``key`` (the top level first), or None."""
        return next((layer for layer in self.layers() if layer.has(key)), None)

    def profile(self, profile: str) -> ReferenceFolder:
        if profile not in ("paper", "quick"):
            raise ValueError(f"unknown profile {profile!r}; allowed values: paper, quick")
        return self.paper if profile == "paper" else self.quick

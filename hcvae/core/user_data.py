"""A data set given by a file: a researcher's own array, validated before any work and keyed by its content.

The file is ``.npy`` (an N x D array) or ``.npz`` with an ``x`` array and, optionally, integer ``labels`` (N,) and
a ``scale`` (a number every value is multiplied by; required for an integer array, e.g. 1/255 for 8-bit pixels).
:func:`register` checks it (one clear line per problem: an unreadable file, the wrong rank, NaN or infinite
values, an integer dtype without a scale, fewer samples than the run needs), converts it to float32 rows, and keeps
a copy under ``$HCVAE_DATA_DIR/user/`` named by a hash of its content: ``user-<16 hex digits>``. That name is
what configs and stored results hold, so a result is reused for the same data wherever the file lives, and a
changed file is a new data set. :func:`load` reads the copy back (:class:`hcvae.core.dataset.Dataset`, with the
original file name, the hash and the shape in ``meta``).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import zipfile
from pathlib import Path

import numpy as np

from hcvae.core.dataset import Dataset

PREFIX = "user-"
NAME = re.compile(r"^user-[0-9a-f]{16}$")
SUFFIXES = (".npy", ".npz")
REPO_ROOT = Path(__file__).resolve().parents[2]


class UserDataError(ValueError):
    """A data file that cannot be used; the message names the file and what is wrong, in one line."""


def is_name(name) -> bool:
    """Is ``name`` a registered user data set's name (``user-<hash>``)?"""
    return isinstance(name, str) and NAME.match(name) is not None


def is_path(value) -> bool:
    """Does ``value`` look like a data file's path (it ends in .npy or .npz)?"""
    return isinstance(value, str) and value.lower().endswith(SUFFIXES)


def folder(data_dir=None) -> Path:
    chosen = data_dir if data_dir is not None else os.environ.get("HCVAE_DATA_DIR") or REPO_ROOT / "data"
    return Path(chosen).expanduser() / "user"


def read_file(path) -> tuple[np.ndarray, np.ndarray | None, dict]:
    """``(x float32 (N, D), labels or None, meta)`` of a data file, checked; :class:`UserDataError` otherwise."""
    path = Path(path).expanduser()
    if path.suffix.lower() not in SUFFIXES:
        raise UserDataError(f"{path}: a data file must be .npy or .npz (with an 'x' array); got {path.suffix or 'no suffix'}")
    magic = {".npy": b"\x93NUMPY", ".npz": b"PK"}[path.suffix.lower()]
    try:
        with open(path, "rb") as f:
            head = f.read(len(magic))
    except OSError as err:
        raise UserDataError(f"{path}: unreadable ({err.strerror or err})") from None
    if head != magic:
        raise UserDataError(f"{path}: not a numpy {path.suffix.lower()} file (it does not start with the format's "
                            "header); save the array with numpy.save or numpy.savez")
    try:
        if path.suffix.lower() == ".npy":
            x, labels, scale = np.load(path, allow_pickle=False), None, None
        else:
            with np.load(path, allow_pickle=False) as f:
                if "x" not in f.files:
                    raise UserDataError(f"{path}: the .npz holds {', '.join(f.files) or 'nothing'}; it needs an 'x' "
                                        "array (N samples x D features), and optionally 'labels' and 'scale'")
                x = f["x"]
                labels = f["labels"] if "labels" in f.files else None
                scale = f["scale"] if "scale" in f.files else None
    except UserDataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise UserDataError(f"{path}: unreadable as a numpy file ({type(err).__name__}: {err})") from None
    if x.ndim != 2:
        raise UserDataError(f"{path}: x must be a 2-D array (N samples x D features); got {x.ndim} dimension(s), "
                            f"shape {x.shape}")
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise UserDataError(f"{path}: x must hold real numbers; got dtype {x.dtype}")
    if np.issubdtype(x.dtype, np.integer) and scale is None:
        raise UserDataError(f"{path}: x is an integer array ({x.dtype}) and the file states no scale: save it as "
                            "floats, or as an .npz with x and scale (e.g. scale=1/255 for 8-bit pixels)")
    if scale is not None:
        scale = np.asarray(scale, dtype=np.float64)
        if scale.shape != () or not np.isfinite(scale) or scale <= 0:
            raise UserDataError(f"{path}: scale must be one finite number > 0; got {scale!r}")
    x = x.astype(np.float64) * (float(scale) if scale is not None else 1.0)
    bad = ~np.isfinite(x)
    if bad.any():
        rows = np.unique(np.nonzero(bad)[0])
        raise UserDataError(f"{path}: x contains NaN or infinite values in {rows.size} row(s), first at row {rows[0]}; "
                            "clean or drop them first")
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (x.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
            raise UserDataError(f"{path}: labels must be {x.shape[0]} integers (one per row of x); got dtype "
                                f"{labels.dtype}, shape {labels.shape}")
    meta = {"source": path.name, "shape": list(x.shape), "scale": None if scale is None else float(scale)}
    return np.ascontiguousarray(x, dtype=np.float32), None if labels is None else labels.astype(np.int64), meta


def content_hash(x: np.ndarray, labels: np.ndarray | None) -> str:
    """A hash of the data (float32 values, shape, labels): the data set's identity."""
    h = hashlib.sha256(f"float32 {x.shape[0]}x{x.shape[1]}\n".encode())
    h.update(np.ascontiguousarray(x).tobytes())
    if labels is not None:
        h.update(b"labels\n" + np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    return h.hexdigest()[:16]


def check_size(name_or_path: str, n: int, batch_size: int | None = None, k: int | None = None) -> None:
    """Refuse, in one line, a data set with fewer samples than a batch or than K clusters."""
    if batch_size is not None and n < batch_size:
        raise UserDataError(f"{name_or_path}: {n} samples is fewer than the batch size {batch_size}")
    if k is not None and n < k:
        raise UserDataError(f"{name_or_path}: {n} samples is fewer than K = {k} clusters")


def register(path, data_dir=None) -> str:
    """Check the data file at ``path`` and keep its float32 copy under its content name; return the name."""
    x, labels, meta = read_file(path)
    name = PREFIX + content_hash(x, labels)
    target = folder(data_dir) / f"{name}.npz"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp.npz")
        arrays = {"x": x, "source": np.asarray(meta["source"]), "scale": np.asarray(np.nan if meta["scale"] is None
                                                                                      else meta["scale"])}
        if labels is not None:
            arrays["labels"] = labels
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, target)
    return name


@functools.lru_cache(maxsize=8)
def _read(path: str, mtime_ns: int) -> tuple:
    with np.load(path, allow_pickle=False) as f:
        x = f["x"]
        labels = f["labels"] if "labels" in f.files else None
        return x, labels, str(f["source"]), float(f["scale"])


def load(name: str, data_dir=None) -> Dataset:
    """The registered data set ``name`` (:func:`register`); FileNotFoundError naming how to register it."""
    if not is_name(name):
        raise ValueError(f"{name!r} is not a user data set's name (user-<16 hex digits>)")
    path = folder(data_dir) / f"{name}.npz"
    if not path.exists():
        raise FileNotFoundError(f"{name}: {path} is absent; give the data file's path again (e.g. -p datasets "
                                "'[\"path/to/x.npy\"]'), which registers it")
    x, labels, source, scale = _read(str(path), path.stat().st_mtime_ns)
    if content_hash(x, labels) != name.removeprefix(PREFIX):
        raise ValueError(f"{path}: its content no longer matches its name {name}; delete it and register the file again")
    meta = {"source": source, "hash": name.removeprefix(PREFIX), "shape": list(x.shape),
            "scale": None if np.isnan(scale) else scale, "has_labels": labels is not None}
    labels = np.zeros(x.shape[0], dtype=np.int64) if labels is None else labels.copy()
    return Dataset(name, x.copy(), labels, meta)


def size(name: str, data_dir=None) -> int:
    """How many samples the registered data set ``name`` holds (without keeping it)."""
    return load(name, data_dir).n

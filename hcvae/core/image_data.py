"""MNIST, Fashion-MNIST and CIFAR-10 from local files, preprocessed as v1 §5.1.1 says.

* ``mnist``, ``fashion_mnist``: the official training split in IDX format (60,000
  images of 28x28), resized to 14x14 by 2x2 average pooling (196 features).
  v1 gives Fashion-MNIST 70,000 images, i.e. training and test sets together;
  only the training split is read here, as for MNIST.
* ``cifar10``: the official binary version's five training batches (50,000
  colour images of 32x32), converted to grayscale with the ITU-R BT.601 luma
  weights Y = 0.299 R + 0.587 G + 0.114 B, resized to 8x8 by 4x4 average
  pooling (64 features, "following Li et al. (2024)"). v1 counts 60,000 images;
  the test batch is not read.

Every pixel is scaled to [0, 1] (divided by 255); labels are the class numbers
0-9. Nothing is downloaded. The data folder is the ``data_dir`` argument, else
``$HCVAE_DATA_DIR``, laid out as::

    <data_dir>/
        mnist/          train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz
        fashion_mnist/  train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz
        cifar10/        cifar-10-binary.tar.gz
                        or its extracted cifar-10-batches-bin/data_batch_{1..5}.bin

The IDX files may also be stored decompressed (the same names without ``.gz``).

Checks. The files as distributed are verified by MD5 against :data:`OFFICIAL_MD5`:
the values torchvision's ``MNIST`` and ``FashionMNIST`` classes list for the two
``.gz`` files of each set, and the one the CIFAR-10 page lists for
``cifar-10-binary.tar.gz``. No official checksum is published for the
decompressed IDX files or for the single extracted ``.bin`` batches, so those
are checked for structure only: the IDX magic number (unsigned bytes, 3
dimensions for images, 1 for labels), 28x28 images, a payload of exactly the
declared size, as many labels as images, labels in 0-9; a CIFAR batch must be
whole 3,073-byte records (a label byte and 3x32x32 pixel bytes) with labels in
0-9. The result's ``meta`` says which check each file passed, with the MD5 of
every file read.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import tarfile
from pathlib import Path

import numpy as np

from hcvae.core.data import Dataset

IMAGE_DATASETS = ("mnist", "fashion_mnist", "cifar10")
N_CLASSES = 10
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
CIFAR_ARCHIVE = "cifar-10-binary.tar.gz"
CIFAR_FOLDER = "cifar-10-batches-bin"
CIFAR_BATCHES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
CIFAR_RECORD = 1 + 3 * 32 * 32  # label byte, then the red, green and blue 32x32 planes
LUMA_601 = (0.299, 0.587, 0.114)  # ITU-R BT.601 weights of R, G, B
POOL = {"mnist": 2, "fashion_mnist": 2, "cifar10": 4}  # average-pooling window: 28 -> 14, 32 -> 8

# MD5 of the files as distributed (torchvision's MNIST / FashionMNIST resources; the CIFAR-10 page)
OFFICIAL_MD5 = {
    "mnist": {"train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
              "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432"},
    "fashion_mnist": {"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                      "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe"},
    "cifar10": {CIFAR_ARCHIVE: "c32a1d4ab5d03f1284b67883e8d87530"},
}


def _check_name(name: str) -> None:
    if name not in IMAGE_DATASETS:
        raise ValueError(f"unknown image data set {name!r}; allowed values: {', '.join(IMAGE_DATASETS)}")


def data_root(data_dir=None) -> Path:
    """``data_dir``, else ``$HCVAE_DATA_DIR``; a FileNotFoundError naming both when neither is given."""
    chosen = data_dir if data_dir is not None else os.environ.get("HCVAE_DATA_DIR")
    if not chosen:
        raise FileNotFoundError("no data folder: pass data_dir or set $HCVAE_DATA_DIR to a folder holding "
                                "mnist/, fashion_mnist/ and cifar10/ (see hcvae.core.image_data for the layout)")
    return Path(chosen).expanduser()


def expected_files(name: str) -> list[str]:
    """The file names ``name``'s folder must hold, alternatives joined by ' or '."""
    _check_name(name)
    if name == "cifar10":
        return [f"{CIFAR_ARCHIVE} or " + ", ".join(f"{CIFAR_FOLDER}/{b}" for b in CIFAR_BATCHES)]
    return [f"{f}.gz or {f}" for f in IDX_FILES]


def _find(name: str, data_dir) -> list[Path] | None:
    """The files ``load`` would read (archive or batches for CIFAR-10), or None when some are missing."""
    folder = data_root(data_dir) / name
    if name == "cifar10":
        archive = folder / CIFAR_ARCHIVE
        if archive.is_file():
            return [archive]
        batches = [folder / CIFAR_FOLDER / b for b in CIFAR_BATCHES]
        return batches if all(p.is_file() for p in batches) else None
    found = []
    for stem in IDX_FILES:
        candidates = [p for p in (folder / f"{stem}.gz", folder / stem) if p.is_file()]
        if not candidates:
            return None
        found.append(candidates[0])
    return found


def available(name: str, data_dir=None) -> bool:
    """Whether ``name``'s files are present (their contents are checked only by :func:`load`)."""
    _check_name(name)
    try:
        return _find(name, data_dir) is not None
    except FileNotFoundError:  # no data folder configured
        return False


def md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _verify(name: str, path: Path, verify: bool) -> dict:
    """The file's MD5, compared with the official one when ``verify`` and the file name is an official one."""
    digest = md5(path)
    official = OFFICIAL_MD5[name].get(path.name)
    if verify and official is not None and digest != official:
        raise ValueError(f"{path}: MD5 {digest} does not match the official {official} of {path.name}; "
                         "the file is corrupt or not the official one (load(..., verify=False) skips this check)")
    check = "md5" if verify and official is not None else "structure"
    return {"file": str(path), "md5": digest, "check": check}


def parse_idx(raw: bytes, ndim: int, source: str) -> np.ndarray:
    """An IDX array of unsigned bytes with ``ndim`` dimensions, or a ValueError naming what is wrong."""
    if len(raw) < 4 or struct.unpack(">HBB", raw[:4]) != (0, 0x08, ndim):
        raise ValueError(f"{source}: IDX magic number {raw[:4].hex()} is not 0000080{ndim} "
                         f"(unsigned bytes, {ndim} dimension(s)); not an official {'image' if ndim == 3 else 'label'} file")
    if len(raw) < 4 + 4 * ndim:
        raise ValueError(f"{source}: truncated: {len(raw)} bytes is too short for an IDX header of {ndim} dimension(s)")
    shape = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    payload = raw[4 + 4 * ndim:]
    size = int(np.prod(shape))
    if len(payload) != size:
        state = "truncated" if len(payload) < size else "longer than declared"
        raise ValueError(f"{source}: {state}: the header declares shape {shape} ({size} bytes) but {len(payload)} follow")
    return np.frombuffer(payload, dtype=np.uint8).reshape(shape)


def _read(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()


def _check_labels(labels: np.ndarray, source: str) -> np.ndarray:
    if labels.size and labels.max() >= N_CLASSES:
        raise ValueError(f"{source}: label {int(labels.max())} is outside 0-{N_CLASSES - 1}")
    return labels.astype(np.int64)


def average_pool(images: np.ndarray, k: int) -> np.ndarray:
    """Mean over non-overlapping k x k windows of (n, H, W) images (H, W divisible by k), as float32."""
    n, h, w = images.shape
    if h % k or w % k:
        raise ValueError(f"images of {h}x{w} do not divide into {k}x{k} windows")
    blocks = images.reshape(n, h // k, k, w // k, k)
    return blocks.sum(axis=(2, 4), dtype=np.float32) / np.float32(k * k)


def _load_idx(name: str, paths: list[Path], verify: bool) -> tuple[np.ndarray, np.ndarray, list]:
    checks = [_verify(name, p, verify) for p in paths]
    images = parse_idx(_read(paths[0]), 3, str(paths[0]))
    labels = parse_idx(_read(paths[1]), 1, str(paths[1]))
    if images.shape[1:] != (28, 28):
        raise ValueError(f"{paths[0]}: images are {images.shape[1]}x{images.shape[2]}, expected 28x28")
    if labels.shape[0] != images.shape[0]:
        raise ValueError(f"{paths[1]} holds {labels.shape[0]} labels for {images.shape[0]} images in {paths[0]}")
    return average_pool(images, POOL[name]) / np.float32(255), _check_labels(labels, str(paths[1])), checks


def parse_cifar_batch(raw: bytes, source: str) -> tuple[np.ndarray, np.ndarray]:
    """(images (n, 3, 32, 32) uint8, labels (n,)) of a CIFAR-10 binary batch."""
    if not raw or len(raw) % CIFAR_RECORD:
        raise ValueError(f"{source}: {len(raw)} bytes is not a whole number of {CIFAR_RECORD}-byte CIFAR-10 records "
                         "(1 label byte + 3x32x32 pixels); truncated or not a binary batch")
    records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, CIFAR_RECORD)
    return records[:, 1:].reshape(-1, 3, 32, 32), _check_labels(records[:, 0], source)


def grayscale(images: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma of (n, 3, H, W) RGB images, float32 (n, H, W) on the input's scale."""
    r, g, b = (images[:, c].astype(np.float32) for c in range(3))
    return np.float32(LUMA_601[0]) * r + np.float32(LUMA_601[1]) * g + np.float32(LUMA_601[2]) * b


def _cifar_batches(paths: list[Path]):
    """(source, bytes) of the five training batches, from the archive (not extracted to disk) or the files."""
    if paths[0].name != CIFAR_ARCHIVE:
        return [(str(p), p.read_bytes()) for p in paths]
    with tarfile.open(paths[0], "r:gz") as tar:
        out = []
        for b in CIFAR_BATCHES:
            member = f"{CIFAR_FOLDER}/{b}"
            try:
                f = tar.extractfile(member)
            except KeyError:
                f = None
            if f is None:
                raise ValueError(f"{paths[0]} has no file {member}; not the official binary archive")
            out.append((f"{paths[0]}:{member}", f.read()))
        return out


def _load_cifar(paths: list[Path], verify: bool) -> tuple[np.ndarray, np.ndarray, list]:
    checks = [_verify("cifar10", p, verify) for p in paths]
    xs, ys = [], []
    for source, raw in _cifar_batches(paths):
        images, labels = parse_cifar_batch(raw, source)
        pooled = average_pool(grayscale(images), POOL["cifar10"]) / np.float32(255)
        xs.append(np.clip(pooled, 0.0, 1.0))  # the luma weights sum to 1 up to rounding
        ys.append(labels)
    return np.concatenate(xs), np.concatenate(ys), checks


def load(name: str, data_dir=None, verify: bool = True) -> Dataset:
    """The preprocessed training split of ``name`` as a :class:`hcvae.core.data.Dataset` (rows are flattened images).

    ``meta`` holds ``image_shape`` (channels, height, width), the files read with
    their MD5 and the check each passed (``"md5"`` against :data:`OFFICIAL_MD5`,
    or ``"structure"``), and the preprocessing. ``verify=False`` skips the MD5
    comparison (the structure checks always run).
    """
    _check_name(name)
    paths = _find(name, data_dir)
    if paths is None:
        folder = data_root(data_dir) / name
        raise FileNotFoundError(f"{name}: the files are missing in {folder}; expected " + "; ".join(expected_files(name))
                                + " (nothing is downloaded; see hcvae.core.image_data for the layout)")
    if name == "cifar10":
        x, labels, checks = _load_cifar(paths, verify)
        side, prep = 8, dict(grayscale="ITU-R BT.601 luma 0.299 R + 0.587 G + 0.114 B", resize="4x4 average pooling, 32x32 -> 8x8")
    else:
        x, labels, checks = _load_idx(name, paths, verify)
        side, prep = 14, dict(resize="2x2 average pooling, 28x28 -> 14x14")
    meta = dict(source=f"{name} training split, local files", files=checks, image_shape=(1, side, side),
                scale="1/255", **prep)
    return Dataset(name, np.ascontiguousarray(x.reshape(len(x), -1), dtype=np.float32), labels, meta)

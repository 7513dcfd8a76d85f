"""MNIST / Fashion-MNIST / CIFAR-10 loaders on small files written in the official formats (no real data needed)."""

import gzip
import io
import struct
import tarfile

import numpy as np
import pytest

from hcvae.core import data, image_data


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file of unsigned bytes: magic 0x0000080<ndim>, big-endian dimensions, payload."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx_set(folder, images, labels, gz=False):
    folder.mkdir(parents=True, exist_ok=True)
    for stem, arr in zip(image_data.IDX_FILES, (images, labels)):
        raw = idx_bytes(arr)
        if gz:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / stem).write_bytes(raw)


def cifar_bytes(images: np.ndarray, labels: np.ndarray) -> bytes:
    return b"".join(bytes([int(y)]) + img.astype(np.uint8).tobytes() for img, y in zip(images, labels))


@pytest.fixture
def mnist_like():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(6, 28, 28), dtype=np.uint8)
    images[0, :2, :2] = [[0, 255], [100, 45]]  # first pooled pixel: (0 + 255 + 100 + 45) / 4 / 255
    return images, np.array([0, 1, 2, 3, 9, 5], dtype=np.uint8)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_files_are_pooled_to_14x14_and_scaled(tmp_path, mnist_like, gz):
    images, labels = mnist_like
    write_idx_set(tmp_path / "fashion_mnist", images, labels, gz=gz)
    ds = image_data.load("fashion_mnist", tmp_path, verify=False)
    assert ds.x.shape == (6, 196) and ds.x.dtype == np.float32
    assert ds.x[0, 0] == pytest.approx(400 / 4 / 255)
    expected = images.reshape(6, 14, 2, 14, 2).mean(axis=(2, 4)).reshape(6, -1) / 255
    np.testing.assert_allclose(ds.x, expected, rtol=1e-6)
    assert 0.0 <= ds.x.min() and ds.x.max() <= 1.0
    np.testing.assert_array_equal(ds.labels, labels)
    assert ds.labels.dtype == np.int64
    assert ds.meta["image_shape"] == (1, 14, 14)
    assert [f["check"] for f in ds.meta["files"]] == ["structure", "structure"]


def test_load_dataset_reads_the_data_dir_and_subsets(tmp_path, mnist_like, monkeypatch):
    write_idx_set(tmp_path / "mnist", *mnist_like)
    monkeypatch.setenv("HCVAE_DATA_DIR", str(tmp_path))
    assert image_data.available("mnist") and not image_data.available("cifar10")
    ds = data.load_dataset("mnist", n_samples=4, seed=0)
    assert ds.x.shape == (4, 196) and ds.meta["subset_of"] == 6


def test_cifar_batches_are_grayscale_and_pooled_to_8x8(tmp_path):
    rng = np.random.default_rng(1)
    folder = tmp_path / "cifar10" / image_data.CIFAR_FOLDER
    folder.mkdir(parents=True)
    all_images, all_labels = [], []
    for i, batch in enumerate(image_data.CIFAR_BATCHES):
        images = rng.integers(0, 256, size=(2, 3, 32, 32), dtype=np.uint8)
        labels = np.array([i, 9 - i])
        if i == 0:  # one 4x4 window: red 255 everywhere, green 0, blue 100 -> luma 0.299*255 + 0.114*100
            images[0, :, :4, :4] = np.array([255, 0, 100])[:, None, None]
        (folder / batch).write_bytes(cifar_bytes(images, labels))
        all_images.append(images)
        all_labels.append(labels)
    ds = image_data.load("cifar10", tmp_path)
    assert ds.x.shape == (10, 64) and ds.meta["image_shape"] == (1, 8, 8)
    assert ds.x[0, 0] == pytest.approx((0.299 * 255 + 0.114 * 100) / 255, rel=1e-6)
    images = np.concatenate(all_images).astype(np.float64)
    luma = 0.299 * images[:, 0] + 0.587 * images[:, 1] + 0.114 * images[:, 2]
    np.testing.assert_allclose(ds.x, luma.reshape(10, 8, 4, 8, 4).mean(axis=(2, 4)).reshape(10, -1) / 255, atol=1e-6)
    np.testing.assert_array_equal(ds.labels, np.concatenate(all_labels))


def test_cifar_archive_is_read_without_extracting(tmp_path):
    folder = tmp_path / "cifar10"
    folder.mkdir()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for i, batch in enumerate(image_data.CIFAR_BATCHES):
            raw = cifar_bytes(np.full((1, 3, 32, 32), 51 * i), [i])
            info = tarfile.TarInfo(f"{image_data.CIFAR_FOLDER}/{batch}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    (folder / image_data.CIFAR_ARCHIVE).write_bytes(buf.getvalue())
    with pytest.raises(ValueError, match="does not match the official c32a1d4ab5d03f1284b67883e8d87530"):
        image_data.load("cifar10", tmp_path)
    ds = image_data.load("cifar10", tmp_path, verify=False)
    np.testing.assert_allclose(ds.x[:, 0], np.arange(5) * 51 / 255, atol=1e-6)
    assert not (folder / image_data.CIFAR_FOLDER).exists()


def test_missing_files_error_lists_expected_names_and_folder(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte\.gz or train-images-idx3-ubyte.*"
                                                r"train-labels-idx1-ubyte\.gz") as err:
        image_data.load("mnist", tmp_path)
    assert str(tmp_path / "mnist") in str(err.value)
    with pytest.raises(FileNotFoundError, match=r"cifar-10-binary\.tar\.gz or cifar-10-batches-bin/data_batch_1\.bin"):
        image_data.load("cifar10", tmp_path)
    monkeypatch.delenv("HCVAE_DATA_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match=r"HCVAE_DATA_DIR"):
        image_data.load("mnist")
    assert not image_data.available("mnist")
    with pytest.raises(ValueError, match="allowed values: mnist, fashion_mnist, cifar10"):
        image_data.load("svhn", tmp_path)


def test_wrong_magic_number(tmp_path, mnist_like):
    images, labels = mnist_like
    write_idx_set(tmp_path / "mnist", images, labels)
    (tmp_path / "mnist" / image_data.IDX_FILES[0]).write_bytes(idx_bytes(labels))  # a label file in place of images
    with pytest.raises(ValueError, match=r"magic number 00000801 is not 00000803"):
        image_data.load("mnist", tmp_path)


def test_truncated_files(tmp_path, mnist_like):
    images, labels = mnist_like
    write_idx_set(tmp_path / "mnist", images, labels)
    path = tmp_path / "mnist" / image_data.IDX_FILES[0]
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match="truncated"):
        image_data.load("mnist", tmp_path)
    folder = tmp_path / "cifar10" / image_data.CIFAR_FOLDER
    folder.mkdir(parents=True)
    for batch in image_data.CIFAR_BATCHES:
        (folder / batch).write_bytes(cifar_bytes(np.zeros((2, 3, 32, 32)), [0, 1])[:-1])
    with pytest.raises(ValueError, match="not a whole number of 3073-byte"):
        image_data.load("cifar10", tmp_path)


def test_wrong_shape_and_labels(tmp_path, mnist_like):
    images, labels = mnist_like
    write_idx_set(tmp_path / "a" / "mnist", images[:, :14, :14], labels)
    with pytest.raises(ValueError, match="14x14, expected 28x28"):
        image_data.load("mnist", tmp_path / "a")
    write_idx_set(tmp_path / "b" / "mnist", images, labels[:5])
    with pytest.raises(ValueError, match="5 labels for 6 images"):
        image_data.load("mnist", tmp_path / "b")
    write_idx_set(tmp_path / "c" / "mnist", images, np.array([0, 1, 2, 3, 4, 10]))
    with pytest.raises(ValueError, match="label 10 is outside 0-9"):
        image_data.load("mnist", tmp_path / "c")


def test_checksum_of_official_file_names(tmp_path, mnist_like):
    write_idx_set(tmp_path / "mnist", *mnist_like, gz=True)
    with pytest.raises(ValueError, match="MD5 .* does not match the official f68b3c2dcbeaaa9fbdd348bbdeb94873"):
        image_data.load("mnist", tmp_path)
    ds = image_data.load("mnist", tmp_path, verify=False)  # structure is still checked
    assert ds.n == 6 and all(len(f["md5"]) == 32 for f in ds.meta["files"])


def test_cifar_archive_without_a_batch(tmp_path):
    (tmp_path / "cifar10").mkdir()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        raw = cifar_bytes(np.zeros((1, 3, 32, 32)), [0])
        info = tarfile.TarInfo(f"{image_data.CIFAR_FOLDER}/data_batch_1.bin")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
    (tmp_path / "cifar10" / image_data.CIFAR_ARCHIVE).write_bytes(buf.getvalue())
    with pytest.raises(ValueError, match="has no file cifar-10-batches-bin/data_batch_2.bin"):
        image_data.load("cifar10", tmp_path, verify=False)

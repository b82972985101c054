"""Data sets: the bundled mnist5k, ImageFolder directories and .npz arrays, and their errors."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from search.data import load_dataset
from search.data_limits import DataError, DataLimits


def test_mnist5k_is_bundled_real_and_balanced() -> None:
    data = load_dataset("mnist5k")
    assert data.images.shape == (5000, 1, 28, 28) and data.images.dtype == np.uint8
    assert np.bincount(data.labels).tolist() == [500] * 10
    assert data.classes == tuple(str(i) for i in range(10))
    assert 20 < data.images.mean() < 60  # ink on a black background, as MNIST is


def test_split_and_subset_are_stratified_and_reproducible() -> None:
    data = load_dataset("mnist5k")
    train, validation = data.split(0.2, seed=1)
    assert (len(train), len(validation)) == (4000, 1000)
    assert np.bincount(validation.labels).tolist() == [100] * 10
    assert np.array_equal(data.split(0.2, seed=1)[1].labels, validation.labels)
    assert not np.array_equal(data.split(0.2, seed=2)[1].images, validation.images)
    small = train.subset(300, seed=0)
    assert len(small) == 300 and np.bincount(small.labels).tolist() == [30] * 10


def _write_folder(root: Path, sizes: dict[str, list[tuple[int, int]]], mode: str = "L") -> None:
    for name, shapes in sizes.items():
        (root / name).mkdir(parents=True)
        for i, (w, h) in enumerate(shapes):
            Image.new(mode, (w, h), color=i * 40).save(root / name / f"{i}.png")


def test_image_folder_loads_classes_in_order(tmp_path: Path) -> None:
    _write_folder(tmp_path / "shapes", {"circle": [(12, 12)] * 3, "square": [(12, 12)] * 2})
    data = load_dataset(str(tmp_path / "shapes"))
    assert data.classes == ("circle", "square") and data.labels.tolist() == [0, 0, 0, 1, 1]
    assert data.images.shape == (5, 1, 12, 12)
    _write_folder(tmp_path / "colour", {"a": [(8, 8)], "b": [(8, 8)]}, mode="RGB")
    assert load_dataset(str(tmp_path / "colour")).channels == 3


def test_npz_in_channels_last_layout(tmp_path: Path) -> None:
    path = tmp_path / "tiny.npz"
    images = np.zeros((4, 10, 10, 3), dtype=np.uint8)
    np.savez(path, images=images, labels=np.array([0, 1, 0, 1]))
    data = load_dataset(str(path))
    assert data.images.shape == (4, 3, 10, 10) and data.classes == ("0", "1")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "not found"),
        (lambda p: (p / "empty").mkdir(), "no images"),
        (lambda p: _write_folder(p / "one", {"only": [(8, 8)] * 3}), "at least 2 classes"),
        (lambda p: _write_folder(p / "mixed", {"a": [(8, 8)], "b": [(9, 9)]}), "mixed sizes"),
        (lambda p: np.savez(p / "x.npz", pixels=np.zeros((2, 4, 4))), "needs arrays"),
        (
            lambda p: np.savez(
                p / "x.npz", images=np.zeros((3, 4, 4), np.uint8), labels=np.array([0, 1])
            ),
            "3 images but 2 labels",
        ),
        (lambda p: (p / "x.npz").write_bytes(b"not a zip"), "not a readable .npz"),
        (
            lambda p: np.savez(
                p / "x.npz", images=np.zeros((2, 4, 6), np.uint8), labels=np.array([0, 1])
            ),
            "square",
        ),
    ],
)
def test_unusable_data_sets_get_a_clear_error(tmp_path: Path, make, message: str) -> None:
    make(tmp_path)
    target = next((p for p in tmp_path.iterdir()), tmp_path / "missing")
    with pytest.raises(DataError, match=message):
        load_dataset(str(target))


def _zip_folder(folder: Path, target: Path, top: str | None = None) -> Path:
    with zipfile.ZipFile(target, "w") as archive:
        for file in sorted(folder.rglob("*.png")):
            inside = file.relative_to(folder).as_posix()
            archive.write(file, f"{top}/{inside}" if top else inside)
    return target


@pytest.mark.parametrize("top", [None, "shapes"])
def test_a_zip_of_class_folders_loads_like_the_folder(tmp_path: Path, top: str | None) -> None:
    _write_folder(tmp_path / "shapes", {"circle": [(12, 12)] * 3, "square": [(12, 12)] * 2})
    folder = load_dataset(tmp_path / "shapes")
    zipped = load_dataset(_zip_folder(tmp_path / "shapes", tmp_path / "shapes.zip", top))
    assert zipped.classes == folder.classes
    assert np.array_equal(zipped.images, folder.images)
    assert np.array_equal(zipped.labels, folder.labels)


SMALL = DataLimits(max_images=4, max_side=16, max_pixel_bytes=600, max_image_file_bytes=4096)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda p: _write_folder(p / "many", {"a": [(8, 8)] * 3, "b": [(8, 8)] * 3}),
            "more than 4 images",
        ),
        (lambda p: _write_folder(p / "wide", {"a": [(20, 20)], "b": [(20, 20)]}), "20 pixels"),
        (
            lambda p: _write_folder(p / "heavy", {"a": [(13, 13)] * 2, "b": [(13, 13)] * 2}),
            "676 bytes of pixels",
        ),
        (
            lambda p: np.savez_compressed(
                p / "x.npz", images=np.zeros((5, 4, 4), np.uint8), labels=np.zeros(5, int)
            ),
            "5 images",
        ),
        (
            lambda p: np.savez_compressed(
                p / "x.npz", images=np.zeros((2, 16, 16), np.float64), labels=np.arange(2)
            ),
            "4,096 bytes of pixels",
        ),
    ],
)
def test_sizes_are_refused_from_headers_before_decoding(tmp_path: Path, make, message) -> None:
    make(tmp_path)
    with pytest.raises(DataError, match=message):
        load_dataset(next(tmp_path.iterdir()), SMALL)


def test_a_zip_is_refused_by_its_entry_count_and_entry_sizes(tmp_path: Path) -> None:
    many = tmp_path / "many.zip"  # over 65,535 entries: the count sits in the zip64 record
    with zipfile.ZipFile(many, "w") as archive:
        for i in range(70_000):
            archive.writestr(f"c{i % 2}/{i}.png", b"")
    with pytest.raises(DataError, match="70,000 images"):
        load_dataset(many, DataLimits(max_images=65_000))
    bomb = tmp_path / "bomb.zip"  # one entry that inflates far beyond its compressed size
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a/0.png", b"\0" * (8 << 20))
        archive.writestr("b/0.png", b"\0")
    assert bomb.stat().st_size < 64 << 10
    with pytest.raises(DataError, match=r"an image file of 8\.0 MiB"):
        load_dataset(bomb, SMALL)

"""Image classification data sets for proxy training: the bundled ``mnist5k``, ``.npz``
arrays, and class folders (ImageFolder) on disk or in a ``.zip`` (``search.image_files``).

Everything is checked when the data set is loaded, before any training starts: a missing or
empty data set, a single class, images of mixed sizes or labels that do not match the images
raise a :class:`DataError` that says what is wrong and where. Sizes are checked first, from
headers (``search.data_limits``).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from search.data_limits import LIMITS, DataError, DataLimits
from search.image_files import channels_first, load_image_folder, load_image_zip

BUILTIN = {"mnist5k": "mnist5k.npz"}
TEST_SHARE = 0.1  # of every data set, held out from every search; trained models score on it
TEST_SEED = 0  # the same images for every job on the same data, whatever the job's seed


@dataclass(frozen=True)
class ImageDataset:
    """Images as uint8 ``(N, C, H, W)``, labels as int64 class indices into ``classes``."""

    name: str
    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        _check(self.name, self.images, self.labels, self.classes)

    @property
    def channels(self) -> int:
        return int(self.images.shape[1])

    @property
    def resolution(self) -> int:
        return int(self.images.shape[2])

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def take(self, indices: np.ndarray, suffix: str) -> ImageDataset:
        return ImageDataset(
            f"{self.name}:{suffix}", self.images[indices], self.labels[indices], self.classes
        )

    def split(self, validation: float, seed: int) -> tuple[ImageDataset, ImageDataset]:
        """A stratified (train, validation) split: each class in the same proportion."""
        if not 0 < validation < 1:
            raise DataError(f"validation fraction {validation}: must be between 0 and 1")
        rng = np.random.default_rng(seed)
        train, held_out = [], []
        for label in range(len(self.classes)):
            members = rng.permutation(np.flatnonzero(self.labels == label))
            cut = max(1, round(len(members) * validation))
            held_out.append(members[:cut])
            train.append(members[cut:])
        return (
            self.take(rng.permutation(np.concatenate(train)), "train"),
            self.take(rng.permutation(np.concatenate(held_out)), "validation"),
        )

    def test_split(self) -> tuple[ImageDataset, ImageDataset]:
        """(what searches and trainings may use, the test images), stratified. The test
        images are the same for every job on this data: no search ever sees them, so a
        trained model's test accuracy is not one the search chose it by."""
        return self.split(TEST_SHARE, TEST_SEED)

    def subset(self, size: int, seed: int) -> ImageDataset:
        """At most ``size`` images, stratified, so a small proxy still sees every class."""
        if size >= len(self):
            return self
        fraction = size / len(self)
        _, kept = self.split(fraction, seed)
        return kept.take(np.arange(min(size, len(kept))), "subset")


def load_dataset(spec: str | Path, limits: DataLimits = LIMITS) -> ImageDataset:
    """``mnist5k``, a directory of class folders (ImageFolder), a ``.zip`` of class folders or
    an ``.npz`` file. Sizes are checked from directories, zip directories and array headers
    before any image is decoded or array loaded."""
    if str(spec) in BUILTIN:
        resource = resources.files("search.datasets") / BUILTIN[str(spec)]
        with resources.as_file(resource) as path:
            return _load_npz(path, str(spec), limits)
    path = Path(spec)
    try:
        if path.is_dir():
            return ImageDataset(path.name, *load_image_folder(path, limits))
        if not path.exists():
            raise DataError(
                f"data set {str(spec)!r} not found: give {', '.join(BUILTIN)}, a folder of class "
                "folders, a .zip of class folders or an .npz file"
            )
        if path.suffix == ".npz":
            return _load_npz(path, path.name, limits)
        if path.suffix == ".zip":
            return ImageDataset(path.name, *load_image_zip(path, limits))
    except PermissionError:
        raise DataError(f"{path.name}: the server may not read it") from None
    raise DataError(f"{path.name}: not a folder, a .zip or an .npz file")


def _load_npz(path: Path, name: str, limits: DataLimits) -> ImageDataset:
    """Arrays ``images`` (N, H, W), (N, H, W, C) or (N, C, H, W) with C in 1 or 3, and
    ``labels`` (N,) of integers; optional ``classes`` (names)."""
    try:
        _check_npz_headers(path, name, limits)
        with np.load(path, allow_pickle=False) as arrays:
            images, labels = arrays["images"], arrays["labels"]
            names = arrays.get("classes", None)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{name}: not a readable .npz file ({exc})") from None
    images = channels_first(np.asarray(images), name)
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{name}: labels must be integers, not {labels.dtype}")
    if labels.size and labels.min() < 0:
        raise DataError(f"{name}: labels must not be negative")
    count = int(labels.max()) + 1 if labels.size else 0
    classes = (
        tuple(str(n) for n in names) if names is not None else tuple(str(i) for i in range(count))
    )
    return ImageDataset(name, _to_uint8(images, name), labels.astype(np.int64), classes)


def _check_npz_headers(path: Path, name: str, limits: DataLimits) -> None:
    """Refuse an .npz by its array headers (shape and dtype), before any array is read: a
    compressed archive may hold far more than its size on disk suggests."""
    with zipfile.ZipFile(path) as archive:
        members = {Path(n).stem: n for n in archive.namelist() if n.endswith(".npy")}
        if "images" not in members or "labels" not in members:
            raise DataError(f"{name}: needs arrays 'images' and 'labels', has {sorted(members)}")
        with archive.open(members["images"]) as stream:
            version = np.lib.format.read_magic(stream)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
    if len(shape) not in (3, 4):
        raise DataError(
            f"{name}: images of shape {shape}; expected (N, H, W), (N, H, W, C) or (N, C, H, W)"
        )
    limits.check_count(name, shape[0])
    stored = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    limits.check_bytes(name, stored)


def _to_uint8(images: np.ndarray, name: str) -> np.ndarray:
    if images.dtype == np.uint8:
        return images
    if np.issubdtype(images.dtype, np.floating) and images.size and images.max() <= 1.0:
        return np.round(images * 255).astype(np.uint8)
    if images.size and (images.min() < 0 or images.max() > 255):
        raise DataError(f"{name}: pixel values must be 0-255 (or floats in 0-1)")
    return images.astype(np.uint8)


def _check(name: str, images: np.ndarray, labels: np.ndarray, classes: tuple[str, ...]) -> None:
    if images.ndim != 4 or images.dtype != np.uint8:
        raise DataError(
            f"{name}: images must be uint8 (N, C, H, W), got {images.dtype} {images.shape}"
        )
    if len(images) == 0:
        raise DataError(f"{name}: the data set is empty")
    if len(images) != len(labels):
        raise DataError(f"{name}: {len(images)} images but {len(labels)} labels")
    LIMITS.check_count(name, len(images))
    height, width = images.shape[2:]
    if height != width:
        raise DataError(f"{name}: images are {width}x{height}; square images are required")
    LIMITS.check_side(name, height)
    if labels.max() >= len(classes):
        raise DataError(f"{name}: label {labels.max()} but only {len(classes)} classes")
    present = np.unique(labels)
    if len(present) < 2:
        only = classes[int(present[0])] if len(present) else "none"
        raise DataError(f"{name}: needs at least 2 classes, found 1 ({only!r})")

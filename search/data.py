"""Image classification data sets for proxy training: the bundled ``mnist5k``, ImageFolder
directories (Pillow; no torchvision) and ``.npz`` arrays.

Everything is checked when the data set is loaded, before any training starts: a missing or
empty data set, a single class, images of mixed sizes or labels that do not match the images
raise a :class:`DataError` that says what is wrong and where.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

BUILTIN = {"mnist5k": "mnist5k.npz"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}
MAX_IMAGES = 200_000
MAX_SIDE = 1024


class DataError(ValueError):
    """A data set that cannot be trained on; the message names the problem."""


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

    def subset(self, size: int, seed: int) -> ImageDataset:
        """At most ``size`` images, stratified, so a small proxy still sees every class."""
        if size >= len(self):
            return self
        fraction = size / len(self)
        _, kept = self.split(fraction, seed)
        return kept.take(np.arange(min(size, len(kept))), "subset")


def load_dataset(spec: str) -> ImageDataset:
    """``mnist5k``, a directory of class folders (ImageFolder), or an ``.npz`` file."""
    if spec in BUILTIN:
        with resources.as_file(resources.files("search.datasets") / BUILTIN[spec]) as path:
            return _load_npz(path, spec)
    path = Path(spec)
    if not path.exists():
        raise DataError(
            f"data set {spec!r} not found: give {', '.join(BUILTIN)}, a folder of class "
            "folders or an .npz file"
        )
    if path.is_dir():
        return _load_image_folder(path)
    if path.suffix == ".npz":
        return _load_npz(path, path.name)
    raise DataError(f"{spec}: not a folder or an .npz file")


def _load_npz(path: Path, name: str) -> ImageDataset:
    """Arrays ``images`` (N, H, W), (N, H, W, C) or (N, C, H, W) with C in 1 or 3, and
    ``labels`` (N,) of integers; optional ``classes`` (names)."""
    try:
        with np.load(path, allow_pickle=False) as arrays:
            if "images" not in arrays or "labels" not in arrays:
                raise DataError(f"{name}: needs arrays 'images' and 'labels', has {arrays.files}")
            images, labels = arrays["images"], arrays["labels"]
            names = arrays.get("classes", None)
    except (OSError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{name}: not a readable .npz file ({exc})") from None
    images = _channels_first(np.asarray(images), name)
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


def _channels_first(images: np.ndarray, name: str) -> np.ndarray:
    if images.ndim == 3:
        return images[:, None]
    if images.ndim == 4 and images.shape[-1] in (1, 3) and images.shape[1] not in (1, 3):
        return np.ascontiguousarray(images.transpose(0, 3, 1, 2))
    if images.ndim == 4 and images.shape[1] in (1, 3):
        return images
    raise DataError(
        f"{name}: images of shape {images.shape}; expected (N, H, W), (N, H, W, C) or "
        "(N, C, H, W) with 1 or 3 channels"
    )


def _to_uint8(images: np.ndarray, name: str) -> np.ndarray:
    if images.dtype == np.uint8:
        return images
    if np.issubdtype(images.dtype, np.floating) and images.size and images.max() <= 1.0:
        return np.round(images * 255).astype(np.uint8)
    if images.size and (images.min() < 0 or images.max() > 255):
        raise DataError(f"{name}: pixel values must be 0-255 (or floats in 0-1)")
    return images.astype(np.uint8)


def _load_image_folder(root: Path) -> ImageDataset:
    """``root/<class name>/<image>``: classes in sorted order; grey images stay one channel
    unless some image has colour, then all are RGB."""
    from PIL import Image, UnidentifiedImageError

    class_dirs = sorted(p for p in root.iterdir() if p.is_dir())
    files = [
        (label, f)
        for label, folder in enumerate(class_dirs)
        for f in sorted(folder.iterdir())
        if f.suffix.lower() in IMAGE_SUFFIXES
    ]
    if not files:
        raise DataError(f"{root}: no images found in class folders ({root}/<class>/<image>.png)")
    if len(files) > MAX_IMAGES:
        raise DataError(f"{root}: {len(files)} images; at most {MAX_IMAGES:,} are supported")
    pictures: list[Image.Image] = []
    for _, file in files:
        try:
            with Image.open(file) as opened:
                opened.load()
                pictures.append(opened.copy())
        except (OSError, UnidentifiedImageError) as exc:
            raise DataError(f"{file}: not a readable image ({exc})") from None
    first = pictures[0]
    for (_, file), picture in zip(files, pictures, strict=True):
        if picture.size != first.size:
            raise DataError(
                f"{root}: images of mixed sizes: {files[0][1].name} is "
                f"{first.size[0]}x{first.size[1]}, {file.name} is {picture.size[0]}x"
                f"{picture.size[1]}; resize them to one size first"
            )
    mode = "L" if all(p.mode in ("L", "1", "I;16") for p in pictures) else "RGB"
    arrays = [np.asarray(p.convert(mode), dtype=np.uint8) for p in pictures]
    images = _channels_first(np.stack(arrays), root.name)
    labels = np.array([label for label, _ in files], dtype=np.int64)
    return ImageDataset(root.name, images, labels, tuple(d.name for d in class_dirs))


def _check(name: str, images: np.ndarray, labels: np.ndarray, classes: tuple[str, ...]) -> None:
    if images.ndim != 4 or images.dtype != np.uint8:
        raise DataError(
            f"{name}: images must be uint8 (N, C, H, W), got {images.dtype} {images.shape}"
        )
    if len(images) == 0:
        raise DataError(f"{name}: the data set is empty")
    if len(images) != len(labels):
        raise DataError(f"{name}: {len(images)} images but {len(labels)} labels")
    if len(images) > MAX_IMAGES:
        raise DataError(f"{name}: {len(images):,} images; at most {MAX_IMAGES:,} are supported")
    height, width = images.shape[2:]
    if height != width:
        raise DataError(f"{name}: images are {width}x{height}; square images are required")
    if height > MAX_SIDE:
        raise DataError(f"{name}: images are {height} pixels wide; at most {MAX_SIDE}")
    if labels.max() >= len(classes):
        raise DataError(f"{name}: label {labels.max()} but only {len(classes)} classes")
    present = np.unique(labels)
    if len(present) < 2:
        only = classes[int(present[0])] if len(present) else "none"
        raise DataError(f"{name}: needs at least 2 classes, found 1 ({only!r})")

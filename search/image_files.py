"""Class folders of images (ImageFolder: ``<class>/<image>``), on disk or inside a ``.zip``,
read with Pillow (no torchvision).

Sizes are checked before any image is decoded: the number of images while the folders are
listed (a folder of a million files is refused at the first image over the cap, not after
listing them all), a zip's entry count from its end record before its directory is parsed,
every file's size, and then every image's width and height from its header.
"""

from __future__ import annotations

import os
import struct
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, NamedTuple

import numpy as np

from search.data_limits import DataError, DataLimits

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}
ZIP_END = b"PK\x05\x06"  # end of central directory record
ZIP64_LOCATOR = b"PK\x06\x07"
MAX_ZIP_COMMENT = 0xFFFF


class Images(NamedTuple):
    """Decoded images, uint8 ``(N, C, H, W)``, their labels and the class names."""

    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]


@dataclass(frozen=True)
class _ImageFile:
    label: int
    name: str
    size: int
    open: Callable[[], IO[bytes]]


def load_image_folder(root: Path, limits: DataLimits) -> Images:
    """``root/<class name>/<image>``: classes in sorted order."""
    try:
        class_dirs = sorted(e.name for e in os.scandir(root) if e.is_dir())
        _count_images(root, class_dirs, limits)
        files = [
            _ImageFile(label, entry.name, entry.stat().st_size, _opener(Path(entry.path)))
            for label, class_name in enumerate(class_dirs)
            for entry in _image_entries(root / class_name)
        ]
    except PermissionError:
        raise DataError(f"{root.name}: the server may not read it") from None
    files.sort(key=lambda f: (f.label, f.name))
    return _decode(root.name, files, tuple(class_dirs), limits)


def _count_images(root: Path, class_dirs: list[str], limits: DataLimits) -> None:
    """Count image files by name alone, stopping at the first one over the cap."""
    count = 0
    for class_name in class_dirs:
        for _ in _image_entries(root / class_name):
            count += 1
            if count > limits.max_images:
                limits.check_count(root.name, count, still_counting=True)


def load_image_zip(path: Path, limits: DataLimits) -> Images:
    """A ``.zip`` of ``<class>/<image>`` (optionally all under one top folder); nothing is
    extracted to disk."""
    limits.check_count(path.name, _zip_entry_count(path))
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(f"{path.name}: not a readable .zip file ({exc})") from None
    with archive:
        members = [
            (PurePosixPath(info.filename).parts, info)
            for info in archive.infolist()
            if not info.is_dir() and PurePosixPath(info.filename).suffix.lower() in IMAGE_SUFFIXES
        ]
        members = [(parts, info) for parts, info in members if not parts[0].startswith("__")]
        tops = {parts[0] for parts, _ in members}
        if len(tops) == 1 and all(len(parts) == 3 for parts, _ in members):
            members = [(parts[1:], info) for parts, info in members]
        if any(len(parts) != 2 for parts, _ in members):
            raise DataError(f"{path.name}: images must be at <class>/<image> inside the zip")
        class_names = tuple(sorted({parts[0] for parts, _ in members}))
        labels = {name: label for label, name in enumerate(class_names)}
        files = sorted(
            (
                _ImageFile(
                    labels[parts[0]], parts[1], info.file_size, _member(archive, info.filename)
                )
                for parts, info in members
            ),
            key=lambda f: (f.label, f.name),
        )
        try:
            return _decode(path.name, files, class_names, limits)
        except (zipfile.BadZipFile, EOFError) as exc:
            raise DataError(f"{path.name}: a damaged .zip file ({exc})") from None


def channels_first(images: np.ndarray, name: str) -> np.ndarray:
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


def _image_entries(folder: Path) -> Iterator[os.DirEntry[str]]:
    with os.scandir(folder) as entries:
        for entry in entries:
            if Path(entry.name).suffix.lower() in IMAGE_SUFFIXES and entry.is_file():
                yield entry


def _opener(path: Path) -> Callable[[], IO[bytes]]:
    return lambda: path.open("rb")


def _member(archive: zipfile.ZipFile, name: str) -> Callable[[], IO[bytes]]:
    return lambda: archive.open(name)


def _decode(
    name: str, files: list[_ImageFile], classes: tuple[str, ...], limits: DataLimits
) -> Images:
    """Check every file's size and every image's header, then decode them all: grey images
    stay one channel unless some image has colour, then all are RGB."""
    from PIL import Image, UnidentifiedImageError

    if not files:
        raise DataError(f"{name}: no images found in class folders (<class>/<image>.png)")
    first_size: tuple[int, int] | None = None
    colour = False
    for file in files:
        limits.check_file(file.name, file.size)
        try:
            with file.open() as stream, Image.open(stream) as header:
                size, mode = header.size, header.mode
        except (OSError, UnidentifiedImageError) as exc:
            raise DataError(f"{file.name}: not a readable image ({exc})") from None
        if first_size is None:
            first_size = size
            limits.check_side(name, max(size))
        elif size != first_size:
            raise DataError(
                f"{name}: images of mixed sizes: {files[0].name} is {first_size[0]}x"
                f"{first_size[1]}, {file.name} is {size[0]}x{size[1]}; resize them to one size "
                "first"
            )
        colour = colour or mode not in ("L", "1", "I;16")
    assert first_size is not None
    channels = 3 if colour else 1
    limits.check_bytes(name, len(files) * channels * first_size[0] * first_size[1])
    mode = "RGB" if colour else "L"
    images = np.empty((len(files), first_size[1], first_size[0], channels), dtype=np.uint8)
    for index, file in enumerate(files):
        with file.open() as stream, Image.open(stream) as picture:
            images[index] = np.asarray(picture.convert(mode), dtype=np.uint8).reshape(
                first_size[1], first_size[0], channels
            )
    labels = np.array([file.label for file in files], dtype=np.int64)
    return Images(np.ascontiguousarray(images.transpose(0, 3, 1, 2)), labels, classes)


def _zip_entry_count(path: Path) -> int:
    """The entry count from a zip's end record (zip64 too), read before ``zipfile`` parses
    the whole central directory into memory: a zip of millions of tiny files is refused
    from its last bytes."""
    try:
        with path.open("rb") as stream:
            size = stream.seek(0, os.SEEK_END)
            tail_start = max(0, size - 22 - MAX_ZIP_COMMENT - 20)
            stream.seek(tail_start)
            tail = stream.read()
            end = tail.rfind(ZIP_END)
            if end < 0 or len(tail) < end + 22:
                raise DataError(f"{path.name}: not a readable .zip file (no end record)")
            (count,) = struct.unpack_from("<H", tail, end + 10)
            if count != 0xFFFF or end < 20 or tail[end - 20 : end - 16] != ZIP64_LOCATOR:
                return int(count)
            (record,) = struct.unpack_from("<Q", tail, end - 12)
            stream.seek(record + 32)
            (count64,) = struct.unpack("<Q", stream.read(8))
            return int(count64)
    except (OSError, struct.error) as exc:
        raise DataError(f"{path.name}: not a readable .zip file ({exc})") from None

"""What a data set may be, checked before it is read: how many images, how large each one,
and how many bytes of pixels in all. One rule set for every loader (arrays, folders, zips),
so that a huge upload or folder is refused from its headers, not after filling memory."""

from __future__ import annotations

from dataclasses import dataclass

MAX_IMAGES = 200_000
MAX_SIDE = 1024
MAX_PIXEL_BYTES = 1 << 30  # pixels as stored (uint8 or wider), in memory once loaded
MAX_IMAGE_FILE_BYTES = 16 << 20  # one image file, before decoding (a zip entry's real size)


class DataError(ValueError):
    """A data set that cannot be trained on; the message names the problem."""


@dataclass(frozen=True)
class DataLimits:
    """The caps a loader applies; tests pass smaller ones to exercise the refusals."""

    max_images: int = MAX_IMAGES
    max_side: int = MAX_SIDE
    max_pixel_bytes: int = MAX_PIXEL_BYTES
    max_image_file_bytes: int = MAX_IMAGE_FILE_BYTES

    def check_count(self, name: str, images: int, still_counting: bool = False) -> None:
        """``still_counting``: the count stops at the first image over the cap."""
        if images > self.max_images:
            found = f"more than {self.max_images:,}" if still_counting else f"{images:,}"
            raise DataError(f"{name}: {found} images; at most {self.max_images:,} are supported")

    def check_side(self, name: str, side: int) -> None:
        if side > self.max_side:
            raise DataError(f"{name}: images are {side} pixels wide; at most {self.max_side}")

    def check_bytes(self, name: str, pixel_bytes: int) -> None:
        if pixel_bytes > self.max_pixel_bytes:
            raise DataError(
                f"{name}: {_size(pixel_bytes)} of pixels; at most {_size(self.max_pixel_bytes)}"
            )

    def check_file(self, name: str, size: int) -> None:
        if size > self.max_image_file_bytes:
            raise DataError(
                f"{name}: an image file of {_size(size)}; at most "
                f"{_size(self.max_image_file_bytes)} each"
            )


def _size(count: int) -> str:
    if count < 1 << 20:
        return f"{count:,} bytes"
    return f"{count / 2**20:,.1f} MiB" if count < 1 << 30 else f"{count / 2**30:,.1f} GiB"


LIMITS = DataLimits()

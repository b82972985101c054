"""``Arch``: a network as one frozen value, and its canonical string.

Grammar (documented for users in README.md, "Architecture strings")::

    arch   := header ":" stem ("|" layer)* "|" head
    header := "r" RES "_w" WIDTH ["_i" IN_CHANNELS] ["_n" CLASSES]     (defaults i3, n1000)
    stem, layer := block string (space.grammar), head := "head" options

Example: ``r224_w1.0:conv_k3_c32_s2|ir_e1_k3_c16|ir_e6_k3_c24_n2_s2|head_c1280``.

The stable hash of the canonical string is the cache key for models, ONNX files and latencies.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property

from space.blocks import MAX_CHANNELS, Block, Head, MaxPool, check_number
from space.errors import ArchError
from space.grammar import decode_block, encode_block, format_number

MAX_STRING_LENGTH = 8192
MAX_LAYERS = 128
_HEADER = re.compile(r"^r(\d+)_w(\d+(?:\.\d+)?)(?:_i(\d+))?(?:_n(\d+))?$")


@dataclass(frozen=True)
class Arch:
    """A complete network: input resolution, width multiplier, stem + layers, head.

    ``layers[0]`` is the stem; channel counts are base counts that the width multiplier scales
    (``space.shapes.scale_channels``). Construction validates the whole network, so every
    ``Arch`` value builds, profiles and exports without shape errors.
    """

    resolution: int
    width: float
    layers: tuple[Block, ...]
    head: Head
    in_channels: int = 3
    num_classes: int = 1000
    _canonical: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        from space.shapes import plan_layers  # shapes needs a constructed Arch to walk

        check_number("r", self.resolution, 1, 4096)
        check_number("w", float(self.width), 0.05, 4.0)
        check_number("i", self.in_channels, 1, MAX_CHANNELS)  # a probe takes a feature map
        check_number("n", self.num_classes, 1, 100_000)
        object.__setattr__(self, "width", float(self.width))
        if not self.layers:
            raise ArchError("layers", "", "an architecture needs at least a stem")
        if len(self.layers) > MAX_LAYERS:
            raise ArchError("layers", len(self.layers), f"at most {MAX_LAYERS} items")
        if isinstance(self.layers[0], MaxPool):
            raise ArchError("layers[0]", "maxpool", "the stem must be a layer with weights")
        object.__setattr__(self, "_canonical", self._encode())
        plan_layers(self)

    @property
    def stem(self) -> Block:
        return self.layers[0]

    @property
    def stages(self) -> tuple[Block, ...]:
        return self.layers[1:]

    def _encode(self) -> str:
        header = f"r{self.resolution}_w{format_number(self.width)}"
        if self.in_channels != 3:
            header += f"_i{self.in_channels}"
        if self.num_classes != 1000:
            header += f"_n{self.num_classes}"
        body = "|".join(encode_block(b) for b in (*self.layers, self.head))
        return f"{header}:{body}"

    def __str__(self) -> str:
        return self._canonical

    def input_shape(self, batch: int = 1) -> tuple[int, int, int, int]:
        """The NCHW shape of its input: what a model is exported and timed with."""
        return (batch, self.in_channels, self.resolution, self.resolution)

    @cached_property
    def hash(self) -> str:
        """Stable content hash (16 hex digits of SHA-256 of the canonical string)."""
        return hashlib.sha256(self._canonical.encode()).hexdigest()[:16]


def parse_arch(text: str) -> Arch:
    """Decode an architecture string; raise ``ArchError`` naming the bad field and value."""
    if not isinstance(text, str):
        raise ArchError("arch", text, "must be a string")
    text = text.strip()
    if len(text) > MAX_STRING_LENGTH:
        raise ArchError("arch", f"{text[:40]}...", f"longer than {MAX_STRING_LENGTH} characters")
    header, sep, body = text.partition(":")
    match = _HEADER.match(header)
    if not sep or match is None:
        raise ArchError(
            "header", header, "expected 'r<resolution>_w<width>[_i<channels>][_n<classes>]:'"
        )
    items = body.split("|")
    if len(items) < 2 or items[-1].split("_")[0] != "head":
        raise ArchError("head", items[-1], "the last item must be the head ('head...')")
    blocks = [decode_block(item, f"layers[{i}]") for i, item in enumerate(items[:-1])]
    head = decode_block(items[-1], "head")
    for i, block in enumerate(blocks):
        if isinstance(block, Head):
            raise ArchError(f"layers[{i}]", items[i], "only the last item may be a head")
    res, width, in_ch, classes = match.groups()
    return Arch(
        resolution=int(res),
        width=float(width),
        layers=tuple(blocks),
        head=head,  # type: ignore[arg-type]  # Arch checks it is a Head, naming the item
        in_channels=int(in_ch) if in_ch else 3,
        num_classes=int(classes) if classes else 1000,
    )

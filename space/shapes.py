"""Walks an ``Arch`` layer by layer: concrete channels, strides and feature-map sizes.

The structural rules that make any valid string build a valid network live here, checked once
with errors naming the layer and field (never a torch shape error mid-forward): groups divide
the channels they split, a downsampling layer gets a map at least as large as its stride, a
ShuffleNet v1 concat unit widens its input. The builder and the profiler both read this plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from space.blocks import (
    Block,
    Conv,
    DepthwiseSeparable,
    Fire,
    InvertedResidual,
    MaxPool,
    ShuffleV1,
    ShuffleV2,
    Skip,
)
from space.errors import ArchError

if TYPE_CHECKING:
    from space.arch import Arch


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round to the nearest multiple of ``divisor``, never below 90% of ``value`` (MobileNet)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def scale_channels(channels: int, width: float) -> int:
    """Base channels under the width multiplier; exact at 1.0 so reference widths such as
    ShuffleNet's 116 survive, multiples of 8 otherwise."""
    return channels if width == 1.0 else make_divisible(channels * width)


def scale_head_channels(channels: int, width: float) -> int:
    """The head conv grows with the width multiplier but never shrinks (MobileNetV2)."""
    return channels if width <= 1.0 else make_divisible(channels * width)


def expanded_channels(in_channels: int, expansion: int) -> int:
    return round(in_channels * expansion)


def se_channels(in_channels: int, ratio: float) -> int:
    """Squeeze width from the block *input* channels, as MnasNet's reference does."""
    return max(1, int(in_channels * ratio))


@dataclass(frozen=True)
class LayerShape:
    """One concrete layer: item ``index`` of ``arch.layers``, repeat ``repeat`` of that item."""

    index: int
    repeat: int
    block: Block
    in_channels: int
    out_channels: int
    stride: int
    in_size: int
    out_size: int
    residual: bool

    @property
    def name(self) -> str:
        return f"{self.index}.{self.repeat}"


def plan_layers(arch: Arch) -> tuple[LayerShape, ...]:
    """Every layer of ``arch`` in order, validated."""
    plan: list[LayerShape] = []
    channels, size = arch.in_channels, arch.resolution
    for index, block in enumerate(arch.layers):
        for repeat in range(getattr(block, "repeats", 1)):
            # every layer kind has a stride; their base class, Block, declares none
            stride = block.stride if repeat == 0 else 1  # type: ignore[attr-defined]
            where = f"layers[{index}]"
            out_channels = _out_channels(block, channels, arch.width)
            out_size = _out_size(block, size, stride, where, arch.resolution)
            _check_groups(block, channels, out_channels, stride, arch.width, where)
            residual = size == out_size and _has_identity(block, channels, out_channels, stride)
            plan.append(
                LayerShape(
                    index, repeat, block, channels, out_channels, stride, size, out_size, residual
                )
            )
            channels, size = out_channels, out_size
    return tuple(plan)


def _out_channels(block: Block, in_channels: int, width: float) -> int:
    if isinstance(block, MaxPool):
        return in_channels
    # every layer kind but MaxPool has channels; their base class, Block, declares none
    return scale_channels(block.channels, width)  # type: ignore[attr-defined]


def _out_size(block: Block, size: int, stride: int, where: str, resolution: int) -> int:
    if stride > size:
        raise ArchError(
            "r",
            resolution,
            f"resolution too small for the strides: {where} ({block.kind}, stride {stride}) "
            f"gets a "
            f"{size}x{size} map",
        )
    if (isinstance(block, Conv) and block.valid_padding) or (
        isinstance(block, MaxPool) and (block.ceil_mode)
    ):
        kernel = block.kernel
        if size < kernel:
            raise ArchError(
                "r",
                resolution,
                f"resolution too small: {where} (unpadded kernel {kernel}) gets {size}x{size}",
            )
        steps = (size - kernel) / stride
        return (math.ceil(steps) if isinstance(block, MaxPool) else math.floor(steps)) + 1
    return math.ceil(size / stride)  # odd kernels with k//2 padding, and 1x1 convs


def _has_identity(block: Block, in_channels: int, out_channels: int, stride: int) -> bool:
    same_shape = in_channels == out_channels and stride == 1
    if isinstance(block, Conv | DepthwiseSeparable | InvertedResidual):
        return block.residual and same_shape
    return isinstance(block, ShuffleV1 | ShuffleV2 | Skip) and same_shape


def _require_divides(groups: int, channels: int, what: str, where: str) -> None:
    if channels % groups:
        raise ArchError(
            f"{where}.g", groups, f"groups must divide the {what} ({channels} channels)"
        )


def _check_groups(
    block: Block, in_channels: int, out_channels: int, stride: int, width: float, where: str
) -> None:
    if isinstance(block, InvertedResidual) and block.groups > 1:
        mid = expanded_channels(in_channels, block.expansion)
        _require_divides(block.groups, in_channels, "input", where)
        _require_divides(block.groups, mid, "expanded channels", where)
        _require_divides(block.groups, out_channels, "output", where)
    elif isinstance(block, ShuffleV1):
        mid = out_channels // 4
        branch = (
            out_channels
            if _has_identity(block, in_channels, out_channels, stride)
            else (out_channels - in_channels)
        )
        if branch <= 0:
            raise ArchError(
                f"{where}.c",
                block.channels,
                f"a downsampling or widening unit concatenates its input, so c must exceed "
                f"the {in_channels} input channels",
            )
        if mid < block.groups:
            raise ArchError(f"{where}.c", block.channels, "c/4 bottleneck narrower than g")
        if not block.dense_first_pw:
            _require_divides(block.groups, in_channels, "input", where)
        _require_divides(block.groups, mid, "bottleneck (c/4)", where)
        _require_divides(block.groups, branch, "branch output", where)
    elif isinstance(block, ShuffleV2 | Fire) and out_channels % 2:
        raise ArchError(f"{where}.c", out_channels, "must be even after the width multiplier")
    if isinstance(block, Fire) and scale_channels(block.squeeze, width) < 1:
        raise ArchError(f"{where}.sq", block.squeeze, "squeeze width must be positive")

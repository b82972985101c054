"""Parameters, multiply-adds and peak activation memory, computed from the ``Arch`` alone.

Nothing is built or run: each layer's cost follows from its planned shape, the way the papers
count (multiply-adds of convolutions and linear layers; BN, pooling and additions are free).
Peak activation memory models a plain executor: a primitive holds its input and output, and a
block's input stays alive while a skip or concatenation still needs it (float32).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from itertools import pairwise
from typing import Any

from space.arch import Arch
from space.blocks import (
    Block,
    Conv,
    DepthwiseSeparable,
    Fire,
    Head,
    InvertedResidual,
    MaxPool,
    ShuffleV1,
    ShuffleV2,
    Skip,
)
from space.grammar import encode_block
from space.shapes import (
    LayerShape,
    expanded_channels,
    plan_layers,
    scale_channels,
    scale_head_channels,
    se_channels,
)

BYTES_PER_VALUE = 4


@dataclass(frozen=True)
class LayerProfile:
    """Cost of one layer (``name`` is ``item.repeat``; the head is ``head``)."""

    name: str
    block: str
    out_shape: tuple[int, int, int]
    params: int
    macs: int
    peak_activation_bytes: int


@dataclass(frozen=True)
class Profile:
    arch: str
    params: int
    macs: int
    peak_activation_bytes: int
    layers: tuple[LayerProfile, ...]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Primitive:
    """One operator as a runtime executes it: what a per-layer latency model prices.

    ``op`` is ``conv`` (any kernel and grouping), ``se``, ``add``, ``shuffle``, ``concat``,
    ``pool`` or ``linear``; sizes are square feature maps, counts are values, not bytes.
    """

    layer: str
    op: str
    kernel: int
    groups: int
    in_channels: int
    out_channels: int
    in_size: int
    out_size: int
    macs: int

    @property
    def activation_values(self) -> int:
        """Values read and written (input and output maps)."""
        return self.in_channels * self.in_size**2 + self.out_channels * self.out_size**2

    @property
    def weights(self) -> int:
        """Weights read: a convolution's MACs per output position; squeeze-excite and linear
        layers do one MAC per weight; pooling, adds, shuffles and concatenations have none."""
        return self.macs // self.out_size**2 if self.op == "conv" else self.macs


@dataclass
class _Cost:
    """Accumulates primitives of one layer: weights, MACs, and the tensors it passes along."""

    layer: str = ""
    params: int = 0
    macs: int = 0
    primitives: list[Primitive] = field(default_factory=list)

    def conv(
        self,
        cin: int,
        cout: int,
        kernel: int,
        size: int,
        *,
        in_size: int | None = None,
        groups: int = 1,
        bias: bool = False,
        bn: bool = True,
    ) -> int:
        """A convolution producing a ``size`` map (from ``in_size``, default the same)."""
        weights = kernel * kernel * (cin // groups) * cout
        self.params += weights + (cout if bias else 0) + (2 * cout if bn else 0)
        self.macs += weights * size * size
        self.add_op("conv", cin, cout, in_size or size, size, weights * size * size, kernel, groups)
        return cout * size * size

    def se(self, channels: int, reduced: int, size: int) -> None:
        self.params += 2 * channels * reduced + reduced + channels
        self.macs += 2 * channels * reduced
        self.add_op("se", channels, channels, size, size, 2 * channels * reduced)

    def add_op(
        self,
        op: str,
        cin: int,
        cout: int,
        in_size: int,
        out_size: int,
        macs: int = 0,
        kernel: int = 1,
        groups: int = 1,
    ) -> None:
        self.primitives.append(
            Primitive(self.layer, op, kernel, groups, cin, cout, in_size, out_size, macs)
        )


def _peak(tensors: list[int], hold_input: bool) -> int:
    """Largest (input + output) of consecutive primitives, plus a held block input."""
    held = tensors[0] if hold_input else 0
    pairs = [a + b + (held if i else 0) for i, (a, b) in enumerate(pairwise(tensors))]
    return max(pairs, default=tensors[0]) * BYTES_PER_VALUE


def _layer_cost(layer: LayerShape, width: float) -> tuple[_Cost, list[int], bool]:
    """Cost, sequence of tensor sizes, and whether the block input is held to the end."""
    block, cost = layer.block, _Cost(layer.name)
    tensors = [layer.in_channels * layer.in_size * layer.in_size]
    tensors += BLOCK_COSTS[type(block)](block, layer, width, cost)
    if layer.residual and not isinstance(block, Skip | ShuffleV2):
        cost.add_op("add", layer.out_channels, layer.out_channels, layer.out_size, layer.out_size)
    hold = layer.residual or isinstance(block, ShuffleV1 | ShuffleV2)
    return cost, tensors, hold


# One function per block kind: it adds the block's operators to ``cost`` and returns the sizes
# of the tensors it produces in order (the peak-memory estimate walks them).


def _conv(block: Conv, layer: LayerShape, width: float, cost: _Cost) -> list[int]:
    cin, cout, size, out = layer.in_channels, layer.out_channels, layer.in_size, layer.out_size
    bias, bn = block.bias, block.batch_norm
    return [cost.conv(cin, cout, block.kernel, out, in_size=size, bias=bias, bn=bn)]


def _separable(
    block: DepthwiseSeparable, layer: LayerShape, width: float, cost: _Cost
) -> list[int]:
    cin, cout, size, out = layer.in_channels, layer.out_channels, layer.in_size, layer.out_size
    depthwise = cost.conv(cin, cin, block.kernel, out, in_size=size, groups=cin)
    return [depthwise, cost.conv(cin, cout, 1, out)]


def _inverted(block: InvertedResidual, layer: LayerShape, width: float, cost: _Cost) -> list[int]:
    cin, cout, size, out = layer.in_channels, layer.out_channels, layer.in_size, layer.out_size
    mid, g = expanded_channels(cin, block.expansion), block.groups
    tensors = []
    if block.expansion != 1 or block.full_expansion:
        tensors.append(cost.conv(cin, mid, 1, size, groups=g))
    if g > 1:
        cost.add_op("shuffle", mid, mid, size, size)
    tensors.append(cost.conv(mid, mid, block.kernel, out, in_size=size, groups=mid))
    if block.se_ratio > 0:
        cost.se(mid, se_channels(cin, block.se_ratio), out)
    tensors.append(cost.conv(mid, cout, 1, out, groups=g))
    return tensors


def _shuffle_v1(block: ShuffleV1, layer: LayerShape, width: float, cost: _Cost) -> list[int]:
    cin, cout, size, out = layer.in_channels, layer.out_channels, layer.in_size, layer.out_size
    mid = cout // 4
    branch = cout if layer.residual else cout - cin
    first_groups = 1 if block.dense_first_pw else block.groups
    tensors = [cost.conv(cin, mid, 1, size, groups=first_groups)]
    cost.add_op("shuffle", mid, mid, size, size)
    tensors.append(cost.conv(mid, mid, block.kernel, out, in_size=size, groups=mid))
    tensors.append(cost.conv(mid, branch, 1, out, groups=block.groups))
    if not layer.residual:
        cost.add_op("pool", cin, cin, size, out, kernel=3)
        cost.add_op("concat", cout, cout, out, out)
    return [*tensors, cout * out * out]


def _shuffle_v2(block: ShuffleV2, layer: LayerShape, width: float, cost: _Cost) -> list[int]:
    cin, cout, size, out = layer.in_channels, layer.out_channels, layer.in_size, layer.out_size
    half = cout // 2
    if not layer.residual:
        cost.conv(cin, cin, block.kernel, out, in_size=size, groups=cin)
        cost.conv(cin, half, 1, out)
    branch_in = half if layer.residual else cin
    tensors = [cost.conv(branch_in, half, 1, size)]
    tensors.append(cost.conv(half, half, block.kernel, out, in_size=size, groups=half))
    tensors.append(cost.conv(half, half, 1, out))
    cost.add_op("concat", cout, cout, out, out)
    cost.add_op("shuffle", cout, cout, out, out)
    return [*tensors, cout * out * out]


def _fire(block: Fire, layer: LayerShape, width: float, cost: _Cost) -> list[int]:
    cin, cout, size, out = layer.in_channels, layer.out_channels, layer.in_size, layer.out_size
    squeeze, half, bn = scale_channels(block.squeeze, width), cout // 2, block.batch_norm
    tensors = [cost.conv(cin, squeeze, 1, out, in_size=size, bias=not bn, bn=bn)]
    cost.conv(squeeze, half, 1, out, bias=not bn, bn=bn)
    cost.conv(squeeze, half, 3, out, bias=not bn, bn=bn)
    cost.add_op("concat", cout, cout, out, out)
    return [*tensors, cout * out * out]


def _skip(block: Skip, layer: LayerShape, width: float, cost: _Cost) -> list[int]:
    cin, cout, size, out = layer.in_channels, layer.out_channels, layer.in_size, layer.out_size
    if layer.residual:
        return [cout * out * out]
    return [cost.conv(cin, cout, 1, out, in_size=size)]


def _max_pool(block: MaxPool, layer: LayerShape, width: float, cost: _Cost) -> list[int]:
    cin, cout, size, out = layer.in_channels, layer.out_channels, layer.in_size, layer.out_size
    cost.add_op("pool", cin, cout, size, out, kernel=block.kernel)
    return [cout * out * out]


BLOCK_COSTS: dict[type[Block], Callable[[Any, LayerShape, float, _Cost], list[int]]] = {
    Conv: _conv,
    DepthwiseSeparable: _separable,
    InvertedResidual: _inverted,
    ShuffleV1: _shuffle_v1,
    ShuffleV2: _shuffle_v2,
    Fire: _fire,
    Skip: _skip,
    MaxPool: _max_pool,
}


def _head_cost(head: Head, cin: int, size: int, head_channels: int, classes: int) -> _Cost:
    cost = _Cost("head")
    features = cin
    if head.channels:
        cost.conv(cin, head_channels, 1, size)
        features = head_channels
    if head.conv_classifier:
        cost.conv(features, classes, 1, size, bias=True, bn=False)
        cost.add_op("pool", classes, classes, size, 1, kernel=size)
    else:
        cost.add_op("pool", features, features, size, 1, kernel=size)
        cost.params += features * classes + (classes if head.fc_bias else 0)
        cost.macs += features * classes
        cost.add_op("linear", features, classes, 1, 1, features * classes)
    return cost


def _arch_head(arch: Arch, last: LayerShape) -> tuple[_Cost, int]:
    """The head's cost after the last layer, and its conv width under the multiplier."""
    head_channels = scale_head_channels(arch.head.channels, arch.width)
    head = _head_cost(arch.head, last.out_channels, last.out_size, head_channels, arch.num_classes)
    return head, head_channels


def primitives(arch: Arch) -> tuple[Primitive, ...]:
    """Every operator of ``arch`` in execution order (convolutions, SE, adds, shuffles, ...)."""
    plan = plan_layers(arch)
    ops: list[Primitive] = []
    for layer in plan:
        ops += _layer_cost(layer, arch.width)[0].primitives
    return (*ops, *_arch_head(arch, plan[-1])[0].primitives)


@lru_cache(maxsize=1024)
def profile_arch(arch: Arch) -> Profile:
    """Per-layer and total parameters, MACs and peak activation memory of ``arch``
    (remembered: size caps check the same architectures on every request)."""
    rows: list[LayerProfile] = []
    plan = plan_layers(arch)
    for layer in plan:
        cost, tensors, hold = _layer_cost(layer, arch.width)
        rows.append(
            LayerProfile(
                name=layer.name,
                block=encode_block(layer.block),
                out_shape=(layer.out_channels, layer.out_size, layer.out_size),
                params=cost.params,
                macs=cost.macs,
                peak_activation_bytes=_peak(tensors, hold),
            )
        )
    last = plan[-1]
    head, head_channels = _arch_head(arch, last)
    head_tensors = [last.out_channels * last.out_size**2]
    if arch.head.channels:
        head_tensors.append(head_channels * last.out_size**2)
    head_tensors.append(arch.num_classes)
    rows.append(
        LayerProfile(
            "head",
            encode_block(arch.head),
            (arch.num_classes, 1, 1),
            head.params,
            head.macs,
            _peak(head_tensors, False),
        )
    )
    return Profile(
        arch=str(arch),
        params=sum(r.params for r in rows),
        macs=sum(r.macs for r in rows),
        peak_activation_bytes=max(r.peak_activation_bytes for r in rows),
        layers=tuple(rows),
    )

"""Typed, frozen block specifications: one dataclass per block kind.

Each field carries its string token in its metadata, and the field order is the canonical token
order, so the grammar (``space.grammar``) encodes and decodes every kind the same way and a new
option is one field here. Field values are checked on construction with errors naming the token.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Literal

from space.errors import ArchError

Activation = Literal["relu", "relu6", "hswish"]
ACTIVATIONS: tuple[str, ...] = ("relu", "relu6", "hswish")

MAX_CHANNELS = 8192
MAX_REPEATS = 32


FLOAT_DECIMALS = 4


def _number(token: str, lo: float, hi: float, *, odd: bool = False) -> dict[str, Any]:
    return {"token": token, "type": "number", "lo": lo, "hi": hi, "odd": odd}


def check_number(
    field_name: str, value: object, lo: float, hi: float, *, odd: bool = False
) -> None:
    """Range-check one numeric token; floats keep at most ``FLOAT_DECIMALS`` decimals so that
    their canonical spelling never needs an exponent."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ArchError(field_name, value, "must be a number")
    if not lo <= value <= hi:
        raise ArchError(field_name, value, f"must be between {lo} and {hi}")
    if odd and value % 2 != 1:
        raise ArchError(field_name, value, "kernel sizes must be odd")
    if isinstance(value, float) and round(value, FLOAT_DECIMALS) != value:
        raise ArchError(field_name, value, f"at most {FLOAT_DECIMALS} decimals")


def _flag(token: str) -> dict[str, Any]:
    """A bare word that, when present, sets the field to the opposite of its default."""
    return {"token": token, "type": "flag"}


def channels(default: int | None = None, lo: int = 1) -> Any:
    """Output channels (before the architecture's width multiplier)."""
    meta = _number("c", lo, MAX_CHANNELS)
    return field(metadata=meta) if default is None else field(default=default, metadata=meta)


def kernel(lo: int = 3, hi: int = 7) -> Any:
    """Kernel size (depthwise kernels 3, 5, 7 by default): always written, since it is the
    first thing a reader looks for."""
    return field(metadata=_number("k", lo, hi, odd=True))


def repeats() -> Any:
    """How many identical layers the item stands for; only the first one has the stride."""
    return field(default=1, metadata=_number("n", 1, MAX_REPEATS))


def stride() -> Any:
    return field(default=1, metadata=_number("s", 1, 2))


def activation() -> Any:
    return field(default="relu", metadata={"token": "act", "type": "act"})


@dataclass(frozen=True, kw_only=True)
class Block:
    """Common base: a layer kind of the grammar. ``kind`` is its leading word."""

    kind: ClassVar[str]

    def __post_init__(self) -> None:
        for f in fields(self):
            _check_field(f.metadata, getattr(self, f.name))
        self.check()

    def check(self) -> None:
        """Cross-field rules of one kind; raise ``ArchError``."""

    def error(self, token: str, value: object, reason: str) -> ArchError:
        return ArchError(token, value, reason)


def _check_field(meta: Any, value: object) -> None:
    token = meta["token"]
    if meta["type"] == "act":
        if value not in ACTIVATIONS:
            raise ArchError("act", value, f"activation must be one of {list(ACTIVATIONS)}")
    elif meta["type"] == "number":
        check_number(token, value, meta["lo"], meta["hi"], odd=meta["odd"])


@dataclass(frozen=True, kw_only=True)
class Conv(Block):
    """Plain kxk convolution + BN + activation (stems, and the 'regular conv' search op)."""

    kind: ClassVar[str] = "conv"
    kernel: int = kernel(lo=1, hi=11)
    channels: int = channels()
    repeats: int = repeats()
    stride: int = stride()
    residual: bool = field(default=False, metadata=_flag("res"))
    bias: bool = field(default=False, metadata=_flag("bias"))
    batch_norm: bool = field(default=True, metadata=_flag("nobn"))
    valid_padding: bool = field(default=False, metadata=_flag("valid"))
    act: Activation = activation()


@dataclass(frozen=True, kw_only=True)
class DepthwiseSeparable(Block):
    """MobileNetV1: kxk depthwise + BN + act, then 1x1 pointwise + BN + act."""

    kind: ClassVar[str] = "ds"
    kernel: int = kernel()
    channels: int = channels()
    repeats: int = repeats()
    stride: int = stride()
    residual: bool = field(default=False, metadata=_flag("res"))
    act: Activation = activation()


@dataclass(frozen=True, kw_only=True)
class InvertedResidual(Block):
    """MobileNetV2 / MnasNet / FBNet inverted residual.

    1x1 expansion (absent at ``e1`` unless ``fullexp``, FBNet's always-present expansion), kxk
    depthwise, optional squeeze-and-excite on the expanded channels, linear 1x1 projection, and
    the identity when shapes allow unless ``noskip``. ``g2`` groups both 1x1 convs and shuffles
    channels after the first (FBNet's ``_g2``).
    """

    kind: ClassVar[str] = "ir"
    expansion: int = field(metadata=_number("e", 1, 8))
    kernel: int = kernel()
    groups: int = field(default=1, metadata=_number("g", 1, 8))
    channels: int = channels()
    repeats: int = repeats()
    stride: int = stride()
    se_ratio: float = field(default=0.0, metadata=_number("se", 0.0, 1.0))
    residual: bool = field(default=True, metadata=_flag("noskip"))
    full_expansion: bool = field(default=False, metadata=_flag("fullexp"))
    act: Activation = activation()

    def check(self) -> None:
        if self.full_expansion and self.expansion != 1:
            raise self.error("fullexp", True, "only meaningful with e1 (e>1 always expands)")


@dataclass(frozen=True, kw_only=True)
class ShuffleV1(Block):
    """ShuffleNet v1 unit: grouped 1x1, shuffle, kxk depthwise, grouped 1x1.

    Adds the input at stride 1 and equal width; otherwise concatenates the 3x3 average-pooled
    input, so the branch produces ``c - c_in`` channels. ``pwdense`` leaves the first 1x1
    ungrouped (the paper does so for the first unit, whose input is narrow).
    """

    kind: ClassVar[str] = "sh1"
    kernel: int = kernel()
    groups: int = field(default=1, metadata=_number("g", 1, 8))
    channels: int = channels()
    repeats: int = repeats()
    stride: int = stride()
    dense_first_pw: bool = field(default=False, metadata=_flag("pwdense"))
    act: Activation = activation()


@dataclass(frozen=True, kw_only=True)
class ShuffleV2(Block):
    """ShuffleNet v2 unit: channel split (or two branches when downsampling), concat, shuffle."""

    kind: ClassVar[str] = "sh2"
    kernel: int = kernel()
    channels: int = channels(lo=2)
    repeats: int = repeats()
    stride: int = stride()
    act: Activation = activation()

    def check(self) -> None:
        if self.channels % 2:
            raise self.error("c", self.channels, "must be even (two branches of c/2)")


@dataclass(frozen=True, kw_only=True)
class Fire(Block):
    """SqueezeNet fire: 1x1 squeeze, then 1x1 and 3x3 expands of c/2 each, concatenated.

    As in SqueezeNet, convs carry biases and no BN; ``bn`` swaps biases for BN. A stride, when
    given, is applied by the squeeze conv (SqueezeNet itself downsamples with max-pooling).
    """

    kind: ClassVar[str] = "fire"
    squeeze: int = field(metadata=_number("sq", 1, MAX_CHANNELS))
    channels: int = channels(lo=2)
    repeats: int = repeats()
    stride: int = stride()
    batch_norm: bool = field(default=False, metadata=_flag("bn"))
    act: Activation = activation()

    def check(self) -> None:
        if self.channels % 2:
            raise self.error("c", self.channels, "must be even (1x1 and 3x3 expands of c/2)")


@dataclass(frozen=True, kw_only=True)
class Skip(Block):
    """Identity, or 1x1 conv + BN + act where the width or the stride changes."""

    kind: ClassVar[str] = "skip"
    channels: int = channels()
    stride: int = stride()
    act: Activation = activation()


@dataclass(frozen=True, kw_only=True)
class MaxPool(Block):
    """Max-pooling between stages: 'same' padding, or no padding and ceil mode (SqueezeNet)."""

    kind: ClassVar[str] = "maxpool"
    kernel: int = kernel(lo=1, hi=7)
    stride: int = stride()
    ceil_mode: bool = field(default=False, metadata=_flag("ceil"))

    def check(self) -> None:
        if self.stride > self.kernel:
            raise self.error("s", self.stride, "a pooling stride may not exceed its kernel")


@dataclass(frozen=True, kw_only=True)
class Head(Block):
    """Classifier: optional 1x1 conv + BN + act to ``c``, global average pool, linear.

    ``convcls`` is SqueezeNet's classifier instead: 1x1 conv with bias to the classes, ReLU,
    global average pool. ``nobias`` drops the linear layer's bias (ShuffleNet v1's reference).
    The head conv grows with width multipliers above 1 but never shrinks (MobileNetV2's rule).
    """

    kind: ClassVar[str] = "head"
    channels: int = channels(default=0, lo=0)
    dropout: float = field(default=0.0, metadata=_number("d", 0.0, 0.99))
    conv_classifier: bool = field(default=False, metadata=_flag("convcls"))
    fc_bias: bool = field(default=True, metadata=_flag("nobias"))
    act: Activation = activation()

    def check(self) -> None:
        if self.conv_classifier and self.channels:
            raise self.error("convcls", True, "a conv classifier takes no c (head conv)")
        if self.conv_classifier and not self.fc_bias:
            raise self.error("nobias", True, "the conv classifier always has a bias")


ALL_KINDS: dict[str, type[Block]] = {
    cls.kind: cls
    for cls in (
        Conv,
        DepthwiseSeparable,
        InvertedResidual,
        ShuffleV1,
        ShuffleV2,
        Fire,
        Skip,
        MaxPool,
        Head,
    )
}

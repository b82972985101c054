"""Shipped search spaces: ``mnasnet``, ``fbnet``, ``shufflenet``, ``mixed``."""

from __future__ import annotations

from collections.abc import Callable

from space.errors import UnknownPresetError
from space.fbnet import FBNET_HEAD, FBNET_STEM, fbnet_layer_slots
from space.spaces import FactorizedSpace, LayerwiseSpace, SearchSpace, StageChoices

# MobileNetV2's stages (channels, layers, stride): the skeleton MnasNet searched around.
MOBILENET_V2_STAGES = (
    (16, 1, 1),
    (24, 2, 2),
    (32, 3, 2),
    (64, 4, 2),
    (96, 3, 1),
    (160, 3, 2),
    (320, 1, 1),
)
MNAS_WIDTHS = (0.75, 1.0, 1.25)


def _depth_deltas(layers: int) -> tuple[int, ...]:
    return (-1, 0, 1) if layers > 1 else (0, 1)


def mnasnet_space() -> FactorizedSpace:
    """MnasNet's factorized hierarchical space around MobileNetV2 (ConvOp x kernel x SE x skip
    x filter multiple x layer delta per stage)."""
    stages = tuple(
        StageChoices(
            channels=c,
            layers=n,
            stride=s,
            ops=("conv", "ds", "ir_e3", "ir_e6"),
            kernels=(3, 5),
            se_ratios=(0.0, 0.25),
            skips=("identity", "none"),
            widths=MNAS_WIDTHS,
            depth_deltas=_depth_deltas(n),
        )
        for c, n, s in MOBILENET_V2_STAGES
    )
    return FactorizedSpace(
        name="mnasnet", stem=("conv_k3_c32_s2",), head="head_c1280", stages=stages
    )


FBNET_OP_TEMPLATES = (
    "ir_e1_k3_fullexp",
    "ir_e1_k3_g2_fullexp",
    "ir_e3_k3",
    "ir_e6_k3",
    "ir_e1_k5_fullexp",
    "ir_e1_k5_g2_fullexp",
    "ir_e3_k5",
    "ir_e6_k5",
    "skip",
)


def fbnet_space() -> LayerwiseSpace:
    """FBNet's layer-wise space (CIFAR-100 skeleton, 9 ops on each of 22 layers)."""
    return LayerwiseSpace(
        name="fbnet",
        stem=(FBNET_STEM,),
        head=FBNET_HEAD,
        slots=tuple(fbnet_layer_slots()),
        ops=FBNET_OP_TEMPLATES,
        resolutions=(32,),
        num_classes=100,
    )


def shufflenet_space() -> FactorizedSpace:
    """ShuffleNet v1 (g=3) or v2 units per stage, kernel, width and depth. Channels are
    multiples of 24 so that g=3 splits every 1x1, and each stage's narrowest choice is wider
    than the previous stage's widest, as a v1 concat unit requires."""
    stages = tuple(
        StageChoices(
            channels=c,
            layers=n,
            stride=2,
            ops=("sh1_g3", "sh2"),
            kernels=(3, 5, 7),
            widths=(0.75, 1.0),
            depth_deltas=(-1, 0, 1),
            divisor=24,
        )
        for c, n in ((240, 4), (480, 8), (960, 4))
    )
    return FactorizedSpace(
        name="shufflenet",
        stem=("conv_k3_c24_s2", "maxpool_k3_s2"),
        head="head_c1024",
        stages=stages,
    )


def mixed_space() -> FactorizedSpace:
    """Every block kind on the MobileNetV2 skeleton. ShuffleNet v1 units (which concatenate
    their input) are offered only where a stage always widens its input."""
    widening = {3, 6}
    stages = tuple(
        StageChoices(
            channels=c,
            layers=n,
            stride=s,
            ops=("conv", "ds", "ir_e3", "ir_e6", "sh2", "fire")
            + (("sh1_g2",) if i in widening else ()),
            kernels=(3, 5),
            se_ratios=(0.0, 0.25),
            skips=("identity", "none"),
            widths=MNAS_WIDTHS,
            depth_deltas=_depth_deltas(n),
        )
        for i, (c, n, s) in enumerate(MOBILENET_V2_STAGES)
    )
    return FactorizedSpace(name="mixed", stem=("conv_k3_c32_s2",), head="head_c1280", stages=stages)


SPACE_PRESETS: dict[str, Callable[[], SearchSpace]] = {
    "mnasnet": mnasnet_space,
    "fbnet": fbnet_space,
    "shufflenet": shufflenet_space,
    "mixed": mixed_space,
}


def search_space(name: str) -> SearchSpace:
    """A shipped search space by name."""
    factory = SPACE_PRESETS.get(name)
    if factory is None:
        raise UnknownPresetError(
            f"unknown search space {name!r}; expected one of {sorted(SPACE_PRESETS)}"
        )
    return factory()

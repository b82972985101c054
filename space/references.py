"""Reference networks as data: strings for MobileNet, MnasNet, ShuffleNet, SqueezeNet, FBNet.

Each reproduces its published network layer for layer (see ``PUBLISHED`` for the figures the
tests hold them to). They seed searches, calibrate device predictors and form the smoke-test
matrix. Names: ``mobilenet_v2``, ``mobilenet_v2@0.5`` (any width), ``fbnet:k3_e1,skip,...``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from space.arch import Arch, parse_arch
from space.errors import ArchError, UnknownPresetError
from space.fbnet import fbnet_arch

_MOBILENET_V1 = (
    "conv_k3_c32_s2|ds_k3_c64|ds_k3_c128_s2|ds_k3_c128|ds_k3_c256_s2|ds_k3_c256|ds_k3_c512_s2|"
    "ds_k3_c512_n5|ds_k3_c1024_s2|ds_k3_c1024|head"
)
_MOBILENET_V2 = (
    "conv_k3_c32_s2_relu6|ir_e1_k3_c16_relu6|ir_e6_k3_c24_n2_s2_relu6|ir_e6_k3_c32_n3_s2_relu6|"
    "ir_e6_k3_c64_n4_s2_relu6|ir_e6_k3_c96_n3_relu6|ir_e6_k3_c160_n3_s2_relu6|"
    "ir_e6_k3_c320_relu6|head_c1280_d0.2_relu6"
)
REFERENCE_STRINGS: dict[str, str] = {
    "mnasnet_a1": (
        "r224_w1.0:conv_k3_c32_s2|ir_e1_k3_c16|ir_e6_k3_c24_n2_s2|ir_e3_k5_c40_n3_s2_se0.25|"
        "ir_e6_k3_c80_n4_s2|ir_e6_k3_c112_n2_se0.25|ir_e6_k5_c160_n3_s2_se0.25|ir_e6_k3_c320|"
        "head_c1280_d0.2"
    ),
    "mnasnet_b1": (
        "r224_w1.0:conv_k3_c32_s2|ir_e1_k3_c16|ir_e3_k3_c24_n3_s2|ir_e3_k5_c40_n3_s2|"
        "ir_e6_k5_c80_n3_s2|ir_e6_k3_c96_n2|ir_e6_k5_c192_n4_s2|ir_e6_k3_c320|head_c1280_d0.2"
    ),
    "shufflenet_v1_g3": (
        "r224_w1.0:conv_k3_c24_s2|maxpool_k3_s2|sh1_k3_g3_c240_s2_pwdense|sh1_k3_g3_c240_n3|"
        "sh1_k3_g3_c480_s2|sh1_k3_g3_c480_n7|sh1_k3_g3_c960_s2|sh1_k3_g3_c960_n3|head_nobias"
    ),
    "shufflenet_v2_x0_5": (
        "r224_w1.0:conv_k3_c24_s2|maxpool_k3_s2|sh2_k3_c48_n4_s2|sh2_k3_c96_n8_s2|"
        "sh2_k3_c192_n4_s2|head_c1024"
    ),
    "shufflenet_v2_x1_0": (
        "r224_w1.0:conv_k3_c24_s2|maxpool_k3_s2|sh2_k3_c116_n4_s2|sh2_k3_c232_n8_s2|"
        "sh2_k3_c464_n4_s2|head_c1024"
    ),
    "squeezenet1_0": (
        "r224_w1.0:conv_k7_c96_s2_bias_nobn_valid|maxpool_k3_s2_ceil|fire_sq16_c128_n2|"
        "fire_sq32_c256|maxpool_k3_s2_ceil|fire_sq32_c256|fire_sq48_c384_n2|fire_sq64_c512|"
        "maxpool_k3_s2_ceil|fire_sq64_c512|head_d0.5_convcls"
    ),
    "squeezenet1_1": (
        "r224_w1.0:conv_k3_c64_s2_bias_nobn_valid|maxpool_k3_s2_ceil|fire_sq16_c128_n2|"
        "maxpool_k3_s2_ceil|fire_sq32_c256_n2|maxpool_k3_s2_ceil|fire_sq48_c384_n2|"
        "fire_sq64_c512_n2|head_d0.5_convcls"
    ),
}
_WIDTH_FAMILIES: dict[str, str] = {"mobilenet_v1": _MOBILENET_V1, "mobilenet_v2": _MOBILENET_V2}


@dataclass(frozen=True)
class Published:
    """Published figures at 224x224 and 1000 classes, and where they come from."""

    params: int
    macs: int
    source: str
    params_precision: int = 1


# torchvision's model table where torchvision has the model, the paper (or the authors' code)
# otherwise. ShuffleNet v1's parameters are published only as 1.9M (``params_precision``); the
# exact figure is the count of the authors' own PyTorch code, derived by hand in the tests.
PUBLISHED: dict[str, Published] = {
    "mobilenet_v1": Published(4_231_976, 569_000_000, "MobileNets paper (4.2M, 569M)"),
    "mobilenet_v2": Published(3_504_872, 300_000_000, "torchvision mobilenet_v2; paper 300M"),
    "mnasnet_a1": Published(3_887_038, 312_000_000, "MnasNet paper (3.9M, 312M); timm count"),
    "mnasnet_b1": Published(4_383_312, 315_000_000, "torchvision mnasnet1_0; paper 315M"),
    "shufflenet_v1_g3": Published(
        1_864_728, 138_000_000, "authors' code (1.9M, 138M); paper 140M", 100_000
    ),
    "shufflenet_v2_x0_5": Published(1_366_792, 41_000_000, "torchvision; paper 41M"),
    "shufflenet_v2_x1_0": Published(2_278_604, 146_000_000, "torchvision; paper 146M"),
    "squeezenet1_0": Published(1_248_424, 819_000_000, "torchvision (0.82 GFLOPS)"),
    "squeezenet1_1": Published(1_235_496, 349_000_000, "torchvision (0.35 GFLOPS)"),
}


def reference_names() -> list[str]:
    """Names of the fixed-width reference presets (widths and FBNet ops are parameters)."""
    return sorted([*_WIDTH_FAMILIES, *REFERENCE_STRINGS])


def _width_family(name: str) -> Callable[[float], Arch] | None:
    body = _WIDTH_FAMILIES.get(name)
    if body is None:
        return None
    return lambda width: parse_arch(f"r224_w{float(width)!r}:{body}")


def reference_arch(name: str) -> Arch:
    """A reference network by name: ``mobilenet_v2``, ``mobilenet_v1@0.25``, ``fbnet:...``."""
    if name.startswith("fbnet:"):
        return fbnet_arch([op.strip() for op in name.removeprefix("fbnet:").split(",")])
    base, _, width = name.partition("@")
    if base in REFERENCE_STRINGS and not width:
        return parse_arch(REFERENCE_STRINGS[base])
    family = _width_family(base)
    if family is None:
        raise UnknownPresetError(
            f"unknown reference {name!r}; expected one of {reference_names()} "
            "(with @WIDTH for the MobileNets) or fbnet:OP,OP,..."
        )
    try:
        return family(float(width) if width else 1.0)
    except ValueError as exc:
        if isinstance(exc, ArchError):
            raise
        raise ArchError("width", width, "must be a number such as 0.5") from None


@lru_cache(maxsize=1024)
def resolve_arch(name_or_string: str) -> Arch:
    """An architecture string, or the name of a reference preset (remembered: the server
    resolves the same few names on every request, and an ``Arch`` is immutable)."""
    return (
        parse_arch(name_or_string)
        if ":" in name_or_string and not name_or_string.startswith("fbnet:")
        else reference_arch(name_or_string)
    )

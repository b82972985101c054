"""FBNet's 22-op encoding (CIFAR-100 skeleton of ../shared/data/README.md) as architectures.

``fbnet_arch(["k3_e1", "skip", ...])`` gives the network a row of ``fbnet_latency.csv``
describes, so measured FBNet latencies can be joined with our own strings and profiles.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from space.arch import Arch, parse_arch
from space.errors import ArchError

FBNET_STAGE_CHANNELS = (16, 24, 32, 64, 112, 184, 352)
FBNET_STAGE_LAYERS = (1, 4, 4, 4, 4, 4, 1)
FBNET_STAGE_STRIDES = (1, 1, 2, 2, 1, 2, 1)
FBNET_OPS = (
    "k3_e1",
    "k3_e1_g2",
    "k3_e3",
    "k3_e6",
    "k5_e1",
    "k5_e1_g2",
    "k5_e3",
    "k5_e6",
    "skip",
)
FBNET_LAYERS = sum(FBNET_STAGE_LAYERS)
FBNET_STEM = "conv_k3_c16"
FBNET_HEAD = "head_c1504"
_OP = re.compile(r"^k([35])_e([136])(_g2)?$")


def fbnet_layer_slots() -> list[tuple[int, int]]:
    """(channels, stride) of each of the 22 searchable layers."""
    slots = []
    for channels, count, stride in zip(
        FBNET_STAGE_CHANNELS, FBNET_STAGE_LAYERS, FBNET_STAGE_STRIDES, strict=True
    ):
        slots += [(channels, stride)] + [(channels, 1)] * (count - 1)
    return slots


def fbnet_op_item(op: str, channels: int, stride: int) -> str:
    """The block string of one FBNet op at one slot (``k5_e1_g2`` -> ``ir_e1_k5_g2_..``)."""
    stride_token = f"_s{stride}" if stride != 1 else ""
    if op == "skip":
        return f"skip_c{channels}{stride_token}"
    match = _OP.match(op)
    if match is None:
        raise ArchError("fbnet.op", op, f"unknown FBNet op; expected one of {list(FBNET_OPS)}")
    kernel, expansion, grouped = match.groups()
    groups = "_g2" if grouped else ""
    full = "_fullexp" if expansion == "1" else ""  # FBNet always has the expansion conv
    return f"ir_e{expansion}_k{kernel}{groups}_c{channels}{stride_token}{full}"


def fbnet_arch(ops: Sequence[str]) -> Arch:
    """The FBNet CIFAR-100 network (32x32, 100 classes) with these 22 ops."""
    if len(ops) != FBNET_LAYERS:
        raise ArchError("fbnet.ops", len(ops), f"needs exactly {FBNET_LAYERS} ops")
    items = [
        fbnet_op_item(op, channels, stride)
        for op, (channels, stride) in zip(ops, fbnet_layer_slots(), strict=True)
    ]
    return parse_arch(f"r32_w1.0_n100:{FBNET_STEM}|{'|'.join(items)}|{FBNET_HEAD}")

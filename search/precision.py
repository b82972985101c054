"""The numeric precisions a search evaluates candidates at, and the seam through which a
candidate is evaluated at one below fp32.

fp32 is what proxy training gives. int8 needs post-training quantization and a measurement of
the quantized file on each device, which ``search`` does not own: the caller passes a
``LowPrecisionEvaluator`` (``workers.low_precision``: ONNX Runtime's static quantization, the
accuracy in ONNX Runtime, the latency from the devices' agents). A candidate then makes one
point per precision.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
from torch import nn

from space import Arch

Precision = Literal["fp32", "int8"]
PRECISIONS: tuple[Precision, ...] = get_args(Precision)
BYTES_PER_WEIGHT: Mapping[Precision, int] = {"fp32": 4, "int8": 1}


def weight_bytes(params: int, precision: Precision) -> int:
    """What a network's weights weigh at ``precision`` (the file adds its graph, and int8 a
    scale per channel: a few kilobytes)."""
    return params * BYTES_PER_WEIGHT[precision]


@dataclass(frozen=True)
class TrainedProxy:
    """A proxy-trained network and its images as it takes them (float32, N C H W)."""

    model: nn.Module
    calibration: np.ndarray  # training images
    validation: np.ndarray
    labels: np.ndarray  # of the validation images


@dataclass(frozen=True)
class LowPrecisionPoint:
    """A candidate at a precision below fp32: its accuracy and latency per device."""

    precision: Precision
    accuracy: float
    latency_ms: dict[str, float]


# (the candidate, its proxy-trained network, the precision) -> its point at that precision
LowPrecisionEvaluator = Callable[[Arch, TrainedProxy, Precision], LowPrecisionPoint]

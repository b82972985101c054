"""Post-training int8 quantization with ONNX Runtime: its quantization pre-processing (shape
inference and graph optimisation), then static quantization in QDQ format with per-channel
weight scales, calibrated on training images. ORT's recommended setting for CPUs: signed
8-bit weights and activations (S8S8) in QDQ, so the same file runs on any execution provider.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

CALIBRATION_IMAGES = 256  # of the training split, stratified (enough for min-max ranges)


class _Images(CalibrationDataReader):
    """Feeds calibration images one at a time, as the exported model takes them."""

    def __init__(self, input_name: str, images: np.ndarray) -> None:
        self._feeds = iter({input_name: image[None]} for image in images)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)


def quantize_int8(fp32: bytes, input_name: str, calibration: np.ndarray) -> bytes:
    """The int8 QDQ model of ``fp32``, its activation ranges calibrated on ``calibration``
    (float32 images (N, C, H, W) prepared as the network expects them)."""
    with tempfile.TemporaryDirectory(prefix="edgenas-int8-") as folder:
        source, prepared, quantized = (Path(folder) / n for n in ("fp32", "pre", "int8"))
        source.write_bytes(fp32)
        quant_pre_process(str(source), str(prepared))
        quantize_static(
            str(prepared),
            str(quantized),
            _Images(input_name, calibration.astype(np.float32)),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
        )
        return quantized.read_bytes()

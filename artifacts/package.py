"""A trained network made into its deployable files, each scored on the test images in ONNX
Runtime: safetensors weights, ONNX fp32, and ONNX int8 calibrated on training images."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from artifacts.compression import CompressionSettings, compress
from artifacts.quantize import CALIBRATION_IMAGES, quantize_int8
from artifacts.scoring import onnx_accuracy
from artifacts.ternary import train_ternary
from artifacts.training import FinalRecipe, Normalisation, TrainedNetwork
from artifacts.weights import weights_bytes
from search.data import ImageDataset
from search.train import to_tensor
from space import Arch
from space.export import INPUT_NAME, export_onnx_bytes


@dataclass(frozen=True)
class DeployableFiles:
    weights: bytes  # safetensors, with the architecture and normalisation in its header
    fp32: bytes  # ONNX
    int8: bytes  # ONNX, QDQ
    fp32_accuracy: float  # on the test images, in ONNX Runtime
    int8_accuracy: float


def prepared(data: ImageDataset, arch: Arch, norm: Normalisation) -> np.ndarray:
    """Float32 images as the trained network expects them (the ONNX files' input)."""
    return to_tensor(data, arch.resolution, norm.mean, norm.std).contiguous().numpy()


def package(
    arch: Arch, trained: TrainedNetwork, train: ImageDataset, test: ImageDataset, seed: int
) -> DeployableFiles:
    """The files of ``trained`` (``arch``), int8 calibrated on images of ``train``, each
    scored on ``test``."""
    norm = trained.normalisation
    metadata = {"arch": str(arch), "input_mean": str(norm.mean), "input_std": str(norm.std)}
    fp32 = export_onnx_bytes(arch, model=trained.model)
    int8 = quantize_int8(
        fp32, INPUT_NAME, prepared(train.subset(CALIBRATION_IMAGES, seed), arch, norm)
    )
    images = prepared(test, arch, norm)
    return DeployableFiles(
        weights=weights_bytes(trained.model, metadata),
        fp32=fp32,
        int8=int8,
        fp32_accuracy=onnx_accuracy(fp32, images, test.labels),
        int8_accuracy=onnx_accuracy(int8, images, test.labels),
    )


def int8_point(
    arch: Arch,
    model: torch.nn.Module,
    calibration: np.ndarray,
    images: np.ndarray,
    labels: np.ndarray,
) -> tuple[bytes, float]:
    """A proxy-trained network's int8 file, calibrated on the first ``CALIBRATION_IMAGES``
    of ``calibration`` (prepared images), and its accuracy on ``images`` in ONNX Runtime."""
    fp32 = export_onnx_bytes(arch, model=model)
    int8 = quantize_int8(fp32, INPUT_NAME, calibration[:CALIBRATION_IMAGES])
    return int8, onnx_accuracy(int8, images, labels)


@dataclass(frozen=True)
class CompressedStage:
    stage: str
    test_accuracy: float  # the stage's weights exported to ONNX, scored in ONNX Runtime
    encoded_bytes: int  # the network as encoded (artifacts.compression)
    onnx: bytes  # the stage's weights as a dense fp32 ONNX file (what ONNX Runtime runs)


def compression_report(
    arch: Arch,
    trained: TrainedNetwork,
    train: ImageDataset,
    test: ImageDataset,
    settings: CompressionSettings,
    recipe: FinalRecipe,
) -> list[CompressedStage]:
    """Deep Compression of ``trained``: accuracy on ``test`` and size after each stage."""
    norm = trained.normalisation
    images = torch.from_numpy(prepared(train, arch, norm))
    stages = compress(trained.model, images, torch.from_numpy(train.labels), settings, recipe)
    test_images = prepared(test, arch, norm)
    exported = [export_onnx_bytes(arch, model=stage.model) for stage in stages]
    return [
        CompressedStage(
            stage.name, onnx_accuracy(onnx, test_images, test.labels), stage.bytes, onnx
        )
        for stage, onnx in zip(stages, exported, strict=True)
    ]


@dataclass(frozen=True)
class TernaryResult:
    test_accuracy: float  # the ternary weights exported to ONNX, scored in ONNX Runtime
    bytes: int  # 2 bits a ternary weight, two scales a layer, the rest float32
    layers: int  # made ternary (all but the first and the last)


def ternary_report(
    arch: Arch,
    trained: TrainedNetwork,
    train: ImageDataset,
    test: ImageDataset,
    epochs: int,
    recipe: FinalRecipe,
) -> TernaryResult:
    """TTQ fine-tuning of ``trained`` for ``epochs``: its test accuracy and size."""
    norm = trained.normalisation
    images = torch.from_numpy(prepared(train, arch, norm))
    ternary = train_ternary(trained.model, images, torch.from_numpy(train.labels), recipe, epochs)
    onnx = export_onnx_bytes(arch, model=ternary.model)
    accuracy = onnx_accuracy(onnx, prepared(test, arch, norm), test.labels)
    return TernaryResult(accuracy, ternary.bytes, ternary.ternary_layers)

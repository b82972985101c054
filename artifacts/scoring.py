"""Accuracy of an ONNX model in ONNX Runtime, the runtime the agents time it with: the number
a deployed file earns, not what PyTorch says of the weights it came from."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

SCORING_THREADS = 1


def onnx_accuracy(model: bytes, images: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy of ``model`` on float32 ``images`` (N, C, H, W, prepared as in
    training) one at a time: the exported models take a batch of one."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = SCORING_THREADS
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    correct = 0
    for image, label in zip(images, labels, strict=True):
        (logits,) = session.run(None, {name: image[None]})
        correct += int(np.argmax(logits[0]) == label)
    return correct / len(labels)

"""Proxy training: a candidate's accuracy from a short, fixed training recipe on real images.

The recipe is fixed per search (SGD with Nesterov momentum, one-cycle or cosine schedule,
optional label smoothing) so candidates are compared on equal terms. After every epoch the
BatchNorm statistics are recalibrated on a few training batches before the held-out accuracy
is taken: after a short proxy the running statistics lag the weights, and eval-mode accuracy
can sit at chance while the network has learned (shared/NOTES.md measured 0.10 vs 0.78 after
one epoch). Each epoch's accuracy goes to ``on_epoch``, which may stop the training early.

Threads: ``torch.set_num_threads`` is process-wide. Evaluations run side by side in separate
processes with one thread each by default, which beats one evaluation on two threads on a
2-core machine (NOTES.md) and avoids oversubscription.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from search.data import ImageDataset
from search.data_limits import MAX_IMAGES, DataError
from search.precision import TrainedProxy
from space import Arch
from space.builder import build_model

MIN_ONE_CYCLE_STEPS = 8  # below this, one-cycle has no room for its phases: cosine instead
EpochCallback = Callable[[int, float], bool]
"""Called with (epoch, validation accuracy) after each epoch; True stops the training."""


# The bounds of a proxy: a candidate's training must stay a proxy, not a full training run.
MAX_EPOCHS = 50
MIN_BATCH_SIZE, MAX_BATCH_SIZE = 8, 1024
MIN_TRAIN_IMAGES = 10
MAX_LEARNING_RATE = 10.0
Schedule = Literal["onecycle", "cosine"]


@dataclass(frozen=True)
class ProxySettings:
    """The fixed training recipe of a search."""

    epochs: int = 3
    batch_size: int = 64
    train_images: int = 4000
    learning_rate: float = 0.03
    momentum: float = 0.9
    weight_decay: float = 5e-5
    schedule: Schedule = "onecycle"
    label_smoothing: float = 0.0
    bn_recalibration_batches: int = 10
    threads: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        checks = {
            "epochs": 1 <= self.epochs <= MAX_EPOCHS,
            "batch_size": MIN_BATCH_SIZE <= self.batch_size <= MAX_BATCH_SIZE,
            "train_images": MIN_TRAIN_IMAGES <= self.train_images <= MAX_IMAGES,
            "learning_rate": 0 < self.learning_rate <= MAX_LEARNING_RATE,
            "momentum": 0 <= self.momentum < 1,
            "weight_decay": 0 <= self.weight_decay < 1,
            "schedule": self.schedule in ("onecycle", "cosine"),
            "label_smoothing": 0 <= self.label_smoothing < 1,
            "bn_recalibration_batches": 0 <= self.bn_recalibration_batches <= 1000,
            "threads": 1 <= self.threads <= 256,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"proxy setting {bad[0]}={getattr(self, bad[0])!r} is out of range")


@dataclass(frozen=True)
class Evaluation:
    """What proxy training found: final and per-epoch held-out accuracy, and its cost."""

    accuracy: float
    epoch_accuracies: tuple[float, ...]
    stopped_early: bool
    train_seconds: float
    eval_seconds: float
    # the network and its images, when asked for (``keep``): a low-precision evaluation
    # starts from them (``search.precision``); never stored or sent between processes
    trained: TrainedProxy | None = field(default=None, compare=False, repr=False)

    @property
    def epochs(self) -> int:
        return len(self.epoch_accuracies)


def check_task(arch: Arch, data: ImageDataset) -> None:
    """The architecture must fit the data: channels, classes and input size."""
    if arch.in_channels != data.channels:
        raise DataError(
            f"{data.name} has {data.channels}-channel images; the architecture expects "
            f"{arch.in_channels} (header _i{data.channels})"
        )
    if arch.num_classes != len(data.classes):
        raise DataError(
            f"{data.name} has {len(data.classes)} classes; the architecture has "
            f"{arch.num_classes} outputs (header _n{len(data.classes)})"
        )


def pixel_statistics(data: ImageDataset) -> tuple[float, float]:
    """Mean and standard deviation of the pixels in [0, 1], for input normalisation."""
    pixels = data.images.astype(np.float32) / 255.0
    return float(pixels.mean()), float(pixels.std()) or 1.0


def score_batch(
    data: ImageDataset, resolution: int, seed: int, size: int = 64
) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed, stratified minibatch prepared as training prepares its images (zero-cost
    proxies score every candidate on the same one)."""
    batch = data.subset(size, seed)
    mean, std = pixel_statistics(data)
    return to_tensor(batch, resolution, mean, std), torch.from_numpy(batch.labels)


def to_tensor(data: ImageDataset, resolution: int, mean: float, std: float) -> torch.Tensor:
    """Normalised float images at ``resolution`` (bilinear, antialiased when shrinking), in
    channels-last layout like the model (see ``evaluate_arch``)."""
    images = torch.from_numpy(data.images).float().div_(255.0).sub_(mean).div_(std)
    if resolution != data.resolution:
        images = F.interpolate(
            images,
            size=(resolution, resolution),
            mode="bilinear",
            align_corners=False,
            antialias=resolution < data.resolution,
        )
    return images.contiguous(memory_format=torch.channels_last)


def evaluate_arch(
    arch: Arch,
    train: ImageDataset,
    validation: ImageDataset,
    settings: ProxySettings,
    on_epoch: EpochCallback | None = None,
    keep: bool = False,
) -> Evaluation:
    """Train ``arch`` with the proxy recipe and report held-out accuracy after each epoch;
    with ``keep``, the trained network and its images come back too."""
    check_task(arch, train)
    torch.set_num_threads(settings.threads)
    generator = torch.Generator().manual_seed(settings.seed)
    subset = train.subset(settings.train_images, settings.seed)
    mean, std = pixel_statistics(subset)
    x_train = to_tensor(subset, arch.resolution, mean, std)
    y_train = torch.from_numpy(subset.labels)
    x_val = to_tensor(validation, arch.resolution, mean, std)
    y_val = torch.from_numpy(validation.labels)

    # Channels-last halves a training step on this CPU (oneDNN's NHWC depthwise and 1x1
    # kernels; measured 3.9 -> 2.1 ms per image for MobileNetV2 at 28x28, batch 64).
    # Module.to takes memory_format at run time; torch's overloads leave it out
    model = build_model(arch, seed=settings.seed).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    steps_per_epoch = -(-len(y_train) // settings.batch_size)
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=settings.learning_rate,
        momentum=settings.momentum,
        nesterov=settings.momentum > 0,
        weight_decay=settings.weight_decay,
    )
    scheduler = lr_schedule(
        optimizer, settings.schedule, settings.learning_rate, steps_per_epoch * settings.epochs
    )
    loss_fn = nn.CrossEntropyLoss(label_smoothing=settings.label_smoothing)

    accuracies: list[float] = []
    train_seconds = eval_seconds = 0.0
    stopped = False
    for epoch in range(settings.epochs):
        start = time.perf_counter()
        model.train()
        order = torch.randperm(len(y_train), generator=generator)
        for batch in order.split(settings.batch_size):
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(x_train[batch]), y_train[batch]).backward()
            optimizer.step()
            scheduler.step()
        recalibrate_batchnorm(
            model, x_train, order, settings.batch_size, settings.bn_recalibration_batches
        )
        train_seconds += time.perf_counter() - start
        start = time.perf_counter()
        accuracies.append(accuracy(model, x_val, y_val, settings.batch_size * 2))
        eval_seconds += time.perf_counter() - start
        if on_epoch is not None and epoch + 1 < settings.epochs and on_epoch(epoch, accuracies[-1]):
            stopped = True
            break
    trained = None
    if keep:
        calibration, held_out = (t.contiguous().numpy() for t in (x_train, x_val))
        trained = TrainedProxy(model.eval(), calibration, held_out, y_val.numpy())
    return Evaluation(
        accuracies[-1], tuple(accuracies), stopped, train_seconds, eval_seconds, trained
    )


def lr_schedule(
    optimizer: torch.optim.Optimizer, schedule: Schedule, learning_rate: float, total_steps: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """The learning rate per step: one-cycle (when there are steps enough for its phases)
    or cosine; stepped once per batch."""
    if schedule == "onecycle" and total_steps >= MIN_ONE_CYCLE_STEPS:
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=learning_rate,
            total_steps=total_steps,
            pct_start=max(0.25, 2 / total_steps),  # each phase needs two steps or more
        )
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)


@torch.no_grad()
def recalibrate_batchnorm(
    model: nn.Module, images: torch.Tensor, order: torch.Tensor, batch_size: int, batches: int
) -> None:
    """Replace BatchNorm running statistics by exact averages over ``batches`` training
    batches of ``batch_size`` images, taken in ``order``."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms or batches == 0:
        return
    momenta = [m.momentum for m in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over the batches below
    model.train()
    for batch in order.split(batch_size)[:batches]:
        model(images[batch])
    for norm, momentum in zip(norms, momenta, strict=True):
        norm.momentum = momentum


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch: int) -> float:
    model.eval()
    correct = 0
    for start in range(0, len(labels), batch):
        logits = model(images[start : start + batch])
        correct += int((logits.argmax(dim=1) == labels[start : start + batch]).sum())
    return correct / len(labels)

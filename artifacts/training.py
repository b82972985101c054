"""The final training of a chosen network: the full training split, a longer schedule,
augmentation, and a checkpoint after every epoch so a killed worker resumes where it was.

A checkpoint is one safetensors file (never a pickle): the weights, the optimizer's momentum
buffers and the random generator's state as tensors, the epoch and the data's normalisation
as metadata. The learning-rate schedule is a function of the step, so a resumed run
fast-forwards it instead of storing it. Resuming from epoch k gives the weights an
uninterrupted run would have had after epoch k (same generator, same order, same schedule).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

import torch
import torch.nn.functional as F
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from torch import nn

from search.data import ImageDataset
from search.train import (
    Schedule,
    check_task,
    lr_schedule,
    pixel_statistics,
    recalibrate_batchnorm,
    to_tensor,
)
from space import Arch
from space.builder import build_model

Augmentation = Literal["shift", "flip"]
MAX_FINAL_EPOCHS = 200
SHIFT_PIXELS = 2  # "shift" moves each image by up to this many pixels each way
BN_RECALIBRATION_BATCHES = 20  # unaugmented, in data order: the statistics the files keep


@dataclass(frozen=True)
class FinalRecipe:
    """How a chosen network is trained for deployment. The defaults were chosen by
    measurement (benchmarks/final_training.py; docs/models.md)."""

    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-5
    schedule: Schedule = "onecycle"
    label_smoothing: float = 0.1
    augment: tuple[Augmentation, ...] = ("shift",)
    threads: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.epochs <= MAX_FINAL_EPOCHS:
            raise ValueError(f"epochs={self.epochs}: between 1 and {MAX_FINAL_EPOCHS}")


@dataclass(frozen=True)
class Checkpoint:
    """Where a training stood after ``epoch`` epochs (1-based), as one safetensors file."""

    epoch: int
    data: bytes


class CheckpointStore(Protocol):
    """Where checkpoints live (the workers keep them in the database, guarded by the job's
    lease): the newest one, and saving the next."""

    def newest(self) -> Checkpoint | None: ...

    def save(self, checkpoint: Checkpoint) -> None: ...


@dataclass(frozen=True)
class Normalisation:
    """What the network expects: pixels in [0, 1], minus ``mean``, divided by ``std``."""

    mean: float
    std: float


@dataclass
class TrainedNetwork:
    model: nn.Module
    normalisation: Normalisation
    epochs: int
    resumed_from: int  # the epoch the run resumed after (0: from scratch)
    train_accuracy: list[float]  # per epoch, under augmentation (what the network saw)
    seconds: float


EpochCallback = Callable[[int, float], None]


def train_final(
    arch: Arch,
    train: ImageDataset,
    recipe: FinalRecipe,
    store: CheckpointStore,
    on_epoch: EpochCallback | None = None,
) -> TrainedNetwork:
    """Train ``arch`` on all of ``train``, from the newest checkpoint in ``store`` if any."""
    check_task(arch, train)
    torch.set_num_threads(recipe.threads)
    started = time.perf_counter()
    mean, std = pixel_statistics(train)
    images = to_tensor(train, arch.resolution, mean, std)
    labels = torch.from_numpy(train.labels)
    model = build_model(arch, seed=recipe.seed).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    optimizer = optimizer_for(model, recipe, recipe.learning_rate)
    steps = -(-len(labels) // recipe.batch_size)
    scheduler = lr_schedule(optimizer, recipe.schedule, recipe.learning_rate, steps * recipe.epochs)
    generator = torch.Generator().manual_seed(recipe.seed)

    resumed = store.newest()
    first = 0
    history: list[float] = []
    if resumed is not None:
        first, history = _restore(resumed, model, optimizer, generator)
        _fast_forward(scheduler, first * steps)
    for epoch in range(first, recipe.epochs):
        history.append(train_epoch(model, images, labels, optimizer, scheduler, recipe, generator))
        store.save(_checkpoint(epoch + 1, model, optimizer, generator, history))
        if on_epoch is not None:
            on_epoch(epoch + 1, history[-1])
    settle_batchnorm(model, images, recipe.batch_size)
    return TrainedNetwork(
        model,
        Normalisation(mean, std),
        recipe.epochs,
        first,
        history,
        time.perf_counter() - started,
    )


def optimizer_for(model: nn.Module, recipe: FinalRecipe, learning_rate: float) -> torch.optim.SGD:
    return torch.optim.SGD(
        model.parameters(),
        lr=learning_rate,
        momentum=recipe.momentum,
        nesterov=recipe.momentum > 0,
        weight_decay=recipe.weight_decay,
    )


def train_epoch(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    recipe: FinalRecipe,
    generator: torch.Generator,
) -> float:
    """One epoch in a random order, augmented; the share of images it got right."""
    model.train()
    loss_fn = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
    correct = 0
    for batch in torch.randperm(len(labels), generator=generator).split(recipe.batch_size):
        x = augment(images[batch], recipe.augment, generator)
        optimizer.zero_grad(set_to_none=True)
        logits = model(x)
        loss_fn(logits, labels[batch]).backward()
        optimizer.step()
        scheduler.step()
        correct += int((logits.argmax(dim=1) == labels[batch]).sum())
    return correct / len(labels)


def settle_batchnorm(model: nn.Module, images: torch.Tensor, batch_size: int) -> None:
    """BatchNorm statistics of the images as deployed (not shifted), from the weights as they
    are now; then eval mode."""
    order = torch.arange(len(images))
    recalibrate_batchnorm(model, images, order, batch_size, BN_RECALIBRATION_BATCHES)
    model.eval()


def augment(
    images: torch.Tensor, kinds: tuple[Augmentation, ...], generator: torch.Generator
) -> torch.Tensor:
    """Random whole-pixel shifts (edges repeated) and horizontal flips, per image."""
    if "shift" in kinds:
        images = _shift(images, generator)
    if "flip" in kinds:
        flip = torch.rand(len(images), generator=generator) < 0.5
        images = torch.where(flip[:, None, None, None], images.flip(3), images)
    return images


def _shift(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    n, _, height, width = images.shape
    pad = SHIFT_PIXELS
    padded = F.pad(images, (pad, pad, pad, pad), mode="replicate")
    offsets = torch.randint(0, 2 * pad + 1, (n, 2), generator=generator)
    rows = offsets[:, 0, None] + torch.arange(height)  # (n, height)
    cols = offsets[:, 1, None] + torch.arange(width)
    index = torch.arange(n)[:, None, None]
    # (n, C, H+2p, W+2p) -> (n, H, W, C) picked per image, back to (n, C, H, W)
    picked = padded.permute(0, 2, 3, 1)[index, rows[:, :, None], cols[:, None, :]]
    return picked.permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)


def _checkpoint(
    epoch: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    history: list[float],
) -> Checkpoint:
    tensors = {f"model.{k}": v.detach().contiguous() for k, v in model.state_dict().items()}
    for index, parameter in enumerate(model.parameters()):
        buffer = optimizer.state.get(parameter, {}).get("momentum_buffer")
        if buffer is not None:
            tensors[f"momentum.{index}"] = buffer.contiguous()
    tensors["generator"] = generator.get_state()
    tensors["history"] = torch.tensor(history, dtype=torch.float64)
    return Checkpoint(epoch, save_tensors(tensors, metadata={"epoch": str(epoch)}))


def _restore(
    checkpoint: Checkpoint,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
) -> tuple[int, list[float]]:
    tensors = load_tensors(checkpoint.data)
    weights = {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}
    model.load_state_dict(weights)
    for index, parameter in enumerate(model.parameters()):
        buffer = tensors.get(f"momentum.{index}")
        if buffer is not None:
            optimizer.state[parameter]["momentum_buffer"] = buffer
    generator.set_state(tensors["generator"])
    return checkpoint.epoch, [float(a) for a in tensors["history"]]


def _fast_forward(scheduler: torch.optim.lr_scheduler.LRScheduler, steps: int) -> None:
    """Bring the schedule to where it was after ``steps`` batches (no weights change)."""
    with warnings.catch_warnings():  # "scheduler.step() before optimizer.step()": on purpose
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(steps):
            scheduler.step()

"""Trained ternary quantization (TTQ, Zhu et al., 2017): each layer's weights become
{-Wn, 0, +Wp} with two scales learned per layer, fine-tuned from the trained network.

As in the paper, the first and the last layer stay full precision; a weight is zero when its
magnitude is under ``THRESHOLD`` times the layer's largest, and the gradients follow the
paper (the scales get the gradients of their weights, averaged rather than summed; latent
weights get theirs scaled by the scale of their region). No runtime here executes ternary
kernels: the result is a size (2 bits a weight, two float32 scales a layer) and an accuracy.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn.utils import parametrize

from artifacts.compression import FLOAT_BYTES, compressible, other_bytes
from artifacts.training import FinalRecipe, optimizer_for, settle_batchnorm, train_epoch

THRESHOLD = 0.05  # the paper's t
TERNARY_BITS = 2


class _Ternarize(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, latent: torch.Tensor, wp: torch.Tensor, wn: torch.Tensor) -> torch.Tensor:
        delta = THRESHOLD * latent.detach().abs().max()
        positive, negative = latent > delta, latent < -delta
        ctx.save_for_backward(positive, negative, wp, wn)
        return wp * positive - wn * negative

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        positive, negative, wp, wn = ctx.saved_tensors
        middle = ~(positive | negative)
        latent = grad * (wp * positive + wn * negative + middle)
        # the paper sums the region's gradients; averaged here, so that an SGD step on a
        # scale does not grow with the layer's size
        grad_wp = (grad * positive).sum() / positive.sum().clamp(min=1)
        grad_wn = -(grad * negative).sum() / negative.sum().clamp(min=1)
        return latent, grad_wp.reshape(wp.shape), grad_wn.reshape(wn.shape)


class Ternary(nn.Module):
    """The parametrization of one layer's weight: latent weights in, ternary weights out."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        delta = THRESHOLD * weight.abs().max()
        above, below = weight[weight > delta], -weight[weight < -delta]
        self.wp = nn.Parameter(above.mean().reshape(1) if above.numel() else torch.ones(1) * delta)
        self.wn = nn.Parameter(below.mean().reshape(1) if below.numel() else torch.ones(1) * delta)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        # magnitudes: with BatchNorm after the layer only their ratio matters, and a free
        # scale can drift through zero, which would flip its weights' signs
        return _Ternarize.apply(latent, self.wp.abs(), self.wn.abs())


@dataclass(frozen=True)
class TernaryNetwork:
    model: nn.Module  # the ternary weights as plain float tensors (exportable)
    bytes: int  # ternary layers at 2 bits and two scales each, the rest float32
    ternary_layers: int


def train_ternary(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, recipe: FinalRecipe, epochs: int
) -> TernaryNetwork:
    """A copy of the trained ``model`` fine-tuned for ``epochs`` with ternary weights."""
    ternary = copy.deepcopy(model)
    layers = compressible(ternary)[1:-1]  # the first and the last stay full precision
    for layer in layers:
        parametrize.register_parametrization(layer, "weight", Ternary(layer.weight.detach()))
    optimizer = optimizer_for(ternary, recipe, recipe.learning_rate / 10)
    steps = max(1, -(-len(labels) // recipe.batch_size) * epochs)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    generator = torch.Generator().manual_seed(recipe.seed + 2)
    for _ in range(epochs):
        train_epoch(ternary, images, labels, optimizer, scheduler, recipe, generator)
    for layer in layers:
        parametrize.remove_parametrizations(layer, "weight", leave_parametrized=True)
    settle_batchnorm(ternary, images, recipe.batch_size)
    coded = sum(-(-layer.weight.numel() * TERNARY_BITS // 8) + 2 * FLOAT_BYTES for layer in layers)
    full = sum(
        layer.weight.numel() * FLOAT_BYTES for layer in set(compressible(ternary)) - set(layers)
    )
    return TernaryNetwork(ternary, coded + full + other_bytes(ternary), len(layers))

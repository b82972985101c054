"""``Arch`` -> ``torch.nn.Module``: every network, reference or searched, is built here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from space.arch import Arch
from space.blocks import (
    Block,
    Conv,
    DepthwiseSeparable,
    Fire,
    InvertedResidual,
    MaxPool,
    ShuffleV1,
    ShuffleV2,
    Skip,
)
from space.modules import (
    Classifier,
    ConvBNAct,
    FireModule,
    Residual,
    ShuffleV1Unit,
    ShuffleV2Unit,
    inverted_residual,
)
from space.shapes import LayerShape, plan_layers, scale_head_channels


def build_layer(layer: LayerShape, width: float) -> nn.Module:
    """The module of one planned layer."""
    return BUILDERS[type(layer.block)](layer.block, layer, width)


# One builder per block kind. Blocks that can carry an identity skip are wrapped in
# ``Residual``; ShuffleNet units, fire modules, skips and pooling handle their own shapes.


def _conv(block: Conv, layer: LayerShape, width: float) -> nn.Module:
    body = ConvBNAct(
        layer.in_channels,
        layer.out_channels,
        block.kernel,
        stride=layer.stride,
        act=block.act,
        bias=block.bias,
        batch_norm=block.batch_norm,
        padding=0 if block.valid_padding else None,
    )
    return Residual(body, layer.residual)


def _separable(block: DepthwiseSeparable, layer: LayerShape, width: float) -> nn.Module:
    cin, s = layer.in_channels, layer.stride
    body = nn.Sequential(
        ConvBNAct(cin, cin, block.kernel, stride=s, groups=cin, act=block.act),
        ConvBNAct(cin, layer.out_channels, 1, act=block.act),
    )
    return Residual(body, layer.residual)


def _inverted(block: InvertedResidual, layer: LayerShape, width: float) -> nn.Module:
    return Residual(inverted_residual(layer), layer.residual)


def _shuffle_v1(block: ShuffleV1, layer: LayerShape, width: float) -> nn.Module:
    return ShuffleV1Unit(layer)


def _shuffle_v2(block: ShuffleV2, layer: LayerShape, width: float) -> nn.Module:
    return ShuffleV2Unit(layer)


def _fire(block: Fire, layer: LayerShape, width: float) -> nn.Module:
    return FireModule(layer, width)


def _skip(block: Skip, layer: LayerShape, width: float) -> nn.Module:
    if layer.residual:
        return nn.Identity()
    cin, cout = layer.in_channels, layer.out_channels
    return ConvBNAct(cin, cout, 1, stride=layer.stride, act=block.act)


def _max_pool(block: MaxPool, layer: LayerShape, width: float) -> nn.Module:
    padding = 0 if block.ceil_mode else block.kernel // 2
    return nn.MaxPool2d(block.kernel, layer.stride, padding, ceil_mode=block.ceil_mode)


BUILDERS: dict[type[Block], Callable[[Any, LayerShape, float], nn.Module]] = {
    Conv: _conv,
    DepthwiseSeparable: _separable,
    InvertedResidual: _inverted,
    ShuffleV1: _shuffle_v1,
    ShuffleV2: _shuffle_v2,
    Fire: _fire,
    Skip: _skip,
    MaxPool: _max_pool,
}


class Network(nn.Module):
    """A built architecture; ``arch`` is kept so every model knows its own string."""

    def __init__(self, arch: Arch) -> None:
        super().__init__()
        self.arch = arch
        plan = plan_layers(arch)
        self.features = nn.Sequential(*(build_layer(layer, arch.width) for layer in plan))
        last = plan[-1].out_channels
        self.head = Classifier(
            arch.head, last, scale_head_channels(arch.head.channels, arch.width), arch.num_classes
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def _initialise(model: nn.Module) -> None:
    """MobileNetV2-style initialisation (Kaiming fan-out convs, small linear weights), with
    the last BatchNorm of every identity residual branch at zero (Goyal et al., 2017): a deep
    candidate then starts as a shallow one and trains within a few-epoch proxy."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0, 0.01)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    for module in model.modules():
        if isinstance(module, Residual) and module.identity:
            norms = [m for m in module.body.modules() if isinstance(m, nn.BatchNorm2d)]
            if norms:
                nn.init.zeros_(norms[-1].weight)


def build_model(arch: Arch, seed: int = 0) -> Network:
    """Build ``arch`` with weights drawn from ``seed``; the global RNG is left untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Network(arch)
        _initialise(model)
    return model

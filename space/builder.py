"""``Arch`` -> ``torch.nn.Module``: every network, reference or searched, is built here."""

from __future__ import annotations

import torch
from torch import nn

from space.arch import Arch
from space.blocks import (
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
    block, cin, cout, s = layer.block, layer.in_channels, layer.out_channels, layer.stride
    if isinstance(block, Conv):
        body: nn.Module = ConvBNAct(
            cin,
            cout,
            block.kernel,
            stride=s,
            act=block.act,
            bias=block.bias,
            batch_norm=block.batch_norm,
            padding=0 if block.valid_padding else None,
        )
    elif isinstance(block, DepthwiseSeparable):
        body = nn.Sequential(
            ConvBNAct(cin, cin, block.kernel, stride=s, groups=cin, act=block.act),
            ConvBNAct(cin, cout, 1, act=block.act),
        )
    elif isinstance(block, InvertedResidual):
        body = inverted_residual(layer)
    elif isinstance(block, ShuffleV1):
        return ShuffleV1Unit(layer)
    elif isinstance(block, ShuffleV2):
        return ShuffleV2Unit(layer)
    elif isinstance(block, Fire):
        return FireModule(layer, width)
    elif isinstance(block, Skip):
        return nn.Identity() if layer.residual else ConvBNAct(cin, cout, 1, stride=s, act=block.act)
    elif isinstance(block, MaxPool):
        padding = 0 if block.ceil_mode else block.kernel // 2
        return nn.MaxPool2d(block.kernel, s, padding, ceil_mode=block.ceil_mode)
    else:  # pragma: no cover - the grammar admits no other kind
        raise TypeError(f"no builder for {block.kind}")
    return Residual(body, layer.residual)


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

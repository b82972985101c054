"""PyTorch modules for each block kind; ``space.builder`` assembles them from a plan."""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from space.blocks import Fire, Head, InvertedResidual, ShuffleV1, ShuffleV2
from space.shapes import LayerShape, expanded_channels, scale_channels, se_channels

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "hswish": nn.Hardswish,
}


def make_activation(name: str) -> nn.Module:
    return _ACTIVATIONS[name]()


class ConvBNAct(nn.Sequential):
    """Conv, then BN and an activation where asked (``act=None`` is a linear conv)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int,
        *,
        stride: int = 1,
        groups: int = 1,
        act: str | None = "relu",
        bias: bool = False,
        batch_norm: bool = True,
        padding: int | None = None,
    ) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(
                in_channels,
                out_channels,
                kernel,
                stride,
                kernel // 2 if padding is None else padding,
                groups=groups,
                bias=bias,
            )
        ]
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        if act is not None:
            layers.append(make_activation(act))
        super().__init__(*layers)


class ChannelShuffle(nn.Module):
    """Interleave channels across ``groups`` so grouped convs see every group (ShuffleNet)."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = x.shape
        x = x.view(batch, self.groups, channels // self.groups, height, width)
        return x.transpose(1, 2).reshape(batch, channels, height, width)


class SqueezeExcite(nn.Module):
    """Channel attention: pool, reduce (bias), act, expand (bias), sigmoid gate."""

    def __init__(self, channels: int, reduced: int, act: str) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, reduced, 1)
        self.act = make_activation(act)
        self.expand = nn.Conv2d(reduced, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = x.mean((2, 3), keepdim=True)
        return x * torch.sigmoid(self.expand(self.act(self.reduce(scale))))


class Residual(nn.Module):
    """``body(x) + x`` when the plan says the identity applies, else ``body(x)``."""

    def __init__(self, body: nn.Module, identity: bool) -> None:
        super().__init__()
        self.body = body
        self.identity = identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + x if self.identity else self.body(x)


def inverted_residual(layer: LayerShape) -> nn.Sequential:
    block = layer.block
    assert isinstance(block, InvertedResidual)
    cin, mid = layer.in_channels, expanded_channels(layer.in_channels, block.expansion)
    parts: list[nn.Module] = []
    if block.expansion != 1 or block.full_expansion:
        parts.append(ConvBNAct(cin, mid, 1, groups=block.groups, act=block.act))
    if block.groups > 1:
        parts.append(ChannelShuffle(block.groups))
    parts.append(ConvBNAct(mid, mid, block.kernel, stride=layer.stride, groups=mid, act=block.act))
    if block.se_ratio > 0:
        parts.append(SqueezeExcite(mid, se_channels(cin, block.se_ratio), block.act))
    parts.append(ConvBNAct(mid, layer.out_channels, 1, groups=block.groups, act=None))
    return nn.Sequential(*parts)


class ShuffleV1Unit(nn.Module):
    """ShuffleNet v1: add the input at equal shape, else concat the avg-pooled input."""

    def __init__(self, layer: LayerShape) -> None:
        super().__init__()
        block = layer.block
        assert isinstance(block, ShuffleV1)
        mid = layer.out_channels // 4
        self.add = layer.residual
        branch_out = layer.out_channels - (0 if self.add else layer.in_channels)
        first_groups = 1 if block.dense_first_pw else block.groups
        parts: list[nn.Module] = [
            ConvBNAct(layer.in_channels, mid, 1, groups=first_groups, act=block.act)
        ]
        if block.groups > 1:
            parts.append(ChannelShuffle(block.groups))
        parts += [
            ConvBNAct(mid, mid, block.kernel, stride=layer.stride, groups=mid, act=None),
            ConvBNAct(mid, branch_out, 1, groups=block.groups, act=None),
        ]
        self.branch = nn.Sequential(*parts)
        self.pool = None if self.add else nn.AvgPool2d(3, layer.stride, 1)
        self.act = make_activation(block.act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool is None:
            return self.act(x + self.branch(x))
        return torch.cat((self.pool(x), self.act(self.branch(x))), 1)


class ShuffleV2Unit(nn.Module):
    """ShuffleNet v2: split + one branch at equal shape, else two branches; concat, shuffle."""

    def __init__(self, layer: LayerShape) -> None:
        super().__init__()
        block = layer.block
        assert isinstance(block, ShuffleV2)
        half, cin, k, s, act = (
            layer.out_channels // 2,
            layer.in_channels,
            block.kernel,
            layer.stride,
            block.act,
        )
        self.split = layer.residual
        self.branch1 = (
            None
            if self.split
            else nn.Sequential(
                ConvBNAct(cin, cin, k, stride=s, groups=cin, act=None),
                ConvBNAct(cin, half, 1, act=act),
            )
        )
        branch_in = half if self.split else cin
        self.branch2 = nn.Sequential(
            ConvBNAct(branch_in, half, 1, act=act),
            ConvBNAct(half, half, k, stride=s, groups=half, act=None),
            ConvBNAct(half, half, 1, act=act),
        )
        self.shuffle = ChannelShuffle(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.branch1 is None:
            kept, x = x.chunk(2, dim=1)
        else:
            kept = self.branch1(x)
        return self.shuffle(torch.cat((kept, self.branch2(x)), 1))


class FireModule(nn.Module):
    """SqueezeNet fire: squeeze 1x1, then concatenated 1x1 and 3x3 expands."""

    def __init__(self, layer: LayerShape, width: float) -> None:
        super().__init__()
        block = layer.block
        assert isinstance(block, Fire)
        squeeze, half = scale_channels(block.squeeze, width), layer.out_channels // 2
        conv = partial(
            ConvBNAct, act=block.act, bias=not block.batch_norm, batch_norm=block.batch_norm
        )
        self.squeeze = conv(layer.in_channels, squeeze, 1, stride=layer.stride)
        self.expand1 = conv(squeeze, half, 1)
        self.expand3 = conv(squeeze, half, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.squeeze(x)
        return torch.cat((self.expand1(x), self.expand3(x)), 1)


class Classifier(nn.Module):
    """The head: [1x1 conv] + global pool + [dropout] + linear, or SqueezeNet's conv classifier."""

    def __init__(self, head: Head, in_channels: int, head_channels: int, classes: int) -> None:
        super().__init__()
        self.conv = (
            ConvBNAct(in_channels, head_channels, 1, act=head.act)
            if head.channels
            else nn.Identity()
        )
        features = head_channels if head.channels else in_channels
        self.dropout = nn.Dropout(head.dropout) if head.dropout else nn.Identity()
        if head.conv_classifier:
            self.classifier: nn.Module = nn.Sequential(
                nn.Conv2d(features, classes, 1), make_activation(head.act)
            )
        else:
            self.classifier = nn.Linear(features, classes, bias=head.fc_bias)
        self.pool_last = head.conv_classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.pool_last:
            return self.classifier(self.dropout(x)).mean((2, 3))
        return self.classifier(self.dropout(x.mean((2, 3))))

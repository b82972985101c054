"""Layer probes: every layer of a network as a one-layer network of its own.

A latency lookup table (FBNet, ProxylessNAS, Once-for-All) prices a network as the sum of its
layers, each timed alone on the device. Here each such layer is itself an ``Arch``: its input
map is the probe's resolution and input channels, the layer is the stem, and the head is the
smallest there is (average pool, a linear layer to one output). So the whole measurement path
(export, queue, latency cache, device agents) times layers unchanged, and a space's probes
are few: the same layer recurs in many networks (1,861 distinct ones cover every network of
the ``mnasnet`` and ``mixed`` spaces at 224x224).

The network's own head is a probe too: its input map, an identity stem, the head. A probe
has one class, which no classifier has; that is how a probe is told from a network.
"""

from __future__ import annotations

import random
from dataclasses import fields, replace

from space.arch import Arch
from space.blocks import Block, Head, MaxPool, Skip
from space.errors import SearchSpaceError
from space.shapes import LayerShape, plan_layers, scale_head_channels
from space.spaces import SearchSpace

PROBE_CLASSES = 1
SATURATION_SAMPLES = 2_000  # enumeration stops after this many samples bring no new probe
MAX_ENUMERATION_SAMPLES = 200_000


def _single(block: Block, stride: int) -> Block:
    """``block`` as one layer with the given stride (the first repeat of a stage downsamples,
    the others do not)."""
    names = {f.name for f in fields(block)}
    changes: dict[str, int] = {}
    if "repeats" in names:
        changes["repeats"] = 1
    if "stride" in names:
        changes["stride"] = stride
    return replace(block, **changes)


def _identity_stem(channels: int, size: int, *rest: Block, head: Head) -> Arch:
    """A probe whose stem passes its input through (for what cannot be a stem itself)."""
    return Arch(
        resolution=size,
        width=1.0,
        layers=(Skip(channels=channels, stride=1), *rest),
        head=head,
        in_channels=channels,
        num_classes=PROBE_CLASSES,
    )


def layer_probe(layer: LayerShape, width: float) -> Arch:
    """The one-layer network that times ``layer`` of a network with this width multiplier."""
    block = _single(layer.block, layer.stride)
    if isinstance(block, MaxPool):  # a stem must have weights; pooling costs the same anyway
        return _identity_stem(layer.in_channels, layer.in_size, block, head=Head())
    return Arch(
        resolution=layer.in_size,
        width=width,
        layers=(block,),
        head=Head(),
        in_channels=layer.in_channels,
        num_classes=PROBE_CLASSES,
    )


def head_probe(arch: Arch) -> Arch:
    """The network that times ``arch``'s head (its conv scaled as the width multiplier does;
    the classifier to one output differs from the real one by a constant per space)."""
    last = plan_layers(arch)[-1]
    channels = scale_head_channels(arch.head.channels, arch.width) if arch.head.channels else 0
    head = replace(arch.head, channels=channels, dropout=0.0)
    return _identity_stem(last.out_channels, last.out_size, head=head)


def layer_probes(arch: Arch) -> tuple[Arch, ...]:
    """One probe per layer of ``arch``, in order, then its head's."""
    return (*(layer_probe(layer, arch.width) for layer in plan_layers(arch)), head_probe(arch))


PROBE_MARK = f"_n{PROBE_CLASSES}:"  # the end of a probe's header in its canonical string


def is_probe(arch: Arch) -> bool:
    return arch.num_classes == PROBE_CLASSES


def space_probes(space: SearchSpace, limit: int, seed: int = 0) -> list[Arch]:
    """Every distinct probe of ``space``, found by sampling it until ``SATURATION_SAMPLES``
    samples in a row bring none new (a factorized space repeats each stage's few layer
    choices; 3,000 samples of ``mixed`` found all but one of the 1,858 that 40,000 found).

    Raises ``SearchSpaceError`` when there are more than ``limit``."""
    rng = random.Random(seed)
    found: dict[str, Arch] = {}
    quiet = 0
    for _ in range(MAX_ENUMERATION_SAMPLES):
        before = len(found)
        for probe in layer_probes(space.decode(space.sample(rng))):
            found.setdefault(probe.hash, probe)
        quiet = 0 if len(found) > before else quiet + 1
        if len(found) > limit:
            raise SearchSpaceError(f"the space has more than {limit} distinct layers")
        if quiet >= SATURATION_SAMPLES:
            break
    return list(found.values())

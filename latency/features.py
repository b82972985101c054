"""Per-layer latency features: an architecture as sums over its operators, grouped by kind.

A runtime executes primitives (convolutions, adds, shuffles, ...) one after another, so a
network's latency is close to the sum of its primitives' costs, and a primitive's cost is close
to linear in its work (multiply-adds), its memory traffic (feature maps read and written, and
weights read: on the FBNet gold Xeon they took the coarsest level from 3.8% to 2.6% error at
100 measurements) and a fixed launch overhead, with coefficients that depend on the kind of
kernel the runtime picks. Grouping primitives by that kind and summing count, MACs, map values
and weights per group turns "a per-layer cost table" into a linear model with a handful of
coefficients per group, which few measurements can fit.

How finely to group is a trade between bias and variance, so there are levels (chosen per
device by cross-validation in ``latency.predictor``):

- ``kind``: convolution flavour (dense, pointwise, grouped, depthwise), kernel and stride;
- ``narrow``: also whether the input and output are narrower than two vectors of channels:
  CPU and phone kernels block channels by the vector width, and a layer that cannot fill two
  blocks runs a slower path (on the FBNet Xeons a 24-channel block costs more than a
  72-channel one);
- ``sized``: also the output map size (cache behaviour).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum
from functools import lru_cache

import numpy as np

from space import Arch
from space.profiler import Primitive, primitives

WIDE_CHANNELS = 32  # two AVX-512 vectors of floats (four of AVX2, eight of NEON)
STATS = ("count", "mmacs", "mvalues", "mweights")


class FeatureLevel(StrEnum):
    KIND = "kind"
    NARROW = "narrow"
    SIZED = "sized"
    NESTED = "nested"  # all three at once: finer groups learn deviations from coarser ones


def conv_flavour(p: Primitive) -> str:
    if p.groups > 1 and p.groups == p.in_channels == p.out_channels:
        return "depthwise"
    if p.groups > 1:
        return "grouped"
    return "pointwise" if p.kernel == 1 else "dense"


def group_key(p: Primitive, level: FeatureLevel) -> str:
    """The group a primitive's cost is pooled in, e.g. ``depthwise_k5_s2_w10_m8``."""
    kind = conv_flavour(p) if p.op == "conv" else p.op
    stride = max(1, p.in_size // max(1, p.out_size))
    key = f"{kind}_k{p.kernel}_s{stride}"
    if level is not FeatureLevel.KIND:
        key += f"_w{int(p.in_channels >= WIDE_CHANNELS)}{int(p.out_channels >= WIDE_CHANNELS)}"
    if level is FeatureLevel.SIZED:
        key += f"_m{p.out_size}"
    return key


ArchFeatures = dict[FeatureLevel, dict[str, float]]
BASE_LEVELS = (FeatureLevel.KIND, FeatureLevel.NARROW, FeatureLevel.SIZED)


@lru_cache(maxsize=1024)
def features_of(arch: Arch) -> ArchFeatures:
    """``{level: {group.stat: value}}`` for one architecture (MACs, values and weights in millions),
    every level from one walk over its primitives; cached, so callers must not change it."""
    out: ArchFeatures = {level: {} for level in BASE_LEVELS}
    for p in primitives(arch):
        values = (1.0, p.macs / 1e6, p.activation_values / 1e6, p.weights / 1e6)
        for level in BASE_LEVELS:
            sums, key = out[level], group_key(p, level)
            for stat, value in zip(STATS, values, strict=True):
                sums[f"{key}.{stat}"] = sums.get(f"{key}.{stat}", 0.0) + value
    out[FeatureLevel.NESTED] = {k: v for level in BASE_LEVELS for k, v in out[level].items()}
    return out


class FeatureMap:
    """Fixed column order for one level, taken from the architectures a model is fitted on.

    Groups that no fitted architecture contains get no column: their cost is unknown, which the
    predictor's uncertainty (the fold models' disagreement) has to carry.
    """

    def __init__(self, level: FeatureLevel, table: Iterable[ArchFeatures]) -> None:
        self.level = level
        names: set[str] = set()
        for features in table:
            names.update(name for name, value in features[level].items() if value)
        self.columns = sorted(names)
        self._index = {name: i for i, name in enumerate(self.columns)}

    def matrix(self, table: Sequence[ArchFeatures]) -> np.ndarray:
        rows = np.zeros((len(table), len(self.columns)))
        for i, features in enumerate(table):
            for name, value in features[self.level].items():
                j = self._index.get(name)
                if j is not None:
                    rows[i, j] = value
        return rows

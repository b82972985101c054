"""Which architectures to measure first: spread over the space, not picked at random.

A predictor learns one coefficient per kind of operator; random picks leave rare kinds (a
grouped conv, a 7x7 depthwise at stride 2) unmeasured and so unpriced. Farthest-point sampling
on the standardized per-kind features (k-center greedy) covers every kind and mix early.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from latency.features import FeatureLevel, FeatureMap, features_of
from space import Arch


def diverse_subset(archs: Sequence[Arch], k: int, *, seed: int = 0) -> list[int]:
    """Indices of ``k`` of ``archs`` that cover the space (the first one drawn by ``seed``)."""
    if k <= 0 or not archs:
        return []
    table = [features_of(arch) for arch in archs]
    points = FeatureMap(FeatureLevel.KIND, table).matrix(table)
    scale = points.std(axis=0)
    points = (points - points.mean(axis=0)) / np.where(scale > 0, scale, 1.0)
    pick = int(np.random.default_rng(seed).integers(len(archs)))
    chosen = [pick]
    distance = np.linalg.norm(points - points[pick], axis=1)
    distance[pick] = -1.0  # never chosen twice, even among identical networks
    for _ in range(min(k, len(archs)) - 1):
        pick = int(np.argmax(distance))
        chosen.append(pick)
        distance = np.minimum(distance, np.linalg.norm(points - points[pick], axis=1))
        distance[chosen] = -1.0
    return chosen

"""Which architectures to measure first: spread over the space, not picked at random.

A predictor learns one coefficient per kind of operator; random picks leave rare kinds (a
grouped conv, a 7x7 depthwise at stride 2) unmeasured and so unpriced. Farthest-point sampling
on the standardized per-kind features (k-center greedy) covers every kind and mix early.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.spatial.distance import cdist

from latency.features import FeatureLevel, FeatureMap, features_of
from space import Arch


def diverse_subset(
    archs: Sequence[Arch], k: int, *, already: Sequence[Arch] = (), seed: int = 0
) -> list[int]:
    """Indices of ``k`` of ``archs`` that, with ``already`` measured ones, cover the space."""
    if k <= 0 or not archs:
        return []
    table = [features_of(arch) for arch in (*archs, *already)]
    points = FeatureMap(FeatureLevel.KIND, table).matrix(table)
    scale = points.std(axis=0)
    points = (points - points.mean(axis=0)) / np.where(scale > 0, scale, 1.0)
    candidates, measured = points[: len(archs)], points[len(archs) :]
    if len(measured):
        distance = cdist(candidates, measured).min(axis=1)
    else:
        distance = np.full(len(archs), np.inf)
        distance[np.random.default_rng(seed).integers(len(archs))] = np.finfo(float).max
    chosen: list[int] = []
    for _ in range(min(k, len(archs))):
        pick = int(np.argmax(distance))
        chosen.append(pick)
        distance = np.minimum(distance, np.linalg.norm(candidates - candidates[pick], axis=1))
        distance[pick] = -1.0
    return chosen

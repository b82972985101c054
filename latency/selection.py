"""Which architectures to measure first: the ones that teach the predictor most.

The predictor is linear in per-kind sums (``latency.features``), so how much a set of
measurements pins its coefficients down is a property of the design matrix alone, known before
anything is timed. Greedy D-optimal design adds, one at a time, the architecture whose features
the measurements so far explain least (the largest leverage ``x' (X'X + I)^-1 x`` on
standardized features). That covers rare kinds of operator first, as farthest-point sampling
does, but it also spreads the picks over mixes of kinds rather than piling them on the extremes:
on the FBNet Xeons it cut the spread of the error over seeds at 100 measurements by half.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from latency.features import FeatureLevel, FeatureMap, features_of
from space import Arch

PRIOR = 1.0  # the ridge in (X'X + PRIOR*I): before any pick, every direction counts the same


def _standardized(archs: Sequence[Arch]) -> np.ndarray:
    table = [features_of(arch) for arch in archs]
    points = FeatureMap(FeatureLevel.NARROW, table).matrix(table)
    scale = points.std(axis=0)
    points = (points - points.mean(axis=0)) / np.where(scale > 0, scale, 1.0)
    return np.column_stack([points, np.ones(len(points))])  # the intercept is a direction too


def informative_subset(archs: Sequence[Arch], k: int, *, seed: int = 0) -> list[int]:
    """Indices of ``k`` of ``archs`` to measure first (the first one drawn by ``seed``)."""
    if k <= 0 or not archs:
        return []
    points = _standardized(archs)
    inverse = np.eye(points.shape[1]) / PRIOR  # (X'X + PRIOR*I)^-1 of the picks so far
    leverage = np.einsum("ij,ij->i", points, points) / PRIOR  # x' inverse x, row by row
    pick = int(np.random.default_rng(seed).integers(len(archs)))
    chosen: list[int] = []
    for _ in range(min(k, len(archs))):
        chosen.append(pick)
        # Sherman-Morrison: one row added updates the inverse and every leverage in O(n d)
        projected = inverse @ points[pick]
        scale = 1.0 + points[pick] @ projected
        inverse -= np.outer(projected, projected) / scale
        leverage -= (points @ projected) ** 2 / scale
        leverage[chosen] = -np.inf  # never chosen twice, even among identical networks
        pick = int(np.argmax(leverage))
    return chosen

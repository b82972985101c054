"""Pareto utilities: non-dominated sorting, hypervolume and the front over time.

Points are objective vectors; ``maximize[i]`` says which way objective ``i`` improves
(accuracy up, latency down). The hypervolume is the volume dominated by the points and bounded
by a reference point that every counted point must strictly beat; EdgeNAS's reference for
(accuracy, latency per device, ...) is accuracy 0 and, for each cost, the search's own bound
(the latency target, or 2x the largest value seen when there is none): see
:func:`reference_point`. Points that do not beat it add nothing.

The hypervolume is exact: a sweep in two dimensions, slices of sweeps in three, and WFG (While,
Bradstreet and Barone 2012: the sum of each point's exclusive volume, computed on the "limit
set" of the points after it) above three.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Point = Sequence[float]


def _as_minimization(points: Sequence[Point], maximize: Sequence[bool]) -> np.ndarray:
    signs = np.array([-1.0 if up else 1.0 for up in maximize])
    array = np.asarray(points, dtype=float).reshape(len(points), len(maximize))
    return array * signs


def dominates(a: Point, b: Point, maximize: Sequence[bool]) -> bool:
    """``a`` is at least as good as ``b`` everywhere and better somewhere."""
    x, y = _as_minimization([a, b], maximize)
    return bool(np.all(x <= y) and np.any(x < y))


def non_dominated_sort(points: Sequence[Point], maximize: Sequence[bool]) -> list[list[int]]:
    """Indices of ``points`` by front: front 0 is the Pareto front, front 1 what is left
    dominated only by front 0, and so on (Deb et al.'s fast non-dominated sort)."""
    values = _as_minimization(points, maximize)
    count = len(values)
    dominated_by = [0] * count
    dominating: list[list[int]] = [[] for _ in range(count)]
    for i in range(count):
        better = np.all(values[i] <= values, axis=1) & np.any(values[i] < values, axis=1)
        dominating[i] = np.flatnonzero(better).tolist()
        for j in dominating[i]:
            dominated_by[j] += 1
    fronts: list[list[int]] = []
    current = [i for i in range(count) if dominated_by[i] == 0]
    while current:
        fronts.append(current)
        following = []
        for i in current:
            for j in dominating[i]:
                dominated_by[j] -= 1
                if dominated_by[j] == 0:
                    following.append(j)
        current = sorted(following)
    return fronts


def pareto_front(points: Sequence[Point], maximize: Sequence[bool]) -> list[int]:
    """Indices of the non-dominated points, in order: front 0 of ``non_dominated_sort``
    without sorting the rest (a long search asks for it often). A point can only be dominated
    by one before it in lexicographic order, and if by any point then by a front member."""
    if not len(points):
        return []
    values = _as_minimization(points, maximize)
    front: list[int] = []
    for i in np.lexsort(values.T[::-1]):
        members = values[front]
        if not np.any(np.all(members <= values[i], axis=1) & np.any(members < values[i], axis=1)):
            front.append(int(i))
    return sorted(front)


def reference_point(
    maximize: Sequence[bool], cost_bounds: Sequence[float | None], seen: Sequence[Point]
) -> list[float]:
    """0 for each maximized objective (accuracy); for each minimized one its bound, or 2x the
    largest value seen when it has none."""
    largest = np.asarray(seen, dtype=float).max(axis=0) if len(seen) else None
    reference = []
    for i, up in enumerate(maximize):
        if up:
            reference.append(0.0)
        elif (bound := cost_bounds[i]) is not None:
            reference.append(float(bound))
        else:
            reference.append(2.0 * float(largest[i]) if largest is not None else 1.0)
    return reference


def hypervolume(points: Sequence[Point], maximize: Sequence[bool], reference: Point) -> float:
    """Volume dominated by ``points`` inside the box bounded by ``reference``."""
    if not len(points):
        return 0.0
    values = _as_minimization(points, maximize)
    bound = _as_minimization([reference], maximize)[0]
    inside = values[np.all(values < bound, axis=1)]
    if not len(inside):
        return 0.0
    return _volume(_minimal(inside), bound)


def _minimal(values: np.ndarray) -> np.ndarray:
    """The non-dominated rows of ``values`` (every objective minimized), duplicates once."""
    unique = np.unique(values, axis=0)
    dominated = [
        bool(np.any(np.all(unique <= row, axis=1) & np.any(unique < row, axis=1))) for row in unique
    ]
    return unique[np.logical_not(dominated)]


def _volume(values: np.ndarray, bound: np.ndarray) -> float:
    """The volume non-dominated ``values``, all strictly below ``bound``, dominate."""
    dimensions = values.shape[1]
    if dimensions == 1:
        return float(bound[0] - values[:, 0].min())
    if dimensions == 2:
        return _area(values, bound)
    if dimensions == 3:
        return _slices(values, bound)
    return _wfg(values, bound)


def _area(values: np.ndarray, bound: np.ndarray) -> float:
    """Two objectives: sweep by the first; each point lower in the second adds a rectangle."""
    area, lowest = 0.0, float(bound[1])
    for x, y in values[np.argsort(values[:, 0], kind="stable")]:
        if y < lowest:
            area += (float(bound[0]) - x) * (lowest - y)
            lowest = float(y)
    return area


def _slices(values: np.ndarray, bound: np.ndarray) -> float:
    """Three objectives: by the third, each slab's area is that of the points below it."""
    ordered = values[np.argsort(values[:, 2], kind="stable")]
    tops = [*ordered[1:, 2], bound[2]]
    return sum(
        _area(ordered[: i + 1, :2], bound[:2]) * float(top - ordered[i, 2])
        for i, top in enumerate(tops)
        if top > ordered[i, 2]
    )


def _wfg(values: np.ndarray, bound: np.ndarray) -> float:
    """Each point's exclusive volume: its box less what the points after it already cover
    inside that box (their component-wise maxima with it, the limit set)."""
    ordered = values[np.argsort(values[:, -1], kind="stable")[::-1]]
    total = 0.0
    for i, point in enumerate(ordered):
        box = float(np.prod(bound - point))
        later = ordered[i + 1 :]
        if len(later):
            box -= _volume(_minimal(np.maximum(later, point)), bound)
        total += box
    return total


def hypervolume_over_time(
    points: Sequence[Point], maximize: Sequence[bool], reference: Point
) -> list[float]:
    """Hypervolume of the first 1, 2, ..., n points (in the order the trials finished)."""
    return [hypervolume(points[: n + 1], maximize, reference) for n in range(len(points))]

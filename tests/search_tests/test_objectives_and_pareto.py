"""The MnasNet reward and the Pareto utilities, against values worked out by hand."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from search.objectives import MnasReward
from search.pareto import (
    dominates,
    hypervolume,
    hypervolume_over_time,
    non_dominated_sort,
    pareto_front,
    reference_point,
)

UP_DOWN = (True, False)  # accuracy up, latency down


def test_hard_reward_penalises_only_missed_targets() -> None:
    hard = MnasReward.preset("hard", {"phone": 80.0})
    assert hard(0.8, {"phone": 40.0}) == pytest.approx(0.8)  # alpha = 0: no bonus
    assert hard(0.8, {"phone": 160.0}) == pytest.approx(0.4)  # beta = -1: 2x slower halves it


def test_soft_reward_trades_smoothly_and_devices_multiply() -> None:
    soft = MnasReward.preset("soft", {"phone": 80.0, "jetson": 10.0})
    value = soft(0.75, {"phone": 160.0, "jetson": 5.0})
    assert value == pytest.approx(0.75 * 2**-0.07 * 0.5**-0.07)
    assert soft(0.75, {"phone": 80.0, "jetson": 10.0}) == pytest.approx(0.75)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: MnasReward({}), "at least one device"),
        (lambda: MnasReward({"phone": 0.0}), "must be > 0"),
        (lambda: MnasReward({"phone": 10.0}, alpha=0.1), "alpha and beta"),
        (lambda: MnasReward.preset("gentle", {"phone": 10.0}), "unknown reward preset"),
        (lambda: MnasReward({"phone": 10.0})(0.9, {"pc": 1.0}), "no latency for device 'phone'"),
        (lambda: MnasReward({"phone": 10.0})(1.5, {"phone": 1.0}), "not in"),
    ],
)
def test_bad_reward_input_is_refused(build, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_non_dominated_sort_by_hand() -> None:
    points = [(0.9, 10.0), (0.8, 5.0), (0.85, 12.0), (0.7, 20.0), (0.9, 10.0)]
    fronts = non_dominated_sort(points, UP_DOWN)
    assert fronts == [[0, 1, 4], [2], [3]]
    assert pareto_front(points, UP_DOWN) == [0, 1, 4]
    assert dominates((0.9, 10.0), (0.85, 12.0), UP_DOWN)
    assert not dominates((0.9, 10.0), (0.9, 10.0), UP_DOWN)


@pytest.mark.parametrize("objectives", [2, 3, 4])
def test_the_front_alone_is_front_zero_of_the_full_sort(objectives: int) -> None:
    generator = np.random.default_rng(objectives)
    points = generator.integers(0, 6, size=(300, objectives)).astype(float).tolist()  # ties
    maximize = [True] + [False] * (objectives - 1)
    assert pareto_front(points, maximize) == non_dominated_sort(points, maximize)[0]


def test_hypervolume_by_hand() -> None:
    reference = (0.0, 20.0)
    # (0.9, 10): 0.9 x 10 = 9; (0.8, 5) adds 0.8 x 5 = 4 below latency 10; total 13
    assert hypervolume([(0.9, 10.0), (0.8, 5.0)], UP_DOWN, reference) == pytest.approx(13.0)
    assert hypervolume([(0.9, 25.0)], UP_DOWN, reference) == 0.0  # misses the reference
    three = hypervolume([(0.5, 1.0, 1.0)], (True, False, False), (0.0, 2.0, 2.0))
    assert three == pytest.approx(0.5)


def test_hypervolume_over_time_never_falls() -> None:
    points = [(0.5, 15.0), (0.7, 18.0), (0.6, 16.0), (0.9, 5.0)]
    history = hypervolume_over_time(points, UP_DOWN, (0.0, 20.0))
    assert history == sorted(history) and history[-1] == pytest.approx(0.9 * 15 + 0.7 * 0)
    assert math.isclose(history[0], 0.5 * 5)


def test_reference_point_uses_bounds_or_twice_the_worst() -> None:
    seen = [(0.8, 12.0, 1000.0), (0.6, 30.0, 4000.0)]
    assert reference_point((True, False, False), (None, 25.0, None), seen) == [0.0, 25.0, 8000.0]


def _grid_hypervolume(points: np.ndarray, reference: np.ndarray) -> float:
    """Brute force: cut space at every coordinate; a cell counts when a point dominates its
    lower corner (every objective minimized)."""
    axes = [np.unique(np.append(points[:, d], reference[d])) for d in range(points.shape[1])]
    total = 0.0
    for cell in itertools.product(*(range(len(a) - 1) for a in axes)):
        corner = np.array([axes[d][i] for d, i in enumerate(cell)])
        if np.any(np.all(points <= corner, axis=1)):
            total += float(np.prod([axes[d][i + 1] - axes[d][i] for d, i in enumerate(cell)]))
    return total


@pytest.mark.parametrize("objectives", [2, 3, 4, 5])
def test_hypervolume_matches_brute_force_on_random_fronts(objectives: int) -> None:
    rng = np.random.default_rng(objectives)
    minimize = [False] * objectives
    for _ in range(25):
        count = int(rng.integers(1, 9))
        points = rng.integers(0, 6, size=(count, objectives)).astype(float)  # ties included
        reference = np.full(objectives, 6.0)
        expected = _grid_hypervolume(points, reference)
        assert hypervolume(points.tolist(), minimize, reference.tolist()) == pytest.approx(expected)

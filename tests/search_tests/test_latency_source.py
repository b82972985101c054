"""Which trained candidates a hybrid search measures: the optimistic point against the front."""

from __future__ import annotations

from search.early_stop import Curve
from search.latency_source import OPTIMISM_Z, LatencyEstimate, could_join_front

FRONT = [
    Curve((0.5, 0.9), {"phone": 10.0, "cpu": 2.0}),
    Curve((0.6, 0.95), {"phone": 20.0, "cpu": 3.0}),
]
DEVICES = ("phone", "cpu")


def test_optimistic_lowers_only_predicted_devices_and_never_below_zero() -> None:
    estimate = LatencyEstimate({"phone": 12.0, "cpu": 2.5}, std_ms={"phone": 1.0})
    assert estimate.predicted == ("phone",)
    assert estimate.optimistic() == {"phone": 12.0 - OPTIMISM_Z, "cpu": 2.5}
    assert LatencyEstimate({"phone": 1.0}, {"phone": 5.0}).optimistic() == {"phone": 0.0}


def test_a_point_a_member_beats_everywhere_cannot_join() -> None:
    assert not could_join_front(0.85, {"phone": 11.0, "cpu": 2.1}, DEVICES, FRONT)
    assert not could_join_front(0.9, {"phone": 10.0, "cpu": 2.5}, DEVICES, FRONT)


def test_a_tie_with_a_member_could_join_beside_it() -> None:
    assert could_join_front(0.9, {"phone": 10.0, "cpu": 2.0}, DEVICES, FRONT)


def test_better_on_any_objective_could_join() -> None:
    assert could_join_front(0.92, {"phone": 11.0, "cpu": 2.1}, DEVICES, FRONT)  # more accurate
    assert could_join_front(0.85, {"phone": 9.0, "cpu": 2.1}, DEVICES, FRONT)  # faster on one
    assert could_join_front(0.1, {"phone": 0.0, "cpu": 0.0}, DEVICES, FRONT)
    assert could_join_front(0.0, {"phone": 50.0, "cpu": 9.0}, DEVICES, [])  # no front yet

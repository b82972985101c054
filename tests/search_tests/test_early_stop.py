"""The pareto early stop's replay: the epochs it saves and the front members it would stop."""

from __future__ import annotations

from search.early_stop import Curve, current_front, replay


def curve(accuracies: tuple[float, ...], ms: float, feasible: bool = True) -> Curve:
    return Curve(accuracies, {"cpu": ms}, feasible)


def test_front_is_the_feasible_non_dominated_set() -> None:
    fast, slow, dominated = curve((0.5, 0.8), 1.0), curve((0.6, 0.9), 2.0), curve((0.4, 0.7), 3.0)
    infeasible = curve((0.9, 0.99), 0.5, feasible=False)
    assert current_front([fast, slow, dominated, infeasible]) == [fast, slow]
    assert current_front([]) == []


def test_replay_counts_saved_epochs_and_stopped_front_members() -> None:
    curves = [
        curve((0.60, 0.80, 0.90), 1.0),  # first: nothing to compare with
        curve((0.40, 0.60, 0.70), 2.0),  # slower and 0.20 behind after epoch one: stops there
        curve((0.50, 0.86, 0.95), 3.0),  # behind after epoch one by 0.10, but a late bloomer
        curve((0.58, 0.79, 0.89), 1.5),  # within the margin at every epoch: runs to the end
    ]
    result = replay(curves, margin=0.05)
    assert result.trials == 4 and result.epochs_trained == 12
    assert result.stopped == 2 and result.epochs_saved == 4  # epochs 2 and 3 of two curves
    assert result.front_size == 2  # the first curve and the late bloomer
    assert result.front_members_stopped == 1  # the rule would have lost the late bloomer
    assert result.saved_share == 4 / 12


def test_replay_without_a_front_saves_nothing() -> None:
    result = replay([curve((0.5, 0.9), 1.0)], margin=0.05)
    assert result.epochs_saved == 0 and result.front_members_stopped == 0

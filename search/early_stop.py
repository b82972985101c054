"""Pareto mode's early stop, and its replay on a search that ran without it.

Optuna cannot prune multi-objective studies, so pareto mode stops a candidate itself. Its
latency is known before training starts; after each epoch its accuracy is compared with the
current front's members *at the same epoch* (their recorded curves), as successive halving
compares at equal budgets: a member at least as fast on every device and ``margin`` more
accurate at that epoch dominates the candidate clearly, and the candidate stops. Comparing
finished members with a candidate's first epoch instead would stop nearly everything: after
one epoch of three, accuracies sit 10-40 points below their final value (benchmarks/evaluator).

``replay`` applies the rule afterwards to curves recorded without it and counts the epochs it
would have saved and the final front members it would have stopped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import optuna
from optuna.trial import FrozenTrial

from search.pareto import pareto_front
from search.strategies import violation
from search.trial_record import TrialAttrs


@dataclass(frozen=True)
class Curve:
    """A trained candidate as the early stop sees it."""

    epoch_accuracies: tuple[float, ...]
    latency_ms: Mapping[str, float]
    feasible: bool = True

    def accuracy_at(self, epoch: int) -> float:
        """Accuracy after ``epoch`` (0-based); a shorter curve's last value beyond its end."""
        return self.epoch_accuracies[min(epoch, len(self.epoch_accuracies) - 1)]


def current_front(curves: Sequence[Curve]) -> list[Curve]:
    """The feasible curves that no other feasible curve dominates (final accuracy up,
    latency down on every device)."""
    pool = [c for c in curves if c.feasible]
    if not pool:
        return []
    devices = sorted(pool[0].latency_ms)
    points = [(c.epoch_accuracies[-1], *(c.latency_ms[d] for d in devices)) for c in pool]
    return [pool[i] for i in pareto_front(points, [True] + [False] * len(devices))]


def clearly_dominated(
    epoch: int,
    accuracy: float,
    latency_ms: Mapping[str, float],
    front: Sequence[Curve],
    margin: float,
) -> bool:
    """Whether a front member is as fast everywhere and ``margin`` more accurate at ``epoch``."""
    return any(
        member.accuracy_at(epoch) >= accuracy + margin
        and all(member.latency_ms[d] <= ms for d, ms in latency_ms.items())
        for member in front
    )


@dataclass(frozen=True)
class Replay:
    """What the early stop would have done to a search recorded without it."""

    trials: int
    epochs_trained: int
    epochs_saved: int
    stopped: int
    front_size: int
    front_members_stopped: int

    @property
    def saved_share(self) -> float:
        return self.epochs_saved / self.epochs_trained if self.epochs_trained else 0.0


def replay(curves: Sequence[Curve], margin: float) -> Replay:
    """Run the rule over ``curves`` in their search order, as the loop would have."""
    recorded: list[Curve] = []  # the full curves of the candidates the rule let finish
    stopped_at: dict[int, int] = {}
    for index, curve in enumerate(curves):
        front = current_front(recorded)
        for epoch in range(len(curve.epoch_accuracies) - 1):  # the last epoch always runs
            if clearly_dominated(
                epoch, curve.epoch_accuracies[epoch], curve.latency_ms, front, margin
            ):
                stopped_at[index] = epoch + 1
                break
        else:
            recorded.append(curve)
    final_front = current_front(curves)
    stopped_curves = [curves[i] for i in stopped_at]
    return Replay(
        trials=len(curves),
        epochs_trained=sum(len(c.epoch_accuracies) for c in curves),
        epochs_saved=sum(len(curves[i].epoch_accuracies) - e for i, e in stopped_at.items()),
        stopped=len(stopped_at),
        front_size=len(final_front),
        front_members_stopped=sum(
            any(member is c for c in stopped_curves) for member in final_front
        ),
    )


class StudyFront:
    """The front of a study's fully trained candidates, as the early stop compares them
    (``Candidate.front``). Whoever proposes keeps one and it takes in only the trials finished
    since it last looked, so a proposal at trial 10,000 does not rebuild the front from every
    trial before it (benchmarks/control_plane.py)."""

    def __init__(self) -> None:
        self._seen: set[int] = set()
        self._front: list[Curve] = []

    def current(self, study: optuna.Study) -> tuple[Curve, ...]:
        complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        new = [trial for trial in complete if trial.number not in self._seen]
        if new:
            self._seen.update(trial.number for trial in new)
            self._front = current_front(self._front + _curves(new))
        return tuple(self._front)


def _curves(complete: Sequence[FrozenTrial]) -> list[Curve]:
    """The fully trained candidates among ``complete`` trials, as the early stop compares
    them."""
    stored = [(TrialAttrs.of(t), violation(t)) for t in complete]
    return [
        Curve(attrs.epoch_accuracies, attrs.latency_ms, feasible=excess <= 0)
        for attrs, excess in stored
        if not attrs.stopped_early
    ]

"""What a trial of a search stores, defined once.

A trial lives in its Optuna study: the sampler's parameters, the objective values, the
constraints, and EdgeNAS's user attributes. ``TrialAttrs`` is those attributes typed, and the
``store_*`` functions are the only writers, one per stage of a trial (proposed, evaluated,
failed, retried). Each stage is one user attribute named after it (``proposal``,
``evaluation``) holding that stage's fields by name, because every attribute is a transaction
of its own in Optuna's storage (benchmarks/control_plane.py); attributes stored one field per
key, as studies made before that have them, read the same. ``TrialRecord`` is the whole trial as
everything downstream reads it (the search loop, the job runner, the REST routes, the result
files), built from a finished trial by ``record_of``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, cast

import optuna
from optuna.trial import FrozenTrial, TrialState

from search.precision import Precision, weight_bytes
from search.strategies import violation
from space import parse_arch


@dataclass(frozen=True)
class TrialAttrs:
    """A trial's user attributes; each field name is its Optuna attribute key."""

    arch: str = ""  # the canonical architecture string
    params: int = 0
    macs: int = 0
    zero_cost: float | None = None  # the zero-cost proxy's score, when the search has one
    screened_out: bool = False  # skipped by the zero-cost pre-screen (no latency, no training)
    latency_ms: Mapping[str, float] = field(default_factory=dict)  # kept latency per device
    predicted_ms: Mapping[str, float] = field(default_factory=dict)  # every prediction made
    latency_predicted: tuple[str, ...] = ()  # devices whose kept latency is a prediction
    epoch_accuracies: tuple[float, ...] = ()  # held-out accuracy after every epoch trained
    stopped_early: bool = False
    error: str | None = None  # why the evaluation failed
    retry_of: int | None = None  # the abandoned trial this one runs again
    evaluated_on: str | None = None  # the id of the Ray node that evaluated it
    # per precision below fp32: {"accuracy", "latency_ms", "feasible"} (``search.precision``)
    low_precision: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def of(cls, trial: FrozenTrial) -> TrialAttrs:
        """The attributes ``trial`` stores (JSON lists come back as tuples)."""
        stored = dict(trial.user_attrs)
        for stage in STAGES:
            stored |= stored.pop(stage, {})
        values = {f.name: stored[f.name] for f in fields(cls) if f.name in stored}
        for name in ("latency_predicted", "epoch_accuracies"):
            if name in values:
                values[name] = tuple(values[name])
        return cls(**values)


KEYS = frozenset(f.name for f in fields(TrialAttrs))
STAGES = ("proposal", "evaluation")  # the attributes that hold several fields


def _store(trial: optuna.Trial, stage: str, **values: Any) -> None:
    """One attribute: ``stage`` holding ``values`` (None values left out), or a stage of one
    field holding its value."""
    unknown = set(values) - KEYS
    if unknown:
        raise KeyError(f"not trial attributes: {sorted(unknown)}")
    kept = {key: value for key, value in values.items() if value is not None}
    trial.set_user_attr(stage, kept if stage in STAGES else kept[stage])


def store_proposal(
    trial: optuna.Trial, *, arch: str, params: int, macs: int, zero_cost: float | None
) -> None:
    """What is known once a candidate is decoded and profiled."""
    _store(trial, "proposal", arch=arch, params=params, macs=macs, zero_cost=zero_cost)


def store_screened(trial: optuna.Trial) -> None:
    _store(trial, "screened_out", screened_out=True)


def store_evaluation(
    trial: optuna.Trial,
    *,
    latency_ms: Mapping[str, float],
    predicted_ms: Mapping[str, float],
    latency_predicted: Sequence[str],
    epoch_accuracies: Sequence[float],
    stopped_early: bool,
    evaluated_on: str | None,
    low_precision: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """What the candidate's evaluation found: its latencies (and which were predicted), its
    accuracy after every epoch, where it ran (a Ray node id, which tells a cluster's
    nodes apart) and its points at precisions below fp32."""
    _store(
        trial,
        "evaluation",
        latency_ms=dict(latency_ms),
        predicted_ms=dict(predicted_ms) if predicted_ms else None,
        latency_predicted=list(latency_predicted) if predicted_ms else None,
        epoch_accuracies=list(epoch_accuracies),
        stopped_early=stopped_early,
        evaluated_on=evaluated_on,
        low_precision=dict(low_precision) if low_precision else None,
    )


def store_error(trial: optuna.Trial, error: str) -> None:
    _store(trial, "error", error=error)


def retry_attrs(number: int) -> dict[str, Any]:
    """The attributes of a trial enqueued to run trial ``number``'s architecture again."""
    return {"retry_of": number}


@dataclass(frozen=True)
class TrialRecord:
    """One evaluated candidate."""

    number: int
    arch: str
    arch_hash: str
    accuracy: float | None  # None when the zero-cost pre-screen skipped it
    latency_ms: Mapping[str, float]
    params: int
    macs: int
    reward: float | None
    state: str  # complete, pruned, screened, failed, running or waiting
    epochs: int
    stopped_early: bool
    feasible: bool
    seconds: float
    epoch_accuracies: tuple[float, ...] = ()
    zero_cost: float | None = None
    error: str | None = None  # why the evaluation failed (jobs keep failed trials)
    latency_predicted: tuple[str, ...] = ()  # devices whose latency was predicted, not measured
    evaluated_on: str | None = None  # the Ray node that evaluated it
    precision: Precision = "fp32"  # the point's: its accuracy and latencies are at it
    low_precision: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def point(self, devices: Sequence[str], size: bool = False) -> tuple[float, ...]:
        """(accuracy, latency on each device[, the weights' bytes]): where the trial sits
        among the objectives."""
        if self.accuracy is None:
            raise ValueError(f"trial {self.number} was not trained: it has no accuracy")
        weights = (float(self.model_bytes),) if size else ()
        return (self.accuracy, *(self.latency_ms[d] for d in devices), *weights)

    @property
    def model_bytes(self) -> int:
        """The weights' bytes at the point's precision."""
        return weight_bytes(self.params, self.precision)


STATES = {
    TrialState.COMPLETE: "complete",
    TrialState.PRUNED: "pruned",
    TrialState.FAIL: "failed",
    TrialState.RUNNING: "running",
    TrialState.WAITING: "waiting",
}


def record_of(trial: FrozenTrial, devices: Sequence[str]) -> TrialRecord:
    """The record of a trial, from what its study keeps."""
    attrs = TrialAttrs.of(trial)
    accuracies = attrs.epoch_accuracies
    return TrialRecord(
        number=trial.number,
        arch=attrs.arch,
        arch_hash=parse_arch(attrs.arch).hash if attrs.arch else "",
        accuracy=accuracies[-1] if accuracies else None,
        latency_ms={d: attrs.latency_ms[d] for d in devices if d in attrs.latency_ms},
        params=attrs.params,
        macs=attrs.macs,
        reward=trial.values[0] if trial.values and len(trial.values) == 1 else None,
        state="screened" if attrs.screened_out else STATES[trial.state],
        epochs=len(accuracies),
        stopped_early=attrs.stopped_early,
        feasible=violation(trial) <= 0,
        seconds=trial.duration.total_seconds() if trial.duration else 0.0,
        epoch_accuracies=accuracies,
        zero_cost=attrs.zero_cost,
        error=attrs.error,
        latency_predicted=attrs.latency_predicted,
        evaluated_on=attrs.evaluated_on,
        low_precision=attrs.low_precision,
    )


def precision_points(record: TrialRecord) -> list[TrialRecord]:
    """The trial's points: itself at fp32, then one per other precision it was evaluated at
    (that precision's accuracy, latencies and feasibility; measured, never predicted)."""
    return [
        record,
        *(
            replace(
                record,
                precision=cast(Precision, precision),
                accuracy=point["accuracy"],
                latency_ms=dict(point["latency_ms"]),
                feasible=point["feasible"],
                latency_predicted=(),
                epoch_accuracies=(),
                low_precision={},
            )
            for precision, point in record.low_precision.items()
        ),
    ]

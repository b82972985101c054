"""A job's results read back from its Optuna study: trial records, the Pareto front, the plot.

The study is the single source of truth (docs/architecture.md: Optuna's tables are not mirrored), so
these are computed on request from the trials' values and user attributes.
"""

from __future__ import annotations

from collections.abc import Sequence

import optuna
from optuna.trial import FrozenTrial, TrialState

from search.engine import TrialRecord
from search.results import front_of, pareto_html, pareto_png
from space import parse_arch
from workers.tables import study_name

STATES = {
    TrialState.COMPLETE: "complete",
    TrialState.PRUNED: "pruned",
    TrialState.FAIL: "failed",
    TrialState.RUNNING: "running",
    TrialState.WAITING: "waiting",
}


def job_trials(storage: optuna.storages.BaseStorage, job_id: int) -> list[FrozenTrial]:
    """The job's trials in number order; none before its runner has created the study."""
    try:
        study = optuna.load_study(study_name=study_name(job_id), storage=storage)
    except KeyError:  # no such study yet: the job is still queued
        return []
    return study.get_trials(deepcopy=False)


def record_of(trial: FrozenTrial, devices: Sequence[str]) -> TrialRecord:
    """The engine's record of a trial, from what the study keeps."""
    attrs = trial.user_attrs
    latency = attrs.get("latency_ms", {})
    screened = attrs.get("screened_out", False)
    accuracies = tuple(attrs.get("epoch_accuracies", ()))
    return TrialRecord(
        number=trial.number,
        arch=attrs.get("arch", ""),
        arch_hash=parse_arch(attrs["arch"]).hash if "arch" in attrs else "",
        accuracy=accuracies[-1] if accuracies else None,
        latency_ms={d: latency[d] for d in devices if d in latency},
        params=attrs.get("params", 0),
        macs=attrs.get("macs", 0),
        reward=trial.values[0] if trial.values and len(trial.values) == 1 else None,
        state="screened" if screened else STATES.get(trial.state, trial.state.name.lower()),
        epochs=len(accuracies),
        stopped_early=attrs.get("stopped_early", False),
        feasible=all(value <= 0 for value in trial.constraints.values()),
        seconds=trial.duration.total_seconds() if trial.duration else 0.0,
        epoch_accuracies=accuracies,
        zero_cost=attrs.get("zero_cost"),
        error=attrs.get("error"),
        latency_predicted=tuple(attrs.get("latency_predicted", ())),
    )


def finished_records(trials: Sequence[FrozenTrial], devices: Sequence[str]) -> list[TrialRecord]:
    """Records of the trials that finished with a latency on every device."""
    records = [
        record_of(t, devices) for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
    ]
    return [r for r in records if r.accuracy is not None and len(r.latency_ms) == len(devices)]


def pareto_members(trials: Sequence[FrozenTrial], devices: Sequence[str]) -> list[TrialRecord]:
    return front_of(
        [r for r in finished_records(trials, devices) if r.state == "complete"], devices
    )


def job_pareto_html(trials: Sequence[FrozenTrial], devices: Sequence[str]) -> str:
    """The offline plot (plotly embedded) of the job's trials and front, first device."""
    return pareto_html(finished_records(trials, devices), devices[0])


def job_pareto_png(trials: Sequence[FrozenTrial], devices: Sequence[str]) -> bytes:
    return pareto_png(finished_records(trials, devices), devices[0])

"""A job's results read back from its Optuna study: trial records, the Pareto front, the plot.

The study is the single source of truth (docs/architecture.md: Optuna's tables are not mirrored), so
these are computed on request from the trials' values and user attributes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from search.results import front_of, pareto_html, pareto_png
from search.trial_record import TrialRecord, record_of
from workers.tables import study_name

CSV_COLUMNS = (
    "number",
    "state",
    "accuracy",
    "params",
    "macs",
    "reward",
    "feasible",
    "stopped_early",
    "epochs",
    "seconds",
    "arch_hash",
)


def job_trials(storage: optuna.storages.BaseStorage, job_id: int) -> list[FrozenTrial]:
    """The job's trials in number order; none before its runner has created the study."""
    try:
        study = optuna.load_study(study_name=study_name(job_id), storage=storage)
    except KeyError:  # no such study yet: the job is still queued
        return []
    return study.get_trials(deepcopy=False)


def finished_records(trials: Sequence[FrozenTrial], devices: Sequence[str]) -> list[TrialRecord]:
    """Records of the trials that finished with a latency on every device."""
    records = [
        record_of(t, devices) for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
    ]
    return [r for r in records if r.accuracy is not None and len(r.latency_ms) == len(devices)]


def pareto_members(
    trials: Sequence[FrozenTrial], devices: Sequence[str], size: bool = False
) -> list[TrialRecord]:
    """The job's front: each trial's point at each precision; ``size``: its size counts."""
    return front_of(
        [r for r in finished_records(trials, devices) if r.state == "complete"], devices, size
    )


def size_counts(spec: Mapping[str, Any]) -> bool:
    """Whether a stored job spec makes the weights' bytes an objective (``objective.size``)."""
    return bool(spec.get("objective", {}).get("size", False))


def job_pareto_html(trials: Sequence[FrozenTrial], devices: Sequence[str]) -> str:
    """The offline plot (plotly embedded) of the job's trials and front, first device."""
    return pareto_html(finished_records(trials, devices), devices[0])


def job_pareto_png(trials: Sequence[FrozenTrial], devices: Sequence[str]) -> bytes:
    return pareto_png(finished_records(trials, devices), devices[0])


def trials_csv(trials: Sequence[FrozenTrial], devices: Sequence[str]) -> str:
    """Every trial as a CSV row: number order, a latency column per device and whether it
    was predicted (a spreadsheet's view of ``GET /v1/jobs/{id}/trials``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            *CSV_COLUMNS,
            *(f"latency_ms_{d}" for d in devices),
            *(f"predicted_{d}" for d in devices),
            "arch",
        ]
    )
    for trial in trials:
        r = record_of(trial, devices)
        writer.writerow(
            [
                *(getattr(r, column) for column in CSV_COLUMNS),
                *(r.latency_ms.get(d, "") for d in devices),
                *(d in r.latency_predicted for d in devices),
                r.arch,
            ]
        )
    return out.getvalue()

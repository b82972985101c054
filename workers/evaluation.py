"""One candidate's evaluation inside a Ray worker process: latency from the job's devices
(measured, predicted or both: ``JobSpec.latency``), then proxy training. Everything it needs
arrives as plain data (the job's spec and data location, the database URL, the candidate), so
it runs the same on this machine or on a cluster node (which must see the data location at
the same path: a shared data directory).

A Ray worker process serves many tasks: the job's data set, the database engine and the
devices' fitted predictors are kept per process (small caches) instead of being rebuilt per
candidate.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import optuna
import ray
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from latency.database import create_db_engine
from latency.device_predictor import DevicePredictors
from search.engine import Candidate, Outcome, evaluate_candidate
from search.latency_source import LatencySource, MeasuredLatency
from search.study import RunningTrial
from workers.low_precision import QueuedInt8
from workers.predicted_latency import PredictedLatency
from workers.queued_latency import QueuedLatency
from workers.spec import JobSpec, ResolvedJob, resolve
from workers.study_storage import study_storage


@lru_cache(maxsize=4)
def _job(spec_json: str, data_location: str | None) -> ResolvedJob:
    return resolve(JobSpec.model_validate_json(spec_json), data_location)


@lru_cache(maxsize=4)
def worker_engine(database_url: str) -> Engine:
    """The database engine of this Ray worker process (evaluations and trainings share it)."""
    return create_db_engine(database_url)


@lru_cache(maxsize=4)
def _predictors(database_url: str) -> DevicePredictors:
    return DevicePredictors()


def _latency_source(
    job: ResolvedJob, database_url: str, devices: Mapping[str, int]
) -> LatencySource:
    sessions = sessionmaker(worker_engine(database_url))
    if job.latency == "measured":
        return MeasuredLatency(QueuedLatency(sessions, devices, job.measurement))
    return PredictedLatency(
        sessions, devices, job.measurement, _predictors(database_url), job.latency
    )


@dataclass(frozen=True)
class NodeOutcome:
    """An evaluation's outcome and the Ray node it ran on (kept on the trial)."""

    outcome: Outcome
    node_id: str


# What a runner runs as a Ray task per candidate: ``evaluate_in_worker``, or a stand-in that
# skips the training (benchmarks/control_plane.py times the control plane with one).
Evaluator = Callable[[str, str | None, str, str, Candidate, Mapping[str, int]], NodeOutcome]


def evaluate_in_worker(
    spec_json: str,
    data_location: str | None,
    database_url: str,
    study_name: str,
    candidate: Candidate,
    devices: Mapping[str, int],
) -> NodeOutcome:
    """Measure and train ``candidate`` for the job ``spec_json`` describes, on its data at
    ``data_location`` and on ``devices`` (the job's, by name and id)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    job = _job(spec_json, data_location)
    latency = _latency_source(job, database_url, devices)
    reports = (
        RunningTrial.load(job.settings, study_storage(database_url), study_name, candidate.number)
        if job.settings.mode == "mnas"
        else None
    )
    low_precision = (
        QueuedInt8(sessionmaker(worker_engine(database_url)), devices, job.measurement)
        if len(job.settings.precisions) > 1
        else None
    )
    outcome = evaluate_candidate(
        candidate, job.settings, job.train, job.validation, latency, reports, low_precision
    )
    return NodeOutcome(outcome, ray.get_runtime_context().get_node_id())

"""One candidate's evaluation inside a Ray worker process: latency from the job's devices,
then proxy training. Everything it needs arrives as plain data (the job's spec, the database
URL, the candidate), so it runs the same on this machine or on a cluster node.

A Ray worker process serves many tasks: the job's data set, the database engine and the
study handle are kept per process (small caches) instead of being rebuilt per candidate.
"""

from __future__ import annotations

from functools import lru_cache

import optuna
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from latency.database import create_db_engine
from search.engine import Candidate, Outcome, evaluate_candidate, load_study
from workers.queued_latency import QueuedLatency
from workers.spec import JobSpec, ResolvedJob, resolve
from workers.study_storage import study_storage


@lru_cache(maxsize=4)
def _job(spec_json: str) -> ResolvedJob:
    return resolve(JobSpec.model_validate_json(spec_json))


@lru_cache(maxsize=4)
def _engine(database_url: str) -> Engine:
    return create_db_engine(database_url)


def evaluate_in_worker(
    spec_json: str,
    database_url: str,
    study_name: str,
    candidate: Candidate,
) -> Outcome:
    """Measure and train ``candidate`` for the job ``spec_json`` describes."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    job = _job(spec_json)
    latency = QueuedLatency(
        sessionmaker(_engine(database_url)), job.settings.devices, job.measurement
    )
    study = (
        load_study(job.settings, study_storage(database_url), study_name)
        if job.settings.mode == "mnas"
        else None
    )
    return evaluate_candidate(candidate, job.settings, job.train, job.validation, latency, study)

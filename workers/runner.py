"""The job runner: claims a job, drives its Optuna study with ask/tell, keeps the Ray cluster
busy with evaluations, and finishes the job.

Durability: the study lives in Optuna's RDB storage on the server's database, one study per
job; the runner keeps nothing that matters in memory. A runner that dies (SIGKILL included)
stops renewing its lease; once it expires another runner claims the job, marks the trials the
dead one left running as failed, re-queues their architectures (``enqueue_trial``, so they are
retried, not lost) and carries on until the budget counts finished trials: none is counted
twice and none is lost. Cancellation stops new trials at once; running ones finish (their
results are kept) within the time an evaluation takes.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import optuna
import ray
from optuna.trial import TrialState
from sqlalchemy.orm import Session, sessionmaker

from edgenas.errors import NotFoundError
from search.engine import Proposal, conclude, propose
from search.study import create_study
from search.trial_record import TrialRecord, retry_attrs, store_error
from space.size_caps import SizeCaps
from workers.evaluation import evaluate_in_worker
from workers.jobs import (
    claim_job,
    finish_job,
    job_devices,
    record_progress,
    release_job,
    renew_lease,
)
from workers.progress import progress_of
from workers.spec import JobSpec, SpecError, resolve
from workers.study_storage import study_storage
from workers.tables import Job, JobState, study_name

log = logging.getLogger("edgenas.runner")
COUNTED = (TrialState.COMPLETE, TrialState.PRUNED)
MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class RunnerSettings:
    database_url: str
    lease_seconds: float = 30.0
    idle_seconds: float = 1.0  # how often an idle runner looks for a job
    max_in_flight: int | None = None  # None: the Ray cluster's CPU count
    max_failed_trials: int = 10  # a job fails when this many evaluations raised
    caps: SizeCaps = field(default_factory=SizeCaps)  # candidates over them are never built


class LeaseLost(Exception):
    """Another runner holds the job now (ours expired): stop driving it."""


class ShuttingDown(Exception):
    """The runner is stopping: hand the job back for the next runner to resume."""


class Runner:
    """Drives one job at a time; several runners may share a database."""

    def __init__(self, settings: RunnerSettings, sessions: sessionmaker[Session]) -> None:
        self.settings = settings
        self.sessions = sessions
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._evaluate = ray.remote(num_cpus=1, max_retries=0)(evaluate_in_worker)
        self._lease = timedelta(seconds=settings.lease_seconds)

    def run(self, stop: threading.Event) -> None:
        """Claim and drive jobs until ``stop`` is set."""
        while not stop.is_set():
            if not self.run_once(stop):
                stop.wait(self.settings.idle_seconds)

    def run_once(self, stop: threading.Event | None = None) -> bool:
        """Claim one job and drive it to its end; False when there was none."""
        with self.sessions.begin() as session:
            job = claim_job(session, self.owner, self._lease)
            if job is None:
                return False
            job_id, spec, data = job.id, dict(job.spec), job.data_location
        log.info("runner %s drives job %d", self.owner, job_id)
        try:
            state, error = self._drive(job_id, spec, data, stop or threading.Event())
        except LeaseLost:
            log.warning("job %d: lease lost to another runner", job_id)
            return True
        except ShuttingDown:
            with self.sessions.begin() as session:
                release_job(session, job_id, self.owner)
            log.info("job %d handed back: this runner is stopping", job_id)
            return True
        except Exception as exc:  # the job fails with its reason; the runner carries on
            log.exception("job %d failed", job_id)
            state, error = JobState.FAILED, f"{type(exc).__name__}: {exc}"
        with self.sessions.begin() as session:
            finish_job(session, job_id, self.owner, state, error)
        return True

    def _drive(
        self, job_id: int, spec: dict[str, Any], data: str | None, stop: threading.Event
    ) -> tuple[JobState, str | None]:
        try:
            parsed = JobSpec.model_validate(spec)
            resolved = resolve(parsed, data, self.settings.caps)
            with self.sessions.begin() as session:
                devices = job_devices(session, session.get_one(Job, job_id))
        except (SpecError, ValueError, NotFoundError) as exc:
            return JobState.FAILED, f"the job's spec no longer resolves: {exc}"
        settings = resolved.settings
        storage = study_storage(self.settings.database_url)
        study = create_study(settings, storage=storage, name=study_name(job_id))
        _retry_abandoned(study)
        spec_json = parsed.model_dump_json()
        budget = settings.trials
        deadline = (
            time.monotonic() + parsed.budget.wall_clock_minutes * 60
            if parsed.budget.wall_clock_minutes
            else math.inf
        )
        capacity = self.settings.max_in_flight or max(1, int(ray.cluster_resources()["CPU"]))
        in_flight: dict[ray.ObjectRef, Proposal] = {}
        failures: list[str] = []
        started = time.monotonic()
        while True:
            job = self._heartbeat(job_id)
            if stop.is_set():  # abandon running evaluations: the next runner retries them
                for ref in in_flight:
                    ray.cancel(ref, force=True)
                raise ShuttingDown
            stopping = job.cancel_requested or time.monotonic() > deadline
            done = _count(study, COUNTED)
            while not stopping and len(in_flight) < capacity and done + len(in_flight) < budget:
                proposal = propose(study, settings, resolved.train)
                if isinstance(proposal, TrialRecord):  # settled unevaluated: screened, too large
                    done += 1
                    continue
                ref = self._evaluate.remote(
                    spec_json,
                    data,
                    self.settings.database_url,
                    study_name(job_id),
                    proposal.candidate,
                    devices,
                )
                in_flight[ref] = proposal
            self._progress(job_id, study, settings.mode, len(in_flight), budget, started)
            if not in_flight:
                break
            ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=self._beat_seconds())
            for ref in ready:
                proposal = in_flight.pop(ref)
                number = proposal.candidate.number
                try:
                    conclude(study, settings, proposal, ray.get(ref))
                except Exception as exc:  # the evaluation raised: the trial fails, the job goes on
                    failures.append(f"trial {number}: {exc}")
                    store_error(proposal.trial, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS])
                    study.tell(proposal.trial, state=TrialState.FAIL)
                    log.warning("job %d trial %d failed: %s", job_id, number, exc)
            if len(failures) >= self.settings.max_failed_trials:
                for ref in in_flight:
                    ray.cancel(ref, force=True)
                return JobState.FAILED, f"{len(failures)} evaluations failed; last: {failures[-1]}"
        self._progress(job_id, study, settings.mode, 0, budget, started)
        return (JobState.CANCELLED if job.cancel_requested else JobState.SUCCEEDED), None

    def _beat_seconds(self) -> float:
        return self.settings.lease_seconds / 3

    def _heartbeat(self, job_id: int) -> Job:
        with self.sessions.begin() as session:
            job = renew_lease(session, job_id, self.owner, self._lease)
            if job is None:
                raise LeaseLost
            session.expunge(job)
            return job

    def _progress(
        self, job_id: int, study: optuna.Study, mode: str, running: int, budget: int, started: float
    ) -> None:
        figures = progress_of(study, mode, running, budget, time.monotonic() - started)
        with self.sessions.begin() as session:
            if not record_progress(session, job_id, self.owner, figures):
                raise LeaseLost


def _count(study: optuna.Study, states: tuple[TrialState, ...]) -> int:
    return len(study.get_trials(deepcopy=False, states=states))


def _retry_abandoned(study: optuna.Study) -> None:
    """Trials a dead runner left running fail now and their architectures run again."""
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study.tell(trial.number, state=TrialState.FAIL)
        study.enqueue_trial(trial.params, user_attrs=retry_attrs(trial.number))
        log.info("study %s: trial %d was abandoned; retrying it", study.study_name, trial.number)

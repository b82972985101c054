"""The job runner: claims a job, drives its Optuna study with ask/tell, keeps the Ray cluster
busy with evaluations, and finishes the job.

Durability: the study lives in Optuna's RDB storage on the server's database, one study per
job; the runner keeps nothing that matters in memory. A runner that dies (SIGKILL included)
stops renewing its lease; once it expires another runner claims the job, marks the trials the
dead one left running as failed, re-queues their architectures (``enqueue_trial``, so they are
retried, not lost) and carries on until the budget counts finished trials: none is counted
twice and none is lost. Cancellation stops new trials at once; running ones finish (their
results are kept) within the time an evaluation takes.

Faults: every database step is retried while the database is away (``retry_transient``), so a
restart of PostgreSQL pauses a job instead of failing it, and a finished evaluation's result
is stored, however long that takes. The lease is renewed by a thread of its own, so a slow
proposal phase cannot let it lapse. An evaluation whose Ray worker died is run again by Ray
(``MAX_EVALUATION_RETRIES``) as the same trial. The run loop logs whatever else goes wrong,
backs off and carries on: a runner never dies silently.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

import optuna
import ray
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState
from sqlalchemy.orm import Session, sessionmaker

from edgenas.errors import NotFoundError
from latency.database import is_transient, retry_transaction, retry_transient
from latency.tables import utcnow
from search.early_stop import StudyFront
from search.engine import Proposal, conclude, propose
from search.study import SearchSettings, create_study
from search.trial_record import TrialRecord, retry_attrs, store_error
from space.size_caps import SizeCaps
from workers.evaluation import Evaluator, NodeOutcome, evaluate_in_worker
from workers.jobs import (
    claim_job,
    finish_job,
    job_devices,
    record_progress,
    release_job,
)
from workers.leases import LeaseKeeper, LeaseLost, ShuttingDown
from workers.progress import progress_of
from workers.spec import JobSpec, ResolvedJob, SpecError, resolve
from workers.study_storage import study_storage
from workers.tables import Job, JobKind, JobState, study_name
from workers.training import drive_training

T = TypeVar("T")
log = logging.getLogger("edgenas.runner")
COUNTED = (TrialState.COMPLETE, TrialState.PRUNED)
MAX_ERROR_CHARS = 2000
MAX_EVALUATION_RETRIES = 2  # a dead Ray worker's evaluation runs again, as the same trial
MAX_RUN_BACKOFF_SECONDS = 60.0
PROGRESS_SECONDS = 1.0  # at most this often during a search (ProgressRecorder)


@dataclass(frozen=True)
class RunnerSettings:
    database_url: str
    lease_seconds: float = 30.0
    idle_seconds: float = 1.0  # how often an idle runner looks for a job
    max_in_flight: int | None = None  # None: the Ray cluster's CPU count
    max_failed_trials: int = 10  # a job fails when this many evaluations raised
    caps: SizeCaps = field(default_factory=SizeCaps)  # candidates over them are never built


class Runner:
    """Drives one job at a time; several runners may share a database."""

    def __init__(
        self,
        settings: RunnerSettings,
        sessions: sessionmaker[Session],
        evaluate: Evaluator = evaluate_in_worker,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._evaluate = ray.remote(num_cpus=1, max_retries=MAX_EVALUATION_RETRIES)(evaluate)
        self.lease = timedelta(seconds=settings.lease_seconds)

    def run(self, stop: threading.Event) -> None:
        """Claim and drive jobs until ``stop`` is set. Nothing ends the loop but ``stop``:
        an error is logged, and the runner backs off and carries on."""
        backoff = 1.0
        while not stop.is_set():
            try:
                worked = self.run_once(stop)
            except Exception:
                log.exception("runner %s: retrying in %.0f s", self.owner, backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, MAX_RUN_BACKOFF_SECONDS)
                continue
            backoff = 1.0
            if not worked:
                stop.wait(self.settings.idle_seconds)

    def run_once(self, stop: threading.Event | None = None) -> bool:
        """Claim one job and drive it to its end; False when there was none."""
        with self.sessions.begin() as session:
            job = claim_job(session, self.owner, self.lease)
            if job is None:
                return False
            job_id, kind, spec, data = job.id, job.kind, dict(job.spec), job.data_location
        log.info("runner %s drives job %d", self.owner, job_id)
        try:
            stop = stop or threading.Event()
            if kind == JobKind.TRAIN:
                state, error = self._train(job_id, spec, data, stop)
            else:
                state, error = self._drive(job_id, spec, data, stop)
        except LeaseLost:
            log.warning("job %d: lease lost to another runner", job_id)
            return True
        except ShuttingDown:
            self.transaction(
                lambda s: release_job(s, job_id, self.owner), f"job {job_id}: hand back"
            )
            log.info("job %d handed back: this runner is stopping", job_id)
            return True
        except Exception as exc:
            if is_transient(exc):  # the database stayed away: the job stays ours to resume
                log.warning("job %d paused: the database is away (%s)", job_id, exc)
                return True
            log.exception("job %d failed", job_id)  # the job fails with its reason
            state, error = JobState.FAILED, f"{type(exc).__name__}: {exc}"
        self.transaction(
            lambda s: finish_job(s, job_id, self.owner, state, error), f"job {job_id}: finish"
        )
        return True

    def transaction(
        self, work: Callable[[Session], T], what: str, stop: threading.Event | None = None
    ) -> T:
        """``work`` in one transaction, run again while the database is away."""
        return retry_transaction(self.sessions, work, what, stop=stop)

    def _drive(
        self, job_id: int, spec: dict[str, Any], data: str | None, stop: threading.Event
    ) -> tuple[JobState, str | None]:
        try:
            parsed = JobSpec.model_validate(spec)
            resolved = resolve(parsed, data, self.settings.caps)
            devices = self.transaction(
                lambda s: job_devices(s, s.get_one(Job, job_id)), f"job {job_id}: devices"
            )
        except (SpecError, ValueError, NotFoundError) as exc:
            return JobState.FAILED, f"the job's spec no longer resolves: {exc}"
        settings = resolved.settings
        storage = study_storage(self.settings.database_url)
        study = retry_transient(
            lambda: create_study(settings, storage=storage, name=study_name(job_id)),
            f"job {job_id}: study",
        )
        retry_transient(lambda: _retry_abandoned(study), f"job {job_id}: abandoned trials")
        keeper = LeaseKeeper(self, job_id)
        try:
            return self._search(job_id, parsed, resolved, data, devices, study, keeper, stop)
        finally:
            keeper.stop()

    def _train(
        self, job_id: int, spec: dict[str, Any], data: str | None, stop: threading.Event
    ) -> tuple[JobState, str | None]:
        keeper = LeaseKeeper(self, job_id)
        try:
            return drive_training(self, job_id, spec, data, keeper, stop)
        finally:
            keeper.stop()

    def _search(
        self,
        job_id: int,
        parsed: JobSpec,
        resolved: ResolvedJob,
        data: str | None,
        devices: dict[str, int],
        study: optuna.Study,
        keeper: LeaseKeeper,
        stop: threading.Event,
    ) -> tuple[JobState, str | None]:
        settings = resolved.settings
        spec_json = parsed.model_dump_json()
        budget = settings.trials
        minutes = parsed.budget.wall_clock_minutes
        capacity = self.settings.max_in_flight or max(1, int(ray.cluster_resources()["CPU"]))
        in_flight: dict[ray.ObjectRef, Proposal] = {}
        failures: list[str] = []
        front = StudyFront()
        retry = functools.partial(retry_transient, stop=stop)
        progress = ProgressRecorder(self, job_id, study, settings.mode, budget, stop)
        # finished trials the budget counts: tallied here, recounted from storage at the end
        done = retry(lambda: _count(study, COUNTED), f"job {job_id}: count")
        while True:
            job = keeper.current()
            if stop.is_set():  # abandon running evaluations: the next runner retries them
                for ref in in_flight:
                    ray.cancel(ref, force=True)
                raise ShuttingDown
            # the wall clock counts from the job's first start, across re-claims
            over_time = (
                minutes is not None
                and job.started_at is not None
                and (utcnow() > job.started_at + timedelta(minutes=minutes))
            )
            stopping = job.cancel_requested or over_time
            while not stopping and len(in_flight) < capacity and done + len(in_flight) < budget:
                proposal = retry(
                    lambda: propose(study, settings, resolved.train, front),
                    f"job {job_id}: propose",
                )
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
            progress.maybe(len(in_flight))
            if not in_flight:  # the tally may count a tell the study refused: storage decides
                done = retry(lambda: _count(study, COUNTED), f"job {job_id}: count")
                if stopping or done >= budget:
                    break
                continue
            ready = _ready(list(in_flight), self.beat_seconds())
            for ref in ready:
                proposal = in_flight.pop(ref)
                try:
                    outcome: NodeOutcome | Exception = ray.get(ref)
                except Exception as exc:  # the evaluation raised: the trial fails, the job goes on
                    outcome = exc
                    failures.append(f"trial {proposal.candidate.number}: {exc}")
                    log.warning(
                        "job %d trial %d failed: %s", job_id, proposal.candidate.number, exc
                    )
                store = functools.partial(_store, study, settings, proposal, outcome)
                retry(store, f"job {job_id}: trial {proposal.candidate.number}")
                done += isinstance(outcome, NodeOutcome)  # told complete or pruned
            if len(failures) >= self.settings.max_failed_trials:
                for ref in in_flight:
                    ray.cancel(ref, force=True)
                return JobState.FAILED, f"{len(failures)} evaluations failed; last: {failures[-1]}"
        retry(lambda: _fail_orphans(study), f"job {job_id}: orphans")
        progress.record(0)
        return (JobState.CANCELLED if job.cancel_requested else JobState.SUCCEEDED), None

    def beat_seconds(self) -> float:
        return self.settings.lease_seconds / 3


class ProgressRecorder:
    """Records a job's progress for ``GET /v1/jobs/{id}``. It reads every trial of the study,
    so during the search it runs at most every ``PROGRESS_SECONDS`` and never takes more than
    a tenth of the runner's time (a 10,000-trial study takes a while to read)."""

    def __init__(
        self,
        runner: Runner,
        job_id: int,
        study: optuna.Study,
        mode: str,
        budget: int,
        stop: threading.Event,
    ) -> None:
        self._runner, self._job_id, self._study = runner, job_id, study
        self._mode, self._budget, self._stop = mode, budget, stop
        self._started = time.monotonic()
        self._next = 0.0

    def maybe(self, running: int) -> None:
        """Record now unless the last record was too recent."""
        if time.monotonic() >= self._next:
            self.record(running)

    def record(self, running: int) -> None:
        """Record now; ``LeaseLost`` when another runner holds the job."""
        began = time.monotonic()

        def record(session: Session) -> bool:
            elapsed = time.monotonic() - self._started
            figures = progress_of(self._study, self._mode, running, self._budget, elapsed)
            return record_progress(session, self._job_id, self._runner.owner, figures)

        recorded = self._runner.transaction(record, f"job {self._job_id}: progress", self._stop)
        if not recorded:
            raise LeaseLost
        took = time.monotonic() - began
        self._next = time.monotonic() + max(PROGRESS_SECONDS, 9 * took)


def _store(
    study: optuna.Study,
    settings: SearchSettings,
    proposal: Proposal,
    outcome: NodeOutcome | Exception,
) -> None:
    """Store what an evaluation found and where, or why it failed. Safe to repeat: a tell that
    landed before the connection dropped is not told twice."""
    with contextlib.suppress(UpdateFinishedTrialError):
        if isinstance(outcome, NodeOutcome):
            conclude(study, settings, proposal, outcome.outcome, outcome.node_id)
            return
        store_error(proposal.trial, f"{type(outcome).__name__}: {outcome}"[:MAX_ERROR_CHARS])
        study.tell(proposal.trial, state=TrialState.FAIL)


def _fail_orphans(study: optuna.Study) -> None:
    """Trials asked for by a proposal the database cut short never ran: they end failed,
    so every trial of a finished job is finished."""
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study.tell(trial.number, state=TrialState.FAIL)


def _ready(refs: list[ray.ObjectRef], timeout: float) -> list[ray.ObjectRef]:
    """The evaluations that are done: at least one, unless ``timeout`` passes first."""
    ready, waiting = ray.wait(refs, num_returns=1, timeout=timeout)
    if ready and waiting:
        more, _ = ray.wait(waiting, num_returns=len(waiting), timeout=0)
        ready += more
    return ready


def _count(study: optuna.Study, states: tuple[TrialState, ...]) -> int:
    return len(study.get_trials(deepcopy=False, states=states))


def _retry_abandoned(study: optuna.Study) -> None:
    """Trials a dead runner left running fail now and their architectures run again."""
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study.tell(trial.number, state=TrialState.FAIL)
        study.enqueue_trial(trial.params, user_attrs=retry_attrs(trial.number))
        log.info("study %s: trial %d was abandoned; retrying it", study.study_name, trial.number)

"""The job table's operations: submit, read, cancel, and the runners' lease.

A runner claims a job with a lease it renews by heartbeat. Claiming is one guarded UPDATE
(the row must still be claimable when it lands), after a ``FOR UPDATE SKIP LOCKED`` select on
PostgreSQL (SQLite ignores it and serialises writers), so two runners never drive one job: the
loser's UPDATE matches no row. A job whose runner died keeps state ``running`` until its lease
expires; then any runner may claim it and resume its study.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from edgenas.callers import SERVICE, Caller
from edgenas.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    QuotaExceededError,
)
from latency.database import claim_oldest, rows_changed
from latency.device_predictor import measured_architectures
from latency.devices import device_by_name
from latency.predictor import MIN_MEASUREMENTS
from latency.tables import utcnow
from workers.progress import JobProgress
from workers.spec import JobSpec, SpecError
from workers.tables import FINISHED_STATES, Job, JobState

JOB_QUOTA_RETRY_SECONDS = 60  # a small job finishes in minutes


def submit_job(
    session: Session,
    spec: JobSpec,
    submitted: dict[str, Any],
    owner: Caller,
    devices: dict[str, int],
    data_location: str,
) -> Job:
    """Queue a resolved job of ``owner`` on ``devices`` (name to id, from ``check_devices``)
    reading ``data_location`` (``workers.datasets.data_location``); ``submitted`` is the spec
    exactly as the user sent it."""
    job = Job(
        owner_id=owner.user_id,
        device_ids=devices,
        data_location=data_location,
        name=spec.name,
        spec=submitted,
        state=JobState.QUEUED,
        cancel_requested=False,
        progress=JobProgress(budget=spec.budget.trials).model_dump(),
        claims=0,
    )
    session.add(job)
    session.flush()
    return job


def check_job_quota(session: Session, caller: Caller, quota: int) -> None:
    """Refuse a job while the caller has ``quota`` queued or running ones (429)."""
    active = session.scalar(
        select(func.count())
        .select_from(Job)
        .where(Job.owner_id == caller.user_id, Job.state.not_in(FINISHED_STATES))
    )
    if (active or 0) >= quota:
        raise QuotaExceededError(
            f"you have {active} queued or running jobs; at most {quota}",
            retry_after=JOB_QUOTA_RETRY_SECONDS,
        )


def check_devices(session: Session, spec: JobSpec, caller: Caller) -> dict[str, int]:
    """The job's devices by id: each one the caller may use, and each with a predictor when
    latency is ``predicted``."""
    found = {}
    for index, name in enumerate(spec.devices):
        try:
            device = device_by_name(session, name, caller)
        except NotFoundError:
            raise SpecError(f"devices.{index}", f"no registered device {name!r}") from None
        except InvalidRequestError as exc:  # ambiguous
            raise SpecError(f"devices.{index}", str(exc)) from None
        found[name] = device.id
        measured = measured_architectures(session, device.id)
        if spec.latency == "predicted" and measured < MIN_MEASUREMENTS:
            raise SpecError(
                "latency",
                f"'predicted' needs a predictor for every device; {name!r} has "
                f"{measured} measured architectures, {MIN_MEASUREMENTS} needed "
                "(import measurements, or use 'hybrid')",
            )
    return found


def job_devices(session: Session, job: Job) -> dict[str, int]:
    """The devices a job measures on, by name and id. Jobs queued before jobs held their
    devices by id take the one device of each name that exists now."""
    if job.device_ids is not None:
        return dict(job.device_ids)
    return {name: device_by_name(session, name, SERVICE).id for name in job.spec["devices"]}


def get_job(session: Session, job_id: int, caller: Caller) -> Job:
    """One of the caller's jobs; another user's is a 404, as if it did not exist."""
    job = session.get(Job, job_id)
    if job is None or not caller.owns(job.owner_id):
        raise NotFoundError(f"no job {job_id}")
    return job


def list_jobs(
    session: Session, caller: Caller, state: JobState | None, offset: int, limit: int
) -> tuple[list[Job], int]:
    """A page of the caller's jobs (an admin: all), newest first, and how many in all."""
    query = select(Job)
    if not caller.admin:
        query = query.where(Job.owner_id == caller.user_id)
    if state is not None:
        query = query.where(Job.state == state)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = session.scalars(query.order_by(Job.id.desc()).offset(offset).limit(limit))
    return list(page), total


def cancel_job(session: Session, job: Job) -> Job:
    """A queued job is cancelled at once; a running one when its runner next looks (it
    starts no new trial); a finished one cannot be cancelled (409)."""
    if job.state in FINISHED_STATES:
        raise ConflictError(f"job {job.id} already {job.state}; nothing to cancel")
    if job.state == JobState.QUEUED:
        job.state = JobState.CANCELLED
        job.finished_at = utcnow()
    job.cancel_requested = True
    return job


def claim_job(session: Session, owner: str, lease: timedelta) -> Job | None:
    """Lease the oldest queued job, or a running one whose runner's lease ran out."""
    now = utcnow()
    claimable = or_(
        Job.state == JobState.QUEUED,
        (Job.state == JobState.RUNNING) & (Job.lease_expires_at < now),
    )
    values = {
        "state": JobState.RUNNING,
        "lease_owner": owner,
        "lease_expires_at": now + lease,
        "claims": Job.claims + 1,
        "started_at": func.coalesce(Job.started_at, now),
    }
    return claim_oldest(session, Job, claimable, values)


def renew_lease(session: Session, job_id: int, owner: str, lease: timedelta) -> Job | None:
    """Extend ``owner``'s lease; ``None`` when the job is no longer ``owner``'s to drive."""
    renewed = rows_changed(
        session,
        update(Job)
        .where(Job.id == job_id, Job.lease_owner == owner, Job.state == JobState.RUNNING)
        .values(lease_expires_at=utcnow() + lease)
        .execution_options(synchronize_session=False),
    )
    if renewed != 1:
        return None
    job = session.get(Job, job_id)
    session.refresh(job)
    return job


def release_job(session: Session, job_id: int, owner: str) -> None:
    """Give a running job back at once (the runner is stopping): any runner may claim it."""
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.lease_owner == owner, Job.state == JobState.RUNNING)
        .values(lease_owner=None, lease_expires_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def record_progress(session: Session, job_id: int, owner: str, progress: JobProgress) -> bool:
    """Store the runner's progress figures; False when the lease was lost meanwhile."""
    done = rows_changed(
        session,
        update(Job)
        .where(Job.id == job_id, Job.lease_owner == owner, Job.state == JobState.RUNNING)
        .values(progress=progress.model_dump())
        .execution_options(synchronize_session=False),
    )
    return done == 1


def finish_job(
    session: Session, job_id: int, owner: str, state: JobState, error: str | None = None
) -> bool:
    """Move ``owner``'s running job to a final state; False when it was not ``owner``'s."""
    if state not in FINISHED_STATES:
        raise ValueError(f"{state} is not a final state")
    done = rows_changed(
        session,
        update(Job)
        .where(Job.id == job_id, Job.lease_owner == owner, Job.state == JobState.RUNNING)
        .values(
            state=state,
            error=error,
            finished_at=utcnow(),
            lease_owner=None,
            lease_expires_at=None,
        )
        .execution_options(synchronize_session=False),
    )
    return done == 1

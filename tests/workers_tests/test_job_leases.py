"""The job lease: each job is driven by one runner at a time, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from api.server.database import upgrade_database
from edgenas.callers import SERVICE
from latency.database import create_db_engine
from latency.tables import utcnow
from tests.databases import BACKENDS, database_url
from workers.jobs import claim_job, finish_job, release_job, renew_lease, submit_job
from workers.leases import LeaseKeeper
from workers.runner import Runner, RunnerSettings
from workers.spec import JobSpec
from workers.tables import Job, JobState

LEASE = timedelta(seconds=60)


@pytest.fixture(params=BACKENDS)
def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    with database_url(request.param, tmp_path) as url:
        engine = create_db_engine(url)
        upgrade_database(engine)
        yield sessionmaker(engine, expire_on_commit=False)
        engine.dispose()


def queue_jobs(sessions: sessionmaker[Session], count: int) -> list[int]:
    spec = JobSpec(devices=["cpu-1"])
    with sessions.begin() as session:
        return [
            submit_job(session, spec, {"devices": ["cpu-1"]}, SERVICE, {"cpu-1": 1}, "mnist5k").id
            for _ in range(count)
        ]


def test_two_runners_claiming_at_once_never_share_a_job(sessions: sessionmaker[Session]) -> None:
    jobs = queue_jobs(sessions, 3)
    barrier = threading.Barrier(2)
    claimed: dict[str, list[int]] = {"a": [], "b": []}

    def runner(owner: str) -> None:
        barrier.wait()  # both start claiming together
        while True:
            with sessions.begin() as session:
                job = claim_job(session, owner, LEASE)
                if job is None:
                    return
                claimed[owner].append(job.id)

    threads = [threading.Thread(target=runner, args=(name,)) for name in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(claimed["a"] + claimed["b"]) == jobs  # each job exactly once
    with sessions.begin() as session:
        for job_id in jobs:
            job = session.get(Job, job_id)
            assert job.state == JobState.RUNNING and job.claims == 1


def test_only_the_lease_holder_renews_or_finishes_and_an_expired_lease_moves_on(
    sessions: sessionmaker[Session],
) -> None:
    (job_id,) = queue_jobs(sessions, 1)
    with sessions.begin() as session:
        assert claim_job(session, "a", LEASE).id == job_id
        assert claim_job(session, "b", LEASE) is None  # a's lease is live
        assert renew_lease(session, job_id, "b", LEASE) is None
        assert not finish_job(session, job_id, "b", JobState.SUCCEEDED)
        session.execute(update(Job).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    with sessions.begin() as session:
        taken = claim_job(session, "b", LEASE)  # a died: b resumes the job
        assert taken.id == job_id and taken.claims == 2 and taken.lease_owner == "b"
        assert renew_lease(session, job_id, "a", LEASE) is None  # a is out for good
        release_job(session, job_id, "b")  # b stops: the job is claimable at once
        assert claim_job(session, "c", LEASE).lease_owner == "c"
        assert finish_job(session, job_id, "c", JobState.SUCCEEDED)
        assert claim_job(session, "d", LEASE) is None  # finished jobs are never claimed


def database_url_of(sessions: sessionmaker[Session]) -> str:
    return sessions.kw["bind"].url.render_as_string(hide_password=False)


def test_the_wall_clock_counts_from_the_first_start_across_reclaims(
    sessions: sessionmaker[Session],
) -> None:
    """A job first started 2 minutes ago by a runner that died, with a 1-minute budget: the
    runner that claims it now stops at once instead of granting a fresh minute."""
    spec = JobSpec(devices=["cpu-1"], budget={"trials": 5, "wall_clock_minutes": 1})
    with sessions.begin() as session:
        job = submit_job(session, spec, spec.model_dump(), SERVICE, {"cpu-1": 1}, "mnist5k")
        job.started_at = utcnow() - timedelta(minutes=2)
        job_id = job.id
    runner = Runner(RunnerSettings(database_url_of(sessions), max_in_flight=1), sessions)
    assert runner.run_once()
    with sessions.begin() as session:
        job = session.get_one(Job, job_id)
        assert job.state == JobState.SUCCEEDED and job.progress["trials_done"] == 0


def test_the_lease_is_renewed_while_the_runner_is_busy(sessions: sessionmaker[Session]) -> None:
    """A runner busy for several lease lengths (a slow proposal phase) keeps its job."""
    (job_id,) = queue_jobs(sessions, 1)
    runner = Runner(RunnerSettings(database_url_of(sessions), lease_seconds=1.0), sessions)
    with sessions.begin() as session:
        assert claim_job(session, runner.owner, runner.lease) is not None
    keeper = LeaseKeeper(runner, job_id)
    try:
        threading.Event().wait(3.0)  # the busy spell itself: three lease lengths
        assert keeper.current().id == job_id
        with sessions.begin() as session:
            assert claim_job(session, "another runner", LEASE) is None
            assert session.get_one(Job, job_id).lease_owner == runner.owner
    finally:
        keeper.stop()

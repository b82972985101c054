"""A runner's hold on a job: the lease, renewed on a thread of its own, and why a runner
stops driving a job before its end (both leave the job to another runner)."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from workers.jobs import renew_lease
from workers.tables import Job

if TYPE_CHECKING:
    from workers.runner import Runner

log = logging.getLogger("edgenas.runner")


class LeaseLost(Exception):
    """Another runner holds the job now (ours expired): stop driving it."""


class ShuttingDown(Exception):
    """The runner is stopping: hand the job back for the next runner to resume."""


class LeaseKeeper:
    """Renews a job's lease every third of its length on a thread of its own (so no slow
    step of the search can let it lapse) and keeps the job's latest row for the search loop
    (cancel requests, first start). A renewal refused means another runner holds the job."""

    def __init__(self, runner: Runner, job_id: int) -> None:
        self._runner = runner
        self._job_id = job_id
        self._stopped = threading.Event()
        self._lost = threading.Event()
        self._job = self._renew()
        self._thread = threading.Thread(target=self._keep, name=f"lease-{job_id}", daemon=True)
        self._thread.start()

    def current(self) -> Job:
        """The job as last renewed; ``LeaseLost`` once another runner holds it."""
        if self._lost.is_set():
            raise LeaseLost
        return self._job

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()

    def _renew(self) -> Job:
        runner, job_id = self._runner, self._job_id

        def renew(session: Session) -> Job | None:
            job = renew_lease(session, job_id, runner.owner, runner.lease)
            if job is not None:
                session.expunge(job)
            return job

        job = runner.transaction(renew, f"job {job_id}: lease", stop=self._stopped)
        if job is None:
            self._lost.set()
            raise LeaseLost
        return job

    def _keep(self) -> None:
        while not self._stopped.wait(self._runner.beat_seconds()):
            try:
                self._job = self._renew()
            except (LeaseLost, InterruptedError):
                return
            except Exception:  # logged; the next beat tries again
                log.exception("job %d: renewing the lease failed", self._job_id)

"""Search job routes (user API key): submit, list, show, cancel."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.deps import in_transaction, require_user
from api.schemas import JobOut, JobPage
from latency.devices import device_by_name
from latency.errors import NotFoundError
from workers.jobs import cancel_job, get_job, list_jobs, submit_job
from workers.spec import JobSpec, SpecError, resolve
from workers.tables import JobState

router = APIRouter(prefix="/v1/jobs", tags=["jobs"], dependencies=[Depends(require_user)])
MAX_PAGE = 200
EXAMPLE_SPEC = {
    "name": "digits on my laptop",
    "space": "mnasnet",
    "data": "mnist5k",
    "devices": ["laptop"],
    "objective": {"mode": "pareto"},
    "strategy": {"name": "tpe"},
    "budget": {"trials": 30},
    "seed": 0,
}


@router.post("", status_code=201, response_model=JobOut)
async def submit(
    spec: Annotated[JobSpec, Body(openapi_examples={"pareto": {"value": EXAMPLE_SPEC}})],
    request: Request,
) -> JobOut:
    """Validate a job in full (space, data, devices, constraints, strategy) and queue it."""
    submitted: dict[str, Any] = await request.json()
    await run_in_threadpool(resolve, spec)

    def work(session: Session) -> JobOut:
        for index, name in enumerate(spec.devices):
            try:
                device_by_name(session, name)
            except NotFoundError:
                raise SpecError(f"devices.{index}", f"no registered device {name!r}") from None
        return JobOut.model_validate(submit_job(session, spec, submitted))

    return await in_transaction(request, work)


@router.get("", response_model=JobPage)
async def index(
    request: Request,
    state: JobState | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> JobPage:
    """Jobs, newest first, optionally of one state."""

    def work(session: Session) -> JobPage:
        jobs, total = list_jobs(session, state, offset, limit)
        return JobPage(
            items=[JobOut.model_validate(j) for j in jobs], total=total, offset=offset, limit=limit
        )

    return await in_transaction(request, work)


@router.get("/{job_id}", response_model=JobOut)
async def show(job_id: int, request: Request) -> JobOut:
    return await in_transaction(request, lambda s: JobOut.model_validate(get_job(s, job_id)))


@router.post("/{job_id}/cancel", response_model=JobOut)
async def cancel(job_id: int, request: Request) -> JobOut:
    """Cancel a job: a queued one at once, a running one once its runner notices (no new
    trials start; running ones finish). A finished job gives 409."""
    return await in_transaction(
        request, lambda s: JobOut.model_validate(cancel_job(s, get_job(s, job_id)))
    )

"""Search job routes (user API key): submit, list, show, cancel."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from fastapi.responses import HTMLResponse
from optuna.trial import FrozenTrial
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.server.deps import (
    CallerDep,
    Database,
    DatabaseDep,
    ObjectId,
    PageOffset,
    SettingsDep,
    StudyStorageDep,
    require_user,
)
from api.server.schemas import (
    JobOut,
    JobPage,
    ParetoOut,
    TrialOut,
    TrialPage,
    file_response,
)
from api.server.settings import Settings
from edgenas.callers import Caller
from edgenas.errors import NotFoundError
from latency.queue import check_fits_lease
from search.study import MAX_TRIALS
from search.trial_record import record_of
from space import parse_arch
from space.size_caps import SizeCaps
from workers.datasets import data_location
from workers.jobs import (
    cancel_job,
    check_devices,
    check_job_quota,
    get_job,
    list_jobs,
    submit_job,
)
from workers.results import (
    job_pareto_html,
    job_pareto_png,
    job_trials,
    pareto_members,
    size_counts,
    trials_csv,
)
from workers.spec import JobSpec, resolve
from workers.tables import JobState

router = APIRouter(prefix="/v1/jobs", tags=["jobs"], dependencies=[Depends(require_user)])
MAX_PAGE = 200
SORT_KEYS = {
    "number": lambda r: r.number,
    "accuracy": lambda r: -1.0 if r.accuracy is None else r.accuracy,
    "latency": lambda r: min(r.latency_ms.values(), default=float("inf")),
    "reward": lambda r: -1.0 if r.reward is None else r.reward,
}
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
    db: DatabaseDep,
    settings: SettingsDep,
    caller: CallerDep,
) -> JobOut:
    """Validate a job in full (space, data, devices, constraints, strategy) and queue it as
    the caller's, holding its devices by id and its data by location."""
    return await queue_job(spec, await request.json(), db, settings, caller)


async def queue_job(
    spec: JobSpec, submitted: dict[str, Any], db: Database, settings: Settings, caller: Caller
) -> JobOut:
    """What a submission does once the spec parsed (the web UI's form submits through it)."""
    check_fits_lease(spec.measurement, settings.lease_seconds, "measurement")
    location = await db.run(
        lambda s: data_location(s, spec.data, caller, settings.data_dir, settings.data_roots)
    )
    await run_in_threadpool(resolve, spec, location, settings.size_caps())

    def work(session: Session) -> JobOut:
        check_job_quota(session, caller, settings.max_active_jobs_per_user)
        devices = check_devices(session, spec, caller)
        job = submit_job(session, spec, submitted, caller, devices, location)
        return JobOut.model_validate(job)

    return await db.run(work)


@router.get("", response_model=JobPage)
async def index(
    db: DatabaseDep,
    caller: CallerDep,
    state: JobState | None = None,
    offset: PageOffset = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> JobPage:
    """The caller's jobs (an admin: everyone's), newest first, optionally of one state."""

    def work(session: Session) -> JobPage:
        jobs, total = list_jobs(session, caller, state, offset, limit)
        return JobPage(
            items=[JobOut.model_validate(j) for j in jobs], total=total, offset=offset, limit=limit
        )

    return await db.run(work)


@router.get("/{job_id}", response_model=JobOut)
async def show(job_id: ObjectId, db: DatabaseDep, caller: CallerDep) -> JobOut:
    return await db.run(lambda s: JobOut.model_validate(get_job(s, job_id, caller)))


@router.post("/{job_id}/cancel", response_model=JobOut)
async def cancel(job_id: ObjectId, db: DatabaseDep, caller: CallerDep) -> JobOut:
    """Cancel a job: a queued one at once, a running one once its runner notices (no new
    trials start; running ones finish). A finished job gives 409."""
    return await db.run(lambda s: JobOut.model_validate(cancel_job(s, get_job(s, job_id, caller))))


async def _job_and_trials(
    db: DatabaseDep, storage: StudyStorageDep, caller: Caller, job_id: int
) -> tuple[list[str], list[FrozenTrial]]:
    """The caller's job's devices and its study's trials (read on a worker thread)."""
    devices = await db.run(lambda s: list(get_job(s, job_id, caller).spec["devices"]))
    return devices, await run_in_threadpool(job_trials, storage, job_id)


@router.get("/{job_id}/trials", response_model=TrialPage)
async def trials(
    job_id: ObjectId,
    db: DatabaseDep,
    storage: StudyStorageDep,
    caller: CallerDep,
    offset: PageOffset = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    sort: Literal["number", "accuracy", "latency", "reward"] = "number",
    descending: bool = False,
) -> TrialPage:
    """The job's trials, sorted (latency: on the job's fastest device for that trial)."""
    devices, found = await _job_and_trials(db, storage, caller, job_id)
    records = sorted(
        (record_of(t, devices) for t in found), key=SORT_KEYS[sort], reverse=descending
    )
    page = [TrialOut.model_validate(r) for r in records[offset : offset + limit]]
    return TrialPage(items=page, total=len(records), offset=offset, limit=limit)


@router.get(
    "/{job_id}/trials.csv",
    response_class=Response,
    responses=file_response("text/csv", "every trial, one row each"),
)
async def trials_table(
    job_id: ObjectId, db: DatabaseDep, storage: StudyStorageDep, caller: CallerDep
) -> Response:
    """The job's trials as CSV, in number order (the web UI's download)."""
    devices, found = await _job_and_trials(db, storage, caller, job_id)
    return Response(
        await run_in_threadpool(trials_csv, found, devices),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="job{job_id}-trials.csv"'},
    )


@router.get("/{job_id}/pareto", response_model=ParetoOut)
async def pareto(
    job_id: ObjectId, db: DatabaseDep, storage: StudyStorageDep, caller: CallerDep
) -> ParetoOut:
    """Accuracy up, latency down on every device: the trials no other trial dominates."""
    devices, found = await _job_and_trials(db, storage, caller, job_id)
    size = await db.run(lambda s: size_counts(get_job(s, job_id, caller).spec))
    members = [TrialOut.model_validate(m) for m in pareto_members(found, devices, size)]
    return ParetoOut(job_id=job_id, devices=devices, members=members)


@router.get(
    "/{job_id}/pareto.html",
    response_class=Response,
    responses=file_response("text/html", "the plot, readable offline"),
)
async def pareto_page(
    job_id: ObjectId, db: DatabaseDep, storage: StudyStorageDep, caller: CallerDep
) -> HTMLResponse:
    """Accuracy against latency on the job's first device; opens offline."""
    devices, found = await _job_and_trials(db, storage, caller, job_id)
    return HTMLResponse(await run_in_threadpool(job_pareto_html, found, devices))


@router.get(
    "/{job_id}/pareto.png",
    response_class=Response,
    responses=file_response("image/png", "the plot as an image"),
)
async def pareto_image(
    job_id: ObjectId, db: DatabaseDep, storage: StudyStorageDep, caller: CallerDep
) -> Response:
    devices, found = await _job_and_trials(db, storage, caller, job_id)
    return Response(await run_in_threadpool(job_pareto_png, found, devices), media_type="image/png")


@router.get(
    "/{job_id}/trials/{number}/model.onnx",
    response_class=Response,
    responses=file_response("application/octet-stream", "the network as ONNX"),
)
async def model(
    job_id: ObjectId,
    number: Annotated[int, Path(ge=0, le=MAX_TRIALS)],
    db: DatabaseDep,
    storage: StudyStorageDep,
    settings: SettingsDep,
    caller: CallerDep,
) -> Response:
    """The trial's architecture as ONNX (freshly initialised weights: trials keep no weights);
    a network over the size caps is never exported (422)."""
    devices, found = await _job_and_trials(db, storage, caller, job_id)
    trial = next((record_of(t, devices) for t in found if t.number == number), None)
    if trial is None or not trial.arch:
        raise NotFoundError(f"job {job_id} has no trial {number}")
    data = await run_in_threadpool(_export, trial.arch, settings.size_caps())
    filename = f"job{job_id}-trial{number}.onnx"
    return Response(
        data,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _export(text: str, caps: SizeCaps) -> bytes:
    from space.export import export_onnx_bytes  # torch loads on the first download only

    arch = parse_arch(text)
    caps.check(arch)
    return export_onnx_bytes(arch)

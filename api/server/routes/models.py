"""Trained models (user API key): train a search's trial, list, show and download models."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Response
from optuna.trial import TrialState
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.server.deps import (
    CallerDep,
    DatabaseDep,
    ObjectId,
    PageOffset,
    SettingsDep,
    StudyStorageDep,
    require_user,
)
from api.server.schemas import ModelOut, ModelPage, file_response
from edgenas.errors import ConflictError, NotFoundError
from search.data import ImageDataset, load_dataset
from search.data_limits import DataError
from search.study import MAX_TRIALS
from search.trial_record import record_of
from space import parse_arch
from workers.datasets import data_location
from workers.jobs import check_job_quota, get_job
from workers.models import (
    ARTIFACTS,
    TrainSpec,
    artifact_names,
    artifact_of,
    check_searchable,
    get_model,
    list_models,
    submit_training,
)
from workers.results import job_trials
from workers.spec import SpecError
from workers.tables import Job, Model

router = APIRouter(prefix="/v1", tags=["models"], dependencies=[Depends(require_user)])
MAX_PAGE = 200
TRAINABLE = (TrialState.COMPLETE, TrialState.PRUNED)


def model_out(session: Session, model: Model) -> ModelOut:
    job = session.get_one(Job, model.job_id)
    return ModelOut.model_validate(
        {
            "id": model.id,
            "job_id": job.id,
            "state": job.state,
            "progress": job.progress,
            "error": job.error,
            "source_job_id": model.source_job_id,
            "trial": model.trial,
            "arch": model.arch,
            "arch_hash": parse_arch(model.arch).hash,
            "results": model.results,
            "artifacts": artifact_names(session, model),
            "created_at": model.created_at,
        }
    )


@router.post("/jobs/{job_id}/trials/{number}/train", status_code=202, response_model=ModelOut)
async def train(
    job_id: ObjectId,
    number: Annotated[int, Path(ge=0, le=MAX_TRIALS)],
    db: DatabaseDep,
    storage: StudyStorageDep,
    settings: SettingsDep,
    caller: CallerDep,
    request: Annotated[TrainSpec, Body(openapi_examples={"default": {"value": {"epochs": 30}}})]
    | None = None,
) -> ModelOut:
    """Queue the training of a trial's network for deployment: a training job on the same
    runners, making the model's weights, ONNX fp32 and int8 files, scored on the held-out
    test split and measured on the search's devices."""
    wanted = request or TrainSpec()

    def source(session: Session) -> tuple[Job, str]:
        job = get_job(session, job_id, caller)
        check_searchable(job)
        data = wanted.data or job.data_location or job.spec["data"]
        if wanted.data is not None:
            data = data_location(session, data, caller, settings.data_dir, settings.data_roots)
        session.expunge(job)
        return job, data

    searched, location = await db.run(source)
    trials = await run_in_threadpool(job_trials, storage, job_id)
    trial = next((t for t in trials if t.number == number), None)
    if trial is None:
        raise NotFoundError(f"job {job_id} has no trial {number}")
    if trial.state not in TRAINABLE:
        raise ConflictError(f"trial {number} is {trial.state.name.lower()}; train a finished one")
    arch = parse_arch(record_of(trial, searched.spec["devices"]).arch)
    settings.size_caps().check(arch)
    data = await run_in_threadpool(_dataset, location)

    def queue(session: Session) -> ModelOut:
        check_job_quota(session, caller, settings.max_active_jobs_per_user)
        source_job = session.get_one(Job, job_id)
        model = submit_training(session, source_job, number, arch, wanted, location, data, caller)
        return model_out(session, model)

    return await db.run(queue)


def _dataset(location: str) -> ImageDataset:
    try:
        return load_dataset(location)
    except DataError as exc:
        raise SpecError("data", str(exc)) from None


@router.get("/models", response_model=ModelPage)
async def index(
    db: DatabaseDep,
    caller: CallerDep,
    offset: PageOffset = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> ModelPage:
    """The caller's models (an admin: everyone's), newest first."""

    def work(session: Session) -> ModelPage:
        models, total = list_models(session, caller, offset, limit)
        items = [model_out(session, m) for m in models]
        return ModelPage(items=items, total=total, offset=offset, limit=limit)

    return await db.run(work)


@router.get("/models/{model_id}", response_model=ModelOut)
async def show(model_id: ObjectId, db: DatabaseDep, caller: CallerDep) -> ModelOut:
    """A model: its training job's state, test accuracy and latency per device for fp32 and
    int8 (with each measurement's provenance), and its files' sizes."""
    return await db.run(lambda s: model_out(s, get_model(s, model_id, caller)))


@router.get(
    "/models/{model_id}/{artifact}",
    response_class=Response,
    responses=file_response("application/octet-stream", f"one of {', '.join(ARTIFACTS)}"),
)
async def download(
    model_id: ObjectId,
    artifact: Annotated[str, Path(max_length=64, description=" | ".join(ARTIFACTS))],
    db: DatabaseDep,
    caller: CallerDep,
) -> Response:
    """One of the model's files: safetensors weights, ONNX fp32 or ONNX int8."""

    def read(session: Session) -> tuple[bytes, str]:
        found = artifact_of(session, get_model(session, model_id, caller), artifact)
        return found.data, found.sha256

    data, digest = await db.run(read)
    return Response(
        data,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="model{model_id}-{artifact}"',
            "ETag": f'"{digest}"',
        },
    )

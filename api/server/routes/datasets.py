"""Data set routes (user API key): upload, list, show, delete.

An upload is the raw file as the request body (``.npz`` arrays or a ``.zip`` of class
folders), streamed to disk under the data directory while its SHA-256 is computed. It is
validated with the rules proxy training applies (``search.data``) on a worker thread, and
kept only if it passes; a refused or broken-off upload leaves no file behind.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from api.server.deps import (
    CallerDep,
    DatabaseDep,
    ObjectId,
    SettingsDep,
    require_user,
)
from api.server.schemas import DatasetOut
from edgenas.errors import InvalidRequestError
from latency.protocol import NAME_PATTERN
from search.data import ImageDataset, load_dataset
from search.data_limits import DataError
from workers.datasets import (
    DatasetFormat,
    check_new_dataset,
    delete_dataset,
    get_dataset,
    keep_dataset,
    list_datasets,
)

router = APIRouter(prefix="/v1/datasets", tags=["datasets"], dependencies=[Depends(require_user)])
UPLOAD_PATH = "/v1/datasets"  # its body limit is EDGENAS_MAX_DATASET_BYTES (api.server.limits)


@router.post(
    "",
    status_code=201,
    response_model=DatasetOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def upload(
    request: Request,
    name: Annotated[str, Query(pattern=NAME_PATTERN, description="unique among yours")],
    file_format: Annotated[
        DatasetFormat,
        Query(alias="format", description="npz: arrays images and labels; zip: class folders"),
    ],
    db: DatabaseDep,
    settings: SettingsDep,
    caller: CallerDep,
) -> DatasetOut:
    """Upload a data set as the request body; it is validated in full before it is kept."""
    await db.run(lambda s: check_new_dataset(s, caller, name, settings.max_datasets_per_user))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    file = f"{uuid.uuid4().hex}.{file_format}"
    path = settings.data_dir.resolve() / file
    kept = False
    try:
        digest, size = await _receive(request, path)
        data = await run_in_threadpool(_validate, path, name)
        dataset = await db.run(
            lambda s: DatasetOut.model_validate(
                keep_dataset(s, caller, name, file, file_format, digest, size, data)
            )
        )
        kept = True
        return dataset
    finally:
        if not kept:
            path.unlink(missing_ok=True)


@router.get("", response_model=list[DatasetOut])
async def index(db: DatabaseDep, caller: CallerDep) -> list[DatasetOut]:
    """The caller's data sets (an admin: everyone's), newest first."""
    return await db.run(lambda s: [DatasetOut.model_validate(d) for d in list_datasets(s, caller)])


@router.get("/{dataset_id}", response_model=DatasetOut)
async def show(dataset_id: ObjectId, db: DatabaseDep, caller: CallerDep) -> DatasetOut:
    return await db.run(lambda s: DatasetOut.model_validate(get_dataset(s, dataset_id, caller)))


@router.delete("/{dataset_id}", status_code=204)
async def delete(
    dataset_id: ObjectId, db: DatabaseDep, settings: SettingsDep, caller: CallerDep
) -> None:
    """Delete a data set and its file; one an unfinished job reads is a 409."""
    path = await db.run(
        lambda s: delete_dataset(s, get_dataset(s, dataset_id, caller), settings.data_dir)
    )
    path.unlink(missing_ok=True)


async def _receive(request: Request, path: Path) -> tuple[str, int]:
    """Stream the body to ``path``; its SHA-256 and size."""
    digest = hashlib.sha256()
    size = 0
    with path.open("wb") as out:
        async for chunk in request.stream():
            out.write(chunk)
            digest.update(chunk)
            size += len(chunk)
    if size == 0:
        raise InvalidRequestError("body: the upload is empty; send the file as the body")
    return digest.hexdigest(), size


def _validate(path: Path, name: str) -> ImageDataset:
    try:
        return load_dataset(path)
    except DataError as exc:
        raise InvalidRequestError(f"body: {str(exc).replace(path.name, name)}") from None

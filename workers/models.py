"""Trained models: a training job per chosen trial, the model it makes, its files.

``POST /v1/jobs/{id}/trials/{n}/train`` queues a training job (the same job table, runners
and Ray as searches; ``Job.kind`` says which) and its model at once, so the caller has the
model's id to follow. The model belongs to the caller, like its job; another user's model is
a 404. Its files are kept in the database (``ModelArtifact``), its figures in
``Model.results`` once the training job has made and measured them (``workers.training``).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from artifacts.compression import CompressionSettings
from artifacts.training import MAX_FINAL_EPOCHS, Augmentation, FinalRecipe
from edgenas.callers import Caller
from edgenas.errors import ConflictError, NotFoundError
from search.data import ImageDataset
from search.train import check_task
from space import Arch
from workers.progress import JobProgress
from workers.spec import JobSpec, SpecError, Strict
from workers.tables import Job, JobKind, JobState, Model, ModelArtifact

DEFAULT_RECIPE = FinalRecipe()
Precision = Literal["fp32", "int8"]
# the files of a model: REST names them, the CLI's --format picks one
WEIGHTS, ONNX_FP32, ONNX_INT8 = "weights.safetensors", "model.onnx", "model-int8.onnx"
ARTIFACTS = (WEIGHTS, ONNX_FP32, ONNX_INT8)
ONNX_OF: dict[Precision, str] = {"fp32": ONNX_FP32, "int8": ONNX_INT8}


class CompressSpec(Strict):
    """Deep Compression after the training (``artifacts.compression``): a size result."""

    prune: float = Field(0.5, ge=0, le=0.95, description="share of weights set to zero")
    share_bits: int | None = Field(5, ge=1, le=8, description="2**b shared values per layer")
    huffman: bool = True
    finetune_epochs: int = Field(3, ge=0, le=50, description="after pruning")

    @model_validator(mode="after")
    def _huffman_needs_sharing(self) -> CompressSpec:
        if self.huffman and self.share_bits is None:
            raise ValueError("huffman codes the shared weights' symbols: give share_bits")
        return self

    def settings(self) -> CompressionSettings:
        return CompressionSettings(**self.model_dump())


class TernarySpec(Strict):
    """Trained ternary quantization after the training (``artifacts.ternary``): a size."""

    epochs: int = Field(10, ge=1, le=MAX_FINAL_EPOCHS, description="ternary fine-tuning")


class TrainSpec(Strict):
    """What ``POST /v1/jobs/{id}/trials/{n}/train`` takes; the rest of the recipe is the
    measured default (``artifacts.training.FinalRecipe``)."""

    epochs: int = Field(DEFAULT_RECIPE.epochs, ge=1, le=MAX_FINAL_EPOCHS)
    data: str | None = Field(
        None, min_length=1, max_length=1000, description="default: the search job's data"
    )
    augment: list[Augmentation] = Field(default_factory=lambda: list(DEFAULT_RECIPE.augment))
    seed: int = Field(0, ge=0, le=2**31 - 1)
    compress: CompressSpec | None = None
    ternary: TernarySpec | None = None

    def recipe(self) -> FinalRecipe:
        return FinalRecipe(epochs=self.epochs, augment=tuple(self.augment), seed=self.seed)


class TrainingJob(BaseModel):
    """A training job's spec as stored on its job: the request, and what it was resolved to
    (the architecture, the search job's devices and measurement settings)."""

    name: str
    train: TrainSpec
    source_job: int
    trial: int
    arch: str
    devices: list[str]
    measurement: dict[str, Any]


class MeasuredLatency(BaseModel):
    """One file's latency on one device, as its agent measured it."""

    median_ms: float
    p90_ms: float
    spread_ms: float
    runs: int
    rounds: int
    provider: str
    measured_at: datetime
    record_id: int


class CompressionStage(BaseModel):
    """One stage of Deep Compression: the network's encoded size and test accuracy."""

    stage: str = Field(description="dense, pruned, shared or huffman")
    test_accuracy: float = Field(description="its weights as ONNX fp32, in ONNX Runtime")
    bytes: int = Field(description="the encoded network: compressed layers and the rest")
    ratio: float = Field(description="the fp32 ONNX file's size over this")


class TernaryOut(BaseModel):
    """The network with ternary weights (TTQ): no runtime here runs it faster; a size."""

    epochs: int
    layers: int = Field(description="layers made ternary: all but the first and the last")
    test_accuracy: float = Field(description="its weights as ONNX fp32, in ONNX Runtime")
    bytes: int = Field(description="2 bits a ternary weight, two scales a layer, rest float32")
    ratio: float = Field(description="the fp32 ONNX file's size over this")


class ModelResults(BaseModel):
    """What a training job found: the training, the test scores of each file in ONNX
    Runtime, the files' sizes and their latency per device and precision."""

    epochs: int = 0
    resumed_from: int = Field(0, description="the epoch a resumed training started after")
    train_seconds: float = 0.0
    train_accuracy: list[float] = Field(default_factory=list, description="per epoch")
    input_mean: float | None = Field(None, description="pixels in [0, 1], minus this ...")
    input_std: float | None = Field(None, description="... divided by this")
    test_images: int = 0
    test_accuracy: dict[Precision, float] = Field(default_factory=dict)
    sizes: dict[str, int] = Field(default_factory=dict, description="bytes per file")
    latency: dict[str, dict[Precision, MeasuredLatency]] = Field(default_factory=dict)
    compression: list[CompressionStage] = Field(
        default_factory=list,
        description="a size result: ONNX Runtime runs pruned or shared weights no faster",
    )
    ternary: TernaryOut | None = None


def submit_training(
    session: Session,
    source: Job,
    trial: int,
    arch: Arch,
    request: TrainSpec,
    data_location: str,
    data: ImageDataset,
    owner: Caller,
) -> Model:
    """Queue the training of ``arch`` (trial ``trial`` of the search job ``source``) on
    ``data`` (at ``data_location``) and its model, both ``owner``'s."""
    try:
        check_task(arch, data)
    except ValueError as exc:
        raise SpecError("data", str(exc)) from None
    searched = JobSpec.model_validate(source.spec)
    spec = TrainingJob(
        name=f"train trial {trial} of job {source.id}",
        train=request,
        source_job=source.id,
        trial=trial,
        arch=str(arch),
        devices=list(searched.devices),
        measurement=searched.measurement.model_dump(),
    )
    job = Job(
        owner_id=owner.user_id,
        kind=JobKind.TRAIN,
        name=spec.name,
        spec=spec.model_dump(),
        device_ids=dict(source.device_ids) if source.device_ids else None,
        data_location=data_location,
        state=JobState.QUEUED,
        cancel_requested=False,
        progress=JobProgress(epochs=request.epochs).model_dump(),
        claims=0,
    )
    session.add(job)
    session.flush()
    model = Model(
        owner_id=owner.user_id,
        job_id=job.id,
        source_job_id=source.id,
        trial=trial,
        arch=str(arch),
        results=ModelResults().model_dump(mode="json"),
    )
    session.add(model)
    session.flush()
    return model


def check_searchable(source: Job) -> None:
    """Only a search job's trials can be trained."""
    if source.kind != JobKind.SEARCH:
        raise ConflictError(f"job {source.id} is a {source.kind} job; train a search's trial")


def get_model(session: Session, model_id: int, caller: Caller) -> Model:
    """One of the caller's models; another user's is a 404, as if it did not exist."""
    model = session.get(Model, model_id)
    if model is None or not caller.owns(model.owner_id):
        raise NotFoundError(f"no model {model_id}")
    return model


def model_of_job(session: Session, job_id: int) -> Model:
    model = session.scalar(select(Model).where(Model.job_id == job_id))
    if model is None:
        raise NotFoundError(f"job {job_id} makes no model")
    return model


def list_models(
    session: Session, caller: Caller, offset: int, limit: int
) -> tuple[list[Model], int]:
    """A page of the caller's models (an admin: all), newest first, and how many in all."""
    query = select(Model)
    if not caller.admin:
        query = query.where(Model.owner_id == caller.user_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = session.scalars(query.order_by(Model.id.desc()).offset(offset).limit(limit))
    return list(page), total


def artifact_of(session: Session, model: Model, name: str) -> ModelArtifact:
    """One file of the model; a 404 while the training has not made it."""
    if name not in ARTIFACTS:
        raise NotFoundError(f"no file {name!r}; a model has {', '.join(ARTIFACTS)}")
    found = session.scalar(
        select(ModelArtifact).where(ModelArtifact.model_id == model.id, ModelArtifact.name == name)
    )
    if found is None:
        raise NotFoundError(f"model {model.id} has no {name} yet")
    return found


def artifact_names(session: Session, model: Model) -> list[str]:
    return list(
        session.scalars(
            select(ModelArtifact.name)
            .where(ModelArtifact.model_id == model.id)
            .order_by(ModelArtifact.id)
        )
    )


def keep_artifacts(session: Session, model_id: int, files: dict[str, bytes]) -> dict[str, str]:
    """Store (or replace: a resumed job makes them again) the model's files; their SHA-256."""
    hashes = {}
    for name, data in files.items():
        digest = hashlib.sha256(data).hexdigest()
        row = session.scalar(
            select(ModelArtifact).where(
                ModelArtifact.model_id == model_id, ModelArtifact.name == name
            )
        )
        if row is None:
            row = ModelArtifact(model_id=model_id, name=name)
            session.add(row)
        row.sha256, row.size_bytes, row.data = digest, len(data), data
        hashes[name] = digest
    session.flush()
    return hashes

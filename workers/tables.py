"""Tables the workers package owns: jobs (searches and trainings), uploaded data sets, and
trained models with their files. Trials live in Optuna's own tables (one study per job, same
database URL), never mirrored here (docs/architecture.md)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from latency.tables import NAMING, UTCDateTime, utcnow


class WorkersBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class JobState(StrEnum):
    """Forward only: queued -> running -> succeeded | failed | cancelled."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED_STATES = (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


class JobKind(StrEnum):
    """What a job does: search a space (spec: ``workers.spec.JobSpec``) or train one
    trial's network for deployment (spec: ``workers.models.TrainSpec``)."""

    SEARCH = "search"
    TRAIN = "train"


class Job(WorkersBase):
    """A job: its spec as submitted, where it stands, and who drives it (the lease)."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_state", "state", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(Integer, index=True)  # None: admins' only
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(
        String(16), default=JobKind.SEARCH, server_default=JobKind.SEARCH.value
    )
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    # the devices by id, fixed at submission: a device deleted and registered again under its
    # name is another device, and the job's trials fail rather than measure on it
    device_ids: Mapped[dict[str, int] | None] = mapped_column(JSON)
    # where the data is, resolved at submission (a bundled name, an upload's file or a path
    # under a data root); None for jobs queued before, which use ``spec["data"]``
    data_location: Mapped[str | None] = mapped_column(String(4096))
    state: Mapped[str] = mapped_column(String(16), default=JobState.QUEUED)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claims: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


def study_name(job_id: int) -> str:
    """The Optuna study that holds a job's trials (what optuna-dashboard lists)."""
    return f"edgenas-job-{job_id}"


class Dataset(WorkersBase):
    """An uploaded data set: validated before it was kept, stored as one file under the
    server's data directory, named uniquely among its owner's."""

    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(Integer, index=True)
    name: Mapped[str] = mapped_column(String(100))
    file: Mapped[str] = mapped_column(String(100))  # inside the data directory
    format: Mapped[str] = mapped_column(String(8))  # npz | zip
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    images: Mapped[int] = mapped_column(Integer)
    classes: Mapped[list[str]] = mapped_column(JSON)
    resolution: Mapped[int] = mapped_column(Integer)
    channels: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Model(WorkersBase):
    """A trial's network trained for deployment by its training job; what the training and
    the measurements found is ``results`` (``workers.models.ModelResults``)."""

    __tablename__ = "models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(Integer, index=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), unique=True)
    source_job_id: Mapped[int] = mapped_column(Integer)
    trial: Mapped[int] = mapped_column(Integer)
    arch: Mapped[str] = mapped_column(Text)
    results: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ModelArtifact(WorkersBase):
    """One file of a model (weights, ONNX fp32, ONNX int8), kept in the database."""

    __tablename__ = "model_artifacts"
    __table_args__ = (UniqueConstraint("model_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TrainingCheckpoint(WorkersBase):
    """The newest checkpoint of a training job (``artifacts.training``): a runner that claims
    the job after another died resumes from it."""

    __tablename__ = "training_checkpoints"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    epoch: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

"""Tables the latency package owns: devices, ONNX models, measurement tasks, latency records.

SQLAlchemy 2.x declarative models on their own ``MetaData``; the server's Alembic environment
combines it with the other packages' metadata. Works on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every backend (SQLite would hand back naive datetimes)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class LatencyBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class TaskState(StrEnum):
    """pending -> leased -> done | failed; an expired lease goes back to pending."""

    PENDING = "pending"
    LEASED = "leased"
    DONE = "done"
    FAILED = "failed"


class RecordSource(StrEnum):
    """Where a latency came from: an agent's measurement, or a lab's file (``latency import``)."""

    AGENT = "agent"
    IMPORT = "import"


class Device(LatencyBase):
    """A registered, latency-measuring device (phone host, Jetson, PC). Its owner manages it;
    a ``shared`` device may be measured on by everyone. Names are unique per owner (the
    service's own devices, without an owner, are looked up before they are registered)."""

    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("owner_id", "name", name="uq_devices_owner_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(Integer, index=True)  # None: the service's
    shared: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    runtime: Mapped[str] = mapped_column(String(32))
    provider: Mapped[str] = mapped_column(String(64))
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OnnxModel(LatencyBase):
    """An exported model, shared by every task that times the same architecture and shape."""

    __tablename__ = "onnx_models"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    arch: Mapped[str] = mapped_column(Text)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LatencyRecord(LatencyBase):
    """One finished measurement of an architecture on a device under given settings."""

    __tablename__ = "latency_records"
    __table_args__ = (Index("ix_latency_records_lookup", "device_id", "arch_hash", "settings_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    arch: Mapped[str] = mapped_column(Text)
    arch_hash: Mapped[str] = mapped_column(String(16))
    settings_key: Mapped[str] = mapped_column(String(512))
    median_ms: Mapped[float]
    p90_ms: Mapped[float]
    cv: Mapped[float]
    runs: Mapped[int]
    rounds: Mapped[int]
    spread_ms: Mapped[float]
    remeasures: Mapped[int]
    disturbed_rounds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    source: Mapped[str] = mapped_column(
        String(16), default=RecordSource.AGENT, server_default=RecordSource.AGENT.value
    )
    threads: Mapped[int]
    provider: Mapped[str] = mapped_column(String(100))
    # the SHA-256 of a model file timed as it is (a trained or int8 model), None for the
    # architecture's own export: only those describe the architecture (predictors, caches)
    artifact: Mapped[str | None] = mapped_column(String(64))
    device_facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    measured_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# the records that describe an architecture (its own export timed), not a model file
OF_ARCHITECTURES = LatencyRecord.artifact.is_(None)


class MeasurementTask(LatencyBase):
    """A request to time one architecture on one device; agents lease it."""

    __tablename__ = "measurement_tasks"
    __table_args__ = (
        # One open task per (device, arch, settings): duplicate requests share it.
        Index(
            "uq_measurement_tasks_open",
            "device_id",
            "arch_hash",
            "settings_key",
            unique=True,
            sqlite_where=text("state IN ('pending', 'leased')"),
            postgresql_where=text("state IN ('pending', 'leased')"),
        ),
        Index("ix_measurement_tasks_queue", "device_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    owner_id: Mapped[int | None] = mapped_column(Integer)  # who asked first (None: the service)
    arch: Mapped[str] = mapped_column(Text)
    arch_hash: Mapped[str] = mapped_column(String(16))
    model_key: Mapped[str] = mapped_column(ForeignKey("onnx_models.key"))
    input_shape: Mapped[list[int]] = mapped_column(JSON)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    settings_key: Mapped[str] = mapped_column(String(512))
    state: Mapped[str] = mapped_column(String(16), default=TaskState.PENDING)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=3)
    error: Mapped[str | None] = mapped_column(Text)
    record_id: Mapped[int | None] = mapped_column(
        ForeignKey("latency_records.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

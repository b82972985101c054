"""The measurement queue: request, lease, complete, fail, expire; and the latency cache.

A request for a (device, architecture, settings) that was already measured is a cache hit; one
that is already queued shares the open task (a partial unique index makes that hold under
concurrency). Leasing is a guarded UPDATE (``state = 'pending'`` in the WHERE clause), atomic on
SQLite and PostgreSQL alike; PostgreSQL also skips rows other transactions hold.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from edgenas.callers import Caller
from edgenas.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    QuotaExceededError,
)
from latency.database import claim_oldest
from latency.devices import DeviceAccess, get_device, may_use
from latency.protocol import (
    MIN_SECONDS_PER_RUN,
    MeasurementResult,
    MeasurementSettings,
    TaskSettings,
)
from latency.tables import (
    Device,
    LatencyRecord,
    MeasurementTask,
    OnnxModel,
    TaskState,
    utcnow,
)
from space import Arch

OPEN_STATES = (TaskState.PENDING, TaskState.LEASED)
FINISHED_STATES = (TaskState.DONE, TaskState.FAILED)
MAX_ERROR_CHARS = 4000
TASK_QUOTA_RETRY_SECONDS = 60  # agents finish a task in seconds
KEYS_PER_QUERY = 500  # bound parameters per IN list (SQLite allows 32,766)

Exporter = Callable[[Arch], bytes]


def model_key(arch: Arch, input_shape: tuple[int, ...]) -> str:
    """Cache key of an exported model: architecture hash and input shape."""
    return hashlib.sha256(f"{arch.hash}:{list(input_shape)}".encode()).hexdigest()[:32]


def cached_record(
    session: Session, device: Device, arch_hash: str, settings: MeasurementSettings
) -> LatencyRecord | None:
    """The newest measurement of this architecture on this device with these settings."""
    return session.scalar(
        select(LatencyRecord)
        .where(
            LatencyRecord.device_id == device.id,
            LatencyRecord.arch_hash == arch_hash,
            LatencyRecord.settings_key == settings.key(),
        )
        .order_by(LatencyRecord.id.desc())
        .limit(1)
    )


def _open_task(
    session: Session, device: Device, arch_hash: str, settings: MeasurementSettings
) -> MeasurementTask | None:
    return session.scalar(
        select(MeasurementTask).where(
            MeasurementTask.device_id == device.id,
            MeasurementTask.arch_hash == arch_hash,
            MeasurementTask.settings_key == settings.key(),
            MeasurementTask.state.in_(OPEN_STATES),
        )
    )


def _ensure_model(session: Session, arch: Arch, key: str, export: Exporter) -> None:
    if session.get(OnnxModel, key) is None:
        data = export(arch)
        try:
            with session.begin_nested():
                session.add(OnnxModel(key=key, arch=str(arch), data=data))
        except IntegrityError:  # a concurrent request (another job) stored the same model
            pass


def check_task_quota(session: Session, owner_id: int | None, adding: int, quota: int) -> None:
    """Refuse ``adding`` more tasks when the owner would hold over ``quota`` open ones (429)."""
    open_tasks = (
        session.scalar(
            select(func.count())
            .select_from(MeasurementTask)
            .where(MeasurementTask.owner_id == owner_id, MeasurementTask.state.in_(OPEN_STATES))
        )
        or 0
    )
    if open_tasks + adding > quota:
        raise QuotaExceededError(
            f"you have {open_tasks:,} open measurement tasks and ask for up to {adding:,} more; "
            f"at most {quota:,}",
            retry_after=TASK_QUOTA_RETRY_SECONDS,
        )


def check_fits_lease(settings: MeasurementSettings, lease_seconds: float, field: str) -> None:
    """Refuse settings that cannot finish within an agent's lease even on the fastest device:
    the lease would expire mid-measurement, again and again, until the task fails."""
    least = settings.least_seconds()
    if least > lease_seconds:
        raise InvalidRequestError(
            f"{field}: these settings take at least {least:,.0f} s (warm-up, then "
            f"{settings.runs:,} runs x {settings.rounds} rounds at "
            f"{MIN_SECONDS_PER_RUN * 1000:g} ms or more); an agent's lease is {lease_seconds:g} s"
        )


def unexported(session: Session, archs: Sequence[Arch]) -> list[Arch]:
    """The architectures whose ONNX model is not stored yet: a caller queueing many exports
    them before its transaction rather than inside it."""
    keys = {arch.hash: model_key(arch, arch.input_shape()) for arch in archs}
    stored: set[str] = set()
    values = list(keys.values())
    for first in range(0, len(values), KEYS_PER_QUERY):
        chunk = values[first : first + KEYS_PER_QUERY]
        stored.update(session.scalars(select(OnnxModel.key).where(OnnxModel.key.in_(chunk))))
    return [arch for arch in archs if keys[arch.hash] not in stored]


def usable_task(session: Session, task_id: int, caller: Caller) -> MeasurementTask:
    """A task on a device the caller may use: the device's measurements are theirs to see (a
    request for the same measurement would get the same task or record)."""
    task = session.get(MeasurementTask, task_id)
    if task is None or not may_use(caller, get_device(session, task.device_id)):
        raise _no_task(task_id)
    return task


def _no_task(task_id: int) -> NotFoundError:
    return NotFoundError(f"no latency task {task_id}")


@dataclass(frozen=True)
class TaskView:
    """What a held wait re-checks about a task, read for many tasks in one query."""

    state: TaskState
    arch: str
    arch_hash: str
    error: str | None
    device: DeviceAccess


def task_views(db: Session | Connection, task_ids: Collection[int]) -> dict[int, TaskView]:
    """Those of the tasks that exist, with their devices' access, in one query."""
    rows = db.execute(
        select(
            MeasurementTask.id,
            MeasurementTask.state,
            MeasurementTask.arch,
            MeasurementTask.arch_hash,
            MeasurementTask.error,
            Device.name,
            Device.shared,
            Device.owner_id,
        )
        .join(Device, Device.id == MeasurementTask.device_id)
        .where(MeasurementTask.id.in_(task_ids))
    )
    return {
        row.id: TaskView(
            row.state,
            row.arch,
            row.arch_hash,
            row.error,
            DeviceAccess(row.name, row.shared, row.owner_id),
        )
        for row in rows
    }


def visible_task(view: TaskView | None, task_id: int, caller: Caller) -> TaskView:
    """The view of a task on a device the caller may use (see ``usable_task``)."""
    if view is None or not may_use(caller, view.device):
        raise _no_task(task_id)
    return view


def request_measurement(
    session: Session,
    device: Device,
    arch: Arch,
    settings: MeasurementSettings,
    *,
    export: Exporter,
    max_attempts: int = 3,
    fresh: bool = False,
    owner_id: int | None = None,
) -> LatencyRecord | MeasurementTask:
    """A cached record (unless ``fresh``), the open task for the same request, or a new
    pending task of ``owner_id`` (who asked first)."""
    record = None if fresh else cached_record(session, device, arch.hash, settings)
    if record is not None:
        return record
    task = _open_task(session, device, arch.hash, settings)
    if task is not None:
        return task
    shape = list(arch.input_shape())
    # a model file timed as it is is stored under its own hash; an architecture's export
    # under the architecture's and shape's
    key = _artifact(settings) or model_key(arch, tuple(shape))
    _ensure_model(session, arch, key, export)
    task = MeasurementTask(
        device_id=device.id,
        owner_id=owner_id,
        arch=str(arch),
        arch_hash=arch.hash,
        model_key=key,
        input_shape=shape,
        settings=settings.model_dump(),
        settings_key=settings.key(),
        max_attempts=max_attempts,
    )
    try:
        with session.begin_nested():
            session.add(task)
    except IntegrityError:  # another request created the same task first
        existing = _open_task(session, device, arch.hash, settings)
        if existing is None:
            raise
        return existing
    return task


def _artifact(settings: MeasurementSettings) -> str | None:
    return settings.artifact if isinstance(settings, TaskSettings) else None


def expire_leases(session: Session) -> int:
    """Return tasks whose lease ran out to the queue, or fail them after their last attempt."""
    now = utcnow()
    expired = list(
        session.scalars(
            select(MeasurementTask).where(
                MeasurementTask.state == TaskState.LEASED, MeasurementTask.lease_expires_at < now
            )
        )
    )
    for task in expired:
        if task.attempts >= task.max_attempts:
            task.state = TaskState.FAILED
            task.error = f"lease expired on each of {task.attempts} attempts"
        else:
            task.state = TaskState.PENDING
        task.lease_owner = None
        task.lease_expires_at = None
    return len(expired)


def lease_next(
    session: Session, device: Device, owner: str, lease: timedelta
) -> MeasurementTask | None:
    """Lease the oldest pending task of ``device`` to ``owner``, or ``None`` if there is none."""
    expire_leases(session)
    claimable = (MeasurementTask.device_id == device.id) & (
        MeasurementTask.state == TaskState.PENDING
    )
    values = {
        "state": TaskState.LEASED,
        "lease_owner": owner,
        "lease_expires_at": utcnow() + lease,
        "attempts": MeasurementTask.attempts + 1,
    }
    return claim_oldest(session, MeasurementTask, claimable, values)


def own_task(session: Session, device: Device, task_id: int) -> MeasurementTask:
    """A task of ``device``; another device's task is reported as missing, not forbidden."""
    task = session.get(MeasurementTask, task_id)
    if task is None or task.device_id != device.id:
        raise NotFoundError(f"no task {task_id} for this device")
    return task


def _leased_task(session: Session, device: Device, task_id: int, owner: str) -> MeasurementTask:
    task = own_task(session, device, task_id)
    if task.state != TaskState.LEASED or task.lease_owner != owner:
        raise ConflictError(f"task {task_id} is {task.state}, not leased to {owner!r}")
    return task


def complete_task(
    session: Session, device: Device, task_id: int, owner: str, result: MeasurementResult
) -> LatencyRecord:
    """Store the measurement and close the task."""
    task = _leased_task(session, device, task_id, owner)
    record = LatencyRecord(
        device_id=device.id,
        arch=task.arch,
        arch_hash=task.arch_hash,
        settings_key=task.settings_key,
        artifact=task.settings.get("artifact"),
        device_facts=dict(device.facts),
        **result.model_dump(),
    )
    session.add(record)
    session.flush()
    task.state, task.record_id = TaskState.DONE, record.id
    task.lease_owner = task.lease_expires_at = None
    return record


def fail_task(session: Session, device: Device, task_id: int, owner: str, error: str) -> None:
    """The agent could not measure the model: keep its error text for the user."""
    task = _leased_task(session, device, task_id, owner)
    task.state, task.error = TaskState.FAILED, error[:MAX_ERROR_CHARS]
    task.lease_owner = task.lease_expires_at = None


def release_task(session: Session, device: Device, task_id: int, owner: str) -> None:
    """The agent is stopping and gives the task back unmeasured: it is pending again at once,
    and the abandoned lease does not count against the task's attempts."""
    task = _leased_task(session, device, task_id, owner)
    task.state, task.attempts = TaskState.PENDING, task.attempts - 1
    task.lease_owner = task.lease_expires_at = None


def task_model(session: Session, task: MeasurementTask) -> bytes:
    model = session.get(OnnxModel, task.model_key)
    if model is None:  # pragma: no cover - the foreign key keeps it
        raise NotFoundError(f"model of task {task.id} is gone")
    return model.data

"""Latency measurement requests (user API key): queue, cache hit, wait for the result."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.server.deps import (
    CallerDep,
    Database,
    DatabaseDep,
    ObjectId,
    SettingsDep,
    SignalDep,
    TaskViewsDep,
    require_user,
)
from api.server.schemas import LatencyOut, LatencyRequest, RecordOut
from edgenas.callers import Caller
from latency.devices import device_by_name
from latency.queue import (
    FINISHED_STATES,
    Exporter,
    TaskView,
    cached_record,
    check_fits_lease,
    check_task_quota,
    request_measurement,
    unexported,
    usable_task,
    visible_task,
)
from latency.tables import Device, LatencyRecord, MeasurementTask
from space import Arch
from space.references import resolve_arch
from space.size_caps import SizeCaps

router = APIRouter(prefix="/v1/latency", tags=["latency"], dependencies=[Depends(require_user)])


def export_model(arch: Arch) -> bytes:
    from space.export import export_onnx_bytes  # torch loads on the first measurement only

    return export_onnx_bytes(arch)


async def exports_for(
    db: Database, archs: Sequence[Arch], check: Callable[[Session], object]
) -> Exporter:
    """Export the models of ``archs`` not stored yet on a worker thread, outside any
    transaction (after ``check`` passed in a short one), and return the exporter the queueing
    transaction uses: a model stored meanwhile is not asked for again."""

    def to_export(session: Session) -> list[Arch]:
        check(session)
        return unexported(session, archs)

    missing = await db.run(to_export)
    exported = await run_in_threadpool(lambda: {arch.hash: export_model(arch) for arch in missing})
    return lambda arch: exported.get(arch.hash) or export_model(arch)


def sized_arch(text: str, caps: SizeCaps) -> Arch:
    """The architecture a request names, refused (422 naming the cap) if it is too large."""
    arch = resolve_arch(text)
    caps.check(arch)
    return arch


def cached_status(arch: Arch, device: Device, record: LatencyRecord) -> LatencyOut:
    """The answer for a latency already measured: nothing is queued."""
    return LatencyOut(
        status="done",
        arch=str(arch),
        arch_hash=arch.hash,
        device=device.name,
        cached=True,
        record=RecordOut.model_validate(record),
    )


def task_status(session: Session, task: MeasurementTask) -> LatencyOut:
    device = session.get(Device, task.device_id)
    record = session.get(LatencyRecord, task.record_id) if task.record_id else None
    return LatencyOut(
        status=task.state,
        arch=task.arch,
        arch_hash=task.arch_hash,
        device=device.name if device else "",
        task_id=task.id,
        error=task.error,
        record=RecordOut.model_validate(record) if record else None,
    )


async def _wait_for_task(
    db: DatabaseDep,
    settings: SettingsDep,
    signal: SignalDep,
    tasks: TaskViewsDep,
    caller: Caller,
    task_id: ObjectId,
    wait_seconds: float,
) -> LatencyOut:
    """The task's status, once finished or after ``wait_seconds``. A held wait checks the
    task in a query shared with every other held wait, and reads it in full once finished."""

    def read(session: Session) -> LatencyOut:
        return task_status(session, usable_task(session, task_id, caller))

    timeout = min(wait_seconds, settings.max_wait_seconds)
    if timeout <= 0:
        return await db.run(read)

    async def look() -> TaskView:
        return visible_task(await tasks.get(task_id), task_id, caller)

    view = await signal.wait_for(look, lambda seen: seen.state in FINISHED_STATES, timeout)
    if view.state in FINISHED_STATES:
        return await db.run_held(read)
    return LatencyOut(
        status=view.state,
        arch=view.arch,
        arch_hash=view.arch_hash,
        device=view.device.name,
        task_id=task_id,
        error=view.error,
    )


@router.post("", response_model=LatencyOut)
async def measure(
    body: LatencyRequest,
    db: DatabaseDep,
    settings: SettingsDep,
    signal: SignalDep,
    tasks: TaskViewsDep,
    caller: CallerDep,
) -> LatencyOut:
    """Latency of an architecture on a device: a cached record, or a queued measurement
    (optionally waited for up to ``wait_seconds``). The network's size is checked first, and
    its model exported outside the transaction."""
    check_fits_lease(body.settings, settings.lease_seconds, "settings")
    caps = settings.size_caps()

    def look_up(session: Session) -> LatencyOut | Arch:
        """The cached answer (the common case: one short transaction), else the checked
        architecture to queue."""
        arch = sized_arch(body.arch, caps)
        if body.fresh:
            return arch
        device = device_by_name(session, body.device, caller)
        record = cached_record(session, device, arch.hash, body.settings)
        return arch if record is None else cached_status(arch, device, record)

    found = await db.run(look_up)
    if isinstance(found, LatencyOut):
        return found
    arch = found

    def check(session: Session) -> None:
        device_by_name(session, body.device, caller)
        check_task_quota(session, caller.user_id, 1, settings.max_open_tasks_per_user)

    export = await exports_for(db, [arch], check)

    def work(session: Session) -> LatencyOut:
        device = device_by_name(session, body.device, caller)
        found = request_measurement(
            session,
            device,
            arch,
            body.settings,
            export=export,
            max_attempts=settings.max_task_attempts,
            fresh=body.fresh,
            owner_id=caller.user_id,
        )
        session.flush()
        if isinstance(found, LatencyRecord):  # measured since the first look
            return cached_status(arch, device, found)
        return task_status(session, found)

    status = await db.run(work)
    if status.task_id is None:  # a cached record: nothing changed, no waiter to wake
        return status
    signal.notify()
    if body.wait_seconds == 0:
        return status
    return await _wait_for_task(
        db, settings, signal, tasks, caller, status.task_id, body.wait_seconds
    )


@router.get("/{task_id}", response_model=LatencyOut)
async def show(
    task_id: ObjectId,
    db: DatabaseDep,
    settings: SettingsDep,
    signal: SignalDep,
    tasks: TaskViewsDep,
    caller: CallerDep,
    wait_seconds: Annotated[float, Query(ge=0, le=300)] = 0,
) -> LatencyOut:
    """State of a measurement; waits up to ``wait_seconds`` for it to finish."""
    return await _wait_for_task(db, settings, signal, tasks, caller, task_id, wait_seconds)

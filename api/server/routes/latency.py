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
    require_user,
)
from api.server.schemas import LatencyOut, LatencyRequest, RecordOut
from edgenas.callers import Caller
from latency.devices import device_by_name
from latency.queue import (
    Exporter,
    check_fits_lease,
    check_task_quota,
    request_measurement,
    unexported,
    usable_task,
)
from latency.tables import Device, LatencyRecord, MeasurementTask, TaskState
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
    caller: Caller,
    task_id: ObjectId,
    wait_seconds: float,
) -> LatencyOut:
    def read(session: Session) -> LatencyOut:
        return task_status(session, usable_task(session, task_id, caller))

    async def finished() -> LatencyOut | None:
        status = await db.run(read)
        return status if status.status in (TaskState.DONE, TaskState.FAILED) else None

    timeout = min(wait_seconds, settings.max_wait_seconds)
    done = await signal.wait_for(finished, timeout)
    return done if done is not None else await db.run(read)


@router.post("", response_model=LatencyOut)
async def measure(
    body: LatencyRequest,
    db: DatabaseDep,
    settings: SettingsDep,
    signal: SignalDep,
    caller: CallerDep,
) -> LatencyOut:
    """Latency of an architecture on a device: a cached record, or a queued measurement
    (optionally waited for up to ``wait_seconds``). The network's size is checked first, and
    its model exported outside the transaction."""
    check_fits_lease(body.settings, settings.lease_seconds, "settings")
    arch = await run_in_threadpool(sized_arch, body.arch, settings.size_caps())

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
        if isinstance(found, LatencyRecord):
            return LatencyOut(
                status="done",
                arch=str(arch),
                arch_hash=arch.hash,
                device=device.name,
                cached=True,
                record=RecordOut.model_validate(found),
            )
        return task_status(session, found)

    status = await db.run(work)
    if status.task_id is None:  # a cached record: nothing changed, no waiter to wake
        return status
    signal.notify()
    if body.wait_seconds == 0:
        return status
    return await _wait_for_task(db, settings, signal, caller, status.task_id, body.wait_seconds)


@router.get("/{task_id}", response_model=LatencyOut)
async def show(
    task_id: ObjectId,
    db: DatabaseDep,
    settings: SettingsDep,
    signal: SignalDep,
    caller: CallerDep,
    wait_seconds: Annotated[float, Query(ge=0, le=300)] = 0,
) -> LatencyOut:
    """State of a measurement; waits up to ``wait_seconds`` for it to finish."""
    return await _wait_for_task(db, settings, signal, caller, task_id, wait_seconds)

"""Routes for device agents (device token only, and only for the device's own tasks)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from api.server.deps import (
    DatabaseDep,
    DeviceId,
    ObjectId,
    SettingsDep,
    SignalDep,
)
from api.server.schemas import file_response
from latency.devices import get_device, heartbeat
from latency.protocol import AgentRef, Heartbeat, LeasedTask, LeaseRequest, TaskReport
from latency.queue import (
    complete_task,
    fail_task,
    lease_next,
    own_task,
    release_task,
    task_model,
)

router = APIRouter(prefix="/v1/agent", tags=["agent"])


@router.post("/heartbeat", status_code=204)
async def beat(body: Heartbeat, device_id: DeviceId, db: DatabaseDep) -> Response:
    """The agent is alive; ``facts`` (CPU, cores, OS, runtime versions) update the device."""
    await db.run(lambda s: heartbeat(s, get_device(s, device_id), body.facts))
    return Response(status_code=204)


@router.post("/tasks/lease", response_model=LeasedTask, responses={204: {"description": "none"}})
async def lease(
    body: LeaseRequest,
    device_id: DeviceId,
    db: DatabaseDep,
    settings: SettingsDep,
    signal: SignalDep,
) -> LeasedTask | Response:
    """Lease this device's oldest pending task, long-polling up to ``wait_seconds``."""
    duration = timedelta(seconds=settings.lease_seconds)

    def take(session: Session) -> LeasedTask | None:
        device = get_device(session, device_id)
        heartbeat(session, device)
        task = lease_next(session, device, body.agent_id, duration)
        return None if task is None else LeasedTask.model_validate(task)

    timeout = min(body.wait_seconds, settings.max_wait_seconds)
    run = db.run_held if timeout > 0 else db.run

    task = await signal.wait_for(lambda: run(take), lambda leased: leased is not None, timeout)
    return task if task is not None else Response(status_code=204)


@router.get(
    "/tasks/{task_id}/model",
    response_class=Response,
    responses=file_response("application/octet-stream", "the task's ONNX model"),
)
async def model(task_id: ObjectId, device_id: DeviceId, db: DatabaseDep) -> Response:
    """The ONNX bytes of one of this device's tasks."""

    def read(session: Session) -> bytes:
        return task_model(session, own_task(session, get_device(session, device_id), task_id))

    return Response(await db.run(read), media_type="application/octet-stream")


@router.post("/tasks/{task_id}/result", status_code=204)
async def report(
    task_id: ObjectId, body: TaskReport, device_id: DeviceId, db: DatabaseDep, signal: SignalDep
) -> Response:
    """A measurement, or the error that prevented it (the task then fails with that text)."""

    def store(session: Session) -> None:
        device = get_device(session, device_id)
        if body.result is not None:
            complete_task(session, device, task_id, body.agent_id, body.result)
        else:
            fail_task(session, device, task_id, body.agent_id, body.error or "")

    await db.run(store)
    signal.notify()
    return Response(status_code=204)


@router.post("/tasks/{task_id}/release", status_code=204)
async def release(
    task_id: ObjectId, body: AgentRef, device_id: DeviceId, db: DatabaseDep, signal: SignalDep
) -> Response:
    """Give a leased task back unmeasured (the agent is stopping): pending again at once."""
    await db.run(lambda s: release_task(s, get_device(s, device_id), task_id, body.agent_id))
    signal.notify()
    return Response(status_code=204)

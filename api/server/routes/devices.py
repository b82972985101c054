"""Device registry routes (user API key)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.server.deps import (
    CalibrationsDep,
    CallerDep,
    DatabaseDep,
    ObjectId,
    PredictorsDep,
    SettingsDep,
    SignalDep,
    require_user,
)
from api.server.routes.latency import exports_for
from api.server.schemas import (
    CalibrationQueued,
    CalibrationRequest,
    DeviceCreate,
    DeviceCreated,
    DeviceOut,
    DeviceUpdate,
    MeasurementImport,
    MeasurementImported,
    PredictorReport,
)
from latency.calibration import calibration_plan
from latency.device_predictor import (
    import_measurements,
    measured_architectures,
    predictor_report,
)
from latency.devices import (
    delete_device,
    is_online,
    list_devices,
    managed_device,
    register_device,
    rotate_token,
    usable_device,
)
from latency.queue import check_fits_lease, check_task_quota, request_measurement
from latency.tables import Device, MeasurementTask

router = APIRouter(prefix="/v1/devices", tags=["devices"], dependencies=[Depends(require_user)])


def device_out(device: Device) -> DeviceOut:
    return DeviceOut.model_validate(device).model_copy(update={"online": is_online(device)})


@router.post("", status_code=201, response_model=DeviceCreated)
async def create(body: DeviceCreate, db: DatabaseDep, caller: CallerDep) -> DeviceCreated:
    """Register a device of the caller's; the response carries its token, shown only once."""

    def work(session: Session) -> DeviceCreated:
        device, token = register_device(session, owner_id=caller.user_id, **body.model_dump())
        session.flush()
        return DeviceCreated(**device_out(device).model_dump(), token=token)

    return await db.run(work)


@router.get("", response_model=list[DeviceOut])
async def index(db: DatabaseDep, caller: CallerDep) -> list[DeviceOut]:
    """The caller's devices and the ones shared with everyone (an admin: all)."""
    return await db.run(lambda s: [device_out(d) for d in list_devices(s, caller)])


@router.get("/{device_id}", response_model=DeviceOut)
async def show(device_id: ObjectId, db: DatabaseDep, caller: CallerDep) -> DeviceOut:
    return await db.run(lambda s: device_out(usable_device(s, device_id, caller)))


@router.patch("/{device_id}", response_model=DeviceOut)
async def update(
    device_id: ObjectId, body: DeviceUpdate, db: DatabaseDep, caller: CallerDep
) -> DeviceOut:
    """Share the device with every user (they may measure on it and search with it), or
    stop sharing it. Only its owner may."""

    def work(session: Session) -> DeviceOut:
        device = managed_device(session, device_id, caller)
        device.shared = body.shared
        return device_out(device)

    return await db.run(work)


@router.delete("/{device_id}", status_code=204)
async def remove(device_id: ObjectId, db: DatabaseDep, caller: CallerDep) -> Response:
    """Delete a device: its token stops working, its tasks and records go."""
    await db.run(lambda s: delete_device(s, device_id, caller))
    return Response(status_code=204)


@router.post("/{device_id}/token", response_model=DeviceCreated)
async def new_token(device_id: ObjectId, db: DatabaseDep, caller: CallerDep) -> DeviceCreated:
    """Revoke the device's token and issue a new one (shown only this once)."""

    def work(session: Session) -> DeviceCreated:
        device = managed_device(session, device_id, caller)
        token = rotate_token(session, device)
        return DeviceCreated(**device_out(device).model_dump(), token=token)

    return await db.run(work)


@router.post("/{device_id}/measurements", status_code=201, response_model=MeasurementImported)
async def import_batch(
    device_id: ObjectId, body: MeasurementImport, db: DatabaseDep, caller: CallerDep
) -> MeasurementImported:
    """Store measurements made elsewhere; they calibrate the device's predictor. All or none."""

    def work(session: Session) -> MeasurementImported:
        device = managed_device(session, device_id, caller)
        rows = [(m.arch, m.latency_ms) for m in body.measurements]
        imported = import_measurements(session, device, rows, body.source)
        session.flush()
        total = measured_architectures(session, device.id)
        return MeasurementImported(imported=imported, measurements=total)

    return await db.run(work)


@router.get("/{device_id}/predictor", response_model=PredictorReport)
async def predictor(
    device_id: ObjectId, db: DatabaseDep, predictors: PredictorsDep, caller: CallerDep
) -> PredictorReport:
    """The device's latency predictor: measurements used and cross-validated accuracy."""

    def work(session: Session) -> PredictorReport:
        return PredictorReport(
            **predictor_report(session, predictors, usable_device(session, device_id, caller))
        )

    return await db.run(work)


@router.post("/{device_id}/calibrate", status_code=202, response_model=CalibrationQueued)
async def calibrate(
    device_id: ObjectId,
    body: CalibrationRequest,
    db: DatabaseDep,
    settings: SettingsDep,
    signal: SignalDep,
    calibrations: CalibrationsDep,
    caller: CallerDep,
) -> CalibrationQueued:
    """Queue measurements of architectures spread over a space, and of its layers one by one,
    so that the device's predictor prices every kind of operator before a search relies on it.
    Every network's size is checked first; models are exported before the transaction (a
    space's layers take a minute or two)."""
    check_fits_lease(body.settings, settings.lease_seconds, "settings")
    with calibrations.slot(caller.user_id):
        plan = await run_in_threadpool(
            lambda: calibration_plan(
                body.space,
                resolution=body.resolution,
                count=body.count,
                layers=body.layers,
                seed=body.seed,
            )
        )
        archs = plan.archs
        caps = settings.size_caps()
        await run_in_threadpool(lambda: [caps.check(arch) for arch in archs])

        def check(session: Session) -> None:
            managed_device(session, device_id, caller)
            check_task_quota(session, caller.user_id, len(archs), settings.max_open_tasks_per_user)

        export = await exports_for(db, archs, check)

    def work(session: Session) -> CalibrationQueued:
        device = managed_device(session, device_id, caller)
        found = [
            request_measurement(
                session,
                device,
                arch,
                body.settings,
                export=export,
                max_attempts=settings.max_task_attempts,
                owner_id=caller.user_id,
            )
            for arch in archs
        ]
        session.flush()
        tasks = [item.id for item in found if isinstance(item, MeasurementTask)]
        return CalibrationQueued(
            architectures=len(plan.networks),
            layers=len(plan.probes),
            already_measured=len(archs) - len(tasks),
            task_ids=tasks,
        )

    queued = await db.run(work)
    signal.notify()
    return queued

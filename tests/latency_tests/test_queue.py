"""Device registry and measurement queue on real SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from edgenas.callers import SERVICE
from edgenas.errors import ConflictError, NotFoundError
from latency.database import create_db_engine
from latency.devices import authenticate_device, delete_device, device_by_name, register_device
from latency.protocol import MeasurementResult, MeasurementSettings
from latency.queue import (
    complete_task,
    fail_task,
    lease_next,
    request_measurement,
    task_model,
)
from latency.tables import LatencyBase, LatencyRecord, MeasurementTask, TaskState, utcnow
from space import parse_arch
from space.export import export_onnx_bytes
from tests.databases import BACKENDS, database_url

ARCH = parse_arch("r32_w1.0_n10:conv_k3_c16_s2|ir_e3_k3_c24_s2|head")
OTHER = parse_arch("r32_w1.0_n10:conv_k3_c16_s2|ir_e6_k5_c24_s2|head")
SETTINGS = MeasurementSettings(runs=5, rounds=1)
LEASE = timedelta(seconds=30)
RESULT = MeasurementResult(
    median_ms=1.5,
    p90_ms=1.7,
    cv=0.05,
    runs=5,
    rounds=1,
    spread_ms=0.0,
    threads=1,
    provider="CPUExecutionProvider",
)


@pytest.fixture(params=BACKENDS)
def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    with database_url(request.param, tmp_path) as url:
        engine = create_db_engine(url)
        LatencyBase.metadata.create_all(engine)
        try:
            yield sessionmaker(engine, expire_on_commit=False)
        finally:
            engine.dispose()


def _device(session: Session, name: str = "pixel"):
    return register_device(
        session,
        owner_id=7,  # a user's: names are unique per owner
        name=name,
        kind="android",
        runtime="onnxruntime",
        provider="CPUExecutionProvider",
    )


def test_tokens_authenticate_only_their_device(sessions) -> None:
    with sessions.begin() as session:
        device, token = _device(session)
        other, other_token = _device(session, "jetson")
    with sessions.begin() as session:
        assert authenticate_device(session, token).id == device.id
        assert authenticate_device(session, other_token).id == other.id
        assert authenticate_device(session, token + "x") is None
    with sessions.begin() as session, pytest.raises(ConflictError, match="already have a device"):
        _device(session)


def test_request_lease_complete_then_cache_hit(sessions) -> None:
    exports = []

    def export(arch):
        exports.append(arch.hash)
        return export_onnx_bytes(arch)

    with sessions.begin() as session:
        device, _ = _device(session)
        task = request_measurement(session, device, ARCH, SETTINGS, export=export)
        again = request_measurement(session, device, ARCH, SETTINGS, export=export)
        assert isinstance(task, MeasurementTask) and again.id == task.id
    with sessions.begin() as session:
        leased = lease_next(session, device, "agent-1", LEASE)
        assert leased.id == task.id and leased.state == TaskState.LEASED
        assert leased.attempts == 1
        assert task_model(session, leased).startswith(b"\x08")  # an ONNX protobuf
        assert lease_next(session, device, "agent-2", LEASE) is None
    with sessions.begin() as session:
        record = complete_task(session, device, task.id, "agent-1", RESULT)
        assert record.median_ms == 1.5
    with sessions.begin() as session:
        hit = request_measurement(session, device, ARCH, SETTINGS, export=export)
        assert isinstance(hit, LatencyRecord) and hit.id == record.id
        other = request_measurement(
            session, device, ARCH, MeasurementSettings(threads=2), export=export
        )
        assert isinstance(other, MeasurementTask)
    assert exports == [ARCH.hash]  # one export serves every request of that model


def test_expired_lease_returns_to_the_queue_then_fails_after_max_attempts(sessions) -> None:
    with sessions.begin() as session:
        device, _ = _device(session)
        task = request_measurement(
            session, device, ARCH, SETTINGS, export=export_onnx_bytes, max_attempts=2
        )
    for attempt in (1, 2):
        with sessions.begin() as session:
            leased = lease_next(session, device, f"agent-{attempt}", LEASE)
            assert leased is not None and leased.attempts == attempt
            session.execute(
                update(MeasurementTask).values(lease_expires_at=utcnow() - timedelta(seconds=1))
            )
    with sessions.begin() as session:
        assert lease_next(session, device, "agent-3", LEASE) is None
        failed = session.get(MeasurementTask, task.id)
        assert failed.state == TaskState.FAILED and "expired" in failed.error
        with pytest.raises(ConflictError):
            complete_task(session, device, task.id, "agent-2", RESULT)


def test_tasks_are_scoped_to_their_device(sessions) -> None:
    with sessions.begin() as session:
        device, _ = _device(session)
        other, _ = _device(session, "jetson")
        task = request_measurement(session, device, ARCH, SETTINGS, export=export_onnx_bytes)
    with sessions.begin() as session:
        assert lease_next(session, other, "intruder", LEASE) is None
        leased = lease_next(session, device, "agent", LEASE)
        with pytest.raises(NotFoundError):
            complete_task(session, other, leased.id, "agent", RESULT)
        with pytest.raises(ConflictError):
            complete_task(session, device, task.id, "someone-else", RESULT)


def test_failures_keep_the_error_and_deleting_a_device_removes_its_tasks(sessions) -> None:
    with sessions.begin() as session:
        device, _ = _device(session)
        task = request_measurement(session, device, OTHER, SETTINGS, export=export_onnx_bytes)
        lease_next(session, device, "agent", LEASE)
        fail_task(session, device, task.id, "agent", "InvalidGraph: " + "x" * 10_000)
    with sessions.begin() as session:
        failed = session.get(MeasurementTask, task.id)
        assert failed.state == TaskState.FAILED and failed.error.startswith("InvalidGraph")
        assert len(failed.error) == 4000
        delete_device(session, device.id, SERVICE)
    with sessions.begin() as session:
        assert session.get(MeasurementTask, task.id) is None


def test_two_requests_exporting_the_same_model_at_once_share_it(sessions) -> None:
    """Two jobs propose the same network on two devices at once: the second request's export
    finishes after the first stored the model; it must reuse it, not fail."""
    with sessions.begin() as session:
        _device(session, "pixel")
        _device(session, "jetson")

    def export_while_another_request_stores_it(arch):  # type: ignore[no-untyped-def]
        with sessions.begin() as other:
            request_measurement(
                other,
                device_by_name(other, "jetson", SERVICE),
                arch,
                SETTINGS,
                export=export_onnx_bytes,
            )
        return export_onnx_bytes(arch)

    with sessions.begin() as session:
        task = request_measurement(
            session,
            device_by_name(session, "pixel", SERVICE),
            ARCH,
            SETTINGS,
            export=export_while_another_request_stores_it,
        )
        assert isinstance(task, MeasurementTask)
    with sessions.begin() as session:
        tasks = session.query(MeasurementTask).all()
        assert len(tasks) == 2 and len({t.model_key for t in tasks}) == 1

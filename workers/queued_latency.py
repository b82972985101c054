"""Latency for a job: measured on its registered devices through the measurement queue.

For each device a cached record answers at once; otherwise the exported model goes to the
queue (shared with any identical open request) and the call waits, reading the task's state
from the database, until that device's agent has reported. Each evaluation runs in its own
Ray task, so one candidate waiting for a phone never holds up the others.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from sqlalchemy.orm import Session, sessionmaker

from latency.database import retry_transient
from latency.devices import job_device
from latency.protocol import MeasurementSettings
from latency.queue import request_measurement, unexported
from latency.tables import LatencyRecord, MeasurementTask, TaskState
from space import Arch

POLL_SECONDS = 0.5


class MeasurementFailed(RuntimeError):
    """A device could not time the model (its agent's error, or no answer in time)."""


class QueuedLatency:
    """``Arch -> {device: median ms}`` from the devices' agents."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        devices: Mapping[str, int],
        settings: MeasurementSettings,
        *,
        max_attempts: int = 3,
        timeout_seconds: float = 3600.0,
        model: bytes | None = None,
    ) -> None:
        """``model``: the file to time as it is (with ``settings.artifact`` its SHA-256),
        instead of the architecture's own export."""
        self._sessions = sessions
        self._devices = dict(devices)  # name -> id, fixed when the job was submitted
        self._settings = settings
        self._max_attempts = max_attempts
        self._timeout = timeout_seconds
        self._model = model

    def __call__(self, arch: Arch) -> dict[str, float]:
        return {device: record.median_ms for device, record in self.records(arch).items()}

    def records(self, arch: Arch) -> dict[str, LatencyRecord]:
        """Each device's record of ``arch`` (detached: read, not for changing)."""
        latencies: dict[str, LatencyRecord] = {}
        waiting = retry_transient(lambda: self._request(arch, latencies), f"queue {arch.hash}")
        deadline = time.monotonic() + self._timeout
        while waiting:
            retry_transient(lambda: self._collect(waiting, latencies), f"poll {arch.hash}")
            if waiting and time.monotonic() > deadline:
                raise MeasurementFailed(
                    f"no measurement from {sorted(waiting)} within {self._timeout:.0f} s"
                )
            if waiting:
                time.sleep(POLL_SECONDS)
        return latencies

    def _collect(self, waiting: dict[str, int], latencies: dict[str, LatencyRecord]) -> None:
        """Move the devices whose task is done from ``waiting`` into ``latencies``."""
        with self._sessions.begin() as session:
            for device, task_id in list(waiting.items()):
                task = session.get(MeasurementTask, task_id)
                assert task is not None  # tasks are never deleted while a job waits
                if task.state == TaskState.FAILED:
                    raise MeasurementFailed(f"{device}: {task.error}")
                if task.state == TaskState.DONE and task.record_id is not None:
                    record = session.get(LatencyRecord, task.record_id)
                    assert record is not None
                    latencies[device] = _detached(session, record)
                    del waiting[device]

    def _request(self, arch: Arch, latencies: dict[str, LatencyRecord]) -> dict[str, int]:
        """Cache hits go into ``latencies``; the open task of each other device is returned.
        The model is exported before the transaction, not inside it."""
        from space.export import export_onnx_bytes  # torch: only where models are exported

        exported = self._model
        if exported is None:
            with self._sessions.begin() as session:
                missing = unexported(session, [arch])
            exported = export_onnx_bytes(arch) if missing else None
        waiting = {}
        with self._sessions.begin() as session:
            for name, device_id in self._devices.items():
                found = request_measurement(
                    session,
                    job_device(session, name, device_id),
                    arch,
                    self._settings,
                    export=lambda a: exported or export_onnx_bytes(a),
                    max_attempts=self._max_attempts,
                )
                session.flush()
                if isinstance(found, LatencyRecord):
                    latencies[name] = _detached(session, found)
                else:
                    waiting[name] = found.id
        return waiting


def _detached(session: Session, record: LatencyRecord) -> LatencyRecord:
    """The record, readable after its transaction (loaded, then out of the session)."""
    session.refresh(record)
    session.expunge(record)
    return record

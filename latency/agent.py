"""The device agent: pulls measurement tasks from the server, times them, reports back.

Pull-based, so a device behind NAT or on a phone's Wi-Fi works. Heartbeats; reconnects with
exponential backoff while the server is away. On stop (SIGTERM) it finishes the task in hand
if that takes at most ``grace_seconds`` more, and otherwise abandons it cleanly: the
measurement is cancelled and the task handed back to the server, pending again at once. A
model that fails to load or run becomes a failed task with the error text, and the agent keeps
serving. Imports neither torch nor any server library.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx

from latency.backends import Backend, MeasurementCancelled
from latency.protocol import MeasurementResult, MeasurementSettings

log = logging.getLogger("edgenas.agent")
MAX_BACKOFF_SECONDS = 60.0
CANCEL_SECONDS = 10.0  # how long a cancelled backend may take to clean up (kill adb, ...)


@dataclass
class Agent:
    """One agent process serving one device through ``client`` (base URL + device token)."""

    client: httpx.Client
    backend: Backend
    wait_seconds: float = 20.0
    heartbeat_seconds: float = 30.0
    grace_seconds: float = 30.0
    agent_id: str = field(default_factory=lambda: f"agent-{uuid.uuid4().hex[:12]}")
    measured: int = 0
    failed: int = 0
    abandoned: int = 0
    _last_beat: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _wake: threading.Event = field(default_factory=threading.Event)

    def request_stop(self) -> None:
        """Stop after the task in hand (safe to call from a signal handler)."""
        self._stop.set()
        self._wake.set()

    def run(self, max_tasks: int | None = None) -> None:
        """Serve until :meth:`request_stop` (or until ``max_tasks`` tasks were handled)."""
        stop = self._stop
        backoff = 1.0
        while not stop.is_set() and (max_tasks is None or self.measured + self.failed < max_tasks):
            try:
                self._heartbeat_if_due()
                task = self._lease()
                if task is not None:
                    self._handle(task)
                backoff = 1.0
            except (httpx.TransportError, ServerUnavailable) as exc:
                log.warning("server unreachable (%s); retrying in %.0f s", exc, backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _heartbeat_if_due(self) -> None:
        if time.monotonic() - self._last_beat < self.heartbeat_seconds:
            return
        self._check(
            self.client.post(
                "/v1/agent/heartbeat",
                json={"facts": {**self.backend.facts(), "agent": self.agent_id}},
            )
        )
        self._last_beat = time.monotonic()

    def _lease(self) -> dict | None:
        response = self.client.post(
            "/v1/agent/tasks/lease",
            json={"agent_id": self.agent_id, "wait_seconds": self.wait_seconds},
            timeout=self.wait_seconds + 30,
        )
        self._check(response)
        return None if response.status_code == 204 else response.json()

    def _handle(self, task: dict) -> None:
        task_id = task["id"]
        model = self.client.get(f"/v1/agent/tasks/{task_id}/model")
        self._check(model)
        measurement = _Measurement(self.backend, model.content, task["settings"], self._wake)
        if not self._finish_or_cancel(measurement, task_id):
            self.abandoned += 1
            log.info("task %s abandoned and handed back", task_id)
            path = f"/v1/agent/tasks/{task_id}/release"
            self._check(self.client.post(path, json={"agent_id": self.agent_id}))
            return
        report: dict[str, object] = {"agent_id": self.agent_id}
        if measurement.result is not None:
            report["result"] = measurement.result.model_dump()
            self.measured += 1
            log.info("task %s: %.3f ms", task_id, measurement.result.median_ms)
        else:  # a bad model must not stop the agent
            error = measurement.error
            report["error"] = f"{type(error).__name__}: {error}"[:20_000]
            self.failed += 1
            log.warning("task %s failed: %s", task_id, report["error"])
        self._check(self.client.post(f"/v1/agent/tasks/{task_id}/result", json=report))

    def _finish_or_cancel(self, measurement: _Measurement, task_id: int) -> bool:
        """Wait for the measurement; after a stop request, for ``grace_seconds`` at most.
        False when it was cancelled (the task must be handed back)."""
        self._wake.wait()
        if not measurement.finished.is_set():  # woken by a stop request
            log.info(
                "stop requested: finishing task %s (up to %.0f s)", task_id, self.grace_seconds
            )
            if not measurement.finished.wait(self.grace_seconds):
                self.backend.cancel()
                measurement.finished.wait(CANCEL_SECONDS)
        self._wake.clear()
        return measurement.finished.is_set() and not isinstance(
            measurement.error, MeasurementCancelled
        )

    @staticmethod
    def _check(response: httpx.Response) -> None:
        if response.status_code >= 500:
            raise ServerUnavailable(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise AgentRejected(f"HTTP {response.status_code}: {response.text[:500]}")


class _Measurement:
    """One measurement on a worker thread, so that a stop request can interrupt the wait."""

    def __init__(
        self, backend: Backend, model: bytes, settings: dict, wake: threading.Event
    ) -> None:
        self.result: MeasurementResult | None = None
        self.error: BaseException | None = None
        self.finished = threading.Event()
        self._wake = wake
        threading.Thread(
            target=self._run, args=(backend, model, MeasurementSettings(**settings)), daemon=True
        ).start()

    def _run(self, backend: Backend, model: bytes, settings: MeasurementSettings) -> None:
        try:
            self.result = backend.measure(model, settings)
        except Exception as exc:
            self.error = exc
        finally:
            self.finished.set()
            self._wake.set()


class ServerUnavailable(Exception):
    """The server answered 5xx: treated like a dropped connection (retry with backoff)."""


class AgentRejected(Exception):
    """The server refused the agent (bad token, removed device): retrying cannot help."""

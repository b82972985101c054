"""The device agent: pulls measurement tasks from the server, times them, reports back.

Pull-based, so a device behind NAT or on a phone's Wi-Fi works. Heartbeats; reconnects with
exponential backoff while the server is away. With ``batch`` > 1 it leases up to that many
waiting tasks at once and times those with the same settings together, their rounds
interleaved (:func:`latency.bench.measure_many`), so that a machine slow for a while skews no
single model. On stop (SIGTERM) it finishes the tasks in hand if that takes at most
``grace_seconds`` more, and otherwise abandons them cleanly: the measurement is cancelled and
the tasks handed back to the server, pending again at once. A model that fails to load or run
becomes a failed task with the error text, and the agent keeps serving. Imports neither torch
nor any server library.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx

from latency.backends import Backend, MeasurementCancelled
from latency.protocol import (
    MAX_ERROR_CHARS,
    AgentRef,
    Heartbeat,
    LeasedTask,
    LeaseRequest,
    MeasurementResult,
    MeasurementSettings,
    TaskReport,
)

log = logging.getLogger("edgenas.agent")
MAX_BACKOFF_SECONDS = 60.0
REPORT_PATIENCE_SECONDS = 120.0  # a server restart; past it the lease has run out anyway
CANCEL_SECONDS = 10.0  # how long a cancelled backend may take to clean up (kill adb, ...)


@dataclass
class Agent:
    """One agent process serving one device through ``client`` (base URL + device token)."""

    client: httpx.Client
    backend: Backend
    wait_seconds: float = 20.0
    heartbeat_seconds: float = 30.0
    grace_seconds: float = 30.0
    batch: int = 1
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
                room = self.batch if max_tasks is None else max_tasks - self.measured - self.failed
                self._handle(self._lease_batch(min(self.batch, room)))
                backoff = 1.0
            except (httpx.TransportError, ServerUnavailable) as exc:
                log.warning("server unreachable (%s); retrying in %.0f s", exc, backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _heartbeat_if_due(self) -> None:
        if time.monotonic() - self._last_beat < self.heartbeat_seconds:
            return
        beat = Heartbeat(facts={**self.backend.facts(), "agent": self.agent_id})
        self._check(self.client.post("/v1/agent/heartbeat", json=beat.model_dump()))
        self._last_beat = time.monotonic()

    def _lease(self, wait_seconds: float) -> LeasedTask | None:
        request = LeaseRequest(agent_id=self.agent_id, wait_seconds=wait_seconds)
        response = self.client.post(
            "/v1/agent/tasks/lease", json=request.model_dump(), timeout=wait_seconds + 30
        )
        self._check(response)
        return None if response.status_code == 204 else LeasedTask.model_validate(response.json())

    def _lease_batch(self, most: int) -> list[LeasedTask]:
        """The next task (long-polling), then up to ``most - 1`` more already waiting."""
        first = self._lease(self.wait_seconds)
        tasks = [] if first is None else [first]
        while tasks and len(tasks) < most and (task := self._lease(0)) is not None:
            tasks.append(task)
        return tasks

    def _handle(self, tasks: list[LeasedTask]) -> None:
        """Time the leased tasks, those with the same settings together."""
        groups: dict[str, list[LeasedTask]] = {}
        for task in tasks:
            groups.setdefault(task.settings.key(), []).append(task)
        remaining = list(groups.values())
        while remaining:  # a stop request hands back the groups not yet started
            if self._stop.is_set() or not self._measure_group(remaining[0]):
                self._hand_back([task for group in remaining for task in group])
                return
            remaining.pop(0)

    def _measure_group(self, tasks: list[LeasedTask]) -> bool:
        """Measure and report ``tasks``; False when a stop request cancelled the measurement."""
        models = []
        for task in tasks:
            model = self.client.get(f"/v1/agent/tasks/{task.id}/model")
            self._check(model)
            models.append(model.content)
        if len(tasks) > 1:
            log.info("timing tasks %s with their rounds interleaved", [t.id for t in tasks])
        measurement = _Measurement(self.backend, models, tasks[0].settings, self._wake)
        if not self._finish_or_cancel(measurement, len(tasks)):
            return False
        for task, outcome in zip(tasks, measurement.outcomes, strict=True):
            self._report(task.id, outcome)
        return True

    def _report(self, task_id: int, outcome: MeasurementResult | BaseException) -> None:
        if isinstance(outcome, MeasurementResult):
            report = TaskReport(agent_id=self.agent_id, result=outcome)
            self.measured += 1
            log.info("task %s: %.3f ms", task_id, outcome.median_ms)
        else:  # a bad model must not stop the agent
            error = f"{type(outcome).__name__}: {outcome}"[:MAX_ERROR_CHARS]
            report = TaskReport(agent_id=self.agent_id, error=error)
            self.failed += 1
            log.warning("task %s failed: %s", task_id, error)
        self._post_task(task_id, "result", report)

    def _hand_back(self, tasks: list[LeasedTask]) -> None:
        for task in tasks:
            self.abandoned += 1
            log.info("task %s abandoned and handed back", task.id)
            self._post_task(task.id, "release", AgentRef(agent_id=self.agent_id))

    def _post_task(self, task_id: int, action: str, body: AgentRef) -> None:
        """Report on a leased task, again with backoff while the server is away (a
        measurement is not thrown away for a restart), for up to ``REPORT_PATIENCE_SECONDS``.
        One whose lease ran out meanwhile may be another agent's now: the server refuses
        (409) and this agent goes on serving."""
        deadline = time.monotonic() + REPORT_PATIENCE_SECONDS
        backoff = 1.0
        while True:
            try:
                response = self.client.post(
                    f"/v1/agent/tasks/{task_id}/{action}", json=body.model_dump(mode="json")
                )
                if response.status_code == 409:
                    log.warning("task %s: %s refused (%s)", task_id, action, response.text[:500])
                    return
                self._check(response)
                return
            except (httpx.TransportError, ServerUnavailable) as exc:
                if time.monotonic() + backoff > deadline:
                    raise
                log.warning(
                    "task %s: %s undelivered (%s); again in %.0f s", task_id, action, exc, backoff
                )
                time.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _finish_or_cancel(self, measurement: _Measurement, count: int) -> bool:
        """Wait for the measurement; after a stop request, for ``grace_seconds`` at most.
        False when it was cancelled (the tasks must be handed back)."""
        self._wake.wait()
        if not measurement.finished.is_set():  # woken by a stop request
            log.info(
                "stop requested: finishing %d task(s) (up to %.0f s)", count, self.grace_seconds
            )
            if not measurement.finished.wait(self.grace_seconds):
                self.backend.cancel()
                measurement.finished.wait(CANCEL_SECONDS)
        self._wake.clear()
        return measurement.finished.is_set() and not any(
            isinstance(outcome, MeasurementCancelled) for outcome in measurement.outcomes
        )

    @staticmethod
    def _check(response: httpx.Response) -> None:
        if response.status_code >= 500:
            raise ServerUnavailable(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise AgentRejected(f"HTTP {response.status_code}: {response.text[:500]}")


class _Measurement:
    """Models measured on a worker thread, so that a stop request can interrupt the wait.
    ``outcomes``: a result or the error, per model (the same error for all when the whole
    measurement failed)."""

    def __init__(
        self,
        backend: Backend,
        models: list[bytes],
        settings: MeasurementSettings,
        wake: threading.Event,
    ) -> None:
        self.outcomes: list[MeasurementResult | BaseException] = []
        self.finished = threading.Event()
        self._wake = wake
        threading.Thread(target=self._run, args=(backend, models, settings), daemon=True).start()

    def _run(self, backend: Backend, models: list[bytes], settings: MeasurementSettings) -> None:
        try:
            self.outcomes = list(backend.measure_many(models, settings))
        except Exception as exc:
            self.outcomes = [exc] * len(models)
        finally:
            self.finished.set()
            self._wake.set()


class ServerUnavailable(Exception):
    """The server answered 5xx: treated like a dropped connection (retry with backoff)."""


class AgentRejected(Exception):
    """The server refused the agent (bad token, removed device): retrying cannot help."""

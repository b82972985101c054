"""The device agent: pulls measurement tasks from the server, times them, reports back.

Pull-based, so a device behind NAT or on a phone's Wi-Fi works. Heartbeats; reconnects with
exponential backoff while the server is away; on stop (SIGTERM) it finishes the task in hand
and exits. A model that fails to load or run becomes a failed task with the error text, and
the agent keeps serving. Imports neither torch nor any server library.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx

from latency.backends import Backend
from latency.protocol import MeasurementSettings

log = logging.getLogger("edgenas.agent")
MAX_BACKOFF_SECONDS = 60.0


@dataclass
class Agent:
    """One agent process serving one device through ``client`` (base URL + device token)."""

    client: httpx.Client
    backend: Backend
    wait_seconds: float = 20.0
    heartbeat_seconds: float = 30.0
    agent_id: str = field(default_factory=lambda: f"agent-{uuid.uuid4().hex[:12]}")
    measured: int = 0
    failed: int = 0
    _last_beat: float = 0.0

    def run(self, stop: threading.Event, max_tasks: int | None = None) -> None:
        """Serve until ``stop`` is set (or ``max_tasks`` tasks were handled)."""
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
        try:
            result = self.backend.measure(model.content, MeasurementSettings(**task["settings"]))
            report = {"agent_id": self.agent_id, "result": result.model_dump()}
            self.measured += 1
            log.info("task %s (%s): %.3f ms", task_id, task["arch_hash"], result.median_ms)
        except Exception as exc:  # a bad model must not stop the agent
            report = {"agent_id": self.agent_id, "error": f"{type(exc).__name__}: {exc}"[:20_000]}
            self.failed += 1
            log.warning("task %s failed: %s", task_id, report["error"])
        self._check(self.client.post(f"/v1/agent/tasks/{task_id}/result", json=report))

    @staticmethod
    def _check(response: httpx.Response) -> None:
        if response.status_code >= 500:
            raise ServerUnavailable(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise AgentRejected(f"HTTP {response.status_code}: {response.text[:500]}")


class ServerUnavailable(Exception):
    """The server answered 5xx: treated like a dropped connection (retry with backoff)."""


class AgentRejected(Exception):
    """The server refused the agent (bad token, removed device): retrying cannot help."""

"""The processes around the API (composition root): Ray, job runners, a local CPU agent.

``edgenas serve`` with the embedded defaults runs them all in one command; ``edgenas worker``
runs runners alone (scale out). Everything started here is stopped by ``EmbeddedStack.stop``:
runners hand their jobs back, the agent gets SIGTERM (finishing or returning its task), Ray
shuts down.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from api.server.database import upgrade_database
from api.server.settings import Settings
from latency.database import create_db_engine
from latency.devices import register_device, rotate_token, service_device
from workers.runner import Runner, RunnerSettings

log = logging.getLogger("edgenas.embedded")
LOCAL_DEVICE = "local"
AGENT_GRACE_SECONDS = 30


def start_ray(settings: Settings) -> None:
    """Join ``EDGENAS_RAY_ADDRESS``'s cluster, or start a local Ray of our own (its own
    free ports: never 6379, where this machine's Redis listens). ``address="local"``: without
    it Ray would join whatever cluster ``ray start`` last started on this machine."""
    import ray

    if settings.ray_address:
        ray.init(address=settings.ray_address, log_to_driver=False)
    else:
        ray.init(
            address="local",
            num_cpus=settings.ray_num_cpus,
            include_dashboard=False,
            log_to_driver=False,
        )


def local_device_token(sessions: sessionmaker[Session]) -> str:
    """A fresh token for the service's device ``local`` (registered on first use, shared:
    every user may measure on this machine)."""
    with sessions.begin() as session:
        device = service_device(session, LOCAL_DEVICE)
        if device is not None:
            device.shared = True  # one registered before devices could be shared
            return rotate_token(session, device)
        _, token = register_device(
            session,
            owner_id=None,
            shared=True,
            name=LOCAL_DEVICE,
            kind="cpu",
            runtime="onnxruntime",
            provider="CPUExecutionProvider",
        )
        return token


@dataclass
class EmbeddedStack:
    """Runner threads and, optionally, a local agent, beside a server."""

    settings: Settings
    runners: int = 1
    local_agent: bool = False
    stop_event: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    agent: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        engine = create_db_engine(self.settings.database_url)
        upgrade_database(engine)
        sessions = sessionmaker(engine, expire_on_commit=False)
        if self.local_agent:
            self.agent = _start_agent(self.settings, local_device_token(sessions))
        if self.runners:
            start_ray(self.settings)
        runner_settings = RunnerSettings(
            database_url=self.settings.database_url,
            lease_seconds=self.settings.runner_lease_seconds,
            caps=self.settings.size_caps(),
        )
        for index in range(self.runners):
            runner = Runner(runner_settings, sessions)
            thread = threading.Thread(
                target=runner.run, args=(self.stop_event,), name=f"runner-{index}", daemon=True
            )
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join()
        if self.agent is not None:
            self.agent.terminate()
            try:
                self.agent.wait(timeout=AGENT_GRACE_SECONDS + 30)
            except subprocess.TimeoutExpired:
                self.agent.kill()
        if self.threads:
            import ray

            ray.shutdown()


def _start_agent(settings: Settings, token: str) -> subprocess.Popen[bytes]:
    """``edgenas agent`` for the device ``local``, as its own process (it times models: a
    process of its own keeps the server's threads out of its measurements)."""
    server = f"http://{settings.host}:{settings.port}"
    command = [sys.executable, "-m", "api", "agent", "--server", server]
    command += ["--grace", str(AGENT_GRACE_SECONDS)]
    log.info("starting the local agent for device %r", LOCAL_DEVICE)
    # the token goes through the environment: a command line is visible to every user (ps)
    return subprocess.Popen(command, env={**os.environ, "EDGENAS_DEVICE_TOKEN": token})

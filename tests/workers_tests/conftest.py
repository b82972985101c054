"""What the workers' end-to-end tests share: a local Ray for in-process runners, a real
server on SQLite or PostgreSQL, and an agent timing for the device ``cpu-1``."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray

from tests.databases import BACKENDS, database_url
from tests.isolation import start_agent
from tests.processes import Spawner
from tests.server import Server, served


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    with database_url(request.param, tmp_path) as url, served(url) as running:
        yield running


@pytest.fixture
def agent(server: Server, spawn: Spawner) -> Iterator[subprocess.Popen[str]]:
    response = server.user.post("/v1/devices", json={"name": "cpu-1"})
    yield start_agent(spawn, "--server", server.url, token=response.json()["token"])

"""A real EdgeNAS server on a free loopback port, in a thread, for tests over real HTTP.

The listening socket is bound and listening before the server thread starts, so clients may
connect at once: the kernel queues them until uvicorn accepts (no polling for readiness).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy.orm import sessionmaker

from api.server.app import create_app
from api.server.database import upgrade_database
from api.server.keys import create_api_key
from api.server.settings import Settings
from api.server.users import create_user, user_by_name
from edgenas.errors import NotFoundError
from latency.database import create_db_engine


def make_api_key(database_url: str, name: str = "tests", *, admin: bool = False) -> str:
    """Create a user and a key of theirs directly in the database (what ``edgenas users
    create`` and ``edgenas keys create`` do)."""
    engine = create_db_engine(database_url)
    try:
        upgrade_database(engine)
        with sessionmaker(engine).begin() as session:
            try:
                user = user_by_name(session, name)
            except NotFoundError:
                user = create_user(session, name, admin=admin)
            return create_api_key(session, user)
    finally:
        engine.dispose()


@contextmanager
def running_server(settings: Settings, port: int = 0) -> Iterator[str]:
    """Serve ``settings`` (on ``port``, or a free one) and yield the base URL; stops the
    server on exit."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(settings), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@dataclass
class Server:
    """A running server and a client holding a user API key."""

    url: str
    user: httpx.Client
    database_url: str = ""
    data_dir: Path = Path()

    def device_client(self, token: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )

    def user_client(self, name: str, *, admin: bool = False) -> httpx.Client:
        """A client holding a key of user ``name`` (created on first use)."""
        key = make_api_key(self.database_url, name, admin=admin)
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=60
        )

    def register(self, name: str) -> tuple[int, httpx.Client]:
        response = self.user.post("/v1/devices", json={"name": name, "kind": "cpu"})
        assert response.status_code == 201, response.text
        return response.json()["id"], self.device_client(response.json()["token"])


@contextmanager
def served(database_url: str, **overrides: object) -> Iterator[Server]:
    """A server on ``database_url`` with a fresh user key (and data sets kept in a temporary
    folder unless ``data_dir`` is given)."""
    key = make_api_key(database_url)
    scratch = tempfile.TemporaryDirectory(prefix="edgenas-data-")
    options = {
        "lease_seconds": 60,
        "max_body_bytes": 64 * 1024,
        "data_dir": Path(scratch.name),
        **overrides,
    }
    settings = Settings(database_url=database_url, **options)
    with (
        scratch,
        running_server(settings) as base,
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60) as user,
    ):
        yield Server(base, user, database_url, settings.data_dir)


def edgenas(server: Server, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``edgenas ARGS --server URL --api-key KEY`` as a user runs it, in its own process."""
    key = server.user.headers["Authorization"].removeprefix("Bearer ")
    return subprocess.run(
        [sys.executable, "-m", "api", *args, "--server", server.url, "--api-key", key],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def wait_until_serving(client: httpx.Client, path: str = "/readyz") -> None:
    """Wait for a server process a test started to answer ``path`` with 200."""
    from tests.workers_tests.tiny_jobs import wait_until

    def answers() -> bool:
        try:
            return client.get(path).status_code == 200
        except httpx.TransportError:  # uvicorn is still starting
            return False

    wait_until(answers, timeout=120, what=f"{client.base_url}{path}")

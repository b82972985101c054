"""Real databases for tests: a SQLite file, and a throwaway PostgreSQL database.

PostgreSQL runs on 127.0.0.1:5432 (user postgres, trust auth). Where it is missing the
PostgreSQL cases skip locally but fail in CI (``CI=true``), so a missing service never hides.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

POSTGRES_ADMIN_URL = os.environ.get(
    "EDGENAS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["sqlite", "postgresql"]


@contextmanager
def postgres_database() -> Iterator[str]:
    """Create a uniquely named database, yield its URL, drop it afterwards."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"edgenas_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # the service is not there
        admin.dispose()
        message = f"PostgreSQL at {POSTGRES_ADMIN_URL} is not available: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'edgenas.db'}"
    else:
        with postgres_database() as url:
            yield url


def operator_command(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    """``edgenas ARGS --database-url URL`` (users, keys, migrate) in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "api", *args, "--database-url", url],
        capture_output=True,
        text=True,
        timeout=120,
    )


def dispose(engine: Engine) -> None:
    engine.dispose()


POSTGRES_BIN = next(Path("/usr/lib/postgresql").glob("*/bin"), Path("/usr/lib/postgresql/bin"))


class ThrowawayPostgres:
    """A PostgreSQL cluster of the test's own (``initdb`` and ``pg_ctl`` as the ``postgres``
    user, in a temporary folder it owns, on a free port), which the test may stop and start:
    the machine's shared server is never touched. ``host`` is the address it listens on;
    ``prefix`` runs its commands elsewhere (``ip netns exec NS``), where ``clients`` (a CIDR)
    may connect without a password."""

    def __init__(
        self,
        folder: Path,
        port: int,
        host: str = "127.0.0.1",
        prefix: Sequence[str] = (),
        clients: str | None = None,
    ) -> None:
        self.data = folder / "cluster"
        self.port = port
        self.host = host
        self.prefix = list(prefix)
        self.clients = clients
        self.url = f"postgresql+psycopg://postgres@{host}:{port}/edgenas"

    def _as_postgres(self, *argv: str) -> None:
        subprocess.run(
            [*self.prefix, "runuser", "-u", "postgres", "--", *argv],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def create(self) -> None:
        shutil.chown(self.data.parent, "postgres", "postgres")
        self._as_postgres(str(POSTGRES_BIN / "initdb"), "-D", str(self.data), "-A", "trust")
        if self.clients:
            with (self.data / "pg_hba.conf").open("a") as rules:
                rules.write(f"host all all {self.clients} trust\n")
        self.start()
        self._as_postgres(
            str(POSTGRES_BIN / "createdb"), "-h", self.host, "-p", str(self.port), "edgenas"
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses={self.host}"
        self._as_postgres(
            str(POSTGRES_BIN / "pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.data / "log"), "-w", "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._as_postgres(
            str(POSTGRES_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"
        )


@contextmanager
def throwaway_postgres(port: int, **where: Any) -> Iterator[ThrowawayPostgres]:
    """A running throwaway cluster; stopped and removed afterwards. Its folder is a fresh one
    under /tmp (pytest's are private to root, where the postgres user cannot go). ``where``:
    ``ThrowawayPostgres``'s host, prefix and clients."""
    if not (POSTGRES_BIN / "initdb").exists():
        message = f"no initdb under {POSTGRES_BIN}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    folder = Path(tempfile.mkdtemp(prefix="edgenas-pg-"))
    cluster = ThrowawayPostgres(folder, port, **where)
    try:
        cluster.create()
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)

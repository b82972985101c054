"""What the benchmarks share: the task (``mnist5k``, one fixed split), spaces and reference
networks retargeted to it, where results go, and a real server started as its users start it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from search.data import ImageDataset, load_dataset
from space import Arch
from space.presets import search_space
from space.spaces import SearchSpace

RESULTS = Path(__file__).parent / "results"
CLI = [sys.executable, "-m", "api"]
SERVER_START_SECONDS = 120
POSTGRES_ADMIN_URL = os.environ.get(
    "EDGENAS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def digits(seed: int = 0) -> tuple[ImageDataset, ImageDataset]:
    """``mnist5k`` without its test split, split 80/20 (stratified, seeded), as ``edgenas
    search run`` splits it."""
    usable, _ = load_dataset("mnist5k").test_split()
    return usable.split(0.2, seed=seed)


def task_space(name: str, data: ImageDataset) -> SearchSpace:
    """A preset space retargeted to ``data``'s resolution, channels and classes."""
    return search_space(name).with_task(
        resolution=data.resolution, in_channels=data.channels, num_classes=len(data.classes)
    )


def on_task(arch: Arch, data: ImageDataset) -> Arch:
    """A reference network retargeted to ``data`` (same layers, new input and classifier)."""
    return replace(
        arch,
        resolution=data.resolution,
        in_channels=data.channels,
        num_classes=len(data.classes),
    )


def write_json(name: str, payload: object) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(payload, indent=2))
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running(
    args: list[str], env: dict[str, str], output: int = subprocess.PIPE
) -> Iterator[subprocess.Popen[str]]:
    """``args`` as a process (its output piped to the caller unless ``output`` says
    otherwise), terminated on exit."""
    child = subprocess.Popen(args, env=env, text=True, stdout=output, stderr=subprocess.STDOUT)
    try:
        yield child
    finally:
        child.terminate()
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()


def wait_until_healthy(base: str, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"server exited: {server.stdout.read() if server.stdout else ''}")
        try:
            if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit(f"server did not answer /healthz within {SERVER_START_SECONDS} s")


def user_key(env: dict[str, str], name: str) -> str:
    """A new user ``name`` on the database ``env`` names, and a key of theirs (the CLI)."""
    subprocess.run(
        [*CLI, "users", "create", name], env=env, text=True, capture_output=True, check=True
    )
    return subprocess.run(
        [*CLI, "keys", "create", "--user", name],
        env=env,
        text=True,
        capture_output=True,
        check=True,
    ).stdout.strip()


@contextmanager
def scratch_postgres(prefix: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

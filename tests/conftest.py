"""Shared test settings: CPU threads are few here, and tests run side by side. Every process a
test starts is marked and must be gone when the session ends (``tests/processes.py``)."""

from __future__ import annotations

import contextlib
import os
import signal
import uuid
from collections.abc import Iterator

import pytest

from tests.processes import MARK, Spawner, describe, marked_processes, wait_for_exit

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ[MARK] = f"{os.getpid()}-{uuid.uuid4().hex}"  # inherited by every process started
EXIT_GRACE_SECONDS = 30  # for what a test stopped at its end (Ray's workers, ...) to exit


@pytest.fixture
def spawn() -> Iterator[Spawner]:
    """Start processes for this test; their process groups are killed when it ends."""
    spawner = Spawner()
    yield spawner
    spawner.kill_all()


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind() -> Iterator[None]:
    """Fail the session if a process one of its tests started is still alive at its end
    (and kill it, so that the failure is the only trace)."""
    yield
    left = wait_for_exit(marked_processes(os.environ[MARK]), EXIT_GRACE_SECONDS)
    described = [describe(pid) for pid in left]
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert not left, "processes the tests started are still running:\n" + "\n".join(described)

"""Processes the tests start, and the proof that none outlives the session.

``Spawner`` (the ``spawn`` fixture) starts each process in a process group of its own and, when
the test ends, kills the whole group: what the process started itself (a stand-in ``adb`` an
agent runs, a local Ray) goes with it, even after the test killed the process outright. Every
process a test session starts, through ``spawn`` or not, carries ``MARK`` in its environment
(inherited from the test process), so the session's end can find those that escaped.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

MARK = "EDGENAS_TEST_SESSION"


def free_port() -> int:
    """A loopback port nobody listens on now, for a server process a test starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Spawner:
    """Starts processes for one test and kills their process groups when it ends."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[str]] = []

    def __call__(self, argv: list[str], **options: Any) -> subprocess.Popen[str]:
        process: subprocess.Popen[str] = subprocess.Popen(
            argv,
            text=True,
            start_new_session=True,  # its own process group, with whatever it starts
            **options,
        )
        self.started.append(process)
        return process

    def kill_all(self) -> None:
        for process in self.started:
            with contextlib.suppress(ProcessLookupError):  # the group is gone already
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            if process.stdout is not None:
                process.stdout.close()


def marked_processes(mark: str) -> list[int]:
    """Live processes (zombies aside) whose environment carries ``MARK=mark``, but this one."""
    wanted = f"{MARK}={mark}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environment = (entry / "environ").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue  # gone meanwhile
        if wanted in environment and state != "Z":
            found.append(int(entry.name))
    return found


def wait_for_exit(pids: list[int], timeout: float) -> list[int]:
    """Wait until the processes have exited (their pidfds turn readable); those still alive
    after ``timeout`` seconds."""
    handles = {}
    for pid in pids:
        try:
            handles[os.pidfd_open(pid)] = pid
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + timeout
    try:
        pending = set(handles)
        while pending and (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select(list(pending), [], [], left)
            pending -= set(ready)
        return sorted(handles[fd] for fd in pending)
    finally:
        for fd in handles:
            os.close(fd)


def describe(pid: int) -> str:
    try:
        command = (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return f"{pid} (gone)"
    return f"{pid}: {command.decode(errors='replace')[:200]}"

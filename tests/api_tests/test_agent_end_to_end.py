"""Server + real agent processes + the CLI, over real HTTP, on SQLite and PostgreSQL.

Every agent runs as a device with only the ``agent`` extra would: torch, FastAPI, SQLAlchemy
and the rest of the server stack cannot be imported in its process.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.orm import sessionmaker

from api.server.database import upgrade_database
from api.server.settings import Settings
from latency.database import create_db_engine
from latency.devices import register_device
from latency.protocol import MeasurementSettings
from latency.tables import OnnxModel
from tests.databases import BACKENDS, database_url
from tests.isolation import start_agent
from tests.processes import Spawner
from tests.server import make_api_key, running_server

ARCH = "r64_w1.0_n10:conv_k3_c16_s2|ir_e6_k3_c24_n2_s2|sh2_k3_c48_s2|head"
SMALL_ARCH = "r32_w1.0_n10:conv_k3_c8_s2|head"
CLI = [sys.executable, "-m", "api"]
FAKE_ADB = Path(__file__).parent.parent / "fixtures" / "fake_adb.py"


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 180):
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@dataclass
class Stack:
    database_url: str
    base: str
    key: str

    def register(self, name: str, kind: str = "cpu", runtime: str = "onnxruntime") -> str:
        response = httpx.post(
            f"{self.base}/v1/devices",
            json={"name": name, "kind": kind, "runtime": runtime},
            headers={"Authorization": f"Bearer {self.key}"},
        )
        assert response.status_code == 201, response.text
        return response.json()["token"]

    def request(self, arch: str, device: str, **fields: object) -> dict:
        return httpx.post(
            f"{self.base}/v1/latency",
            json={"arch": arch, "device": device, **fields},
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=180,
        ).json()

    def wait_for(self, task_id: int, seconds: float = 120) -> dict:
        return httpx.get(
            f"{self.base}/v1/latency/{task_id}",
            params={"wait_seconds": seconds},
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=seconds + 60,
        ).json()


@pytest.fixture(params=BACKENDS)
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    with database_url(request.param, tmp_path) as url:
        key = make_api_key(url)
        with running_server(Settings(database_url=url, lease_seconds=2)) as base:
            yield Stack(url, base, key)


def test_register_measure_and_hit_the_cache(stack: Stack, tmp_path: Path, spawn: Spawner) -> None:
    base, key = stack.base, stack.key
    config = tmp_path / "agent.json"
    agent = start_agent(
        spawn,
        "--server",
        base,
        "--register",
        "laptop",
        "--api-key",
        key,
        "--config",
        str(config),
        "--max-tasks",
        "1",
    )
    try:
        registered = agent.stdout.readline()  # blocks until the agent has registered
        assert "registered device 'laptop'" in registered, registered
        measure = ["latency", "measure", ARCH, "--device", "laptop", "--runs", "20"]
        measure += ["--server", base, "--api-key", key]
        measured = cli(*measure, "--json")
        assert measured.returncode == 0, measured.stderr
        agent_output = agent.communicate(timeout=120)[0]
    finally:
        agent.kill()
    result = json.loads(measured.stdout)
    assert result["status"] == "done", (result, agent_output)
    assert result["record"]["median_ms"] > 0
    assert result["record"]["runs"] == 20 * MeasurementSettings().rounds
    assert result["record"]["device_facts"]["onnxruntime"]
    assert oct(config.stat().st_mode & 0o777) == "0o600"
    assert agent.returncode == 0 and "1 measured" in agent_output
    cached = cli(*measure)
    assert cached.returncode == 0 and "(cached)" in cached.stdout


def test_killed_agent_task_is_measured_by_a_second_agent(
    stack: Stack, tmp_path: Path, spawn: Spawner
) -> None:
    token = stack.register("phone", kind="android", runtime="adb")
    started = _fifo(tmp_path / "started")
    stuck = start_agent(
        spawn, "--server", stack.base, "--backend", "adb", token=token,
        env=_fake_phone(tmp_path, FAKE_ADB_FIFO=str(started)),
    )  # fmt: skip
    queued = stack.request(ARCH, "phone")
    _read_line(started)  # the stuck agent is mid-measurement
    stuck.kill()
    stuck.wait(timeout=30)
    second = start_agent(spawn, "--server", stack.base, "--max-tasks", "1", token=token)
    try:
        done = stack.wait_for(queued["task_id"])
        second.communicate(timeout=60)
    finally:
        second.kill()
    assert done["status"] == "done" and done["record"]["provider"] == "CPUExecutionProvider"


def test_adb_backend_up_to_the_adb_boundary(stack: Stack, tmp_path: Path, spawn: Spawner) -> None:
    token = stack.register("phone", kind="android", runtime="adb")
    agent = start_agent(
        spawn, "--server", stack.base, "--backend", "adb", "--max-tasks", "1", token=token,
        env=_fake_phone(tmp_path),
    )  # fmt: skip
    try:
        result = stack.request(ARCH, "phone", wait_seconds=120, settings={"rounds": 2})
        agent.communicate(timeout=60)
    finally:
        agent.kill()
    record = result["record"]
    assert (record["median_ms"], record["p90_ms"], record["provider"]) == (12.5, 15.0, "adb")
    assert record["device_facts"]["phone"] == "Pixel Stand-in"
    assert (tmp_path / "phone" / "data/local/tmp/edgenas/model.onnx").stat().st_size > 1000


def test_sigterm_mid_task_finishes_the_task_then_exits(
    stack: Stack, tmp_path: Path, spawn: Spawner
) -> None:
    token = stack.register("phone", kind="android", runtime="adb")
    started, gate = _fifo(tmp_path / "started"), _fifo(tmp_path / "gate")
    agent = start_agent(
        spawn, "--server", stack.base, "--backend", "adb", "--grace", "300", token=token,
        env=_fake_phone(tmp_path, FAKE_ADB_FIFO=str(started), FAKE_ADB_GATE=str(gate)),
    )  # fmt: skip
    try:
        queued = stack.request(ARCH, "phone", settings={"rounds": 1})  # one adb benchmark run
        _read_line(started)
        agent.send_signal(signal.SIGTERM)
        _read_until(agent, "stop requested")  # the agent waits for the measurement
        gate.write_text("go\n")  # the phone finishes
        output = agent.communicate(timeout=60)[0]
    finally:
        agent.kill()
    assert agent.returncode == 0, output
    assert "1 measured, 0 failed, 0 handed back" in output
    assert stack.wait_for(queued["task_id"], 0)["status"] == "done"


def test_sigterm_on_a_stuck_batch_hands_every_task_back(
    stack: Stack, tmp_path: Path, spawn: Spawner
) -> None:
    token = stack.register("phone", kind="android", runtime="adb")
    started = _fifo(tmp_path / "started")
    queued = [  # two settings: the second group is handed back without being started
        stack.request(ARCH, "phone"),
        stack.request(SMALL_ARCH, "phone", settings={"rounds": 1}),
    ]
    agent = start_agent(
        spawn, "--server", stack.base, "--backend", "adb", "--grace", "0",
        "--batch", "2", token=token, env=_fake_phone(tmp_path, FAKE_ADB_FIFO=str(started)),
    )  # fmt: skip
    try:
        adb_pid = int(_read_line(started).split()[1])
        agent.send_signal(signal.SIGTERM)
        output = agent.communicate(timeout=60)[0]
    finally:
        agent.kill()
    assert agent.returncode == 0, output
    assert "0 measured, 0 failed, 2 handed back" in output
    with pytest.raises(ProcessLookupError):  # the stuck adb command was killed and reaped
        os.kill(adb_pid, 0)
    for task in queued:
        assert stack.wait_for(task["task_id"], 0)["status"] == "pending"


def test_a_broken_model_fails_with_its_error_and_the_agent_keeps_serving(
    stack: Stack, spawn: Spawner
) -> None:
    token = stack.register("laptop")
    broken = stack.request(ARCH, "laptop")
    fine = stack.request(SMALL_ARCH, "laptop")
    _corrupt_model(stack.database_url, broken["arch"])
    agent = start_agent(spawn, "--server", stack.base, "--max-tasks", "2", token=token)
    try:
        output = agent.communicate(timeout=120)[0]
    finally:
        agent.kill()
    failed = stack.wait_for(broken["task_id"], 0)
    assert failed["status"] == "failed" and "INVALID_PROTOBUF" in failed["error"], failed
    assert stack.wait_for(fine["task_id"], 0)["status"] == "done", output
    assert agent.returncode == 0 and "1 measured, 1 failed" in output
    assert "rounds interleaved" in output  # both leased at once and timed together


def test_the_agent_waits_for_the_server_with_backoff(
    backend: str, tmp_path: Path, spawn: Spawner
) -> None:
    """Started before the server, the agent retries until the server is up, then measures."""
    with database_url(backend, tmp_path) as url:
        token = _register_offline(url, "late-laptop")
        key = make_api_key(url)
        port = _closed_port()
        agent = start_agent(
            spawn, "--server", f"http://127.0.0.1:{port}", "--max-tasks", "1", token=token
        )  # fmt: skip
        try:
            assert "server unreachable" in _read_until(agent, "server unreachable")
            with running_server(Settings(database_url=url), port=port) as base:
                stack = Stack(url, base, key)
                result = stack.request(ARCH, "late-laptop", wait_seconds=120)
                output = agent.communicate(timeout=60)[0]
        finally:
            agent.kill()
    assert result["status"] == "done", (result, output)
    assert agent.returncode == 0


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


def _register_offline(url: str, name: str) -> str:
    """Register a device straight in the database (no server is running yet): the service's
    own, shared so that the test's user may measure on it."""
    engine = create_db_engine(url)
    try:
        upgrade_database(engine)
        with sessionmaker(engine).begin() as session:
            return register_device(
                session,
                owner_id=None,
                shared=True,
                name=name,
                kind="cpu",
                runtime="onnxruntime",
                provider="CPUExecutionProvider",
            )[1]
    finally:
        engine.dispose()


def _corrupt_model(url: str, arch: str) -> None:
    """Replace the stored ONNX of ``arch`` by bytes no runtime can load."""
    engine = create_db_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                update(OnnxModel).where(OnnxModel.arch == arch).values(data=b"not an onnx model")
            )
    finally:
        engine.dispose()


def _closed_port() -> int:
    """A loopback port nothing listens on (yet)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _read_line(fifo: Path) -> str:
    """Block until the stand-in adb writes into ``fifo``."""
    with open(fifo) as handle:
        line = handle.readline()
    assert line.startswith("started"), line
    return line


def _read_until(process: subprocess.Popen[str], text: str) -> str:
    """Read the agent's output up to the first line containing ``text``."""
    assert process.stdout is not None
    for line in process.stdout:
        if text in line:
            return line
    raise AssertionError(f"agent exited without printing {text!r}")


def _fake_phone(tmp_path: Path, **env: str) -> dict[str, str]:
    """Environment for an agent whose `adb` is the stand-in, with the phone in tmp_path."""
    return {"FAKE_ADB_DIR": str(tmp_path / "phone"), "PATH": _fake_adb_path(tmp_path), **env}


def _fake_adb_path(tmp_path: Path) -> str:
    """A PATH whose `adb` is the stand-in script."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "adb").symlink_to(FAKE_ADB)
    return f"{bin_dir}{os.pathsep}{os.environ['PATH']}"

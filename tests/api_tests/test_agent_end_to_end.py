"""Server + real agent processes + the CLI, over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.settings import Settings
from tests.databases import BACKENDS, database_url
from tests.server import make_api_key, running_server

ARCH = "r64_w1.0_n10:conv_k3_c16_s2|ir_e6_k3_c24_n2_s2|sh2_k3_c48_s2|head"
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


def start_agent(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, "agent", "--wait", "5", *args],
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )


@pytest.fixture(params=BACKENDS)
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    with database_url(request.param, tmp_path) as url:
        key = make_api_key(url)
        with running_server(Settings(database_url=url, lease_seconds=2)) as base:
            yield base, key


def test_register_measure_and_hit_the_cache(stack: tuple[str, str], tmp_path: Path) -> None:
    base, key = stack
    config = tmp_path / "agent.json"
    agent = start_agent(
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
        measured = cli(
            "latency",
            "measure",
            ARCH,
            "--device",
            "laptop",
            "--server",
            base,
            "--api-key",
            key,
            "--runs",
            "20",
            "--json",
        )
        assert measured.returncode == 0, measured.stderr
        agent_output = agent.communicate(timeout=120)[0]
    finally:
        agent.kill()
    result = json.loads(measured.stdout)
    assert result["status"] == "done", (result, agent_output)
    assert result["record"]["median_ms"] > 0 and result["record"]["runs"] == 60
    assert result["record"]["device_facts"]["onnxruntime"]
    assert oct(config.stat().st_mode & 0o777) == "0o600"
    assert agent.returncode == 0 and "1 measured" in agent_output
    cached = cli(
        "latency",
        "measure",
        ARCH,
        "--device",
        "laptop",
        "--server",
        base,
        "--api-key",
        key,
        "--runs",
        "20",
    )
    assert cached.returncode == 0 and "(cached)" in cached.stdout


def test_killed_agent_task_is_measured_by_a_second_agent(
    stack: tuple[str, str], tmp_path: Path
) -> None:
    base, key = stack
    token = httpx.post(
        f"{base}/v1/devices",
        json={"name": "phone", "kind": "android", "runtime": "adb"},
        headers={"Authorization": f"Bearer {key}"},
    ).json()["token"]
    fifo = tmp_path / "started"
    os.mkfifo(fifo)
    adb_env = {"FAKE_ADB_DIR": str(tmp_path / "phone"), "FAKE_ADB_FIFO": str(fifo)}
    stuck = start_agent(
        "--server",
        base,
        "--token",
        token,
        "--backend",
        "adb",
        env={**adb_env, "PATH": _fake_adb_path(tmp_path)},
    )
    queued = httpx.post(
        f"{base}/v1/latency",
        json={"arch": ARCH, "device": "phone"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    ).json()
    with open(fifo) as started:  # blocks until the stuck agent is mid-measurement
        assert started.readline() == "started\n"
    stuck.kill()
    stuck.wait(timeout=30)
    second = start_agent("--server", base, "--token", token, "--max-tasks", "1")
    try:
        done = httpx.get(
            f"{base}/v1/latency/{queued['task_id']}",
            params={"wait_seconds": 120},
            headers={"Authorization": f"Bearer {key}"},
            timeout=180,
        ).json()
        second.communicate(timeout=60)
    finally:
        second.kill()
    assert done["status"] == "done" and done["record"]["provider"] == "CPUExecutionProvider"


def test_adb_backend_up_to_the_adb_boundary(stack: tuple[str, str], tmp_path: Path) -> None:
    base, key = stack
    token = httpx.post(
        f"{base}/v1/devices",
        json={"name": "phone", "kind": "android", "runtime": "adb"},
        headers={"Authorization": f"Bearer {key}"},
    ).json()["token"]
    agent = start_agent(
        "--server",
        base,
        "--token",
        token,
        "--backend",
        "adb",
        "--max-tasks",
        "1",
        env={"FAKE_ADB_DIR": str(tmp_path / "phone"), "PATH": _fake_adb_path(tmp_path)},
    )
    try:
        result = httpx.post(
            f"{base}/v1/latency",
            json={"arch": ARCH, "device": "phone", "wait_seconds": 120, "settings": {"rounds": 2}},
            headers={"Authorization": f"Bearer {key}"},
            timeout=180,
        ).json()
        agent.communicate(timeout=60)
    finally:
        agent.kill()
    record = result["record"]
    assert (record["median_ms"], record["p90_ms"], record["provider"]) == (12.5, 15.0, "adb")
    assert record["device_facts"]["phone"] == "Pixel Stand-in"
    assert (tmp_path / "phone" / "data/local/tmp/edgenas/model.onnx").stat().st_size > 1000


def _fake_adb_path(tmp_path: Path) -> str:
    """A PATH whose `adb` is the stand-in script."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "adb").symlink_to(FAKE_ADB)
    return f"{bin_dir}{os.pathsep}{os.environ['PATH']}"

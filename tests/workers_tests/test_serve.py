"""``edgenas serve --local-agent``: the embedded stack runs a job and stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from api.server.settings import Settings
from tests.processes import Spawner, free_port
from tests.server import make_api_key, running_server
from tests.workers_tests.tiny_jobs import SPEC, wait_until


def command_lines(group: int) -> list[str]:
    """The command lines of the processes in process group ``group``, as ``ps`` shows them."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and os.getpgid(int(entry.name)) == group:
                found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, ProcessLookupError):
            continue  # gone meanwhile
    return found


def test_local_dev_no_auth_serves_loopback_only(tmp_path: Path) -> None:
    refused = subprocess.run(
        [sys.executable, "-m", "api", "serve", "--local-dev-no-auth", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "EDGENAS_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"},
    )
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "error: local_dev_no_auth serves without keys: bind a loopback address "
        "(127.0.0.1 or localhost), not 0.0.0.0"
    )
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'y.db'}", local_dev_no_auth=True)
    with running_server(settings) as url:
        port = url.rsplit(":", 1)[1]
        assert httpx.get(f"{url}/v1/devices").status_code == 200  # no key needed
        rebound = httpx.get(f"{url}/v1/devices", headers={"Host": f"evil.example:{port}"})
        assert rebound.status_code == 400  # a page on evil.example resolved to 127.0.0.1


def test_serve_runs_a_job_with_its_local_agent_and_stops_on_ctrl_c(
    tmp_path: Path, spawn: Spawner
) -> None:
    url = f"sqlite:///{tmp_path / 'edgenas.db'}"
    key, port = make_api_key(url), free_port()
    serve = spawn(
        [sys.executable, "-m", "api", "serve", "--local-agent", "--port", str(port)],
        env={**os.environ, "EDGENAS_DATABASE_URL": url, "EDGENAS_RAY_NUM_CPUS": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        )

        def local_device_online() -> bool:
            try:
                devices = client.get("/v1/devices").json()
            except httpx.TransportError:  # uvicorn is still starting
                return False
            return any(d["name"] == "local" and d["online"] for d in devices)

        wait_until(local_device_online, timeout=120, what="the local agent's heartbeat")
        assert command_lines(serve.pid), "the server and its agent run in one process group"
        assert not [c for c in command_lines(serve.pid) if "edev_" in c]  # no token in ps
        spec = {**SPEC, "devices": ["local"], "budget": {"trials": 2}}
        job_id = client.post("/v1/jobs", json=spec).json()["id"]
        wait_until(
            lambda: client.get(f"/v1/jobs/{job_id}").json()["state"] == "succeeded",
            what="the job",
        )
        serve.send_signal(signal.SIGINT)
        output = serve.communicate(timeout=120)[0]
    finally:
        serve.kill()
    assert serve.returncode == 0, output
    assert "agent stopped" in output  # the agent got SIGTERM and exited cleanly

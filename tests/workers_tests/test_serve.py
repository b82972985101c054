"""``edgenas serve --local-agent``: the embedded stack runs a job and stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.processes import Spawner, free_port
from tests.server import make_api_key
from tests.workers_tests.tiny_jobs import SPEC, wait_until


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

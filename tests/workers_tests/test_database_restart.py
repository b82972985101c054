"""PostgreSQL stops for 20 s in the middle of a running job and starts again: the job still
succeeds, with every trial finished and counted once, and the API, runner and agent processes
live on. The database is a throwaway cluster of the test's own, never the machine's."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import optuna

from tests.databases import throwaway_postgres
from tests.isolation import start_agent
from tests.processes import Spawner, free_port
from tests.server import make_api_key, wait_until_serving
from tests.workers_tests.tiny_jobs import SPEC, wait_until

OUTAGE_SECONDS = 20
TRIALS = 6


def test_a_job_survives_a_database_restart(tmp_path: Path, spawn: Spawner) -> None:
    with throwaway_postgres(free_port()) as database:
        port = free_port()
        env = {
            **os.environ,
            "EDGENAS_DATABASE_URL": database.url,
            "EDGENAS_RAY_NUM_CPUS": "2",
            "EDGENAS_DATA_DIR": str(tmp_path / "data"),
        }
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
        key = make_api_key(database.url)
        api = spawn(
            [sys.executable, "-m", "api", "serve", "--runners", "0", "--port", str(port)], **quiet
        )
        url = f"http://127.0.0.1:{port}"
        user = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60)
        wait_until_serving(user)
        token = user.post("/v1/devices", json={"name": "cpu-1"}).json()["token"]
        agent = start_agent(spawn, "--server", url, token=token)
        runner = spawn([sys.executable, "-m", "api", "worker"], **quiet)
        spec = {**SPEC, "budget": {"trials": TRIALS}}
        job_id = user.post("/v1/jobs", json=spec).json()["id"]

        def progress() -> dict:
            return user.get(f"/v1/jobs/{job_id}").json()["progress"]

        wait_until(lambda: progress()["trials_done"] >= 2, timeout=600, what="two trials")
        database.stop()
        away = user.get("/readyz")
        assert away.status_code == 503 and "unreachable" in away.json()["error"]["message"]
        assert user.get(f"/v1/jobs/{job_id}").status_code == 503
        time.sleep(OUTAGE_SECONDS)  # the fault itself, not a wait for something to happen
        database.start()

        wait_until(
            lambda: user.get(f"/v1/jobs/{job_id}").json()["state"] in ("succeeded", "failed"),
            timeout=600,
            what="the job to end",
        )
        job = user.get(f"/v1/jobs/{job_id}").json()
        assert job["state"] == "succeeded", job
        assert job["progress"]["trials_done"] == TRIALS
        study = optuna.load_study(study_name=f"edgenas-job-{job_id}", storage=database.url)
        states = [t.state for t in study.get_trials(deepcopy=False)]
        complete = optuna.trial.TrialState.COMPLETE
        assert states.count(complete) == TRIALS, states  # counted once: no trial twice
        assert optuna.trial.TrialState.RUNNING not in states  # every trial finished
        assert [p.poll() for p in (api, agent, runner)] == [None, None, None]

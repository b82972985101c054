"""The deployment of docker-compose.yml, run as processes on hosts that are network
namespaces (``deployment.py``): a job runs through it end to end. Marked ``deploy``
(``pytest -m deploy`` runs these alone)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.deploy_tests.deployment import Deployment, deployed
from tests.processes import Spawner
from tests.workers_tests.tiny_jobs import SPEC, wait_until

pytestmark = pytest.mark.deploy
JOB = {**SPEC, "name": "deployed", "devices": ["lab-cpu"], "budget": {"trials": 6}}
JOB_SECONDS = 600


@pytest.fixture
def deployment(spawn: Spawner, tmp_path: Path) -> Iterator[Deployment]:
    logs = tmp_path / "logs"
    logs.mkdir()
    with deployed(spawn, logs) as running:
        yield running


def finished_job(user: httpx.Client, job_id: int) -> dict:
    def job() -> dict:
        found: dict = user.get(f"/v1/jobs/{job_id}").json()
        return found

    wait_until(lambda: job()["state"] not in ("queued", "running"), JOB_SECONDS, "the job")
    return job()


def test_a_job_runs_to_the_end_with_evaluations_on_both_ray_nodes(
    deployment: Deployment,
) -> None:
    nodes = deployment.ray_nodes()
    assert len(nodes) == 2
    with deployment.user() as user:
        submitted = user.post("/v1/jobs", json=JOB)
        assert submitted.status_code == 201, submitted.text
        job = finished_job(user, submitted.json()["id"])
        trials = user.get(f"/v1/jobs/{job['id']}/trials").json()["items"]
    assert job["state"] == "succeeded", f"{job}\n{deployment.describe()}"
    assert [t["state"] for t in trials] == ["complete"] * 6
    assert {t["evaluated_on"] for t in trials} == nodes
    assert all(t["latency_ms"]["lab-cpu"] > 0 for t in trials)  # measured by the lab's agent

"""The deployment of docker-compose.yml, run as processes on hosts that are network
namespaces (``deployment.py``): a job runs through it end to end, and through each fault a
deployment meets (a Ray node dying, a flaky link to a device's host, the API server and the
database restarting). Marked ``deploy`` (``pytest -m deploy`` runs these alone).

Each test has a deployment of its own. Those whose fault the deployment recovers from check
at their end that every service of it is still running (a shared deployment was tried: test
workers tear module fixtures down between batches of tests, so it was started again anyway)."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from latency.tables import LatencyRecord
from tests.deploy_tests.deployment import Deployment, deployed
from tests.processes import Spawner
from tests.workers_tests.tiny_jobs import SPEC, wait_until

pytestmark = pytest.mark.deploy
JOB_SECONDS = 900
TRIALS = 4
SERVICES = ("api", "agent", "worker-head", "worker-node2")


def require_namespaces() -> None:
    if os.geteuid() != 0 or shutil.which("ip") is None:  # network namespaces need both
        message = "the deployment tests need root and iproute2 (ip netns)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def broken_deployment(spawn: Spawner, tmp_path: Path) -> Iterator[Deployment]:
    """A deployment for a test that leaves part of it dead."""
    require_namespaces()
    logs = tmp_path / "logs"
    logs.mkdir()
    with deployed(spawn, logs) as running:
        yield running


@pytest.fixture
def deployment(broken_deployment: Deployment) -> Iterator[Deployment]:
    """A deployment the test must leave with every service running."""
    yield broken_deployment
    for name in SERVICES:
        process = broken_deployment.processes[name]
        assert process.poll() is None, f"{name} stopped\n{broken_deployment.describe()}"


def submit(user: httpx.Client, trials: int) -> int:
    spec = {**SPEC, "name": "deployed", "devices": ["lab-cpu"], "budget": {"trials": trials}}
    submitted = user.post("/v1/jobs", json=spec)
    assert submitted.status_code == 201, submitted.text
    job_id: int = submitted.json()["id"]
    return job_id


def read(user: httpx.Client, path: str, **params: object) -> dict:
    """``GET path``, asked again while the service says it is away (503, or no answer: a
    restart under way), for up to two minutes."""
    answers: list[dict] = []

    def answered() -> bool:
        try:
            response = user.get(path, params=params)
        except httpx.TransportError:
            return False
        if response.status_code == 503:
            return False
        assert response.status_code == 200, response.text
        answers.append(response.json())
        return True

    wait_until(answered, 120, f"an answer to {path}")
    return answers[-1]


def job(user: httpx.Client, job_id: int) -> dict:
    return read(user, f"/v1/jobs/{job_id}")


def complete(user: httpx.Client, job_id: int) -> dict[int, dict]:
    items = read(user, f"/v1/jobs/{job_id}/trials", limit=200)["items"]
    return {t["number"]: t for t in items if t["state"] == "complete"}


def finished_job(user: httpx.Client, job_id: int) -> dict:
    wait_until(
        lambda: job(user, job_id)["state"] not in ("queued", "running"), JOB_SECONDS, "the job"
    )
    return job(user, job_id)


def assert_whole(deployment: Deployment, user: httpx.Client, job_id: int, trials: int) -> None:
    """The job succeeded with exactly its budget of complete trials, each measured once."""
    finished = finished_job(user, job_id)
    assert finished["state"] == "succeeded", f"{finished}\n{deployment.describe()}"
    done = complete(user, job_id)
    assert len(done) == trials == finished["progress"]["trials_done"]
    assert all(t["latency_ms"]["lab-cpu"] > 0 for t in done.values())
    engine = create_engine(deployment.database.url)
    try:
        with engine.connect() as connection:
            measured = connection.execute(
                select(LatencyRecord.arch_hash, func.count()).group_by(LatencyRecord.arch_hash)
            ).all()
    finally:
        engine.dispose()
    assert all(count == 1 for _, count in measured), measured  # none measured twice
    assert {t["arch_hash"] for t in done.values()} <= {arch for arch, _ in measured}


def test_a_job_runs_to_the_end_with_evaluations_on_both_ray_nodes(
    deployment: Deployment,
) -> None:
    nodes = deployment.ray_nodes()
    assert len(nodes) == 2
    with deployment.user() as user:
        job_id = submit(user, TRIALS)
        assert_whole(deployment, user, job_id, TRIALS)
        assert {t["evaluated_on"] for t in complete(user, job_id).values()} == nodes


def test_killing_ray_node2_mid_job_loses_no_trial_and_counts_none_twice(
    broken_deployment: Deployment,
) -> None:
    deployment = broken_deployment
    with deployment.user() as user:
        job_id = submit(user, 6)
        wait_until(  # both nodes have evaluated, and more is to come
            lambda: len({t["evaluated_on"] for t in complete(user, job_id).values()}) == 2,
            JOB_SECONDS,
            "evaluations on both nodes",
        )
        before = complete(user, job_id)
        raylet = deployment.process_on("node2", "raylet")
        os.kill(raylet, signal.SIGKILL)
        assert_whole(deployment, user, job_id, 6)
        after = complete(user, job_id)
    assert all(after[n]["accuracy"] == t["accuracy"] for n, t in before.items())


def test_the_lab_agent_rides_out_a_dead_link_and_a_flapping_one(deployment: Deployment) -> None:
    lab = deployment.net.hosts["lab"]
    with deployment.user() as user:
        job_id = submit(user, TRIALS)
        wait_until(lambda: len(complete(user, job_id)) >= 1, JOB_SECONDS, "a first trial")
        agent = deployment.processes["agent"]
        deployment.net.set_link(lab, up=False)
        cut_until = time.monotonic() + 45
        wait_until(lambda: time.monotonic() >= cut_until, 60, "45 s without the link")
        for _ in range(12):  # a minute of flapping: down 2 s, up 3 s
            deployment.net.set_link(lab, up=True)
            up_until = time.monotonic() + 3
            wait_until(lambda u=up_until: time.monotonic() >= u, 10, "the link's 3 s up")
            deployment.net.set_link(lab, up=False)
            down_until = time.monotonic() + 2
            wait_until(lambda d=down_until: time.monotonic() >= d, 10, "the link's 2 s down")
        deployment.net.set_link(lab, up=True)
        assert_whole(deployment, user, job_id, TRIALS)
    assert deployment.processes["agent"] is agent  # the same agent, still serving (fixture)


def test_the_api_server_restarts_mid_job_and_nothing_notices(deployment: Deployment) -> None:
    with deployment.user() as user:
        job_id = submit(user, TRIALS)
        wait_until(lambda: len(complete(user, job_id)) >= 1, JOB_SECONDS, "a first trial")
        deployment.start(  # a user on the lab's host follows the job from the command line
            "cli", "lab", sys.executable, "-m", "api", "jobs", "wait", str(job_id),
            "--server", deployment.api_url, EDGENAS_API_KEY=deployment.key,
        )  # fmt: skip
        deployment.restart_api()
        assert_whole(deployment, user, job_id, TRIALS)
    assert deployment.processes["cli"].wait(timeout=120) == 0, deployment.describe()
    followed = (deployment.logs / "cli.log").read_text().splitlines()
    assert followed[-1] == f"job {job_id} succeeded: {TRIALS}/{TRIALS} trials"


def test_the_database_restarts_mid_job_and_the_job_succeeds(deployment: Deployment) -> None:
    with deployment.user() as user:
        job_id = submit(user, TRIALS)
        wait_until(lambda: len(complete(user, job_id)) >= 1, JOB_SECONDS, "a first trial")
        deployment.database.stop()
        stopped_until = time.monotonic() + 20
        wait_until(lambda: time.monotonic() >= stopped_until, 60, "20 s without the database")
        deployment.database.start()
        assert_whole(deployment, user, job_id, TRIALS)

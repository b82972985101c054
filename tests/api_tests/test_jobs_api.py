"""Job submission, listing and cancellation over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.databases import database_url
from tests.server import Server, served

SPEC = {
    "name": "digits",
    "space": "mnasnet",
    "data": "mnist5k",
    "devices": ["cpu-1"],
    "budget": {"trials": 4},
    "seed": 3,
}

EMPTY_SPACE = {
    "kind": "factorized",
    "name": "empty",
    "stem": ["conv_k3_c16_s2"],
    "head": "head",
    "stages": [],
}


def submit(server: Server, **changes: object) -> dict:
    response = server.user.post("/v1/jobs", json={**SPEC, **changes})
    assert response.status_code == 201, response.text
    return response.json()


def test_a_job_is_queued_with_its_spec_as_submitted(server: Server) -> None:
    server.register("cpu-1")
    job = submit(server)
    assert job["state"] == "queued" and job["spec"] == SPEC  # no defaults filled in
    shown = server.user.get(f"/v1/jobs/{job['id']}").json()
    assert shown == job
    second = submit(server, name="second")
    page = server.user.get("/v1/jobs", params={"limit": 1}).json()
    assert page["total"] == 2 and [j["id"] for j in page["items"]] == [second["id"]]
    rest = server.user.get("/v1/jobs", params={"limit": 1, "offset": 1}).json()
    assert [j["id"] for j in rest["items"]] == [job["id"]]


def test_cancel_a_queued_job_then_a_finished_one_is_a_conflict(server: Server) -> None:
    server.register("cpu-1")
    job = submit(server)
    cancelled = server.user.post(f"/v1/jobs/{job['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    again = server.user.post(f"/v1/jobs/{job['id']}/cancel")
    assert again.status_code == 409 and "already cancelled" in again.json()["error"]["message"]
    queued = server.user.get("/v1/jobs", params={"state": "queued"}).json()
    assert queued["total"] == 0
    by_state = server.user.get("/v1/jobs", params={"state": "cancelled"}).json()
    assert [j["id"] for j in by_state["items"]] == [job["id"]]


def test_unknown_job_is_404(server: Server) -> None:
    for response in (
        server.user.get("/v1/jobs/9999"),
        server.user.post("/v1/jobs/9999/cancel"),
    ):
        assert response.status_code == 404 and "no job 9999" in response.text


def _unreadable_npz(tmp_path: Path) -> str:
    path = tmp_path / "mixed.npz"
    np.savez(path, images=np.zeros((4, 8, 9), np.uint8), labels=np.array([0, 1, 0, 1]))
    return str(path)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"devices": ["pixel-9"]}, "devices.0", "no registered device 'pixel-9'"),
        ({"devices": []}, "devices", "at least 1"),
        ({"space": "nasnet"}, "space", "nasnet"),
        ({"space": EMPTY_SPACE}, "space", "at least one stage"),
        ({"data": "/nonexistent/digits"}, "data", "data roots"),
        ({"constraints": {"max_params": 1000}}, "constraints.max_params", "below every"),
        ({"constraints": {"max_latency_ms": {"pixel-9": 5}}}, "max_latency_ms", "not among"),
        ({"constraints": {"max_macs": -1}}, "constraints.max_macs", "greater than 0"),
        ({"objective": {"mode": "mnas"}}, "objective", "needs targets_ms"),
        ({"strategy": {"name": "annealing"}}, "strategy.name", "should be 'random'"),
        ({"strategy": {"name": "tpe", "settings": {"magic": 1}}}, "strategy.settings", "magic"),
        ({"strategy": {"name": "rl"}}, "", "use objective.mode 'mnas'"),
        ({"budget": {"trials": 0}}, "budget.trials", "greater than or equal to 1"),
        ({"proxy": {"epochs": 500}}, "proxy.epochs", "less than or equal to 50"),
        ({"colour": "blue"}, "colour", "Extra inputs"),
    ],
)
def test_bad_specs_are_422_naming_the_field(
    server: Server, changes: dict, field: str, message: str
) -> None:
    server.register("cpu-1")
    response = server.user.post("/v1/jobs", json={**SPEC, **changes})
    assert response.status_code == 422, response.text
    text = response.json()["error"]["message"]
    assert field in text and message in text, text
    assert server.user.get("/v1/jobs").json()["total"] == 0  # nothing was queued


def test_data_under_a_root_that_cannot_be_trained_on_is_refused_at_submission(
    tmp_path: Path,
) -> None:
    with (
        database_url("sqlite", tmp_path) as url,
        served(url, data_roots=[tmp_path]) as server,
    ):
        server.register("cpu-1")
        response = server.user.post("/v1/jobs", json={**SPEC, "data": _unreadable_npz(tmp_path)})
        tiny = tmp_path / "tiny.npz"  # 8x8 images: every network of the space strides to 0x0
        labels = np.arange(20) % 2  # enough for a test split, a validation split and training
        np.savez(tiny, images=np.zeros((20, 8, 8), np.uint8), labels=labels)
        too_small = server.user.post("/v1/jobs", json={**SPEC, "data": str(tiny)})
    assert too_small.status_code == 422
    assert too_small.json()["error"]["message"].startswith(
        "space: no architecture of the space fits the data: r=8: resolution too small"
    )
    assert response.status_code == 422
    assert response.json()["error"]["message"] == (
        "data: mixed.npz: images are 9x8; square images are required"
    )

"""Two users and an admin on one server, over real HTTP, on SQLite and PostgreSQL: a user sees
and changes only their own objects; another user's object is a 404, never a 403 that would
confirm it exists; a shared device may be measured on by everyone and changed by its owner;
an admin sees everything."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.datasets import digits_npz
from tests.server import Server

ARCH = "r32_w1.0_n10:conv_k3_c8_s2|head"
JOB = {"space": "shufflenet", "data": "mnist5k", "budget": {"trials": 2}}
IMPORT = {"source": "lab.csv", "measurements": [{"arch": ARCH, "latency_ms": 1.0}]}


def register(user: httpx.Client, name: str) -> int:
    response = user.post("/v1/devices", json={"name": name})
    assert response.status_code == 201, response.text
    return response.json()["id"]


@pytest.fixture
def world(server: Server, tmp_path: Path) -> dict[str, object]:
    """Alice's private phone, her job and latency task on it, her shared lab machine and her
    data set."""
    alice, bob = server.user, server.user_client("bob")
    phone, lab = register(alice, "phone"), register(alice, "lab")
    assert alice.patch(f"/v1/devices/{lab}", json={"shared": True}).json()["shared"] is True
    task = alice.post("/v1/latency", json={"arch": ARCH, "device": "phone"}).json()["task_id"]
    job = alice.post("/v1/jobs", json={**JOB, "devices": ["phone"]})
    assert job.status_code == 201, job.text
    digits = digits_npz(tmp_path / "digits.npz", count=20).read_bytes()
    dataset = alice.post("/v1/datasets", params={"name": "digits", "format": "npz"}, content=digits)
    assert dataset.status_code == 201, dataset.text
    return {
        "bob": bob,
        "phone": phone,
        "lab": lab,
        "task": task,
        "job": job.json()["id"],
        "dataset": dataset.json()["id"],
    }


# Every way to reach Alice's private objects; for Bob each one must be a 404.
ALICES_OBJECTS = [
    ("GET", "/v1/jobs/{job}", None),
    ("POST", "/v1/jobs/{job}/cancel", None),
    ("GET", "/v1/jobs/{job}/trials", None),
    ("GET", "/v1/jobs/{job}/pareto", None),
    ("GET", "/v1/jobs/{job}/pareto.html", None),
    ("GET", "/v1/jobs/{job}/pareto.png", None),
    ("GET", "/v1/jobs/{job}/trials/0/model.onnx", None),
    ("GET", "/v1/devices/{phone}", None),
    ("PATCH", "/v1/devices/{phone}", {"shared": True}),
    ("DELETE", "/v1/devices/{phone}", None),
    ("POST", "/v1/devices/{phone}/token", None),
    ("POST", "/v1/devices/{phone}/measurements", IMPORT),
    ("POST", "/v1/devices/{phone}/calibrate", {"space": "shufflenet", "count": 1}),
    ("GET", "/v1/devices/{phone}/predictor", None),
    ("GET", "/v1/latency/{task}", None),
    ("GET", "/v1/latency/{task}?wait_seconds=5", None),
    ("POST", "/v1/latency", {"arch": ARCH, "device": "phone"}),
    ("GET", "/v1/datasets/{dataset}", None),
    ("DELETE", "/v1/datasets/{dataset}", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ALICES_OBJECTS)
def test_another_users_objects_are_a_404(
    world: dict, method: str, path: str, body: dict | None
) -> None:
    response = world["bob"].request(method, path.format(**world), json=body)
    assert response.status_code == 404, response.text


def test_lists_hold_only_what_the_caller_may_use(server: Server, world: dict) -> None:
    bob = world["bob"]
    assert [d["name"] for d in bob.get("/v1/devices").json()] == ["lab"]
    assert bob.get("/v1/jobs").json()["total"] == 0
    assert bob.get("/v1/datasets").json() == []
    theirs = bob.post("/v1/jobs", json={**JOB, "data": "digits", "devices": ["lab"]})
    assert theirs.status_code == 422 and theirs.json()["error"]["message"].startswith("data: give")
    refused = bob.post("/v1/jobs", json={**JOB, "devices": ["phone"]})
    assert refused.status_code == 422
    assert refused.json()["error"]["message"] == "devices.0: no registered device 'phone'"
    assert register(bob, "phone") != world["phone"]  # names are unique per owner, not leaked
    assert bob.post("/v1/devices", json={"name": "bench", "shared": True}).status_code == 201
    seen = [d["name"] for d in server.user.get("/v1/devices").json()]
    assert seen == ["phone", "lab", "bench"]


def test_a_shared_device_is_for_measuring_and_searching_not_for_changing(world: dict) -> None:
    bob, lab = world["bob"], world["lab"]
    measured = bob.post("/v1/latency", json={"arch": ARCH, "device": "lab"})
    assert measured.status_code == 200 and measured.json()["status"] == "pending"
    assert bob.get(f"/v1/latency/{measured.json()['task_id']}").status_code == 200
    assert bob.get(f"/v1/devices/{lab}/predictor").status_code == 200
    assert bob.post("/v1/jobs", json={**JOB, "devices": ["lab"]}).status_code == 201
    for method, path in (("DELETE", ""), ("POST", "/token")):
        refused = bob.request(method, f"/v1/devices/{lab}{path}")
        assert refused.status_code == 403 and "only its owner" in refused.text
    assert bob.patch(f"/v1/devices/{lab}", json={"shared": False}).status_code == 403


def test_an_admin_sees_everyone_s_objects(server: Server, world: dict) -> None:
    root = server.user_client("root", admin=True)
    assert root.get(f"/v1/jobs/{world['job']}").status_code == 200
    assert root.get(f"/v1/latency/{world['task']}").status_code == 200
    assert {d["name"] for d in root.get("/v1/devices").json()} == {"phone", "lab"}
    assert [d["name"] for d in root.get("/v1/datasets").json()] == ["digits"]
    assert root.delete(f"/v1/devices/{world['phone']}").status_code == 204

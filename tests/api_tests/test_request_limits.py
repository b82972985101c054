"""Limits on what one request may carry, over real HTTP: bodies over the limit are a 413
however they arrive, non-finite numbers and oversized facts are a 422 naming the field, and
measurement settings must fit inside an agent's lease."""

from __future__ import annotations

import json

import pytest

from tests.server import Server

ARCH = "r32_w1.0_n10:conv_k3_c8_s2|head"
SLOW = {"runs": 10_000, "rounds": 20}  # 200,000 runs: at least 200 s at 1 ms a run
TOO_SLOW = "these settings take at least 200 s"


def raw_json(body: dict) -> dict[str, object]:
    """``body`` as JSON, with the strings "NaN" and "Infinity" as the bare tokens Python's
    JSON (and so the server's) accepts."""
    text = json.dumps(body).replace('"NaN"', "NaN").replace('"Infinity"', "Infinity")
    return {"content": text.encode(), "headers": {"content-type": "application/json"}}


def test_a_chunked_body_over_the_limit_is_a_413(server: Server) -> None:
    chunks = (part for part in (b'{"name": "', b"x" * 100_000, b'"}'))
    response = server.user.post(
        "/v1/devices", content=chunks, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["message"] == "request body over 65,536 bytes"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/v1/devices/{device}/measurements",
            {"source": "lab", "measurements": [{"arch": ARCH, "latency_ms": "Infinity"}]},
            "body.measurements.0.latency_ms",
        ),
        (
            "/v1/jobs",
            {"devices": ["phone"], "objective": {"mode": "mnas", "targets_ms": {"phone": "NaN"}}},
            "body.objective.targets_ms.phone",
        ),
        (
            "/v1/latency",
            {"arch": ARCH, "device": "phone", "settings": {"cv_threshold": "NaN"}},
            "body.settings.cv_threshold",
        ),
    ],
)
def test_non_finite_numbers_are_a_422_naming_the_field(
    server: Server, path: str, body: dict, field: str
) -> None:
    device, _ = server.register("phone")
    response = server.user.post(path.format(device=device), **raw_json(body))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"].startswith(f"{field}: Input should be a finite")


def test_an_agent_s_non_finite_result_and_oversized_facts_are_refused(server: Server) -> None:
    _, agent = server.register("phone")
    task = server.user.post("/v1/latency", json={"arch": ARCH, "device": "phone"}).json()
    assert agent.post("/v1/agent/tasks/lease", json={"agent_id": "a1"}).status_code == 200
    result = {"median_ms": "NaN", "p90_ms": 1, "cv": 0, "runs": 5, "rounds": 1, "spread_ms": 0}
    body = raw_json({"agent_id": "a1", "result": result})
    refused = agent.post(f"/v1/agent/tasks/{task['task_id']}/result", **body)
    assert refused.status_code == 422
    assert refused.json()["error"]["message"].startswith("body.result.median_ms: Input should be")
    assert server.user.get(f"/v1/latency/{task['task_id']}").json()["status"] == "leased"
    facts = {f"fact{i}": "x" * 500 for i in range(40)}  # 40 facts: few, but 20 KB
    heartbeat = agent.post("/v1/agent/heartbeat", json={"facts": facts})
    assert heartbeat.status_code == 422
    assert "bytes of facts as JSON; at most 16,384" in heartbeat.json()["error"]["message"]


def test_measurement_settings_must_fit_inside_the_lease(server: Server) -> None:
    device, _ = server.register("phone")
    latency = server.user.post(
        "/v1/latency", json={"arch": ARCH, "device": "phone", "settings": SLOW}
    )
    assert latency.status_code == 422
    assert latency.json()["error"]["message"].startswith(f"settings: {TOO_SLOW}")
    assert "an agent's lease is 60 s" in latency.json()["error"]["message"]
    calibrate = server.user.post(
        f"/v1/devices/{device}/calibrate", json={"space": "shufflenet", "settings": SLOW}
    )
    assert calibrate.status_code == 422 and TOO_SLOW in calibrate.text
    job = server.user.post("/v1/jobs", json={"devices": ["phone"], "measurement": SLOW})
    assert job.status_code == 422
    assert job.json()["error"]["message"].startswith(f"measurement: {TOO_SLOW}")
    fits = server.user.post(
        "/v1/latency", json={"arch": ARCH, "device": "phone", "settings": {"runs": 1000}}
    )
    assert fits.status_code == 200

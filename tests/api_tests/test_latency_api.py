"""The job server's device and latency routes over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import httpx
import onnxruntime as ort
import pytest

from api.client.latency_requests import measure_latency
from api.server.settings import Settings
from tests.databases import BACKENDS, database_url
from tests.server import Server, make_api_key, running_server, served

ARCH = "r32_w1.0_n10:conv_k3_c16_s2|ir_e3_k3_c24_s2|head"
RESULT = {
    "median_ms": 1.5,
    "p90_ms": 1.7,
    "cv": 0.05,
    "runs": 5,
    "rounds": 1,
    "spread_ms": 0.0,
    "threads": 1,
    "provider": "CPUExecutionProvider",
}


def test_measure_lease_report_then_cache_hit(server: Server) -> None:
    _, agent = server.register("cpu-1")
    queued = server.user.post("/v1/latency", json={"arch": ARCH, "device": "cpu-1"})
    assert queued.status_code == 200, queued.text
    assert queued.json()["status"] == "pending"
    task_id = queued.json()["task_id"]
    lease = agent.post("/v1/agent/tasks/lease", json={"agent_id": "a1", "wait_seconds": 5})
    assert lease.status_code == 200 and lease.json()["id"] == task_id
    assert lease.json()["input_shape"] == [1, 3, 32, 32]
    model = agent.get(f"/v1/agent/tasks/{task_id}/model")
    session = ort.InferenceSession(model.content, providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape == [1, 3, 32, 32]
    reported = agent.post(
        f"/v1/agent/tasks/{task_id}/result", json={"agent_id": "a1", "result": RESULT}
    )
    assert reported.status_code == 204, reported.text
    done = server.user.get(f"/v1/latency/{task_id}").json()
    assert done["status"] == "done" and done["record"]["median_ms"] == 1.5
    again = server.user.post("/v1/latency", json={"arch": ARCH, "device": "cpu-1"}).json()
    assert again["cached"] is True and again["record"]["median_ms"] == 1.5
    fresh = server.user.post(
        "/v1/latency", json={"arch": ARCH, "device": "cpu-1", "fresh": True}
    ).json()
    assert fresh["status"] == "pending" and fresh["task_id"] != task_id
    devices = server.user.get("/v1/devices").json()
    assert devices[0]["name"] == "cpu-1" and devices[0]["online"] is True


def test_a_held_wait_without_news_answers_as_a_read_does(server: Server) -> None:
    """A held wait re-checks through a query shared by all held waits; its answer at the
    end is the same as a plain read's."""
    _, agent = server.register("cpu-1")
    task_id = server.user.post("/v1/latency", json={"arch": ARCH, "device": "cpu-1"}).json()[
        "task_id"
    ]
    assert agent.post("/v1/agent/tasks/lease", json={"agent_id": "a1"}).status_code == 200
    read = server.user.get(f"/v1/latency/{task_id}")
    held = server.user.get(f"/v1/latency/{task_id}", params={"wait_seconds": 0.5})
    assert held.status_code == read.status_code == 200
    assert held.json() == read.json() and held.json()["status"] == "leased"


def test_agent_failure_is_reported_with_its_text(server: Server) -> None:
    _, agent = server.register("cpu-1")
    task_id = server.user.post("/v1/latency", json={"arch": ARCH, "device": "cpu-1"}).json()[
        "task_id"
    ]
    agent.post("/v1/agent/tasks/lease", json={"agent_id": "a1"})
    neither = agent.post(f"/v1/agent/tasks/{task_id}/result", json={"agent_id": "a1"})
    assert neither.status_code == 422
    assert "exactly one of 'result' and 'error'" in neither.json()["error"]["message"]
    agent.post(
        f"/v1/agent/tasks/{task_id}/result",
        json={"agent_id": "a1", "error": "Fail: model does not load"},
    )
    failed = server.user.get(f"/v1/latency/{task_id}").json()
    assert failed["status"] == "failed" and "does not load" in failed["error"]


def test_a_released_task_is_pending_again_at_once(server: Server) -> None:
    _, agent = server.register("cpu-1")
    task_id = server.user.post("/v1/latency", json={"arch": ARCH, "device": "cpu-1"}).json()[
        "task_id"
    ]
    agent.post("/v1/agent/tasks/lease", json={"agent_id": "stopping"})
    stranger = agent.post(f"/v1/agent/tasks/{task_id}/release", json={"agent_id": "other"})
    assert stranger.status_code == 409
    released = agent.post(f"/v1/agent/tasks/{task_id}/release", json={"agent_id": "stopping"})
    assert released.status_code == 204, released.text
    assert server.user.get(f"/v1/latency/{task_id}").json()["status"] == "pending"
    again = agent.post("/v1/agent/tasks/lease", json={"agent_id": "next"})  # lease is 60 s
    assert again.json()["id"] == task_id and again.json()["attempts"] == 1


def test_tokens_are_scoped(server: Server) -> None:
    _, agent = server.register("cpu-1")
    _, other = server.register("cpu-2")
    task_id = server.user.post("/v1/latency", json={"arch": ARCH, "device": "cpu-1"}).json()[
        "task_id"
    ]
    assert other.post("/v1/agent/tasks/lease", json={"agent_id": "x"}).status_code == 204
    assert other.get(f"/v1/agent/tasks/{task_id}/model").status_code == 404
    assert server.user.post("/v1/agent/tasks/lease", json={"agent_id": "x"}).status_code == 403
    assert agent.get("/v1/devices").status_code == 401
    anonymous = httpx.get(f"{server.url}/v1/devices")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthorized"


def test_a_rotated_device_token_replaces_the_old_one(server: Server) -> None:
    device_id, old = server.register("cpu-1")
    rotated = server.user.post(f"/v1/devices/{device_id}/token")
    assert rotated.status_code == 200, rotated.text
    new = server.device_client(rotated.json()["token"])
    assert old.post("/v1/agent/heartbeat", json={}).status_code == 401
    assert new.post("/v1/agent/heartbeat", json={}).status_code == 204


def test_bad_input_gets_clear_4xx(server: Server) -> None:
    server.register("cpu-1")
    bad_arch = server.user.post(
        "/v1/latency", json={"arch": "r32_w1.0:conv_k4_c8|head", "device": "cpu-1"}
    )
    assert bad_arch.status_code == 422
    assert bad_arch.json()["error"]["details"]["field"] == "layers[0].k"
    unknown = server.user.post("/v1/latency", json={"arch": ARCH, "device": "nope"})
    assert unknown.status_code == 404 and "nope" in unknown.json()["error"]["message"]
    invalid = server.user.post("/v1/devices", json={"name": "bad name!", "kind": "cpu"})
    assert invalid.status_code == 422 and invalid.json()["error"]["message"].startswith("body.name")
    taken = server.user.post("/v1/devices", json={"name": "cpu-1"})
    assert taken.status_code == 409
    huge = server.user.post(
        "/v1/devices",
        content=b"{" + b" " * 100_000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert huge.status_code == 413
    assert server.user.get("/v1/devices/999").status_code == 404
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}


def test_oversized_result_payload_is_refused(server: Server) -> None:
    _, agent = server.register("cpu-1")
    task_id = server.user.post("/v1/latency", json={"arch": ARCH, "device": "cpu-1"}).json()[
        "task_id"
    ]
    agent.post("/v1/agent/tasks/lease", json={"agent_id": "a1"})
    huge = agent.post(
        f"/v1/agent/tasks/{task_id}/result", json={"agent_id": "a1", "error": "x" * 200_000}
    )
    assert huge.status_code == 413
    assert server.user.get(f"/v1/latency/{task_id}").json()["status"] == "leased"


def test_long_poll_lease_wakes_when_work_arrives(server: Server) -> None:
    import threading

    _, agent = server.register("cpu-1")
    leased: list[httpx.Response] = []
    waiter = threading.Thread(
        target=lambda: leased.append(
            agent.post("/v1/agent/tasks/lease", json={"agent_id": "a1", "wait_seconds": 20})
        )
    )
    waiter.start()
    queued = server.user.post("/v1/latency", json={"arch": ARCH, "device": "cpu-1"}).json()
    waiter.join(timeout=30)
    assert leased[0].status_code == 200 and leased[0].json()["id"] == queued["task_id"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_expired_lease_goes_to_another_agent(backend: str, tmp_path: Path) -> None:
    with database_url(backend, tmp_path) as url, served(url, lease_seconds=0.5) as server:
        user = server.user
        _, agent = server.register("cpu-1")
        task_id = user.post("/v1/latency", json={"arch": ARCH, "device": "cpu-1"}).json()["task_id"]
        first = agent.post("/v1/agent/tasks/lease", json={"agent_id": "vanished"})
        assert first.json()["attempts"] == 1
        second = agent.post(
            "/v1/agent/tasks/lease", json={"agent_id": "second", "wait_seconds": 20}
        )
        assert second.status_code == 200
        assert second.json()["id"] == task_id and second.json()["attempts"] == 2
        late = agent.post(
            f"/v1/agent/tasks/{task_id}/result", json={"agent_id": "vanished", "result": RESULT}
        )
        assert late.status_code == 409


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_client_waits_past_the_servers_long_poll_ceiling(backend: str, tmp_path: Path) -> None:
    """The server answers each long-poll within 0.2 s; the client keeps polling until done."""
    import threading

    with database_url(backend, tmp_path) as url:
        key = make_api_key(url)
        settings = Settings(database_url=url, max_wait_seconds=0.2)
        polled_twice = threading.Event()
        answers: list[httpx.Response] = []

        def count(response: httpx.Response) -> None:
            answers.append(response)
            if len(answers) >= 2:
                polled_twice.set()

        with (
            running_server(settings) as base,
            httpx.Client(
                base_url=base,
                headers={"Authorization": f"Bearer {key}"},
                event_hooks={"response": [count]},
            ) as user,
        ):
            _, agent = Server(base, user).register("cpu-1")
            outcome: list[dict] = []
            waiter = threading.Thread(
                target=lambda: outcome.append(
                    measure_latency(user, {"arch": ARCH, "device": "cpu-1"}, wait_seconds=120)
                )
            )
            answers.clear()
            waiter.start()
            assert polled_twice.wait(timeout=60)  # the first answer was still 'pending'
            task = agent.post("/v1/agent/tasks/lease", json={"agent_id": "a1"}).json()
            agent.post(
                f"/v1/agent/tasks/{task['id']}/result", json={"agent_id": "a1", "result": RESULT}
            )
            waiter.join(timeout=60)
    assert outcome[0]["status"] == "done" and outcome[0]["record"]["median_ms"] == 1.5

"""Per-user quotas and per-key rate limits over real HTTP: going over is a 429 with
``Retry-After``; another user or key is not affected."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.server.quotas import InFlight, KeyRateLimiter
from edgenas.errors import QuotaExceededError
from tests.databases import database_url
from tests.server import Server, served

ARCH = "r32_w1.0_n10:conv_k3_c8_s2|head"
JOB = {"space": "shufflenet", "devices": ["phone"], "budget": {"trials": 2}}


@pytest.fixture
def strict(tmp_path: Path) -> Iterator[Server]:
    """One active job and two open measurement tasks per user, 30 requests a minute per key."""
    options = {
        "max_active_jobs_per_user": 1,
        "max_open_tasks_per_user": 2,
        "rate_limit": "30/minute",
    }
    with database_url("postgresql", tmp_path) as url, served(url, **options) as server:
        yield server


def test_quotas_on_jobs_and_tasks_are_a_429_with_retry_after(strict: Server) -> None:
    strict.register("phone")
    first = strict.user.post("/v1/jobs", json=JOB)
    assert first.status_code == 201
    second = strict.user.post("/v1/jobs", json=JOB)
    assert second.status_code == 429 and second.headers["Retry-After"] == "60"
    assert second.json()["error"]["message"] == "you have 1 queued or running jobs; at most 1"
    for runs in (5, 6):
        asked = strict.user.post(
            "/v1/latency", json={"arch": ARCH, "device": "phone", "settings": {"runs": runs}}
        )
        assert asked.status_code == 200
    third = strict.user.post(
        "/v1/latency", json={"arch": ARCH, "device": "phone", "settings": {"runs": 7}}
    )
    assert third.status_code == 429 and third.headers["Retry-After"] == "60"
    assert "you have 2 open measurement tasks" in third.json()["error"]["message"]
    cancelled = strict.user.post(f"/v1/jobs/{first.json()['id']}/cancel")
    assert cancelled.status_code == 200  # a finished job frees its place
    assert strict.user.post("/v1/jobs", json=JOB).status_code == 201
    bob = strict.user_client("bob")  # quotas are per user
    assert bob.post("/v1/devices", json={"name": "phone"}).status_code == 201
    assert bob.post("/v1/jobs", json=JOB).status_code == 201


def test_each_key_has_its_own_request_rate(strict: Server) -> None:
    statuses = [strict.user.get("/v1/devices").status_code for _ in range(30)]
    assert statuses == [200] * 30
    refused = strict.user.get("/v1/devices")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["error"]["message"] == (
        "too many requests with this key: at most 30 per 1 minute"
    )
    assert strict.user_client("bob").get("/v1/devices").status_code == 200


def test_in_flight_work_and_rates_refuse_the_one_over() -> None:
    calibrations = InFlight(1, "calibrations")
    with calibrations.slot(7):
        refusal = pytest.raises(QuotaExceededError, match="1 calibrations in flight")
        with refusal as refused, calibrations.slot(7):
            pass
        assert refused.value.retry_after == 30
        with calibrations.slot(8):  # another user
            pass
    with calibrations.slot(7):  # the slot was given back
        pass
    limiter = KeyRateLimiter("2/hour")
    limiter.hit("a")
    limiter.hit("a")
    with pytest.raises(QuotaExceededError) as over:
        limiter.hit("a")
    assert 3500 < over.value.retry_after <= 3600
    limiter.hit("b")

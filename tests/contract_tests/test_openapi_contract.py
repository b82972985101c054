"""Schemathesis over the whole OpenAPI schema against a real server (uvicorn, SQLite): for a
bounded number of generated requests per route, no 5xx, and every response (errors included)
matches what the schema documents."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from api.server.app import create_app
from api.server.settings import Settings
from tests.server import Server, served

REQUEST_TIMEOUT_SECONDS = 600
EXAMPLES_PER_ROUTE = 25
schema = schemathesis.openapi.from_dict(create_app(Settings(database_url="sqlite://")).openapi())


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with a device, so that some generated ids and names hit real objects; quotas
    small enough that no generated request starts minutes of work."""
    folder: Path = tmp_path_factory.mktemp("contract")
    options = {
        "max_body_bytes": 16 << 20,  # bodies are judged by their fields, not refused by size
        "rate_limit": "100000/minute",
        "max_open_tasks_per_user": 3,
        "max_active_jobs_per_user": 3,
    }
    with served(f"sqlite:///{folder / 'edgenas.db'}", **options) as server:
        server.register("phone")
        yield server


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_ROUTE,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_route_answers_as_documented(case: schemathesis.Case, live: Server) -> None:
    headers = {"Authorization": live.user.headers["Authorization"]}
    # a schema-valid request may still be refused by a rule the schema cannot state (a space
    # too small for its strides, settings longer than a lease, a constraint nothing meets)
    # no time limit but a hang's: this checks answers, not speed (a calibration exports a
    # space's layers before it answers, a minute or more while other tests share the CPUs)
    case.call_and_validate(
        base_url=live.url,
        headers=headers,
        excluded_checks=[positive_data_acceptance],
        timeout=REQUEST_TIMEOUT_SECONDS,
    )

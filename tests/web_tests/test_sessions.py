"""The web UI's sign-in over real HTTP, without a browser: what the cookie is, what CSRF
guards, what revocation and sign-out end, and where errors are pages rather than JSON."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import sessionmaker

from api.server.keys import list_api_keys, revoke_api_key
from latency.database import create_db_engine
from tests.server import Server, served

HIDDEN_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with served(f"sqlite:///{tmp_path / 'edgenas.db'}") as running:
        yield running


def browser(server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.url, follow_redirects=False, timeout=60)


def key_of(server: Server) -> str:
    return server.user.headers["Authorization"].removeprefix("Bearer ")


def sign_in(client: httpx.Client, key: str, next: str = "/jobs") -> httpx.Response:
    form = client.get("/signin")
    token = HIDDEN_CSRF.search(form.text)
    assert token is not None, form.text
    return client.post("/signin", data={"api_key": key, "csrf_token": token.group(1), "next": next})


def page_csrf(client: httpx.Client) -> str:
    found = HIDDEN_CSRF.search(client.get("/jobs").text)
    assert found is not None
    return found.group(1)


def test_the_session_cookie_is_httponly_strict_and_holds_no_key(server: Server) -> None:
    with browser(server) as client:
        answer = sign_in(client, key_of(server))
        assert answer.status_code == 303 and answer.headers["location"] == "/jobs"
        cookie = next(
            c for c in answer.headers.get_list("set-cookie") if c.startswith("edgenas_session=")
        )
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert key_of(server) not in cookie
        page = client.get("/jobs")
        assert page.status_code == 200 and page.headers["x-frame-options"] == "DENY"


def test_a_bad_key_or_a_forged_form_does_not_sign_in(server: Server) -> None:
    with browser(server) as client:
        refused = sign_in(client, "ekey_not-a-key")
        assert refused.status_code == 401 and "Unknown or revoked API key" in refused.text
        client.get("/signin")
        forged = client.post(
            "/signin", data={"api_key": key_of(server), "csrf_token": "guess", "next": "/jobs"}
        )
        assert forged.status_code == 401 and "edgenas_session" not in client.cookies


def test_sign_in_goes_back_only_to_this_site(server: Server) -> None:
    with browser(server) as client:
        assert (
            sign_in(client, key_of(server), next="//evil.example/x").headers["location"] == "/jobs"
        )
    with browser(server) as client:
        assert sign_in(client, key_of(server), next="/devices").headers["location"] == "/devices"


def test_the_session_calls_the_api_and_needs_its_csrf_token_to_change_anything(
    server: Server,
) -> None:
    device = server.user.post("/v1/devices", json={"name": "cpu-1"}).json()
    job = server.user.post("/v1/jobs", json={"name": "mine", "devices": ["cpu-1"]}).json()
    with browser(server) as client:
        sign_in(client, key_of(server))
        assert client.get(f"/v1/jobs/{job['id']}").json()["name"] == "mine"
        forged = client.post(f"/v1/jobs/{job['id']}/cancel")
        assert forged.status_code == 403 and "X-CSRF-Token" in forged.json()["error"]["message"]
        assert client.get(f"/v1/jobs/{job['id']}").json()["state"] == "queued"
        headers = {"X-CSRF-Token": page_csrf(client)}
        cancelled = client.post(f"/v1/jobs/{job['id']}/cancel", headers=headers)
        assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
        no_token = client.post("/submit", data={"devices": ["cpu-1"], "trials": "1"})
        assert no_token.status_code == 403
        assert client.get(f"/v1/devices/{device['id']}").status_code == 200


def test_revoking_the_key_or_signing_out_ends_the_session(server: Server) -> None:
    with browser(server) as client:
        sign_in(client, key_of(server))
        engine = create_db_engine(server.database_url)
        with sessionmaker(engine).begin() as session:
            (key, _), *_ = list_api_keys(session)
            assert revoke_api_key(session, key.id)
        engine.dispose()
        assert client.get("/v1/jobs").status_code == 401
        assert client.get("/jobs").headers["location"] == "/signin?next=/jobs"
    other = server.user_client("carol")  # the first key is revoked: sign out with another
    with browser(server) as client:
        sign_in(client, other.headers["Authorization"].removeprefix("Bearer "))
        cookie = client.cookies["edgenas_session"]
        answer = client.post("/signout", data={"csrf_token": page_csrf(client)})
        assert answer.status_code == 303 and answer.headers["location"] == "/signin"
        stale = httpx.get(f"{server.url}/v1/jobs", cookies={"edgenas_session": cookie})
        assert stale.status_code == 401


def test_pages_get_error_pages_and_the_api_keeps_json(server: Server) -> None:
    with browser(server) as client:
        sign_in(client, key_of(server))
        page = client.get("/jobs/999")
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
        assert "Not found" in page.text and "no job 999" in page.text.lower()
        api = client.get("/v1/jobs/999")
        assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
        compare = client.get("/jobs/999/compare", params={"trials": [0]})
        assert compare.status_code == 404


def test_trials_csv_has_a_row_per_trial_and_a_latency_column_per_device(server: Server) -> None:
    server.user.post("/v1/devices", json={"name": "cpu-1"})
    job = server.user.post("/v1/jobs", json={"name": "queued", "devices": ["cpu-1"]}).json()
    answer = server.user.get(f"/v1/jobs/{job['id']}/trials.csv")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    reader = csv.reader(io.StringIO(answer.text))
    header = next(reader)
    assert "latency_ms_cpu-1" in header and "predicted_cpu-1" in header and header[0] == "number"
    assert list(reader) == []  # queued: no trials yet (the browser test reads a finished one)

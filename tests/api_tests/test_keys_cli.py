"""``edgenas keys create | list | revoke`` against a real server and database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from api.server.settings import Settings
from tests.databases import BACKENDS, database_url
from tests.server import running_server


def keys(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api", "keys", *args, "--database-url", url],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_create_list_and_revoke_a_key(backend: str, tmp_path: Path) -> None:
    with database_url(backend, tmp_path) as url:
        created = keys("create", "alice", url=url)
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip()
        with running_server(Settings(database_url=url)) as base:
            headers = {"Authorization": f"Bearer {key}"}
            assert httpx.get(f"{base}/v1/devices", headers=headers).status_code == 200
            listed = keys("list", url=url).stdout.splitlines()
            assert len(listed) == 1 and listed[0].split("\t")[1] == "alice"
            assert listed[0].endswith("active") and key not in listed[0]
            key_id = listed[0].split("\t")[0]
            assert keys("revoke", key_id, url=url).returncode == 0
            assert httpx.get(f"{base}/v1/devices", headers=headers).status_code == 401
            again = keys("revoke", key_id, url=url)
            assert again.returncode == 2 and "no active key" in again.stderr
            assert "revoked" in keys("list", url=url).stdout

"""``edgenas users ...`` and ``edgenas keys ...`` against a real server and database."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from api.server.settings import Settings
from tests.databases import BACKENDS, database_url
from tests.databases import operator_command as edgenas
from tests.server import running_server


def status(base: str, key: str) -> int:
    return httpx.get(f"{base}/v1/devices", headers={"Authorization": f"Bearer {key}"}).status_code


@pytest.mark.parametrize("backend", BACKENDS)
def test_create_list_and_revoke_a_key(backend: str, tmp_path: Path) -> None:
    with database_url(backend, tmp_path) as url:
        assert edgenas("users", "create", "alice", url=url).returncode == 0
        created = edgenas("keys", "create", "--user", "alice", "laptop", url=url)
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip()
        with running_server(Settings(database_url=url)) as base:
            assert status(base, key) == 200
            listed = edgenas("keys", "list", url=url).stdout.splitlines()
            assert len(listed) == 1 and listed[0].split("\t")[1:3] == ["laptop", "alice"]
            assert listed[0].endswith("active") and key not in listed[0]
            key_id = listed[0].split("\t")[0]
            assert edgenas("keys", "revoke", key_id, url=url).returncode == 0
            assert status(base, key) == 401
            again = edgenas("keys", "revoke", key_id, url=url)
            assert again.returncode == 2 and "no active key" in again.stderr
            assert "revoked" in edgenas("keys", "list", url=url).stdout


@pytest.mark.parametrize("backend", BACKENDS)
def test_revoking_a_user_revokes_all_their_keys_and_nobody_elses(
    backend: str, tmp_path: Path
) -> None:
    with database_url(backend, tmp_path) as url:
        assert edgenas("users", "create", "alice", url=url).returncode == 0
        assert edgenas("users", "create", "root", "--admin", url=url).returncode == 0
        alice = [edgenas("keys", "create", "--user", "alice", url=url).stdout.strip() for _ in "ab"]
        root = edgenas("keys", "create", "--user", "root", url=url).stdout.strip()
        with running_server(Settings(database_url=url)) as base:
            assert [status(base, key) for key in (*alice, root)] == [200, 200, 200]
            revoked = edgenas("users", "revoke", "alice", url=url)
            assert revoked.returncode == 0 and "2 key(s)" in revoked.stdout
            assert [status(base, key) for key in (*alice, root)] == [401, 401, 200]
        users = edgenas("users", "list", url=url).stdout.splitlines()
        assert [line.split("\t")[1:3] for line in users] == [["alice", "user"], ["root", "admin"]]
        assert "revoked" in users[0] and users[1].endswith("active")
        gone = edgenas("keys", "create", "--user", "alice", url=url)
        assert gone.returncode == 2 and "no user named 'alice'" in gone.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["users", "create", "root"], "a user named 'root' already exists"),
        (["users", "revoke", "nobody"], "no user named 'nobody'"),
        (["keys", "create", "--user", "nobody"], "edgenas users create nobody"),
        (["keys", "create", "root"], "--user"),
    ],
)
def test_bad_account_commands_are_one_clear_line(
    args: list[str], message: str, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'edgenas.db'}"
    assert edgenas("users", "create", "root", "--admin", url=url).returncode == 0
    done = edgenas(*args, url=url)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
